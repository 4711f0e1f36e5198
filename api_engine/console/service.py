"""The console's operations, shared by the pages and the JSON API so both obey the same rules.

Strategy: each function takes the state and the signed-in principal and returns a model; any
consultation of personal data beyond the alert queue (hit detail, traveller detail, full
manifest) is appended to the audit trail first and refused if it cannot be (fail closed).
Identity outside a hit (a traveller's or a whole manifest's names, dates of birth, documents) is
shown only with a reason that says something (`reason_problem`: length, several different words,
no filler), recorded with the view; without one the views are minimised.
Uploads are streamed into a file under a size limit: the limit is checked on the declared length
before the body is read and on every chunk after (`limit_body`), so a huge request is refused
without being held, in memory or on disk.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.types import Message

from api_engine.protection import retention
from api_engine.store.store import now

from . import queries
from .auth import Principal, RoleGate
from .catalog import MAX_UPLOAD_BYTES, UploadRefused
from .decisions import allowed_for, clearance_status, fingerprint, hit_state
from .models import (
    AuditPage,
    HitDetail,
    HitSummary,
    LiveLists,
    ManifestView,
    RetentionBacklogRow,
    RetentionRuleRow,
    RetentionRunRow,
    RetentionStatus,
    TravellerDetail,
    TravellerMinimal,
    TravellerSummary,
    UploadResult,
    WatchlistRow,
    WatchlistsPage,
)
from .state import ConsoleState

PURPOSE = "border control"
SUPERVISORS = RoleGate("supervisor")  # confirming a configured list's replacement
Supervisor = Annotated[Principal, Depends(SUPERVISORS)]
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024  # the file plus multipart framing and the CSRF field
CHUNK = 1 << 20

REASON_MIN_CHARS = 20
REASON_MIN_WORDS = 3
REASON_MIN_LETTERS = 8
_WORD = re.compile(r"[^\W\d_]{2,}")


def reason_problem(reason: str) -> str | None:
    """Why `reason` does not justify seeing a traveller's identity, or None when it does.

    A reason is read later by an auditor: it must say something. At least 20 characters, three
    different words of two letters or more, eight different letters, and no filler word made of one
    repeated character ("aaa", "xxxx")."""
    text = " ".join(reason.split())
    words = [w.casefold() for w in _WORD.findall(text)]
    if len(text) < REASON_MIN_CHARS:
        return f"a reason of at least {REASON_MIN_CHARS} characters is needed (what you check and why)"
    if any(len(w) >= 3 and len(set(w)) == 1 for w in words):
        return "the reason contains filler (a word of one repeated letter): say what you check and why"
    if len(set(words)) < REASON_MIN_WORDS:
        return f"the reason needs at least {REASON_MIN_WORDS} different words: say what you check and why"
    if len(set("".join(words))) < REASON_MIN_LETTERS:
        return "the reason looks like filler: say what you check and why"
    return None


def _check_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    problem = reason_problem(reason)
    if problem is not None:
        raise HTTPException(status_code=422, detail=problem)
    return reason


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no such {what}")


async def hit(state: ConsoleState, who: Principal, hit_id: int) -> HitDetail:
    detail = await queries.hit_detail(state.store, state.keyring, state.catalog, hit_id, who.role)
    if detail is None:
        raise _not_found("hit")
    # The decisions this person may take, by the four-eyes rules of `decisions` (who escalated, who
    # proposed the dismissal, whether the traveller's clearance is still pending).
    print_ = fingerprint(detail.traveller.model_dump())
    async with state.store.engine.connect() as conn:
        detail.clearance = await clearance_status(conn, detail.alert.list, detail.alert.entry_id, print_)
    state_ = hit_state(detail.alert.status, detail.alert.severity, detail.decisions, detail.clearance)
    detail.allowed = allowed_for(state_, who)
    await state.auditor.record(actor=who.name, action="view_hit", subject=f"hit:{hit_id}", purpose=PURPOSE,
                               details={"traveller_ref": detail.alert.traveller_ref, "role": who.role})
    return detail


async def traveller(state: ConsoleState, who: Principal, ref: str) -> TravellerSummary:
    """The minimised traveller view (initials, role, nationality, flight, hits without names): no reason needed."""
    detail = await queries.traveller_detail(state.store, state.keyring, ref)
    if detail is None:
        raise _not_found("traveller")
    t = detail.traveller
    return TravellerSummary(
        traveller=TravellerMinimal(ref=t.ref, position=t.position, role=t.role, initials=t.initials,
                                   nationality=t.nationality, hit_count=t.hit_count),
        flight=detail.flight,
        hits=[HitSummary(hit_id=h.hit_id, status=h.status, severity=h.severity, score=h.score, list=h.list,
                         entry_id=h.entry_id) for h in detail.hits], iapi=detail.iapi)


async def traveller_full(state: ConsoleState, who: Principal, ref: str, reason: str) -> TravellerDetail:
    """Name, date of birth and document of one traveller: only with a meaningful reason, audited first."""
    reason = _check_reason(reason)
    detail = await queries.traveller_detail(state.store, state.keyring, ref)
    if detail is None:
        raise _not_found("traveller")
    await state.auditor.record(actor=who.name, action="view_traveller_full", subject=f"traveller:{ref}",
                               purpose=PURPOSE, reason=reason,
                               details={"role": who.role, "manifest_uid": detail.flight.manifest_uid,
                                        "hits": [h.hit_id for h in detail.hits]})
    return detail


async def manifest_minimal(state: ConsoleState, uid: str) -> ManifestView:
    view = await queries.manifest(state.store, state.keyring, uid, full=False)
    if view is None:
        raise _not_found("manifest")
    return view


async def manifest_full(state: ConsoleState, who: Principal, uid: str, reason: str) -> ManifestView:
    reason = _check_reason(reason)
    view = await queries.manifest(state.store, state.keyring, uid, full=True)
    if view is None:
        raise _not_found("manifest")
    await state.auditor.record(actor=who.name, action="view_manifest_full", subject=f"manifest:{uid}",
                               purpose=PURPOSE, reason=reason,
                               details={"flight_key": view.flight.flight_key, "travellers": len(view.travellers),
                                        "role": who.role})
    return view


def watchlists(state: ConsoleState, uploads: list[dict[str, Any]], live: LiveLists) -> WatchlistsPage:
    """The page's model: the console's copy of the lists, the uploads and the running service's lists."""
    state.catalog.notice()  # a configured file changed: its new version loads in the background
    rows = [WatchlistRow(name=w.name, version=w.version, source_format=w.source_format, origin=w.origin,
                         entries=len(w.entries), rejected=w.rejected, loaded_at=queries.timepoint(w.loaded_at, None),
                         uploaded_by=w.uploaded_by)
            for w in sorted(state.catalog.lists.values(), key=lambda w: w.name)]
    return WatchlistsPage(lists=rows, problems=list(state.catalog.problems),
                          uploads=[{**u, "uploaded_at": queries.timepoint(u["uploaded_at"], None).text}
                                   for u in uploads], live=live)


