"""The read side of the console: alert queue, flights, manifests, travellers and hits from the store.

Strategy: plain SQLAlchemy Core selects over the processor's tables (no copies), shaped into the
models of `models.py`. Flight times come from the stored manifest header (each leg has local and
UTC times); every instant is shown at its airport and in UTC, the zone taken from airportsdata.
The queue holds every open, escalated and dismiss-pending hit, whatever version of its list is current: a newer
version never closes a hit, it carries it (status "carried") to the same traveller's hit in itself,
or the hit stays open where it was; only a decision ends one. Lists of one flight from two senders
are both current, each showing a "two senders" finding. Severity is a plain reading of score and
category, documented in docs/console.md, so officers can predict it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.crypto import Keyring, reveal_traveller
from api_engine.service.severity import severity
from api_engine.store import Store
from api_engine.store.schema import (
    hit_decisions,
    hits,
    iapi_answers,
    iapi_changes,
    list_states,
    list_versions,
    manifests,
    output_events,
    processed_records,
    rescreen_runs,
    rule_sets,
    travellers,
)
from api_engine.store.store import now
from parsers._codelists import airport_tz
from parsers.rules import RULES

from .models import (
    AlertQueue,
    AlertRow,
    DecisionRow,
    EntryView,
    Feature,
    FindingNote,
    FlightRow,
    HitDetail,
    IapiAnswer,
    ListChangeRow,
    ListStateRow,
    LiveLists,
    ManifestView,
    RescreenRunRow,
    RuleOrigin,
    TimePoint,
    TravellerDetail,
    TravellerFull,
    TravellerMinimal,
)

QUEUE_STATUSES = ("open", "escalated", "dismiss_pending")  # a proposed dismissal stays until a second person approves
SortKey = Literal["severity", "arrival", "received"]
DECIDED_STATUSES = ("confirmed", "dismissed")
# The queue's filters: what waits for someone (the default), one status of it, what was decided, or both.
Show = Literal["waiting", "open", "escalated", "decided", "all"]
SHOW_STATUSES: dict[str, tuple[str, ...]] = {"waiting": QUEUE_STATUSES, "open": ("open",),
                                             "escalated": ("escalated",), "decided": DECIDED_STATUSES,
                                             "all": (*QUEUE_STATUSES, *DECIDED_STATUSES)}
DOCUMENTS = {"745": "passengers", "250": "crew"}


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timepoint(utc: datetime | str | None, airport: str | None) -> TimePoint:
    """An instant at `airport` and in UTC; without a known zone, UTC only."""
    at = _utc(utc)
    if at is None:
        return TimePoint(airport=airport, text="—")
    zone = airport_tz(airport) if airport else None
    if zone is None:
        return TimePoint(utc=at, airport=airport, text=f"{at:%Y-%m-%d %H:%M} UTC")
    local = at.astimezone(ZoneInfo(zone))
    return TimePoint(utc=at, local=local.replace(tzinfo=None), airport=airport, tz=zone,
                     text=f"{local:%Y-%m-%d %H:%M} {airport} ({local:%Z}) · {at:%H:%M} UTC")


def _span_words(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def countdown(arrival: datetime | None, at: datetime | None = None) -> str:
    """"arrives in 2 h 10 min" or "landed 35 min ago" from the scheduled arrival (UTC), as of `at` (now)."""
    if arrival is None:
        return ""
    left = arrival - (at or now())
    if abs(left) < timedelta(minutes=1):
        return "arriving now"
    return f"arrives in {_span_words(left)}" if left > timedelta(0) else f"landed {_span_words(-left)} ago"


def initials(surname: str | None, given_names: str | None) -> str:
    parts = [*(given_names or "").split(), *(surname or "").split()]
    return ".".join(p[0] for p in parts if p) + "." if parts else "—"


class _Flight:
    """Flight facts from a manifest's stored header (the main-carriage leg)."""

    def __init__(self, header_json: str, flight_key: str) -> None:
        header: dict[str, Any] = json.loads(header_json)
        legs: list[dict[str, Any]] = header.get("legs") or []
        leg = next((g for g in legs if g.get("transport_stage") == "20"), legs[0] if legs else {})
        self.flight_id: str | None = leg.get("flight_id") or flight_key.split("/")[0]
        self.dep_airport: str | None = leg.get("departure_airport")
        self.arr_airport: str | None = leg.get("arrival_airport")
        self.route = f"{self.dep_airport or '?'} → {self.arr_airport or '?'}"
        self.departure = timepoint(leg.get("departure_utc"), self.dep_airport)
        self.arrival = timepoint(leg.get("arrival_utc"), self.arr_airport)


