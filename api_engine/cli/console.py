"""`api-engine console`: serve the border police console (FastAPI under uvicorn).

Strategy: the console reads the same Settings as the service (database, lists, host and port) and
runs its own migrations on start, so it can run beside `api-engine serve` on the same database.
Passwords and session cookies must not cross a network in clear text: bound to anything but
loopback it serves TLS (`--certfile/--keyfile`, cookies then marked Secure) or refuses to start,
unless told `--insecure-http` (for a TLS-terminating proxy on the same host or network), which it
answers with a loud warning. Logs are key=value lines naming paths and statuses; request bodies
are never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys

from api_engine.cli.options import add_store_options, store_settings
from api_engine.settings import Settings

log = logging.getLogger("api_engine.console")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("console", help="serve the web console (alerts, flights, decisions, lists, audit)",
                       description="Serve the border police console. Create accounts first: api-engine users add. "
                                   "Beyond loopback it needs TLS (--certfile/--keyfile) or --insecure-http.")
    add_store_options(p)
    p.add_argument("--host", default=None, help="bind address (default: API_ENGINE_HTTP_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: API_ENGINE_HTTP_PORT or 8080)")
    p.add_argument("--certfile", default=None, help="TLS certificate chain (PEM); serves HTTPS with --keyfile")
    p.add_argument("--keyfile", default=None, help="TLS private key (PEM)")
    p.add_argument("--insecure-http", action="store_true",
                   help="serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the session cookie Secure (behind a TLS proxy; implied by --certfile)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


async def _check_keyring(settings: Settings) -> None:
    from api_engine.protection.crypto import check_keyring, keyring_from_settings
    from api_engine.store import Store

    store = await Store.open(settings.effective_database_url)
    try:
        await check_keyring(store, keyring_from_settings(settings))
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    settings = store_settings(args)
    host = args.host or settings.http_host
    port = args.port if args.port is not None else settings.http_port
    if bool(args.certfile) != bool(args.keyfile):
        print("error: --certfile and --keyfile go together", file=sys.stderr)
        return 2
    for path in (args.certfile, args.keyfile):
        if path and not os.access(path, os.R_OK):
            print(f"error: cannot read {path}", file=sys.stderr)
            return 2
    tls = bool(args.certfile)
    if not tls and not is_loopback(host) and not args.insecure_http:
        print(f"error: refusing to serve plain HTTP on {host}: passwords and session cookies would cross the "
              "network unencrypted. Give --certfile and --keyfile to serve HTTPS, or --insecure-http if a "
              "TLS-terminating proxy is in front (then also --secure-cookies).", file=sys.stderr)
        return 2

    import uvicorn

    from api_engine.console import ConsoleConfig, create_app

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    if not tls and not is_loopback(host):
        banner = "!" * 100
        log.warning("%s", banner)
        log.warning("INSECURE: serving the console over plain HTTP on %s:%d (--insecure-http). Passwords and "
                    "session cookies cross the network in clear text unless a TLS proxy is in front.", host, port)
        log.warning("%s", banner)
    asyncio.run(_check_keyring(settings))  # another host's keyring: exit 1 with the remedy, before serving
    app = create_app(settings, config=ConsoleConfig(cookie_secure=args.secure_cookies or tls))
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=3, proxy_headers=False,
                ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    return 0
