"""Retention that deletes for real: policy as data, depersonalisation, deletion, supervised re-identification.

Strategy: the policy (policies/retention.toml, or the file named by settings) gives, per
category (raw message, traveller personal data, hit and case data, audit trail) and purpose lane
(border, law enforcement), a clock (receipt, scheduled departure or arrival) and durations.
`run_retention` works in batches, one short transaction each, deleting before depersonalising (no
work spent on rows about to go); every batch only picks rows still due, so a run is idempotent and a
crashed run resumes where it stopped. Travellers with a hit in a held state (confirmed, escalated)
follow the case rules; all others the traveller rules. Depersonalisation replaces every identifying
field (columns and traveller JSON) by keyed HMAC pseudonyms, so counts, joins and distributions
survive, and keeps one AES-GCM sealed copy for a supervisor's recorded re-identification until the
row's deletion. Raw bytes, the parts held for assembly and the stored copies of output events are
deleted on the raw-message clock (a later replay of such a record is recognised and emits nothing).
Each run appends its counts (never data) to the audit trail.
Clock safety: a run's clock (`now`) later than the real clock deletes what is not due yet (a typo, or
someone hiding a hit), so it is refused unless overridden with a stated reason, which is audited
before anything is touched. The audit trail is pruned only up to the run's start (never its own
entries) and never from the first entry that documents a case still held (a confirmed or escalated
hit follows the case retention, and so does its trail); the prune record names the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, delete, exists, func, literal, not_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from api_engine.protection.audit import AuditTrail
from api_engine.protection.crypto import (
    TRAVELLER_SECRET_COLUMNS,
    Keyring,
    keyring_from_settings,
    open_traveller_secrets,
)
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import (
    assembly_parts,
    audit_log,
    hits,
    interchanges,
    manifests,
    output_events,
    processed_records,
    raw_messages,
    travellers,
)

__all__ = ["ClockRefused", "ReidentificationRefused", "RetentionPolicy", "RetentionReport", "Rule",
           "backlog", "check_clock", "depersonalised_traveller", "load_policy", "parse_duration", "reidentify",
           "run_retention"]

log = logging.getLogger("api_engine.protection.retention")

LANES = ("border", "law_enforcement")
CLOCKS = ("receipt", "departure", "arrival")
REIDENTIFY_ROLES = frozenset({"supervisor"})
# How far a run's clock may be ahead of the real one without an override (clock skew between hosts).
CLOCK_TOLERANCE = timedelta(minutes=5)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdwy])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str | int | float) -> timedelta:
    """"24h", "48h", "183d", "5y" (365 days), or a number of hours."""
    if isinstance(text, int | float):
        return timedelta(hours=float(text))
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 24h, 183d, 5y)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class Rule:
    clock: str = "receipt"
    depersonalise_after: timedelta | None = None
    delete_after: timedelta | None = None
    source: str = ""

    @classmethod
    def from_toml(cls, data: Mapping[str, Any], where: str) -> Rule:
        clock = data.get("clock", "receipt")
        if clock not in CLOCKS:
            raise ValueError(f"{where}: clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
        dep = parse_duration(data["depersonalise_after"]) if "depersonalise_after" in data else None
        dele = parse_duration(data["delete_after"]) if "delete_after" in data else None
        if dep is not None and dele is not None and dele < dep:
            raise ValueError(f"{where}: delete_after must not be shorter than depersonalise_after")
        return cls(clock=clock, depersonalise_after=dep, delete_after=dele, source=str(data.get("source", "")))


@dataclass(frozen=True)
class RetentionPolicy:
    raw_message: dict[str, Rule]
    traveller: dict[str, Rule]
    case: dict[str, Rule]
    audit_trail: Rule
    held_hit_statuses: tuple[str, ...] = ("confirmed", "escalated", "dismiss_pending")

    @classmethod
    def from_toml(cls, text: str) -> RetentionPolicy:
        data = tomllib.loads(text)

        def lanes(cat: str) -> dict[str, Rule]:
            out = {lane: Rule.from_toml(rule, f"{cat}.{lane}") for lane, rule in data.get(cat, {}).items()}
            unknown = set(out) - set(LANES)
            if unknown:
                raise ValueError(f"{cat}: unknown lane(s) {', '.join(sorted(unknown))}")
            return out

        return cls(raw_message=lanes("raw_message"), traveller=lanes("traveller"), case=lanes("case"),
                   audit_trail=Rule.from_toml(data.get("audit_trail", {}), "audit_trail"),
                   held_hit_statuses=tuple(data.get("held_hit_statuses", cls.held_hit_statuses)))


def load_policy(path: Path | None = None) -> RetentionPolicy:
    """The policy file given, else the packaged defaults."""
    if path is not None:
        return RetentionPolicy.from_toml(Path(path).read_text(encoding="utf-8"))
    text = resources.files("api_engine.protection.policies").joinpath("retention.toml").read_text(encoding="utf-8")
    return RetentionPolicy.from_toml(text)


@dataclass
class RetentionReport:
    """What a run removed or would remove: counts per category, never data."""

    now: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    run: str = ""  # this run's id, named in its audit entries (and in the anchor of a prune)
    clock_override: str | None = None  # the stated reason, when the clock was ahead of the real one

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


class ReidentificationRefused(PermissionError):
    """Re-identification needs the supervisor role and a recorded reason."""


class ClockRefused(ValueError):
    """A run's clock later than the real clock, without an override and a stated reason."""


