"""`api-engine console`: serve the border police console (FastAPI under uvicorn).

Strategy: the console reads the same Settings as the service (database, lists, host and port) and
runs its own migrations on start, so it can run beside `api-engine serve` on the same database.
Logs are key=value lines naming paths and statuses; request bodies are never logged.
"""

from __future__ import annotations

import argparse
import logging
import sys

from api_engine.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("console", help="serve the web console (alerts, flights, decisions, lists, audit)",
                       description="Serve the border police console. Create accounts first: api-engine users add.")
    p.add_argument("--host", default=None, help="bind address (default: API_ENGINE_HTTP_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: API_ENGINE_HTTP_PORT or 8080)")
    p.add_argument("--secure-cookies", action="store_true", help="mark the session cookie Secure (behind TLS)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api_engine.console import ConsoleConfig, create_app

    settings = Settings()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    app = create_app(settings, config=ConsoleConfig(cookie_secure=args.secure_cookies))
    uvicorn.run(app, host=args.host or settings.http_host, port=args.port if args.port is not None
                else settings.http_port, log_level="info", timeout_graceful_shutdown=3, proxy_headers=False)
    return 0
