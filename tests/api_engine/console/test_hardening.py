"""The console's smaller doors: a stranger's upload is refused before it is read, live-queue streams
are bounded, the last admin stays, and the console will not serve plain HTTP to a network unasked.

Strategy: the upload and stream tests talk to the console under uvicorn on a loopback port (a raw
socket for the upload, so the test controls how much of the body is ever sent); the command-line
tests start `api-engine console` as a user would, as a process, with a self-signed certificate
made on the spot for the TLS case.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from api_engine.cli import main
from api_engine.console import ConsoleConfig, create_app

from .conftest import PASSWORD, ConsoleEnv, free_port, serving

CLI = Path(sys.executable).parent / "api-engine"


@pytest.fixture
def live(accounts_env: ConsoleEnv) -> Iterator[str]:
    """The console under uvicorn in a thread: two live queues per session, three per account."""
    app = create_app(accounts_env.settings, config=ConsoleConfig(poll_interval_s=0.2, streams_per_session=2,
                                                                 streams_per_account=3))
    with serving(app) as url:
        yield url


def signed_in(base: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    r = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text
    csrf: str = client.get("/api/me").json()["csrf_token"]
    return client, csrf


def raw_post(base: str, path: str, content_type: str, declared: int, first: bytes) -> tuple[str, float]:
    """POST `first` bytes of a body declared `declared` bytes long, then wait for the answer: a server
    that reads the body before deciding would wait for bytes that never come."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {declared}\r\n\r\n").encode() + first)
        answer = b""
        while True:  # the refusal closes the connection; socket.timeout (5 s) fails the test
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:  # the unread body makes the close a reset: keep what came
                break
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1"), time.monotonic() - started


def test_a_signed_out_upload_is_answered_before_its_body_is_read(live: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where a parsed upload would be spooled
    boundary = "b0undary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + b"x" * 64_000
    kind = f"multipart/form-data; boundary={boundary}"
    for path, status in (("/api/watchlists", "401"), ("/watchlists", "303"), ("/api/users", "401")):
        answer, took = raw_post(live, path, kind, 10_000_000, part)  # 10 MB on its way, 64 kB sent
        assert answer.startswith(f"HTTP/1.1 {status}"), answer
        assert took < 3, took
    assert "sign in first" in raw_post(live, "/api/watchlists", kind, 2_000_000_000, part)[0]
    # The sign-in form takes no uploads at all, and only a small form.
    assert raw_post(live, "/login", kind, 2_000_000_000, part)[0].startswith("HTTP/1.1 415")
    form = "application/x-www-form-urlencoded"
    assert raw_post(live, "/login", form, 2_000_000_000, b"username=a&password=")[0].startswith("HTTP/1.1 413")
    assert list(spool.iterdir()) == []  # nothing was spooled to disk
    # Signed in, the same kind of request reaches the route (a small, well-formed upload).
    admin, csrf = signed_in(live, "admin")
    ok = admin.post("/api/watchlists", headers={"X-CSRF-Token": csrf},
                    files={"file": ("LOCAL.csv", b"id,list,category,full_name\n", "text/csv")})
    assert ok.status_code not in (401, 403), ok.text


def test_live_queue_streams_are_bounded_per_session_and_account(live: str) -> None:
    first, _ = signed_in(live, "officer")
    readers: list[Iterator[str]] = []  # kept: dropping a half-read iterator closes its connection
    with ExitStack() as stack:
        def open_stream(client: httpx.Client) -> httpx.Response:
            r = stack.enter_context(client.stream("GET", "/api/alerts/stream"))
            if r.status_code == 200:
                readers.append(r.iter_lines())
                assert next(readers[-1]).startswith("retry:")
            return r

        streams = [open_stream(first), open_stream(first)]
        refused = open_stream(first)
        assert refused.status_code == 429 and refused.headers["Retry-After"]
        refused.read()
        assert "this session already has 2 live queues open" in refused.json()["detail"]
        assert first.get("/api/alerts").status_code == 200  # the rest of the console still answers

        streams[0].close()  # a tab closed: its slot comes back
        deadline = time.monotonic() + 5
        while (again := open_stream(first)).status_code == 429:
            assert time.monotonic() < deadline, "a closed stream's slot never came back"
            again.read()
            time.sleep(0.2)

        second, _ = signed_in(live, "officer")  # the same officer on another machine
        assert open_stream(second).status_code == 200
        over = open_stream(second)
        assert over.status_code == 429
        over.read()
        assert "this account already has 3 live queues open" in over.json()["detail"]


def test_the_last_active_admin_cannot_disable_itself(accounts_env: ConsoleEnv) -> None:
    with TestClient(create_app(accounts_env.settings)) as admin:
        token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/login").text)
        assert token
        admin.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)})
        csrf = admin.get("/api/me").json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        r = admin.post("/api/users/admin/disable", headers=h)
        assert r.status_code == 422 and "'admin' is the last active admin" in r.json()["detail"]
        page = admin.post("/admin/users/admin/disable", data={"csrf_token": csrf})
        assert "is the last active admin: make another account admin first" in page.text
        assert admin.get("/api/me").json()["name"] == "admin"  # still signed in, still an admin
        assert admin.post("/api/users", headers=h, json={"name": "admin2", "role": "admin",
                                                         "password": "tundra velvet oracle pebble"}).status_code == 201
        assert admin.post("/api/users/admin/disable", headers=h).json()["active"] is False  # another admin remains
        assert admin.get("/api/me").status_code == 401  # a disabled account's session ends at once
        second = TestClient(admin.app)
        token = re.search(r'name="csrf_token" value="([^"]+)"', second.get("/login").text)
        assert token
        second.post("/login", data={"username": "admin2", "password": "tundra velvet oracle pebble",
                                    "csrf_token": token.group(1)})
        csrf2 = second.get("/api/me").json()["csrf_token"]
        r = second.post("/api/users/admin2/disable", headers={"X-CSRF-Token": csrf2})
        assert r.status_code == 422 and "last active admin" in r.json()["detail"]
        assert second.post("/api/users/admin/enable", headers={"X-CSRF-Token": csrf2}).json()["active"] is True


