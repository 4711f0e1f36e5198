"""`api-engine lists status|reload|rescreen`: the operators' view of and levers on the live lists.

Strategy: a thin shell over `api_engine.service.list_admin` on the configured store; the running
service does the work (it notices reload requests and marked manifests within seconds), so these
commands return at once unless `rescreen --wait` asks to see the outcome. The store is never created
here: a data directory without a database is a mistake worth saying so, not a reason to make one.
Exit status: 0 done; 1 a list is in error (`status`, for monitoring) or no store; 2 usage problems;
3 `--wait` ran out before the runs finished. Output holds list names, versions, digests and counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from api_engine.cli.options import add_store_options, store_settings
from api_engine.settings import Settings
from api_engine.store.store import stored_utc

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def parse_since(text: str) -> datetime:
    """ISO 8601 date or date and time; without an offset it means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2025-03-01 or 2025-03-01T06:00Z)") from None
    return stored_utc(value) or value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more seconds")
    return value


def _operator() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "operator:unknown"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("lists", help="state of the watchlists in force; reload them; re-screen stored travellers",
                       description="Show the watchlists in force, ask the running service to reload them, or "
                                   "re-screen the travellers of flights still in the window.")
    lsub = p.add_subparsers(dest="lists_command", metavar="ACTION")
    lsub.required = True
    status = lsub.add_parser("status", help="lists in force, recent changes, re-screen runs (exit 1: a list in error)")
    add_store_options(status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--runs", type=int, default=10, help="how many recent re-screen runs (default 10)")
    status.set_defaults(func=run_status)
    reload = lsub.add_parser("reload", help="ask the running workers to look at their list files now")
    add_store_options(reload)
    reload.add_argument("--by", default=None, help="who asks (default: operator:<OS user>)")
    reload.set_defaults(func=run_reload)
    rescreen = lsub.add_parser("rescreen", help="re-screen stored travellers against the changes since an instant")
    add_store_options(rescreen)
    rescreen.add_argument("--since", type=parse_since, metavar="ISO",
                          help="changes since this date or time (naive = UTC); default: against the whole list")
    rescreen.add_argument("--list", dest="lists", action="append", metavar="NAME",
                          help="only this list (repeatable; default: every list in force)")
    rescreen.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS",
                          help="wait up to this long for the runs to finish (default 0: do not wait)")
    rescreen.add_argument("--by", default=None, help="who asks (default: operator:<OS user>)")
    rescreen.set_defaults(func=run_rescreen)


