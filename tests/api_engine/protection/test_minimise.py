"""Minimisation: border.manifests and border.alerts carry exactly the fields their consumers declare.

Strategy: real events from the processor (one traveller hit by a stub screener), checked against the
declaration file: every field that goes out is declared, nothing the brief forbids (bags, seat,
contacts, addresses, raw bytes) is declared, and a declared-away field really disappears.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from api_engine.protection.minimise import consumers, minimise, minimise_model
from api_engine.service.events import AlertEvent, ManifestEvent
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from tests.api_engine.protection.test_retention import PAX, OneNameScreener

FORBIDDEN = ("bag", "seat", "contact", "address", "phone", "email", "original", "raw", "traveller_json")


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        out: set[str] = set()
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            sub = _paths(v, p)
            out |= sub or {p}
        return out
    if isinstance(value, list):
        return set().union(*(_paths(v, prefix + "[]") for v in value)) if value else set()
    return set()


def test_declarations_name_only_allowed_fields() -> None:
    decl = consumers()
    assert set(decl) == {"manifests", "alerts"}
    for c in decl.values():
        assert c.legal_basis and c.audience
        for path in c.carry:
            assert not any(word in path.lower() for word in FORBIDDEN), path


def test_undeclared_fields_are_dropped() -> None:
    out = minimise("alerts", {"event_id": "e", "identity": {"surname": "X", "shoe_size": 44}, "seat": "23A"})
    assert out == {"event_id": "e", "identity": {"surname": "X"}}


class _Doc(BaseModel):
    doc_type: str
    number: str
    scan: str


class _Identity(BaseModel):
    surname: str
    shoe_size: int
    documents: list[_Doc]


class _Alert(BaseModel):
    event_id: str
    identity: _Identity
    seat: str


def test_undeclared_fields_are_dropped_when_serialising_a_model() -> None:
    """The one-pass path the processor uses keeps the same fields as `minimise`, lists included."""
    alert = _Alert(event_id="e", seat="23A", identity=_Identity(
        surname="X", shoe_size=44, documents=[_Doc(doc_type="P", number="1", scan="...")] * 2))
    out = json.loads(minimise_model("alerts", alert))
    assert out == {"event_id": "e", "identity": {"surname": "X", "documents": [{"doc_type": "P", "number": "1"}] * 2}}
    assert out == minimise("alerts", alert.model_dump())


async def test_what_leaves_is_exactly_what_is_declared(store_settings: Settings) -> None:
    processor = await Processor.open(store_settings, screener=OneNameScreener())
    try:
        events = await processor.process(PAX, key=b"XX123")
    finally:
        await processor.close()
    declared = {k: set(c.carry) for k, c in consumers().items()}
    seen = {"manifests": 0, "alerts": 0}
    for e in events:
        if e.kind not in declared:
            continue
        value = json.loads(e.value)
        extra = {p for p in _paths(value) if p not in declared[e.kind]
                 and not any(d.startswith((p + "[]", p + ".")) for d in declared[e.kind])}  # empty lists/objects
        assert not extra, extra
        model = ManifestEvent if e.kind == "manifests" else AlertEvent
        model.model_validate(value)  # still a valid event for its readers
        seen[e.kind] += 1
        assert "23A" not in e.value.decode() and "ABC123" not in e.value.decode()  # seat, booking reference
    assert seen == {"manifests": 1, "alerts": 1}
