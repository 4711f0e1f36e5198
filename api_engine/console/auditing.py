"""The console's door to the audit trail (api_engine.protection.audit, owned by the data-protection work).

Strategy: looked up at run time so the console starts whether or not the trail is installed, but
every action that must be audited (full manifest view, decisions, list uploads) fails closed with
503 when it is missing: an unlogged consultation of personal data is worse than none.
Subjects are references (hit ids, traveller refs, manifest uids), never names.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from api_engine.store import Store

log = logging.getLogger("api_engine.console.audit")


class AuditUnavailable(RuntimeError):
    """The audit trail is not installed or failed: the audited action must not happen."""


class AuditTrailLike(Protocol):
    async def append(self, *, actor: str, action: str, subject: str, purpose: str, reason: str | None = ...,
                     details: dict[str, Any] | None = ..., session: Any = ...) -> Any: ...

    async def verify(self) -> Any: ...

    async def recent(self, limit: int = ..., action: str | None = ...) -> Sequence[Any]: ...


def open_trail(store: Store) -> AuditTrailLike | None:
    try:
        module = importlib.import_module("api_engine.protection.audit")
    except ModuleNotFoundError:
        log.warning("api_engine.protection.audit is not installed: audited console actions are refused")
        return None
    trail: AuditTrailLike = module.AuditTrail(store)
    return trail


class Auditor:
    """Appends, verifies and reads; raises AuditUnavailable rather than letting an action go unlogged."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._trail: AuditTrailLike | None = None

    @property
    def trail(self) -> AuditTrailLike:
        if self._trail is None:
            self._trail = open_trail(self.store)
        if self._trail is None:
            raise AuditUnavailable("the audit trail (api_engine.protection.audit) is not installed")
        return self._trail

    @property
    def available(self) -> bool:
        try:
            self.trail  # noqa: B018  # opening it is the check
        except AuditUnavailable:
            return False
        return True

    async def record(self, *, actor: str, action: str, subject: str, purpose: str, reason: str | None = None,
                     details: dict[str, Any] | None = None) -> None:
        try:
            await self.trail.append(actor=actor, action=action, subject=subject, purpose=purpose, reason=reason,
                                    details=details or {})
        except AuditUnavailable:
            raise
        except Exception as exc:
            log.error("audit append failed: action=%s error=%s", action, type(exc).__name__)
            raise AuditUnavailable("the audit trail refused the entry") from exc

    async def verify(self) -> dict[str, Any]:
        result = await self.trail.verify()
        return {"ok": bool(getattr(result, "ok", False)), "entries": getattr(result, "entries", None),
                "first_broken": getattr(result, "first_broken", None), "problem": getattr(result, "problem", None)}

    async def recent(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        return [as_dict(e) for e in await self.trail.recent(limit=limit, action=action)]


def as_dict(entry: Any) -> dict[str, Any]:
    """An audit entry of whatever shape the trail returns, as a plain dict for pages and JSON."""
    if isinstance(entry, dict):
        return dict(entry)
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        return dataclasses.asdict(entry)
    dump = getattr(entry, "model_dump", None)
    if callable(dump):
        out: dict[str, Any] = dump()
        return out
    mapping = getattr(entry, "_mapping", None)
    if mapping is not None:
        return dict(mapping)
    return dict(vars(entry))
