"""iAPI answers: the board/no-board answer per carrier, flight and traveller reference, what followed, and
the government-initiated changes (CUSRES 132) waiting for the carrier's acknowledgement (CUSRES 312).

Mirrors the iAPI answers section of api_engine/store/schema.py exactly (a test compares them). Branches
from 0003; the store upgrades to "heads".

Revision ID: 0010
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "iapi_answers",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("sender", sa.String(35), nullable=False),
        sa.Column("flight_key", sa.String(120), nullable=False),
        sa.Column("abo_key", sa.String(64), nullable=False),
        sa.Column("traveller_id", Id),
        sa.Column("status", sa.String(3), nullable=False),
        sa.Column("text", sa.String(70), nullable=False),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.Column("answered_at", Stamp, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_at", Stamp, nullable=False),
        sa.Column("changed_by", sa.String(100)),
        sa.Column("changed_at", Stamp),
        sa.ForeignKeyConstraint(["traveller_id"], ["travellers.id"], ondelete="CASCADE",
                                name="fk_iapi_answers_traveller_id_travellers"),
        sa.PrimaryKeyConstraint("id", name="pk_iapi_answers"),
        sa.UniqueConstraint("sender", "flight_key", "abo_key", name="uq_iapi_answers_sender_flight_abo"),
    )
    op.create_table(
        "iapi_changes",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("answer_id", Id, nullable=False),
        sa.Column("hit_id", Id),
        sa.Column("status", sa.String(3), nullable=False),
        sa.Column("text", sa.String(70), nullable=False),
        sa.Column("reference", sa.String(35), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent_at", Stamp),
        sa.Column("acknowledged_at", Stamp),
        sa.ForeignKeyConstraint(["answer_id"], ["iapi_answers.id"], ondelete="CASCADE",
                                name="fk_iapi_changes_answer_id_iapi_answers"),
        sa.ForeignKeyConstraint(["hit_id"], ["hits.id"], ondelete="SET NULL", name="fk_iapi_changes_hit_id_hits"),
        sa.PrimaryKeyConstraint("id", name="pk_iapi_changes"),
        sa.UniqueConstraint("reference", name="uq_iapi_changes_reference"),
    )
    op.create_index("ix_iapi_changes_answer_id", "iapi_changes", ["answer_id"])


def downgrade() -> None:
    op.drop_index("ix_iapi_changes_answer_id", table_name="iapi_changes")
    op.drop_table("iapi_changes")
    op.drop_table("iapi_answers")
