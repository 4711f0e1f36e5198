"""`api-engine serve`: the Kafka service (embedded broker when no cluster is configured).

Strategy: the parent process owns the embedded broker (if any) and supervision; the work happens in
worker processes, one Kafka consumer-group member each, so N workers use N cores the way Kafka
users scale: more partitions, more members. With one worker the loop runs in the parent itself
(one process to watch and to kill). Workers are started with the `spawn` method (no inherited event
loop or sockets) and ask the kernel to SIGTERM them if the parent dies. SIGTERM/SIGINT: the parent
forwards SIGTERM, each worker stops fetching, finishes in-flight records, commits and exits within
`shutdown_timeout_s`; then the parent stops the broker. Logs are key=value lines that carry
references (topic, partition, offset, worker), never personal data.

Nothing may hide a hit, so before anything starts the parent checks that the data directory can be
written (a read-only or full one is a clear error, exit status 2, never a restart loop) and that a
watchlist is loaded: without one it refuses to start unless told to run unscreened
(`--allow-unscreened`), and then says so in every place an operator or officer looks. Outages of the
store or the broker are waited out inside the worker (see `api_engine.service.pipeline`); a worker
that dies anyway is restarted with a capped back-off, at most `worker_restart_limit` times within
`worker_restart_window_s` (then the service exits 1: something needs a person). An embedded broker
that dies is started again on the same port with its topics (its records are gone: memory only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import errno
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from multiprocessing.process import BaseProcess
from pathlib import Path

from prometheus_client import Counter

from api_engine.service.broker import BrokerError, EmbeddedBroker
from api_engine.service.http import HttpServer, IapiEndpoint, create_app
from api_engine.service.lists import request_check
from api_engine.service.pipeline import (
    Health,
    Pipeline,
    PipelineFailure,
    QuietClientDuringOutage,
    backoff_s,
    open_processor,
    run_worker,
    store_fault,
)
from api_engine.service.screening import screening_active
from api_engine.settings import Settings

log = logging.getLogger("api_engine.serve")

_PR_SET_PDEATHSIG = 1
EXIT_CONFIG = 2  # the service cannot run as configured: restarting it would not help

WORKER_RESTARTS = Counter("api_engine_worker_restarts", "Workers restarted after they stopped on a failure")


def configure_logging(worker: int | None = None, level: int = logging.INFO) -> None:
    """key=value lines on stderr; the client libraries only speak up for warnings."""
    tag = f" worker={worker}" if worker is not None else ""
    logging.basicConfig(
        level=level, force=True, stream=sys.stderr,
        format=f"ts=%(asctime)s level=%(levelname)s logger=%(name)s pid=%(process)d{tag} %(message)s",
    )
    for noisy in ("aiokafka", "uvicorn", "kafka", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:  # the outage is logged once, not per reconnect attempt
        handler.addFilter(QuietClientDuringOutage())


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the Kafka service (embedded broker when none is configured)",
                       description="Consume api.inbound, produce acks, alerts, manifests and dead letters.")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: API_ENGINE_WORKERS or 1)")
    p.add_argument("--bootstrap-servers", default=None,
                   help="Kafka bootstrap servers HOST:PORT[,...] (default: start the embedded broker)")
    p.add_argument("--http-port", type=int, default=None, help="first worker's HTTP port (0: any free port)")
    p.add_argument("--group-id", default=None, help="consumer group id (default: API_ENGINE_KAFKA_GROUP_ID)")
    p.add_argument("--allow-unscreened", action="store_true", default=None,
                   help="start even though no watchlist is loaded (nobody is screened; /readyz, the metrics "
                        "and every manifest event say so). Default: refuse to start")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.bootstrap_servers:
        overrides["kafka_bootstrap_servers"] = args.bootstrap_servers
    if args.http_port is not None:
        overrides["http_port"] = args.http_port
    if args.group_id:
        overrides["kafka_group_id"] = args.group_id
    if getattr(args, "allow_unscreened", None):
        overrides["allow_unscreened"] = True
    return Settings(**overrides)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    configure_logging()
    settings = settings_from_args(args)
    if settings.workers < 1:
        print("api-engine serve: --workers must be at least 1", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(_serve(settings))


def _stop_on_signals() -> asyncio.Event:
    """SIGTERM/SIGINT stop; SIGHUP makes the list files be looked at now (api_engine.service.lists)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, request_check)
    return stop


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless stopped first; True when the stop came."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


# -- before anything starts ----------------------------------------------------------------------