def _alert_select() -> Any:
    return (select(hits.c.id, hits.c.status, hits.c.score, hits.c.threshold, hits.c.list, hits.c.entry_id,
                   hits.c.category, hits.c.severity.label("declared_severity"), hits.c.created_at,
                   hits.c.explanation, hits.c.traveller_id,
                   hits.c.entry_removed_at, hits.c.rescreen_run,
                   travellers.c.ref, travellers.c.surname, travellers.c.given_names, travellers.c.nationality,
                   travellers.c.date_of_birth, travellers.c.traveller_json, travellers.c.role, manifests.c.uid,
                   manifests.c.flight_key, manifests.c.header_json)
            .select_from(hits.join(travellers, travellers.c.id == hits.c.traveller_id)
                         .join(manifests, manifests.c.id == hits.c.manifest_id)))


def _open(row: Any, keyring: Keyring) -> SimpleNamespace:
    """A row with the traveller's identifying columns decrypted (they are encrypted at rest)."""
    return SimpleNamespace(**reveal_traveller(dict(row._mapping), keyring))


def _alert_row(row: Any, keyring: Keyring) -> AlertRow:
    r = _open(row, keyring)
    flight = _Flight(r.header_json, r.flight_key)
    return AlertRow(
        entry_removed_at=timepoint(r.entry_removed_at, None) if r.entry_removed_at else None,  # not an airport time
        rescreen_run=r.rescreen_run,
        hit_id=r.id, status=r.status, severity=severity(r.score, r.category, r.declared_severity),
        score=round(r.score, 3),
        threshold=r.threshold, list=r.list, entry_id=r.entry_id, category=r.category, traveller_ref=r.ref,
        surname=r.surname, given_names=r.given_names, nationality=r.nationality, date_of_birth=r.date_of_birth,
        role=r.role, manifest_uid=r.uid, flight_key=r.flight_key, flight_id=flight.flight_id, route=flight.route,
        arrival=flight.arrival, arrives_in=countdown(flight.arrival.utc),
        received=timepoint(r.created_at, flight.arr_airport))


_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def _sort(rows: list[AlertRow], sort: SortKey) -> list[AlertRow]:
    far = datetime.max.replace(tzinfo=UTC)
    if sort == "arrival":
        return sorted(rows, key=lambda a: (a.arrival.utc or far, -a.score))
    if sort == "received":
        return sorted(rows, key=lambda a: a.received.utc or far, reverse=True)
    return sorted(rows, key=lambda a: (_SEVERITY_RANK[a.severity], -a.score, a.arrival.utc or far))


