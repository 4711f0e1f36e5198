"""Output events: what the service hands to Kafka (or to JSON Lines files), with JSON Schemas.

Strategy: one pydantic model per output topic, and one `OutputEvent` envelope (topic kind, key,
JSON value, id) that the Kafka shell produces as is. Every `event_id` is derived from the input
(`event_id()`: sha256 over the record, sender, interchange reference, content hash, output kind
and index), so processing the same record again yields the same ids and a consumer that
deduplicates by id sees nothing new. Models carry only what their readers need: border officers
get names, date of birth, nationality and documents (no bags, seats, contacts or addresses);
dead letters carry the original bytes sealed (AES-GCM) for the operators who must fix them.
`python -m api_engine.service.events [DIR]` writes the JSON Schemas (default docs/schemas/).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OutputKind = Literal["acks", "alerts", "manifests", "dlq"]
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class OutputEvent:
    """One record to produce: `kind` names the topic (mapped to a name by Settings.topics)."""

    kind: OutputKind
    key: bytes
    value: bytes  # UTF-8 JSON of the event model
    event_id: str


def event_id(record_id: str, sender: str | None, interchange_ref: str | None, content_hash: str,
             kind: str, index: int) -> str:
    """Same input record, same output, same id: the basis of idempotent delivery."""
    basis = "\x1f".join((record_id, sender or "", interchange_ref or "", content_hash, kind, str(index)))
    return hashlib.sha256(basis.encode()).hexdigest()


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(description="Deterministic: the same input record always gives the same id.")
    schema_version: int = SCHEMA_VERSION


class InterchangeRef(BaseModel):
    """Which input an event answers: references only, never personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: str | None = None
    recipient: str | None = None
    interchange_ref: str | None = Field(default=None, description="UNB 0020")
    application_ref: str | None = Field(default=None, description="UNB 0026 (APIS, IAPI, ...)")
    content_hash: str = Field(description="sha256 of the bytes as received")


class FlightRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    flight_key: str = Field(description="carrier+number / scheduled local departure date / origin-destination")
    flight_id: str | None = None
    carrier: str | None = None
    departure_airport: str | None = None
    arrival_airport: str | None = None
    departure_local: datetime | None = None
    arrival_local: datetime | None = None
    common_access_ref: str | None = Field(default=None, description="UNH 0068")


