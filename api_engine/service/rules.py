"""Targeting rules in the service: rule sets as versioned data under four eyes, and their evaluation per traveller.

Strategy: a rule set is a named rule file (watchlists.rules) kept in `rule_sets`, one row per version. `RuleBook`
is the only writer: a proposal is parsed first (a RuleError with line and column stores nothing) and waits as
`pending` until a second supervisor approves it, which makes it `active` and retires the name's previous active
version; every change goes to the audit trail in the same transaction (references only: ids, names, versions).
`LiveRules` is the workers' side: the files named by API_ENGINE_RULES plus the store's active versions, looked at
every few seconds (one indexed query of the active ids, a stat per file) and swapped whole, so the executor
always reads one consistent snapshot. `ActiveRules.evaluate` runs on the CPU half of a record (prepare.py), never
inside the store transaction; with no rule in force it costs nothing.
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from api_engine.protection.audit import AuditTrail
from api_engine.service.screening import file_stat
from api_engine.store import Store
from api_engine.store.schema import console_users, rule_sets
from api_engine.store.store import now
from parsers import Manifest
from watchlists import adapters
from watchlists.models import FeatureScore
from watchlists.rule_policy import RulePolicy, load_rule_policy
from watchlists.rules import RuleError, RuleSet, parse_rules

__all__ = ["RULE_CHECK_S", "ActiveRuleSet", "ActiveRules", "FourEyesError", "LiveRules", "RuleAlert", "RuleBook",
           "RuleBookError", "RuleFileError", "RuleSetVersion", "load_rule_file", "parse_rule_text",
           "rule_error_message"]

log = logging.getLogger("api_engine.service.rules")

RULE_CHECK_S = 2.0  # how often a worker looks for approved or retired versions and changed rule files
STATUSES = ("draft", "pending", "active", "retired", "rejected")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,93}")  # "rules:<name>" must fit hits.list (100)
PURPOSE = "targeting rules"


def parse_rule_text(text: str, *, inputs: Sequence[str] = ("paxlst",), profile: str | None = None) -> RuleSet:
    """Every parse of a rule file in the service and its command line goes through here: only attributes the
    inputs fill, and only lawful criteria (the shipped policy, per profile: `watchlists/data/rule_policy.toml`)."""
    return parse_rules(text, inputs=tuple(inputs), policy=_policy(), profile=profile)


@lru_cache(maxsize=1)
def _policy() -> RulePolicy:
    return load_rule_policy()


# ---- rule sets in the store ------------------------------------------------------------------------------------


class RuleBookError(ValueError):
    """A change the rule book refuses (unknown id, wrong status, not a supervisor); no personal data."""


class FourEyesError(RuleBookError):
    """The approver proposed the version himself: a second supervisor must approve it."""


@dataclass(frozen=True)
class RuleSetVersion:
    id: int
    name: str
    version: int
    status: str
    text: str
    digest: str
    owner: str
    purpose: str
    legal_basis: str
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    rejected_by: str | None = None
    rejected_at: datetime | None = None
    retired_by: str | None = None
    retired_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def summary(self) -> dict[str, Any]:
        """What `rules list --json` prints: everything but the text."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if k != "text":
                out[k] = v.isoformat() if isinstance(v, datetime) else v
        return out


def _version(row: Any) -> RuleSetVersion:
    return RuleSetVersion(**{k: row._mapping[k] for k in RuleSetVersion.__dataclass_fields__})