async def alert_queue(store: Store, keyring: Keyring, *, sort: SortKey = "severity", flight: str | None = None,
                      show: Show = "waiting", limit: int = 500) -> AlertQueue:
    """The hits of one filter (`show`, default: every hit that waits for someone, of any version of its list),
    with the count of every filter; `flight` matches the flight id or key (prefix)."""
    flight_key = flight.strip().upper() if flight else ""
    query = _alert_select().where(hits.c.status.in_(SHOW_STATUSES[show]))  # a newer version never hides a hit
    counting = select(hits.c.status, func.count()).select_from(
        hits.join(manifests, manifests.c.id == hits.c.manifest_id)).group_by(hits.c.status)
    if flight_key:
        query = query.where(manifests.c.flight_key.startswith(flight_key, autoescape=True))
        counting = counting.where(manifests.c.flight_key.startswith(flight_key, autoescape=True))
    async with store.engine.connect() as conn:
        rows = [_alert_row(r, keyring) for r in await conn.execute(query.order_by(hits.c.id.desc()).limit(limit))]
        by_status: dict[str, int] = {status: int(n) for status, n in await conn.execute(counting)}
    counts = {name: sum(by_status.get(s, 0) for s in statuses) for name, statuses in SHOW_STATUSES.items()}
    return AlertQueue(alerts=_sort(rows, sort), open=by_status.get("open", 0),
                      escalated=by_status.get("escalated", 0), pending=by_status.get("dismiss_pending", 0),
                      decided=counts["decided"], counts=counts, show=show, generated=timepoint(now(), None))


async def queue_version(store: Store) -> tuple[Any, ...]:
    """Changes whenever the queue may have: a new hit, a decision. Cheap enough to poll each second."""
    async with store.engine.connect() as conn:
        h = (await conn.execute(select(func.max(hits.c.id), func.count()).select_from(hits)
                                .where(hits.c.status.in_(QUEUE_STATUSES)))).one()
        d = await conn.scalar(select(func.max(hit_decisions.c.id)))
        m = await conn.scalar(select(func.max(manifests.c.id)))
    return (h[0], h[1], d, m)


# Short words for an officer; the rule id and the technical message stay in the note's `detail`.
FINDING_SUMMARIES = {"ASM-PART-ORDER": "parts arrived out of order (reordered)",
                     "ASM-PART-DUPLICATE": "a part was received twice", "ASM-PART-MISSING": "parts missing",
                     "ASM-FINAL-MISSING": "last part not received yet",
                     "ASM-CNT-MISMATCH": "traveller count differs from the parts",
                     "ASM-HEADER-MISMATCH": "parts name different flights",
                     "MAN-TWO-SENDERS": "two senders for this flight"}
_SEVERITY_WORDS = {"error": "error", "warning": "warning", "info": "note"}


def finding_note(rule: str | None, severity: str, message: str) -> FindingNote:
    """A finding as an officer reads it: a short summary, its weight, and the rule id and message as detail."""
    summary = FINDING_SUMMARIES.get(rule or "")
    if rule == "ASM-PART-ORDER" and severity == "error":
        summary = "a part is numbered after the last one"
    if summary is None and rule in RULES:
        title = RULES[rule].title
        summary = title[:1].lower() + title[1:]
    return FindingNote(rule=rule, severity=_SEVERITY_WORDS.get(severity, "note"), summary=summary or message,
                       detail=f"{rule}: {message}" if rule else message)


