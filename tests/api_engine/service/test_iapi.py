"""The board/no-board answer per traveller: an error hidden by the findings bound never yields 0Z."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


async def test_a_resent_request_gets_the_answer_the_first_one_got(store_settings: Any, tmp_path: Path) -> None:
    """The carrier resends after a timeout (the same bytes, as a new record): it must get the same CUSRES,
    not a bare 'duplicate' that leaves the agent without an answer; a listed traveller is never 0Z."""
    import base64
    import json

    from api_engine.service.processor import Processor
    from parsers import read_interchange

    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-2,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    p = await Processor.open(store_settings.model_copy(update={"watchlists": [str(listed)]}))
    try:
        def answer(events: Any) -> tuple[bool, bytes]:
            [ack] = [json.loads(e.value) for e in events if e.kind == "acks"]
            return ack["duplicate"], base64.b64decode(ack["cusres_base64"])

        first_dup, first = answer(await p.process(REQUEST, key=b"XXAIRAPI/1"))
        again_dup, again = answer(await p.process(REQUEST, key=b"XXAIRAPI/resend"))  # another record, same bytes
        assert (first_dup, again_dup) == (False, True)
        assert again == first
        [response] = read_interchange(first).responses
        statuses = {t.references["ABO"][0]: t.status for t in response.travellers}
        assert statuses == {"0001": "0Z", "0002": "2Z"}  # JOHN SMITH is listed: never cleared
    finally:
        await p.close()
