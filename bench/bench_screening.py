"""Speed of screening against a large synthetic list, with brute force run in the same process.

Strategy: generate N synthetic entries (default 1,000,000), build the index once (timed, peak
RSS reported), then screen travellers of whom a share are mangled listed people. Brute force
(rapidfuzz token_sort_ratio >= 85 via process.extractOne over every list name) is timed on a
sample of the same travellers, and recall of both is measured on the listed ones of that
sample. Prints throughput, the ratio against brute force, and memory.

Run: .venv/bin/python bench/bench_screening.py [--entries N] [--travellers N] [--brute-sample N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchlists.index import WatchlistIndex, prepare_traveller  # noqa: E402
from watchlists.screener import DEFAULT_THRESHOLD  # noqa: E402
from watchlists.synthetic import synthetic_entries, synthetic_travellers  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--travellers", type=int, default=20_000)
    parser.add_argument("--listed-share", type=float, default=0.05)
    parser.add_argument("--brute-sample", type=int, default=100)
    args = parser.parse_args()

    t0 = time.perf_counter()
    entries = list(synthetic_entries(args.entries, seed=0))
    t_gen = time.perf_counter() - t0
    print(f"generated {len(entries):,} entries in {t_gen:.1f}s; peak RSS {peak_rss_mb():,.0f} MB")

    t1 = time.perf_counter()
    index = WatchlistIndex.build(entries)
    t_build = time.perf_counter() - t1
    stats = index.stats()
    print(f"index built in {t_build:.1f}s: {stats.names:,} names, vocabulary {stats.vocabulary:,}, "
          f"{stats.common_tokens:,} common tokens, {stats.pair_keys:,} pair keys, arrays "
          f"{stats.array_bytes / 2**20:,.0f} MB; peak RSS {peak_rss_mb():,.0f} MB")

    travellers = synthetic_travellers(args.travellers, seed=1, listed=entries, listed_share=args.listed_share)
    prepared = [(prepare_traveller(q), expected) for q, expected in travellers]
    t2 = time.perf_counter()
    results = [index.screen(p, DEFAULT_THRESHOLD, limit=5) for p, _ in prepared]
    t_screen = time.perf_counter() - t2
    t_prep0 = time.perf_counter()
    for q, _ in travellers[:2000]:
        prepare_traveller(q)
    t_prep = (time.perf_counter() - t_prep0) / min(2000, len(travellers))
    rate = len(prepared) / (t_screen + t_prep * len(prepared))
    listed = [(hits, exp) for hits, (_, exp) in zip(results, prepared, strict=True) if exp is not None]
    recall = sum(any(h.entry_id == exp for h in hits) for hits, exp in listed) / max(1, len(listed))
    unlisted = [hits for hits, (_, exp) in zip(results, prepared, strict=True) if exp is None]
    fpr = sum(bool(h) for h in unlisted) / max(1, len(unlisted))
    print(f"screened {len(prepared):,} travellers on one core: {rate:,.0f} travellers/s "
          f"(incl. normalisation {t_prep * 1e6:.0f} us each); recall on {len(listed)} listed "
          f"{recall:.4f}; unlisted with a hit {100 * fpr:.2f} %")

    names = [v.name for e in entries for v in e.names]
    choices = [utils.default_process(n) for n in names]
    sample = travellers[: args.brute_sample]
    listed_sample = [(q, e) for q, e in travellers if e is not None][: max(10, args.brute_sample // 5)]
    t3 = time.perf_counter()
    for q, _ in sample:
        process.extractOne(utils.default_process(q.display_name), choices, scorer=fuzz.token_sort_ratio,
                           processor=None, score_cutoff=85)
    brute_rate = len(sample) / (time.perf_counter() - t3)
    brute_hits = 0
    ours_hits = 0
    for q, exp in listed_sample:
        found = process.extract(utils.default_process(q.display_name), choices, scorer=fuzz.token_sort_ratio,
                                processor=None, score_cutoff=85, limit=5)
        brute_hits += any(entries_by_name_index(entries, idx) == exp for _, _, idx in found)
        ours_hits += any(h.entry_id == exp for h in index.screen(prepare_traveller(q), DEFAULT_THRESHOLD))
    print(f"brute force token_sort_ratio>=85 over {len(names):,} names: {brute_rate:,.1f} travellers/s "
          f"(sample of {len(sample)})")
    print(f"recall on {len(listed_sample)} listed travellers: ours {ours_hits / len(listed_sample):.3f}, "
          f"brute force (top 5) {brute_hits / len(listed_sample):.3f}")
    print(f"RATIO ours / brute force: {rate / brute_rate:,.0f}x; build {t_build:.1f}s; "
          f"peak RSS {peak_rss_mb():,.0f} MB (goal <= 2048)")


_NAME_OWNER: list[str] = []


def entries_by_name_index(entries: list, idx: int) -> str:  # type: ignore[type-arg]
    """Entry id owning the idx-th name of the flattened name list (built lazily, once)."""
    if not _NAME_OWNER:
        _NAME_OWNER.extend(e.id for e in entries for _ in e.names)
    return _NAME_OWNER[idx]


if __name__ == "__main__":
    main()
