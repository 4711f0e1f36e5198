"""Notifications: one row per alert event and channel, so a replayed record does not notify twice.

Mirrors the notifications section of api_engine/store/schema.py exactly (a test compares them). Chains from
0011; the store upgrades to "heads".

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", Stamp),
        sa.PrimaryKeyConstraint("event_id", "channel", name="pk_notifications"),
    )


def downgrade() -> None:
    op.drop_table("notifications")
