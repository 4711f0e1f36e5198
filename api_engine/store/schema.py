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
    false,
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


def Sealable(length: int) -> String:
    """An identifying text column: TEXT on PostgreSQL, wide enough for its AES-GCM ciphertext (protection.crypto).

    SQLite does not enforce VARCHAR lengths, so the type stays as declared there."""
    return String(length).with_variant(Text(), "postgresql")

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
    # revision 0004: a reference reused with other content is registered again (processed and flagged);
    # the occurrence makes two writers registering the same reference at once collide (one retries).
    Column("occurrence", Integer, nullable=False, server_default="1"),
    UniqueConstraint("sender", "interchange_ref", "occurrence", name="uq_duplicate_register_sender_ref_occurrence"),
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
    # Retention clocks (api_engine.protection.retention), UTC; NULL when the list does not say: receipt counts then.
    Column("departs_at", Stamp),
    Column("arrives_at", Stamp),
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
    # Sealable ones hold AES-GCM ciphertext at rest and HMAC pseudonyms after depersonalisation.
    Column("surname", Sealable(70)),
    Column("given_names", Sealable(200)),
    Column("date_of_birth", Sealable(10)),
    Column("gender", String(1)),
    Column("nationality", String(3)),
    Column("doc_type", String(3)),
    Column("doc_number", Sealable(35)),
    Column("doc_issuing_state", String(3)),
    Column("ref_abo", Sealable(70)),
    Column("ref_avf", Sealable(70)),
    Column("traveller_json", Text),  # the full traveller as read; pseudonymised by retention
    Column("pseudonymised_at", Stamp),
    Column("reid_sealed", LargeBinary),  # encrypted identity kept for supervised re-identification until deletion
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
    Column("status", String(16), nullable=False),  # open (awaiting an officer's review), ..., carried
    Column("created_at", Stamp, nullable=False),
    # revision 0004: an open hit is carried to the same traveller's hit in a later version of its list
    # (status "carried", `carried_to` that hit); `traveller_key` is a keyed pseudonym of the identity.
    # No foreign key: on SQLite adding one means rebuilding hits, which would cascade to hit_decisions.
    Column("carried_to", Id),
    Column("traveller_key", String(64)),
    # revision 0008: the entry left its list (a hit stays open until an officer decides; this only says so)
    Column("entry_removed_at", Stamp),
    Column("rescreen_run", Id),  # raised by this re-screen run after a list change (NULL: as the manifest arrived)
    # revision 0011: the severity a targeting rule declares (low | medium | high); NULL for a watchlist hit,
    # whose severity follows from its score and category
    Column("severity", String(8)),
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

# The audit trail (api_engine.protection.audit): append-only, hash-chained; references only, never personal data.
audit_log = Table(
    "audit_log", metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),  # 1, 2, 3, ... without gaps
    Column("at", Stamp, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("purpose", String(64)),
    Column("reason", Text),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id 1): the chain's newest entry and the anchor left by pruning. Appends update it first, so
# it is also the lock that serialises appends, and it reveals a deleted newest entry.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("pruned_seq", BigInteger, nullable=False),
    Column("pruned_hash", String(64), nullable=False),
)

ALL_TABLES = tuple(metadata.sorted_tables)

# ---- console (revision 0003): accounts, sessions, officers' decisions, allowlist, list uploads -------------
# Owned by api_engine/console. Sessions are stored by the SHA-256 of their token (a leaked table gives
# no usable cookie); the allowlist holds a fingerprint of the traveller's attributes, never the attributes.

