"""Inputs made of findings: memory and time must stay linear with a small constant.

Strategy: three crafted interchanges where nearly every byte is a finding, each at 0.6 MB and
4 MiB (the per-record limit): (a) a PAXLST body of malformed two-byte segments `x'` (a bad tag, a
character outside UNOA and an unexpected segment each), (b) bare travellers `NAD+FL'` (a missing
surname, then a dozen validation findings each under the baseline profile), (c) tiny messages
`UNH..x..UNT` (a few findings each, spread over thousands of messages: the per-interchange bound).
Each is read with `parsers.read_interchange` and validated with `apply_profile` (baseline): the best
of N runs with `time.perf_counter`, then one more run under `tracemalloc` for the peak (the result
stays alive, as a caller holds it). In the same process, on the same sizes, the baseline: generated
valid manifests (`conformance.generator`, fixed seed, one message) read and validated the same way.
`--unbounded` also runs the crafted inputs with the limits of `parsers._budget` lifted (the same
code otherwise), on the smallest size only: several GB of memory at 4 MiB.

    python bench/bench_findings.py [--repeat 3] [--sizes 0.6,4.194304] [--unbounded]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import parsers._budget as budget_module
from conformance.generator import generate_interchange_bytes
from parsers import Interchange, apply_profile, load_profile, read_interchange

MB = 1_000_000
TODAY = date(2025, 3, 1)
UNB = "UNA:+.? 'UNB+UNOA:4+AIR1+GOV+20250301:1200+REF1'"
HEAD = (UNB + "UNH+M1+PAXLST:D:05B:UN:IATA'BGM+745'TDT+20+AA123+++AA'LOC+125+ATL'DTM+189:2503011540:201'"
        "LOC+87+JFK'DTM+232:2503011940:201'")
TAIL = "UNT+2+M1'UNZ+1+REF1'"


def malformed_tags(size: int) -> bytes:
    return (HEAD + "x'" * ((size - len(HEAD) - len(TAIL)) // 2) + TAIL).encode()


def bare_travellers(size: int) -> bytes:
    return (HEAD + "NAD+FL'" * ((size - len(HEAD) - len(TAIL)) // 7) + TAIL).encode()


def tiny_messages(size: int) -> bytes:
    """Messages `UNH+<n>..x..UNT` with distinct references, so that each has its own budget."""
    parts = [UNB]
    n = len(UNB) + 11
    i = 0
    while n < size:
        i += 1
        one = f"UNH+{i}+PAXLST:D:05B:UN:IATA'x'UNT+3+{i}'"
        parts.append(one)
        n += len(one)
    parts.append(f"UNZ+{i}+REF1'")
    return "".join(parts).encode()


def valid(size: int) -> bytes:
    """One generated flight of about `size` bytes (about 230 bytes per traveller)."""
    n = max(1, size // 230)
    for _ in range(3):
        [data] = generate_interchange_bytes(1, seed=20250301, travellers_per_flight=(n, n))
        n = max(1, round(n * size / len(data)))
    [data] = generate_interchange_bytes(1, seed=20250301, travellers_per_flight=(n, n))
    return data


CASES: dict[str, Callable[[int], bytes]] = {
    "(a) malformed tags": malformed_tags,
    "(b) bare travellers": bare_travellers,
    "(c) tiny messages": tiny_messages,
}


def process(data: bytes) -> Interchange:
    return apply_profile(read_interchange(data), load_profile("baseline"), today=TODAY)


def best_of(run: Callable[[], Any], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def peak(data: bytes) -> tuple[int, int]:
    """tracemalloc peak of one read + validation (result held), and the findings it gave."""
    gc.collect()
    tracemalloc.start()
    result = process(data)
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top, len(result.findings)


@contextmanager
def unbounded() -> Iterator[None]:
    """The limits of `parsers._budget` lifted: every finding built, as before they existed."""
    init = budget_module.Budget.__init__
    defaults = init.__defaults__
    init.__defaults__ = (sys.maxsize, sys.maxsize)
    try:
        yield
    finally:
        init.__defaults__ = defaults


def measure(data: bytes, repeat: int) -> dict[str, float]:
    process(data)  # warm-up
    secs = best_of(lambda: process(data), repeat)
    top, findings = peak(data)
    mb = len(data) / MB
    return {"mb": mb, "s": secs, "s_per_mb": secs / mb, "peak_mb": top / MB, "x_input": top / len(data),
            "findings": findings}


def row(name: str, m: dict[str, float], base: dict[str, float] | None) -> str:
    vs = (f"{m['s_per_mb'] / base['s_per_mb']:6.1f}x {m['x_input'] / base['x_input']:6.1f}x" if base
          else f"{'1.0x':>7} {'1.0x':>7}")
    return (f"{name:<34} {m['mb']:5.2f} {int(m['findings']):>9,} {m['s']:7.2f} {m['s_per_mb']:6.2f} "
            f"{m['peak_mb']:8.0f} {m['x_input']:7.0f}x {vs}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per input; the best counts")
    ap.add_argument("--sizes", default="0.6,4.194304", help="input sizes in MB (4.194304 MB = 4 MiB)")
    ap.add_argument("--unbounded", action="store_true", help="also run without limits (smallest size only)")
    args = ap.parse_args(argv)
    sizes = [int(float(s) * MB) for s in args.sizes.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"load {load:.2f} on {os.cpu_count()} CPUs; limits: {budget_module.MAX_FINDINGS_PER_MESSAGE:,} findings "
          f"per message, {budget_module.MAX_FINDINGS_PER_INTERCHANGE:,} per interchange")
    print(f"{'input':<34} {'MB':>5} {'findings':>9} {'s':>7} {'s/MB':>6} {'peak MB':>8} {'/input':>8} "
          f"{'s/MB vs valid':>7} {'mem vs valid':>7}")
    for size in sizes:
        base = measure(valid(size), args.repeat)
        print(row("valid manifest (baseline)", base, None))
        for name, make in CASES.items():
            data = make(size)
            print(row(name, measure(data, args.repeat), base), flush=True)
            if args.unbounded and size == min(sizes):
                with unbounded():
                    print(row(name + ", unbounded", measure(data, 1), base), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
