"""The console's JSON API under /api: one route per page action, every route behind a RoleGate.

Strategy: thin handlers over `service`, `queries` and `decisions`, typed with the models so the
OpenAPI document (GET /api/openapi.json, signed in) describes them. Unsafe methods need the CSRF
token in the X-CSRF-Token header (GET /api/me gives it). The live queue is Server-Sent Events:
the endpoint polls the store (a cheap max/count query each `poll_interval_s`) and sends the whole
queue when it changed, so every client converges on the same list whoever made the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from watchlists.rules import RuleError

from . import queries, rule_sets, service, users
from .auth import OFFICERS, SESSION_COOKIE, Account, current_session
from .decisions import decide
from .deps import Admin, Anyone, Auditor, ListManager, Officer, RuleEditor, RuleReader, State
from .models import (
    AlertQueue,
    AuditPage,
    DecisionRequest,
    DecisionResult,
    DryRunResult,
    FlightRow,
    FullViewRequest,
    HitDetail,
    HitId,
    ManifestView,
    Me,
    NewUser,
    RuleProblem,
    RuleProposal,
    RuleSetDetail,
    RuleSetId,
    RuleSetRow,
    RuleText,
    TravellerDetail,
    TravellerSummary,
    UploadId,
    UploadResult,
    UserRow,
    WatchlistsPage,
)

router = APIRouter(prefix="/api")
KEEPALIVE_S = 15.0
RECHECK_SESSION_S = 5.0
COUNTDOWN_S = 60.0  # the queue is sent again this often even unchanged, so "arrives in …" stays current


Sort = Annotated[queries.SortKey, Query(description="severity (default), arrival or received")]
ShowFilter = Annotated[queries.Show, Query(description="waiting (default: open, escalated, awaiting approval), "
                                                       "open, escalated, decided (confirmed, dismissed) or all")]


@router.get("/me", response_model=Me, tags=["session"])
async def me(who: Anyone) -> Me:
    """Who is signed in, and the CSRF token to send as X-CSRF-Token on unsafe requests."""
    return Me(name=who.name, role=who.role, csrf_token=who.csrf_token)


@router.get("/openapi.json", tags=["session"], include_in_schema=False)
async def openapi(request: Request, who: Anyone) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/alerts", response_model=AlertQueue, tags=["alerts"])
async def alerts(st: State, who: Officer, sort: Sort = "severity", flight: str | None = None,
                 show: ShowFilter = "waiting") -> AlertQueue:
    """Open, escalated and dismiss-pending hits (or another filter: `show`), most severe first (or by arrival /
    received time), optionally one flight."""
    return await queries.alert_queue(st.store, st.keyring, sort=sort, flight=flight, show=show)


@router.get("/alerts/stream", tags=["alerts"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: queue` with an AlertQueue as data, whenever it changes"}})
async def alert_stream(request: Request, st: State, who: Officer, sort: Sort = "severity",
                       flight: str | None = None, show: ShowFilter = "waiting") -> StreamingResponse:
    """The alert queue as Server-Sent Events: the whole queue again on every change."""
    token = request.cookies.get(SESSION_COOKIE)
    session = await current_session(request)
    # Each stream polls the store: a bounded number per session and account (429 beyond), released on close.
    release = st.streams.acquire(session.token_hash if session is not None else "", who.user_id)

    async def events() -> AsyncIterator[str]:
        try:
            async for event in queue_events():
                yield event
        finally:
            release()

    async def queue_events() -> AsyncIterator[str]:
        last: tuple[Any, ...] | None = None
        quiet = since_check = since_sent = 0.0
        poll = st.config.poll_interval_s
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            version = await queries.queue_version(st.store)
            if version != last or since_sent >= COUNTDOWN_S:  # unchanged, it still comes each minute: countdowns
                queue = await queries.alert_queue(st.store, st.keyring, sort=sort, flight=flight, show=show)
                yield f"event: queue\ndata: {queue.model_dump_json()}\n\n"
                last, quiet, since_sent = version, 0.0, 0.0
            elif quiet >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                quiet = 0.0
            if since_check >= RECHECK_SESSION_S:  # signed out or disabled meanwhile: stop streaming
                info = await st.sessions.lookup(token)
                if info is None or info.principal is None or info.principal.role not in OFFICERS.roles:
                    yield "event: signed-out\ndata: {}\n\n"
                    return
                since_check = 0.0
            await asyncio.sleep(poll)
            quiet += poll
            since_check += poll
            since_sent += poll

    return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(release),
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/flights", response_model=list[FlightRow], tags=["flights"])
async def flights(st: State, who: Officer, all: bool = False) -> list[FlightRow]:
    """Current manifests by arrival time; by default those arriving from six hours ago on."""
    return await queries.flights(st.store, st.keyring, upcoming=not all)


@router.get("/manifests/{uid}", response_model=ManifestView, tags=["flights"])
async def manifest(uid: str, st: State, who: Officer) -> ManifestView:
    """The minimised manifest: initials, role, nationality, hits. Not audited (no identifying data)."""
    return await service.manifest_minimal(st, uid)


@router.post("/manifests/{uid}/full", response_model=ManifestView, tags=["flights"])
async def manifest_full(uid: str, body: FullViewRequest, st: State, who: Officer) -> ManifestView:
    """The full manifest, logged to the audit trail with the reason given."""
    return await service.manifest_full(st, who, uid, body.reason)


@router.get("/hits/{hit_id}", response_model=HitDetail, tags=["alerts"])
async def hit(hit_id: HitId, st: State, who: Officer) -> HitDetail:
    """A hit with its explanation feature by feature, the listed entry, and the decisions so far (audited)."""
    return await service.hit(st, who, hit_id)


@router.post("/hits/{hit_id}/decision", response_model=DecisionResult, tags=["alerts"])
async def decision(hit_id: HitId, body: DecisionRequest, st: State, who: Officer) -> DecisionResult:
    """Confirm, dismiss (false positive → a clearance), escalate, or, as the second person, approve or reject a
    proposed dismissal; a comment is required (audited). Four eyes: see docs/console.md."""
    return await decide(st, hit_id, body.decision, body.comment, who)


@router.get("/travellers/{ref}", response_model=TravellerSummary, tags=["alerts"])
async def traveller(ref: str, st: State, who: Officer) -> TravellerSummary:
    """A traveller, minimised (initials, role, nationality), their flight and their hits. Not audited."""
    return await service.traveller(st, who, ref)


@router.post("/travellers/{ref}/full", response_model=TravellerDetail, tags=["alerts"])
async def traveller_full(ref: str, body: FullViewRequest, st: State, who: Officer) -> TravellerDetail:
    """A traveller's name, date of birth and document: needs a meaningful reason, logged to the audit trail."""
    return await service.traveller_full(st, who, ref, body.reason)


