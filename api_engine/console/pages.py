"""The console's HTML pages: server-rendered Jinja2, each behind the same RoleGate as its JSON twin.

Strategy: every page calls the same service/query function as its /api route and renders the
model; forms post with a hidden CSRF field and answer with a redirect (post/redirect/get) or the
result page. The only JavaScript (static/console.js) runs the live queue over SSE and sorting.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from watchlists.rules import RuleError

from . import queries, rule_sets, service, users
from .auth import (
    ADMINS,
    AUDITORS,
    LIST_MANAGERS,
    OFFICERS,
    SESSION_COOKIE,
    Forbidden,
    Principal,
    SessionInfo,
    check_csrf,
    current_session,
)
from .decisions import DecisionError, decide
from .deps import RULE_EDITORS, Admin, Anyone, Auditor, ListManager, Officer, RuleEditor, RuleReader, State, state_of
from .models import DryRunResult, HitId, RuleProblem, RuleSetId, UploadId
from .state import ConsoleState
from .users import AccountError

router = APIRouter(include_in_schema=False)
log = logging.getLogger("api_engine.console.pages")

QUEUE_FILTERS = [("waiting", "Waiting"), ("open", "Open"), ("escalated", "Escalated"), ("decided", "Decided"),
                 ("all", "All")]
HOME = {"officer": "/alerts", "supervisor": "/alerts", "auditor": "/audit", "admin": "/admin/users"}
NAV = [("/alerts", "Alert queue", OFFICERS), ("/flights", "Flights", OFFICERS),
       ("/watchlists", "Watchlists", LIST_MANAGERS), ("/rules", "Targeting rules", RULE_EDITORS),
       ("/audit", "Retention & audit", AUDITORS), ("/admin/users", "Users", ADMINS)]


def render(request: Request, template: str, who: Principal | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    st = state_of(request)
    nav = [(href, label) for href, label, gate in NAV if who is not None and who.role in gate.roles]
    response: HTMLResponse = st.templates.TemplateResponse(
        request, template, {"me": who, "nav": nav, "path": request.url.path, **context}, status_code=status_code)
    return response


def _set_cookie(response: Response, st: ConsoleState, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=st.config.cookie_secure,
                        path="/")


def _safe_next(value: str | None) -> str | None:
    """Only local paths: no open redirect to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, st: State, next: str | None = None) -> Response:
    info: SessionInfo | None = await current_session(request)
    if info is not None and info.principal is not None:
        return RedirectResponse(_safe_next(next) or HOME[info.principal.role], status_code=303)
    token, csrf = _sign_in_csrf(request, st, info)
    response = render(request, "login.html", None, csrf=csrf, next=_safe_next(next) or "", error=None)
    if token != request.cookies.get(SESSION_COOKIE):
        _set_cookie(response, st, token)
    return response


