"""Accuracy of screening on the yente candidate-generation fixtures, against all real lists.

Strategy: load UN + OFAC + UK as the service would, screen every fixture row as a traveller would
present it (name, date of birth, nationality), and report recall on the treated UN positives,
false-positive rate on both negative sets, top-5 identity recall, mean rank and recall per
script. The expected identity of a positive is the UN entry whose name equals the *untreated*
row (plus UK entries quoting that UN reference). The brute-force baseline (rapidfuzz
token_sort_ratio >= 85 over every list name, names only) runs in the same process, on a sample
of the negatives because it costs ~40 ms a query.

Run: .venv/bin/python bench/bench_screening_accuracy.py [--negatives N] [--baseline-sample N]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchlists import load  # noqa: E402
from watchlists.index import prepare_traveller  # noqa: E402
from watchlists.models import ScreeningQuery  # noqa: E402
from watchlists.normalise import name_tokens, script_of  # noqa: E402
from watchlists.screener import Screener  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
LISTS = DATA / "watchlists"
FIXTURES = DATA / "name_matching_benchmarks" / "yente_candidate_generation"


def read_rows(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def as_query(i: int, row: dict[str, str]) -> ScreeningQuery:
    return ScreeningQuery(id=str(i), full_name=row["full_name"], date_of_birth=row["date_of_birth"] or None,
                          nationality=row["nationality"] or None, gender=row["gender"] or None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--negatives", type=int, default=0, help="use only the first N rows of each negative set")
    parser.add_argument("--baseline-sample", type=int, default=2000, help="negatives per set for brute force")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    screener = Screener()
    for path in (LISTS / "un_sc_consolidated_2026-02-27.xml", LISTS / "ofac_sdn_2024-05-03.csv",
                 LISTS / "uk_sanctions_list_2026-05_derived"):
        screener.replace_list(load(path))
    print(f"lists loaded and indexed in {time.perf_counter() - t0:.1f}s: "
          + ", ".join(f"{s.name} {len(s.entries)} entries" for s in screener.lists.values()))
    threshold = screener.thresholds.default

    # Expected identities from the untreated rows.
    un = screener.lists["UN"]
    by_tokens: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for entry in un.entries:
        for variant in entry.names:
            by_tokens[tuple(sorted(name_tokens(variant.name)))].add(entry.id)
    uk_by_ref: dict[str, set[str]] = defaultdict(set)
    for entry in screener.lists["UK"].entries:
        if entry.source_ref:
            uk_by_ref[entry.source_ref].add(entry.id)
    untreated = read_rows("positives_un_untreated.csv")
    treated = read_rows("positives_un_treated.csv")
    expected: list[set[tuple[str, str]]] = []
    for row in untreated:
        refs = by_tokens.get(tuple(sorted(name_tokens(row["full_name"]))), set())
        ids = {("UN", r) for r in refs} | {("UK", u) for r in refs for u in uk_by_ref.get(r, ())}
        expected.append(ids)

    # Ours: positives.
    matched = id_top5 = id_matched = 0
    ranks: list[int] = []
    per_script: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    t1 = time.perf_counter()
    misses = []
    for i, row in enumerate(treated):
        traveller = prepare_traveller(as_query(i, row))
        ranked = screener.rank(traveller, limit=10)
        hit = any(h.score >= threshold for h in ranked)
        matched += hit
        script = script_of(row["full_name"])
        per_script[script][0] += hit
        per_script[script][1] += 1
        top = [(h.list, h.entry_id) for h in ranked[:5]]
        found = [k for k, key in enumerate(top) if key in expected[i]]
        if found:
            id_top5 += 1
            ranks.append(found[0] + 1)
            id_matched += ranked[found[0]].score >= threshold
        if not hit:
            misses.append((row["full_name"], untreated[i]["full_name"], row["date_of_birth"],
                           ranked[0].score if ranked else None, ranked[0].matched_name if ranked else None))
    t_pos = time.perf_counter() - t1
    n_pos = len(treated)

    # Ours: negatives.
    fpr: dict[str, tuple[int, int, float]] = {}
    neg_sets = {"negatives_global": read_rows("negatives_global.csv"), "negatives_us": read_rows("negatives_us.csv")}
    fp_examples: list[tuple[str, str | None, float]] = []
    for name, rows in neg_sets.items():
        if args.negatives:
            rows = rows[: args.negatives]
        t2 = time.perf_counter()
        false = 0
        for i, row in enumerate(rows):
            hits = screener.screen(as_query(i, row), limit=1)
            if hits:
                false += 1
                if len(fp_examples) < 30:
                    fp_examples.append((row["full_name"], hits[0].matched_name, hits[0].score))
        fpr[name] = (false, len(rows), time.perf_counter() - t2)

    # Baseline: brute force token_sort_ratio >= 85 over every list name.
    all_names = [v.name for s in screener.lists.values() for e in s.entries for v in e.names]
    choices = [utils.default_process(n) for n in all_names]

    def brute(name: str) -> bool:
        found = process.extractOne(utils.default_process(name), choices, scorer=fuzz.token_sort_ratio,
                                   processor=None, score_cutoff=85)
        return found is not None

    t3 = time.perf_counter()
    b_pos = sum(brute(r["full_name"]) for r in treated)
    b_pos_time = time.perf_counter() - t3
    rng = random.Random(7)
    b_fpr = {}
    for name, rows in neg_sets.items():
        sample = rng.sample(rows, min(args.baseline_sample, len(rows)))
        b_fpr[name] = (sum(brute(r["full_name"]) for r in sample), len(sample))

    print(f"\nthreshold {threshold:.2f}; {len(all_names)} list names")
    print(f"{'metric':44} {'ours':>14} {'brute force':>14}")
    print(f"{'recall, treated UN positives (' + str(n_pos) + ')':44} {matched / n_pos:>14.4f} {b_pos / n_pos:>14.4f}")
    for name in neg_sets:
        f, n, _ = fpr[name]
        bf, bn = b_fpr[name]
        print(f"{'FPR ' + name:44} {100 * f / n:>12.3f} % {100 * bf / bn:>12.3f} %   (ours {f}/{n}, brute {bf}/{bn})")
    print(f"{'top-5 identity recall':44} {id_top5 / n_pos:>14.4f}")
    print(f"{'identity matched (top-5 and >= threshold)':44} {id_matched / n_pos:>14.4f}")
    print(f"{'mean rank of expected identity':44} {statistics.mean(ranks) if ranks else 0:>14.3f}")
    print(f"{'positives without a known identity':44} {sum(1 for e in expected if not e):>14}")
    print("recall per script of the query: " + ", ".join(
        f"{s} {a}/{n} ({a / n:.3f})" for s, (a, n) in sorted(per_script.items())))
    neg_scripts = Counter(script_of(r["full_name"]) for r in neg_sets["negatives_global"])
    print("negatives_global scripts: " + ", ".join(f"{s} {n}" for s, n in neg_scripts.most_common()))
    n_neg = sum(n for _, n, _ in fpr.values())
    t_neg = sum(t for _, _, t in fpr.values())
    ours_rate = (n_pos + n_neg) / (t_pos + t_neg)
    brute_rate = n_pos / b_pos_time
    print(f"\nthroughput ours: {ours_rate:,.0f} travellers/s over {n_pos + n_neg} queries (3 lists)")
    print(f"throughput brute force: {brute_rate:,.1f} travellers/s; ratio {ours_rate / brute_rate:,.0f}x")
    if args.show_misses:
        print("\nmissed positives (treated | untreated | dob | best score | best name):")
        for m in misses:
            print("  ", m)
        print("\nfalse positives (query | matched | score):")
        for fp in fp_examples:
            print("  ", fp)


if __name__ == "__main__":
    main()
