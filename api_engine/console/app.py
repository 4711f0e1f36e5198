"""The console's FastAPI application: lifespan, error mapping, security headers, static files.

Strategy: `create_app(settings)` opens its own store (running migrations) and loads the lists in
its lifespan; tests may hand in a store. Errors map one way for /api (JSON 401/403/503) and
another for pages (redirect to sign-in, an HTML 403/503 page), so a browser never shows raw JSON
and a script never has to parse HTML. Headers forbid framing, inline scripts and caching of
pages that may show personal data. Request logs carry method, path and status only; paths name
references (hit ids, manifest uids), never people.
A request with a body is refused before the body is read unless someone is signed in (the sign-in
form excepted, and its body is capped): a stranger cannot make the console parse or spool an upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_engine.protection.crypto import check_keyring, keyring_from_settings
from api_engine.settings import Settings
from api_engine.store import Store

from .auditing import Auditor, AuditUnavailable
from .auth import (
    CsrfRejected,
    Forbidden,
    IdentityProvider,
    LocalPasswords,
    NotSignedIn,
    Sessions,
    SignInGuard,
    console_secret,
    current_session,
)
from .catalog import Catalog
from .decisions import DecisionError
from .state import PACKAGE_DIR, ConsoleConfig, ConsoleState, StreamLimiter, TooManyStreams
from .users import AccountError

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


SIGN_IN_BODY_LIMIT = 16 * 1024  # a user name, a password, a CSRF token and a path: far below this


class SignedInBodies:
    """Answers a request with a body before reading it unless its session is signed in (401 for /api,
    a redirect to sign-in for pages); the sign-in form may send a small url-encoded body only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if scope["path"] == "/login":
            refusal = _sign_in_body_refusal(request)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await self.app(scope, _capped(receive, SIGN_IN_BODY_LIMIT), send)
            return
        info = await current_session(request)  # cached in the request state for the route's gate
        if info is None or info.principal is None:
            if _is_api(request):
                response: Response = JSONResponse({"detail": "sign in first"}, status_code=401,
                                                  headers={"Connection": "close"})
            else:
                response = RedirectResponse("/login", status_code=303, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _sign_in_body_refusal(request: Request) -> Response | None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return JSONResponse({"detail": "the sign-in form is sent url-encoded"}, status_code=415,
                            headers={"Connection": "close"})
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > SIGN_IN_BODY_LIMIT):
        return JSONResponse({"detail": "the sign-in form is too large"}, status_code=413,
                            headers={"Connection": "close"})
    return None


def _capped(receive: Receive, limit: int) -> Receive:
    """A body without a declared length (chunked) is cut off at `limit`: the form then fails to parse."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.request", "body": b"", "more_body": False}
        return message

    return wrapped


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _page_error(request: Request, status: int, title: str, message: str) -> Response:
    info = await current_session(request)
    st: ConsoleState = request.app.state.console
    nav_who = info.principal if info is not None else None
    from .pages import render

    if nav_who is None:
        return st.templates.TemplateResponse(request, "error.html", {"me": None, "nav": [], "title": title,
                                                                     "message": message, "path": ""},
                                             status_code=status)
    return render(request, "error.html", nav_who, status_code=status, title=title, message=message)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=403)
        return await _page_error(request, 403, "Not for your role", exc.detail)

    @app.exception_handler(CsrfRejected)
    async def csrf(request: Request, exc: CsrfRejected) -> Response:
        message = "the request did not carry this session's CSRF token; reload the page and try again"
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=403)
        return await _page_error(request, 403, "Request refused", message)

    @app.exception_handler(AuditUnavailable)
    async def audit_down(request: Request, exc: AuditUnavailable) -> Response:
        message = f"{exc}: this action must be audited, so it was not carried out"
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=503)
        return await _page_error(request, 503, "Audit trail unavailable", message)

    @app.exception_handler(DecisionError)
    async def decision_error(request: Request, exc: DecisionError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(TooManyStreams)
    async def too_many_streams(request: Request, exc: TooManyStreams) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "5"})

    @app.exception_handler(AccountError)
    async def account_error(request: Request, exc: AccountError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return await _page_error(request, exc.status_code, f"Error {exc.status_code}", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # The errors name the fields, never echo their values (a comment or reason may hold personal data).
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        if _is_api(request):
            return JSONResponse({"detail": errors}, status_code=422)
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors)
        return await _page_error(request, 422, "Please complete the form", text)


def create_app(settings: Settings, *, store: Store | None = None, config: ConsoleConfig | None = None,
               identity: IdentityProvider | None = None) -> FastAPI:
    """The console app; without `store` it opens (and closes) the settings' database itself."""
    cfg = config or ConsoleConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        st_store = store if store is not None else await Store.open(settings.effective_database_url)
        try:
            catalog = Catalog(st_store, cfg.list_dir or settings.data_dir / "watchlists")
            await catalog.load_all(list(settings.watchlists))
            keyring = keyring_from_settings(settings)
            await check_keyring(st_store, keyring)  # a console with other keys would show nothing it can read
            secret = console_secret(keyring.pseudonym_key)
            provider, auditor = identity or LocalPasswords(), Auditor(st_store)
            app.state.console = ConsoleState(
                settings=settings, config=cfg, store=st_store, sessions=Sessions(st_store, secret),
                identity=provider, auditor=auditor, catalog=catalog, templates=_templates(), keyring=keyring,
                guard=SignInGuard(st_store, provider, auditor, secret, cfg.signin),
                streams=StreamLimiter(cfg.streams_per_session, cfg.streams_per_account))
            yield
        finally:
            if own:
                await st_store.close()

    app = FastAPI(title="api-engine console", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Border police console: alert queue, flights, hit explanations and decisions, "
                              "watchlists, audit. Sign in at /login; send X-CSRF-Token (GET /api/me) on POST.")
    from . import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    app.add_middleware(SignedInBodies)  # inside SecurityHeaders, so its refusals carry the headers too
    app.add_middleware(SecurityHeaders)
    _install_handlers(app)
    return app


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
    templates.env.filters["pct"] = _pct
    return templates


def _pct(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "—"