def check_data_dir(data_dir: Path) -> str | None:
    """Why the data directory cannot be used (read-only, full, not a directory), or None.

    Probed by writing and syncing a small file, the way the store and the key file will write.
    The message names the directory and the cause, nothing else.
    """
    probe = data_dir / ".write-probe"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * 65536)  # a page's worth: a disk with a few bytes left is full to a database
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                probe.unlink()
    except OSError as exc:
        cause = {errno.EROFS: "is on a read-only file system", errno.EACCES: "is not writable (permission denied)",
                 errno.EPERM: "is not writable (operation not permitted)",
                 errno.ENOSPC: "is on a full disk (no space left on device)",
                 errno.EDQUOT: "is over its disk quota", errno.ENOTDIR: "is not a directory"}.get(
                     exc.errno or 0, f"cannot be written ({errno.errorcode.get(exc.errno or 0, 'error')})")
        return f"the data directory {data_dir} {cause}; set API_ENGINE_DATA_DIR to a writable directory with free space"
    return None


async def _open_checked(settings: Settings, stop: asyncio.Event) -> bool | None:
    """Open the store once (running its migrations before workers race to) and say whether a list is loaded.

    A store that is not reachable yet is waited for; None when stopped meanwhile.
    """
    health = Health("store", 0)
    attempt = 0
    while True:
        try:
            processor = await open_processor(settings)
            break
        except Exception as exc:
            reason = store_fault(exc)
            if reason is None:
                raise
            health.mark_down(reason)
            if await _wait(stop, backoff_s(settings, attempt)):
                return None
            attempt += 1
    health.mark_up()
    try:
        return screening_active(processor.screener)
    finally:
        await processor.close()


