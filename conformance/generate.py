"""`conformance generate`: synthetic manifests for a national team's test bench, with known hits and defects.

Strategy: the generator (generator.py) makes the realistic flights; this module only decides
what to write and records it. Planted watchlist matches are the first K individuals of the
bundled test watchlist, so the team's screening can be checked against an answer key. Defects
are applied round-robin, one per flight starting with the first, so the remaining flights stay
clean controls. An `index.json` beside the files says, per file, its flight, part and defect.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from parsers.profile import Profile

from .defects import DEFECTS
from .edi import Edi
from .evaluate import TEST_WATCHLIST
from .generator import generate_flights, to_bytes


class GenerateError(ValueError):
    """A request the generator cannot satisfy (unknown defect, more hits than travellers)."""


@dataclass(frozen=True)
class Written:
    files: list[Path]
    planted: list[str]  # watchlist entry ids
    defects: dict[str, str]  # file name -> defect


def planted_people(k: int, path: Path = TEST_WATCHLIST) -> list[tuple[str, str, str, date]]:
    """(entry id, surname, given names, date of birth) of the first k individuals on the test list."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] == "individual" and r["date_of_birth"]]
    if k > len(rows):
        raise GenerateError(f"--plant-hits {k}: the test watchlist has {len(rows)} individuals")
    return [(r["id"], r["surname"], r["given_names"], date.fromisoformat(r["date_of_birth"])) for r in rows[:k]]


def write_flights(out: Path, profile: Profile, *, flights: int, seed: int, plant_hits: int = 0,
                  defects: list[str] | None = None, travellers: tuple[int, int] = (20, 60),
                  max_per_part: int | None = 15) -> Written:
    unknown = [d for d in defects or [] if d not in DEFECTS]
    if unknown:
        raise GenerateError(f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(DEFECTS)}")
    people = planted_people(plant_hits)
    per_part = min(x for x in (max_per_part, profile.max_travellers) if x) if (max_per_part or
                                                                             profile.max_travellers) else None
    lists = generate_flights(flights, seed=seed, travellers_per_flight=travellers, max_per_part=per_part,
                             profile_hint=profile.name, plant=[(s, g, d) for _, s, g, d in people] or None)
    out.mkdir(parents=True, exist_ok=True)
    chosen = list(defects or [])
    index: list[dict[str, object]] = []
    files: list[Path] = []
    applied: dict[str, str] = {}
    for fi, parts in enumerate(lists):
        defect = DEFECTS[chosen[fi]] if fi < len(chosen) else None
        if defect is not None and defect.apply is None and len(parts) > 1:
            parts = parts[:-1]  # missing-final-part: the part marked F is never sent
        elif defect is not None and defect.apply is None:
            defect = None  # a single-part list has no final part to lose
        for pi, m in enumerate(parts):
            data = to_bytes(m)
            hit_here = defect is not None and defect.apply is not None and pi == 0
            if hit_here and defect is not None and defect.apply is not None:
                e = defect.apply(Edi.parse(data))
                if defect.fix_counts:
                    e.fix_counts()
                data = e.to_bytes()
            name = f"flight{fi + 1:03d}-part{pi + 1:02d}.edi"
            (out / name).write_bytes(data)
            files.append(out / name)
            used = defect.name if defect is not None and (hit_here or defect.apply is None) else None
            if used:
                applied[name] = used
            index.append({"file": name, "flight": m.legs[0].flight_id if m.legs else None,
                          "common_access_ref": m.header.common_access_ref, "part": m.header.sequence,
                          "final": m.header.sequence_flag == "F", "travellers": len(m.travellers),
                          "defect": used, "rule": DEFECTS[used].rule if used else None})
    (out / "index.json").write_text(json.dumps({
        "profile": profile.name, "seed": seed, "flights": flights,
        "planted_hits": [{"entry_id": i, "surname": s, "given_names": g, "date_of_birth": d.isoformat()}
                         for i, s, g, d in people],
        "watchlist": str(TEST_WATCHLIST), "files": index}, indent=2) + "\n", encoding="utf-8")
    return Written(files=files, planted=[p[0] for p in people], defects=applied)
