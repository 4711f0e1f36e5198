"""News fragments must build: a misnamed fragment or a broken towncrier table fails here, not at release."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FRAGMENT_NAME = re.compile(r"(?P<issue>\d+|\+[\w-]+)\.(?P<type>[a-z]+)\.md")


def _config() -> dict[str, Any]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    towncrier: dict[str, Any] = pyproject["tool"]["towncrier"]
    return towncrier


def _fragments() -> list[Path]:
    config = _config()
    ignored = {name.lower() for name in config.get("ignore") or []}
    directory = ROOT / config["directory"]
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.name.lower() not in ignored)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_every_fragment_is_named_with_a_configured_type() -> None:
    types = {t["directory"] for t in _config()["type"]}
    for fragment in _fragments():
        match = FRAGMENT_NAME.fullmatch(fragment.name)
        assert match, f"{fragment.name}: name it changelog.d/<issue>.<type>.md or changelog.d/+<slug>.<type>.md"
        assert match["type"] in types, f"{fragment.name}: type {match['type']!r} is not one of {sorted(types)}"


def test_draft_builds_and_holds_every_fragment() -> None:
    before = {p: p.read_bytes() for p in [ROOT / "CHANGELOG.md", *_fragments()]}
    done = subprocess.run([sys.executable, "-m", "towncrier", "build", "--draft", "--version", "0.0.0-test"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"towncrier build --draft failed:\n{done.stdout}\n{done.stderr}"
    draft = _words(done.stdout)
    assert "0.0.0-test" in draft
    for fragment in _fragments():
        text = _words(fragment.read_text(encoding="utf-8"))
        assert text and text in draft, f"{fragment.name} is missing from the draft:\n{done.stdout}"
    assert {p: p.read_bytes() for p in before} == before, "a draft build must not change any file"
