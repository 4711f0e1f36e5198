"""CONTRL writer and reader, held against the real corpus.

Strategy: read a corpus file, answer it with `write_contrl`, and check the acknowledgement as a
carrier would read it (`read_contrl`): the actions 4/7/8, the 0085 codes and the positions of
the errors the SOURCES.md verdicts name. Every CONTRL we write must itself pass our envelope
checks (counts and references).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from parsers import read_interchange
from parsers.contrl import ContrlReport, read_contrl, write_contrl
from parsers.models import Finding, Interchange, InterchangeHeader, MessageHeader, Severity
from tests.corpus_table import CORPUS

WHEN = datetime(2025, 3, 1, 12, 30)
assert CORPUS.is_dir(), f"the shared corpus is missing: expected at {CORPUS} (../shared beside the checkout)"
ALL_FILES = sorted(CORPUS.glob("*.edi"))
assert ALL_FILES, f"no .edi files in the shared corpus at {CORPUS}"


def _file(fragment: str) -> bytes:
    (path,) = [p for p in ALL_FILES if fragment in p.name]
    return path.read_bytes()


def _ack(fragment: str, **kw: object) -> tuple[Interchange, bytes, ContrlReport]:
    subject = read_interchange(_file(fragment))
    out = write_contrl(subject, prepared=WHEN, **kw)  # type: ignore[arg-type]
    return subject, out, read_contrl(out)


def test_wrong_unt_count_rejects_the_message_at_the_unt_position() -> None:
    # airline2.edi: UNT*121 for 111 segments, UNT reference "140211180 0" != UNH 1402111800
    _, _, report = _ack("airline2")
    assert report.action == "7"  # only a warning (tag with a space) at interchange level
    (msg,) = report.messages
    assert (msg.message_ref, msg.action, msg.error, msg.segment_tag) == ("1402111800", "4", 29, "UNT")
    (ucs,) = msg.segments
    assert ucs.position == 111
    # UCD S011 counts the segment tag as 1: the count is element 2, the reference element 3
    assert ucs.element_errors == [(29, 2, None), (28, 3, None)]
    assert not report.message_accepted("1402111800")


def test_a_note_flags_an_accepted_interchange_without_rejecting_it() -> None:
    """A reused interchange reference is processed: the UCI keeps action 7 and carries code 26 on UNB."""
    reused = Finding(rule="ENV-REF-REUSED", severity=Severity.WARNING, level="interchange", segment_tag="UNB",
                     message="reference used before with other content", contrl_error=26)
    _, out, report = _ack("apisMessage", note=reused)
    assert (report.action, report.error, report.segment_tag) == ("7", 26, "UNB")
    assert report.message_accepted("PAX001")
    _, plain, _ = _ack("apisMessage")
    assert plain.replace(b"+7'", b"+7+26+UNB'", 1) == out  # only the UCI differs


def test_valid_file_is_acknowledged_at_both_levels() -> None:
    subject, out, report = _ack("apisMessage")
    assert subject.ok
    assert report.action == "7" and report.error is None
    assert [(m.message_ref, m.action, m.segments) for m in report.messages] == [("PAX001", "7", [])]
    assert report.message_accepted("PAX001")
    assert (report.subject_control_ref, report.subject_sender, report.subject_recipient) == \
        ("000006640", "AIR1", "DHS")
    text = out.decode("latin-1")
    assert "UNH+1+CONTRL:4:1:UN'" in text  # subject is syntax version 4
    assert "+20250301:1230+" in text  # v4: 8-digit date


def test_fragment_without_unb_still_gets_a_contrl_addressed_to_unknown() -> None:
    subject, out, report = _ack("apis_edi_file_test1")
    assert subject.header.sender is None
    assert report.findings == []
    assert report.action == "4" and report.error == 13 and report.segment_tag == "UNB"
    assert report.subject_sender == "UNKNOWN" and report.subject_control_ref == "UNKNOWN"
    assert read_interchange(out).header.recipient == "UNKNOWN"
    # the body itself was fine, but a rejected interchange rejects its messages
    assert [m.action for m in report.messages] == ["7"]
    assert not report.message_accepted("1")


def test_interchange_level_error_goes_to_uci_with_tag_and_element() -> None:
    # testBagWeightAndCountMEA: UNZ reference 020A07 != UNB 000000001
    _, _, report = _ack("testBagWeightAndCountMEA")
    assert (report.action, report.error, report.segment_tag, report.element) == ("4", 28, "UNZ", 3)
    (msg,) = report.messages
    assert msg.action == "4"
    assert 29 in msg.codes and 28 in msg.codes and 13 in msg.codes  # UNT count/ref, DOC without type
    assert [s.position for s in msg.segments] == sorted(s.position for s in msg.segments)


def test_lowercase_in_unoa_is_reported_with_code_21_at_message_positions() -> None:
    _, _, report = _ack("Test1")
    (msg,) = report.messages
    charset = [s for s in msg.segments if any(c == 21 for c, _, _ in s.element_errors)]
    assert [s.position for s in charset][:2] == [10, 17]  # first crew NAD and its LOC+180
    assert (21, 5, 1) in charset[0].element_errors  # NAD element 4 (+1 for the tag), surname component


def test_receipt_only_says_8_and_nothing_about_messages() -> None:
    _, out, report = _ack("airline2", receipt_only=True)
    assert report.action == "8" and report.messages == []
    assert b"UCM" not in out


def test_syntax_version_1_subject_gets_a_version_3_style_contrl() -> None:
    _, out, report = _ack("testRandomApis")
    text = out.decode("latin-1")
    assert "UNH+1+CONTRL:D:3:UN'" in text
    assert "+250301:1230+" in text  # 6-digit date below version 4
    assert report.findings == []


def test_sender_and_control_ref_are_used_and_addressed_back() -> None:
    subject = read_interchange(_file("apisMessage"))
    out = write_contrl(subject, sender="GOVAPI", control_ref="ACK42", prepared=WHEN)
    echo = read_interchange(out)
    assert (echo.header.sender, echo.header.recipient, echo.header.control_ref) == ("GOVAPI", "AIR1", "ACK42")
    assert out.rstrip().endswith(b"UNZ+1+ACK42'")


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name[:60])
def test_every_corpus_file_gets_a_well_formed_contrl_matching_its_findings(path: Path) -> None:
    subject = read_interchange(path.read_bytes())
    report = read_contrl(write_contrl(subject, prepared=WHEN))
    assert report.findings == []  # counts and references of our own CONTRL are right
    assert [m.message_ref or "UNKNOWN" for m in report.messages] == \
        [m.message_ref or "UNKNOWN" for m in subject.messages]
    for m in report.messages:
        own_errors = [f for f in subject.findings if f.severity is Severity.ERROR
                      and f.message_ref == m.message_ref and f.level not in ("interchange", "group")]
        assert m.action == ("4" if own_errors else "7")
    top_errors = [f for f in subject.findings if f.severity is Severity.ERROR
                  and (f.message_ref is None or f.level in ("interchange", "group"))]
    assert (report.action == "4") == bool(top_errors)


def _synthetic(findings: list[Finding]) -> Interchange:
    header = InterchangeHeader(syntax_id="UNOA", syntax_version="4", sender="AIR", recipient="GOV",
                               control_ref="77")
    msg = MessageHeader(message_ref="M1", message_type="PAXLST", version="D", release="05B", agency="UN")
    return Interchange(header=header, messages=[msg], findings=findings)


def test_error_without_contrl_code_is_18_and_warnings_do_not_reject() -> None:
    findings = [
        Finding(rule="X-WARN", severity=Severity.WARNING, message="w", segment_position=3, contrl_error=12,
                message_ref="M1"),
        Finding(rule="X-ERR", severity=Severity.ERROR, message="e", segment_position=5, segment_tag="DOC",
                message_ref="M1"),
    ]
    report = read_contrl(write_contrl(_synthetic(findings), prepared=WHEN))
    assert report.action == "7"
    (msg,) = report.messages
    assert (msg.action, msg.error, msg.segment_tag) == ("4", 18, "DOC")
    assert [(s.position, s.error) for s in msg.segments] == [(5, 18)]  # the warning at 3 is not listed


def test_only_warnings_acknowledge() -> None:
    findings = [Finding(rule="X-WARN", severity=Severity.WARNING, message="w", segment_position=3,
                        contrl_error=15, message_ref="M1")]
    report = read_contrl(write_contrl(_synthetic(findings), prepared=WHEN))
    assert report.action == "7" and report.messages[0].action == "7"
    assert report.message_accepted("M1")


def test_read_contrl_reports_a_non_contrl_message_instead_of_raising() -> None:
    report = read_contrl(_synthetic_paxlst())
    assert report.action is None
    assert any(f.rule == "FMT-NOT-CONTRL" for f in report.findings)


def _synthetic_paxlst() -> bytes:
    return b"UNB+UNOA:4+A+B+250301:1200+1'UNH+1+PAXLST:D:05B:UN:IATA'BGM+745'UNT+3+1'UNZ+1+1'"