@router.get("/watchlists", response_model=WatchlistsPage, tags=["watchlists"])
async def watchlists(st: State, who: ListManager) -> WatchlistsPage:
    """Loaded lists with versions and entry counts, and the last uploads."""
    return service.watchlists(st, await st.catalog.uploads(), await service.live_lists(st))


_CSV_UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


@router.post("/watchlists", response_model=UploadResult, tags=["watchlists"], openapi_extra=_CSV_UPLOAD,
             dependencies=[Depends(service.limit_body)])
async def upload_watchlist(request: Request, st: State, who: ListManager) -> UploadResult:
    """Upload a national-format CSV list (multipart field `file`, at most 20 MB: 413 beyond, 422 for a file
    that is not a readable CSV); returns its validation report (audited). A list the settings configure is
    not replaced: the report shows the diff and waits for a supervisor's confirmation."""
    async with service.received_file(request) as (path, filename, _):
        return await service.upload(st, who, path, filename)


@router.post("/watchlists/uploads/{upload_id}/confirm", response_model=UploadResult, tags=["watchlists"])
async def confirm_watchlist(upload_id: UploadId, st: State, who: service.Supervisor) -> UploadResult:
    """Install an upload that names a configured list, after reading its diff (supervisor; audited with the counts)."""
    return await service.confirm_replacement(st, who, upload_id)


_RULE_ERROR: dict[int | str, dict[str, Any]] = {422: {
    "model": RuleProblem, "description": "the text does not parse: message, line and column; nothing is stored"}}


def _rule_problem(exc: RuleError, text: str) -> JSONResponse:
    return JSONResponse(rule_sets.problem_of(exc, text).model_dump(), status_code=422)


@router.get("/rules", response_model=list[RuleSetRow], tags=["rules"])
async def rules(st: State, who: RuleReader) -> list[RuleSetRow]:
    """Every rule set version with owner, purpose and legal basis, who proposed and approved it: active first."""
    return await rule_sets.rule_sets(st)


@router.post("/rules", response_model=RuleSetRow, status_code=201, tags=["rules"], responses=_RULE_ERROR)
async def propose_rules(body: RuleProposal, st: State, who: RuleEditor) -> RuleSetRow | Response:
    """Propose a rule set, or the next version of one (supervisor; audited): it waits for a second supervisor.
    A text that does not parse is a 422 with its line and column, and nothing is stored."""
    try:
        v = await rule_sets.propose(st, who, body.name, body.text, body.owner, body.purpose, body.legal_basis)
    except RuleError as exc:
        return _rule_problem(exc, body.text)
    return rule_sets.row(v)


