"""Carrier tokens: the bearer tokens of the HTTPS iAPI endpoint, kept as SHA-256 hashes.

Mirrors `carrier_tokens` in api_engine/store/schema.py (a test compares them). Branches from 0003;
the store upgrades to "heads".

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "carrier_tokens",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(35), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("revoked_at", Stamp),
        sa.Column("revoked_by", sa.String(100)),
        sa.PrimaryKeyConstraint("id", name="pk_carrier_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_carrier_tokens_token_hash"),
    )
    op.create_index("ix_carrier_tokens_sender", "carrier_tokens", ["sender"])


def downgrade() -> None:
    op.drop_index("ix_carrier_tokens_sender", table_name="carrier_tokens")
    op.drop_table("carrier_tokens")
