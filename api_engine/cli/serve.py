"""`api-engine serve`: the Kafka service (embedded broker when no cluster is configured).

Strategy: the parent process owns the embedded broker (if any) and supervision; the work happens in
worker processes, one Kafka consumer-group member each, so N workers use N cores the way Kafka
users scale: more partitions, more members. With one worker the loop runs in the parent itself
(one process to watch and to kill). Workers are started with the `spawn` method (no inherited event
loop or sockets), ask the kernel to SIGTERM them if the parent dies, and are restarted after a
short pause if they fail (records are replayed, outputs are idempotent). SIGTERM/SIGINT: the
parent forwards SIGTERM, each worker stops fetching, finishes in-flight records, commits and exits
within `shutdown_timeout_s`; then the parent stops the broker. Logs are key=value lines that carry
references (topic, partition, offset, worker), never personal data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.process import BaseProcess

from api_engine.service.broker import EmbeddedBroker
from api_engine.service.http import HttpServer, create_app
from api_engine.service.pipeline import Pipeline, PipelineFailure, open_processor, run_worker
from api_engine.settings import Settings

log = logging.getLogger("api_engine.serve")

RESTART_DELAY_S = 1.0
_PR_SET_PDEATHSIG = 1


def configure_logging(worker: int | None = None, level: int = logging.INFO) -> None:
    """key=value lines on stderr; the client libraries only speak up for warnings."""
    tag = f" worker={worker}" if worker is not None else ""
    logging.basicConfig(
        level=level, force=True, stream=sys.stderr,
        format=f"ts=%(asctime)s level=%(levelname)s logger=%(name)s pid=%(process)d{tag} %(message)s",
    )
    for noisy in ("aiokafka", "uvicorn", "kafka", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the Kafka service (embedded broker when none is configured)",
                       description="Consume api.inbound, produce acks, alerts, manifests and dead letters.")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: API_ENGINE_WORKERS or 1)")
    p.add_argument("--bootstrap-servers", default=None,
                   help="Kafka bootstrap servers HOST:PORT[,...] (default: start the embedded broker)")
    p.add_argument("--http-port", type=int, default=None, help="first worker's HTTP port (0: any free port)")
    p.add_argument("--group-id", default=None, help="consumer group id (default: API_ENGINE_KAFKA_GROUP_ID)")
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
    return Settings(**overrides)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    configure_logging()
    settings = settings_from_args(args)
    if settings.workers < 1:
        print("api-engine serve: --workers must be at least 1", file=sys.stderr)
        return 2
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    from api_engine.protection.retention import retention_loop

    stop_retention = asyncio.Event()
    async with EmbeddedBroker(settings) as broker:
        # Open (and close) the store once here so its migrations run before workers and the retention
        # clock race to run them.
        await (await open_processor(settings)).close()
        retention = asyncio.create_task(retention_loop(settings, stop_retention))
        try:
            if settings.workers == 1:
                return await serve_worker(settings, broker.bootstrap_servers, 0)
            return await _supervise(settings, broker.bootstrap_servers)
        finally:
            stop_retention.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(retention, settings.shutdown_timeout_s)


# -- one worker ----------------------------------------------------------------------------------


async def serve_worker(settings: Settings, bootstrap_servers: str, index: int) -> int:
    """Run one pipeline with its HTTP endpoints until SIGTERM/SIGINT; exit status 0 or 1."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = settings.http_port + index if settings.http_port else 0
    holder: dict[str, HttpServer] = {}

    async def started(pipeline: Pipeline) -> None:
        app = create_app(lambda: pipeline.ready,
                         lambda: {"worker": index, "partitions": sorted(tp.partition for tp in pipeline.assignment())})
        holder["http"] = server = HttpServer(app, settings.http_host, port)
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
    finally:
        if "http" in holder:
            await holder["http"].stop()
    return status


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


async def _supervise(settings: Settings, bootstrap_servers: str) -> int:
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def spawn(index: int) -> BaseProcess:
        proc = ctx.Process(target=_worker_process, name=f"api-engine-worker-{index}",
                           args=(settings, bootstrap_servers, index, os.getpid()))
        proc.start()
        log.info("event=worker_spawned worker=%d pid=%s", index, proc.pid)
        return proc

    procs = {i: spawn(i) for i in range(settings.workers)}
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        for i, proc in list(procs.items()):
            if not stop.is_set() and proc.exitcode is not None:
                log.error("event=worker_exited worker=%d status=%s action=restart", i, proc.exitcode)
                await asyncio.sleep(RESTART_DELAY_S)
                procs[i] = spawn(i)

    log.info("event=shutdown_requested workers=%d", len(procs))
    for proc in procs.values():
        if proc.exitcode is None and proc.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + settings.shutdown_timeout_s + 2
    status = 0
    for i, proc in procs.items():
        await asyncio.to_thread(proc.join, max(0.1, deadline - time.monotonic()))
        if proc.exitcode is None:
            log.error("event=worker_killed worker=%d reason=shutdown_timeout", i)
            proc.kill()
            await asyncio.to_thread(proc.join)
            status = 1
        elif proc.exitcode != 0:
            status = 1
    return status