async def _findings(conn: AsyncConnection, keyring: Keyring, rows: list[Any]) -> dict[str, list[FindingNote]]:
    """Per manifest uid: the carrier's CONTRL verdict, assembly findings and count mismatches."""
    out: dict[str, list[FindingNote]] = {r.uid: [] for r in rows}
    by_interchange: dict[int, list[str]] = {}
    for r in rows:
        by_interchange.setdefault(r.interchange_id, []).append(r.uid)
        if r.declared_passengers is not None and r.declared_passengers != r.passengers:
            out[r.uid].append(FindingNote(
                severity="warning", summary=f"{r.declared_passengers} passengers declared, {r.passengers} listed",
                detail=f"CNT 42 declares {r.declared_passengers} passengers, list holds {r.passengers}"))
        if r.declared_crew is not None and r.declared_crew != r.crew:
            out[r.uid].append(FindingNote(
                severity="warning", summary=f"{r.declared_crew} crew declared, {r.crew} listed",
                detail=f"CNT 41 declares {r.declared_crew} crew, list holds {r.crew}"))
        if not r.complete:
            out[r.uid].append(FindingNote(severity="warning", summary="incomplete: parts still missing",
                                          detail="incomplete: parts still missing"))
    if not by_interchange:
        return out
    await _two_senders(conn, rows, out)
    events = await conn.execute(
        select(processed_records.c.interchange_id, output_events.c.kind, output_events.c.value)
        .select_from(output_events.join(processed_records,
                                        processed_records.c.record_id == output_events.c.record_id))
        .where(processed_records.c.interchange_id.in_(list(by_interchange)),
               output_events.c.kind.in_(("acks", "manifests"))))
    for iid, kind, value in events:
        event = json.loads(keyring.decrypt_bytes(bytes(value), "output_events.value"))
        if kind == "acks" and not event.get("accepted", True):
            for uid in by_interchange.get(iid, []):
                out[uid].append(FindingNote(
                    severity="error", summary="carrier's message rejected (CONTRL)",
                    detail="carrier's interchange rejected in the CONTRL (validation errors)"))
        elif kind == "manifests" and event.get("manifest_uid") in out:
            out[event["manifest_uid"]] += [finding_note(f["rule"], str(f.get("severity", "info")), f["message"])
                                           for f in event.get("findings", [])
                                           if f["rule"] != "MAN-TWO-SENDERS"]  # _two_senders says it as it is now
    return out


async def _two_senders(conn: AsyncConnection, rows: list[Any], out: dict[str, list[FindingNote]]) -> None:
    """A flight with current lists from more than one sender: said on each of them, the first one too.

    Only the same sender's later version replaces a list, so a second sender's list (a spoofed one, or
    a handling agent beside the airline) stands beside it and an officer must see both."""
    mine = {m.id: m for m in await conn.execute(
        select(manifests.c.id, manifests.c.flight_key, manifests.c.document_code, manifests.c.lane,
               manifests.c.sender).where(manifests.c.id.in_([r.id for r in rows])))}
    senders: dict[tuple[str, str | None, str], set[str]] = {}
    for f, d, lane, sender in await conn.execute(
            select(manifests.c.flight_key, manifests.c.document_code, manifests.c.lane, manifests.c.sender)
            .distinct().where(manifests.c.flight_key.in_({m.flight_key for m in mine.values()}),
                              manifests.c.replaced_by.is_(None))):
        senders.setdefault((f, d, lane), set()).add(sender or "?")
    for r in rows:
        m = mine.get(r.id)
        others = senders.get((m.flight_key, m.document_code, m.lane), set()) - {m.sender or "?"} if m else set()
        if m is not None and others:
            out[r.uid].append(finding_note(
                "MAN-TWO-SENDERS", "warning",
                f"two senders for this flight: this list from {m.sender or '?'}, another from "
                f"{', '.join(sorted(others))}; neither replaces the other"))


def _manifest_select() -> Any:
    return select(manifests.c.id, manifests.c.uid, manifests.c.flight_key, manifests.c.document_code,
                  manifests.c.version, manifests.c.complete, manifests.c.passengers, manifests.c.crew,
                  manifests.c.declared_passengers, manifests.c.declared_crew, manifests.c.header_json,
                  manifests.c.interchange_id)


def _weights(notes: list[FindingNote]) -> str:
    """'1 error · 2 notes': errors and warnings counted apart from mere notes."""
    parts = []
    for weight in ("error", "warning", "note"):
        n = sum(x.severity == weight for x in notes)
        if n:
            parts.append(f"{n} {weight}{'' if n == 1 else 's'}")
    return " · ".join(parts)


