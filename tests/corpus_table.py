"""The shared real-carrier corpus (../shared/corpus/paxlst) and the verdict table of its SOURCES.md.

Tests read verdicts and stated traveller counts from the table itself, so a change there changes
what they assert.
"""

from __future__ import annotations

import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "paxlst"


def corpus_rows() -> list[dict[str, str]]:
    rows = []
    for line in (CORPUS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| (P\d\d) \| `([^`]+)` \|.*\| ([^|]*) \| ([^|]*) \|$", line)
        if m:
            rows.append({"id": m.group(1), "file": m.group(2), "what": m.group(3).strip(),
                         "expected": m.group(4).strip()})
    return rows


def stated_travellers(what: str) -> int | None:
    m = re.search(r"(\d+) (pax|crew)", what)
    return int(m.group(1)) if m else None
