"""Initial store: interchanges and raw bytes, duplicate register, manifests, travellers, hits,
multi-part state, processed records and their output events.

Revision ID: 0001
Revises:
Create Date: 2025-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "interchanges",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(35)),
        sa.Column("recipient", sa.String(35)),
        sa.Column("interchange_ref", sa.String(35)),
        sa.Column("application_ref", sa.String(35)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("received_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interchanges"),
    )
    op.create_index("ix_interchanges_record_id", "interchanges", ["record_id"])
    op.create_index("ix_interchanges_content_hash", "interchanges", ["content_hash"])

    op.create_table(
        "raw_messages",
        sa.Column("interchange_id", Id, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("interchange_id", name="pk_raw_messages"),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"], ondelete="CASCADE",
                                name="fk_raw_messages_interchange_id_interchanges"),
    )

    op.create_table(
        "duplicate_register",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sender", sa.String(35), nullable=False),
        sa.Column("interchange_ref", sa.String(35), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("interchange_id", Id, nullable=False),
        sa.Column("registered_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duplicate_register"),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"], ondelete="CASCADE",
                                name="fk_duplicate_register_interchange_id_interchanges"),
        sa.UniqueConstraint("sender", "interchange_ref", name="uq_duplicate_register_sender_ref"),
        sa.UniqueConstraint("content_hash", name="uq_duplicate_register_content_hash"),
    )

    op.create_table(
        "manifests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("interchange_id", Id, nullable=False),
        sa.Column("assembly_key", sa.String(64), nullable=False),
        sa.Column("flight_key", sa.String(120), nullable=False),
        sa.Column("sender", sa.String(35)),
        sa.Column("common_access_ref", sa.String(35)),
        sa.Column("document_code", sa.String(3)),
        sa.Column("document_id", sa.String(35)),
        sa.Column("transaction_ref", sa.String(35)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("replaced_by", Id),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("parts", sa.Text, nullable=False),
        sa.Column("passengers", sa.Integer, nullable=False),
        sa.Column("crew", sa.Integer, nullable=False),
        sa.Column("declared_passengers", sa.Integer),
        sa.Column("declared_crew", sa.Integer),
        sa.Column("header_json", sa.Text, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_manifests"),
        sa.UniqueConstraint("uid", name="uq_manifests_uid"),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"], ondelete="CASCADE",
                                name="fk_manifests_interchange_id_interchanges"),
        sa.ForeignKeyConstraint(["replaced_by"], ["manifests.id"], ondelete="SET NULL",
                                name="fk_manifests_replaced_by_manifests"),
    )
    op.create_index("ix_manifests_flight_doc", "manifests", ["flight_key", "document_code"])

    op.create_table(
        "travellers",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("manifest_id", Id, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ref", sa.String(48), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("party_function", sa.String(3), nullable=False),
        sa.Column("surname", sa.String(70)),
        sa.Column("given_names", sa.String(200)),
        sa.Column("date_of_birth", sa.String(10)),
        sa.Column("gender", sa.String(1)),
        sa.Column("nationality", sa.String(3)),
        sa.Column("doc_type", sa.String(3)),
        sa.Column("doc_number", sa.String(35)),
        sa.Column("doc_issuing_state", sa.String(3)),
        sa.Column("ref_abo", sa.String(70)),
        sa.Column("ref_avf", sa.String(70)),
        sa.Column("traveller_json", sa.Text),
        sa.Column("pseudonymised_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_travellers"),
        sa.UniqueConstraint("ref", name="uq_travellers_ref"),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], ondelete="CASCADE",
                                name="fk_travellers_manifest_id_manifests"),
    )
    op.create_index("ix_travellers_manifest_id", "travellers", ["manifest_id"])

    op.create_table(
        "hits",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("manifest_id", Id, nullable=False),
        sa.Column("traveller_id", Id, nullable=False),
        sa.Column("alert_event_id", sa.String(64), nullable=False),
        sa.Column("list", sa.String(100), nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=False),
        sa.Column("category", sa.String(24)),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hits"),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], ondelete="CASCADE",
                                name="fk_hits_manifest_id_manifests"),
        sa.ForeignKeyConstraint(["traveller_id"], ["travellers.id"], ondelete="CASCADE",
                                name="fk_hits_traveller_id_travellers"),
    )
    op.create_index("ix_hits_manifest_id", "hits", ["manifest_id"])
    op.create_index("ix_hits_traveller_id", "hits", ["traveller_id"])

    op.create_table(
        "assemblies",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(35)),
        sa.Column("common_access_ref", sa.String(70)),
        sa.Column("document_code", sa.String(3)),
        sa.Column("document_id", sa.String(35)),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("digest", sa.String(64)),
        sa.Column("manifest_id", Id),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_assemblies"),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], ondelete="SET NULL",
                                name="fk_assemblies_manifest_id_manifests"),
    )

    op.create_table(
        "assembly_parts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("sequence", sa.Integer),
        sa.Column("sequence_flag", sa.String(1)),
        sa.Column("interchange_id", Id, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.Column("received_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assembly_parts"),
        sa.ForeignKeyConstraint(["key_hash"], ["assemblies.key_hash"], ondelete="CASCADE",
                                name="fk_assembly_parts_key_hash_assemblies"),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"], ondelete="CASCADE",
                                name="fk_assembly_parts_interchange_id_interchanges"),
    )
    op.create_index("ix_assembly_parts_key_generation", "assembly_parts", ["key_hash", "generation"])

    op.create_table(
        "processed_records",
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("interchange_id", Id),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_processed_records"),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"], ondelete="SET NULL",
                                name="fk_processed_records_interchange_id_interchanges"),
    )

    op.create_table(
        "output_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_output_events"),
        sa.UniqueConstraint("event_id", name="uq_output_events_event_id"),
        sa.UniqueConstraint("record_id", "position", name="uq_output_events_record_position"),
        sa.ForeignKeyConstraint(["record_id"], ["processed_records.record_id"], ondelete="CASCADE",
                                name="fk_output_events_record_id_processed_records"),
    )


def downgrade() -> None:
    for table in ("output_events", "processed_records", "assembly_parts", "assemblies", "hits", "travellers",
                  "manifests", "duplicate_register", "raw_messages", "interchanges"):
        op.drop_table(table)