def _sign_in_csrf(request: Request, st: ConsoleState, info: SessionInfo | None) -> tuple[str, str]:
    """The cookie token and form CSRF token for the sign-in page. Signed out, nothing is stored: the
    token is derived from the cookie (a new random one if it has none), so viewing the page writes no row."""
    token = request.cookies.get(SESSION_COOKIE) or ""
    if info is not None:
        return token, info.csrf_token
    if not _TOKEN.match(token):
        token = st.sessions.new_token()
    return token, st.sessions.anonymous_csrf(token)


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, st: State, username: Annotated[str, Form()], password: Annotated[str, Form()],
                next: Annotated[str, Form()] = "") -> Response:
    info = await current_session(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if info is None and not (cookie and _TOKEN.match(cookie)):
        raise HTTPException(status_code=403, detail="open the sign-in page first (no session for the CSRF check)")
    _, csrf = _sign_in_csrf(request, st, info)
    await check_csrf(request, csrf)
    outcome = await st.guard.sign_in(username, password, request.client.host if request.client else "unknown")
    account = outcome.account
    if account is None:
        error, status, headers = "Wrong user name or password, or the account is disabled.", 401, {}
        if outcome.paused is not None:
            where = "this account" if outcome.paused == "account" else "this address"
            n, unit = ((outcome.retry_after, "second") if outcome.retry_after < 120
                       else (math.ceil(outcome.retry_after / 60), "minute"))
            wait = f"{n} {unit}{'' if n == 1 else 's'}"
            error = (("Wrong user name or password. " if outcome.just_paused else "")
                     + f"Too many failed sign-ins: signing in to {where} is paused for {wait}"
                     + (", or until an administrator unlocks it." if outcome.paused == "account" else "."))
            status, headers = (401 if outcome.just_paused else 429), {"Retry-After": str(outcome.retry_after)}
        refused = render(request, "login.html", None, csrf=csrf, next=_safe_next(next) or "", error=error,
                         status_code=status)
        refused.headers.update(headers)
        return refused
    token, _ = await st.sessions.start(account.id, replaces=cookie)
    if st.auditor.available:
        await st.auditor.record(actor=account.name, action="sign_in", subject=f"user:{account.name}",
                                purpose="access", details={"role": account.role, "provider": account.identity_provider})
    response = RedirectResponse(_safe_next(next) or HOME[account.role], status_code=303)
    _set_cookie(response, st, token)
    return response


@router.post("/logout")
async def logout(request: Request, st: State, who: Anyone) -> Response:
    await st.sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def home(who: Anyone) -> Response:
    return RedirectResponse(HOME[who.role], status_code=303)


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request, st: State, who: Officer, sort: queries.SortKey = "severity",
                 flight: str | None = None, show: queries.Show = "waiting", done: int | None = None) -> HTMLResponse:
    queue = await queries.alert_queue(st.store, st.keyring, sort=sort, flight=flight, show=show)
    return render(request, "alerts.html", who, queue=queue, sort=sort, flight=flight or "", show=show, done=done,
                  filters=QUEUE_FILTERS)


@router.get("/flights", response_class=HTMLResponse)
async def flights(request: Request, st: State, who: Officer, all: bool = False) -> HTMLResponse:
    rows = await queries.flights(st.store, st.keyring, upcoming=not all)
    return render(request, "flights.html", who, flights=rows, all=all)


@router.get("/flights/{uid}", response_class=HTMLResponse)
async def manifest(request: Request, uid: str, st: State, who: Officer) -> HTMLResponse:
    view = await service.manifest_minimal(st, uid)
    return render(request, "manifest.html", who, view=view, reason="")


@router.post("/flights/{uid}/full", response_class=HTMLResponse)
async def manifest_full(request: Request, uid: str, st: State, who: Officer,
                        reason: Annotated[str, Form()] = "") -> HTMLResponse:
    view = await service.manifest_full(st, who, uid, reason)
    return render(request, "manifest.html", who, view=view, reason=reason)


@router.get("/hits/{hit_id}", response_class=HTMLResponse)
async def hit(request: Request, hit_id: HitId, st: State, who: Officer, error: str | None = None) -> HTMLResponse:
    detail = await service.hit(st, who, hit_id)
    return render(request, "hit.html", who, d=detail, error=error)


@router.post("/hits/{hit_id}/decision")
async def decision(request: Request, hit_id: HitId, st: State, who: Officer, decision: Annotated[str, Form()],
                   comment: Annotated[str, Form()] = "") -> Response:
    try:
        await decide(st, hit_id, decision, comment, who)
    except DecisionError as exc:
        return RedirectResponse(f"/hits/{hit_id}?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/alerts?done={hit_id}", status_code=303)


@router.get("/travellers/{ref}", response_class=HTMLResponse)
async def traveller(request: Request, ref: str, st: State, who: Officer) -> HTMLResponse:
    detail = await service.traveller(st, who, ref)
    return render(request, "traveller.html", who, d=detail, full=False, reason="")


