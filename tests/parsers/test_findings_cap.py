"""Findings are bounded per message and per interchange; a summary stands for the rest and keeps the verdict.

Strategy: crafted inputs where nearly every segment is a finding (malformed tags, bare travellers,
headers full of unexpected segments, many tiny messages) are read with the real limits and, where
the shape matters more than the size, with small limits; the same inputs read with the limits
lifted give the counts the summaries must add up to. Normal messages must come out unchanged.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime

import pytest

import parsers._budget as budget_module
from parsers import Interchange, Severity, read_interchange
from parsers._budget import MAX_FINDINGS_PER_INTERCHANGE, MAX_FINDINGS_PER_MESSAGE, TOO_MANY, parse_tally
from parsers.contrl import read_contrl, write_contrl
from parsers.models import Finding
from parsers.profile import load_profile
from parsers.rules import RULES
from parsers.validate import apply_profile, validate_manifest

TODAY = date(2025, 3, 1)
UNB = "UNA:+.? 'UNB+UNOA:4+AIR1+GOV+20250301:1200+REF1'"
HEAD = (UNB + "UNH+M1+PAXLST:D:05B:UN:IATA'BGM+745'TDT+20+AA123+++AA'LOC+125+ATL'DTM+189:2503011540:201'"
        "LOC+87+JFK'DTM+232:2503011940:201'")


def body(segments: str) -> bytes:
    """One PAXLST message (UNT counting right) with `segments` after its flight leg."""
    text = HEAD + segments
    count = text.count("'") - UNB.count("'") + 1
    return (text + f"UNT+{count}+M1'UNZ+1+REF1'").encode()


@pytest.fixture
def unbounded() -> Iterator[None]:
    init = budget_module.Budget.__init__
    defaults = init.__defaults__
    init.__defaults__ = (sys.maxsize, sys.maxsize)
    yield
    init.__defaults__ = defaults


def _limits(per_message: int, total: int) -> Iterator[None]:
    init = budget_module.Budget.__init__
    defaults = init.__defaults__
    init.__defaults__ = (per_message, total)
    yield
    init.__defaults__ = defaults


@pytest.fixture
def small_limits() -> Iterator[None]:
    yield from _limits(5, 12)


def by_level(ix: Interchange) -> Counter[str | None]:
    return Counter(f.message_ref if f.level == "message" else None for f in ix.findings if f.rule != TOO_MANY)


def summaries(findings: list[Finding]) -> dict[str | None, Finding]:
    out = {}
    for f in findings:
        if f.rule == TOO_MANY:
            assert f.message_ref not in out
            out[f.message_ref] = f
    return out


def counted(findings: list[Finding]) -> Counter[str]:
    """Findings by rule: those built plus those a summary counts."""
    c = Counter(f.rule for f in findings if f.rule != TOO_MANY)
    for s in summaries(findings).values():
        tally = parse_tally(s.value)
        assert tally is not None
        for (rule, _sev), n in tally.items():
            c[rule] += n
    return c


MALFORMED = body("x'" * 3000)  # each: SYN-TAG (interchange level), SYN-CHARSET and STR-UNEXPECTED (message)


def test_malformed_tags_give_at_most_the_limit_and_one_summary_per_level() -> None:
    ix = read_interchange(MALFORMED)
    levels = by_level(ix)
    assert levels[None] == MAX_FINDINGS_PER_MESSAGE and levels["M1"] == MAX_FINDINGS_PER_MESSAGE
    s = summaries(ix.findings)
    assert set(s) == {None, "M1"}
    assert len(ix.findings) == 2 * MAX_FINDINGS_PER_MESSAGE + 2
    assert s[None].level == "interchange" and s["M1"].level == "message"
    assert s[None].severity is Severity.ERROR and s["M1"].severity is Severity.ERROR
    # The repertoire check comes first: its errors fill the message's list, the reader's warnings are counted.
    assert s["M1"].message.startswith(f"{6000 - MAX_FINDINGS_PER_MESSAGE} further finding(s) not listed "
                                      f"({3000 - MAX_FINDINGS_PER_MESSAGE} errors, 3000 warnings)")
    assert ix.findings[-2:] == list(s.values())  # at the end: the findings before are as they were
    assert not ix.ok


def test_the_summaries_count_exactly_what_was_left_out(unbounded: None) -> None:
    everything = read_interchange(MALFORMED)
    assert len(everything.findings) == 9000 and not summaries(everything.findings)
    budget_module.Budget.__init__.__defaults__ = (MAX_FINDINGS_PER_MESSAGE, MAX_FINDINGS_PER_INTERCHANGE)
    capped = read_interchange(MALFORMED)
    assert counted(capped.findings) == Counter(f.rule for f in everything.findings)
    # What is listed is the start of what an unbounded read lists, in the same order.
    listed = [f for f in capped.findings if f.rule != TOO_MANY]
    assert [f for f in listed if f.level == "interchange"] == \
        [f for f in everything.findings if f.level == "interchange"][:MAX_FINDINGS_PER_MESSAGE]
    assert [f for f in listed if f.level == "message"] == \
        [f for f in everything.findings if f.level == "message"][:MAX_FINDINGS_PER_MESSAGE]


def test_the_contrl_still_rejects_and_stays_within_its_999_segments() -> None:
    ix = read_interchange(MALFORMED)
    report = read_contrl(write_contrl(ix, prepared=datetime(2025, 3, 1, 12, 30)))
    assert report.action == "4"
    assert not report.message_accepted("M1")
    assert len(report.messages[0].segments) == 999
    assert not [f for f in report.findings if f.severity is Severity.ERROR]


def test_bare_travellers_are_bounded_in_reading_and_in_validation() -> None:
    # Each traveller: no surname (reader), and a dozen findings of the baseline profile; values that could be
    # personal data (the date of birth) must not reach a summary.
    ix = apply_profile(read_interchange(body("NAD+FL'DTM+329:991399'" * 600)), load_profile("baseline"),
                       today=TODAY)
    reader_rules = {"DAT-NAME-MISSING", "DAT-DATE"}
    built = Counter(f.rule in reader_rules for f in ix.findings if f.rule != TOO_MANY)
    assert built[True] <= MAX_FINDINGS_PER_MESSAGE and built[False] <= MAX_FINDINGS_PER_MESSAGE
    s = [f for f in ix.findings if f.rule == TOO_MANY]
    assert len(s) == 2 and all(f.message_ref == "M1" and f.severity is Severity.ERROR for f in s)
    assert len(ix.findings) <= 2 * (MAX_FINDINGS_PER_MESSAGE + 1)
    assert all("991399" not in (f.message + (f.value or "")) for f in s)
    assert not ix.ok
    report = read_contrl(write_contrl(ix, prepared=datetime(2025, 3, 1, 12, 30)))
    assert not report.message_accepted("M1")


def test_apply_profile_stays_idempotent_on_bounded_findings() -> None:
    once = apply_profile(read_interchange(body("NAD+FL'DTM+329:991399'" * 400)), load_profile("us"), today=TODAY)
    twice = apply_profile(once, load_profile("us"), today=TODAY)
    assert twice.findings == once.findings


def test_only_warnings_left_out_give_a_warning_and_the_message_is_still_accepted() -> None:
    data = body("FTX+AAI'" * 1500)  # FTX in the message header: a warning each
    ix = read_interchange(data)
    [s] = [f for f in ix.findings if f.rule == TOO_MANY]
    assert s.severity is Severity.WARNING and s.value == f"STR-UNEXPECTED:warning:{1500 - MAX_FINDINGS_PER_MESSAGE}"
    assert ix.ok
    baseline = apply_profile(ix, load_profile("baseline"), today=TODAY)
    assert not [f for f in baseline.findings if f.severity is Severity.ERROR and f.rule.startswith("S")]


def test_a_profile_grades_the_summary_by_the_rules_it_counts() -> None:
    ix = read_interchange(body("FTX+AAI'" * 1500))
    base = load_profile("baseline")
    strict = apply_profile(ix, base.model_copy(update={"severity": {"STR-UNEXPECTED": "error"}}), today=TODAY)
    [s] = [f for f in strict.findings if f.rule == TOO_MANY]
    assert s.severity is Severity.ERROR and f"({1500 - MAX_FINDINGS_PER_MESSAGE} errors)" in s.message
    assert not strict.ok
    quiet = apply_profile(ix, base.model_copy(update={"severity": {"STR-UNEXPECTED": "off"}}), today=TODAY)
    assert not [f for f in quiet.findings if f.rule in (TOO_MANY, "STR-UNEXPECTED")]


def test_many_messages_are_bounded_in_all_and_each_keeps_its_verdict(small_limits: None) -> None:
    # 20 messages of 3 findings each (SYN-CHARSET, STR-UNEXPECTED; SYN-TAG at the interchange level), limits
    # 5 per message and 12 in all: past 12, a message keeps only a summary, and each still has an error.
    one = "UNH+{i}+PAXLST:D:05B:UN:IATA'BGM+745'x'UNT+4+{i}'"
    data = (UNB + "".join(one.format(i=i) for i in range(1, 21)) + "UNZ+20+REF1'").encode()
    ix = read_interchange(data)
    assert sum(by_level(ix).values()) == 12
    s = summaries(ix.findings)
    assert s[None].severity is Severity.ERROR  # the interchange level (SYN-TAG) ran out too
    for ref in map(str, range(1, 21)):
        assert any(f.severity is Severity.ERROR for f in ix.findings if f.message_ref == ref), ref
    report = read_contrl(write_contrl(ix, prepared=datetime(2025, 3, 1, 12, 30)))
    assert [m.action for m in report.messages] == ["4"] * 20
    per_message = Counter(f.message_ref for f in ix.findings if f.level == "message")
    assert all(n <= 5 + 1 for n in per_message.values())


def test_validation_alone_is_bounded_with_its_own_summary(small_limits: None) -> None:
    [m] = read_interchange(body("NAD+FL'" * 10)).manifests
    found = validate_manifest(m, load_profile("baseline"), today=TODAY)
    assert len(found) == 5 + 1 and found[-1].rule == TOO_MANY


def test_a_normal_message_with_a_few_findings_is_unchanged(unbounded: None) -> None:
    data = body("NAD+FL+++DOE:JOHN'ATT+2++Q'DTM+329:19990231'NAT+2+XYZ'FTX+AAI'")
    everything = apply_profile(read_interchange(data), load_profile("baseline"), today=TODAY)
    budget_module.Budget.__init__.__defaults__ = (MAX_FINDINGS_PER_MESSAGE, MAX_FINDINGS_PER_INTERCHANGE)
    capped = apply_profile(read_interchange(data), load_profile("baseline"), today=TODAY)
    assert 3 <= len(capped.findings) < 50
    assert capped.findings == everything.findings
    assert not summaries(capped.findings)


def test_the_summary_rule_is_in_the_catalogue() -> None:
    assert RULES[TOO_MANY].severity is Severity.ERROR


def test_findings_past_the_limits_are_never_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built = 0
    init = Finding.__init__

    def counting(self: Finding, **data: object) -> None:
        nonlocal built
        built += 1
        init(self, **data)

    monkeypatch.setattr(Finding, "__init__", counting)
    ix = apply_profile(read_interchange(MALFORMED), load_profile("baseline"), today=TODAY)
    assert 2 * MAX_FINDINGS_PER_MESSAGE <= built < 2 * MAX_FINDINGS_PER_MESSAGE + 20  # of 9,000 unbounded
    assert len(ix.findings) <= built
