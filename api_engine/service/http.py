"""Operations endpoints of one worker: /healthz, /readyz and Prometheus /metrics.

Strategy: every worker process serves its own small FastAPI app with uvicorn inside its own event
loop, on `http_port + worker index` (port 0 picks a free port per worker). Prometheus scrapes each
worker as a separate target, which is how multi-process Python services are normally scraped, and
keeps the metrics registry per process (no shared files, no aggregation step that could lie).
The server never installs signal handlers: the worker owns SIGTERM/SIGINT and stops it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def create_app(is_ready: Callable[[], bool], details: Callable[[], dict[str, object]] | None = None) -> FastAPI:
    """`is_ready` says whether the consumer joined its group and the processor is open."""
    app = FastAPI(title="api-engine worker", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = is_ready()
        body: dict[str, object] = {"status": "ready" if ready else "not ready"}
        if details is not None:
            body.update(details())
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the worker handles signals itself


class HttpServer:
    """uvicorn in the current event loop; `port` is the bound port once started."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off")
        self.server = _Server(config)
        self.port = port
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # re-raise a bind failure
                raise RuntimeError("HTTP server stopped before starting")
            await asyncio.sleep(0.01)
        for server in self.server.servers:
            for sock in server.sockets:
                self.port = int(sock.getsockname()[1])
        return self.port

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
