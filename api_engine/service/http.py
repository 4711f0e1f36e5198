"""Endpoints of one worker: /healthz, /readyz, Prometheus /metrics, and the HTTPS iAPI endpoint.

Strategy: every worker process serves its own small FastAPI app with uvicorn inside its own event
loop, on `http_port + worker index` (port 0 picks a free port per worker). Prometheus scrapes each
worker as a separate target, which is how multi-process Python services are normally scraped, and
keeps the metrics registry per process (no shared files, no aggregation step that could lie).
The server never installs signal handlers: the worker owns SIGTERM/SIGINT and stops it in order.

`POST /iapi/v1/paxlst` (`IapiEndpoint`) is the synchronous transport for departure-control systems that
cannot use Kafka: the body is the EDIFACT request, the answer the CUSRES 962. The carrier presents a
bearer token (`api-engine carriers add`) bound to one UNB sender id; the request goes through the same
`Processor.process` as a Kafka record (same store, idempotency and outputs, source "https"), and every
output (ack, alerts, manifests, dead letters) is produced to Kafka through the worker's producer and
acknowledged BEFORE the carrier is answered. Kafka records are replayed from their uncommitted offset
after a crash; an HTTP request has no offset, so producing first is what keeps a crash between answer
and produce from losing an alert: a carrier that got no answer resends (after 10 s, by DCS practice),
the resend is answered from the store and its outputs produced again with the same event ids.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

if TYPE_CHECKING:
    from api_engine.service.carriers import CarrierTokens
    from api_engine.service.processor import OutputEvent, Processor

log = logging.getLogger("api_engine.service.http")

IAPI_PATH = "/iapi/v1/paxlst"
EDIFACT = "application/edifact"
_ACCEPTED_TYPES = frozenset({EDIFACT, "text/plain"})
RETRY_AFTER_S = 2

IAPI_REQUESTS = Counter("api_engine_iapi_http_requests", "HTTPS iAPI requests answered, by status", ["status"])
IAPI_SECONDS = Histogram("api_engine_iapi_http_seconds", "HTTPS iAPI request to answer (processed requests)",
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def _answer(status: int, body: bytes | str, *, media_type: str = "text/plain; charset=utf-8",
            headers: dict[str, str] | None = None) -> Response:
    IAPI_REQUESTS.labels(str(status)).inc()
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _unauthorized(token_given: bool) -> Response:
    challenge = 'Bearer realm="api-engine iapi"' + (', error="invalid_token"' if token_given else "")
    return _answer(401, "a valid carrier bearer token is required\n", headers={"WWW-Authenticate": challenge})


def _unavailable(why: str) -> Response:
    return _answer(503, f"{why}; retry later\n", headers={"Retry-After": str(RETRY_AFTER_S)})


@dataclass
class IapiEndpoint:
    """What `POST /iapi/v1/paxlst` needs from its worker.

    `processor`: the worker's processor, None until it is open (then 503). `emit`: produce output events
    and wait for the broker's acknowledgement (the pipeline's own producer); `can_emit`: whether it has
    one yet. `emit_timeout_s` bounds the wait for a broker that does not answer: the carrier waits about
    4 s, so past it the request is answered 503 and its resend produces the outputs again.
    """

    processor: Callable[[], object | None]  # an api_engine.service.processor.Processor once open
    emit: Callable[[Sequence[OutputEvent]], Awaitable[None]]
    can_emit: Callable[[], bool]
    max_bytes: int
    emit_timeout_s: float = 3.0
    _tokens: tuple[object, CarrierTokens] | None = field(default=None, init=False, repr=False)
    _late: set[asyncio.Future[Any]] = field(default_factory=set, init=False, repr=False)  # past the budget

    def tokens(self, processor: Processor) -> CarrierTokens:
        from api_engine.service.carriers import CarrierTokens

        if self._tokens is None or self._tokens[0] is not processor.store:
            self._tokens = (processor.store, CarrierTokens(processor.store))
        return self._tokens[1]

    async def __call__(self, request: Request) -> Response:
        from api_engine.service.pipeline import store_fault

        started = time.perf_counter()
        processor = cast("Processor | None", self.processor())
        if processor is None or not self.can_emit():
            return _unavailable("the worker is starting")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _unauthorized(False)
        try:
            found = await self.tokens(processor).carrier_of(token)
        except Exception as exc:
            if store_fault(exc) is None:
                raise
            return _unavailable("the store is not reachable")
        if found is None:
            return _unauthorized(True)
        carrier, token_id = found
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media not in _ACCEPTED_TYPES:
            return _answer(415, f"the request must be {EDIFACT} (or text/plain)\n")
        value = await self._body(request)
        if value is None:
            return _answer(413, f"the request is over {self.max_bytes:,} bytes (API_ENGINE_MAX_RECORD_BYTES)\n")
        refused = self._refusal(value, carrier, token_id)
        if refused is not None:
            return refused
        work = asyncio.ensure_future(self._processed(processor, value, carrier, token_id, started))
        policy = processor.profile.iapi
        left = policy.answer_budget_ms / 1000 - (time.perf_counter() - started)
        done, _ = await asyncio.wait({work}, timeout=max(0.0, left))
        if work in done:
            return work.result()
        from api_engine.service.iapi import IAPI_FALLBACKS, fallback_event
        from api_engine.service.prepare import record_id

        fallback = fallback_event(value, record_id(value, carrier.encode(), "https"), policy,
                                  interactive=processor.profile.interactive)
        if fallback is None:  # not an iAPI request: acknowledged when done, like a Kafka record
            return await work
        # Over budget: the carrier gets the fallback now; the request is still processed and produced, and a
        # resend of it is answered with the screened answer.
        self._late.add(work)
        work.add_done_callback(self._late_done)
        IAPI_FALLBACKS.labels("https").inc()
        log.warning("event=iapi_fallback transport=https sender=%s token=%s budget_ms=%d status=%s",
                    carrier, token_id, policy.answer_budget_ms, policy.fallback.code)
        self._late.add(emitted := asyncio.ensure_future(self._deliver([fallback])))
        emitted.add_done_callback(self._late_done)
        return _answer(200, base64.b64decode(json.loads(fallback.value)["cusres_base64"]), media_type=EDIFACT)

    def _late_done(self, work: asyncio.Future[Any]) -> None:
        self._late.discard(work)
        if not work.cancelled() and work.exception() is not None:
            log.error("event=iapi_late_answer_failed error=%s", type(work.exception()).__name__)

    async def _processed(self, processor: Processor, value: bytes, carrier: str, token_id: str,
                         started: float) -> Response:
        """The request processed and its outputs produced: the answer, or 503 if either could not be done."""
        from api_engine.service.pipeline import store_fault

        try:
            outputs = await processor.process(value, key=carrier.encode(), source="https",
                                              identity=self._identity(processor, carrier))
        except Exception as exc:
            if store_fault(exc) is None:
                raise
            return _unavailable("the store is not reachable")
        if not await self._deliver(outputs):
            log.warning("event=iapi_http_outputs_pending sender=%s token=%s outputs=%d action=answer_503",
                        carrier, token_id, len(outputs))
            return _unavailable("the answer is stored but could not be delivered to the broker")
        IAPI_SECONDS.observe(time.perf_counter() - started)
        return self._reply(outputs)

    async def _body(self, request: Request) -> bytes | None:
        """The body, or None when it is over the limit (read no further than one byte past it)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _refusal(self, value: bytes, carrier: str, token_id: str) -> Response | None:
        """403 with a negative CONTRL (0085 = 23, as the Kafka path refuses a sender that is not bound) when
        the UNB sender is not the token's carrier; nothing of the request is stored or produced then.
        A request without a readable UNB is left to the processor: it is malformed (400, CONTRL)."""
        from api_engine.service.iapi import read_unb

        header = read_unb(value)
        if header is None or header.sender is None or header.sender == carrier:
            return None
        from api_engine.service.prepare import record_id
        from api_engine.service.senders import SenderBinding
        from parsers import Interchange
        from parsers.contrl import write_contrl

        finding = SenderBinding({carrier: frozenset({carrier})}, {}, None).refusal(carrier, header.sender)
        assert finding is not None
        contrl = write_contrl(Interchange(header=header, findings=[finding]),
                              control_ref=record_id(value, carrier.encode(), "https")[:14])
        log.warning("event=iapi_http_refused reason=sender_not_token_carrier sender=%s carrier=%s token=%s",
                    header.sender, carrier, token_id)
        return _answer(403, contrl, media_type=EDIFACT)

    @staticmethod
    def _identity(processor: Processor, carrier: str) -> str:
        """The identity the sender binding (if any) knows this carrier by: the token has already proved that
        the request comes from the carrier sending as `carrier`, so any identity bound to it is the carrier's.
        A carrier the binding does not know is refused by the processor (403, its CONTRL 23)."""
        binding = processor.binding
        if binding is None:
            return carrier
        return next((who for who in sorted(binding.senders) if carrier in binding.senders[who]), carrier)

    async def _deliver(self, outputs: Sequence[OutputEvent]) -> bool:
        """Produce the outputs, waiting out a broker that does not answer for at most `emit_timeout_s`."""
        from api_engine.service.pipeline import broker_fault

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.emit_timeout_s
        attempt = 0
        while True:
            left = deadline - loop.time()
            try:
                await asyncio.wait_for(self.emit(outputs), max(0.05, left))
                return True
            except Exception as exc:
                if not isinstance(exc, TimeoutError) and broker_fault(exc) is None:
                    raise
            pause = min(0.1 * 2 ** attempt, deadline - loop.time())
            if pause <= 0:
                return False
            await asyncio.sleep(pause)
            attempt += 1

    @staticmethod
    def _reply(outputs: Sequence[OutputEvent]) -> Response:
        """The CUSRES (a refused request gets a header-level one, ERP+1), else the CONTRL; 400 when malformed,
        403 when the sender binding refused it, else 200 (a request that is not interactive is acknowledged
        like a Kafka record)."""
        ack: dict[str, Any] = next(json.loads(o.value) for o in outputs if o.kind == "acks")
        body = base64.b64decode(ack.get("cusres_base64") or ack["contrl_base64"])
        rules = [r for o in outputs if o.kind == "dlq" for r in json.loads(o.value).get("rules") or ()]
        if any(str(r).startswith("ENV-SENDER-") for r in rules):
            return _answer(403, body, media_type=EDIFACT)
        return _answer(400 if any(o.kind == "dlq" for o in outputs) else 200, body, media_type=EDIFACT)


def create_app(is_ready: Callable[[], bool], details: Callable[[], dict[str, object]] | None = None,
               iapi: IapiEndpoint | None = None) -> FastAPI:
    """`is_ready` says whether the consumer joined its group and the processor is open; `iapi` (optional)
    serves `POST /iapi/v1/paxlst`."""
    app = FastAPI(title="api-engine worker", docs_url=None, redoc_url=None, openapi_url=None)

    if iapi is not None:
        @app.post(IAPI_PATH, include_in_schema=False)
        async def iapi_paxlst(request: Request) -> Response:
            return await iapi(request)

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

    def __init__(self, app: FastAPI, host: str, port: int, *, certfile: Path | str | None = None,
                 keyfile: Path | str | None = None) -> None:
        """With `certfile` and `keyfile` (PEM) it serves HTTPS: carriers' tokens must not cross a network in clear."""
        if bool(certfile) != bool(keyfile):
            raise ValueError("the HTTP TLS certificate and key go together (http_tls_certfile, http_tls_keyfile)")
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off", ssl_certfile=str(certfile) if certfile else None,
                                ssl_keyfile=str(keyfile) if keyfile else None)
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
