"""Four eyes: clearances (allowlist rows) wait for a second person; uploads naming a configured list wait
for a supervisor's confirmation.

Mirrors the console section of api_engine/store/schema.py (a test compares them). Allowlist rows that
exist before this revision were recorded by one person alone: they become pending (status default), so
the screening service stops honouring them until a supervisor approves each one.

Revision ID: 0006
Revises: 0003
Create Date: 2025-03-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("allowlist") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("approved_by", sa.String(100)))
        batch.add_column(sa.Column("approved_at", Stamp))
    with op.batch_alter_table("watchlist_uploads") as batch:
        batch.add_column(sa.Column("awaiting_confirmation", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("confirmed_by", sa.String(100)))
        batch.add_column(sa.Column("confirmed_at", Stamp))


def downgrade() -> None:
    with op.batch_alter_table("watchlist_uploads") as batch:
        for column in ("confirmed_at", "confirmed_by", "awaiting_confirmation"):
            batch.drop_column(column)
    with op.batch_alter_table("allowlist") as batch:
        for column in ("approved_at", "approved_by", "status"):
            batch.drop_column(column)