async def _serve(settings: Settings) -> int:
    from api_engine.protection.retention import retention_loop

    problem = check_data_dir(settings.data_dir)
    if problem is not None:
        log.error("event=start_refused reason=data_dir_unusable")
        print(f"api-engine serve: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    stop = _stop_on_signals()
    screened = await _open_checked(settings, stop)
    if screened is None:
        return 0
    if not screened and not settings.allow_unscreened:
        log.error("event=start_refused reason=no_watchlist_loaded")
        print("api-engine serve: no watchlist is loaded, so no traveller would be screened and no hit raised. "
              "Name lists with API_ENGINE_WATCHLISTS (comma-separated files), or start with --allow-unscreened "
              "(API_ENGINE_ALLOW_UNSCREENED=true) to run without screening, announced on /readyz, in the "
              "metrics and in every manifest event.", file=sys.stderr)
        return EXIT_CONFIG
    if not screened:
        log.warning("event=unscreened reason=no_watchlist_loaded allowed_by=allow_unscreened")

    stop_retention = asyncio.Event()
    async with EmbeddedBroker(settings) as broker:
        keeper = asyncio.create_task(_keep_broker(broker, settings, stop)) if broker.embedded else None
        retention = asyncio.create_task(retention_loop(settings, stop_retention))
        try:
            if settings.workers == 1:
                return await _run_inline(settings, broker.bootstrap_servers, stop)
            return await _supervise(settings, broker.bootstrap_servers, stop)
        finally:
            stop.set()
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keeper
            stop_retention.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(retention, settings.shutdown_timeout_s)


async def _keep_broker(broker: EmbeddedBroker, settings: Settings, stop: asyncio.Event) -> None:
    """Start the embedded broker again, on the same port and with its topics, if it dies."""
    port = int(broker.bootstrap_servers.rpartition(":")[2])
    attempt = 0
    while not await _wait(stop, 1.0):
        proc = broker.process
        if proc is None or proc.poll() is None:
            continue
        log.error("event=broker_exited status=%s action=restart port=%d", proc.returncode, port)
        broker.stop()
        broker.settings = settings.model_copy(update={"embedded_broker_port": port})
        while not stop.is_set():
            try:
                await broker.start()
                attempt = 0
                break
            except (BrokerError, OSError) as exc:
                log.error("event=broker_restart_failed error=%s", type(exc).__name__)
                if await _wait(stop, backoff_s(settings, attempt)):
                    return
                attempt += 1


class RestartBudget:
    """At most `worker_restart_limit` restarts within `worker_restart_window_s`, with a growing pause."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.times: deque[float] = deque()

    def next_delay(self) -> float | None:
        """The pause before the next restart, or None when the budget is spent."""
        now = time.monotonic()
        while self.times and now - self.times[0] > self.settings.worker_restart_window_s:
            self.times.popleft()
        if len(self.times) >= self.settings.worker_restart_limit:
            return None
        self.times.append(now)
        return max(1.0, backoff_s(self.settings, len(self.times) - 1))


# -- one worker ----------------------------------------------------------------------------------


async def serve_worker(settings: Settings, bootstrap_servers: str, index: int,
                       stop: asyncio.Event | None = None) -> int:
    """Run one pipeline with its HTTP endpoints until `stop` (default: SIGTERM/SIGINT); exit status 0 or 1."""
    stop = stop if stop is not None else _stop_on_signals()
    port = settings.http_port + index if settings.http_port else 0
    holder: dict[str, HttpServer] = {}

    async def started(pipeline: Pipeline) -> None:
        def details() -> dict[str, object]:
            return {"worker": index, "partitions": sorted(tp.partition for tp in pipeline.assignment()),
                    **pipeline.status()}
        iapi = IapiEndpoint(processor=lambda: pipeline.processor,
                            emit=pipeline.emit_outputs, can_emit=lambda: pipeline.producer is not None,
                            max_bytes=settings.max_record_bytes)
        holder["http"] = server = HttpServer(create_app(lambda: pipeline.ready, details, iapi), settings.http_host,
                                             port, certfile=settings.http_tls_certfile,
                                             keyfile=settings.http_tls_keyfile)
        bound = await server.start()
        log.info("event=worker_started worker=%d http=%s:%d inbound=%s group=%s", index, settings.http_host,
                 bound, settings.topics.inbound, settings.kafka_group_id)

    task = asyncio.create_task(run_worker(settings, bootstrap_servers, worker=index, on_start=started, stop=stop))
    status = 0
    try:
        done, _ = await asyncio.wait({task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:  # stop requested: the pipeline drains and commits within the bound
            log.info("event=shutdown_requested worker=%d", index)
            await asyncio.wait_for(asyncio.shield(task), settings.shutdown_timeout_s)
        task.result()
    except PipelineFailure:
        status = 1
    except TimeoutError:
        log.error("event=shutdown_timeout worker=%d bound_s=%.1f", index, settings.shutdown_timeout_s)
        task.cancel()
        status = 1
    except Exception as exc:  # anything else that stopped the worker: the supervisor decides
        log.error("event=worker_failed worker=%d error=%s", index, type(exc).__name__)
        status = 1
    finally:
        if "http" in holder:
            await holder["http"].stop()
    return status


async def _run_inline(settings: Settings, bootstrap_servers: str, stop: asyncio.Event) -> int:
    """The one worker in this process, restarted in place (bounded, with back-off) when it fails."""
    budget = RestartBudget(settings)
    while True:
        status = await serve_worker(settings, bootstrap_servers, 0, stop)
        if stop.is_set() or status == 0:
            return status
        delay = budget.next_delay()
        if delay is None:
            log.error("event=worker_restarts_exhausted worker=0 restarts=%d window_s=%.0f action=exit",
                      settings.worker_restart_limit, settings.worker_restart_window_s)
            return 1
        log.error("event=worker_exited worker=0 status=%d action=restart delay_s=%.1f", status, delay)
        WORKER_RESTARTS.inc()
        if await _wait(stop, delay):
            return 0


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM us when the parent dies (a SIGKILLed parent cannot forward anything)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_process(settings: Settings, bootstrap_servers: str, index: int, parent_pid: int) -> None:
    configure_logging(index)
    _die_with_parent(parent_pid)
    sys.exit(asyncio.run(serve_worker(settings, bootstrap_servers, index)))


# -- the supervisor ------------------------------------------------------------------------------


async def _supervise(settings: Settings, bootstrap_servers: str, stop: asyncio.Event) -> int:
    ctx = multiprocessing.get_context("spawn")

    def spawn(index: int) -> BaseProcess:
        proc = ctx.Process(target=_worker_process, name=f"api-engine-worker-{index}",
                           args=(settings, bootstrap_servers, index, os.getpid()))
        proc.start()
        log.info("event=worker_spawned worker=%d pid=%s", index, proc.pid)
        return proc

    procs = {i: spawn(i) for i in range(settings.workers)}

    def forward_hangup() -> None:  # each worker looks at its list files now
        log.info("event=signal_forwarded signal=SIGHUP workers=%d", len(procs))
        for proc in procs.values():
            if proc.exitcode is None and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGHUP)

    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, forward_hangup)
    budgets = {i: RestartBudget(settings) for i in procs}
    restart_at: dict[int, float] = {}  # worker -> monotonic time of its restart
    status = 0
    while not stop.is_set():
        await _wait(stop, 0.5)
        for i, proc in list(procs.items()):
            if stop.is_set():
                break
            if i in restart_at:
                if time.monotonic() >= restart_at[i]:
                    del restart_at[i]
                    WORKER_RESTARTS.inc()
                    procs[i] = spawn(i)
                continue
            if proc.exitcode is None:
                continue
            delay = budgets[i].next_delay()
            if delay is None:
                log.error("event=worker_restarts_exhausted worker=%d restarts=%d window_s=%.0f action=exit", i,
                          settings.worker_restart_limit, settings.worker_restart_window_s)
                status = 1
                stop.set()
                break
            log.error("event=worker_exited worker=%d status=%s action=restart delay_s=%.1f", i, proc.exitcode, delay)
            restart_at[i] = time.monotonic() + delay

    log.info("event=shutdown_requested workers=%d", len(procs))
    for proc in procs.values():
        if proc.exitcode is None and proc.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + settings.shutdown_timeout_s + 2
    for i, proc in procs.items():
        await asyncio.to_thread(proc.join, max(0.1, deadline - time.monotonic()))
        if proc.exitcode is None:
            log.error("event=worker_killed worker=%d reason=shutdown_timeout", i)
            proc.kill()
            await asyncio.to_thread(proc.join)
            status = 1
        elif proc.exitcode != 0 and i not in restart_at:
            status = 1
    return status
