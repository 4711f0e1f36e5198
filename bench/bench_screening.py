"""Speed of screening against a large synthetic list, with brute force run in the same process.

Strategy: stream N synthetic entries (default 1,000,000) straight into the index (the entries are
never all alive: this is what the memory goal measures), then screen travellers of whom a share
are mangled listed people and the rest fresh people of the same cultures who are not on the list.
Brute force (rapidfuzz token_sort_ratio >= 85 via process.extractOne over every list name) is
timed on a sample of the same travellers, and recall of both is measured on the same listed
travellers. Prints build time, peak RSS (ru_maxrss), throughput, the ratio against brute force,
recall and the share of unlisted travellers with a hit.
The user's path is measured too: the same number of entries (or --cli-entries) written as a
national CSV and screened by `api-engine screen --watchlist` in a child process, whose peak RSS is
printed beside the in-memory path's (the loader streams rows into the index: both should be close).

Run: .venv/bin/python bench/bench_screening.py [--entries N] [--cli-entries N (0: skip)] [--travellers N]
     [--brute-sample N]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchlists.index import WatchlistIndex, prepare_traveller  # noqa: E402
from watchlists.loaders.national import COLUMNS  # noqa: E402
from watchlists.models import Category  # noqa: E402
from watchlists.screener import DEFAULT_THRESHOLD  # noqa: E402
from watchlists.synthetic import synthetic_entries, synthetic_travellers  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_national_csv(path: Path, entries: int) -> None:
    """The synthetic list in the national CSV format (primary name, aliases, date of birth, document)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for e in synthetic_entries(entries, seed=0, list_name="NATIONAL"):
            doc = e.documents[0] if e.documents else None
            row = {"id": e.id, "list": e.list, "category": e.category.value, "full_name": e.primary_name,
                   "aliases": "|".join(v.name for v in e.names[1:]),
                   "date_of_birth": str(e.dates_of_birth[0]) if e.dates_of_birth else "",
                   "nationality": "|".join(e.nationalities), "gender": e.gender or "",
                   "document_number": doc.number if doc else "", "document_type": (doc.doc_type if doc else "") or "",
                   "document_country": (doc.country if doc else "") or ""}
            out.writerow([row.get(c, "") for c in COLUMNS])


def cli_path(entries: int) -> tuple[float, float, str]:
    """Peak RSS (MB) and wall time of `api-engine screen` loading an N-row national CSV in a child
    process (ru_maxrss of children: the only child this process waits for), and its load line."""
    with tempfile.TemporaryDirectory() as tmp:
        listed, travellers = Path(tmp) / "national.csv", Path(tmp) / "travellers.jsonl"
        write_national_csv(listed, entries)
        travellers.write_text(json.dumps({"id": "t1", "full_name": "John Smith", "date_of_birth": "1970"}) + "\n")
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "api_engine.cli", "screen", "--watchlist", str(listed),
                               "--travellers", str(travellers)], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"api-engine screen failed ({done.returncode}): {done.stderr[-2000:]}")
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, wall, done.stderr.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--cli-entries", type=int, default=None,
                        help="rows of the national CSV screened through the CLI (default: --entries; 0: skip)")
    parser.add_argument("--travellers", type=int, default=20_000)
    parser.add_argument("--listed-share", type=float, default=0.05)
    parser.add_argument("--brute-sample", type=int, default=100)
    parser.add_argument("--brute-listed", type=int, default=100, help="listed travellers brute force is run on")
    parser.add_argument("--profile", action="store_true", help="cProfile the screening loop")
    args = parser.parse_args()

    cli_entries = args.entries if args.cli_entries is None else args.cli_entries
    cli: tuple[float, float, str] | None = None
    if cli_entries:
        cli = cli_path(cli_entries)
        print(f"api-engine screen --watchlist <{cli_entries:,}-row national CSV>: peak RSS {cli[0]:,.0f} MB, "
              f"{cli[1]:.1f}s wall ({cli[2]})")

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
    if cli is not None:
        print(f"CLI path (national CSV, {cli_entries:,} rows): peak RSS {cli[0]:,.0f} MB (goal < 1536), "
              f"{cli[0] / rss_build:.2f}x the in-memory build's {rss_build:,.0f} MB ({args.entries:,} entries); "
              f"load + index + screen {cli[1]:.1f}s wall")


if __name__ == "__main__":
    main()
