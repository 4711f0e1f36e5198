"""`api-engine keys rotate`: re-encrypt the identifying data under the current data key.

Strategy: a thin shell over `api_engine.protection.crypto.rotate` on the configured store. With the
embedded key file a new key is made current first, and the old ones are dropped once everything is
sealed under it. Output holds counts and key ids, never data; the rotation is written to the audit
trail. Exit status: 0 done, 2 usage problems.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from api_engine.cli.options import add_store_options, store_settings
from api_engine.settings import Settings

EXIT_OK = 0


def add_parser(sub: Any) -> None:
    k = sub.add_parser("keys", help="manage the data keys (rotation)",
                       description="Re-encrypt the identifying data under the current data key.")
    ksub = k.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True
    rot = ksub.add_parser("rotate", help="re-encrypt everything under the current key (with a key file: a new key)")
    add_store_options(rot)
    rot.add_argument("--batch-size", type=int, default=2000, help="rows per transaction (default 2000)")
    rot.set_defaults(func=run_rotate)


async def _rotate(settings: Settings, batch: int) -> int:
    from api_engine.protection.audit import AuditTrail
    from api_engine.protection.crypto import keyring_from_settings, new_key, rotate
    from api_engine.store import Store

    ring = keyring_from_settings(settings)
    old = sorted(set(ring.keys) - {ring.current})
    if ring.path is not None:  # the embedded key file: make a new key current, keep the old to decrypt
        old = sorted(ring.keys)
        ring.add_current(new_key())
        ring.save()
    store = await Store.open(settings.effective_database_url)
    try:
        done = await rotate(store, ring, batch_size=batch)
        await AuditTrail(store).append(actor="keys-cli", action="keys.rotate", subject=f"data-key:{ring.current}",
                                       purpose="security", details={"rewritten": done, "retired_keys": old})
    finally:
        await store.close()
    if ring.path is not None:  # everything is under the new key now: the old ones can go
        ring.keys = {ring.current: ring.keys[ring.current]}
        ring.save()
    print(json.dumps({"current_key": ring.current, "rewritten": done, "retired_keys": old}, sort_keys=True))
    return EXIT_OK


def run_rotate(args: argparse.Namespace) -> int:
    return asyncio.run(_rotate(store_settings(args), args.batch_size))