console_users = Table(
    "console_users", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # officer | supervisor | auditor | admin
    Column("identity_provider", String(32), nullable=False),  # local | oidc:<issuer> ...
    Column("password_hash", String(200)),  # argon2id; NULL for accounts of an external provider
    Column("active", Boolean, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("last_sign_in_at", Stamp),
)

console_sessions = Table(
    "console_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("console_users.id", ondelete="CASCADE"), index=True),  # NULL: signed out
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
)

hit_decisions = Table(
    "hit_decisions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("hit_id", Id, ForeignKey("hits.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("decision", String(16), nullable=False),  # confirm | dismiss | escalate | approve | reject
    Column("comment", Text, nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("decided_at", Stamp, nullable=False),
)

allowlist = Table(
    "allowlist", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("list", String(100), nullable=False),
    Column("entry_id", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # watchlists.screener.traveller_fingerprint
    Column("hit_id", Id, ForeignKey("hits.id", ondelete="SET NULL")),
    Column("reason", Text, nullable=False),
    Column("cleared_by", String(100), nullable=False),
    Column("cleared_at", Stamp, nullable=False),
    # revision 0006 (four eyes): in force only once a second person (a supervisor) approved it.
    Column("status", String(16), nullable=False, server_default="pending"),  # pending | approved | rejected
    Column("approved_by", String(100)),
    Column("approved_at", Stamp),
    UniqueConstraint("list", "entry_id", "fingerprint", name="uq_allowlist_list_entry_fingerprint"),
)

watchlist_uploads = Table(
    "watchlist_uploads", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("list_name", String(100), nullable=False),
    Column("version", String(64), nullable=False),
    Column("source_format", String(32), nullable=False),
    Column("entries", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("report_json", Text, nullable=False),  # rejected rows (line + reason, no names) and the diff
    Column("path", String(500)),  # where the accepted file was kept; NULL when rejected as a whole
    Column("accepted", Boolean, nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    Column("uploaded_at", Stamp, nullable=False),
    # revision 0006: an upload naming a configured list waits for a supervisor's confirmation; the
    # confirmation is a new accepted row carrying confirmed_by (the service installs rows by id).
    Column("awaiting_confirmation", Boolean, nullable=False, server_default=false()),
    Column("confirmed_by", String(100)),
    Column("confirmed_at", Stamp),
)

# revision 0005 (sign-in throttling): failed sign-ins per account (keyed by an HMAC of the name typed,
# so a password typed into the name field is not kept) and per client address, with the lockout end.
console_signin_failures = Table(
    "console_signin_failures", metadata,
    Column("key", String(80), primary_key=True),  # "account:<hmac>" | "address:<ip>"
    Column("scope", String(16), nullable=False),  # account | address
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", Stamp, nullable=False),
    Column("locked_until", Stamp),
)

# ---- keys (revision 0007): the fingerprints of the keys this store was written with -------------------------
# Owned by api_engine/protection/crypto (check_keyring): a process whose keyring lacks an active data key,
# or holds another pseudonym key, refuses to start. Key ids only (a hash prefix), never key material.

key_fingerprints = Table(
    "key_fingerprints", metadata,
    Column("fingerprint", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),  # data | pseudonym
    Column("registered_at", Stamp, nullable=False),
    Column("retired_at", Stamp),  # set once `keys rotate` has re-sealed everything under a newer key
)

ALL_TABLES = tuple(metadata.sorted_tables)  # again, now with the console's tables

# ---- live lists (revision 0008): list versions in force, what each manifest was screened against, re-screen runs ----
# Owned by api_engine/service/lists.py and api_engine/service/rescreen.py. A list version is known by the
# digest of its entries' fingerprints (stable keys: blake2b of the entry id and of its content), kept so a
# later version's diff can be worked out in any process, after any restart. `manifest_screens` says which
# version of each list a manifest's travellers were screened against: a re-screen moves it to the version
# in force in the same transaction that stores the new hits, so a manifest is re-screened once per change.

list_versions = Table(
    "list_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("list_name", String(100), nullable=False),
    Column("digest", String(32), nullable=False),
    Column("version", String(64), nullable=False),  # the loader's version label (a list date, a file hash)
    Column("source", String(500), nullable=False),  # the configured file, or "upload:<id>"
    Column("entries", Integer, nullable=False),
    Column("previous_digest", String(32)),
    Column("added", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("fingerprints", LargeBinary, nullable=False),  # watchlists.screener.Fingerprints.to_bytes()
    Column("trigger", String(32), nullable=False),  # start | file_change | signal | operator | upload
    Column("installed_at", Stamp, nullable=False),
    # 1, 2, 3 ... per list: two workers recording the same change collide here and one gives way (a list
    # may come back to an earlier digest: that is a change too)
    Column("seq", Integer, nullable=False),
    UniqueConstraint("list_name", "seq", name="uq_list_versions_list_seq"),
    Index("ix_list_versions_list_digest", "list_name", "digest"),
)

manifest_screens = Table(
    "manifest_screens", metadata,
    Column("manifest_id", Id, ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
    Column("list_name", String(100), primary_key=True),
    Column("digest", String(32), nullable=False),  # "" : to be screened against the whole list in force
    Index("ix_manifest_screens_list_digest", "list_name", "digest"),
)

rescreen_runs = Table(
    "rescreen_runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("list_name", String(100), nullable=False),
    Column("from_digest", String(32)),  # NULL: against the whole list
    Column("to_digest", String(32), nullable=False),
    Column("from_version", String(64)),
    Column("to_version", String(64), nullable=False),
    Column("trigger", String(32), nullable=False),  # start | file_change | signal | operator | upload
    Column("requested_by", String(100)),
    Column("since", Stamp),  # `lists rescreen --since`: changes since this instant
    Column("entries", Integer, nullable=False),  # added and changed entries screened against
    Column("removed", Integer, nullable=False),
    Column("travellers", Integer, nullable=False, server_default="0"),  # travellers considered
    Column("manifests", Integer, nullable=False, server_default="0"),
    Column("new_hits", Integer, nullable=False, server_default="0"),
    Column("flagged", Integer, nullable=False, server_default="0"),  # open hits flagged "entry removed from list"
    Column("status", String(16), nullable=False),  # running | done
    Column("started_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("finished_at", Stamp),
    Column("seconds", Float),
)

# The state of each configured list as the service last checked it: the version in force and, when the
# file could not be loaded, why (a reason, never a line of the file) and since when.
list_states = Table(
    "list_states", metadata,
    Column("list_name", String(100), primary_key=True),
    Column("source", String(500), nullable=False),
    Column("digest", String(32)),
    Column("version", String(64)),
    Column("entries", Integer),
    Column("checked_at", Stamp, nullable=False),
    Column("error", Text),
    Column("error_at", Stamp),
)

# `api-engine lists reload`: asks every running worker to look at its list files now.
list_requests = Table(
    "list_requests", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # reload
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", Stamp, nullable=False),
)

ALL_TABLES = tuple(metadata.sorted_tables)  # again, with the live lists' tables

# ---- iAPI answers (revision 0010): the government's board/no-board answer per traveller of a flight ------------
# Owned by api_engine/service/processor.py (api_engine/service/iapi.py). One row per carrier, flight and traveller
# reference (RFF+ABO, kept as a keyed pseudonym: the DCS's own id of the passenger, enough to match a CP, a
# CLOB or an XF to the answer): the last answer, how often it was given, and what happened since (changed by a
# CP, boarded or off-loaded by the close-out, cancelled with the flight).

iapi_answers = Table(
    "iapi_answers", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sender", String(35), nullable=False),
    Column("flight_key", String(120), nullable=False),
    Column("abo_key", String(64), nullable=False),
    # deleted with the traveller by retention (the pseudonymous reference must not outlive him)
    Column("traveller_id", Id, ForeignKey("travellers.id", ondelete="CASCADE")),
    Column("status", String(3), nullable=False),  # ERC: 0Z, 1Z, 2Z, 4Z
    Column("text", String(70), nullable=False),
    Column("answers", Integer, nullable=False),
    Column("answered_at", Stamp, nullable=False),
    Column("state", String(16), nullable=False),  # answered | changed | boarded | offloaded | cancelled
    Column("state_at", Stamp, nullable=False),
    Column("changed_by", String(100)),  # the officer whose decision changed the answer (a CUSRES 132)
    Column("changed_at", Stamp),
    UniqueConstraint("sender", "flight_key", "abo_key", name="uq_iapi_answers_sender_flight_abo"),
)

# The government-initiated changes (CUSRES 132) an officer's decision made, as an outbox: a worker sends each
# (api.acks, keyed by the carrier), resends it until the carrier's CUSRES 312 acknowledges it, and records both.
iapi_changes = Table(
    "iapi_changes", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("answer_id", Id, ForeignKey("iapi_answers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("hit_id", Id, ForeignKey("hits.id", ondelete="SET NULL")),
    Column("status", String(3), nullable=False),
    Column("text", String(70), nullable=False),
    Column("reference", String(35), nullable=False),  # RFF+TN of the 132, echoed by the carrier's 312
    Column("decided_by", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", Stamp),
    Column("acknowledged_at", Stamp),
    UniqueConstraint("reference", name="uq_iapi_changes_reference"),
)

ALL_TABLES = tuple(metadata.sorted_tables)  # again, with the iAPI answers

# ---- carrier tokens (revision 0009): bearer tokens of the HTTPS iAPI endpoint --------------------------------
# Owned by api_engine/service/carriers.py (`api-engine carriers`). Only the SHA-256 of a token is kept (the token
# is shown once, when made); `sender` is the UNB sender id the token's carrier must write in every request.
carrier_tokens = Table(
    "carrier_tokens", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False),
    Column("sender", String(35), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("revoked_at", Stamp),
    Column("revoked_by", String(100)),
    UniqueConstraint("token_hash", name="uq_carrier_tokens_token_hash"),
    Index("ix_carrier_tokens_sender", "sender"),
)

ALL_TABLES = tuple(metadata.sorted_tables)  # again, with the carrier tokens

# ---- targeting rules (revision 0011): rule sets as versioned data, four eyes ------------------------------------
# Owned by api_engine/service/rules.py (`RuleBook`, `api-engine rules`). A rule set is a named rule file; each
# proposal is a new version (1, 2, 3 ... per name), pending until a second supervisor approves it; approving makes
# it active and retires the name's previous active version. The workers poll the active versions (LiveRules).
# Rule texts name attributes and values, never a traveller.
rule_sets = Table(
    "rule_sets", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the text: an unchanged proposal is refused
    Column("owner", String(100), nullable=False),  # the unit answerable for the rules
    Column("purpose", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("status", String(16), nullable=False),  # draft | pending | active | retired | rejected
    Column("proposed_by", String(100), nullable=False),
    Column("proposed_at", Stamp, nullable=False),
    Column("approved_by", String(100)),
    Column("approved_at", Stamp),
    Column("rejected_by", String(100)),
    Column("rejected_at", Stamp),
    Column("retired_by", String(100)),
    Column("retired_at", Stamp),
    UniqueConstraint("name", "version", name="uq_rule_sets_name_version"),
    Index("ix_rule_sets_status", "status"),
)

ALL_TABLES = tuple(metadata.sorted_tables)  # again, with the rule sets

# ---- notifications (revision 0012): one row per alert event and channel ------------------------------------------
# Owned by api_engine/service/notify.py. A replayed record hands the same alert events to the notifier again; a row
# that says sent (or failed after its last attempt) keeps it from notifying twice. References only: no recipient.
notifications = Table(
    "notifications", metadata,
    Column("event_id", String(64), primary_key=True),  # the alert event's id
    Column("channel", String(16), primary_key=True),  # email | webhook
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("sent_at", Stamp),
)

ALL_TABLES = tuple(metadata.sorted_tables)  # again, with the notifications
