"""`api-engine keys rotate|open-dead-letter`: re-encrypt under the current data key; open a sealed dead letter.

Strategy: thin shells over `api_engine.protection.crypto`. `rotate`: with the embedded key file a
new key is made current first; everything is re-sealed under the current key, then the store marks
the other keys retired (processes without them may start again) and the key file drops them.
`open-dead-letter`: an operator who must fix a rejected input gets its original bytes back from the
`api.dlq` event (sealed there) into a 0600 file, with a stated reason, audited. Both check first
that this keyring is the one the store was written with. Output holds counts and key ids, never
data. Exit status: 0 done, 1 the dead letter cannot be opened, 2 usage problems.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from api_engine.cli.options import add_store_options, store_settings
from api_engine.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> None:
    k = sub.add_parser("keys", help="manage the data keys (rotation, sealed dead letters)",
                       description="Re-encrypt the identifying data under the current data key, or open a "
                                   "sealed dead letter.")
    ksub = k.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True
    rot = ksub.add_parser("rotate", help="re-encrypt everything under the current key (with a key file: a new key)")
    add_store_options(rot)
    rot.add_argument("--batch-size", type=int, default=2000, help="rows per transaction (default 2000)")
    rot.set_defaults(func=run_rotate)
    dlq = ksub.add_parser("open-dead-letter", help="write the original bytes of a dead-letter event to a file")
    add_store_options(dlq)
    dlq.add_argument("event", help="the dead-letter event as JSON (a file, or - for standard input)")
    dlq.add_argument("--out", type=Path, required=True, help="file for the original bytes (created 0600)")
    dlq.add_argument("--reason", required=True, help="why it is opened (audited)")
    dlq.set_defaults(func=run_open_dead_letter)


async def _rotate(settings: Settings, batch: int) -> int:
    from api_engine.protection.audit import AuditTrail
    from api_engine.protection.crypto import check_keyring, keyring_from_settings, new_key, retire_keys, rotate
    from api_engine.store import Store

    ring = keyring_from_settings(settings)
    store = await Store.open(settings.effective_database_url)
    try:
        await check_keyring(store, ring)  # this keyring must be able to read what it re-seals
        old = sorted(set(ring.keys) - {ring.current})
        if ring.path is not None:  # the embedded key file: make a new key current, keep the old to decrypt
            old = sorted(ring.keys)
            ring.add_current(new_key())
            ring.save()
            await check_keyring(store, ring)  # registers the new key before anything is sealed with it
        done = await rotate(store, ring, batch_size=batch)
        retired = await retire_keys(store, ring)
        await AuditTrail(store).append(actor="keys-cli", action="keys.rotate", subject=f"data-key:{ring.current}",
                                       purpose="security", details={"rewritten": done, "retired_keys": retired})
    finally:
        await store.close()
    if ring.path is not None:  # everything is under the new key now: the old ones can go
        ring.keys = {ring.current: ring.keys[ring.current]}
        ring.save()
    print(json.dumps({"current_key": ring.current, "rewritten": done, "retired_keys": sorted(set(old) | set(retired))},
                     sort_keys=True))
    return EXIT_OK


def run_rotate(args: argparse.Namespace) -> int:
    return asyncio.run(_rotate(store_settings(args), args.batch_size))


async def _open_dead_letter(settings: Settings, event: dict[str, Any], out: Path, reason: str) -> int:
    from api_engine.files import write_private
    from api_engine.protection.audit import AuditTrail
    from api_engine.protection.crypto import DecryptionError, check_keyring, keyring_from_settings, open_dead_letter
    from api_engine.store import Store

    ring = keyring_from_settings(settings)
    store = await Store.open(settings.effective_database_url)
    try:
        await check_keyring(store, ring)
        subject = f"dead_letter:{str(event.get('event_id', '?'))[:64]}"
        try:
            if event.get("original_sealed"):
                original = open_dead_letter(ring, str(event["original_sealed"]))
            else:  # a large input travels by reference: the store keeps it sealed
                original = await _stored_original(store, ring, event)
        except DecryptionError as exc:
            await AuditTrail(store).append(actor="keys-cli", action="dead_letter.open_failed", subject=subject,
                                           purpose="operations", reason=reason, details={"problem": str(exc)})
            print(f"cannot open the dead letter: {exc}", file=sys.stderr)
            return EXIT_FAILED
        write_private(out, original)
        await AuditTrail(store).append(actor="keys-cli", action="dead_letter.open", subject=subject,
                                       purpose="operations", reason=reason, details={"bytes": len(original)})
    finally:
        await store.close()
    print(json.dumps({"event_id": event.get("event_id"), "bytes": len(original), "out": str(out)}))
    return EXIT_OK


async def _stored_original(store: Any, ring: Any, event: dict[str, Any]) -> bytes:
    """The raw bytes of a dead-lettered input kept in the store, found by the content hash the event quotes."""
    from sqlalchemy import select

    from api_engine.protection.crypto import DecryptionError
    from api_engine.store.schema import interchanges, raw_messages

    interchange = event.get("interchange")
    content_hash = interchange.get("content_hash") if isinstance(interchange, dict) else None
    if not content_hash:
        raise DecryptionError("the event quotes no content hash")
    async with store.engine.connect() as conn:
        raw = await conn.scalar(
            select(raw_messages.c.raw).join(interchanges, interchanges.c.id == raw_messages.c.interchange_id)
            .where(interchanges.c.content_hash == str(content_hash), interchanges.c.status == "dead_letter")
            .limit(1))
    if raw is None:
        raise DecryptionError("the store no longer keeps this input (deleted under the raw-message retention)")
    opened: bytes = ring.decrypt_bytes(raw, "raw_messages.raw")
    return opened


def run_open_dead_letter(args: argparse.Namespace) -> int:
    if len(args.reason.strip()) < 5:
        print("--reason: state why the dead letter is opened (it is audited)", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text(encoding="utf-8")
        event = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"{args.event}: not a dead-letter event as JSON ({type(exc).__name__})", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(event, dict) or event.get("type") != "dead_letter":
        print(f"{args.event}: not a dead-letter event", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_open_dead_letter(store_settings(args), event, args.out, args.reason))
