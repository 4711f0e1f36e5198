"""The console's HTML pages: server-rendered Jinja2, each behind the same RoleGate as its JSON twin.

Strategy: every page calls the same service/query function as its /api route and renders the
model; forms post with a hidden CSRF field and answer with a redirect (post/redirect/get) or the
result page. The only JavaScript (static/console.js) runs the live queue over SSE and sorting.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from . import queries, service, users
from .auth import (
    ADMINS,
    AUDITORS,
    LIST_MANAGERS,
    OFFICERS,
    SESSION_COOKIE,
    Principal,
    SessionInfo,
    check_csrf,
    current_session,
)
from .decisions import DecisionError, decide
from .deps import Admin, Anyone, Auditor, ListManager, Officer, State, state_of
from .state import ConsoleState
from .users import AccountError

router = APIRouter(include_in_schema=False)
log = logging.getLogger("api_engine.console.pages")

HOME = {"officer": "/alerts", "supervisor": "/alerts", "auditor": "/audit", "admin": "/admin/users"}
NAV = [("/alerts", "Alert queue", OFFICERS), ("/flights", "Flights", OFFICERS),
       ("/watchlists", "Watchlists", LIST_MANAGERS), ("/audit", "Retention & audit", AUDITORS),
       ("/admin/users", "Users", ADMINS)]




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
    token = request.cookies.get(SESSION_COOKIE)
    csrf = info.csrf_token if info is not None else None
    if info is None:  # an anonymous session only to carry the form's CSRF token
        token, csrf = await st.sessions.start(None, replaces=token)
    response = render(request, "login.html", None, csrf=csrf, next=_safe_next(next) or "", error=None)
    if token and info is None:
        _set_cookie(response, st, token)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, st: State, username: Annotated[str, Form()], password: Annotated[str, Form()],
                next: Annotated[str, Form()] = "") -> Response:
    info = await current_session(request)
    if info is None:
        raise HTTPException(status_code=403, detail="open the sign-in page first (no session for the CSRF check)")
    await check_csrf(request, info.csrf_token)
    account = await st.identity.authenticate(st.store, {"username": username, "password": password})
    if account is None:
        log.info("sign-in refused")
        return render(request, "login.html", None, csrf=info.csrf_token, next=_safe_next(next) or "",
                      error="Wrong user name or password, or the account is disabled.", status_code=401)
    token, _ = await st.sessions.start(account.id, replaces=request.cookies.get(SESSION_COOKIE))
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
                 flight: str | None = None, done: int | None = None) -> HTMLResponse:
    queue = await queries.alert_queue(st.store, st.keyring, sort=sort, flight=flight)
    return render(request, "alerts.html", who, queue=queue, sort=sort, flight=flight or "", done=done)


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
async def hit(request: Request, hit_id: int, st: State, who: Officer, error: str | None = None) -> HTMLResponse:
    detail = await service.hit(st, who, hit_id)
    return render(request, "hit.html", who, d=detail, error=error)


@router.post("/hits/{hit_id}/decision")
async def decision(request: Request, hit_id: int, st: State, who: Officer, decision: Annotated[str, Form()],
                   comment: Annotated[str, Form()] = "") -> Response:
    try:
        await decide(st, hit_id, decision, comment, who)
    except DecisionError as exc:
        return RedirectResponse(f"/hits/{hit_id}?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/alerts?done={hit_id}", status_code=303)


@router.get("/travellers/{ref}", response_class=HTMLResponse)
async def traveller(request: Request, ref: str, st: State, who: Officer) -> HTMLResponse:
    detail = await service.traveller(st, who, ref)
    return render(request, "traveller.html", who, d=detail)


@router.get("/watchlists", response_class=HTMLResponse)
async def watchlists(request: Request, st: State, who: ListManager) -> HTMLResponse:
    page = service.watchlists(st, await st.catalog.uploads())
    return render(request, "watchlists.html", who, page=page, report=None)


@router.post("/watchlists", response_class=HTMLResponse)
async def upload(request: Request, st: State, who: ListManager, file: Annotated[UploadFile, File()]) -> HTMLResponse:
    report = await service.upload(st, who, await file.read(), file.filename)
    page = service.watchlists(st, await st.catalog.uploads())
    return render(request, "watchlists.html", who, page=page, report=report)


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, st: State, who: Auditor) -> HTMLResponse:
    return render(request, "audit.html", who, page=await service.audit(st))


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request, st: State, who: Admin, error: str | None = None,
                     added: str | None = None) -> HTMLResponse:
    return render(request, "users.html", who, users=await users.list_users(st.store), error=error, added=added)


@router.post("/admin/users")
async def users_add(request: Request, st: State, who: Admin, name: Annotated[str, Form()],
                    role: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
    try:
        account = await users.add_user(st.store, name, role, password)
    except AccountError as exc:
        return RedirectResponse(f"/admin/users?error={quote(str(exc))}", status_code=303)
    await st.auditor.record(actor=who.name, action="user_add", subject=f"user:{account.name}",
                            purpose="account management", details={"role": account.role})
    return RedirectResponse(f"/admin/users?added={quote(account.name)}", status_code=303)