# ---- depersonalisation of one traveller --------------------------------------------------------------------

_JSON_PSEUDONYMISE = {"surname", "full_name", "matching_key", "birth_place", "date_of_birth", "date_of_birth_raw"}
_JSON_DROP = {"expiry", "expiry_raw", "issue_date", "issue_date_raw"}
_ADDRESS_KEEP = {"country"}


def _pseudonymise_json(value: Any, ring: Keyring, key: str = "") -> Any:
    """The traveller JSON with every identifying value replaced; non-identifying fields stay for statistics."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in _JSON_DROP:
                out[k] = None
            elif k == "address" and isinstance(v, dict):
                out[k] = {ak: av if ak in _ADDRESS_KEEP or av is None else ring.pseudonym(str(av), f"address.{ak}")
                          for ak, av in v.items()}
            elif k in _JSON_PSEUDONYMISE and v is not None:
                out[k] = ring.pseudonym(str(v), k)
            elif k == "given_names" and isinstance(v, list):
                out[k] = [ring.pseudonym(str(g), "given_name") for g in v]
            elif k == "references" and isinstance(v, dict):
                out[k] = {rk: [ring.pseudonym(str(x), f"ref.{rk}") for x in (rv or [])] for rk, rv in v.items()}
            elif k in ("documents", "contacts", "bag_tags") and isinstance(v, list):
                out[k] = [_pseudonymise_item(item, ring, k) for item in v]
            else:
                out[k] = v
        return out
    return value


def _pseudonymise_item(item: Any, ring: Keyring, kind: str) -> Any:
    if not isinstance(item, dict):
        return item
    field_name = {"documents": "number", "contacts": "number", "bag_tags": "first_tag"}[kind]
    out = {k: (None if k in _JSON_DROP else v) for k, v in item.items()}
    if out.get(field_name) is not None:
        out[field_name] = ring.pseudonym(str(out[field_name]), f"{kind}.{field_name}")
    return out


_WIDTH = {"surname": 70, "given_names": 200, "date_of_birth": 10, "doc_number": 35, "ref_abo": 70, "ref_avf": 70}


def depersonalised_traveller(row: Mapping[str, Any], ring: Keyring, *, now: datetime,
                             keep_for_reidentification: bool) -> dict[str, Any]:
    """Column values that replace a traveller's identifying data (pure; the caller writes them)."""
    plain = open_traveller_secrets(row, ring)
    out: dict[str, Any] = {c: ring.pseudonym(plain[c], c, _WIDTH[c]) for c in _WIDTH}
    tj = plain.get("traveller_json")
    # Sealed too: pseudonyms are not identifying, but the record keeps non-identifying detail
    # (genders, nationalities, places) that together may single someone out.
    out["traveller_json"] = (ring.encrypt_text(json.dumps(_pseudonymise_json(json.loads(tj), ring)),
                                               "travellers.traveller_json") if tj else None)
    out["reid_sealed"] = (ring.encrypt_bytes(json.dumps(plain).encode(), "travellers.reid_sealed")
                          if keep_for_reidentification else None)
    out["pseudonymised_at"] = now
    return out