def _flight_row(r: Any, hit_counts: dict[int, tuple[int, int]],
                findings: dict[str, list[FindingNote]]) -> FlightRow:
    f = _Flight(r.header_json, r.flight_key)
    total, open_ = hit_counts.get(r.id, (0, 0))
    notes = findings.get(r.uid, [])
    return FlightRow(manifest_uid=r.uid, flight_key=r.flight_key, flight_id=f.flight_id, route=f.route,
                     document=DOCUMENTS.get(r.document_code or "", r.document_code or "?"), version=r.version,
                     complete=r.complete, departure=f.departure, arrival=f.arrival, passengers=r.passengers,
                     crew=r.crew, declared_passengers=r.declared_passengers, declared_crew=r.declared_crew,
                     hits_total=total, hits_open=open_, findings=[n.detail for n in notes], notes=notes,
                     findings_summary=_weights(notes),
                     arrives_in=countdown(f.arrival.utc))


async def _hit_counts(conn: AsyncConnection, manifest_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not manifest_ids:
        return {}
    rows = await conn.execute(
        select(hits.c.manifest_id, func.count(),
               func.sum(case((hits.c.status.in_(QUEUE_STATUSES), 1), else_=0)))
        .where(hits.c.manifest_id.in_(manifest_ids)).group_by(hits.c.manifest_id))
    return {mid: (int(total), int(open_ or 0)) for mid, total, open_ in rows}


async def flights(store: Store, keyring: Keyring, *, upcoming: bool = True, limit: int = 300) -> list[FlightRow]:
    """Current manifest versions by arrival; `upcoming`: arriving from six hours ago on."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(_manifest_select().where(manifests.c.replaced_by.is_(None))
                                   .order_by(manifests.c.id.desc()).limit(limit))).all()
        counts = await _hit_counts(conn, [r.id for r in rows])
        findings = await _findings(conn, keyring, list(rows))
    out = [_flight_row(r, counts, findings) for r in rows]
    if upcoming:
        cutoff = now().timestamp() - 6 * 3600
        out = [f for f in out if f.arrival.utc is None or f.arrival.utc.timestamp() >= cutoff]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(out, key=lambda f: (f.arrival.utc or far, f.flight_key, f.document))


def _traveller(row: Any, keyring: Keyring, hit_count: int, full: bool) -> TravellerMinimal | TravellerFull:
    r = _open(row, keyring)
    base = {"ref": r.ref, "position": r.position, "role": r.role, "initials": initials(r.surname, r.given_names),
            "nationality": r.nationality, "hit_count": hit_count}
    if not full:
        return TravellerMinimal(**base)
    return TravellerFull(**base, surname=r.surname, given_names=r.given_names, date_of_birth=r.date_of_birth,
                         gender=r.gender, doc_type=r.doc_type, doc_number=r.doc_number,
                         doc_issuing_state=r.doc_issuing_state)


async def manifest(store: Store, keyring: Keyring, uid: str, *, full: bool) -> ManifestView | None:
    async with store.engine.connect() as conn:
        m = (await conn.execute(_manifest_select().where(manifests.c.uid == uid))).first()
        if m is None:
            return None
        counts = await _hit_counts(conn, [m.id])
        findings = await _findings(conn, keyring, [m])
        rows = (await conn.execute(select(travellers).where(travellers.c.manifest_id == m.id)
                                   .order_by(travellers.c.position))).all()
        per: dict[int, int] = {tid: n for tid, n in await conn.execute(
            select(hits.c.traveller_id, func.count()).where(hits.c.manifest_id == m.id)
            .group_by(hits.c.traveller_id))}
    # Travellers with hits first (in list order), then everyone else: in a long list the hits are what an
    # officer looks for.
    people = sorted((_traveller(r, keyring, per.get(r.id, 0), full) for r in rows),
                    key=lambda t: (t.hit_count == 0, t.position))
    return ManifestView(flight=_flight_row(m, counts, findings), full=full, travellers=people)


FEATURE_LABELS = {"name": "name", "name_quality": "quality of the listed name", "date_of_birth": "date of birth",
                  "nationality": "nationality", "gender": "sex", "document": "document number",
                  "document_number": "document number", "document_country": "document's issuing country",
                  "rule": "rule"}


def feature_label(feature: str) -> str:
    """The words an officer reads for an explanation's feature identifier (kept as the row's title)."""
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


def _entry_view(entry: Any, loaded: Any) -> EntryView:
    """The entry with what its list says about it, why it is listed included; `loaded`: the console's copy of the
    list (version, loaded)."""
    notes = [f"document {d.number}: {d.note}" for d in entry.documents if getattr(d, "note", None)]
    notes += [f"name {n.name}: {n.quality}" for n in entry.names if getattr(n, "quality", None)]
    return EntryView(list=entry.list, id=entry.id, category=str(entry.category),
                     names=[f"{n.name}" + ("" if n.kind == "primary" else f" ({n.kind})") for n in entry.names],
                     dates_of_birth=[str(d) for d in entry.dates_of_birth], nationalities=list(entry.nationalities),
                     gender=entry.gender,
                     documents=[" ".join(p for p in (d.doc_type, d.number, d.country) if p) for d in entry.documents],
                     source_ref=getattr(entry, "source_ref", None), notes=notes,
                     programmes=list(getattr(entry, "programmes", None) or []), reason=getattr(entry, "reason", None),
                     listed_on=str(listed) if (listed := getattr(entry, "listed_on", None)) is not None else None,
                     list_version=getattr(loaded, "version", None),
                     list_loaded=timepoint(loaded.loaded_at, None).text if getattr(loaded, "loaded_at", None) else None)


def allowed_decisions(status: str, role: str) -> list[str]:
    """A first reading by role only; service.hit replaces it with decisions.allowed_for (the four-eyes rules).
    Escalation hands a hit to a supervisor, so a supervisor is not offered it."""
    if status == "open" and role == "officer":
        return ["confirm", "dismiss", "escalate"]
    if status == "open" and role == "supervisor":
        return ["confirm", "dismiss"]
    if status == "escalated" and role == "supervisor":
        return ["confirm", "dismiss"]
    return []


async def hit_detail(store: Store, keyring: Keyring, catalog: Any, hit_id: int, role: str) -> HitDetail | None:
    async with store.engine.connect() as conn:
        r = (await conn.execute(_alert_select().where(hits.c.id == hit_id))).first()
        if r is None:
            return None
        t = (await conn.execute(select(travellers).where(travellers.c.id == r.traveller_id))).one()
        count = await conn.scalar(select(func.count()).select_from(hits).where(hits.c.traveller_id == t.id))
        chain = [hit_id]  # the hits carried into this one (earlier versions): their decisions are its history
        while len(chain) < 100 and (earlier := (await conn.execute(
                select(hits.c.id).where(hits.c.carried_to == chain[-1]).order_by(hits.c.id).limit(1))).scalar()):
            chain.append(earlier)
        decisions = (await conn.execute(select(hit_decisions).where(hit_decisions.c.hit_id.in_(chain))
                                        .order_by(hit_decisions.c.id))).all()
        iapi = await _iapi_of(conn, t.id)
        if iapi is not None:
            m = (await conn.execute(select(manifests.c.header_json, manifests.c.flight_key)
                                    .where(manifests.c.id == t.manifest_id))).one()
        rule = await _rule_origin(conn, r) if r.category == RULE_CATEGORY else None
    alert = _alert_row(r, keyring)
    # a changed list file may hold the entry: waits a moment for it (a rule hit names no list entry)
    entry = await catalog.find(r.list, r.entry_id) if rule is None else None
    return HitDetail(
        title=hit_title(alert, rule), alert=alert, traveller=_traveller(t, keyring, int(count or 0), True),
        explanation=[Feature(**f, label=feature_label(str(f.get("feature", ""))))
                     for f in json.loads(keyring.decrypt_text(r.explanation, "hits.explanation") or "[]")],
        entry=_entry_view(entry, catalog.lists.get(r.list)) if entry is not None else None,
        decisions=[DecisionRow(decision=d.decision, comment=d.comment, decided_by=d.decided_by, role=d.role,
                               decided_at=timepoint(d.decided_at, alert.arrival.airport)) for d in decisions],
        allowed=allowed_decisions(r.status, role), rule=rule,
        iapi=_iapi_answer(*iapi, m.header_json, m.flight_key) if iapi is not None else None)


RULE_CATEGORY = "rule"
RULE_LIST_PREFIX = "rules:"


def hit_title(alert: AlertRow, rule: RuleOrigin | None) -> str:
    """What a hit is at a glance: severity, list (or rule) and flight."""
    flight = f"{alert.flight_id or alert.flight_key} {alert.route}".strip()
    what = (f"rule {rule.rule} of {rule.rule_set}" if rule is not None else f"{alert.list} list")
    return f"{alert.severity.capitalize()} hit {'by' if rule is not None else 'on'} {what} · {flight}"


async def _rule_origin(conn: AsyncConnection, r: Any) -> RuleOrigin:
    """The rule set version in force when a rule hit was raised: the last one approved before it and not retired
    by then. The hit stores the set's name only; without such a version it came from a configured rule file."""
    name = r.list.removeprefix(RULE_LIST_PREFIX)
    at = _utc(r.created_at)
    candidates = (await conn.execute(
        select(rule_sets.c.id, rule_sets.c.version, rule_sets.c.owner, rule_sets.c.purpose, rule_sets.c.legal_basis,
               rule_sets.c.approved_at, rule_sets.c.retired_at)
        .where(rule_sets.c.name == name, rule_sets.c.approved_at.is_not(None))
        .order_by(rule_sets.c.approved_at.desc(), rule_sets.c.version.desc()))).all()
    for v in candidates:
        approved, retired = _utc(v.approved_at), _utc(v.retired_at)
        if at is None or approved is None or (approved <= at and (retired is None or retired > at)):
            return RuleOrigin(rule_set=name, rule=r.entry_id, version=v.version, rule_set_id=v.id, owner=v.owner,
                              purpose=v.purpose, legal_basis=v.legal_basis)
    return RuleOrigin(rule_set=name, rule=r.entry_id)