class RuleBook:
    """Rule sets as versioned data: propose, approve (four eyes), reject, retire; every change audited."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.trail = AuditTrail(store)

    async def _supervisor(self, conn: Any, who: str) -> None:
        role = await conn.scalar(select(console_users.c.role).where(
            console_users.c.name == who, console_users.c.active.is_(True)))
        if role != "supervisor":
            raise RuleBookError(f"{who!r} is not an active supervisor: only supervisors propose and decide rules")

    async def propose(self, name: str, text: str, owner: str, purpose: str, legal_basis: str, by: str,
                      ) -> RuleSetVersion:
        """Store `text` as the next version of `name`, pending a second supervisor's approval.

        Raises RuleError (line, column) for a text that does not parse; nothing is stored then."""
        if not _NAME.fullmatch(name):
            raise RuleBookError("a rule set name is 1-94 letters, digits, '.', '_' or '-', starting with a "
                                "letter or digit")
        for label, value in (("owner", owner), ("purpose", purpose), ("legal basis", legal_basis)):
            if not value.strip():
                raise RuleBookError(f"a rule set needs its {label}")
        rules = parse_rule_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        for attempt in range(3):
            try:
                async with self.store.transaction() as conn:
                    await self._supervisor(conn, by)
                    latest = (await conn.execute(
                        select(rule_sets.c.version, rule_sets.c.digest).where(rule_sets.c.name == name)
                        .order_by(rule_sets.c.version.desc()).limit(1))).first()
                    if latest is not None and latest.digest == digest:
                        raise RuleBookError(f"{name} v{latest.version} has the same text: nothing to propose")
                    version = (latest.version if latest is not None else 0) + 1
                    at = now()
                    new_id = (await conn.execute(insert(rule_sets).values(
                        name=name, version=version, text=text, digest=digest, owner=owner.strip()[:100],
                        purpose=purpose.strip(), legal_basis=legal_basis.strip(), status="pending", proposed_by=by,
                        proposed_at=at).returning(rule_sets.c.id))).scalar_one()
                    await self.trail.append(
                        actor=by, action="rules.proposed", subject=f"rule_set:{new_id}", purpose=PURPOSE,
                        details={"rule_set": name, "version": version, "rules": len(rules.rules),
                                 "digest": digest[:16]}, session=conn)
                return await self.get(int(new_id))
            except IntegrityError:  # another proposal took this version number first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _pending(self, conn: Any, version_id: int) -> Any:
        row = (await conn.execute(select(rule_sets).where(rule_sets.c.id == version_id))).first()
        if row is None:
            raise RuleBookError(f"no rule set version {version_id}")
        if row.status != "pending":
            raise RuleBookError(f"{row.name} v{row.version} is {row.status}, not pending")
        return row

    async def approve(self, version_id: int, by: str) -> RuleSetVersion:
        """Make a pending version active (its name's previous active version retires): a second supervisor only.

        Raises RuleError when the text no longer parses (the vocabulary or the rule policy changed)."""
        async with self.store.transaction() as conn:
            await self._supervisor(conn, by)
            row = await self._pending(conn, version_id)
            if row.proposed_by == by:
                raise FourEyesError(f"{row.name} v{row.version} was proposed by {by}: another supervisor must "
                                    "approve it")
            parse_rule_text(row.text)  # the vocabulary or the policy may have changed since the proposal
            at = now()
            old = builtins.list((await conn.execute(select(rule_sets.c.id, rule_sets.c.version).where(
                rule_sets.c.name == row.name, rule_sets.c.status == "active"))).all())
            if old:
                await conn.execute(update(rule_sets).where(rule_sets.c.id.in_([o.id for o in old]))
                                   .values(status="retired", retired_by=by, retired_at=at))
            moved = await conn.execute(update(rule_sets).where(rule_sets.c.id == version_id,
                                                               rule_sets.c.status == "pending")
                                       .values(status="active", approved_by=by, approved_at=at))
            if moved.rowcount != 1:
                raise RuleBookError(f"{row.name} v{row.version} was decided meanwhile")
            await self.trail.append(
                actor=by, action="rules.approved", subject=f"rule_set:{version_id}", purpose=PURPOSE,
                details={"rule_set": row.name, "version": row.version, "proposed_by": row.proposed_by,
                         "retired_versions": sorted(o.version for o in old)}, session=conn)
        return await self.get(version_id)

    async def reject(self, version_id: int, by: str) -> RuleSetVersion:
        """Turn a pending version down (its proposer may withdraw it too): it never becomes active."""
        async with self.store.transaction() as conn:
            await self._supervisor(conn, by)
            row = await self._pending(conn, version_id)
            await conn.execute(update(rule_sets).where(rule_sets.c.id == version_id)
                               .values(status="rejected", rejected_by=by, rejected_at=now()))
            await self.trail.append(
                actor=by, action="rules.rejected", subject=f"rule_set:{version_id}", purpose=PURPOSE,
                details={"rule_set": row.name, "version": row.version}, session=conn)
        return await self.get(version_id)

    async def retire(self, name: str, by: str) -> RuleSetVersion:
        """Stop the active version of `name`; no second person is needed to stop a rule."""
        async with self.store.transaction() as conn:
            await self._supervisor(conn, by)
            row = (await conn.execute(select(rule_sets).where(rule_sets.c.name == name,
                                                              rule_sets.c.status == "active"))).first()
            if row is None:
                raise RuleBookError(f"no active version of {name}")
            await conn.execute(update(rule_sets).where(rule_sets.c.id == row.id)
                               .values(status="retired", retired_by=by, retired_at=now()))
            await self.trail.append(
                actor=by, action="rules.retired", subject=f"rule_set:{row.id}", purpose=PURPOSE,
                details={"rule_set": name, "version": row.version}, session=conn)
        return await self.get(int(row.id))

    async def list(self) -> list[RuleSetVersion]:
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(rule_sets).order_by(rule_sets.c.name, rule_sets.c.version))
            return [_version(r) for r in rows]

    async def get(self, version_id: int) -> RuleSetVersion:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(rule_sets).where(rule_sets.c.id == version_id))).first()
        if row is None:
            raise RuleBookError(f"no rule set version {version_id}")
        return _version(row)

    async def diff(self, version_id: int) -> str:
        """Unified diff of a version against the name's previous version (against nothing for version 1)."""
        new = await self.get(version_id)
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(rule_sets).where(
                rule_sets.c.name == new.name, rule_sets.c.version < new.version)
                .order_by(rule_sets.c.version.desc()).limit(1))).first()
        old = _version(row) if row is not None else None
        return "".join(difflib.unified_diff(
            old.text.splitlines(keepends=True) if old else [], _ending(new.text).splitlines(keepends=True),
            fromfile=old.label if old else "/dev/null", tofile=new.label))

    async def active(self) -> builtins.list[RuleSetVersion]:
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(rule_sets).where(rule_sets.c.status == "active")
                                      .order_by(rule_sets.c.name))
            return [_version(r) for r in rows]


