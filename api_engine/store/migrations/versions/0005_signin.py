"""Sign-in throttling: failed attempts and lockouts per account and per client address.

Mirrors `console_signin_failures` in api_engine/store/schema.py (a test compares them). Branches
from 0003 (the console); the store upgrades to "heads".

Revision ID: 0005
Revises: 0003
Create Date: 2025-03-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_signin_failures",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", Stamp, nullable=False),
        sa.Column("locked_until", Stamp),
        sa.PrimaryKeyConstraint("key", name="pk_console_signin_failures"),
    )


def downgrade() -> None:
    op.drop_table("console_signin_failures")
