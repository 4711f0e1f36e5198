"""Hypothesis properties of the reader, the PAXLST writer and the CONTRL writer.

Strategy: three families. (1) write → read of generated manifests under any legal UNA gives the
manifests back (fields as sent; see tests/strategies.py). (2) Arbitrary bytes never raise and
never pass silently: no message read means at least one error finding. (3) Real corpus messages,
mutated the ways transmission breaks them (segments deleted, duplicated or swapped, bytes
flipped, truncation), never raise; the mutations that break the envelope are named and must
produce an error finding. Every input also gets a CONTRL that is itself envelope-valid.
Profile "ci" (no example database, 200 examples) keeps the file well under 30 s.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import read_interchange, write_paxlst
from parsers._lexer import lex, split_released
from parsers.contrl import read_contrl, write_contrl
from parsers.models import Interchange, Severity
from tests.corpus_table import CORPUS
from tests.strategies import interchanges, sent_view

settings.register_profile("ci", database=None, max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

assert CORPUS.is_dir(), f"the shared corpus is missing: expected at {CORPUS} (../shared beside the checkout)"
FILES = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*.edi"))}
assert FILES, f"no .edi files in the shared corpus at {CORPUS}"

SERVICE = ("UNB", "UNG", "UNH", "UNT", "UNE", "UNZ")


def _errors(i: Interchange) -> set[str]:
    return {f.rule for f in i.findings if f.severity is Severity.ERROR}


def _contrl_is_well_formed(i: Interchange) -> None:
    report = read_contrl(write_contrl(i))
    assert report.findings == []
    assert report.action in ("4", "7")


@given(interchanges())
def test_write_read_round_trip_under_any_una(case: tuple[object, list[object]]) -> None:
    seps, manifests = case
    data = write_paxlst(manifests, separators=seps)  # type: ignore[arg-type]
    got = read_interchange(data)
    assert not {r for r in _errors(got) if r.startswith(("ENV", "SYN-T", "SYN-R", "SYN-S", "SYN-U"))}
    assert [sent_view(m) for m in got.manifests] == [sent_view(m) for m in manifests]  # type: ignore[arg-type]


@given(st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=300).map(lambda b: b"UNA:+.? 'UNB+UNOA:4+" + b),
    st.binary(max_size=300).map(lambda b: b"UNB+UNOW:4+A+B+250301:1200+1'UNH+1+PAXLST:D:05B:UN:IATA'" + b),
    st.text(max_size=200).map(lambda s: "UNH+1+CUSRES:D:05B:UN:IATA'" + s),
))
def test_arbitrary_input_never_raises_and_never_passes_silently(data: bytes | str) -> None:
    got = read_interchange(data)
    assert isinstance(got, Interchange)
    if not got.manifests and not got.responses:
        assert _errors(got), "nothing was read, yet no error says why"
    _contrl_is_well_formed(got)


def _segments(data: bytes) -> tuple[list[str], str, str]:
    """Raw segment texts (terminator removed), the terminator and the text before UNB/UNH."""
    seps = lex(data).separators
    text = data.decode("latin-1")
    first = re.search(r"UN[BH]", text)
    start = first.start() if first else 0
    raw = split_released(text[start:], seps.terminator, seps.release)
    return [r for r in raw if r.strip()], seps.terminator, text[:start]


def _tag(raw: str) -> str:
    return raw.strip()[:3]


def _join(prefix: str, segs: list[str], term: str) -> bytes:
    return (prefix + "".join(s + term for s in segs)).encode("latin-1")


@given(name=st.sampled_from(sorted(FILES)), data=st.data())
def test_mutated_corpus_messages_never_raise(name: str, data: st.DataObject) -> None:
    raw = bytearray(FILES[name])
    op = data.draw(st.sampled_from(["flip", "truncate", "delete", "duplicate", "swap", "insert"]))
    if op == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif op == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    elif op == "insert":
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at] = data.draw(st.sampled_from([b"'", b"+", b"?", b":", b"UNH+9'", b"UNZ+1+1'", b"\xc3\x28"]))
    else:
        segs, term, prefix = _segments(bytes(raw))
        i = data.draw(st.integers(0, len(segs) - 1))
        if op == "delete":
            del segs[i]
        elif op == "duplicate":
            segs.insert(i, segs[i])
        elif i + 1 < len(segs):
            segs[i], segs[i + 1] = segs[i + 1], segs[i]
        raw = bytearray(_join(prefix, segs, term))
    got = read_interchange(bytes(raw))
    if not got.manifests and not got.responses:
        assert _errors(got)
    _contrl_is_well_formed(got)


# Corpus files whose envelope is intact (every count and reference right), so that any
# envelope damage we do is the only damage.
INTACT = sorted(n for n, b in FILES.items()
                if not {r for r in _errors(read_interchange(b)) if r.startswith("ENV")} and b"UNZ" in b)


@given(name=st.sampled_from(INTACT or ["-"]), data=st.data())
def test_truncation_before_unz_is_an_error(name: str, data: st.DataObject) -> None:
    raw = FILES[name]
    segs, term, prefix = _segments(raw)
    unb_end = len(_join(prefix, segs[:1], term))
    unz_start = len(_join(prefix, segs[:-1], term))
    cut = data.draw(st.integers(unb_end, unz_start))
    got = read_interchange(raw[:cut])
    assert _errors(got) & {"ENV-UNZ-MISSING", "SYN-TRUNCATED"}


@given(name=st.sampled_from(INTACT or ["-"]), data=st.data())
def test_envelope_damage_is_an_error(name: str, data: st.DataObject) -> None:
    segs, term, prefix = _segments(FILES[name])
    body = [i for i, s in enumerate(segs) if _tag(s) not in SERVICE]
    op = data.draw(st.sampled_from(["delete-body", "duplicate-body", "delete-service", "swap-service"]))
    if op == "delete-body":
        del segs[data.draw(st.sampled_from(body))]
        expected = {"ENV-UNT-COUNT"}
    elif op == "duplicate-body":
        i = data.draw(st.sampled_from(body))
        segs.insert(i, segs[i])
        expected = {"ENV-UNT-COUNT"}
    elif op == "delete-service":
        i = data.draw(st.sampled_from([i for i, s in enumerate(segs) if _tag(s) in SERVICE]))
        tag = _tag(segs.pop(i))
        expected = {"UNB": {"ENV-UNB-MISSING-ENVELOPE", "ENV-UNZ-STRAY", "ENV-UNE-STRAY"},
                    "UNG": {"ENV-UNE-STRAY", "ENV-MIXED"},
                    "UNH": {"ENV-OUTSIDE", "ENV-UNT-STRAY"},
                    "UNT": {"ENV-UNT-MISSING"},
                    "UNE": {"ENV-UNE-MISSING"},
                    "UNZ": {"ENV-UNZ-MISSING"}}[tag]
    else:  # a service segment swapped with its neighbour
        i = data.draw(st.sampled_from([i for i, s in enumerate(segs[:-1]) if _tag(s) in SERVICE]))
        segs[i], segs[i + 1] = segs[i + 1], segs[i]
        expected = {r for r in ("ENV-OUTSIDE", "ENV-UNB-NOT-FIRST", "ENV-UNT-COUNT", "ENV-UNT-STRAY",
                                "ENV-UNE-STRAY", "ENV-UNE-MISSING", "ENV-UNZ-MISSING", "ENV-UNE-COUNT",
                                "ENV-UNZ-COUNT", "ENV-JUNK-AFTER", "ENV-UNB-MISSING-ENVELOPE", "ENV-UNT-MISSING",
                                "ENV-UNZ-STRAY", "ENV-MIXED")}
    got = read_interchange(_join(prefix, segs, term))
    found = {f.rule for f in got.findings if f.severity is Severity.ERROR or f.rule == "ENV-JUNK-AFTER"}
    assert found & expected, (op, sorted(found))
