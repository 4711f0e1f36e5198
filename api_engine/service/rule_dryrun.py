"""Dry run of a rule set: how many stored travellers each rule would have flagged, before anyone approves it.

Strategy: the same evaluation the processor runs on arrival (`ActiveRules.evaluate` on a `Manifest` rebuilt
from `manifests.header_json` and the sealed `travellers.traveller_json`, as re-screening and the iAPI changes
read them back), over the current, complete manifests received in the last `WINDOW_DAYS`, newest first, up to
`MAX_TRAVELLERS` travellers (whole manifests only, so party sizes and transit read as on arrival). Only counts
leave this module: per rule, plus how many manifests and travellers the window held; a depersonalised
traveller (no sealed record left) is counted apart and not evaluated. Decryption and evaluation run in a
worker thread, chunk by chunk, so a console request does not stall the event loop for the whole window.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from api_engine.protection.crypto import Keyring
from api_engine.service.rules import ActiveRules, ActiveRuleSet
from api_engine.store import Store
from api_engine.store.schema import manifests, travellers
from api_engine.store.store import now
from parsers import Manifest, Traveller
from watchlists.rules import RuleSet

__all__ = ["MAX_TRAVELLERS", "WINDOW_DAYS", "DryRun", "RuleCount", "dry_run"]

WINDOW_DAYS = 7  # manifests received in the last week: the flights a rule change would still matter for
MAX_TRAVELLERS = 200_000  # a bound on one run's reading and decryption (seconds, not minutes)
MANIFESTS_PER_READ = 200
SEALED_COLUMN = "travellers.traveller_json"


@dataclass(frozen=True)
class RuleCount:
    rule: str
    severity: str
    score: float
    flagged: int  # travellers of the window the rule would have flagged


@dataclass(frozen=True)
class DryRun:
    rules: list[RuleCount]
    manifests: int
    travellers: int  # evaluated
    flagged: int  # travellers flagged by at least one rule
    depersonalised: int  # travellers of the window with no record left to evaluate
    since: datetime
    truncated: bool  # the bound stopped the run before the window's oldest manifest
    seconds: float
    window_days: int = WINDOW_DAYS
    max_travellers: int = MAX_TRAVELLERS
    counts: dict[str, int] = field(default_factory=dict, repr=False)  # rule name -> flagged, for callers


def _evaluate(rules: ActiveRules, keyring: Keyring, batch: Sequence[tuple[str, Sequence[Any]]],
              per_rule: Counter[str]) -> tuple[int, int, int]:
    """(travellers evaluated, travellers flagged, depersonalised) for manifests given as (header, rows)."""
    evaluated = flagged = gone = 0
    for header, rows in batch:
        people: list[Traveller] = []
        for r in rows:
            if r.traveller_json is None:
                gone += 1
                continue
            people.append(Traveller.model_validate_json(keyring.decrypt_text(r.traveller_json, SEALED_COLUMN) or ""))
        if not people:
            continue
        manifest = Manifest.model_validate_json(header).model_copy(update={"travellers": people})
        evaluated += len(people)
        who: set[str] = set()
        for alert in rules.evaluate(manifest):
            per_rule[alert.entry_id] += 1
            who.add(alert.traveller_id)
        flagged += len(who)
    return evaluated, flagged, gone


async def dry_run(store: Store, keyring: Keyring, rules: RuleSet, *, at: datetime | None = None,
                  window_days: int = WINDOW_DAYS, max_travellers: int = MAX_TRAVELLERS) -> DryRun:
    """Count, per rule of `rules`, the stored travellers of the window it would flag."""
    started = time.monotonic()
    since = (at or now()) - timedelta(days=window_days)
    active = ActiveRules((ActiveRuleSet(name="dry-run", version="dry-run", source="dry-run", rules=rules),))
    per_rule: Counter[str] = Counter()
    n_manifests = n_travellers = n_flagged = n_gone = 0
    truncated = False
    before: int | None = None  # manifests are read newest first, by id, in pages
    while not truncated:
        async with store.engine.connect() as conn:
            query = (select(manifests.c.id, manifests.c.header_json)
                     .where(manifests.c.replaced_by.is_(None), manifests.c.complete.is_(True),
                            manifests.c.created_at >= since)
                     .order_by(manifests.c.id.desc()).limit(MANIFESTS_PER_READ))
            if before is not None:
                query = query.where(manifests.c.id < before)
            heads = (await conn.execute(query)).all()
            if not heads:
                break
            before = int(heads[-1].id)
            rows = (await conn.execute(
                select(travellers.c.manifest_id, travellers.c.traveller_json)
                .where(travellers.c.manifest_id.in_([h.id for h in heads]))
                .order_by(travellers.c.manifest_id, travellers.c.position))).all()
        by_manifest: dict[int, list[Any]] = {int(h.id): [] for h in heads}
        for r in rows:
            by_manifest[int(r.manifest_id)].append(r)
        batch: list[tuple[str, Sequence[Any]]] = []
        taken = n_travellers + n_gone
        for h in heads:
            people = by_manifest[int(h.id)]
            if taken + len(people) > max_travellers:
                truncated = True
                break
            taken += len(people)
            batch.append((h.header_json, people))
        n_manifests += len(batch)
        evaluated, flagged, gone = await asyncio.to_thread(_evaluate, active, keyring, batch, per_rule)
        n_travellers, n_flagged, n_gone = n_travellers + evaluated, n_flagged + flagged, n_gone + gone
        if len(heads) < MANIFESTS_PER_READ:
            break
    counts = {r.name: per_rule.get(r.name, 0) for r in rules.rules}
    return DryRun(rules=[RuleCount(rule=r.name, severity=r.severity, score=r.score, flagged=counts[r.name])
                         for r in rules.rules],
                  manifests=n_manifests, travellers=n_travellers, flagged=n_flagged, depersonalised=n_gone,
                  since=since, truncated=truncated, seconds=time.monotonic() - started, window_days=window_days,
                  max_travellers=max_travellers, counts=counts)
