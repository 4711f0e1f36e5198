"""Carrier certification (`conformance check`) and offline suite evaluation, as `Report`s.

Strategy: both are the offline evaluation (evaluate.py) seen through the rule catalogue: a file
passes when no finding of it (its own, or its multi-part list's) is an error under the profile;
each finding becomes a report line with the rule's implementation-guide reference and fix hint
from `parsers.rules.RULES`, so the wording a carrier reads is the one the docs generate from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from parsers import Finding
from parsers.profile import Profile, load_profile
from parsers.rules import RULES

from .evaluate import evaluate
from .report import CaseResult, Line, Report
from .suite import Suite, check_case_offline

_ORDER = {"error": 0, "warning": 1, "info": 2}


def finding_line(f: Finding) -> Line:
    info = RULES.get(f.rule)
    return Line(rule=f.rule, severity=f.severity.value, message=f.message,
                reference=info.reference if info else "", position=f.segment_position, segment=f.segment_tag,
                text=f.value, hint=info.hint if info else "", contrl=f.contrl_error, message_ref=f.message_ref)


def check_inputs(inputs: Sequence[tuple[str, bytes]], profile: Profile) -> Report:
    """Certify carrier files: one case per file; multi-part lists are assembled across all files."""
    started = time.perf_counter()
    ev = evaluate(inputs, profile, screen=False)
    report = Report(kind="check", title=f"{len(inputs)} file(s)", profile=profile.name,
                    meta={"profile_source": profile.source or profile.name})
    per_file = (time.perf_counter() - started) / max(len(inputs), 1)
    for r in ev.inputs:
        lines = sorted((finding_line(f) for f in r.findings),
                       key=lambda ln: (_ORDER.get(ln.severity, 3), ln.position or 0, ln.rule))
        ic = r.interchange
        details: dict[str, object] = {"messages": len(ic.messages), "travellers": r.travellers}
        if ic.responses:
            details["responses"] = len(ic.responses)
        if r.duplicate_of is not None:
            details["duplicate_of"] = inputs[r.duplicate_of][0]
        if r.reuses_ref_of is not None:
            details["reuses_reference_of"] = inputs[r.reuses_ref_of][0]
        report.cases.append(CaseResult(name=r.name, passed=not r.errors, lines=lines, details=details,
                                       seconds=per_file))
    return report


def check_paths(paths: Sequence[str | Path], profile: Profile) -> Report:
    return check_inputs([(str(p), Path(p).read_bytes()) for p in paths], profile)


def check_suite_offline(suite: Suite, profile: str, *, profile_override: str | Path | None = None,
                        case_ids: Sequence[str] | None = None) -> Report:
    """Hold the current code to a suite: every case that has an expectation for `profile`."""
    report = Report(kind="check", title=f"suite {suite.name} (offline)", profile=profile,
                    meta={"suite": suite.name, "profile_file": str(profile_override or load_profile(profile).source)})
    for case in suite.cases:
        if case_ids and case.id not in case_ids:
            continue
        if profile not in case.expect:
            report.cases.append(CaseResult(name=case.id, title=case.title, passed=True, skipped=True,
                                           details={"skip_reason": f"no expectation for profile {profile}"}))
            continue
        started = time.perf_counter()
        _, mismatches = check_case_offline(case, profile, profile_override=profile_override)
        lines = [Line(rule=m.check, severity="error", message=str(m)) for m in mismatches]
        report.cases.append(CaseResult(name=case.id, title=case.title, passed=not mismatches, lines=lines,
                                       seconds=time.perf_counter() - started))
    return report