def _no_store(settings: Settings) -> str | None:
    """Why there is no store to talk to, or None. Only a SQLite file can be checked without touching it."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if Path(url.database).exists():
        return None
    return (f"no store at {url.database} (no database file): the service has not run with this data directory; "
            "check --data-dir or --database-url")


async def _open(settings: Settings) -> Any:
    from api_engine.store import Store

    return await Store.open(settings.effective_database_url)


# ---- status ---------------------------------------------------------------------------------------


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "-"


def _version(label: str | None, digest: str | None) -> str:
    if label:
        return label
    return _short(digest) if digest else "(whole list)"


def render_status(status: Any) -> str:
    """The status as an operator reads it on a terminal."""
    lines = ["LISTS"]
    if not status.lists:
        lines.append("  none recorded yet (the service records its lists when it starts)")
    for s in status.lists:
        entries = f"{s.entries:,}" if s.entries is not None else "-"
        lines.append(f"  {s.name:<16} version {s.version or '-':<20} entries {entries:>9}  digest {_short(s.digest)}"
                     f"  checked {_when(s.checked_at)}  source {s.source}")
        if s.error:
            lines.append(f"    ERROR since {_when(s.error_at)}: {s.error}; "
                         f"{'old version in force' if s.digest else 'no version in force'}")
    lines += ["", "LATEST CHANGES"]
    if not status.changes:
        lines.append("  none")
    for c in status.changes:
        before = _version(c.previous_version, c.previous_digest) if c.previous_digest else "(first)"
        lines.append(f"  {_when(c.installed_at)}  {c.list_name:<16} {before} -> {c.version}  entries {c.entries:,}"
                     f"  +{c.added} -{c.removed} ~{c.changed}  ({c.trigger})")
    lines += ["", "RE-SCREEN RUNS"]
    if not status.runs:
        lines.append("  none")
    for r in status.runs:
        lines.append("  " + _run_line(r))
    return "\n".join(lines)


def _duration(run: dict[str, Any]) -> str:
    seconds = run.get("seconds")
    if seconds is None and run.get("started_at"):  # still running: for how long so far
        seconds = (datetime.now(UTC) - run["started_at"]).total_seconds()
        return f"{seconds:.1f} s so far"
    return f"{seconds:.1f} s" if seconds is not None else "-"


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _run_line(r: dict[str, Any]) -> str:
    since = f" since {_when(r['since'])}" if r.get("since") else ""
    by = f" by {r['requested_by']}" if r.get("requested_by") else ""
    return (f"#{r['id']} {_when(r['started_at'])}  {r['list_name']:<16} {r['trigger']}{by}{since}  "
            f"{_version(r['from_version'], r['from_digest'])} -> {r['to_version']}  entries {r['entries']}"
            f" (removed {r['removed']})  travellers {r['travellers']}  manifests {r['manifests']}"
            f"  new hits {r['new_hits']}  flagged {r['flagged']}  {r['status']}  {_duration(r)}")


async def _status(settings: Settings, as_json: bool, runs: int) -> int:
    from api_engine.service.list_admin import lists_status

    store = await _open(settings)
    try:
        status = await lists_status(store, runs=runs)
    finally:
        await store.close()
    if as_json:
        print(json.dumps(status.to_dict(), sort_keys=True, ensure_ascii=False))
    else:
        print(render_status(status))
    return EXIT_FAILED if status.in_error else EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    if args.runs < 0:
        print("--runs must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    settings = store_settings(args)
    if (problem := _no_store(settings)) is not None:
        print(f"lists status: {problem}", file=sys.stderr)
        return EXIT_FAILED
    return asyncio.run(_status(settings, args.json, args.runs))


# ---- reload ---------------------------------------------------------------------------------------


async def _reload(settings: Settings, by: str) -> int:
    from api_engine.service.list_admin import request_reload

    store = await _open(settings)
    try:
        request_id = await request_reload(store, requested_by=by)
    finally:
        await store.close()
    print(f"reload requested (request {request_id}): running workers will look at their list files within a few "
          "seconds; `api-engine lists status` shows the versions in force")
    return EXIT_OK


def run_reload(args: argparse.Namespace) -> int:
    settings = store_settings(args)
    if (problem := _no_store(settings)) is not None:
        print(f"lists reload: {problem}", file=sys.stderr)
        return EXIT_FAILED
    return asyncio.run(_reload(settings, args.by or _operator()))


# ---- rescreen -------------------------------------------------------------------------------------


async def _rescreen(settings: Settings, args: argparse.Namespace) -> int:
    from api_engine.service.list_admin import UnknownList, request_rescreen_runs, wait_for_runs

    store = await _open(settings)
    try:
        try:
            requested = await request_rescreen_runs(store, requested_by=args.by or _operator(), since=args.since,
                                                    lists=args.lists, margin_s=settings.rescreen_margin_s)
        except UnknownList as exc:
            print(f"lists rescreen: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not requested:
            print("lists rescreen: no list version in force yet (the service records its lists when it starts)",
                  file=sys.stderr)
            return EXIT_FAILED
        for r in requested:
            what = (f"{_version(r.from_version, r.from_digest)} -> {r.to_version}: {_entries(r.entries)} added or "
                    f"changed" if r.from_digest else f"whole list {r.to_version}: {_entries(r.entries)}")
            outcome = (f"{r.manifests} manifest(s) marked for re-screening" if r.manifests
                       else "nothing to re-screen (run closed)")
            print(f"run {r.run_id}: {r.list_name} {what}; {outcome}")
        if args.wait <= 0:
            print("the running workers re-screen the marked manifests; `api-engine lists status` shows progress")
            return EXIT_OK
        rows = await wait_for_runs(store, [r.run_id for r in requested], timeout_s=args.wait)
    finally:
        await store.close()
    for row in rows:
        print(f"run {row['id']}: {row['list_name']} {row['status']}: {row['travellers']} traveller(s) considered, "
              f"{row['new_hits']} new hit(s), {row['flagged']} hit(s) flagged entry removed, {_duration(row)}")
    if all(row["status"] == "done" for row in rows):
        return EXIT_OK
    print(f"lists rescreen: not finished after {args.wait:g} s; the runs go on (see `api-engine lists status`)",
          file=sys.stderr)
    return EXIT_TIMEOUT


def run_rescreen(args: argparse.Namespace) -> int:
    settings = store_settings(args)
    if (problem := _no_store(settings)) is not None:
        print(f"lists rescreen: {problem}", file=sys.stderr)
        return EXIT_FAILED
    return asyncio.run(_rescreen(settings, args))
