"""The README's main job, as a newcomer runs it: `api-engine demo` (here with the console kept up)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api_engine.cli.demo import DEMO_WATCHLIST

CLI = Path(sys.executable).parent / "api-engine"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_demo_finds_the_planted_hits_and_serves_the_console_on_its_results(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    proc = subprocess.Popen([str(CLI), "demo", "--flights", "4", "--console", "--console-port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    out: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "sign in as" in line:
                break
        text = "".join(out)
        assert "Results after" in text, text
        # The demo plants each person of its watchlist (DEMO-1..n) once among the generated travellers:
        # each must be found, and nobody else.
        planted = {f"DEMO-{i}" for i in range(1, len(DEMO_WATCHLIST) + 1)}
        hits = re.search(r"hits \(alerts\)\s*│\s*(\d+)", text)
        assert hits and int(hits.group(1)) == len(planted), text
        assert set(re.findall(r"demo:(DEMO-\d+)", text)) == planted, text
        password = re.search(r"password (\S+)", text)
        assert password, text
        for _ in range(50):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page.status_code == 200 and "Sign in" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/alerts", follow_redirects=False).status_code in (302, 303, 307)
        # Signed in, the console's alert queue shows the planted people by name and birth date.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert csrf
            signed_in = client.post("/login", data={"username": "demo", "password": password.group(1),
                                                    "csrf_token": csrf.group(1)})
            assert signed_in.status_code == 303, signed_in.text
            alerts = client.get("/api/alerts").json()["alerts"]
        found = {(a["list"], a["entry_id"], a["surname"], a["date_of_birth"]) for a in alerts}
        assert found == {("demo", f"DEMO-{i}", surname, dob.isoformat())
                         for i, (surname, _, dob) in enumerate(DEMO_WATCHLIST, start=1)}, alerts
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
