"""Shared fixtures: the real lists (loaded once per session) and small indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchlists import LoadResult, load

SHARED = Path(__file__).resolve().parents[2] / "../shared"
LISTS = SHARED / "data" / "watchlists"


def _need(path: Path) -> Path:
    assert path.exists(), f"real list data missing at {path} (../shared beside the checkout)"
    return path


@pytest.fixture(scope="session")
def un() -> LoadResult:
    return load(_need(LISTS / "un_sc_consolidated_2026-02-27.xml"))


@pytest.fixture(scope="session")
def ofac() -> LoadResult:
    return load(_need(LISTS / "ofac_sdn_2024-05-03.csv"))


@pytest.fixture(scope="session")
def uk() -> LoadResult:
    return load(_need(LISTS / "uk_sanctions_list_2026-05_derived"))
