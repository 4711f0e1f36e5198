"""Screening accuracy on development name pairs, side by side with nomenklatura's logic-v2.

Strategy: `name_pairs.build_pairs` makes labelled pairs per category (missing names, initials,
nicknames, transliteration, other scripts, ...) with hard negatives. Ours runs the real screening
path: a `Screener` holding UN + OFAC + UK as the service loads them plus one "DEV" list holding
every pair's listed side; a positive is found when the traveller's hits at the default threshold
include its DEV entry, a negative is a false match when they do. logic-v2 (OpenSanctions'
rule-based matcher, from the nomenklatura package) scores the same pairs as followthemoney
`Person` entities carrying the same fields, at yente's default threshold 0.70 (nomenklatura itself
sets none). Then the false-alert rate per traveller on the yente 50k + 50k negatives against
UN + OFAC + UK, the lists a border team runs (DEV is left out: its Faker names are common names by
construction) (ours: every row; logic-v2: a sample, each scored against its top 10
candidates by rapidfuzz token_set_ratio since it has no candidate generation of its own), and
the older headline: recall on the treated UN positives and on their expected identities.
Speed is compared only on identical query sets: both sides are timed on the same pairs, and on the
negatives both are timed on the same random sample (ours also runs every row, for its alert rate);
each speed line says which set it timed.

Run: .venv/bin/python bench/bench_screening_accuracy.py [--quick] [--show-misses CATEGORY]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from followthemoney import model
from followthemoney.proxy import EntityProxy
from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from name_pairs import (  # noqa: E402
    CATEGORIES,
    LIST_FILES,
    Pair,
    build_pairs,
    read_fixture,
    read_sources,
)
from nomenklatura.matching import LogicV2  # noqa: E402

from watchlists import load  # noqa: E402
from watchlists.loaders.common import LoadResult  # noqa: E402
from watchlists.models import Category, NameVariant, PartialDate, ScreeningQuery, WatchlistEntry  # noqa: E402
from watchlists.normalise import name_tokens  # noqa: E402
from watchlists.screener import Screener  # noqa: E402

LOGIC_V2_THRESHOLD = 0.70  # yente's default score threshold
QUICK_CATEGORIES = ("missing_names", "initials", "national_translit", "other_scripts", "romanisation", "un_varied")
SCHEMAS = {Category.INDIVIDUAL: "Person", Category.ENTITY: "Organization", Category.VESSEL: "Vessel",
           Category.AIRCRAFT: "Airplane"}


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, same: bool, matched: bool) -> None:
        if same:
            self.tp += matched
            self.fn += not matched
        else:
            self.fp += matched
            self.tn += not matched

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def parse_date(text: str | None) -> PartialDate | None:
    if not text:
        return None
    parts = [int(p) for p in text.split("-")[:3] if p.isdigit()]
    if not parts:
        return None
    return PartialDate(year=parts[0], month=parts[1] if len(parts) > 1 else None,
                       day=parts[2] if len(parts) > 2 else None)


def dev_list(pairs: Sequence[Pair]) -> tuple[LoadResult, list[str]]:
    """One DEV entry per distinct listed side; returns the list and each pair's entry id."""
    ids: dict[tuple[str, str | None, str | None], str] = {}
    entries: list[WatchlistEntry] = []
    pair_ids: list[str] = []
    for pair in pairs:
        key = (pair.listed, pair.listed_dob, pair.listed_nationality)
        if key not in ids:
            ids[key] = f"DEV{len(ids)}"
            dob = parse_date(pair.listed_dob)
            entries.append(WatchlistEntry(
                id=ids[key], list="DEV", category=Category.INDIVIDUAL, names=[NameVariant(name=pair.listed)],
                dates_of_birth=[dob] if dob else [],
                nationalities=[pair.listed_nationality] if pair.listed_nationality else []))
        pair_ids.append(ids[key])
    return LoadResult(entries=entries, rejected=[], list_name="DEV", version="dev", source_format="bench"), pair_ids


