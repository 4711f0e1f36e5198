"""Uploads and ids cannot hide hits or break the console: a list named like a configured one does not
replace it (not even after a restart) until a supervisor confirms the diff; an oversized upload is
refused before it is read; a CSV field over the reader's limit and a hit id beyond 64 bits are clear
client errors.

Strategy: replay each attack as it was done: the multipart upload over the JSON API and the page, a
fresh Processor (a restart of the service) screening the planted traveller, raw HTTP against a real
uvicorn server for the oversized body (with tracemalloc watching what the server allocates).
"""

from __future__ import annotations

import select
import socket
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api_engine.console import create_app
from api_engine.console.catalog import MAX_UPLOAD_BYTES

from .conftest import SECOND, ConsoleEnv, RunningConsole, bystander, paxlst
from .test_security import sign_in

HEADER = ("id,list,category,full_name,surname,given_names,aliases,date_of_birth,nationality,gender,"
          "document_number,document_type,document_country\n")
ONLY_THE_DECOY = HEADER + "NAT-003,NATIONAL,individual,,ZEBEDEE-NOBODY,CASSIUS,,1960-01-01,FR,M,,,\n"


@pytest.fixture
def client(console_env: ConsoleEnv) -> Iterator[TestClient]:
    with TestClient(create_app(console_env.settings)) as c:
        yield c


def _as(client: TestClient, name: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, name)}


def _second_alerts(client: TestClient, flight: str) -> list[dict[str, Any]]:
    _as(client, "officer")
    return [a for a in client.get("/api/alerts").json()["alerts"]
            if a["surname"] == SECOND["surname"] and a["flight_key"].startswith(flight)]


def _national(client: TestClient) -> dict[str, Any]:
    _as(client, "supervisor")
    return next(w for w in client.get("/api/watchlists").json()["lists"] if w["name"] == "NATIONAL")


def test_a_supervisor_cannot_confirm_the_replacement_he_uploaded(client: TestClient) -> None:
    """One person alone must not swap out a list the service screens: upload and confirmation take two."""
    h = _as(client, "supervisor")
    r = client.post("/api/watchlists", files={"file": ("mine.csv", ONLY_THE_DECOY.encode(), "text/csv")}, headers=h)
    assert r.status_code == 200 and r.json()["awaiting_confirmation"], r.text
    refused = client.post(f"/api/watchlists/uploads/{r.json()['upload_id']}/confirm", headers=h)
    assert refused.status_code == 403 and "other than the one who uploaded" in refused.json()["detail"]
    assert _national(client) == {**_national(client), "origin": "settings", "entries": 3}


