"""Targeting rules: rule sets as versioned data (proposed, approved by a second supervisor, retired), and the
severity a rule declares on its hits.

Mirrors the targeting rules section of api_engine/store/schema.py exactly (a test compares them). Chains from
0010; the store upgrades to "heads".

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rule_sets",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(100), nullable=False),
        sa.Column("proposed_at", Stamp, nullable=False),
        sa.Column("approved_by", sa.String(100)),
        sa.Column("approved_at", Stamp),
        sa.Column("rejected_by", sa.String(100)),
        sa.Column("rejected_at", Stamp),
        sa.Column("retired_by", sa.String(100)),
        sa.Column("retired_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_rule_sets"),
        sa.UniqueConstraint("name", "version", name="uq_rule_sets_name_version"),
    )
    op.create_index("ix_rule_sets_status", "rule_sets", ["status"])
    op.add_column("hits", sa.Column("severity", sa.String(8)))


def downgrade() -> None:
    op.drop_column("hits", "severity")
    op.drop_index("ix_rule_sets_status", table_name="rule_sets")
    op.drop_table("rule_sets")