@router.post("/rules/dry-run", response_model=DryRunResult, tags=["rules"], responses=_RULE_ERROR)
async def dry_run_rules(body: RuleText, st: State, who: RuleEditor) -> DryRunResult | Response:
    """How many stored travellers of the window (the last 7 days, at most 200,000) each rule of the text would
    have flagged: counts only (supervisor; audited)."""
    try:
        return await rule_sets.dry_run_text(st, who, body.text)
    except RuleError as exc:
        return _rule_problem(exc, body.text)


@router.get("/rules/{rule_set_id}", response_model=RuleSetDetail, tags=["rules"])
async def rule_set(rule_set_id: RuleSetId, st: State, who: RuleReader) -> RuleSetDetail:
    """One version: its text, its diff against the previous version and what the caller may do with it."""
    return await rule_sets.detail(st, who, rule_set_id)


@router.post("/rules/{rule_set_id}/dry-run", response_model=DryRunResult, tags=["rules"])
async def dry_run_version(rule_set_id: RuleSetId, st: State, who: RuleEditor) -> DryRunResult:
    """The dry run of a pending version (409 for any other status)."""
    return await rule_sets.dry_run_version(st, who, rule_set_id)


@router.post("/rules/{rule_set_id}/approve", response_model=RuleSetRow, tags=["rules"])
async def approve_rules(rule_set_id: RuleSetId, st: State, who: RuleEditor) -> RuleSetRow:
    """Make a pending version active (its earlier active version retires): a supervisor other than its proposer
    (403 for the proposer, four eyes; 409 if it is not pending)."""
    return rule_sets.row(await rule_sets.decide(st, who, rule_set_id, "approve"))


@router.post("/rules/{rule_set_id}/reject", response_model=RuleSetRow, tags=["rules"])
async def reject_rules(rule_set_id: RuleSetId, st: State, who: RuleEditor) -> RuleSetRow:
    """Turn a pending version down (its proposer may withdraw it); 409 if it is not pending."""
    return rule_sets.row(await rule_sets.decide(st, who, rule_set_id, "reject"))


@router.post("/rules/{rule_set_id}/retire", response_model=RuleSetRow, tags=["rules"])
async def retire_rules(rule_set_id: RuleSetId, st: State, who: RuleEditor) -> RuleSetRow:
    """Stop an active version at once (no second person is needed to stop a rule); 409 if it is not active."""
    return rule_sets.row(await rule_sets.decide(st, who, rule_set_id, "retire"))


@router.get("/audit", response_model=AuditPage, tags=["audit"])
async def audit(st: State, who: Auditor) -> AuditPage:
    """Audit chain verification, recent entries, purge runs and retention status."""
    return await service.audit(st)


@router.get("/users", response_model=list[UserRow], tags=["users"])
async def list_users(st: State, who: Admin) -> list[UserRow]:
    return [UserRow(name=a.name, role=a.role, identity_provider=a.identity_provider, active=a.active)
            for a in await users.list_users(st.store)]


@router.post("/users", response_model=UserRow, status_code=201, tags=["users"])
async def add_user(body: NewUser, st: State, who: Admin) -> UserRow:
    account = await users.add_user(st.store, body.name, body.role, body.password, auditor=st.auditor,
                                   actor=who.name, via="api")
    return UserRow(name=account.name, role=account.role, identity_provider=account.identity_provider,
                   active=account.active)


@router.post("/users/{name}/disable", response_model=UserRow, tags=["users"])
async def disable_user(name: str, st: State, who: Admin) -> UserRow:
    """Disable an account (its sessions stop at once); the last active admin cannot be disabled (422)."""
    return _user_row(await users.change(st.store, st.guard, st.auditor, who.name, name, "disable"))


@router.post("/users/{name}/enable", response_model=UserRow, tags=["users"])
async def enable_user(name: str, st: State, who: Admin) -> UserRow:
    return _user_row(await users.change(st.store, st.guard, st.auditor, who.name, name, "enable"))


@router.post("/users/{name}/unlock", response_model=UserRow, tags=["users"])
async def unlock_user(name: str, st: State, who: Admin) -> UserRow:
    """End a sign-in pause (after repeated wrong passwords) early and forget the failures (audited)."""
    return _user_row(await users.change(st.store, st.guard, st.auditor, who.name, name, "unlock"))


def _user_row(found: Account) -> UserRow:
    return UserRow(name=found.name, role=found.role, identity_provider=found.identity_provider, active=found.active)
