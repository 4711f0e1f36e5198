"""Console: local accounts, sessions, officers' decisions on hits, the allowlist, watchlist uploads.

Mirrors the console section of api_engine/store/schema.py exactly (a test compares them). Branches
from 0001 beside the data-protection revision 0002; the store upgrades to "heads".

Revision ID: 0003
Revises: 0001
Create Date: 2025-03-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("identity_provider", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("last_sign_in_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_console_users"),
        sa.UniqueConstraint("name", name="uq_console_users_name"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", Id),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE",
                                name="fk_console_sessions_user_id_console_users"),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_table(
        "hit_decisions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("hit_id", Id, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("decided_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hit_decisions"),
        sa.ForeignKeyConstraint(["hit_id"], ["hits.id"], ondelete="CASCADE", name="fk_hit_decisions_hit_id_hits"),
    )
    op.create_index("ix_hit_decisions_hit_id", "hit_decisions", ["hit_id"])
    op.create_table(
        "allowlist",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("list", sa.String(100), nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("hit_id", Id),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("cleared_by", sa.String(100), nullable=False),
        sa.Column("cleared_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_allowlist"),
        sa.ForeignKeyConstraint(["hit_id"], ["hits.id"], ondelete="SET NULL", name="fk_allowlist_hit_id_hits"),
        sa.UniqueConstraint("list", "entry_id", "fingerprint", name="uq_allowlist_list_entry_fingerprint"),
    )
    op.create_table(
        "watchlist_uploads",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("source_format", sa.String(32), nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("report_json", sa.Text, nullable=False),
        sa.Column("path", sa.String(500)),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("uploaded_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_watchlist_uploads"),
    )


def downgrade() -> None:
    for table in ("watchlist_uploads", "allowlist", "hit_decisions", "console_sessions", "console_users"):
        op.drop_table(table)
