"""Reading elements of escaped separators: time must grow in proportion to size.

Strategy: one small valid interchange whose traveller's surname element holds `?+` (or `?'`, `?:`,
`??`) repeated to 0.3, 0.6, 1.3 and 2.6 MB, as in the report of issue 15. Each size is read by
`parsers.read_interchange` (best of N after a warm-up, `time.perf_counter`), and the seconds per MB
are printed with the ratio of the largest size's per-MB time to the smallest's: about 1 when
reading is linear (the quadratic lexer gave about 8 from 0.3 to 2.6 MB). In the same process, on
data of the same sizes, two baselines: pydifact on the very same text, and the floor, plain
`str.split` on the same interchange with the escape pairs replaced by two letters (nothing to
release). `--before` also times the lexer's former gluing (repeated concatenation and a regular
expression template per release) on the two smallest sizes, to show what was fixed.

    python bench/bench_escapes.py [--repeat 3] [--patterns "?+,?',?:,??"] [--no-pydifact] [--before]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import parsers._lexer as lexer
from parsers import read_interchange

SIZES_MB = (0.3, 0.6, 1.3, 2.6)
MB = 1_000_000
HEAD = ("UNA:+.? 'UNB+UNOA:4+AIR1+GOV+250301:1200+REF1'UNH+M1+PAXLST:D:05B:UN:IATA'BGM+745'"
        "TDT+20+AA123+++AA'LOC+125+ATL'DTM+189:2503011540:201'LOC+87+JFK'DTM+232:2503011940:201'NAD+FL+++")
TAIL = ":JOHN'UNT+9+M1'UNZ+1+REF1'"


def interchange(pattern: str, size_mb: float) -> str:
    """The interchange with its surname element made of `pattern` repeated to about `size_mb` MB."""
    n = max(1, (int(size_mb * MB) - len(HEAD) - len(TAIL)) // len(pattern))
    return HEAD + "A" + pattern * n + "B" + TAIL


def best_of(run: Callable[[], Any], repeat: int) -> float:
    run()
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def _check(text: str, pattern: str) -> None:
    """Every timed read must also be right: the element comes back unescaped, exactly."""
    [m] = read_interchange(text.encode("latin-1")).manifests
    n = text.count(pattern, len(HEAD))
    assert m.travellers[0].surname == "A" + pattern[1] * n + "B", "wrong value read"


def _former_split_released(s: str, sep: str, rel: str | None) -> list[str]:
    """The gluing the lexer used before: the carried string is rebuilt and stripped per released separator."""
    parts = s.split(sep)
    if rel is None or rel == sep or rel + sep not in s:
        return parts
    out: list[str] = []
    start = 0
    for i in [i for i, p in enumerate(parts) if p.endswith(rel)]:
        if i < start or (len(parts[i]) - len(parts[i].rstrip(rel))) % 2 == 0:
            continue
        out.extend(parts[start:i])
        carry, j = parts[i], i + 1
        while j < len(parts):
            carry = carry + sep + parts[j]
            if not (carry.endswith(rel) and (len(carry) - len(carry.rstrip(rel))) % 2):
                break
            j += 1
        out.append(carry)
        start = j + 1
    out.extend(parts[start:])
    return out


@contextmanager
def former_lexer() -> Any:
    saved = lexer.split_released, lexer._unescaper
    lexer.split_released = _former_split_released
    lexer._unescaper = lambda rel: re.compile(re.escape(rel) + r"(.)", re.S).sub
    try:
        yield
    finally:
        lexer.split_released, lexer._unescaper = saved


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--patterns", default="?+,?',?:,??")
    ap.add_argument("--no-pydifact", action="store_true")
    ap.add_argument("--before", action="store_true", help="also time the former lexer on 0.3 and 0.6 MB")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # pydifact warns once per segment tag about missing directories
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"python {sys.version.split()[0]}, load {load:.2f}; best of {args.repeat}; seconds per MB (s/MB)")
    parser: Any = None
    if not args.no_pydifact:
        try:
            from pydifact.parser import Parser
            parser = Parser()
        except ImportError:
            print("pydifact not installed (pip install -e '.[bench]'): baseline skipped")

    header = f"{'pattern':8} {'size MB':>8} {'ours s':>8} {'ours s/MB':>10} {'pydifact s/MB':>14} {'floor s/MB':>11}"
    print(header)
    for pattern in args.patterns.split(","):
        per_mb: list[float] = []
        for size in SIZES_MB:
            text = interchange(pattern, size)
            data = text.encode("latin-1")
            mb = len(data) / MB
            _check(text, pattern)
            ours = best_of(lambda d=data: read_interchange(d), args.repeat)  # type: ignore[misc]
            per_mb.append(ours / mb)
            pyd = "-"
            if parser is not None:
                t = best_of(lambda x=text: list(parser.parse(x)), args.repeat)  # type: ignore[misc]
                pyd = f"{t / mb:.3f}"
            plain = text.replace(pattern, "AA")
            floor = best_of(lambda x=plain: [[e.split(":") for e in s.split("+")]  # type: ignore[misc]
                                             for s in x.split("'")], args.repeat)
            print(f"{pattern:8} {mb:8.2f} {ours:8.3f} {ours / mb:10.3f} {pyd:>14} {floor / mb:11.4f}", flush=True)
        print(f"{pattern:8} per-MB time, largest / smallest: {per_mb[-1] / per_mb[0]:.2f} (1 = linear)")
        if args.before:
            with former_lexer():
                for size in SIZES_MB[:2]:
                    data = interchange(pattern, size).encode("latin-1")
                    t = best_of(lambda d=data: read_interchange(d), 1)  # type: ignore[misc]
                    print(f"{pattern:8} {len(data) / MB:8.2f} former lexer {t:.3f} s ({t / (len(data) / MB):.3f} s/MB)",
                          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