def traveller_query(i: int, pair: Pair) -> ScreeningQuery:
    if pair.traveller_surname:
        return ScreeningQuery(id=str(i), surname=pair.traveller_surname, given_names=pair.traveller_given,
                              date_of_birth=pair.traveller_dob, nationality=pair.traveller_nationality)
    return ScreeningQuery(id=str(i), full_name=pair.traveller, date_of_birth=pair.traveller_dob,
                          nationality=pair.traveller_nationality)


def person(entity_id: str, name: str, given: str | None, surname: str | None, dob: str | None,
           nationality: str | None) -> EntityProxy:
    entity = model.make_entity("Person")
    entity.id = entity_id  # logic-v2 caches per entity id: every side of every pair has its own
    entity.add("name", name)
    if given:
        entity.add("firstName", given)
    if surname:
        entity.add("lastName", surname)
    if dob:
        entity.add("birthDate", dob)
    if nationality:
        entity.add("nationality", nationality)
    return entity


def list_entity(entry: WatchlistEntry) -> EntityProxy | None:
    schema = SCHEMAS.get(entry.category)
    if schema is None:
        return None
    entity = model.make_entity(schema)
    entity.id = f"{entry.list}-{entry.id}"
    for variant in entry.names:
        prop = {"primary": "name", "weak_alias": "weakAlias"}.get(variant.kind, "alias")
        entity.add(prop, variant.name)
    if schema == "Person":
        for dob in entry.dates_of_birth:
            if dob.year_to and dob.year_to != dob.year:
                for year in range(dob.year, dob.year_to + 1):
                    entity.add("birthDate", str(year))
            else:
                entity.add("birthDate", str(dob).rstrip("~"))
        for nat in entry.nationalities:
            entity.add("nationality", nat.lower())
    return entity