async def live_lists(state: ConsoleState) -> LiveLists:
    """The lists in force, their recent changes and re-screen runs, read now."""
    return await queries.live_lists(state.store)


async def limit_body(request: Request) -> None:
    """A dependency declared before the role gate (which may parse the form for its CSRF field): a request
    declaring more than the limit is refused before a byte of it is read; one without a declared length
    (chunked) is cut off as soon as it passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(status_code=400, detail="invalid Content-Length")
        if int(declared) > MAX_REQUEST_BYTES:
            raise HTTPException(status_code=413, detail=f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    receive = request._receive  # Starlette reads the body through this; there is no public hook
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_REQUEST_BYTES:
                raise HTTPException(status_code=413, detail=f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        return message

    request._receive = limited


@asynccontextmanager
async def received_file(request: Request) -> AsyncIterator[tuple[Path, str | None, dict[str, str]]]:
    """The uploaded `file` field copied to a temporary file in chunks (never whole in memory), with the
    request's other text fields; the temporary file is gone afterwards."""
    form = await request.form(max_files=1, max_fields=20)
    try:
        upload_ = form.get("file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not isinstance(upload_, UploadFile):
            raise HTTPException(status_code=422, detail="choose a national-format CSV file to upload (field 'file')")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.csv"
            size = 0
            with path.open("wb") as out:
                while chunk := await upload_.read(CHUNK):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise HTTPException(status_code=413,
                                            detail=f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
                    out.write(chunk)
            yield path, upload_.filename, fields
    finally:
        await form.close()


async def upload(state: ConsoleState, who: Principal, path: Path, filename: str | None) -> UploadResult:
    _ = state.auditor.trail  # raises AuditUnavailable: fail closed before anything changes
    try:
        report = await state.catalog.upload_file(path, filename, who.name)
    except UploadRefused as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from exc
    await state.auditor.record(actor=who.name, action="watchlist_upload", subject=f"watchlist:{report.list_name}",
                               purpose="list management",
                               details={"version": report.version, "entries": report.entries,
                                        "rejected": len(report.rejected), "accepted": report.accepted,
                                        "configured": report.configured,
                                        "awaiting_confirmation": report.awaiting_confirmation,
                                        "added": report.added, "removed": report.removed, "changed": report.changed,
                                        "previous_version": report.previous_version, "upload_id": report.upload_id})
    return report


async def confirm_replacement(state: ConsoleState, who: Principal, upload_id: int) -> UploadResult:
    """A supervisor installs an upload that names a configured list, having read its diff; audited with the counts."""
    if who.role != "supervisor":
        raise HTTPException(status_code=403, detail="only a supervisor confirms the replacement of a configured list")
    _ = state.auditor.trail  # fail closed before anything changes
    try:
        report = await state.catalog.confirm(upload_id, who.name)
    except UploadRefused as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from exc
    await state.auditor.record(actor=who.name, action="watchlist_replace", subject=f"watchlist:{report.list_name}",
                               purpose="list management",
                               details={"version": report.version, "previous_version": report.previous_version,
                                        "entries": report.entries, "added": report.added, "removed": report.removed,
                                        "changed": report.changed, "configured": report.configured,
                                        "confirms_upload": upload_id, "upload_id": report.upload_id})
    return report


RETENTION_CATEGORIES = {"raw_message": "raw messages (bytes as received, parts, output copies)",
                        "travellers": "traveller data (no held hit)",
                        "case_travellers": "case data (traveller with a confirmed, escalated or pending-dismissal hit)",
                        "audit_trail": "audit trail"}
RETENTION_CLOCKS = {"receipt": "after receipt", "arrival": "after scheduled arrival",
                    "departure": "after scheduled departure"}
BACKLOG_HOURS = 24


def _duration_words(value: timedelta | None) -> str | None:
    """As the policy file says it: "48 h", "183 days", "5 years" (of 365 days)."""
    if value is None:
        return None
    seconds = int(value.total_seconds())
    for unit, size, least in (("year", 365 * 86400, 365 * 86400), ("day", 86400, 3 * 86400), ("h", 3600, 3600),
                              ("min", 60, 60)):
        if seconds % size == 0 and seconds >= least:
            n = seconds // size
            return f"{n} {unit}" if unit in ("h", "min") else f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} s"


async def retention_status(state: ConsoleState) -> tuple[RetentionStatus | None, str]:
    """The retention policy in force, its last runs (from the audit trail) and the next 24 hours' backlog,
    counted with the job's own selections; read-only. A policy that cannot be loaded is said, not raised."""
    path = state.settings.retention_policy
    try:
        policy = retention.load_policy(path)
    except (OSError, ValueError, KeyError) as exc:
        return None, f"the retention policy cannot be loaded ({type(exc).__name__}): {exc}"
    rules = [RetentionRuleRow(category=RETENTION_CATEGORIES[category], lane=lane.replace("_", " "),
                              clock=RETENTION_CLOCKS.get(rule.clock, rule.clock),
                              depersonalise_after=_duration_words(rule.depersonalise_after),
                              delete_after=_duration_words(rule.delete_after), source=rule.source)
             for category, by_lane in (("raw_message", policy.raw_message), ("travellers", policy.traveller),
                                       ("case_travellers", policy.case))
             for lane, rule in by_lane.items()]
    rules.append(RetentionRuleRow(category=RETENTION_CATEGORIES["audit_trail"], lane="all",
                                  clock="after the entry is written",
                                  delete_after=_duration_words(policy.audit_trail.delete_after),
                                  source=policy.audit_trail.source))
    runs: list[RetentionRunRow] = []
    if state.auditor.available:
        entries = [*await state.auditor.recent(limit=10, action="retention.run"),
                   *await state.auditor.recent(limit=5, action="retention.dry_run")]
        for e in sorted(entries, key=lambda e: int(e.get("seq") or 0), reverse=True)[:10]:
            details = e.get("details") or {}
            counts = details.get("counts") if isinstance(details, dict) else None
            runs.append(RetentionRunRow(at=str(_plain({"at": e.get("at")})["at"]), actor=str(e.get("actor", "")),
                                        dry_run=e.get("action") == "retention.dry_run",
                                        counts={str(k): int(v) for k, v in (counts or {}).items()}))
    at = now()
    due = await retention.backlog(state.store, policy, now=at, horizon=timedelta(hours=BACKLOG_HOURS))
    backlog = [RetentionBacklogRow(category=RETENTION_CATEGORIES[category], lane=lane.replace("_", " "),
                                   depersonalised=n["depersonalised"], deleted=n["deleted"])
               for (category, lane), n in due.items()]
    return RetentionStatus(policy_file=str(path) if path else "packaged default (api_engine/protection/policies/"
                           "retention.toml)", rules=rules, runs=runs, backlog=backlog, horizon_hours=BACKLOG_HOURS,
                           as_of=queries.timepoint(at, None)), ""


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in entry.items():
        if isinstance(v, datetime):
            v = (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        elif isinstance(v, bytes):
            v = v.hex()
        out[k] = v
    return out


async def audit(state: ConsoleState) -> AuditPage:
    retention, note = await retention_status(state)
    if not state.auditor.available:
        return AuditPage(available=False, retention=retention, retention_note=note)
    recent = [_plain(e) for e in await state.auditor.recent(limit=100)]
    purges = [e for e in recent if any(w in str(e.get("action", "")) for w in ("purge", "retention", "erase"))]
    return AuditPage(available=True, verification=_plain(await state.auditor.verify()), recent=recent,
                     purges=purges, retention=retention, retention_note=note)
