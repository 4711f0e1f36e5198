"""A loaded list costs its index, not its entries: what keeps a million-entry national list within memory.

Counts live `WatchlistEntry` objects rather than RSS (which depends on the allocator): the loaders,
the screener and the console's archive must keep none once a list is in force. Peak RSS of the
real path is what bench/bench_screening.py measures."""

from __future__ import annotations

import csv
import gc
from pathlib import Path

import pytest

from api_engine.console.catalog import EntryArchive
from watchlists import LoadError, LoadResult, NameVariant, Screener, ScreeningQuery, WatchlistEntry, load
from watchlists.loaders.national import COLUMNS
from watchlists.synthetic import synthetic_entries

N = 2000


def live_entries() -> int:
    gc.collect()
    return sum(isinstance(o, WatchlistEntry) for o in gc.get_objects())


def write_list(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=COLUMNS)
        out.writeheader()
        out.writerows(rows)
    return path


def synthetic_rows(n: int) -> list[dict[str, str]]:
    return [{"id": e.id, "list": "NAT", "category": e.category.value, "full_name": e.primary_name,
             "aliases": "|".join(v.name for v in e.names[1:]),
             "document_number": e.documents[0].number if e.documents else ""}
            for e in synthetic_entries(n, seed=7)]


@pytest.fixture()
def big(tmp_path: Path) -> Path:
    rows = synthetic_rows(N)
    rows.append({"id": rows[0]["id"], "full_name": "Some Body"})  # a duplicate id: rejected
    return write_list(tmp_path / "nat.csv", rows)


def test_a_list_in_force_holds_no_entry_objects(big: Path) -> None:
    before = live_entries()
    screener = Screener()
    result = load(big)
    diff = screener.replace_list(result)
    assert live_entries() == before
    assert len(diff.added) == N and len(result.entries) == N and len(result.rejected) == 1
    listed = screener.lists["NAT"]
    assert len(listed.entries) == N
    some = next(iter(synthetic_entries(N, seed=7)))
    assert screener.entry("NAT", some.id) is not None and screener.entry("NAT", "no such id") is None


def test_counts_and_rejected_rows_come_from_the_one_pass_that_built_the_index(big: Path) -> None:
    """The CLI prints them after indexing: they must not need the file a second time."""
    screener = Screener()
    result = load(big)
    screener.replace_list(result)
    big.unlink()
    assert len(result.entries) == N and [r.reason for r in result.rejected] == ["duplicate id SYNTH-0000000"]


def test_a_list_file_changed_after_loading_is_an_error_not_another_version(tmp_path: Path) -> None:
    path = write_list(tmp_path / "nat.csv", [{"id": "N1", "list": "NAT", "full_name": "Ivan SIDOROV"}])
    result = load(path)
    write_list(path, [{"id": "N1", "list": "NAT", "full_name": "Petr IVANOV"},
                      {"id": "N2", "list": "NAT", "full_name": "Oleg NOVIKOV"}])
    with pytest.raises(LoadError):
        Screener().replace_list(result)


def test_a_change_the_index_does_not_keep_is_still_a_changed_entry() -> None:
    """Diffs compare the entries as loaded (fingerprints), not as rebuilt from the index (which keeps
    no UN reference), whatever their order in the new version."""
    def entry(entry_id: str, name: str, ref: str | None = None) -> WatchlistEntry:
        return WatchlistEntry(id=entry_id, list="UK", names=[NameVariant(name=name)], source_ref=ref)

    old = [entry("N1", "Ivan SIDOROV", "QDi.001"), entry("N2", "Oleg NOVIKOV")]
    new = [entry("N3", "Petr IVANOV"), entry("N2", "Oleg NOVIKOV"), entry("N1", "Ivan SIDOROV", "QDi.002")]
    screener = Screener()
    screener.replace_list(LoadResult(entries=old, rejected=[], list_name="UK", version="v1", source_format="test"))
    diff = screener.replace_list(LoadResult(entries=new, rejected=[], list_name="UK", version="v2",
                                            source_format="test"))
    assert (diff.added, diff.removed, diff.changed) == (["N3"], [], ["N1"])
    hits = screener.screen(ScreeningQuery(id="t", full_name="Petr Ivanov"))
    assert [h.entry_id for h in hits] == ["N3"]


def test_the_console_archive_gives_back_each_entry_as_loaded_and_no_model_is_kept(big: Path) -> None:
    before = live_entries()
    archive = EntryArchive(load(big).entries)
    assert live_entries() == before and len(archive) == N
    expected = list(synthetic_entries(N, seed=7))
    loaded = {e.id: e for e in load(big).entries}
    for e in expected[::97]:
        assert archive.get(e.id) == loaded[e.id]
    assert archive.get("SYNTH-9999999") is None
    assert archive.nbytes < 100 * N  # compressed JSON and fingerprints: well under a model per entry
