"""Keys: the fingerprints of the data and pseudonym keys the store was written with.

Mirrors the keys section of api_engine/store/schema.py exactly (a test compares them). Branches
from 0003; the store upgrades to "heads".

Revision ID: 0007
Revises: 0003
Create Date: 2025-03-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        sa.Column("fingerprint", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("registered_at", Stamp, nullable=False),
        sa.Column("retired_at", Stamp),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_key_fingerprints"),
    )


def downgrade() -> None:
    op.drop_table("key_fingerprints")