def test_an_upload_naming_a_configured_list_does_not_replace_it(client: TestClient, console_env: ConsoleEnv) -> None:
    h = _as(client, "admin")
    r = client.post("/api/watchlists", files={"file": ("mine.csv", ONLY_THE_DECOY.encode(), "text/csv")}, headers=h)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report == {**report, "accepted": False, "configured": True, "awaiting_confirmation": True,
                      "list_name": "NATIONAL", "removed": 2, "added": 0}
    upload_id = report["upload_id"]
    assert _national(client) == {**_national(client), "origin": "settings", "entries": 3}

    # A restart of the service (a fresh Processor) still screens the entries the upload would remove.
    console_env.process(paxlst("XX600", [SECOND, bystander(7)]))
    assert len(_second_alerts(client, "XX600")) == 1

    # Only a supervisor confirms, seeing the diff; the confirmation is audited with its counts.
    h = _as(client, "admin")
    assert client.post(f"/api/watchlists/uploads/{upload_id}/confirm", headers=h).status_code == 403
    h = _as(client, "supervisor")
    page = client.get("/watchlists")
    assert "2 removed" in page.text and f"/watchlists/uploads/{upload_id}/confirm" in page.text
    r = client.post(f"/api/watchlists/uploads/{upload_id}/confirm", headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {**r.json(), "accepted": True, "confirmed_by": "supervisor", "removed": 2}
    assert client.post(f"/api/watchlists/uploads/{upload_id}/confirm", headers=h).status_code == 409
    assert _national(client)["entries"] == 1

    _as(client, "auditor")
    recent = client.get("/api/audit").json()["recent"]
    upload = next(e for e in recent if e["action"] == "watchlist_upload")
    replace = next(e for e in recent if e["action"] == "watchlist_replace")
    assert upload["actor"] == "admin"
    assert upload["details"] == {**upload["details"], "removed": 2, "awaiting_confirmation": True, "accepted": False}
    assert replace["actor"] == "supervisor" and replace["subject"] == "watchlist:NATIONAL"
    assert replace["details"] == {**replace["details"], "removed": 2, "added": 0, "entries": 1,
                                  "confirms_upload": upload_id}

    # Confirmed: from now on the service screens the new version.
    console_env.process(paxlst("XX700", [SECOND]))
    assert _second_alerts(client, "XX700") == []


def test_a_csv_field_over_the_reader_limit_is_a_clear_422(client: TestClient) -> None:
    h = _as(client, "supervisor")
    huge = HEADER + "NAT-9,WATCH9,individual,," + "A" * (129 * 1024) + ",X,,1970-01-01,FR,M,,,\n"
    r = client.post("/api/watchlists", files={"file": ("watch9.csv", huge.encode(), "text/csv")}, headers=h)
    assert r.status_code == 422 and "field larger than field limit" in r.json()["detail"]
    page = client.post("/watchlists", files={"file": ("watch9.csv", huge.encode(), "text/csv")},
                       data={"csrf_token": h["X-CSRF-Token"]})
    assert page.status_code == 422 and "field larger than field limit" in page.text
    assert "WATCH9" not in str(client.get("/api/watchlists").json())


def test_a_hit_id_beyond_64_bits_is_a_client_error(client: TestClient) -> None:
    h = _as(client, "officer")
    for hit_id in (2**63, 2**64 + 5, -1, 0):
        assert client.get(f"/api/hits/{hit_id}").status_code == 422
        assert client.get(f"/hits/{hit_id}").status_code == 422
        assert client.post(f"/api/hits/{hit_id}/decision", json={"decision": "confirm", "comment": "listed"},
                           headers=h).status_code == 422
    assert client.get(f"/api/hits/{2**63 - 1}").status_code == 404


def _session(url: str) -> tuple[str, str]:
    """Sign in as a supervisor over HTTP: the session cookie and the CSRF token."""
    with httpx.Client(base_url=url) as c:
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        c.post("/login", data={"username": "supervisor", "password": "correct horse battery",
                               "csrf_token": token.group(1)})
        return f"apie_session={c.cookies['apie_session']}", str(c.get("/api/me").json()["csrf_token"])


def _request_head(cookie: str, csrf: str, length: str | None) -> bytes:
    framing = f"Content-Length: {length}" if length else "Transfer-Encoding: chunked"
    return ("POST /api/watchlists HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\n"
            f"Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n{framing}\r\n\r\n").encode()


def _answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except (TimeoutError, ConnectionResetError):
        return b""


def test_an_oversized_upload_is_refused_without_being_held(live_console: RunningConsole) -> None:
    host, port = live_console.url.removeprefix("http://").split(":")
    cookie, csrf = _session(live_console.url)

    # 400 MB announced: refused at once, before a byte of the body is sent.
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(_request_head(cookie, csrf, str(400 * 2**20)))
        assert _answer(sock).startswith(b"HTTP/1.1 413")

    # No length announced (chunked): the server reads up to the limit, holding little of it, then refuses.
    part = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n" + HEADER.encode())
    chunk = b"N,BIG,individual,,SURNAME,GIVEN,,1970-01-01,FR,M,,,\n" * 5000  # ~250 KB
    sent = 0
    tracemalloc.start()
    try:
        with socket.create_connection((host, int(port))) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            sock.sendall(_request_head(cookie, csrf, None))
            deadline = time.monotonic() + 60
            answer = b""
            for body in [part, *[chunk] * ((MAX_UPLOAD_BYTES * 2) // len(chunk))]:
                if select.select([sock], [], [], 0)[0] or time.monotonic() > deadline:
                    break  # the server has answered (or gave up): stop sending
                try:
                    sock.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(body)
            answer = _answer(sock)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < MAX_UPLOAD_BYTES + 8 * 2**20  # it stopped reading at the limit, not at the end
    assert peak < 8 * 2**20, f"the server held {peak / 2**20:.1f} MB while receiving"
