"""The one domain model: interchanges, manifests, travellers, documents, findings.

Strategy: readers build plain dicts on the hot path and turn a whole message into models at
once: in one `model_validate` call, or where the reader has already typed every value exactly, with
`constructor` (no second pass over what is known to be valid). Original values are kept as sent;
normalised values sit beside them (`*_raw` / `name` / `*_utc`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Finding(_Model):
    """One problem with an input, located precisely enough for CONTRL and for a person.

    `message` never carries personal data; the offending value, which may, is kept apart in
    `value` so that logs and metrics can leave it out.
    """

    rule: str
    severity: Severity
    message: str
    segment_position: int | None = None
    segment_tag: str | None = None
    element: int | None = None
    component: int | None = None
    contrl_error: int | None = None
    level: str = "message"  # interchange | group | message | manifest
    message_ref: str | None = None
    value: str | None = Field(default=None, repr=False)


class Contact(_Model):
    number: str
    channel: str | None = None  # TE, FX, EM


class Address(_Model):
    street: str | None = None
    city: str | None = None
    sub_entity: str | None = None
    postcode: str | None = None
    country: str | None = None


class Party(_Model):
    function: str  # MS, ...
    name: str | None = None
    identifier: str | None = None
    contacts: list[Contact] = Field(default_factory=list)


class Stop(_Model):
    """A LOC (+ DTM) pair of a flight leg, as sent."""

    qualifier: str  # 125, 87, 92, 130, 22
    airport: str
    time_qualifier: str | None = None  # 189 departure, 232 arrival
    local_time: datetime | None = None
    utc_time: datetime | None = None
    segment_position: int | None = None


class FlightLeg(_Model):
    transport_stage: str  # 20 main carriage, 34 overflight
    flight_id: str | None = None  # carrier + number as sent, e.g. "AA123"
    carrier: str | None = None
    flight_number: str | None = None
    departure_airport: str | None = None
    arrival_airport: str | None = None
    departure_local: datetime | None = None
    departure_utc: datetime | None = None
    arrival_local: datetime | None = None
    arrival_utc: datetime | None = None
    final_destination: str | None = None
    clearance_airport: str | None = None
    stops: list[Stop] = Field(default_factory=list)
    segment_position: int | None = None


class TravelDocument(_Model):
    doc_type: str | None = None  # P, V, I, IP, AC, ...
    number: str | None = None
    agency: str | None = None  # 3055: 111, 109, ZZZ
    expiry: date | None = None
    expiry_raw: str | None = None
    issue_date: date | None = None
    issue_date_raw: str | None = None
    issuing_state: str | None = None
    segment_position: int | None = None


class BagTag(_Model):
    first_tag: str
    count: int | None = None


class Traveller(_Model):
    role: str  # passenger, crew, transit_passenger, transit_crew, other
    party_function: str  # FL, FM, DDU, DDT, ...
    surname: str | None = None
    given_names: list[str] = Field(default_factory=list)
    # Normalised beside the name as sent: trimmed, spaces collapsed, MRZ fillers and FNU/LNU
    # placeholders removed ("GIVEN NAMES SURNAME"), and an order-free ASCII matching key.
    full_name: str | None = None
    matching_key: str | None = None
    gender: str | None = None
    date_of_birth: date | None = None
    date_of_birth_raw: str | None = None
    embarkation: str | None = None  # LOC 178
    debarkation: str | None = None  # LOC 179
    clearance: str | None = None  # LOC 22
    residence_country: str | None = None  # LOC 174
    birth_country: str | None = None  # LOC 180
    birth_place: str | None = None
    nationality: str | None = None
    references: dict[str, list[str]] = Field(default_factory=dict)
    verified: bool | None = None  # GEI 173 / 174
    crew_function: str | None = None
    bag_count: int | None = None
    bag_weight: float | None = None
    bag_weight_unit: str | None = None
    bag_tags: list[BagTag] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    address: Address | None = None
    documents: list[TravelDocument] = Field(default_factory=list)
    segment_position: int | None = None

    @property
    def abo(self) -> str | None:
        refs = self.references.get("ABO")
        return refs[0] if refs else None

    @property
    def avf(self) -> str | None:
        refs = self.references.get("AVF")
        return refs[0] if refs else None


class MessageHeader(_Model):
    """UNH data plus the interchange context a message needs on its own."""

    message_ref: str
    message_type: str  # PAXLST, CUSRES
    version: str | None = None  # D
    release: str | None = None  # 05B
    agency: str | None = None  # UN
    association: str | None = None  # IATA
    common_access_ref: str | None = None
    sequence: int | None = None
    sequence_flag: str | None = None  # C or F
    sender: str | None = None
    recipient: str | None = None
    interchange_ref: str | None = None
    application_ref: str | None = None


class Totals(_Model):
    passengers: int | None = None  # CNT 42
    crew: int | None = None  # CNT 41


class Manifest(_Model):
    header: MessageHeader
    document_code: str | None = None  # BGM 1001: 745, 250, 266, 336, 655
    document_id: str | None = None  # BGM 1004: CP, XR, RP, CL, CLOB, CLNB, XF, C, CC...
    transaction_ref: str | None = None  # RFF+TN
    transaction_revision: str | None = None
    reporting_party: Party | None = None
    legs: list[FlightLeg] = Field(default_factory=list)
    travellers: list[Traveller] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    parts: list[int] = []  # part sequence numbers merged into this manifest
    complete: bool = True  # the final part (F) has been seen

    @property
    def flight_key(self) -> str:
        """Carrier + number + scheduled local departure date + origin + destination (brief §4)."""
        leg = self.legs[-1] if self.legs else None
        if leg is None:
            return self.header.common_access_ref or self.header.message_ref
        day = leg.departure_local.date().isoformat() if leg.departure_local else "?"
        return f"{leg.flight_id or '?'}/{day}/{leg.departure_airport or '?'}-{leg.arrival_airport or '?'}"


class ResponseFlight(_Model):
    flight_id: str | None = None
    departure_local: datetime | None = None
    arrival_local: datetime | None = None
    departure_airport: str | None = None
    arrival_airport: str | None = None


class ResponseTraveller(_Model):
    references: dict[str, list[str]] = Field(default_factory=dict)
    status: str | None = None  # ERC: 0Z, 1Z, 2Z, 4Z
    text: list[str] = Field(default_factory=list)
    segment_position: int | None = None


class Response(_Model):
    """A CUSRES: the government's answer (962, 132) or the carrier's acknowledgement (312)."""

    header: MessageHeader
    document_code: str | None = None
    document_id: str | None = None
    transaction_ref: str | None = None
    flights: list[ResponseFlight] = Field(default_factory=list)
    header_status: str | None = None  # ERP+1 / ERC at header level
    header_text: list[str] = Field(default_factory=list)
    travellers: list[ResponseTraveller] = Field(default_factory=list)


class InterchangeHeader(_Model):
    syntax_id: str | None = None
    syntax_version: str | None = None
    sender: str | None = None
    sender_qualifier: str | None = None
    recipient: str | None = None
    recipient_qualifier: str | None = None
    prepared: datetime | None = None
    control_ref: str | None = None
    application_ref: str | None = None
    ack_requested: bool = False
    test: bool = False
    separators: str = ":+.? '"  # as in UNA: component, element, decimal, release, repetition, terminator
    has_una: bool = False


class Interchange(_Model):
    """Everything read from one input: the envelope, the messages it carried, and every finding."""

    header: InterchangeHeader
    messages: list[MessageHeader] = Field(default_factory=list)
    manifests: list[Manifest] = Field(default_factory=list)
    responses: list[Response] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


_M = TypeVar("_M", bound=BaseModel)
# The four instance slots pydantic gives every model; their setters are cheaper than object.__setattr__.
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
_SETTERS: list[Callable[[Any, Any], None] | None] = [
    getattr(BaseModel.__dict__.get(name), "__set__", None) for name in _SLOTS]


def _plain(cls: type[BaseModel]) -> bool:
    """True when validating a dict of exactly-typed values only stores them: no validators, serialisers,
    aliases, constraints, private attributes or post-init hooks that `constructor` would skip."""
    if None in _SETTERS:
        return False
    deco = cls.__pydantic_decorators__
    if (deco.validators or deco.field_validators or deco.root_validators or deco.field_serializers
            or deco.model_serializers or deco.model_validators or deco.computed_fields):
        return False
    if cls.__pydantic_root_model__ or cls.__pydantic_post_init__ is not None or cls.__private_attributes__:
        return False
    cfg = cls.model_config
    if (cfg.get("extra") != "forbid" or cfg.get("validate_default") or cfg.get("alias_generator")
            or cfg.get("revalidate_instances", "never") != "never"):
        return False
    return all(f.alias is None and f.validation_alias is None and not f.metadata and not f.validate_default
               and not f.default_factory_takes_validated_data for f in cls.model_fields.values())


def constructor(cls: type[_M]) -> Callable[[dict[str, Any]], _M]:
    """A builder of `cls` from a dict whose values already have their field's exact type (nested models
    as instances, lists and dicts unshared): the instance `cls.model_validate(values)` would return, with
    the same field order, defaults and `model_fields_set`, at half the cost. A model that validation
    would change in any other way gets `model_validate` itself."""
    if not _plain(cls):
        return cls.model_validate
    template: dict[str, Any] = {}
    fresh: list[tuple[str, Callable[[], Any]]] = []
    for name, f in cls.model_fields.items():
        template[name] = None if f.default_factory is not None else f.default
        if f.default_factory is not None:
            fresh.append((name, f.default_factory))  # type: ignore[arg-type]  # takes no arguments here
        elif f.default.__hash__ is None:  # validation deep-copies an unhashable default
            fresh.append((name, functools.partial(copy.deepcopy, f.default)))
    new = cls.__new__
    set_dict, set_fields_set, set_extra, set_private = [f for f in _SETTERS if f is not None]  # all four (_plain)

    def build(values: dict[str, Any]) -> _M:
        d = {**template, **values}
        for name, factory in fresh:
            if name not in values:
                d[name] = factory()
        obj = new(cls)
        set_dict(obj, d)
        set_fields_set(obj, set(values))
        set_extra(obj, None)
        set_private(obj, None)
        return obj

    return build