async def _iapi_of(conn: AsyncConnection, traveller_id: int) -> tuple[Any, Any] | None:
    """The traveller's iAPI answer and the latest government change of it (None: not answered over iAPI)."""
    answer = (await conn.execute(select(iapi_answers).where(iapi_answers.c.traveller_id == traveller_id))).first()
    if answer is None:
        return None
    change = (await conn.execute(select(iapi_changes).where(iapi_changes.c.answer_id == answer.id)
                                 .order_by(iapi_changes.c.id.desc()).limit(1))).first()
    return answer, change


async def traveller_detail(store: Store, keyring: Keyring, ref: str) -> TravellerDetail | None:
    async with store.engine.connect() as conn:
        t = (await conn.execute(select(travellers).where(travellers.c.ref == ref))).first()
        if t is None:
            return None
        m = (await conn.execute(_manifest_select().where(manifests.c.id == t.manifest_id))).one()
        counts = await _hit_counts(conn, [m.id])
        findings = await _findings(conn, keyring, [m])
        hit_rows = (await conn.execute(_alert_select().where(hits.c.traveller_id == t.id)
                                       .order_by(hits.c.id))).all()
        iapi = await _iapi_of(conn, t.id)
    return TravellerDetail(traveller=_traveller(t, keyring, len(hit_rows), True),
                           flight=_flight_row(m, counts, findings), hits=[_alert_row(h, keyring) for h in hit_rows],
                           iapi=_iapi_answer(*iapi, m.header_json, m.flight_key) if iapi is not None else None)


