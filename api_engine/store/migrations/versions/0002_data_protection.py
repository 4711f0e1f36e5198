"""Data protection: the hash-chained audit trail (audit_log + its head row), retention clocks on
manifests, the re-identification copy on travellers, and (PostgreSQL) identifying columns wide enough
for their ciphertext.

Revision ID: 0002
Revises: 0001
Create Date: 2025-03-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)
GENESIS = "0" * 64
SEALABLE = {"surname": 70, "given_names": 200, "date_of_birth": 10, "doc_number": 35, "ref_abo": 70, "ref_avf": 70}


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, nullable=False, autoincrement=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(64)),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("pruned_seq", sa.BigInteger, nullable=False),
        sa.Column("pruned_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS, "pruned_seq": 0, "pruned_hash": GENESIS}])

    op.add_column("manifests", sa.Column("departs_at", Stamp))
    op.add_column("manifests", sa.Column("arrives_at", Stamp))
    op.add_column("travellers", sa.Column("reid_sealed", sa.LargeBinary))
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce lengths: no table rebuild there
        for name, length in SEALABLE.items():
            op.alter_column("travellers", name, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, length in SEALABLE.items():
            op.alter_column("travellers", name, type_=sa.String(length), existing_type=sa.Text())
    op.drop_column("travellers", "reid_sealed")
    op.drop_column("manifests", "arrives_at")
    op.drop_column("manifests", "departs_at")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_table("audit_log")
