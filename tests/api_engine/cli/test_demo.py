"""The README's main job, as a newcomer runs it: `api-engine demo` (here with the console kept up)."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api_engine.cli.demo import (
    ARRIVING_WITHIN,
    DEMO_WATCHLIST,
    LANDED_WITHIN,
    DemoDirError,
    cli_name,
    demo_settings,
)
from api_engine.settings import Settings

CLI = Path(sys.executable).parent / "api-engine"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("API_ENGINE_")]:
        monkeypatch.delenv(key)


def test_demo_on_todays_clock_explains_its_results_and_serves_the_console(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    cwd, temp, data = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "my demo"  # a space: quoted in the hints
    cwd.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    env |= {"TMPDIR": str(temp), "COLUMNS": "80"}
    started = datetime.now(UTC)
    proc = subprocess.Popen([str(CLI), "demo", "--flights", "6", "--data-dir", str(data), "--console",
                             "--console-port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    out: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if line.startswith("Console at"):
                break
        text = "".join(out)
        assert "Results after" in text, text
        # The demo plants each person of its watchlist (DEMO-1..n) once among the generated travellers:
        # each must be found, nobody else, and the summary says they were planted.
        planted = {f"DEMO-{i}" for i in range(1, len(DEMO_WATCHLIST) + 1)}
        hits = re.search(r"hits \(alerts\)\s*│\s*(\d+)\s*│\s*planted", text)
        assert hits and int(hits.group(1)) == len(planted), text
        hit_lines = [line for line in text.splitlines() if line.startswith("hit demo:")]
        assert {re.search(r"demo:(DEMO-\d+)", h).group(1) for h in hit_lines} == planted, text  # type: ignore[union-attr]
        for h in hit_lines:
            assert h.count("score") == 1, h
            assert re.search(r"↔ [A-Z.]+ \(\w+ #\d+ on the list\)", h), h  # initials and position, no hash
            assert "capped at 1.00" in h, h  # the name and the birth date add up to more than the score
        assert not re.search(r"\{'|'\}", text), text  # no Python dict printed
        assert "--console" not in text.split("Where to look next")[1], text
        # Piped, whole lines: paths and commands can be copied as printed; the folder and its removal are named.
        quoted = f"'{data}'"
        assert f"remove it with  rm -rf {quoted}" in text, text
        config = re.escape(f"API_ENGINE_CONFIG='{data / 'demo.toml'}'")
        assert re.search(rf"{config} ({re.escape(str(CLI))}|api-engine) retention run --dry-run", text), text
        passwords = dict(re.findall(r"^  (officer|supervisor) \(role \w+\) password (\S+)$", text, re.M))
        assert set(passwords) == {"officer", "supervisor"}, text

        # --data-dir is honoured: the store is there; nothing in the working directory or the temp dir.
        assert (data / "api-engine.db").is_file() and (data / "data-keys.json").is_file()
        assert not (cwd / "api-engine-demo").exists() and not list(temp.iterdir()), list(temp.iterdir())
        # The generated flights arrive around now: a few landed, most to come (the console's "arriving soon").
        with sqlite3.connect(data / "api-engine.db") as db:
            rows = db.execute("select flight_key, arrives_at from manifests").fetchall()
        generated = {key: datetime.fromisoformat(at).replace(tzinfo=UTC) for key, at in rows
                     if not key.startswith("XX")}
        assert len(generated) == 6, rows
        slack = timedelta(minutes=10)
        for key, at in generated.items():
            assert started - LANDED_WITHIN - slack <= at <= started + ARRIVING_WITHIN + slack, (key, at, started)
        # The hint's config file gives `api-engine console` the demo's folder and watchlist.
        _clean_env(monkeypatch)
        monkeypatch.setenv("API_ENGINE_CONFIG", str(data / "demo.toml"))
        hinted = Settings()
        assert hinted.data_dir == data and hinted.watchlists == [str(data / "demo-watchlist.csv")]

        for _ in range(50):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page.status_code == 200 and "Sign in" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/alerts", follow_redirects=False).status_code in (302, 303, 307)
        # Signed in as the demo officer, the alert queue shows the planted people by name and birth date,
        # and the flights arriving soon are the generated ones.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert csrf
            signed_in = client.post("/login", data={"username": "officer", "password": passwords["officer"],
                                                    "csrf_token": csrf.group(1)})
            assert signed_in.status_code == 303, signed_in.text
            alerts = client.get("/api/alerts").json()["alerts"]
            soon = {f["flight_key"] for f in client.get("/api/flights").json()}
        found = {(a["list"], a["entry_id"], a["surname"], a["date_of_birth"]) for a in alerts}
        assert found == {("demo", f"DEMO-{i}", surname, dob.isoformat())
                         for i, (surname, _, dob) in enumerate(DEMO_WATCHLIST, start=1)}, alerts
        assert soon == set(generated), soon
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_default_folder_is_named_in_the_working_directory_and_foreign_data_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    settings, planted = demo_settings()
    assert settings.data_dir == tmp_path / "api-engine-demo" and planted
    (settings.data_dir / "api-engine.db").write_bytes(b"an earlier demo's store")
    again, _ = demo_settings()  # an earlier demo's folder starts afresh
    assert again.data_dir == settings.data_dir and not (again.data_dir / "api-engine.db").exists()
    mine = tmp_path / "data"
    mine.mkdir()
    (mine / "api-engine.db").write_bytes(b"someone's real store")
    monkeypatch.setenv("API_ENGINE_DATA_DIR", str(mine))
    with pytest.raises(DemoDirError):
        demo_settings()
    assert (mine / "api-engine.db").read_bytes() == b"someone's real store"


def test_hints_name_the_command_as_it_was_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / ".venv" / "bin" / "api-engine"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.chdir(tmp_path)
    assert cli_name(".venv/bin/api-engine") == ".venv/bin/api-engine"
    assert cli_name(str(script)) == str(script)
    assert cli_name("/usr/lib/python3/site-packages/api_engine/__main__.py") == "api-engine"
    monkeypatch.setenv("PATH", str(script.parent))
    assert cli_name(str(script)) == "api-engine"
