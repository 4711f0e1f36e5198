"""The border police console: a FastAPI app with server-rendered pages and a JSON API (issue 7).

Strategy: `create_app(settings)` is the only entry point; `api_engine.cli.console` serves it with
uvicorn. Modules: auth (accounts, sessions, CSRF, roles), queries (read side), decisions,
catalog (watchlists), auditing (door to api_engine.protection.audit), service (shared operations), api and
pages (the two front doors), app (assembly).
"""

from .app import create_app
from .state import ConsoleConfig

__all__ = ["ConsoleConfig", "create_app"]
