"""Live lists: list versions in force, what each manifest was screened against, re-screen runs.

Mirrors the live lists section of api_engine/store/schema.py exactly (a test compares them), and the
`hits.entry_removed_at` and `hits.rescreen_run` columns. Branches from 0004 (which shaped `hits` last);
the store upgrades to "heads".

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

Stamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "list_versions",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("previous_digest", sa.String(32)),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("removed", sa.Integer, nullable=False),
        sa.Column("changed", sa.Integer, nullable=False),
        sa.Column("fingerprints", sa.LargeBinary, nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("installed_at", Stamp, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_list_versions"),
        sa.UniqueConstraint("list_name", "seq", name="uq_list_versions_list_seq"),
    )
    op.create_index("ix_list_versions_list_digest", "list_versions", ["list_name", "digest"])
    op.create_table(
        "manifest_screens",
        sa.Column("manifest_id", Id, nullable=False),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], ondelete="CASCADE",
                                name="fk_manifest_screens_manifest_id_manifests"),
        sa.PrimaryKeyConstraint("manifest_id", "list_name", name="pk_manifest_screens"),
    )
    op.create_index("ix_manifest_screens_list_digest", "manifest_screens", ["list_name", "digest"])
    op.create_table(
        "rescreen_runs",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("from_digest", sa.String(32)),
        sa.Column("to_digest", sa.String(32), nullable=False),
        sa.Column("from_version", sa.String(64)),
        sa.Column("to_version", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(100)),
        sa.Column("since", Stamp),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("removed", sa.Integer, nullable=False),
        sa.Column("travellers", sa.Integer, nullable=False, server_default="0"),
        sa.Column("manifests", sa.Integer, nullable=False, server_default="0"),
        sa.Column("new_hits", sa.Integer, nullable=False, server_default="0"),
        sa.Column("flagged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.Column("seconds", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_rescreen_runs"),
    )
    op.create_table(
        "list_states",
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(32)),
        sa.Column("version", sa.String(64)),
        sa.Column("entries", sa.Integer),
        sa.Column("checked_at", Stamp, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("error_at", Stamp),
        sa.PrimaryKeyConstraint("list_name", name="pk_list_states"),
    )
    op.create_table(
        "list_requests",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_list_requests"),
    )
    op.add_column("hits", sa.Column("entry_removed_at", Stamp))  # no table rebuild: it would cascade to decisions
    op.add_column("hits", sa.Column("rescreen_run", Id))


def downgrade() -> None:
    op.drop_column("hits", "rescreen_run")
    op.drop_column("hits", "entry_removed_at")
    op.drop_table("list_requests")
    op.drop_table("list_states")
    op.drop_table("rescreen_runs")
    op.drop_index("ix_manifest_screens_list_digest", table_name="manifest_screens")
    op.drop_table("manifest_screens")
    op.drop_index("ix_list_versions_list_digest", table_name="list_versions")
    op.drop_table("list_versions")