IAPI_STATES = {"answered": "answered", "changed": "answered again after changed data (CP)",
               "boarded": "on board at the close-out (CLOB)", "offloaded": "off-loaded: not on board at the close-out",
               "cancelled": "flight cancelled (XF)"}


def _iapi_answer(r: Any, change: Any, header_json: str, flight_key: str) -> IapiAnswer:
    airport = _Flight(header_json, flight_key).dep_airport  # check-in happens at the departure airport
    said = None
    if change is not None:
        if change.acknowledged_at is not None:
            said = (f"CUSRES 132 {change.reference} ({change.status}) acknowledged by the carrier (CUSRES 312) "
                    f"{timepoint(change.acknowledged_at, airport).text}")
        elif change.sent_at is not None:
            said = (f"CUSRES 132 {change.reference} ({change.status}) sent {change.attempts} time(s), last "
                    f"{timepoint(change.sent_at, airport).text}; no acknowledgement (CUSRES 312) yet")
        else:
            said = f"CUSRES 132 {change.reference} ({change.status}) waiting to be sent"
    return IapiAnswer(status=r.status, text=r.text, answers=r.answers, answered_at=timepoint(r.answered_at, airport),
                      state=r.state, state_label=IAPI_STATES.get(r.state, r.state),
                      state_at=timepoint(r.state_at, airport), changed_by=r.changed_by,
                      changed_at=timepoint(r.changed_at, airport) if r.changed_at else None, change=said)


