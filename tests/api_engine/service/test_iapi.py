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


def _variant(ref: str, bgm: str, *, travellers: str = "all", on_board: tuple[str, ...] = ()) -> bytes:
    """The example request under another UNB reference, with another BGM; `travellers`: "all", "refs" (by
    reference only, the ABOs in `on_board`: a close-out) or "none" (a cancellation)."""
    import re

    from conformance.edi import Edi

    e = Edi.parse(REQUEST.replace(b"O?'BRIEN", b"OBRIEN"))  # Edi splits at a released apostrophe
    e.segments = [s.replace("000000001", ref) if s.startswith(("UNB+", "UNZ+")) else s for s in e.segments]
    e.segments = [bgm if s.startswith("BGM+") else s for s in e.segments]
    if travellers != "all":
        out: list[str] = []
        inside = False
        keep = False
        for s in e.segments:
            if re.match(r"NAD\+FL\+", s):
                inside = True
                abo = None
                keep = False
                group: list[str] = []
            if s.startswith(("CNT+", "UNT+")):
                inside = False
            if inside:
                if s.startswith("RFF+ABO:"):
                    abo = s.split(":", 1)[1]
                    keep = travellers == "refs" and abo in on_board
                    if keep:
                        out.extend(["NAD+FL", *[g for g in group if g.startswith("RFF+")], s])
                elif s.startswith("NAD+FL+"):
                    group = []
                elif keep and s.startswith("RFF+"):
                    out.append(s)
                else:
                    group.append(s)
                continue
            out.append(s.replace("CNT+42:2", f"CNT+42:{len(on_board)}") if s.startswith("CNT+") else s)
        e.segments = out
    return e.fix_counts().to_bytes()


async def test_the_answer_per_traveller_follows_a_change_the_close_out_and_a_cancellation(
        store_settings: Any) -> None:
    from sqlalchemy import select

    from api_engine.service.processor import Processor
    from api_engine.store.schema import iapi_answers

    p = await Processor.open(store_settings)

    async def answers() -> dict[str, tuple[str, str, int]]:
        ring = p.keyring
        names = {ring.pseudonym(abo, "iapi-abo", 43): abo for abo in ("0001", "0002")}
        async with p.store.engine.connect() as conn:
            rows = (await conn.execute(select(iapi_answers))).all()
        return {names[r.abo_key]: (r.status, r.state, r.answers) for r in rows}

    try:
        await p.process(REQUEST, key=b"XXAIRAPI")
        assert await answers() == {"0001": ("0Z", "answered", 1), "0002": ("0Z", "answered", 1)}
        await p.process(_variant("000000002", "BGM+745+CP"), key=b"XXAIRAPI")  # changed data: a new answer
        assert await answers() == {"0001": ("0Z", "changed", 2), "0002": ("0Z", "changed", 2)}
        await p.process(_variant("000000003", "BGM+266+CLOB", travellers="refs", on_board=("0001",)),
                        key=b"XXAIRAPI")
        assert await answers() == {"0001": ("0Z", "boarded", 2), "0002": ("0Z", "offloaded", 2)}
        await p.process(_variant("000000004", "BGM+266+XF", travellers="none"), key=b"XXAIRAPI")
        assert {state for _, state, _ in (await answers()).values()} == {"cancelled"}
    finally:
        await p.close()


async def test_a_request_refused_as_a_whole_still_gets_a_cusres_that_clears_nobody(store_settings: Any) -> None:
    import base64
    import json

    from api_engine.service.processor import Processor
    from parsers import read_interchange

    p = await Processor.open(store_settings)
    try:
        events = await p.process(REQUEST.replace(b"UNT+38+1'", b"UNT+99+1'"), key=b"XXAIRAPI")
        [ack] = [json.loads(e.value) for e in events if e.kind == "acks"]
        assert ack["accepted"] is False and [e.kind for e in events].count("dlq") == 1
        [response] = read_interchange(base64.b64decode(ack["cusres_base64"])).responses
        assert (response.document_code, response.header_status, response.travellers) == ("962", "1", [])
        batch = await p.process((EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()
                                .replace(b"UNT+38+1'", b"UNT+99+1'"), key=b"XXAIRAPI")
        [batch_ack] = [json.loads(e.value) for e in batch if e.kind == "acks"]
        assert batch_ack["cusres_base64"] is None  # a batch manifest gets its CONTRL only, as before
    finally:
        await p.close()


async def test_an_iapi_answer_goes_when_retention_deletes_its_traveller(store_settings: Any) -> None:
    from sqlalchemy import delete, func, select

    from api_engine.service.processor import Processor
    from api_engine.store.schema import iapi_answers, travellers

    p = await Processor.open(store_settings)
    try:
        await p.process(REQUEST, key=b"XXAIRAPI")
        async with p.store.transaction() as conn:
            assert await conn.scalar(select(func.count()).select_from(iapi_answers)) == 2
            await conn.execute(delete(travellers))  # what retention does when the travellers are due
            assert await conn.scalar(select(func.count()).select_from(iapi_answers)) == 0
    finally:
        await p.close()