@router.post("/travellers/{ref}/full", response_class=HTMLResponse)
async def traveller_full(request: Request, ref: str, st: State, who: Officer,
                         reason: Annotated[str, Form()] = "") -> HTMLResponse:
    detail = await service.traveller_full(st, who, ref, reason)
    return render(request, "traveller.html", who, d=detail, full=True, reason=reason)


@router.get("/watchlists", response_class=HTMLResponse)
async def watchlists(request: Request, st: State, who: ListManager) -> HTMLResponse:
    page = service.watchlists(st, await st.catalog.uploads(), await service.live_lists(st))
    return render(request, "watchlists.html", who, page=page, report=None, error=None)


@router.post("/watchlists", response_class=HTMLResponse, dependencies=[Depends(service.limit_body)])
async def upload(request: Request, st: State, who: ListManager) -> HTMLResponse:
    try:
        async with service.received_file(request) as (path, filename, _):
            report = await service.upload(st, who, path, filename)
    except HTTPException as exc:  # too large, not a readable CSV: said on the page, nothing installed
        page = service.watchlists(st, await st.catalog.uploads(), await service.live_lists(st))
        return render(request, "watchlists.html", who, page=page, report=None, error=str(exc.detail),
                      status_code=exc.status_code)
    page = service.watchlists(st, await st.catalog.uploads(), await service.live_lists(st))
    return render(request, "watchlists.html", who, page=page, report=report, error=None)


@router.post("/watchlists/uploads/{upload_id}/confirm", response_class=HTMLResponse)
async def confirm_upload(request: Request, upload_id: UploadId, st: State, who: service.Supervisor) -> HTMLResponse:
    report = await service.confirm_replacement(st, who, upload_id)
    page = service.watchlists(st, await st.catalog.uploads(), await service.live_lists(st))
    return render(request, "watchlists.html", who, page=page, report=report, error=None)


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, st: State, who: Auditor) -> HTMLResponse:
    return render(request, "audit.html", who, page=await service.audit(st))


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request, st: State, who: Admin, error: str | None = None,
                     added: str | None = None, done: str | None = None) -> HTMLResponse:
    return render(request, "users.html", who, users=await users.list_users(st.store), error=error, added=added,
                  done=done)