def _scrub_explanation(text: str, ring: Keyring) -> str:
    """A hit's feature list without the compared values (the `detail` texts quote names), sealed again.

    A legacy explanation stored in clear is scrubbed and sealed as well: retention repairs it."""
    column = "hits.explanation"
    plain = (ring.decrypt_text(text, column) if ring.is_sealed(text) else text) or "[]"  # a wrong key raises
    try:
        items = json.loads(plain)
    except json.JSONDecodeError:
        items = []
    kept = [{k: v for k, v in i.items() if k != "detail"} for i in items if isinstance(i, dict)] \
        if isinstance(items, list) else []
    return ring.encrypt_text(json.dumps(kept), column) or "[]"


# ---- the job -----------------------------------------------------------------------------------------------


def _clock(rule: Rule) -> ColumnElement[Any]:
    if rule.clock == "arrival":
        return func.coalesce(manifests.c.arrives_at, manifests.c.created_at)
    if rule.clock == "departure":
        return func.coalesce(manifests.c.departs_at, manifests.c.created_at)
    return manifests.c.created_at


def _held() -> Any:
    return exists().where(hits.c.traveller_id == travellers.c.id, hits.c.status.in_(bindparam("held", expanding=True)))


def _due(rule: Rule, lane: str, held: bool, cutoff: datetime) -> Select[Any]:
    """Travellers of one lane and hold state whose clock is at or before the cutoff.

    Driven from the due manifests (a small table) through the travellers' manifest index: written as a
    join, SQLite walked every stored traveller in id order to find the few due ones, which at 9 million
    travellers took the serve parent's core for seconds every run and showed as a latency spike."""
    cond = _held() if held else not_(_held())
    due_manifests = select(manifests.c.id).where(manifests.c.lane == lane, _clock(rule) <= cutoff)
    return select(travellers.c.id).where(travellers.c.manifest_id.in_(due_manifests), cond)


async def _ids(conn: AsyncConnection, query: Select[Any], params: dict[str, Any], limit: int) -> list[int]:
    return [int(r[0]) for r in await conn.execute(query.order_by(travellers.c.id).limit(limit), params)]


async def _due_batch(store: Store, due: Select[Any], params: dict[str, Any], limit: int) -> list[int]:
    """The next due ids, found on a read connection. Finding them scans the stored travellers (about 20 s at
    4.5 million on two cores); inside the write transaction that stalled every worker's commits for as long.
    The caller re-checks the batch under the lock (by primary key: cheap), so a traveller whose hit became
    held meanwhile is not taken on the wrong rule."""
    async with store.engine.connect() as conn:
        return await _ids(conn, due, params, limit)


async def _count(store: Store, query: Select[Any], params: dict[str, Any]) -> int:
    async with store.engine.connect() as conn:
        n: int = (await conn.execute(select(func.count()).select_from(query.subquery()), params)).scalar_one()
        return n


def check_clock(now: datetime, clock_override: str | None, *, real_now: datetime | None = None) -> bool:
    """Whether `now` is ahead of the real clock (then only with a stated reason); raises ClockRefused."""
    real = real_now or datetime.now(UTC)
    if now <= real + CLOCK_TOLERANCE:
        return False
    if clock_override is None or len(clock_override.strip()) < 5:
        raise ClockRefused(
            f"the clock given ({now.isoformat()}) is {_span(now - real)} ahead of the real clock "
            f"({real.replace(microsecond=0).isoformat()}): it would delete data that is not due yet. "
            "Give the reason to run on that clock anyway (`--allow-future-now REASON`); it is audited.")
    return True


