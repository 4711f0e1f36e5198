"""The store's tables as SQLAlchemy Core metadata: one schema for SQLite and PostgreSQL.

Strategy: Core tables (no ORM) because the processor writes rows in bulk and reads them back by
key; every type is portable (JSON kept as text, bytes as LargeBinary, 64-bit ids that fall back to
INTEGER on SQLite so rowids autoincrement). Personal data sits in few, named places so retention
jobs can reach it: the raw bytes in `raw_messages` (a row to delete), the identifying traveller
fields in their own `travellers` columns (to null or pseudonymise) and the part JSON in
`assembly_parts`. The Alembic migrations create exactly this; a test checks they do not drift.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# 64-bit ids on PostgreSQL; INTEGER PRIMARY KEY (the rowid, autoincrementing) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")
Stamp = DateTime(timezone=True)

interchanges = Table(
    "interchanges", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, index=True),
    Column("source", String(200), nullable=False),
    Column("sender", String(35)),
    Column("recipient", String(35)),
    Column("interchange_ref", String(35)),
    Column("application_ref", String(35)),
    Column("content_hash", String(64), nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # processed | duplicate | dead_letter
    Column("lane", String(16), nullable=False),  # purpose: border (2025/12) or law_enforcement (2025/13)
    Column("received_at", Stamp, nullable=False),
)

raw_messages = Table(
    "raw_messages", metadata,
    Column("interchange_id", Id, ForeignKey("interchanges.id", ondelete="CASCADE"), primary_key=True),
    Column("raw", LargeBinary, nullable=False),
)

duplicate_register = Table(
    "duplicate_register", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sender", String(35), nullable=False),
    Column("interchange_ref", String(35), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("interchange_id", Id, ForeignKey("interchanges.id", ondelete="CASCADE"), nullable=False),
    Column("registered_at", Stamp, nullable=False),
    UniqueConstraint("sender", "interchange_ref", name="uq_duplicate_register_sender_ref"),
    UniqueConstraint("content_hash", name="uq_duplicate_register_content_hash"),
)

manifests = Table(
    "manifests", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("interchange_id", Id, ForeignKey("interchanges.id", ondelete="CASCADE"), nullable=False),
    Column("assembly_key", String(64), nullable=False),
    Column("flight_key", String(120), nullable=False),
    Column("sender", String(35)),
    Column("common_access_ref", String(35)),
    Column("document_code", String(3)),
    Column("document_id", String(35)),
    Column("transaction_ref", String(35)),
    Column("version", Integer, nullable=False),
    Column("replaced_by", Id, ForeignKey("manifests.id", ondelete="SET NULL")),
    Column("lane", String(16), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("parts", Text, nullable=False),  # JSON list of part numbers
    Column("passengers", Integer, nullable=False),
    Column("crew", Integer, nullable=False),
    Column("declared_passengers", Integer),
    Column("declared_crew", Integer),
    Column("header_json", Text, nullable=False),  # the manifest without its travellers
    Column("created_at", Stamp, nullable=False),
    Index("ix_manifests_flight_doc", "flight_key", "document_code"),
)

travellers = Table(
    "travellers", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("manifest_id", Id, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("ref", String(48), nullable=False, unique=True),  # manifest uid + position: what events name
    Column("role", String(24), nullable=False),
    Column("party_function", String(3), nullable=False),
    # Identifying fields, each in its own column so retention can null or pseudonymise them.
    Column("surname", String(70)),
    Column("given_names", String(200)),
    Column("date_of_birth", String(10)),
    Column("gender", String(1)),
    Column("nationality", String(3)),
    Column("doc_type", String(3)),
    Column("doc_number", String(35)),
    Column("doc_issuing_state", String(3)),
    Column("ref_abo", String(70)),
    Column("ref_avf", String(70)),
    Column("traveller_json", Text),  # the full traveller as read; nulled by retention
    Column("pseudonymised_at", Stamp),
)

hits = Table(
    "hits", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("manifest_id", Id, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("traveller_id", Id, ForeignKey("travellers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("alert_event_id", String(64), nullable=False),
    Column("list", String(100), nullable=False),
    Column("entry_id", String(100), nullable=False),
    Column("category", String(24)),
    Column("score", Float, nullable=False),
    Column("threshold", Float),
    Column("explanation", Text, nullable=False),  # JSON list of feature scores
    Column("status", String(16), nullable=False),  # open (awaiting an officer's review), ...
    Column("created_at", Stamp, nullable=False),
)

assemblies = Table(
    "assemblies", metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("sender", String(35)),
    Column("common_access_ref", String(70)),
    Column("document_code", String(3)),
    Column("document_id", String(35)),
    Column("generation", Integer, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("digest", String(64)),  # of the last assembled manifest: an identical re-assembly emits nothing
    Column("manifest_id", Id, ForeignKey("manifests.id", ondelete="SET NULL")),
    Column("updated_at", Stamp, nullable=False),
)

assembly_parts = Table(
    "assembly_parts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), ForeignKey("assemblies.key_hash", ondelete="CASCADE"), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("sequence", Integer),
    Column("sequence_flag", String(1)),
    Column("interchange_id", Id, ForeignKey("interchanges.id", ondelete="CASCADE"), nullable=False),
    Column("manifest_json", Text, nullable=False),
    Column("received_at", Stamp, nullable=False),
    Index("ix_assembly_parts_key_generation", "key_hash", "generation"),
)

processed_records = Table(
    "processed_records", metadata,
    Column("record_id", String(64), primary_key=True),
    Column("interchange_id", Id, ForeignKey("interchanges.id", ondelete="SET NULL")),
    Column("outcome", String(16), nullable=False),  # processed | duplicate | dead_letter
    Column("created_at", Stamp, nullable=False),
)

output_events = Table(
    "output_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", String(64), ForeignKey("processed_records.record_id", ondelete="CASCADE"),
           nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # acks | alerts | manifests | dlq
    Column("event_id", String(64), nullable=False, unique=True),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=False),
    UniqueConstraint("record_id", "position", name="uq_output_events_record_position"),
)

ALL_TABLES = tuple(metadata.sorted_tables)
