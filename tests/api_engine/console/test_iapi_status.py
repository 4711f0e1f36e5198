"""The officer sees each traveller's interactive-API answer and what followed (issue 18, item 4: answered,
answered again after changed data, on board or off-loaded at the close-out)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api_engine.console import create_app
from api_engine.store import Store
from api_engine.store.schema import travellers

from .conftest import PLANTED, ConsoleEnv, bystander, paxlst
from .test_security import sign_in


@pytest.fixture
def client(console_env: ConsoleEnv) -> Iterator[TestClient]:
    with TestClient(create_app(console_env.settings)) as c:
        yield c


def _interactive(data: bytes) -> bytes:
    return data.replace(b"++APIS'", b"++IAPI'", 1)


def _close_out(request: bytes, on_board: str) -> bytes:
    """The same flight's close-out (BGM 266 CLOB) listing one traveller by reference, under a new UNB ref."""
    text = request.decode()
    head, _, rest = text.partition("NAD+FL")
    ref = re.search(r"\+(\d{9})\+\+IAPI'", head)
    assert ref is not None
    head = head.replace(ref.group(1), "999999999").replace("BGM+745", "BGM+266+CLOB")
    tail = "CNT+42:1'" + rest.split("CNT+42:", 1)[1].split("'", 1)[1]
    body = head + f"NAD+FL'RFF+ABO:{on_board}'" + tail.replace(f"+{ref.group(1)}'", "+999999999'")
    segments = body.split("'")
    unh = next(i for i, s in enumerate(segments) if s.startswith("UNH+"))
    unt = next(i for i, s in enumerate(segments) if s.startswith("UNT+"))
    segments[unt] = f"UNT+{unt - unh + 1}+1"
    return "'".join(segments).encode()


def test_the_traveller_page_shows_the_iapi_answer_and_the_close_out(client: TestClient,
                                                                    console_env: ConsoleEnv) -> None:
    request = _interactive(paxlst("XX300", [bystander(5), PLANTED]))
    console_env.process(request)

    async def refs(store: Store) -> list[str]:
        async with store.engine.connect() as conn:
            return list((await conn.execute(select(travellers.c.ref).where(travellers.c.ref.like("%:%"))
                                            .order_by(travellers.c.id.desc()).limit(2))).scalars())

    planted_ref, bystander_ref = refs_ = console_env.run(refs)  # type: ignore[misc]
    assert len(refs_) == 2
    sign_in(client, "officer")
    page = client.get(f"/travellers/{planted_ref}").text
    answer = re.search(r'<dl class="facts" id="iapi">(.*?)</dl>', page, re.S)
    assert answer is not None
    assert "2Z" in answer.group(1) and "0Z" not in answer.group(1)  # listed: never cleared to board
    assert "answered" in answer.group(1)
    assert "0Z" in client.get(f"/travellers/{bystander_ref}").text

    console_env.process(_close_out(request, "0001"))  # only the bystander boarded
    page = client.get(f"/travellers/{planted_ref}").text
    assert "off-loaded" in page
    assert "on board at the close-out" in client.get(f"/travellers/{bystander_ref}").text


def test_a_decision_changes_the_answer_with_a_cusres_132_until_the_carrier_acknowledges_it(
        client: TestClient, console_env: ConsoleEnv) -> None:
    """Confirmed → 1Z: the change waits in the store, the service sends it as a CUSRES 132 (and again while
    no 312 comes), the carrier's CUSRES 312 quoting its reference is matched, and the officer sees each step."""
    import base64
    import json
    from datetime import timedelta

    from api_engine.protection.crypto import keyring_from_settings
    from api_engine.service.iapi_changes import ChangeSender
    from api_engine.store.schema import hits, iapi_changes
    from parsers import read_interchange

    request = _interactive(paxlst("XX301", [bystander(6), PLANTED]))
    console_env.process(request)

    async def find(store: Store) -> tuple[str, int]:
        async with store.engine.connect() as conn:
            ref = (await conn.execute(select(travellers.c.ref).order_by(travellers.c.id.desc()).limit(1))).scalar_one()
            hit = (await conn.execute(select(hits.c.id).order_by(hits.c.id.desc()).limit(1))).scalar_one()
        return ref, hit

    planted_ref, hit_id = console_env.run(find)  # type: ignore[misc]
    h = {"X-CSRF-Token": sign_in(client, "officer")}
    r = client.post(f"/api/hits/{hit_id}/decision", json={"decision": "confirm", "comment": "seen at the desk"},
                    headers=h)
    assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
    page = client.get(f"/travellers/{planted_ref}").text
    assert "1Z" in page and "waiting to be sent" in page and "officer" in page
    hit_page = client.get(f"/hits/{hit_id}").text  # where the officer decided: what the carrier is told
    assert 'id="hit-iapi"' in hit_page and "waiting to be sent" in hit_page and "1Z" in hit_page

    sent: list[bytes] = []

    async def send(store: Store, at: object = None) -> int:
        async def emit(outputs: list[object]) -> None:
            for o in outputs:
                sent.append(base64.b64decode(json.loads(o.value)["cusres_base64"]))  # type: ignore[attr-defined]
        sender = ChangeSender(store, keyring_from_settings(console_env.settings), emit)
        return len(await sender.send_due(at=at))  # type: ignore[arg-type]

    assert console_env.run(send) == 1
    [response] = read_interchange(sent[0]).responses
    assert response.document_code == "132" and [t.status for t in response.travellers] == ["1Z"]
    assert response.travellers[0].references["ABO"] == ["0002"]
    assert console_env.run(send) == 0  # not again at once
    from api_engine.store.store import now

    later = now() + timedelta(seconds=31)
    assert console_env.run(lambda store: send(store, later)) == 1  # no 312 within 30 s: sent again
    assert "sent 2 time(s)" in client.get(f"/travellers/{planted_ref}").text

    # the carrier acknowledges: its CUSRES 312 quotes the 132's reference (RFF+TN)
    async def acknowledged(store: Store) -> bool:
        async with store.engine.connect() as conn:
            return (await conn.scalar(select(iapi_changes.c.acknowledged_at))) is not None

    ack = sent[0].decode("latin-1").replace("BGM+132", "BGM+312")
    spoofed = ack.replace("+ZZGOVAPI+XXAIRAPI+", "+YYAIRAPI+ZZGOVAPI+")  # another carrier quoting the reference
    console_env.process(spoofed.encode("latin-1"))
    assert not console_env.run(acknowledged)
    ack = ack.replace("+ZZGOVAPI+XXAIRAPI+", "+XXAIRAPI+ZZGOVAPI+")  # UNB and UNG: from the carrier
    console_env.process(ack.encode("latin-1"))

    assert console_env.run(acknowledged)
    assert "acknowledged by the carrier" in client.get(f"/travellers/{planted_ref}").text
    assert "acknowledged by the carrier (CUSRES 312)" in client.get(f"/hits/{hit_id}").text
    assert console_env.run(lambda store: send(store, later + timedelta(seconds=60))) == 0  # acknowledged: done
