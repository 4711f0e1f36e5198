"""The systemd units in deploy/systemd: systemd accepts them, they are hardened, they run real commands.

Strategy: `systemd-analyze verify` on copies of the units whose install prefix (/opt/api-engine/bin)
is replaced by this checkout's virtualenv, so the check that ExecStart's binary exists runs against
a binary that does. systemd only warns (exit status 0) about an unknown directive, so a unit passes
when the exit status is 0 AND nothing is said about it; a unit with a misspelled directive shows
that this catches what a reviewer would. The command lines are parsed by the real `api-engine`
argument parser (an option that does not exist fails), and the example environment file names
only settings that exist and loads into `Settings`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api_engine.cli import build_parser
from api_engine.settings import Settings, Topics

UNITS = Path(__file__).resolve().parents[1] / "deploy" / "systemd"
PREFIX = "/opt/api-engine/bin/"
SERVICES = ("api-engine-serve.service", "api-engine-console.service", "api-engine-backup.service")
DATA_DIR = "/var/lib/api-engine"
ENV_FILE = "/etc/api-engine/api-engine.env"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def _parse(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections to (key, value) lists (keys repeat in units, so no configparser)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def _values(unit: str, section: str, key: str) -> list[str]:
    return [v for k, v in _parse((UNITS / unit).read_text())[section] if k == key]


def _render(target: Path, names: list[str] | None = None) -> list[Path]:
    """The units with the install prefix replaced by this virtualenv's bin folder."""
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "api-engine").exists(), "the api-engine script is not installed beside this Python"
    out = []
    for unit in sorted(UNITS.glob("*.service")) + sorted(UNITS.glob("*.timer")):
        if names is not None and unit.name not in names:
            continue
        rendered = target / unit.name
        rendered.write_text(unit.read_text().replace(PREFIX, f"{venv_bin}/"))
        out.append(rendered)
    return out


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, units)], capture_output=True,
                          text=True, timeout=60, check=False)


def _complaints(result: subprocess.CompletedProcess[str], units: list[Path]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines()
            if any(u.name in line for u in units)]


def test_the_shipped_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = _render(tmp_path)
    assert {u.name for u in units} >= {*SERVICES, "api-engine-backup.timer"}
    result = _verify(units)
    assert result.returncode == 0 and not _complaints(result, units), result.stdout + result.stderr


@pytest.mark.parametrize(("directive", "broken"), [("NoNewPrivileges=yes", "NoNewPrivilegs=yes"),
                                                   ("ExecStart=", "ExecStrat=")])
def test_a_broken_unit_is_reported(tmp_path: Path, directive: str, broken: str) -> None:
    (unit,) = _render(tmp_path, ["api-engine-serve.service"])
    unit.write_text(unit.read_text().replace(directive, broken, 1))
    result = _verify([unit])
    assert result.returncode != 0 or _complaints(result, [unit])
    assert broken.split("=")[0] in result.stdout + result.stderr


def test_a_unit_whose_binary_is_missing_is_reported(tmp_path: Path) -> None:
    (unit,) = _render(tmp_path, ["api-engine-console.service"])
    unit.write_text(unit.read_text().replace(str(Path(sys.executable).parent), "/nonexistent/venv/bin"))
    result = _verify([unit])
    assert result.returncode != 0 and "/nonexistent/venv/bin/api-engine" in result.stdout + result.stderr


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_is_hardened_and_runs_as_its_own_user(unit: str) -> None:
    def one(key: str) -> str:
        (value,) = _values(unit, "Service", key)
        return value

    assert one("User") == "api-engine" and one("Group") == "api-engine"
    assert one("NoNewPrivileges") == "yes" and one("ProtectSystem") == "strict"
    assert one("CapabilityBoundingSet") == "" and one("UMask") == "0077"
    assert one("ProtectHome") == "yes" and one("PrivateTmp") == "yes" and one("PrivateDevices") == "yes"
    assert DATA_DIR in one("ReadWritePaths").split()
    assert f"API_ENGINE_DATA_DIR={DATA_DIR}" in _values(unit, "Service", "Environment")
    assert one("EnvironmentFile") == ENV_FILE and one("WorkingDirectory") == DATA_DIR
    assert "@system-service" in _values(unit, "Service", "SystemCallFilter")


@pytest.mark.parametrize("unit", ["api-engine-serve.service", "api-engine-console.service"])
def test_the_long_running_services_restart_on_failure_but_not_on_a_configuration_error(unit: str) -> None:
    assert _values(unit, "Service", "Restart") == ["on-failure"]
    assert _values(unit, "Service", "RestartPreventExitStatus") == ["2"]  # exit 2: restarting would not help
    assert _values(unit, "Install", "WantedBy") == ["multi-user.target"]


def test_serve_is_stopped_the_way_it_shuts_down() -> None:
    """SIGTERM to the parent, which forwards it; the stop timeout leaves room for the shutdown bound."""
    assert _values("api-engine-serve.service", "Service", "KillMode") == ["mixed"]
    (timeout,) = _values("api-engine-serve.service", "Service", "TimeoutStopSec")
    assert int(timeout) > 2 * Settings.model_fields["shutdown_timeout_s"].default


def _commands(unit: str) -> list[list[str]]:
    """The api-engine command lines of a unit's ExecStart (inside `sh -c` too), as argv after the program."""
    out = []
    for line in _values(unit, "Service", "ExecStart"):
        words = shlex.split(line.replace("$$", "$"))
        if words[0] == "/bin/sh":
            words = shlex.split(words[2])[1:]  # after `exec`
        assert words[0] == f"{PREFIX}api-engine", line
        out.append([w if "$(" not in w else "/var/backups/api-engine/x" for w in words[1:]])
    return out


@pytest.mark.parametrize("unit", SERVICES)
def test_the_units_run_commands_that_exist(unit: str) -> None:
    parser = build_parser()
    for argv in _commands(unit):
        args = parser.parse_args(argv)  # an unknown command or option exits 2 here
        assert callable(args.func), argv


def test_the_example_environment_names_only_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("API_ENGINE_")]:
        monkeypatch.delenv(key)
    example = (UNITS / "api-engine.env.example").read_text()
    known = {f"API_ENGINE_{name.upper()}" for name in Settings.model_fields}
    known |= {f"API_ENGINE_TOPICS__{name.upper()}" for name in Topics.model_fields}
    named = {}
    for line in example.splitlines():
        text = line.lstrip("#").strip()
        if text.startswith("API_ENGINE_") and "=" in text:
            key, _, value = text.partition("=")
            named[key] = value
            if not line.startswith("#"):
                monkeypatch.setenv(key, value)
    assert named and not set(named) - known, sorted(set(named) - known)
    settings = Settings()  # what the units start with, as pydantic reads it
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_password is not None
    assert str(settings.data_dir) == DATA_DIR and settings.database_url is None
    assert settings.retention_interval_s > 0  # serve runs retention: no timer is shipped for it
    assert not list(UNITS.glob("*retention*"))
