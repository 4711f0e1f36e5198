"""The console's operations, shared by the pages and the JSON API so both obey the same rules.

Strategy: each function takes the state and the signed-in principal and returns a model; any
consultation of personal data beyond the alert queue (hit detail, traveller detail, full
manifest) is appended to the audit trail first and refused if it cannot be (fail closed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from . import queries
from .auth import Principal
from .models import (
    AuditPage,
    HitDetail,
    ManifestView,
    TravellerDetail,
    UploadResult,
    WatchlistRow,
    WatchlistsPage,
)
from .state import ConsoleState

PURPOSE = "border control"


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no such {what}")


async def hit(state: ConsoleState, who: Principal, hit_id: int) -> HitDetail:
    detail = await queries.hit_detail(state.store, state.keyring, state.catalog, hit_id, who.role)
    if detail is None:
        raise _not_found("hit")
    await state.auditor.record(actor=who.name, action="view_hit", subject=f"hit:{hit_id}", purpose=PURPOSE,
                               details={"traveller_ref": detail.alert.traveller_ref, "role": who.role})
    return detail


async def traveller(state: ConsoleState, who: Principal, ref: str) -> TravellerDetail:
    detail = await queries.traveller_detail(state.store, state.keyring, ref)
    if detail is None:
        raise _not_found("traveller")
    await state.auditor.record(actor=who.name, action="view_traveller", subject=f"traveller:{ref}",
                               purpose=PURPOSE, details={"role": who.role})
    return detail


async def manifest_minimal(state: ConsoleState, uid: str) -> ManifestView:
    view = await queries.manifest(state.store, state.keyring, uid, full=False)
    if view is None:
        raise _not_found("manifest")
    return view


async def manifest_full(state: ConsoleState, who: Principal, uid: str, reason: str) -> ManifestView:
    reason = reason.strip()
    if len(reason) < 3:
        raise HTTPException(status_code=422, detail="the full manifest needs a reason (at least 3 characters)")
    view = await queries.manifest(state.store, state.keyring, uid, full=True)
    if view is None:
        raise _not_found("manifest")
    await state.auditor.record(actor=who.name, action="view_manifest_full", subject=f"manifest:{uid}",
                               purpose=PURPOSE, reason=reason,
                               details={"flight_key": view.flight.flight_key, "travellers": len(view.travellers),
                                        "role": who.role})
    return view


def watchlists(state: ConsoleState, uploads: list[dict[str, Any]]) -> WatchlistsPage:
    rows = [WatchlistRow(name=w.name, version=w.version, source_format=w.source_format, origin=w.origin,
                         entries=len(w.entries), rejected=w.rejected, loaded_at=queries.timepoint(w.loaded_at, None),
                         uploaded_by=w.uploaded_by)
            for w in sorted(state.catalog.lists.values(), key=lambda w: w.name)]
    return WatchlistsPage(lists=rows, problems=list(state.catalog.problems),
                          uploads=[{**u, "uploaded_at": queries.timepoint(u["uploaded_at"], None).text}
                                   for u in uploads])


async def upload(state: ConsoleState, who: Principal, data: bytes, filename: str | None) -> UploadResult:
    _ = state.auditor.trail  # raises AuditUnavailable: fail closed before anything changes
    report = await state.catalog.upload(data, filename, who.name)
    await state.auditor.record(actor=who.name, action="watchlist_upload", subject=f"watchlist:{report.list_name}",
                               purpose="list management",
                               details={"version": report.version, "entries": report.entries,
                                        "rejected": len(report.rejected), "accepted": report.accepted,
                                        "upload_id": report.upload_id})
    return report


def _retention() -> tuple[dict[str, Any] | None, str]:
    """Retention status if api_engine.protection.retention exposes one (`status()` or `retention_status()`)."""
    import importlib

    try:
        module = importlib.import_module("api_engine.protection.retention")
    except ModuleNotFoundError:
        return None, "api_engine.protection.retention is not installed"
    for name in ("status", "retention_status", "describe"):
        fn = getattr(module, name, None)
        if callable(fn):
            try:
                value = fn()
            except TypeError:
                continue
            if hasattr(value, "model_dump"):
                value = value.model_dump()
            return (value if isinstance(value, dict) else {"status": str(value)}), ""
    return None, "api_engine.protection.retention exposes no status function"


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
    retention, note = _retention()
    if not state.auditor.available:
        return AuditPage(available=False, retention=retention, retention_note=note)
    recent = [_plain(e) for e in await state.auditor.recent(limit=100)]
    purges = [e for e in recent if any(w in str(e.get("action", "")) for w in ("purge", "retention", "erase"))]
    return AuditPage(available=True, verification=_plain(await state.auditor.verify()), recent=recent,
                     purges=purges, retention=retention, retention_note=note)
