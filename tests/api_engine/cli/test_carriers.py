"""`api-engine carriers add|list|revoke`: the token is shown once, stored hashed, revocable and audited.

Strategy: drive the real command line (`cli.main`, in a thread: it runs its own event loop) against
both databases; read the store and the audit trail back as the endpoint and an auditor would.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail
from api_engine.service.carriers import CarrierTokens, hash_token
from api_engine.store import Store
from api_engine.store.schema import carrier_tokens


async def _cli(*argv: str) -> int:
    status: int = await asyncio.to_thread(main, list(argv))
    return status


async def _add(database_url: str, sender: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """(output, token): the token is the last word printed."""
    assert await _cli("carriers", "add", sender, "--database-url", database_url) == 0
    out = capsys.readouterr().out
    return out, out.split()[-1]


async def test_add_prints_a_working_token_last_and_keeps_only_its_hash(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, token = await _add(database_url, "XXAIRAPI", capsys)
    assert len(token) >= 40
    store = await Store.open(database_url)
    try:
        assert await CarrierTokens(store).carrier_of(token) == ("XXAIRAPI", hash_token(token)[:12])
        assert await CarrierTokens(store).carrier_of(token + "x") is None
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(carrier_tokens))).mappings().all()
        assert [r["token_hash"] for r in rows] == [hash_token(token)]
        assert token not in json.dumps([dict(r) for r in rows], default=str)
        assert rows[0]["created_by"].startswith("cli:")
    finally:
        await store.close()
    assert hash_token(token)[:12] in out


async def test_list_shows_token_ids_and_never_a_token(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, first = await _add(database_url, "XXAIRAPI", capsys)
    _, second = await _add(database_url, "YYAIRAPI", capsys)
    assert first != second
    assert await _cli("carriers", "list", "--database-url", database_url) == 0
    listing = capsys.readouterr().out
    assert first not in listing and second not in listing
    lines = [line.split("\t") for line in listing.strip().splitlines()[1:]]
    assert [(line[0], line[1], line[-1]) for line in lines] == [
        ("XXAIRAPI", hash_token(first)[:12], "-"), ("YYAIRAPI", hash_token(second)[:12], "-")]


async def test_revoke_by_token_id_or_sender_ends_the_token_and_is_audited_without_it(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, by_id = await _add(database_url, "XXAIRAPI", capsys)
    _, kept = await _add(database_url, "YYAIRAPI", capsys)
    _, by_sender = await _add(database_url, "ZZAIRAPI", capsys)
    assert await _cli("carriers", "revoke", hash_token(by_id)[:12], "--database-url", database_url) == 0
    assert await _cli("carriers", "revoke", "ZZAIRAPI", "--database-url", database_url) == 0
    capsys.readouterr()
    # revoking again, or what does not exist, is an error the operator sees
    assert await _cli("carriers", "revoke", "ZZAIRAPI", "--database-url", database_url) == 1
    assert await _cli("carriers", "revoke", "NOSUCH", "--database-url", database_url) == 1
    assert "already revoked" in capsys.readouterr().err
    assert await _cli("carriers", "list", "--database-url", database_url) == 0
    revoked = {line.split("\t")[0]: line.split("\t")[-1] for line in capsys.readouterr().out.strip().splitlines()[1:]}
    assert revoked["YYAIRAPI"] == "-"
    assert " by cli:" in revoked["XXAIRAPI"] and " by cli:" in revoked["ZZAIRAPI"]

    store = await Store.open(database_url)
    try:
        tokens = CarrierTokens(store)
        assert await tokens.carrier_of(by_id) is None
        assert await tokens.carrier_of(by_sender) is None
        assert await tokens.carrier_of(kept) == ("YYAIRAPI", hash_token(kept)[:12])
        trail = AuditTrail(store)
        entries = [e for e in await trail.recent(50) if e.action.startswith("carrier_token")]
        assert sorted((e.action, e.details["sender"], e.details["token_id"]) for e in entries) == sorted([
            ("carrier_token_add", "XXAIRAPI", hash_token(by_id)[:12]),
            ("carrier_token_add", "YYAIRAPI", hash_token(kept)[:12]),
            ("carrier_token_add", "ZZAIRAPI", hash_token(by_sender)[:12]),
            ("carrier_token_revoke", "XXAIRAPI", hash_token(by_id)[:12]),
            ("carrier_token_revoke", "ZZAIRAPI", hash_token(by_sender)[:12]),
        ])
        assert all(e.actor.startswith("cli:") for e in entries)
        text = json.dumps([[e.subject, e.details, e.reason, e.purpose] for e in entries])
        for token in (by_id, kept, by_sender):
            assert token not in text and hash_token(token) not in text
        assert (await trail.verify()).ok
    finally:
        await store.close()


async def test_a_sender_that_cannot_be_a_unb_sender_id_gets_no_token(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("carriers", "add", "XX'AIR+API", "--database-url", database_url) == 1
    assert "not a UNB sender id" in capsys.readouterr().err
    store = await Store.open(database_url)
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(carrier_tokens))).first() is None
    finally:
        await store.close()
