"""Speed of screening against a large synthetic list, with brute force run in the same process.

Strategy: stream N synthetic entries (default 1,000,000) straight into the index (the entries are
never all alive: this is what the memory goal measures), then screen travellers of whom a share
are mangled listed people and the rest fresh people of the same cultures who are not on the list.
Brute force (rapidfuzz token_sort_ratio >= 85 via process.extractOne over every list name) is
timed on a sample of the same travellers, and recall of both is measured on the same listed
travellers. Prints build time, peak RSS (ru_maxrss), throughput, the ratio against brute force,
recall and the share of unlisted travellers with a hit.

Run: .venv/bin/python bench/bench_screening.py [--entries N] [--travellers N] [--brute-sample N]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import sys
import time
from itertools import islice
from pathlib import Path

from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchlists.index import WatchlistIndex, prepare_traveller  # noqa: E402
from watchlists.models import Category  # noqa: E402
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
    parser.add_argument("--brute-listed", type=int, default=100, help="listed travellers brute force is run on")
    parser.add_argument("--profile", action="store_true", help="cProfile the screening loop")
    args = parser.parse_args()

    t0 = time.perf_counter()
    for _ in islice(synthetic_entries(20_000, seed=99), 20_000):
        pass
    gen_per_entry = (time.perf_counter() - t0) / 20_000
    t1 = time.perf_counter()
    index = WatchlistIndex.build(synthetic_entries(args.entries, seed=0))
    t_total = time.perf_counter() - t1
    t_build = t_total - gen_per_entry * args.entries
    stats = index.stats()
    rss_build = peak_rss_mb()
    print(f"generated + indexed {stats.entries:,} entries in {t_total:.1f}s (generation ~{gen_per_entry * 1e6:.0f} us "
          f"an entry, so index build ~{t_build:.1f}s): {stats.names:,} names, vocabulary {stats.vocabulary:,}, "
          f"{stats.common_tokens:,} common tokens, {stats.pair_keys:,} pair keys, arrays "
          f"{stats.array_bytes / 2**20:,.0f} MB; peak RSS {rss_build:,.0f} MB")

    rng = random.Random(5)
    n_listed = max(1, int(args.travellers * args.listed_share * 2))
    sample = [index.entry(i) for i in rng.sample(range(len(index)), min(len(index), n_listed * 3))]
    sample = [e for e in sample if e.category is Category.INDIVIDUAL][:n_listed]
    travellers = synthetic_travellers(args.travellers, seed=1, listed=sample, listed_share=args.listed_share,
                                      is_listed=index.contains_name)
    del sample
    # Normalisation is memoised, so it is timed on each traveller's first preparation (repeats within the
    # traffic hit the caches, as in service), not on a second pass that would find everything cached.
    t_prep0, c_prep0 = time.perf_counter(), time.process_time()
    prepared = [(prepare_traveller(q), expected) for q, expected in travellers]
    t_prep = (time.perf_counter() - t_prep0) / max(1, len(travellers))
    c_prep = (time.process_time() - c_prep0) / max(1, len(travellers))
    profiler = cProfile.Profile() if args.profile else None
    t2, c2 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    results = [index.screen(p, DEFAULT_THRESHOLD, limit=5) for p, _ in prepared]
    if profiler:
        profiler.disable()
    t_screen, c_screen = time.perf_counter() - t2, time.process_time() - c2
    rate = len(prepared) / (t_screen + t_prep * len(prepared))
    cpu_rate = len(prepared) / (c_screen + c_prep * len(prepared))
    listed = [(hits, exp) for hits, (_, exp) in zip(results, prepared, strict=True) if exp is not None]
    recall = sum(any(h.entry_id == exp for h in hits) for hits, exp in listed) / max(1, len(listed))
    unlisted = [hits for hits, (_, exp) in zip(results, prepared, strict=True) if exp is None]
    fpr = sum(bool(h) for h in unlisted) / max(1, len(unlisted))
    rss_screen = peak_rss_mb()
    print(f"screened {len(prepared):,} travellers on one core: {rate:,.0f} travellers/s wall clock, "
          f"{cpu_rate:,.0f} per CPU second "
          f"(incl. normalisation {t_prep * 1e6:.0f} us each); recall on {len(listed)} listed "
          f"{recall:.4f}; unlisted with a hit {100 * fpr:.2f} % of {len(unlisted)}; peak RSS {rss_screen:,.0f} MB")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    choices = [utils.default_process(index.name_text(i)) for i in range(len(index.name_entry))]
    owner = index.name_entry
    brute_sample = travellers[: args.brute_sample]
    t3, c3 = time.perf_counter(), time.process_time()
    brute_unlisted = brute_unlisted_n = 0
    for q, exp in brute_sample:
        found = process.extractOne(utils.default_process(q.display_name), choices, scorer=fuzz.token_sort_ratio,
                                   processor=None, score_cutoff=85)
        if exp is None:
            brute_unlisted_n += 1
            brute_unlisted += found is not None
    brute_rate = len(brute_sample) / (time.perf_counter() - t3)
    brute_cpu_rate = len(brute_sample) / (time.process_time() - c3)
    listed_sample = [(q, e) for q, e in travellers if e is not None][: args.brute_listed]
    brute_hits = ours_hits = 0
    for q, exp in listed_sample:
        found_all = process.extract(utils.default_process(q.display_name), choices, scorer=fuzz.token_sort_ratio,
                                    processor=None, score_cutoff=85, limit=5)
        brute_hits += any(index.entry_id(int(owner[idx])) == exp for _, _, idx in found_all)
        ours_hits += any(h.entry_id == exp for h in index.screen(prepare_traveller(q), DEFAULT_THRESHOLD))
    print(f"brute force token_sort_ratio>=85 over {len(choices):,} names: {brute_rate:,.2f} travellers/s wall, "
          f"{brute_cpu_rate:,.2f} per CPU second "
          f"(sample of {len(brute_sample)}); unlisted with a hit "
          f"{100 * brute_unlisted / max(1, brute_unlisted_n):.1f} % of {brute_unlisted_n}")
    print(f"recall on the same {len(listed_sample)} listed travellers: ours {ours_hits / len(listed_sample):.3f}, "
          f"brute force (top 5) {brute_hits / len(listed_sample):.3f}")
    print(f"RATIO ours / brute force: {rate / brute_rate:,.0f}x wall clock, {cpu_rate / brute_cpu_rate:,.0f}x CPU; "
          f"build {t_build:.1f}s; peak RSS after build "
          f"{rss_build:,.0f} MB, after queries {rss_screen:,.0f} MB (goal <= 2048), after brute force "
          f"{peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
