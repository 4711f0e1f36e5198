"""The reader's fast paths give exactly what the plain code they replace gives.

Each shortcut (models built without a second validation, equal segments split once and shared,
line breaks dropped by the per-segment strip, the repertoire check by byte deletion, the quiet
airport check, the one-int() date) is held against the straightforward version over the corpus,
generated interchanges and generated inputs.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator

from parsers import _paxlst, read_interchange, write_paxlst
from parsers._dates import resolve_past, to_date
from parsers._lexer import _CONTROL, _check_tags, _clean, _SlowSplitter, _unescape_fn, lex, split_released
from parsers._names import _PLACEHOLDERS, _TO_SPACE, matching_key
from parsers.models import Manifest, Stop, Traveller, constructor
from parsers.profile import load_profile
from parsers.validate import _check_places, validate_manifest
from tests.corpus_table import CORPUS
from tests.strategies import interchanges

FILES = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*.edi"))}


def _same(a: Any, b: Any, path: str = "$") -> None:
    """Equal values of the same types; for models also the same field order, set fields and slots."""
    assert type(a) is type(b), f"{path}: {type(a)} is not {type(b)}"
    if isinstance(a, BaseModel):
        assert a.model_fields_set == b.model_fields_set, path
        assert list(a.__dict__) == list(b.__dict__), path
        assert (a.__pydantic_extra__, a.__pydantic_private__) == (b.__pydantic_extra__, b.__pydantic_private__)
        for k in a.__dict__:
            _same(a.__dict__[k], b.__dict__[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b and repr(a) == repr(b), path


def _built_and_validated(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Manifest, Manifest]]:
    """Each manifest the reader built, beside `Manifest.model_validate` of the dict it was built from."""
    pairs: list[tuple[Manifest, Manifest]] = []
    build = _paxlst._manifest

    def both(m: dict[str, Any]) -> Manifest:
        header = m["header"]
        plain = copy.deepcopy({k: v for k, v in m.items() if k != "header"})
        built = build(m)
        pairs.append((built, Manifest.model_validate({"header": header, **plain})))
        return built

    monkeypatch.setattr(_paxlst, "_manifest", both)
    read_interchange(data)
    return pairs


@pytest.mark.parametrize("name", sorted(FILES))
def test_built_manifests_are_the_validated_ones_corpus(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for built, validated in _built_and_validated(FILES[name], monkeypatch):
        _same(built, validated)


@settings(max_examples=60, deadline=None)
@given(interchanges())
def test_built_manifests_are_the_validated_ones_generated(generated: Any) -> None:
    seps, manifests = generated
    data = write_paxlst(manifests, separators=seps)
    with pytest.MonkeyPatch.context() as mp:
        pairs = _built_and_validated(data, mp)
    assert len(pairs) == len(manifests)
    for built, validated in pairs:
        _same(built, validated)


def test_constructor_defaults_are_fresh_and_fields_set_is_what_was_given() -> None:
    new = constructor(Traveller)
    a, b = new({"role": "passenger", "party_function": "FL"}), new({"role": "crew", "party_function": "FM"})
    assert a.documents is not b.documents and a.references is not b.references
    assert a.model_fields_set == {"role", "party_function"}
    assert a.model_dump(exclude_unset=True) == {"role": "passenger", "party_function": "FL"}
    s = constructor(Stop)({"qualifier": "125", "airport": "LHR"})
    assert s == Stop.model_validate({"qualifier": "125", "airport": "LHR"})


def test_constructor_leaves_models_with_validators_to_pydantic() -> None:
    class Upper(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def up(cls, v: str) -> str:
            return v.upper()

    assert constructor(Upper)({"name": "x"}).name == "X"


# -- lexer ---------------------------------------------------------------------------------------------

def _lex_reference(text: str) -> list[list[list[str]]]:
    """Segments the way the lexer split them before sharing and the strip fast path (default UNA)."""
    term, elem, comp, rel, ws = "'", "+", ":", "?", " \r\n\t"
    body = text[9:]
    if "\n" in body:
        body = body.replace(term + "\r\n", term).replace(term + "\n", term)
    pieces = split_released(body, term, rel)
    if body[:1] in ws or any(term + c in body for c in ws):
        pieces = [p.lstrip(ws) for p in pieces]
    slow = _SlowSplitter(elem, comp, rel, _unescape_fn(rel).sub)
    segments = [slow(p) if rel in p else [e.split(comp) for e in p.split(elem)] for p in pieces if p]
    _check_tags(segments, [])
    return segments


_SEGMENT_TEXT = st.text(alphabet="AB1 +:?'", max_size=12)
_BREAK = st.sampled_from(["", "\n", "\r\n", "\n\n", " \n", "\n\t", "?\n", "\r"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["NAD", "LOC", "UNH", "XX"]), _SEGMENT_TEXT, _BREAK), max_size=8),
       st.sampled_from(["", "\n"]))
def test_lexer_segments_match_the_plain_split(segs: list[tuple[str, str, str]], after_una: str) -> None:
    text = "UNA:+.? '" + after_una + "".join(f"{tag}+{data}'{brk}" for tag, data, brk in segs)
    assert lex(text).segments == _lex_reference(text)


def test_equal_segments_share_their_lists_until_a_tag_is_repaired() -> None:
    text = "UNA:+.? 'UNH+1+PAXLST:D'\nLOC+178+SCL'\nLOC+178+SCL'\nUNT+4+1'\n"
    segments = lex(text).segments
    assert segments[1] is segments[2]
    repaired = lex(text.replace("LOC+", "LOC +"))  # each copy of a tag with a space is repaired and reported
    assert [f.rule for f in repaired.findings] == ["SYN-TAG-SPACE", "SYN-TAG-SPACE"]
    assert repaired.segments[1] == repaired.segments[2] == [["LOC"], ["178"], ["SCL"]]
    assert repaired.segments[1] is not repaired.segments[2]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=40),
       st.sampled_from(["[^A-Z0-9 .,\\-()/='+:?!\"%&*;<>'+:?\\r\\n\\t]", "[^\\x20-\\x7e'+:\\r\\n\\t]", None]))
def test_repertoire_check_by_deletion_matches_the_regular_expression(text: str, pattern: str | None) -> None:
    bad = re.compile(pattern) if pattern is not None else _CONTROL
    assert _clean(text, bad) == (bad.search(text) is None)


# -- dates, names --------------------------------------------------------------------------------------

def _resolve_past_reference(yy: int, month: int, day: int, reference: date) -> date | None:
    year = (reference.year // 100) * 100 + yy
    for candidate in (year, year - 100):
        try:
            d = date(candidate, month, day)
        except ValueError:
            continue
        if d <= reference:
            return d
    return None


@settings(max_examples=500)
@given(st.integers(0, 99), st.integers(0, 13), st.integers(0, 32), st.dates(date(1, 1, 1), date(9999, 12, 31)))
def test_resolve_past_matches_reference(yy: int, month: int, day: int, reference: date) -> None:
    assert resolve_past(yy, month, day, reference) == _resolve_past_reference(yy, month, day, reference)


@settings(max_examples=500)
@given(st.from_regex(r"\A[0-9]{6}\Z"), st.dates(date(1, 1, 1), date(9999, 12, 31)), st.booleans())
def test_yymmdd_from_one_int_matches_the_sliced_digits(value: str, reference: date, past: bool) -> None:
    assert to_date(value, None, reference, past=past) == to_date(value, "101", reference, past=past)


def _matching_key_reference(text: str) -> str:
    tokens = text.upper().encode("ascii").translate(_TO_SPACE).decode("ascii").split()
    return " ".join(sorted(t for t in tokens if t not in _PLACEHOLDERS))


@settings(max_examples=500)
@given(st.text(alphabet="abzAZ09 -'<.FNULX", max_size=20))
def test_matching_key_upper_cases_in_the_translation(text: str) -> None:
    assert matching_key(text) == _matching_key_reference(text)


# -- validation ----------------------------------------------------------------------------------------

_PLACES = st.sampled_from([None, "LHR", "JFK", "FRA", "QQQ", "lhr", ""])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PLACES, _PLACES, _PLACES), min_size=1, max_size=5), st.booleans())
def test_quiet_airports_skip_only_what_finds_nothing(places: list[tuple[str | None, ...]], routed: bool) -> None:
    from parsers._codelists import _airports
    from parsers.validate import _Emit

    profile = load_profile("baseline")
    stops = [{"qualifier": "125", "airport": "LHR"}, {"qualifier": "87", "airport": "JFK"}] if routed else []
    travellers = [{"role": "passenger", "party_function": "FL", "surname": "X", "segment_position": 10 + i,
                   "embarkation": e, "debarkation": d, "clearance": c} for i, (e, d, c) in enumerate(places)]
    m = Manifest.model_validate({"header": {"message_ref": "1", "message_type": "PAXLST"}, "document_code": "745",
                                 "legs": [{"transport_stage": "20", "stops": stops}], "travellers": travellers})
    airport_rules = {"REQ-EMBARKATION", "REQ-DEBARKATION", "COD-AIRPORT", "COD-AIRPORT-UNKNOWN",
                     "CON-ROUTE-EMBARK", "CON-ROUTE-DEBARK"}
    got = [f for f in validate_manifest(m, profile, today=date(2025, 3, 1)) if f.rule in airport_rules]
    expected: list[Any] = []
    sev = profile.severities(profile.claims_mig(m.header.association))
    emit = _Emit(sev, "1", expected)
    route = frozenset({"LHR", "JFK"}) if routed else frozenset()
    for t in m.travellers:
        _check_places(t, emit, t.segment_position, _airports(), route, sev["REQ-EMBARKATION"] is not None,
                      sev["REQ-DEBARKATION"] is not None)
    assert got == expected
