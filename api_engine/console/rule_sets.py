"""Targeting rules in the console: the rule sets, their versions under four eyes, the editor and the dry run.

Strategy: every change goes through `api_engine.service.rules.RuleBook` (parse first, four eyes, the audit
entry in the same transaction), so the page and its JSON twin cannot bypass what the command line obeys; this
module only shapes its answers and maps its refusals. A dry run reads and decrypts stored travellers, so it is
audited here (counts only) before its result is shown, and refused if it cannot be.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import HTTPException

from api_engine.service.rule_dryrun import DryRun, dry_run
from api_engine.service.rules import (
    PURPOSE,
    FourEyesError,
    RuleBook,
    RuleBookError,
    RuleSetVersion,
    parse_rule_text,
    rule_error_message,
)
from watchlists.rules import RuleError

from .auth import Forbidden, Principal
from .models import DryRunResult, RuleAction, RuleCountRow, RuleProblem, RuleSetDetail, RuleSetRow
from .queries import timepoint
from .state import ConsoleState

# Active sets first (they flag travellers now), then those waiting for a decision, then the history.
STATUS_ORDER = {"active": 0, "pending": 1, "draft": 2, "retired": 3, "rejected": 4}


class RuleConflict(HTTPException):
    """A change the rule book refuses at this moment (already decided, nothing active to retire): 409."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=409, detail=message)


def row(v: RuleSetVersion) -> RuleSetRow:
    def at(value: Any) -> Any:
        return timepoint(value, None) if value is not None else None

    return RuleSetRow(id=v.id, name=v.name, version=v.version, status=v.status, owner=v.owner, purpose=v.purpose,
                      legal_basis=v.legal_basis, proposed_by=v.proposed_by, proposed_at=timepoint(v.proposed_at, None),
                      approved_by=v.approved_by, approved_at=at(v.approved_at), rejected_by=v.rejected_by,
                      rejected_at=at(v.rejected_at), retired_by=v.retired_by, retired_at=at(v.retired_at))


async def rule_sets(st: ConsoleState) -> list[RuleSetRow]:
    """Every version: active first, then pending, then the history; by name, newest version first."""
    versions = await RuleBook(st.store).list()
    ordered = sorted(versions, key=lambda v: (STATUS_ORDER.get(v.status, 9), v.name, -v.version))
    return [row(v) for v in ordered]


def allowed(v: RuleSetVersion, who: Principal) -> list[RuleAction]:
    """What `who` may do with this version: the page shows these buttons, the rule book enforces them."""
    if who.role != "supervisor":
        return []
    if v.status == "pending":
        # The proposer may withdraw (reject) his own proposal, never approve it (four eyes).
        return ["reject", "dry_run"] if v.proposed_by == who.name else ["approve", "reject", "dry_run"]
    if v.status == "active":
        return ["retire"]
    return []


async def _get(book: RuleBook, version_id: int) -> RuleSetVersion:
    try:
        return await book.get(version_id)
    except RuleBookError:
        raise HTTPException(status_code=404, detail="no such rule set version") from None


async def detail(st: ConsoleState, who: Principal, version_id: int) -> RuleSetDetail:
    book = RuleBook(st.store)
    v = await _get(book, version_id)
    count: int | None = None
    problem: str | None = None
    try:
        count = len(parse_rule_text(v.text).rules)
    except RuleError as exc:  # the vocabulary or the policy changed since it was stored
        problem = str(exc)
    versions = sorted((x for x in await book.list() if x.name == v.name), key=lambda x: -x.version)
    return RuleSetDetail(rule_set=row(v), text=v.text, diff=await book.diff(version_id), rules=count,
                         problem=problem, allowed=allowed(v, who), versions=[row(x) for x in versions])


def problem_of(exc: RuleError, text: str) -> RuleProblem:
    """The parse error with its line of the text and a caret under the column, for the editor."""
    lines = text.splitlines()
    source = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
    caret = " " * max(exc.col - 1, 0) + "^" if source or exc.col > 0 else ""
    return RuleProblem(message=rule_error_message(exc), line=exc.line, col=exc.col, source_line=source, caret=caret)


async def propose(st: ConsoleState, who: Principal, name: str, text: str, owner: str, purpose: str,
                  legal_basis: str) -> RuleSetVersion:
    """Raises RuleError (line, column: nothing stored) or HTTPException 422 for what the rule book refuses."""
    try:
        return await RuleBook(st.store).propose(name.strip(), text, owner, purpose, legal_basis, by=who.name)
    except RuleBookError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


async def decide(st: ConsoleState, who: Principal, version_id: int, action: str) -> RuleSetVersion:
    """Approve, reject or retire; Forbidden for the proposer's own approval, RuleConflict for the wrong moment."""
    book = RuleBook(st.store)
    v = await _get(book, version_id)
    try:
        if action == "approve":
            return await book.approve(version_id, by=who.name)
        if action == "reject":
            return await book.reject(version_id, by=who.name)
        if action == "retire":
            if v.status != "active":
                raise RuleConflict(f"{v.label} is {v.status}, not active: only the active version is retired")
            return await book.retire(v.name, by=who.name)
    except FourEyesError as exc:
        raise Forbidden(str(exc)) from None
    except RuleError as exc:
        raise RuleConflict(f"{v.label} no longer parses, so it cannot be approved: {exc}") from None
    except RuleBookError as exc:
        raise RuleConflict(str(exc)) from None
    raise HTTPException(status_code=404, detail=f"unknown action {action!r}")


def _result(run: DryRun) -> DryRunResult:
    return DryRunResult(rules=[RuleCountRow(rule=c.rule, severity=c.severity, score=c.score, flagged=c.flagged)
                               for c in run.rules],
                        manifests=run.manifests, travellers=run.travellers, flagged=run.flagged,
                        depersonalised=run.depersonalised, since=timepoint(run.since, None),
                        window_days=run.window_days, max_travellers=run.max_travellers, truncated=run.truncated,
                        seconds=round(run.seconds, 3))


async def dry_run_text(st: ConsoleState, who: Principal, text: str, *, subject: str | None = None) -> DryRunResult:
    """Count what `text` would flag in the stored window (audited with the counts). Raises RuleError."""
    rules = parse_rule_text(text)
    run = await dry_run(st.store, st.keyring, rules)
    await st.auditor.record(
        actor=who.name, action="rules.dry_run",
        subject=subject or f"rule_text:{hashlib.sha256(text.encode()).hexdigest()[:16]}", purpose=PURPOSE,
        details={"rules": len(rules.rules), "manifests": run.manifests, "travellers": run.travellers,
                 "flagged": run.flagged, "truncated": run.truncated})
    return _result(run)


async def dry_run_version(st: ConsoleState, who: Principal, version_id: int) -> DryRunResult:
    v = await _get(RuleBook(st.store), version_id)
    if v.status != "pending":
        raise RuleConflict(f"{v.label} is {v.status}: a dry run is for a version waiting for approval")
    try:
        return await dry_run_text(st, who, v.text, subject=f"rule_set:{v.id}")
    except RuleError as exc:
        raise RuleConflict(f"{v.label} no longer parses: {exc}") from None