@router.post("/admin/users")
async def users_add(request: Request, st: State, who: Admin, name: Annotated[str, Form()],
                    role: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
    try:
        account = await users.add_user(st.store, name, role, password, auditor=st.auditor, actor=who.name,
                                       via="console")
    except AccountError as exc:
        return RedirectResponse(f"/admin/users?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/admin/users?added={quote(account.name)}", status_code=303)


@router.post("/admin/users/{name}/{action}")
async def users_change(request: Request, name: str, action: users.AccountAction, st: State, who: Admin) -> Response:
    """Disable, enable or unlock (end a sign-in pause early) an account from the users page."""
    try:
        await users.change(st.store, st.guard, st.auditor, who.name, name, action)
    except AccountError as exc:
        return RedirectResponse(f"/admin/users?error={quote(str(exc))}", status_code=303)
    done = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked"}[action]
    return RedirectResponse(f"/admin/users?done={quote(f'{name} {done}')}", status_code=303)


# ---- targeting rules -------------------------------------------------------------------------------------------

RULE_DONE = {"proposed": "Proposed: a second supervisor approves it before it flags anyone.",
             "approve": "Approved: the version is active; the service applies it within seconds.",
             "reject": "Rejected: this version never becomes active.",
             "retire": "Retired: its rules no longer flag anyone."}


@router.get("/rules", response_class=HTMLResponse)
async def rules_page(request: Request, st: State, who: RuleReader) -> HTMLResponse:
    return render(request, "rules.html", who, rows=await rule_sets.rule_sets(st))


def _editor(request: Request, who: Principal, form: dict[str, str], *, problem: RuleProblem | None = None,
            error: str | None = None, run: DryRunResult | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "rules_edit.html", who, form=form, problem=problem, error=error, run=run,
                  status_code=status_code)


@router.get("/rules/new", response_class=HTMLResponse)
async def rules_editor(request: Request, st: State, who: RuleEditor, start: int | None = None) -> HTMLResponse:
    """The editor, empty or (`?start=<id>`) filled with a stored version to propose the next one."""
    form = {"name": "", "text": "", "owner": "", "purpose": "", "legal_basis": ""}
    if start is not None:
        d = await rule_sets.detail(st, who, start)
        form = {"name": d.rule_set.name, "text": d.text, "owner": d.rule_set.owner, "purpose": d.rule_set.purpose,
                "legal_basis": d.rule_set.legal_basis}
    return _editor(request, who, form)


@router.post("/rules/new", response_class=HTMLResponse)
async def rules_submit(request: Request, st: State, who: RuleEditor, text: Annotated[str, Form(max_length=200_000)],
                       action: Annotated[Literal["propose", "dry_run"], Form()] = "propose",
                       name: Annotated[str, Form(max_length=94)] = "",
                       owner: Annotated[str, Form(max_length=100)] = "",
                       purpose: Annotated[str, Form(max_length=2000)] = "",
                       legal_basis: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Propose (post/redirect/get to the new version) or dry-run the editor's text; a text that does not parse
    comes back with its line and column, and nothing is stored."""
    text = text.replace("\r\n", "\n")  # a browser sends CRLF: keep the text as written
    form = {"name": name, "text": text, "owner": owner, "purpose": purpose, "legal_basis": legal_basis}
    try:
        if action == "dry_run":
            return _editor(request, who, form, run=await rule_sets.dry_run_text(st, who, text))
        v = await rule_sets.propose(st, who, name, text, owner, purpose, legal_basis)
    except RuleError as exc:
        return _editor(request, who, form, problem=rule_sets.problem_of(exc, text), status_code=422)
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        return _editor(request, who, form, error=str(exc.detail), status_code=422)
    return RedirectResponse(f"/rules/{v.id}?done=proposed", status_code=303)


async def _rule_set_page(request: Request, st: ConsoleState, who: Principal, rule_set_id: int, *,
                         error: str | None = None, done: str | None = None, run: DryRunResult | None = None,
                         status_code: int = 200) -> HTMLResponse:
    d = await rule_sets.detail(st, who, rule_set_id)
    return render(request, "rules_set.html", who, d=d, error=error, done=RULE_DONE.get(done or ""), run=run,
                  status_code=status_code)


@router.get("/rules/{rule_set_id}", response_class=HTMLResponse)
async def rule_set_page(request: Request, rule_set_id: RuleSetId, st: State, who: RuleReader,
                        error: str | None = None, done: str | None = None) -> HTMLResponse:
    return await _rule_set_page(request, st, who, rule_set_id, error=error, done=done)


@router.post("/rules/{rule_set_id}/dry-run", response_class=HTMLResponse)
async def rule_set_dry_run(request: Request, rule_set_id: RuleSetId, st: State, who: RuleEditor) -> HTMLResponse:
    try:
        run = await rule_sets.dry_run_version(st, who, rule_set_id)
    except rule_sets.RuleConflict as exc:
        return await _rule_set_page(request, st, who, rule_set_id, error=str(exc.detail), status_code=409)
    return await _rule_set_page(request, st, who, rule_set_id, run=run)


@router.post("/rules/{rule_set_id}/{action}")
async def rule_set_action(request: Request, rule_set_id: RuleSetId, action: Literal["approve", "reject", "retire"],
                          st: State, who: RuleEditor) -> Response:
    """Approve, reject or retire through the rule book; its refusal (four eyes, wrong status) is shown on the
    version's page."""
    try:
        await rule_sets.decide(st, who, rule_set_id, action)
    except Forbidden as exc:
        return RedirectResponse(f"/rules/{rule_set_id}?error={quote(exc.detail)}", status_code=303)
    except rule_sets.RuleConflict as exc:
        return RedirectResponse(f"/rules/{rule_set_id}?error={quote(str(exc.detail))}", status_code=303)
    return RedirectResponse(f"/rules/{rule_set_id}?done={action}", status_code=303)