def test_console_refuses_plain_http_beyond_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("0.0.0.0", "192.0.2.10", "console.example"):
        assert main(["console", "--host", host, "--port", "1"]) == 2
        err = capsys.readouterr().err
        assert f"refusing to serve plain HTTP on {host}" in err and "--certfile" in err and "--insecure-http" in err
    assert main(["console", "--host", "0.0.0.0", "--certfile", "cert.pem"]) == 2
    assert "--certfile and --keyfile go together" in capsys.readouterr().err


def _start(args: list[str], env_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "API_ENGINE_DATA_DIR": str(env_dir),
           "API_ENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{env_dir / 'console.db'}"}
    return subprocess.Popen([str(CLI), "console", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def _wait_until_up(proc: subprocess.Popen[str], get: object) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            return get()  # type: ignore[operator,no-any-return]
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the console did not come up"
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_insecure_http_beyond_loopback_needs_saying_so_and_is_loudly_warned(tmp_path: Path) -> None:
    port = free_port()
    proc = _start(["--host", "0.0.0.0", "--port", str(port), "--insecure-http"], tmp_path)
    try:
        r = _wait_until_up(proc, lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2))
        assert r.status_code == 200
    finally:
        out = _stop(proc)
    assert "INSECURE: serving the console over plain HTTP on 0.0.0.0" in out


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "console test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_console_serves_tls_with_a_certificate_and_marks_the_cookie_secure(tmp_path: Path) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    port = free_port()
    proc = _start(["--host", "0.0.0.0", "--port", str(port), "--certfile", str(certfile), "--keyfile", str(keyfile)],
                  tmp_path)
    trust = ssl.create_default_context(cafile=str(certfile))
    try:
        page = _wait_until_up(proc, lambda: httpx.get(f"https://127.0.0.1:{port}/login", verify=trust, timeout=2))
        assert page.status_code == 200 and "Sign in" in page.text
        cookie = page.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        with pytest.raises(httpx.TransportError):  # no plain HTTP on that port
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
    finally:
        out = _stop(proc)
    assert "INSECURE" not in out