def _span(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else f"{delta.total_seconds() / 3600:.1f} hours"


async def run_retention(store: Store, policy: RetentionPolicy, *, now: datetime, dry_run: bool = False,
                        batch_size: int = 2000, keyring: Keyring | None = None,
                        actor: str = "retention", clock_override: str | None = None) -> RetentionReport:
    """Apply the policy as of `now`: delete, depersonalise, prune the audit trail; audit the counts.

    `now` later than the real clock raises ClockRefused unless `clock_override` states why; the
    override is audited before anything is deleted."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    ahead = check_clock(now, clock_override)
    report = RetentionReport(now=now, dry_run=dry_run, run=uuid.uuid4().hex[:12],
                             clock_override=clock_override if ahead else None)
    params = {"held": list(policy.held_hit_statuses)}
    trail = AuditTrail(store)
    start_seq = await trail.head_seq()  # entries after this one are the run's own (or newer): never pruned
    if ahead:
        await trail.append(actor=actor, action="retention.clock_override", subject="store",
                           purpose="storage limitation", reason=clock_override,
                           details={"run": report.run, "now": now.isoformat(), "dry_run": dry_run,
                                    "real_now": datetime.now(UTC).isoformat()})
        log.warning("event=retention_clock_override run=%s now=%s", report.run, now.isoformat())

    # 1. Raw bytes, parts held for assembly, stored output copies: on the raw-message clock (receipt).
    for lane, rule in policy.raw_message.items():
        if rule.delete_after is None:
            continue
        cutoff = now - rule.delete_after
        expired = select(interchanges.c.id).where(interchanges.c.lane == lane, interchanges.c.received_at <= cutoff)
        for name, table, key, in_query in (
                ("raw_messages", raw_messages, raw_messages.c.interchange_id, expired),
                ("assembly_parts", assembly_parts, assembly_parts.c.interchange_id, expired),
                ("output_events", output_events, output_events.c.record_id,
                 select(processed_records.c.record_id).join(interchanges, processed_records.c.interchange_id
                                                            == interchanges.c.id)
                 .where(interchanges.c.lane == lane, processed_records.c.created_at <= cutoff))):
            due = select(key).where(key.in_(in_query))
            if dry_run:
                report.add(f"{name}_deleted", await _count(store, due, {}))
                continue
            while True:
                async with store.engine.connect() as conn:  # found without the write lock (see _due_batch)
                    batch = [r[0] for r in await conn.execute(due.limit(batch_size))]
                if batch:  # a receipt time never changes: what was due still is
                    async with store.transaction() as conn:
                        await conn.execute(delete(table).where(key.in_(batch)))
                report.batches += 1
                report.add(f"{name}_deleted", len(batch))
                if len(batch) < batch_size:
                    break

    # 2. Deletion of travellers (their hits and decisions cascade): non-held on the traveller rules,
    #    held on the case rules.
    for category, rules, held in (("travellers", policy.traveller, False), ("case_travellers", policy.case, True)):
        for lane, rule in rules.items():
            if rule.delete_after is None:
                continue
            due = _due(rule, lane, held, now - rule.delete_after)
            if dry_run:
                report.add(f"{category}_deleted", await _count(store, due, params))
                continue
            while True:
                found = await _due_batch(store, due, params, batch_size)
                batch = []
                if found:
                    async with store.transaction() as conn:
                        batch = await _ids(conn, due.where(travellers.c.id.in_(found)), params, batch_size)
                        if batch:
                            await conn.execute(delete(travellers).where(travellers.c.id.in_(batch)))
                report.batches += 1
                report.add(f"{category}_deleted", len(batch))
                if len(found) < batch_size or not batch:
                    break

    # 3. Depersonalisation of what is left and due.
    ring: Keyring | None = keyring
    for category, rules, held in (("travellers", policy.traveller, False), ("case_travellers", policy.case, True)):
        for lane, rule in rules.items():
            if rule.depersonalise_after is None:
                continue
            due = _due(rule, lane, held, now - rule.depersonalise_after).where(travellers.c.pseudonymised_at.is_(None))
            if dry_run:
                report.add(f"{category}_depersonalised", await _count(store, due, params))
                continue
            if ring is None:
                from api_engine.settings import Settings

                ring = keyring_from_settings(Settings())
            keep = rule.delete_after is None or rule.delete_after > rule.depersonalise_after
            n = await _depersonalise(store, due, params, ring, now=now, keep=keep, batch_size=batch_size,
                                     report=report)
            report.add(f"{category}_depersonalised", n)

    # 4. The audit trail's own retention: up to the run's start, and not from the first entry about a
    #    case still held (its trail follows the case retention).
    if policy.audit_trail.delete_after is not None and not dry_run:
        through = start_seq
        first_case = await _first_case_entry(store, params)
        if first_case is not None:
            through = min(through, first_case - 1)
        report.add("audit_entries_pruned", await trail.prune(
            now - policy.audit_trail.delete_after, actor=actor, through_seq=through,
            run={"run": report.run, "now": now.isoformat(), "clock_override": report.clock_override is not None}))

    await trail.append(actor=actor, action="retention.dry_run" if dry_run else "retention.run", subject="store",
                       purpose="storage limitation",
                       details={"run": report.run, "now": now.isoformat(),
                                "counts": dict(sorted(report.counts.items())), "batches": report.batches})
    log.info("retention %s as of %s: %s", "dry run" if dry_run else "run", now.isoformat(),
             ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items())) or "nothing due")
    return report


async def backlog(store: Store, policy: RetentionPolicy, *, now: datetime,
                  horizon: timedelta = timedelta(hours=24)) -> dict[tuple[str, str], dict[str, int]]:
    """Travellers a run would delete or depersonalise between `now` and `now + horizon` (those overdue too),
    per (category, lane): the run's own selections on a clock moved ahead, counted only. Reads, never
    writes nor audits, so a console may show it on every page view. A traveller deleted in the window
    is not counted as depersonalised, as a run deletes first."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    until = now + horizon
    params = {"held": list(policy.held_hit_statuses)}
    out: dict[tuple[str, str], dict[str, int]] = {}
    for category, rules, held in (("travellers", policy.traveller, False), ("case_travellers", policy.case, True)):
        for lane, rule in rules.items():
            counts = out.setdefault((category, lane), {"deleted": 0, "depersonalised": 0})
            if rule.delete_after is not None:
                counts["deleted"] = await _count(store, _due(rule, lane, held, until - rule.delete_after), params)
            if rule.depersonalise_after is not None:
                due = (_due(rule, lane, held, until - rule.depersonalise_after)
                       .where(travellers.c.pseudonymised_at.is_(None)))
                if rule.delete_after is not None:
                    kept = select(manifests.c.id).where(manifests.c.lane == lane,
                                                        _clock(rule) > until - rule.delete_after)
                    due = due.where(travellers.c.manifest_id.in_(kept))
                counts["depersonalised"] = await _count(store, due, params)
    return out


async def _first_case_entry(store: Store, params: dict[str, Any]) -> int | None:
    """The first audit entry about a hit in a held state, or about its traveller (None: there is none)."""
    held = hits.c.status.in_(bindparam("held", expanding=True))
    about_hit = exists().where(held, audit_log.c.subject == literal("hit:") + cast(hits.c.id, String))
    about_traveller = exists().where(held, hits.c.traveller_id == travellers.c.id,
                                     audit_log.c.subject == literal("traveller:") + travellers.c.ref)
    async with store.engine.connect() as conn:
        seq = (await conn.execute(select(func.min(audit_log.c.seq)).where(about_hit | about_traveller),
                                  params)).scalar()
    return int(seq) if seq is not None else None


_DEPERSONALISE = (update(travellers).where(travellers.c.id == bindparam("_id"))
                  .values({c: bindparam(c) for c in (*_WIDTH, "traveller_json", "reid_sealed", "pseudonymised_at")}))


async def _depersonalise(store: Store, due: Select[Any], params: dict[str, Any], ring: Keyring, *, now: datetime,
                         keep: bool, batch_size: int, report: RetentionReport) -> int:
    cols = [travellers.c.id, *(travellers.c[c] for c in TRAVELLER_SECRET_COLUMNS)]
    total = 0
    while True:
        found = await _due_batch(store, due, params, batch_size)
        ids: list[int] = []
        if not found:
            return total
        async with store.transaction() as conn:
            ids = await _ids(conn, due.where(travellers.c.id.in_(found)), params, batch_size)
            if ids:
                rows = (await conn.execute(select(*cols).where(travellers.c.id.in_(ids)))).mappings().all()
                await conn.execute(_DEPERSONALISE, [
                    {"_id": r["id"], **depersonalised_traveller(dict(r), ring, now=now, keep_for_reidentification=keep)}
                    for r in rows])
                expl = (await conn.execute(select(hits.c.id, hits.c.explanation)
                                           .where(hits.c.traveller_id.in_(ids)))).all()
                if expl:
                    await conn.execute(update(hits).where(hits.c.id == bindparam("_id"))
                                       .values(explanation=bindparam("explanation")),
                                       [{"_id": h.id, "explanation": _scrub_explanation(h.explanation, ring)}
                                        for h in expl])
        report.batches += 1
        total += len(ids)
        if len(found) < batch_size or not ids:
            return total


# ---- re-identification -------------------------------------------------------------------------------------


async def reidentify(store: Store, traveller_ref: str, *, actor: str, role: str, reason: str,
                     keyring: Keyring, purpose: str | None = None) -> dict[str, Any]:
    """The identifying data behind a depersonalised traveller: supervisors only, with a recorded reason.

    Refusals are audited too. Raises LookupError once the row (and so its sealed copy) is deleted."""
    trail = AuditTrail(store)
    if role not in REIDENTIFY_ROLES or not reason or len(reason.strip()) < 5:
        await trail.append(actor=actor, action="traveller.reidentify_refused", subject=f"traveller:{traveller_ref}",
                           purpose=purpose, reason=reason or None, details={"role": role})
        raise ReidentificationRefused("re-identification needs the supervisor role and a stated reason")
    async with store.transaction() as conn:
        row = (await conn.execute(select(travellers).where(travellers.c.ref == traveller_ref))).mappings().first()
        if row is None:
            raise LookupError(f"traveller {traveller_ref} is not stored (deleted by retention, or never received)")
        if row["reid_sealed"] is not None:
            identity: dict[str, Any] = json.loads(keyring.decrypt_bytes(bytes(row["reid_sealed"]),
                                                                        "travellers.reid_sealed"))
        elif row["pseudonymised_at"] is None:
            identity = open_traveller_secrets(dict(row), keyring)
        else:
            raise LookupError(f"traveller {traveller_ref} was depersonalised without a re-identification copy")
        await trail.append(actor=actor, action="traveller.reidentify", subject=f"traveller:{traveller_ref}",
                           purpose=purpose, reason=reason, details={"role": role}, session=conn)
    return identity



async def retention_loop(settings: Settings, stop: asyncio.Event) -> None:
    """The service's retention clock: run the job every `retention_interval_s` until stopped.

    One process runs it (the serve parent); the job is idempotent and batched, so a run cut short
    by a restart is finished by the next one.
    """
    if settings.retention_interval_s <= 0:
        return
    policy = load_policy(settings.retention_policy)
    store = await Store.open(settings.effective_database_url)
    ring = keyring_from_settings(settings)
    try:
        while not stop.is_set():
            try:
                report = await run_retention(store, policy, now=datetime.now(UTC), keyring=ring,
                                             actor="retention-service")
                counts = ",".join(f"{k}:{v}" for k, v in sorted(report.counts.items()))
                log.info("event=retention_run counts=%s", counts)
            except Exception:  # keep the service up; the next run retries what this one left
                log.exception("event=retention_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.retention_interval_s)
    finally:
        await store.close()
