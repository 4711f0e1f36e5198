"""Reading speed: our reader against pydifact and against plain str.split, on the same bytes.

Strategy: generate the data once (conformance.generator, fixed seed, one interchange per
300-traveller message), then time every method in this one process on exactly those bytes, so
the ratios hold on any machine even when the absolute figures do not. Each method gets a warm-up
run, then the best of N runs (time.perf_counter) counts: the minimum is the run least disturbed
by other work on the machine. Memory for one 2,000-traveller message is measured in a fresh
child process, so the 50,000-traveller data set here does not hide it.

    python bench/bench_parse.py [--travellers 50000] [--per-message 300] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

from conformance.generator import generate_interchange_bytes
from parsers import Interchange, read_interchange

Validator = Callable[[Interchange], Interchange]

GOAL_VS_PYDIFACT = 15.0
GOAL_VS_FLOOR = 0.3


def _validator() -> tuple[str, Validator] | None:
    """read + validate when parsers.validate exists (it is being written beside this bench)."""
    try:
        from parsers.validate import apply_profile
    except ImportError:
        return None
    try:
        from parsers.validate import load_profile  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        try:
            from parsers.profile import load_profile
        except ImportError:
            return None
    profile = load_profile("baseline")
    return "baseline", lambda ix: apply_profile(ix, profile)


def _best_of(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Best wall time of `repeat` runs after one warm-up; `run` returns travellers (or segments) seen."""
    count = run()
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - t0)
    return best, count


def _ours(data: list[bytes], validate: Validator | None) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for d in data:
            ix = read_interchange(d)
            if validate is not None:
                ix = validate(ix)
            for m in ix.manifests:
                n += len(m.travellers)
        return n

    return run


def _pydifact(texts: list[str]) -> Callable[[], int] | None:
    try:
        from pydifact.parser import Parser
    except ImportError:
        return None

    def run() -> int:
        segments = 0
        for text in texts:
            for _seg in Parser().parse(text):  # a generator: iterate so every segment is built
                segments += 1
        return segments

    return run


def _floor(texts: list[str]) -> Callable[[], int]:
    def run() -> int:
        segments = 0
        for text in texts:
            segments += len([[e.split(":") for e in s.split("+")] for s in text.split("'")])
        return segments

    return run


def _rss_kib(field: str = "VmRSS") -> int:
    """Resident set size from /proc (Linux); 0 elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_child(travellers: int, seed: int) -> dict[str, Any]:
    """Runs in a fresh process: RSS high-water delta, then tracemalloc peak, for one message."""
    data = generate_interchange_bytes(1, seed=seed, travellers_per_flight=(travellers, travellers))[0]
    read_interchange(data[:2000])  # import-time and first-call costs out of the way
    before = _rss_kib()
    try:  # reset the high-water mark so VmHWM measures only the read below
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    ix = read_interchange(data)
    after_peak = _rss_kib("VmHWM") if hwm_reset else _rss_kib()
    read_travellers = sum(len(m.travellers) for m in ix.manifests)
    del ix
    tracemalloc.start()
    kept = read_interchange(data)  # held until the peak is taken, like a caller would
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return {"bytes": len(data), "travellers": read_travellers, "tracemalloc_peak": peak,
            "rss_delta_kib": after_peak - before, "rss_is_peak": hwm_reset}


def _memory(travellers: int, seed: int) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", str(travellers), "--seed", str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _profile(data: list[bytes], top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for d in data:
        read_interchange(d)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--travellers", type=int, default=50_000, help="travellers in total (at least)")
    ap.add_argument("--per-message", type=int, default=300, help="travellers per PAXLST message")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per method; the best counts")
    ap.add_argument("--seed", type=int, default=20250301)
    ap.add_argument("--memory-travellers", type=int, default=2000)
    ap.add_argument("--profile", action="store_true", help="also print cProfile hotspots of our reader")
    ap.add_argument("--no-pydifact", action="store_true", help="skip the slow pydifact baseline")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # pydifact warns once per segment tag about missing directories

    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child, args.seed)))
        return 0

    n_msgs = math.ceil(args.travellers / args.per_message)
    t0 = time.perf_counter()
    data = generate_interchange_bytes(n_msgs, seed=args.seed,
                                      travellers_per_flight=(args.per_message, args.per_message))
    gen_s = time.perf_counter() - t0
    texts = [d.decode("latin-1") for d in data]
    total_bytes = sum(len(d) for d in data)
    segments = sum(t.count("'") for t in texts)
    travellers = n_msgs * args.per_message
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {load[0]:.2f}")
    print(f"data: {n_msgs} interchanges x {args.per_message} travellers = {travellers:,} travellers, "
          f"{total_bytes / 1e6:.1f} MB, {total_bytes / travellers:.0f} bytes and "
          f"{segments / travellers:.1f} segments per traveller (generated in {gen_s:.1f} s)")

    check = read_interchange(data[0])
    errors = [f.rule for f in check.findings if f.severity == "error"]
    if errors:
        print(f"warning: the reader reports errors on generated data: {sorted(set(errors))}")

    rows: list[tuple[str, float]] = []
    secs, seen = _best_of(_ours(data, None), args.repeat)
    if seen != travellers:
        print(f"warning: read {seen} travellers, expected {travellers}")
    ours = travellers / secs
    rows.append(("ours: read_interchange (read + normalise into models)", ours))
    v = _validator()
    if v is not None:
        secs, _ = _best_of(_ours(data, v[1]), args.repeat)
        rows.append((f"ours: read + validate (profile {v[0]})", travellers / secs))
    else:
        print("note: parsers.validate not available; read + validate not measured")
    pyd: float | None = None
    run_pyd = None if args.no_pydifact else _pydifact(texts)
    if run_pyd is not None:
        secs, _ = _best_of(run_pyd, args.repeat)
        pyd = travellers / secs
        rows.append(("pydifact: Parser.parse, every segment built", pyd))
    secs, _ = _best_of(_floor(texts), max(args.repeat, 5))
    floor = travellers / secs
    rows.append(("floor: str.split on ' + :", floor))

    print()
    print(f"{'method':<56} {'travellers/s':>13} {'vs pydifact':>12} {'vs floor':>9}")
    for name, rate in rows:
        vs_pyd = f"{rate / pyd:.1f}x" if pyd else "-"
        print(f"{name:<56} {rate:>13,.0f} {vs_pyd:>12} {rate / floor:>9.2f}")
    print()
    if pyd:
        verdict = "met" if ours / pyd >= GOAL_VS_PYDIFACT else "NOT met"
        print(f"goal ours >= {GOAL_VS_PYDIFACT:.0f}x pydifact: {ours / pyd:.1f}x, {verdict} "
              f"(the floor itself is {floor / pyd:.1f}x pydifact: no Python reader can beat that)")
    verdict = "met" if ours / floor >= GOAL_VS_FLOOR else "NOT met"
    print(f"goal ours >= {GOAL_VS_FLOOR} of the floor: {ours / floor:.2f}, {verdict}")

    mem = _memory(args.memory_travellers, args.seed)
    rss = "peak RSS delta" if mem["rss_is_peak"] else "RSS delta"
    print(f"memory, one {mem['travellers']:,}-traveller message ({mem['bytes'] / 1e3:.0f} KB): "
          f"tracemalloc peak {mem['tracemalloc_peak'] / 2**20:.1f} MiB, "
          f"{rss} {mem['rss_delta_kib'] / 1024:.1f} MiB")

    if args.profile:
        print()
        print(_profile(data, 25))
    return 0


if __name__ == "__main__":
    sys.exit(main())
