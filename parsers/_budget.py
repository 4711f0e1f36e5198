"""A bound on the findings one input makes: per message, for the interchange level, and in all.

Strategy: crafted input can make nearly every byte a finding (a malformed tag is two bytes; a bare
`NAD+FL'` seven bytes, worth a dozen validation findings), and a Finding model costs about 1.4 KB,
so unbounded findings cost hundreds of times the input in memory. A CONTRL lists at most 999
erroneous segments per message (SG2 UCS, C999; domain brief §3.3): findings beyond that many
cannot reach the carrier anyway. So producers ask `Budget.keep` before they build a finding; past
the limit the finding is only counted, by rule and severity, and `Budget.summaries` turns each
count into one `TOO_MANY` finding for its message (or the interchange level). The summary keeps the
verdict: its severity is the worst left out, so a message with a suppressed error is still
rejected, and one with only suppressed warnings is not. Its `value` holds the count per rule and
severity ("RULE:severity:count ..."), so a profile can re-grade it (`regrade`) as it re-grades
the findings it stands for. Reading and validation each have their own budget.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from .models import Finding, Severity

MAX_FINDINGS_PER_MESSAGE = 999
"""Findings built per message (and for the interchange level): as many erroneous segments as a CONTRL
can report for one message (SG2 UCS, C999)."""
MAX_FINDINGS_PER_INTERCHANGE = 10_000
"""Findings built in all, over every message of one interchange (summaries aside: one per message)."""
TOO_MANY = "SYN-TOO-MANY-FINDINGS"

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}
_PLURAL = {Severity.ERROR: "errors", Severity.WARNING: "warnings", Severity.INFO: "info"}


class Budget:
    """How many more findings a read (or a validation) may build; beyond that, only counts."""

    __slots__ = ("counts", "left", "per_message", "tallies", "total")

    def __init__(self, per_message: int = MAX_FINDINGS_PER_MESSAGE,
                 total: int = MAX_FINDINGS_PER_INTERCHANGE) -> None:
        self.per_message = per_message
        self.total = total
        self.left = total
        self.counts: dict[str | None, int] = {}  # findings built, by message ref (None: interchange level)
        self.tallies: dict[str | None, dict[tuple[str, Severity], int]] = {}  # findings left out

    def keep(self, rule: str, severity: Severity, ref: str | None = None) -> bool:
        """True when the finding may be built (and is counted as built); False when it was counted as
        left out. `ref` is the message's reference, None for interchange- and group-level findings."""
        n = self.counts.get(ref, 0)
        if n < self.per_message and self.left > 0:
            self.counts[ref] = n + 1
            self.left -= 1
            return True
        tally = self.tallies.get(ref)
        if tally is None:
            tally = self.tallies[ref] = {}
        key = (rule, severity)
        tally[key] = tally.get(key, 0) + 1
        return False

    def summaries(self) -> list[Finding]:
        """One finding per message (and for the interchange level) that had findings left out; the
        counts are then cleared."""
        out = [summary(tally, ref, self.per_message, self.total) for ref, tally in self.tallies.items()]
        self.tallies = {}
        return out


def summary(tally: Mapping[tuple[str, Severity], int], ref: str | None, per_message: int = MAX_FINDINGS_PER_MESSAGE,
            total: int = MAX_FINDINGS_PER_INTERCHANGE) -> Finding:
    """The finding that stands for the findings in `tally`; names rules and counts, never values."""
    value = " ".join(f"{rule}:{sev.value}:{n}" for (rule, sev), n in tally.items())
    severity, message = _describe(tally, per_message, total)
    return Finding(rule=TOO_MANY, severity=severity, message=message,
                   level="interchange" if ref is None else "message", message_ref=ref, value=value)


def _describe(tally: Mapping[tuple[str, Severity], int], per_message: int, total: int) -> tuple[Severity, str]:
    by_sev: Counter[Severity] = Counter()
    for (_rule, sev), n in tally.items():
        by_sev[sev] += n
    worst = max(by_sev, key=_RANK.__getitem__)
    kinds = ", ".join(f"{by_sev[s]} {_PLURAL[s]}" for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
                      if by_sev[s])
    n = sum(by_sev.values())
    return worst, (f"{n} further finding(s) not listed ({kinds}): at most {per_message} are listed per message "
                   f"and {total} per interchange")


def parse_tally(value: str | None) -> Counter[tuple[str, Severity]] | None:
    """The counts a summary's `value` holds; None when it holds none."""
    if not value:
        return None
    tally: Counter[tuple[str, Severity]] = Counter()
    try:
        for item in value.split():
            rule, sev, n = item.rsplit(":", 2)
            tally[(rule, Severity(sev))] += int(n)
    except ValueError:
        return None
    return tally


def regrade(f: Finding, grade: Callable[[str, Severity], Severity | None]) -> Finding | None:
    """A summary re-graded rule by rule with `grade` (None: that rule is off); None when nothing is left."""
    tally = parse_tally(f.value)
    if tally is None:
        return f
    graded: Counter[tuple[str, Severity]] = Counter()
    for (rule, sev), n in tally.items():
        g = grade(rule, sev)
        if g is not None:
            graded[(rule, g)] += n
    if not graded:
        return None
    per_message, total = _limits(f.message)
    severity, message = _describe(graded, per_message, total)
    if severity is f.severity and message == f.message:
        return f
    return f.model_copy(update={"severity": severity, "message": message})


def _limits(message: str) -> tuple[int, int]:
    """The limits a summary's message names (a budget may have been built with other limits)."""
    nums = [int(w) for w in message.split() if w.isascii() and w.isdigit()]
    return (nums[-2], nums[-1]) if len(nums) >= 2 else (MAX_FINDINGS_PER_MESSAGE, MAX_FINDINGS_PER_INTERCHANGE)
