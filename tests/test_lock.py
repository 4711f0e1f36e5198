"""The locked install: every dependency pinned with hashes, the lock closed, and these tests run on it.

Strategy: the README's first command and `.ci/run` install `requirements.lock` with `--no-deps`, so
nothing outside the lock is ever resolved. That is only safe if the lock names every distribution
the project needs (a gap would surface as an ImportError on a user's machine, not here), if each pin
satisfies `pyproject.toml`, and if each carries a hash. The production lock (no test or bench tools)
must be the same pins and hashes as the tested one, closed over the service's own dependencies. The
last test checks that the environment running the suite is the locked one: a CI run that installed
something else fails instead of passing on versions nobody reviewed.
"""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PROD_LOCK = ROOT / "requirements-prod.lock"  # the service alone, for production hosts (docs/operations.md)
UV_LOCK = ROOT / "requirements-uv.txt"
EXTRAS = ("test", "bench")  # what the README's install takes


def _entries(path: Path) -> list[tuple[Requirement, list[str]]]:
    """(requirement, hashes) of each pinned entry; an entry spans its continuation lines."""
    out: list[tuple[Requirement, list[str]]] = []
    for raw in path.read_text(encoding="utf-8").split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            out[-1][1].append(line.removeprefix("--hash=").rstrip(" \\"))
        else:
            out.append((Requirement(line.rstrip(" \\")), []))
    return out


def _applies(req: Requirement, extra: str = "") -> bool:
    return req.marker is None or req.marker.evaluate({**default_environment(), "extra": extra})


def _locked(path: Path = LOCK) -> dict[str, str]:
    """Name → pinned version for this interpreter (the lock is universal: some pins fork by version)."""
    pins: dict[str, str] = {}
    for req, _ in _entries(path):
        if _applies(req):
            (spec,) = req.specifier
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def _project_requirements(extras: tuple[str, ...] = EXTRAS) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names: Iterable[str] = project["dependencies"]
    for extra in extras:
        names = [*names, *project["optional-dependencies"][extra]]
    return [Requirement(r) for r in names]


def test_every_entry_is_pinned_with_hashes() -> None:
    for path in (LOCK, PROD_LOCK, UV_LOCK):
        entries = _entries(path)
        assert entries, path
        for req, hashes in entries:
            (spec,) = req.specifier
            assert spec.operator == "==", f"{path.name}: {req} is not pinned"
            assert hashes and all(h.startswith("sha256:") and len(h) == 71 for h in hashes), \
                f"{path.name}: {req.name} has no sha256 hash"


def test_the_lock_satisfies_pyproject() -> None:
    pins = _locked()
    for req in _project_requirements():
        if not _applies(req):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock: regenerate the lock"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"


@pytest.mark.parametrize(("lock", "extras"), [(LOCK, EXTRAS), (PROD_LOCK, ())], ids=["tested", "production"])
def test_the_lock_is_closed(lock: Path, extras: tuple[str, ...]) -> None:
    """Every requirement of every locked distribution (with the extras asked for) is locked too."""
    pins = _locked(lock)
    todo = [r for r in _project_requirements(extras) if _applies(r)]
    seen: set[tuple[str, str]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is needed (by a locked distribution) but not locked"
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for dep in md.requires(name) or []:
                sub = Requirement(dep)
                if _applies(sub, extra):
                    todo.append(sub)


def test_production_installs_the_tested_pins_and_hashes() -> None:
    tested = {str(req): sorted(hashes) for req, hashes in _entries(LOCK)}
    for req, hashes in _entries(PROD_LOCK):
        assert tested.get(str(req)) == sorted(hashes), f"requirements-prod.lock: {req} differs from requirements.lock"


def test_the_suite_runs_on_the_locked_versions() -> None:
    drift = {name: (version, md.version(name)) for name, version in _locked().items()
             if md.version(name) != version}
    assert not drift, ("installed versions differ from requirements.lock (locked, installed): "
                       f"{drift}; install with the README's first command")