class DocumentView(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    doc_type: str | None = None
    number: str | None = None
    issuing_state: str | None = None


class IdentityView(BaseModel):
    """The minimised identity an officer needs to recognise a traveller (brief §5.5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    surname: str | None = None
    given_names: list[str] = []
    date_of_birth: date | None = None
    nationality: str | None = None
    documents: list[DocumentView] = []


class TravellerView(IdentityView):
    traveller_ref: str = Field(description="Stable reference of this traveller in the store (manifest uid:position)")
    role: str = Field(description="passenger, crew, transit_passenger, transit_crew, other")
    hit: bool = False
    hit_count: int = 0


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    passengers: int
    crew: int
    declared_passengers: int | None = Field(default=None, description="CNT 42 as sent")
    declared_crew: int | None = Field(default=None, description="CNT 41 as sent")
    hits: int = 0


class FindingView(BaseModel):
    """A finding without the offending value (which may be personal data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    severity: str
    message: str
    segment_position: int | None = None
    segment_tag: str | None = None
    message_ref: str | None = None


class AckEvent(_Event):
    """The acknowledgement for the carrier: a CONTRL, and a CUSRES 962 for iAPI requests."""

    type: Literal["ack"] = "ack"
    interchange: InterchangeRef
    accepted: bool = Field(description="False when the CONTRL rejects the interchange or any message")
    duplicate: bool = Field(default=False, description="True when the interchange had been received before")
    contrl: str = Field(description="CONTRL interchange as text")
    contrl_base64: str = Field(description="CONTRL interchange, the exact bytes")
    cusres: str | None = Field(default=None, description="CUSRES 962 (iAPI answer) as text")
    cusres_base64: str | None = None


class IapiChangeEvent(_Event):
    """A government-initiated change of an iAPI answer for the carrier (CUSRES 132), on the acks topic. The
    carrier acknowledges it with a CUSRES 312 quoting `reference` (RFF+TN); until then it is sent again."""

    type: Literal["iapi_change"] = "iapi_change"
    reference: str = Field(description="RFF+TN of the 132: the carrier's 312 quotes it")
    sender: str = Field(description="the carrier (UNB sender of the request) the change is for")
    attempt: int = Field(description="1 for the first sending, +1 per resend while no 312 came")
    cusres: str = Field(description="CUSRES 132 as text")
    cusres_base64: str


class IapiFallbackEvent(_Event):
    """An iAPI request not answered within the profile's time budget: the profile's fallback status (never the
    OK status unless the profile says so) for every traveller of the request, at header level. The screened
    answer follows as the request's `AckEvent`; a resend of the request is answered with that one."""

    type: Literal["iapi_fallback"] = "iapi_fallback"
    interchange: InterchangeRef
    budget_ms: int = Field(description="the profile's answer budget that passed")
    cusres: str = Field(description="CUSRES 962 with the fallback status, as text")
    cusres_base64: str


class HitFeature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    outcome: str
    contribution: float
    detail: str


class WatchlistRef(BaseModel):
    """What raised the alert: a watchlist entry, or a targeting rule (`list` "rules:<rule set>", `category` "rule")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    list: str = Field(description="the watchlist's name; for a targeting rule, rules:<rule set name>")
    entry_id: str = Field(description="the list entry's id; for a targeting rule, the rule's name")
    category: str | None = Field(default=None, description="the entry's category (individual, document, ...); "
                                                           "rule for a targeting rule")
    matched_name: str | None = Field(default=None, description="the list entry's name that matched")


class AlertEvent(_Event):
    """One hit: a traveller matched a watchlist entry or was flagged by a targeting rule; an officer must review
    it before any action. A rule's alert explains each comparison with the traveller's value (`explanation`), and
    `explanation_text` names the rule, its declared severity and score, and the rule set's version."""

    type: Literal["alert"] = "alert"
    flight: FlightRef
    traveller_ref: str
    role: str
    identity: IdentityView
    watchlist: WatchlistRef
    score: float
    threshold: float | None = None
    explanation: list[HitFeature] = []
    explanation_text: str = ""
    manifest_uid: str
    lane: str
    raised_by: Literal["manifest", "rescreen"] = Field(
        default="manifest", description="manifest: screening a list as it arrived; rescreen: a list change "
                                        "re-screened travellers already received (no new message)")


class ManifestEvent(_Event):
    """One minimised manifest per flight, document and update (version)."""

    type: Literal["manifest"] = "manifest"
    flight: FlightRef
    manifest_uid: str
    version: int = Field(description="1 for the first list of this flight and document, +1 per replacement")
    replaces: str | None = Field(default=None, description="manifest_uid of the version this one replaces")
    document_code: str | None = Field(default=None, description="BGM 1001: 745 passengers, 250 crew, ...")
    document_id: str | None = None
    complete: bool
    parts: list[int] = []
    counts: Counts
    screened: bool = Field(description="False when no watchlist was loaded: nobody on this list was screened "
                                       "(a service run with allow_unscreened)")
    travellers: list[TravellerView]
    findings: list[FindingView] = Field(default=[], description="assembly findings (no values)")
    lane: str
    interchange: InterchangeRef


class DeadLetterEvent(_Event):
    """An input that could not be processed: why, and the original bytes sealed, for an operator."""

    type: Literal["dead_letter"] = "dead_letter"
    reason: str
    rules: list[str] = []
    findings: list[FindingView] = []
    source: str
    record_key_base64: str | None = None
    original_sealed: str | None = Field(
        default=None,
        description="the bytes as received (names, document numbers), AES-256-GCM under the service's data key, "
                    "base64; absent when the input is larger than 1 MiB (the event must stay far below the "
                    "producer's request limit): then only the store keeps it, under the raw-message retention. "
                    "`api-engine keys open-dead-letter` opens either (audited) until the key is retired")
    original_size: int = Field(description="length of the bytes as received")
    interchange: InterchangeRef


EVENT_MODELS: dict[str, type[_Event]] = {
    "ack": AckEvent,
    "alert": AlertEvent,
    "manifest": ManifestEvent,
    "dead_letter": DeadLetterEvent,
    "iapi_change": IapiChangeEvent,
    "iapi_fallback": IapiFallbackEvent,
}


def write_schemas(directory: Path) -> list[Path]:
    """Write one JSON Schema per event model; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, model in EVENT_MODELS.items():
        path = directory / f"{name}.schema.json"
        schema = model.model_json_schema()
        schema["$id"] = f"https://api-engine.example/schemas/{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "docs" / "schemas"
    for path in write_schemas(target):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
