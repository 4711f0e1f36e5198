"""Sender integrity: a reused interchange reference is registered again (not refused), and a hit can be
carried to the next version of its list.

duplicate_register: the same sender + UNB 0020 may now occur more than once (other content is processed
and flagged, only the same bytes are a duplicate); `occurrence` numbers the uses, and the unique key
(sender, reference, occurrence) makes two writers registering the same reference at once collide, so the
loser retries and sees the other. hits: `traveller_key` (a keyed pseudonym of the traveller's identity)
pairs an open hit with the same traveller's hit in a later version; `carried_to` says where it went.

Revision ID: 0004
Revises: 0003
Create Date: 2025-04-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nothing references duplicate_register, so SQLite may rebuild it (batch mode) to change its keys.
    with op.batch_alter_table("duplicate_register") as batch:
        batch.add_column(sa.Column("occurrence", sa.Integer, nullable=False, server_default="1"))
        batch.drop_constraint("uq_duplicate_register_sender_ref", type_="unique")
        batch.create_unique_constraint("uq_duplicate_register_sender_ref_occurrence",
                                       ["sender", "interchange_ref", "occurrence"])
    # A plain id, no foreign key: on SQLite a foreign key means rebuilding hits, and dropping the old
    # table would cascade to hit_decisions (ON DELETE CASCADE) and take every decision with it.
    op.add_column("hits", sa.Column("carried_to", Id))
    op.add_column("hits", sa.Column("traveller_key", sa.String(64)))


def downgrade() -> None:
    op.drop_column("hits", "traveller_key")
    op.drop_column("hits", "carried_to")
    with op.batch_alter_table("duplicate_register") as batch:
        batch.drop_constraint("uq_duplicate_register_sender_ref_occurrence", type_="unique")
        batch.create_unique_constraint("uq_duplicate_register_sender_ref", ["sender", "interchange_ref"])
        batch.drop_column("occurrence")