def _ending(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


# ---- evaluation ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleAlert:
    """A traveller flagged by a rule, read by the processor like a watchlist hit (`HitLike`)."""

    traveller_id: str  # the traveller's index in the manifest
    rule_set: str
    version: str  # "v3" for a stored version, "file" for a configured file
    entry_id: str  # the rule's name
    severity: str
    score: float
    explanation: builtins.list[FeatureScore]
    category: str = "rule"
    threshold: float | None = None
    matched_name: str | None = None

    @property
    def list(self) -> str:
        return f"rules:{self.rule_set}"

    def explain(self) -> str:
        why = "; ".join(f.detail for f in self.explanation)
        version = "(configured file)" if self.version == "file" else self.version
        return f"rule {self.entry_id!r} ({self.severity}, score {self.score:g}) of rule set {self.rule_set} " \
               f"{version}: {why}"


@dataclass(frozen=True)
class ActiveRuleSet:
    name: str
    version: str  # "v<N>" (store) or "file"
    source: str  # "rule_set:<id>" or the file's path
    rules: RuleSet


def traveller_attributes(manifest: Manifest) -> builtins.list[dict[str, Any]]:
    """The rule attributes of every traveller of a manifest, sharing what they share (the flight, party sizes)."""
    return adapters.manifest_rule_attributes(manifest)  # the journey and parties derived once per manifest


@dataclass(frozen=True)
class ActiveRules:
    """One immutable snapshot of the rules in force, as the executor evaluates them."""

    sets: tuple[ActiveRuleSet, ...]

    def __len__(self) -> int:
        return sum(len(s.rules.rules) for s in self.sets)

    def evaluate(self, manifest: Manifest) -> builtins.list[RuleAlert]:
        """Every rule on every traveller; each hit explains its comparisons with the traveller's values."""
        if not self.sets or not manifest.travellers:
            return []
        out: builtins.list[RuleAlert] = []
        for i, attrs in enumerate(traveller_attributes(manifest)):
            for s in self.sets:
                for hit in s.rules.evaluate(attrs):
                    out.append(RuleAlert(traveller_id=str(i), rule_set=s.name, version=s.version, entry_id=hit.rule,
                                         severity=hit.severity, score=hit.score, explanation=hit.explanation))
        return out


_POSITION = re.compile(r"^line \d+, column \d+: ")


def rule_error_message(exc: RuleError) -> str:
    """The problem alone, without the "line L, column C: " RuleError puts in front of it."""
    return _POSITION.sub("", str(exc))


class RuleFileError(RuleError):
    """A configured rule file that does not parse, shown as FILE:line:col: message."""

    def __init__(self, path: str, exc: RuleError) -> None:
        super().__init__(rule_error_message(exc), exc.line, exc.col)
        self.path = path
        self.message = rule_error_message(exc)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


def load_rule_file(path: str) -> ActiveRuleSet:
    """A configured rule file; a RuleFileError names the file as well as the line and column."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        rules = parse_rule_text(text)
    except RuleError as exc:
        raise RuleFileError(path, exc) from None
    return ActiveRuleSet(name=Path(path).stem, version="file", source=path, rules=rules)


class LiveRules:
    """The rules a worker evaluates: the configured files and the store's active versions, followed as they change."""

    def __init__(self, store: Store, paths: Sequence[str], *, check_interval_s: float = RULE_CHECK_S) -> None:
        self.store = store
        self.paths = list(paths)
        self.interval = check_interval_s
        self.current = ActiveRules(())
        self._files: dict[str, tuple[tuple[int, int, int] | None, ActiveRuleSet]] = {}
        self._stored: dict[int, ActiveRuleSet] = {}
        self._checked = float("-inf")

    async def start(self) -> None:
        """Load everything now; a configured file that does not parse stops the start (RuleError)."""
        for path in self.paths:
            before = file_stat(path)
            self._files[path] = (before, load_rule_file(path))
        await self._check_store()
        self._install()

    async def refresh(self) -> None:
        """Called before a batch is prepared: cheap unless the interval has run out."""
        at = time.monotonic()
        if at - self._checked < self.interval:
            return
        self._checked = at
        changed = self._check_files()
        changed = await self._check_store() or changed
        if changed:
            self._install()

    def _check_files(self) -> bool:
        changed = False
        for path, (stat, _) in list(self._files.items()):
            now_stat = file_stat(path)
            if now_stat == stat or now_stat is None:
                continue  # a file gone for a moment (replaced by a rename) keeps its rules
            try:
                self._files[path] = (now_stat, load_rule_file(path))
                changed = True
            except (OSError, UnicodeDecodeError, RuleError) as exc:  # the version in force stays
                self._files[path] = (now_stat, self._files[path][1])
                log.error("rule file %s not reloaded, its previous version stays in force: %s", path, exc)
        return changed

    async def _check_store(self) -> bool:
        async def active_ids(conn: Any) -> set[int]:
            return {int(i) for i in (await conn.execute(
                select(rule_sets.c.id).where(rule_sets.c.status == "active"))).scalars()}

        ids = await self.store.read(active_ids)
        if ids == set(self._stored):
            return False
        new = sorted(ids - set(self._stored))
        rows: list[Any] = []
        if new:
            async def texts(conn: Any) -> list[Any]:
                return list((await conn.execute(select(rule_sets.c.id, rule_sets.c.name, rule_sets.c.version,
                                                       rule_sets.c.text).where(rule_sets.c.id.in_(new)))).all())
            rows = await self.store.read(texts)
        stored = {i: s for i, s in self._stored.items() if i in ids}
        for r in rows:
            try:
                stored[int(r.id)] = ActiveRuleSet(name=r.name, version=f"v{r.version}", source=f"rule_set:{r.id}",
                                                  rules=parse_rule_text(r.text))
            except RuleError as exc:
                log.error("active rule set %s v%s (id %s) cannot be used: %s", r.name, r.version, r.id, exc)
        self._stored = stored
        return True

    def _install(self) -> None:
        sets = (*(s for _, s in self._files.values()), *(self._stored[i] for i in sorted(self._stored)))
        self.current = ActiveRules(sets)
        log.info("targeting rules in force: %d rule(s) in %d set(s) [%s]", len(self.current), len(sets),
                 ", ".join(f"{s.name} {s.version}" for s in sets))

