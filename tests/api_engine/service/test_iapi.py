"""The board/no-board answer per traveller: an error hidden by the findings bound never yields 0Z."""

from __future__ import annotations

from pathlib import Path

from api_engine.service.iapi import iapi_statuses
from api_engine.service.prepare import Screened, prepare
from api_engine.service.screening import NoScreener
from parsers import TOO_MANY_FINDINGS, Finding, Severity, load_profile

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
REQUEST = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes().replace(b"++APIS'", b"++IAPI'", 1)


def _screened() -> tuple[Screened, list[Finding]]:
    prep = prepare(REQUEST, load_profile("baseline"), NoScreener(), control_ref="IAPITEST")
    assert prep.interchange is not None and prep.interactive
    [s] = prep.singles
    return s, list(prep.interchange.findings)


def test_an_error_in_a_travellers_own_segments_gives_that_traveller_4z_only() -> None:
    s, findings = _screened()
    assert set(iapi_statuses(s, findings).values()) == {("0Z", "OK TO BOARD")}
    second = s.manifest.travellers[1]
    assert second.segment_position is not None
    bad = Finding(rule="DOC-TEST", severity=Severity.ERROR, level="message", message="a bad document",
                  message_ref=s.manifest.header.message_ref,
                  segment_position=second.segment_position + 1)
    statuses = iapi_statuses(s, [*findings, bad])
    assert [statuses[i][0] for i in range(len(statuses))] == ["0Z", "4Z"]


def test_errors_counted_but_not_listed_give_no_traveller_0z() -> None:
    """Past the findings bound the reader counts errors without positions: any traveller may hold one."""
    s, findings = _screened()
    summary = Finding(rule=TOO_MANY_FINDINGS, severity=Severity.ERROR, level="message",
                      message="1200 further finding(s) not listed",
                      message_ref=s.manifest.header.message_ref)
    statuses = iapi_statuses(s, [*findings, summary])
    assert {code for code, _ in statuses.values()} == {"4Z"}