# ---- live lists: the versions in force, their changes and the re-screens they caused (read-only) ----

TRIGGERS = {"file_change": "list file changed", "signal": "reload signal", "operator": "operator request",
            "upload": "console upload", "start": "service start"}


def trigger_label(trigger: str | None) -> str:
    """The words officers read for a `list_versions`/`rescreen_runs` trigger (an unknown one as it is stored)."""
    return TRIGGERS.get(trigger or "", trigger or "—")


def _duration(seconds: float | None, started: datetime | None, running: bool) -> str:
    if seconds is None and running and started is not None:
        seconds = (now() - started).total_seconds()
        return f"running for {_span(seconds)}"
    return _span(seconds) if seconds is not None else "—"


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


async def live_lists(store: Store, *, changes: int = 10, runs: int = 20) -> LiveLists:
    """The lists in force (with any file that cannot be loaded), the last `changes` versions installed and the
    last `runs` re-screen runs."""
    async with store.engine.connect() as conn:
        state_rows = (await conn.execute(select(list_states).order_by(list_states.c.list_name))).all()
        version_rows = (await conn.execute(
            select(list_versions.c.installed_at, list_versions.c.list_name, list_versions.c.version,
                   list_versions.c.added, list_versions.c.removed, list_versions.c.changed, list_versions.c.trigger)
            .order_by(list_versions.c.installed_at.desc(), list_versions.c.id.desc()).limit(changes))).all()
        run_rows = (await conn.execute(select(rescreen_runs).order_by(rescreen_runs.c.started_at.desc(),
                                                                      rescreen_runs.c.id.desc()).limit(runs))).all()
    return LiveLists(
        states=[ListStateRow(list_name=r.list_name, version=r.version, entries=r.entries, digest=(r.digest or "")[:12],
                             checked_at=timepoint(r.checked_at, None), error=r.error,
                             error_at=timepoint(r.error_at, None) if r.error else None) for r in state_rows],
        changes=[ListChangeRow(installed_at=timepoint(r.installed_at, None), list_name=r.list_name, version=r.version,
                               added=r.added, removed=r.removed, changed=r.changed, trigger=trigger_label(r.trigger))
                 for r in version_rows],
        runs=[RescreenRunRow(started_at=timepoint(r.started_at, None), trigger=trigger_label(r.trigger),
                             list_name=r.list_name,
                             versions=f"{r.from_version or '?'} → {r.to_version}" if r.from_digest
                             else f"whole list → {r.to_version}",
                             entries=r.entries, travellers=r.travellers, new_hits=r.new_hits, flagged=r.flagged,
                             status=r.status,
                             duration=_duration(r.seconds, _utc(r.started_at), r.status == "running"))
              for r in run_rows])