def pct(x: float) -> str:
    return f"{100 * x:6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few categories, small subsets, 5k negatives")
    parser.add_argument("--per-category", type=int, default=0, help="positives per category (default 300)")
    parser.add_argument("--negatives", type=int, default=0, help="rows of each negative set (default all)")
    parser.add_argument("--nk-sample", type=int, default=0, help="negatives per set scored by logic-v2")
    parser.add_argument("--show-misses", metavar="CATEGORY", help="print our misses and false matches")
    args = parser.parse_args()
    per_category = args.per_category or (60 if args.quick else 300)
    n_negatives = args.negatives or (2500 if args.quick else 50_000)
    nk_sample = args.nk_sample or (150 if args.quick else 1000)
    categories = list(QUICK_CATEGORIES if args.quick else CATEGORIES)
    if args.show_misses and args.show_misses not in categories:
        categories.append(args.show_misses)

    t0 = time.perf_counter()
    screener = Screener()
    real = Screener()  # the real lists alone, for the false-alert rate on the shared negatives
    for path in LIST_FILES:
        screener.replace_list(load(path))
        real.replace_list(load(path))
    sources = read_sources()
    pairs = build_pairs(per_category, categories, sources=sources)
    dev, pair_ids = dev_list(pairs)
    screener.replace_list(dev)
    threshold = screener.thresholds.default
    print(f"lists loaded, {len(pairs)} pairs built, indexed in {time.perf_counter() - t0:.1f}s: "
          + ", ".join(f"{s.name} {len(s.entries)}" for s in screener.lists.values()))

    # Ours on the pairs
    ours: dict[str, Tally] = defaultdict(Tally)
    wrong: list[tuple[Pair, str]] = []
    t1 = time.perf_counter()
    for i, pair in enumerate(pairs):
        hits = screener.screen(traveller_query(i, pair), limit=50)
        matched = any(h.list == "DEV" and h.entry_id == pair_ids[i] for h in hits)
        ours[pair.category].add(pair.same, matched)
        if matched != pair.same and pair.category == args.show_misses:
            best = max((h.score for h in hits if h.list == "DEV" and h.entry_id == pair_ids[i]), default=0.0)
            wrong.append((pair, f"{best:.2f}" if matched else "-"))
    t_ours = time.perf_counter() - t1

    # logic-v2 on the same pairs
    config = LogicV2.default_config()
    theirs: dict[str, Tally] = defaultdict(Tally)
    nk_scores: list[float] = []
    t2 = time.perf_counter()
    for i, pair in enumerate(pairs):
        left = person(f"l{i}", pair.listed, pair.listed_given, pair.listed_surname, pair.listed_dob,
                      pair.listed_nationality)
        right = person(f"t{i}", pair.traveller, pair.traveller_given, pair.traveller_surname, pair.traveller_dob,
                       pair.traveller_nationality)
        score = LogicV2.compare(right, left, config).score
        nk_scores.append(score)
        theirs[pair.category].add(pair.same, score >= LOGIC_V2_THRESHOLD)
    t_theirs = time.perf_counter() - t2

    print(f"\nper category: ours at threshold {threshold:.2f}, logic-v2 at {LOGIC_V2_THRESHOLD:.2f}")
    print(f"{'category':20} {'pos':>5} {'neg':>5} | {'P ours':>7} {'R ours':>7} {'F1 ours':>7} | "
          f"{'P lv2':>7} {'R lv2':>7} {'F1 lv2':>7}")
    total_o, total_t = Tally(), Tally()
    for cat in categories:
        o, t = ours[cat], theirs[cat]
        for total, part in ((total_o, o), (total_t, t)):
            total.tp += part.tp
            total.fp += part.fp
            total.fn += part.fn
            total.tn += part.tn
    for cat, o, t in [*((c, ours[c], theirs[c]) for c in categories), ("TOTAL", total_o, total_t)]:
        po, ro, fo = o.prf()
        pt, rt, ft = t.prf()
        print(f"{cat:20} {o.tp + o.fn:>5} {o.fp + o.tn:>5} | {pct(po):>7} {pct(ro):>7} {pct(fo):>7} | "
              f"{pct(pt):>7} {pct(rt):>7} {pct(ft):>7}")
    print("(precision and recall in %; a category's precision is over its own hard negatives)")
    rate_o, rate_t = len(pairs) / t_ours, len(pairs) / t_theirs
    print(f"throughput on the same {len(pairs)} pairs for both: ours {rate_o:,.0f} pairs/s (full screening "
          f"against 4 lists), logic-v2 {rate_t:,.0f} pairs/s (one comparison); ratio {rate_o / rate_t:,.1f}x")

    # False-alert rate per traveller on the shared negatives
    neg_sets = {name: read_fixture(f"{name}.csv")[:n_negatives] for name in ("negatives_global", "negatives_us")}
    print(f"\nfalse alerts per traveller on the shared negatives, against UN+OFAC+UK (the DEV list of Faker "
          f"names is left out: it is common names by construction) (ours threshold {threshold:.2f}, logic-v2 "
          f"{LOGIC_V2_THRESHOLD:.2f})")
    all_entries = [e for s in real.lists.values() for e in s.entries if e.category in SCHEMAS]
    names: list[str] = []
    owners: list[int] = []
    for k, entry in enumerate(all_entries):
        for variant in entry.names:
            names.append(utils.default_process(variant.name))
            owners.append(k)
    entities: dict[int, EntityProxy | None] = {}
    rng = random.Random(7)
    for name, rows in neg_sets.items():
        queries = [ScreeningQuery(id=str(i), full_name=row["full_name"], date_of_birth=row["date_of_birth"] or None,
                                  nationality=row["nationality"] or None, gender=row["gender"] or None)
                   for i, row in enumerate(rows)]
        sample = rng.sample(range(len(rows)), min(nk_sample, len(rows)))
        # Timed on the sample only, the same rows logic-v2 is timed on below, before the pass over every
        # row (which would warm ours' caches for the sampled rows).
        t3 = time.perf_counter()
        sample_alerts = sum(1 for i in sample if real.screen(queries[i], limit=1))
        t_ours_sample = time.perf_counter() - t3
        nk_alerts = 0
        t4 = time.perf_counter()
        for i in sample:
            row = rows[i]
            query = person(f"n{name}{i}", row["full_name"], None, None, row["date_of_birth"] or None,
                           row["nationality"] or None)
            if row["gender"]:
                query.add("gender", row["gender"])
            found = process.extract(utils.default_process(row["full_name"]), names, scorer=fuzz.token_set_ratio,
                                    processor=None, limit=40)
            candidates: list[int] = []
            for _, _, j in found:
                if owners[j] not in candidates:
                    candidates.append(owners[j])
                if len(candidates) == 10:
                    break
            best = 0.0
            for k in candidates:
                if k not in entities:
                    entities[k] = list_entity(all_entries[k])
                entity = entities[k]
                if entity is not None:
                    best = max(best, LogicV2.compare(query, entity, config).score)
            nk_alerts += best >= LOGIC_V2_THRESHOLD
        t_nk_sample = time.perf_counter() - t4
        alerts = sum(1 for q in queries if real.screen(q, limit=1))
        n_sample = max(1, len(sample))
        print(f"  {name:18} ours {alerts}/{len(rows)} = {100 * alerts / len(rows):.3f} % (every row), "
              f"{sample_alerts}/{len(sample)} = {100 * sample_alerts / n_sample:.3f} % (sample);  logic-v2 "
              f"{nk_alerts}/{len(sample)} = {100 * nk_alerts / n_sample:.3f} % (sample; top 10 candidates by "
              f"token_set_ratio)")
        print(f"  {'':18} speed on the same {len(sample)} sampled rows for both: ours "
              f"{len(sample) / t_ours_sample:,.0f} travellers/s, logic-v2 {len(sample) / t_nk_sample:,.0f} "
              f"travellers/s (candidate generation and up to 10 comparisons)")

    # The older headline: treated UN positives and their expected identities
    treated, untreated = read_fixture("positives_un_treated.csv"), read_fixture("positives_un_untreated.csv")
    by_tokens: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for entry in screener.lists["UN"].entries:
        for variant in entry.names:
            by_tokens[tuple(sorted(name_tokens(variant.name)))].add(entry.id)
    uk_by_ref: dict[str, set[str]] = defaultdict(set)
    for entry in screener.lists["UK"].entries:
        if entry.source_ref:
            uk_by_ref[entry.source_ref].add(entry.id)
    any_hit = identity = 0
    for i, (row, plain) in enumerate(zip(treated, untreated, strict=True)):
        refs = by_tokens.get(tuple(sorted(name_tokens(plain["full_name"]))), set())
        expected = {("UN", r) for r in refs} | {("UK", u) for r in refs for u in uk_by_ref.get(r, ())}
        hits = screener.screen(ScreeningQuery(id=str(i), full_name=row["full_name"],
                                              date_of_birth=row["date_of_birth"] or None,
                                              nationality=row["nationality"] or None), limit=10)
        any_hit += bool(hits)
        identity += any((h.list, h.entry_id) in expected for h in hits)
    print(f"\ntreated UN positives ({len(treated)}): any hit {any_hit / len(treated):.4f}, "
          f"expected identity hit {identity / len(treated):.4f}")

    if args.show_misses:
        print(f"\nours on {args.show_misses}: misses (positives not found) and false matches (score):")
        for pair, shown in wrong:
            kind = "FALSE MATCH" if not pair.same else "miss"
            print(f"  {kind:11} {shown:>5} [{pair.how}] listed {pair.listed!r} | traveller {pair.traveller!r}")
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
