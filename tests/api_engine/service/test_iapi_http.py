"""`POST /iapi/v1/paxlst`: a departure-control system's request over HTTPS, answered with the CUSRES.

Strategy: the worker's real app (`create_app` with an `IapiEndpoint`) over httpx's ASGI transport, the
real processor on both databases with a national list naming a traveller of the request, and tokens
made as `api-engine carriers add` makes them. The outputs the endpoint hands to the worker's producer
are recorded; the last test runs the real worker (`serve_worker`: uvicorn, pipeline, broker) and reads
them back from Kafka.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api_engine.service.carriers import add_token, revoke_tokens
from api_engine.service.http import IAPI_PATH, IapiEndpoint, create_app
from api_engine.service.processor import OutputEvent, Processor
from api_engine.settings import Settings
from api_engine.store.schema import interchanges
from parsers import read_interchange
from parsers.contrl import read_contrl
from tests.api_engine.conftest import KafkaIO

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
REQUEST = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes().replace(b"++APIS'", b"++IAPI'", 1)
MAX_BYTES = 16 * 1024
EDIFACT = {"Content-Type": "application/edifact"}


def _listed(tmp_path: Path) -> Path:
    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-2,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    return listed


@dataclass
class Worker:
    processor: Processor
    client: httpx.AsyncClient
    emitted: list[OutputEvent] = field(default_factory=list)

    async def token(self, sender: str = "XXAIRAPI") -> str:
        token, _ = await add_token(self.processor.store, sender, actor="test:ops")
        return token

    async def post(self, body: bytes | Any, token: str | None, content_type: str = "application/edifact",
                   **headers: str) -> httpx.Response:
        sent = {"Content-Type": content_type, **headers}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return await self.client.post(IAPI_PATH, content=body, headers=sent)

    async def stored(self) -> int:
        async with self.processor.store.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(interchanges))).scalar_one())


@pytest.fixture
async def worker(store_settings: Settings, tmp_path: Path) -> AsyncIterator[Worker]:
    settings = store_settings.model_copy(update={"watchlists": [str(_listed(tmp_path))],
                                                 "max_record_bytes": MAX_BYTES})
    processor = await Processor.open(settings)
    emitted: list[OutputEvent] = []

    async def emit(outputs: Sequence[OutputEvent]) -> None:
        emitted.extend(outputs)

    app = create_app(lambda: True, iapi=IapiEndpoint(processor=lambda: processor, emit=emit, can_emit=lambda: True,
                                                     max_bytes=settings.max_record_bytes))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker") as client:
        try:
            yield Worker(processor, client, emitted)
        finally:
            await processor.close()


def _statuses(cusres: bytes) -> dict[str, str | None]:
    [response] = read_interchange(cusres).responses
    assert response.document_code == "962"
    return {t.references["ABO"][0]: t.status for t in response.travellers}


async def test_the_carrier_gets_a_cusres_per_traveller_and_a_listed_traveller_is_not_cleared(worker: Worker) -> None:
    answer = await worker.post(REQUEST, await worker.token())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/edifact")
    assert answer.content.count(b"ERP+2") == 2  # one ERP+2 group per traveller
    assert _statuses(answer.content) == {"0001": "0Z", "0002": "2Z"}  # JOHN SMITH is listed: never 0Z
    # the other outputs reached the producer before the answer: the officer's alert, the manifest, the ack
    kinds = sorted(o.kind for o in worker.emitted)
    assert kinds == ["acks", "alerts", "manifests"]
    [ack] = [json.loads(o.value) for o in worker.emitted if o.kind == "acks"]
    assert base64.b64decode(ack["cusres_base64"]) == answer.content
    assert await worker.stored() == 1


async def test_a_resent_request_gets_the_same_answer(worker: Worker) -> None:
    token = await worker.token()
    first = await worker.post(REQUEST, token)
    again = await worker.post(REQUEST, token, content_type="text/plain; charset=us-ascii")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    ids = [o.event_id for o in worker.emitted]
    assert len(ids) == 6 and ids[:3] == ids[3:]  # a replay: the same outputs, the same event ids
    assert await worker.stored() == 1


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic eHg6eXk=", "Bearer "])
async def test_no_valid_token_is_401_and_nothing_is_processed(worker: Worker, authorization: str | None) -> None:
    await worker.token()
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = await worker.client.post(IAPI_PATH, content=REQUEST, headers={**EDIFACT, **headers})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert worker.emitted == [] and await worker.stored() == 0


async def test_a_revoked_token_is_401(worker: Worker) -> None:
    token = await worker.token()
    assert (await worker.post(REQUEST, token)).status_code == 200
    await revoke_tokens(worker.processor.store, "XXAIRAPI", actor="test:ops")
    answer = await worker.post(REQUEST, token)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_a_sender_that_is_not_the_tokens_carrier_is_403_with_a_negative_contrl(worker: Worker) -> None:
    answer = await worker.post(REQUEST, await worker.token("YYAIRAPI"))  # the request says XXAIRAPI
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/edifact")
    report = read_contrl(answer.content)
    assert report.action == "4" and report.error == 23  # unknown interchange sender
    assert report.subject_sender == "XXAIRAPI"
    assert worker.emitted == [] and await worker.stored() == 0  # nothing of a forgery is kept


async def test_a_body_over_the_record_limit_is_413(worker: Worker) -> None:
    token = await worker.token()
    big = REQUEST + b" " * (MAX_BYTES - len(REQUEST) + 1)
    assert (await worker.post(big, token)).status_code == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(3):
            yield b" " * (MAX_BYTES // 2)

    assert (await worker.post(chunked(), token)).status_code == 413
    assert worker.emitted == [] and await worker.stored() == 0


async def test_a_malformed_request_is_400_with_a_header_level_refusal_and_a_dead_letter(worker: Worker) -> None:
    """The DCS waits for a CUSRES: it gets one refusing the whole request (ERP+1, ERC 1, the rule), clearing
    nobody; the CONTRL rejecting the message goes to api.acks as for any record."""
    import base64
    import json

    from parsers import read_interchange

    broken = REQUEST.replace(b"UNT+38+1'", b"UNT+99+1'")
    answer = await worker.post(broken, await worker.token())
    assert answer.status_code == 400
    [response] = read_interchange(answer.content).responses
    assert response.document_code == "962" and response.header_status == "1" and response.travellers == []
    assert any("ENV-UNT-COUNT" in t for t in response.header_text)
    assert sorted(o.kind for o in worker.emitted) == ["acks", "dlq"]
    [ack] = [json.loads(o.value) for o in worker.emitted if o.kind == "acks"]
    report = read_contrl(base64.b64decode(ack["contrl_base64"]))
    assert report.subject_sender == "XXAIRAPI" and not report.message_accepted("1")  # the message is rejected


async def test_other_content_types_are_415(worker: Worker) -> None:
    answer = await worker.post(REQUEST, await worker.token(), content_type="application/json")
    assert answer.status_code == 415
    assert worker.emitted == []


async def test_before_the_processor_is_open_it_answers_503_with_retry_after() -> None:
    async def emit(outputs: Sequence[OutputEvent]) -> None:
        raise AssertionError("nothing to produce")

    app = create_app(lambda: False, iapi=IapiEndpoint(processor=lambda: None, emit=emit, can_emit=lambda: False,
                                                      max_bytes=MAX_BYTES))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker") as client:
        answer = await client.post(IAPI_PATH, content=REQUEST, headers={**EDIFACT, "Authorization": "Bearer x"})
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_running_worker_answers_over_http_and_produces_the_outputs_to_kafka(
        kafka_settings: Settings, tmp_path: Path) -> None:
    from api_engine.cli.serve import serve_worker
    from api_engine.store import Store

    port = _free_port()
    settings = kafka_settings.model_copy(update={"watchlists": [str(_listed(tmp_path))], "http_port": port})
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(settings, settings.kafka_bootstrap_servers or "", 0, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(600):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert not task.done(), "the worker stopped"
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the worker was not ready within 60 s")
            store = await Store.open(settings.effective_database_url)
            try:
                token, _ = await add_token(store, "XXAIRAPI", actor="test:ops")
            finally:
                await store.close()
            answer = await client.post(IAPI_PATH, content=REQUEST,
                                       headers={**EDIFACT, "Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        assert _statuses(answer.content) == {"0001": "0Z", "0002": "2Z"}
        out = await KafkaIO(settings).collect(lambda o: bool(o["acks"] and o["alerts"] and o["manifests"]),
                                              timeout_s=30)
        [ack] = [r.json() for r in out["acks"]]
        assert isinstance(ack, dict) and base64.b64decode(ack["cusres_base64"]) == answer.content
        [alert] = [r.json() for r in out["alerts"]]
        assert isinstance(alert, dict) and alert["watchlist"]["entry_id"] == "N-2"
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


async def test_with_a_certificate_and_key_the_worker_serves_https_only(worker: Worker, tmp_path: Path) -> None:
    from api_engine.service.http import HttpServer

    certfile, keyfile = _self_signed(tmp_path)
    endpoint = IapiEndpoint(processor=lambda: worker.processor, emit=lambda outputs: asyncio.sleep(0),
                            can_emit=lambda: True, max_bytes=MAX_BYTES)
    server = HttpServer(create_app(lambda: True, iapi=endpoint), "127.0.0.1", 0, certfile=certfile, keyfile=keyfile)
    port = await server.start()
    try:
        token = await worker.token()
        trusted = ssl.create_default_context(cafile=str(certfile))
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trusted) as client:
            answer = await client.post(IAPI_PATH, content=REQUEST,
                                       headers={**EDIFACT, "Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and _statuses(answer.content)["0002"] == "2Z"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as plain:
            with pytest.raises(httpx.TransportError):
                await plain.post(IAPI_PATH, content=REQUEST, headers={**EDIFACT, "Authorization": f"Bearer {token}"})
    finally:
        await server.stop()
    with pytest.raises(ValueError, match="go together"):
        HttpServer(create_app(lambda: True), "127.0.0.1", 0, certfile=certfile)
