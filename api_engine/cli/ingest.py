"""`api-engine ingest FILE|DIR ...`: the service's processing without Kafka, for file drops and batches.

Strategy: the same `Processor` the Kafka shell uses, fed one file per record (source
"file:<path>", key = file name), so a file ingested twice is a replay (same outputs, same ids)
and the same interchange under another name is a recognised duplicate. Results go to the store;
with `--out DIR` every output event is also appended as one JSON line to a file named after its
topic (api.acks.jsonl, border.alerts.jsonl, border.manifests.jsonl, api.dlq.jsonl).
Exit status: 0 all processed, 1 any dead letter, 2 usage problems.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from api_engine.cli.options import add_store_options, store_settings
from api_engine.cli.parse import UsageError, expand_inputs
from api_engine.service.events import OutputEvent
from api_engine.settings import Settings

EXIT_OK, EXIT_DEAD_LETTERS, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ingest", help="process EDIFACT files into the store (no Kafka)",
                       description="Process API files exactly as the service would; results go to the store.")
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="files, or directories of files")
    p.add_argument("--out", type=Path, metavar="DIR", help="also write the output events as JSON Lines per topic")
    add_store_options(p)
    p.add_argument("--identity", metavar="NAME",
                   help="the carrier identity that delivered these files, as authenticated by the drop "
                        "(checked against API_ENGINE_SENDER_BINDING; docs/carrier-identity.md)")
    p.add_argument("--profile", help="country profile (default: API_ENGINE_PROFILE or baseline)")
    p.set_defaults(func=run)


async def ingest(files: list[str], settings: Settings, out: Path | None,
                 identity: str | None = None) -> Counter[str]:
    """Process every file in order; returns counts by output kind plus 'files' and 'replays'."""
    from api_engine.service.pipeline import tune_gc
    from api_engine.service.processor import Processor

    topics = settings.topics
    names = {"acks": topics.acks, "alerts": topics.alerts, "manifests": topics.manifests, "dlq": topics.dlq}
    counts: Counter[str] = Counter()
    processor = await Processor.open(settings)
    tune_gc()
    handles: dict[str, Any] = {}
    try:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = Path(name)
            value, key, source = path.read_bytes(), path.name.encode(), f"file:{path.resolve()}"
            if await processor.seen(value, key=key, source=source, identity=identity):
                counts["replays"] += 1
            events: list[OutputEvent] = await processor.process(value, key=key, source=source, identity=identity)
            counts["files"] += 1
            for e in events:
                counts[e.kind] += 1
                if e.kind == "acks" and json.loads(e.value).get("duplicate"):
                    counts["duplicates"] += 1
                if out is not None:
                    fh = handles.get(e.kind)
                    if fh is None:
                        fh = handles[e.kind] = (out / f"{names[e.kind]}.jsonl").open("a", encoding="utf-8")
                    fh.write(e.value.decode() + "\n")
    finally:
        for fh in handles.values():
            fh.close()
        await processor.close()
    return counts


def run(args: argparse.Namespace) -> int:
    try:
        files = expand_inputs(args.inputs)
        if "-" in files:
            raise UsageError("ingest reads files, not standard input")
        settings = store_settings(args)
    except (UsageError, ValueError) as exc:
        print(f"api-engine ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        counts = asyncio.run(ingest(files, settings, args.out, getattr(args, "identity", None)))
    except Exception as exc:  # configuration problems (profile, list, database) are the caller's to fix
        print(f"api-engine ingest: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    replayed = f", {counts['replays']} seen before (stored outputs re-emitted)" if counts["replays"] else ""
    print(f"{counts['files']} file(s){replayed}: {counts['acks']} ack(s) ({counts['duplicates']} duplicate), "
          f"{counts['manifests']} manifest(s), {counts['alerts']} alert(s), {counts['dlq']} dead letter(s)")
    print(f"store: {settings.effective_database_url.split('@')[-1]}")
    if args.out is not None:
        print(f"events: {args.out}/")
    return EXIT_DEAD_LETTERS if counts["dlq"] else EXIT_OK
