"""Long release-character runs and large elements read back exactly.

Strategy: the inputs that once made the reader quadratic (an element of escaped separators `?+`,
`?'`, `?:`, released releases `??`, runs of release characters of any parity, elements of
hundreds of kilobytes) are generated as *data*, escaped with the project's writer, and read back:
the values must come out exactly as written, under any legal UNA. The same data goes through
`write_paxlst` and `read_interchange` in a traveller's name, as a carrier would send it. How fast
this is measured in bench/bench_escapes.py, not here.
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from parsers import read_interchange, write_paxlst
from parsers._lexer import Separators, lex
from parsers._writer_util import SegmentWriter
from parsers.models import Severity
from tests.strategies import interchanges, sent_view, separators

MB = 1_000_000


@st.composite
def floods(draw: st.DrawFn, seps: Separators, max_repeat: int = 40_000) -> str:
    """A value made of chunks: plain text, long runs of one service character (as data, so the
    writer releases every one of them), runs mixing releases with separators, and large plain blocks."""
    rel = seps.release or "?"
    hard = [seps.element, seps.component, seps.terminator, rel]
    chunk = st.one_of(
        st.text(alphabet="AB1 -" + "".join(hard), max_size=8),
        st.tuples(st.sampled_from(hard), st.integers(1, max_repeat)).map(lambda t: t[0] * t[1]),
        st.tuples(st.sampled_from([rel + h for h in hard] + [h + rel for h in hard]),
                  st.integers(1, max_repeat // 2)).map(lambda t: t[0] * t[1]),
        st.integers(1, 200_000).map(lambda n: "Z" * n),
    )
    return "".join(draw(st.lists(chunk, min_size=1, max_size=6)))


def _segment(w: SegmentWriter, tag: str, elements: list[list[str]]) -> str:
    """One segment written as is (no trailing-empty trimming), every value released by the writer."""
    s = w.seps
    return tag + "".join(s.element + s.component.join(w.escape(c) for c in el) for el in elements) + s.terminator


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_released_runs_and_large_elements_read_back_exactly(data: st.DataObject) -> None:
    seps = data.draw(separators(allow_no_release=False))
    w = SegmentWriter(seps)
    segments = data.draw(st.lists(
        st.lists(st.lists(floods(seps) | st.text(alphabet="AB1", max_size=3), min_size=1, max_size=3),
                 min_size=1, max_size=4),
        min_size=1, max_size=4))
    text = seps.una() + "".join(_segment(w, "FTX", els) for els in segments)
    lexed = lex(text)
    assert lexed.segments == [[["FTX"], *els] for els in segments]
    assert not [f for f in lexed.findings if f.severity is Severity.ERROR]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_a_flooded_name_survives_the_writer_and_the_reader(data: st.DataObject) -> None:
    seps, sent = data.draw(interchanges().filter(lambda case: case[0].release is not None))
    flood = data.draw(floods(seps, max_repeat=20_000))
    first = sent[0]
    assume(bool(first.travellers))
    t = first.travellers[0]
    flooded = first.model_copy(update={"travellers": [t.model_copy(update={"surname": "O" + flood + "N"}),
                                                      *first.travellers[1:]]})
    got = read_interchange(write_paxlst([flooded, *sent[1:]], separators=seps))
    assert got.manifests[0].travellers[0].surname == "O" + flood + "N"
    assert [sent_view(m) for m in got.manifests] == [sent_view(m) for m in [flooded, *sent[1:]]]


def _nad(seps: Separators, surname_sent: str) -> bytes:
    """An interchange whose one traveller's surname element is `surname_sent`, already released."""
    body = ["UNB+UNOA:4+AIR1+GOV+250301:1200+REF1'", "UNH+M1+PAXLST:D:05B:UN:IATA'", "BGM+745'",
            "TDT+20+AA123+++AA'", "LOC+125+ATL'", "DTM+189:2503011540:201'", "LOC+87+JFK'",
            "DTM+232:2503011940:201'", f"NAD+FL+++{surname_sent}:JOHN'", "UNT+9+M1'", "UNZ+1+REF1'"]
    return (seps.una() + "".join(body)).encode("latin-1")


def test_the_reported_attack_inputs_read_back_exactly() -> None:
    """The elements of the report: 1.3 MB of `?+`, and the same for `?'`, `?:` and `??`."""
    seps = Separators()
    for sent, meant in (("?+", "+"), ("?'", "'"), ("?:", ":"), ("??", "?")):
        n = int(1.3 * MB) // 2
        [m] = read_interchange(_nad(seps, "A" + sent * n + "B")).manifests
        assert m.travellers[0].surname == "A" + meant * n + "B"
        assert m.travellers[0].given_names == ["JOHN"]


def test_release_runs_of_either_parity_end_where_they_should() -> None:
    """An even run releases releases (the separator after it is real); an odd run releases the separator."""
    seps = Separators()
    n = 300_001
    [even] = read_interchange(_nad(seps, "?" * (2 * n) + ":X")).manifests
    assert even.travellers[0].surname == "?" * n and even.travellers[0].given_names == ["X", "JOHN"]
    [odd] = read_interchange(_nad(seps, "?" * (2 * n) + "?:X")).manifests
    assert odd.travellers[0].surname == "?" * n + ":X" and odd.travellers[0].given_names == ["JOHN"]


def test_a_huge_teletype_head_is_still_recognised() -> None:
    """A Type-B header padded with 200,000 spaces is stripped as Type-B, not taken for junk."""
    text = "QU" + " " * 200_000 + "\n.HDQRMXH 011200\n" + _nad(Separators(), "SMITH").decode()
    i = read_interchange(text)
    assert [f.rule for f in i.findings] == ["ENV-TYPEB"]
    assert i.manifests[0].travellers[0].surname == "SMITH"


def test_lines_without_terminator_still_get_their_hint() -> None:
    """Tens of thousands of lines ending in different characters, then a pattern: the hint stays right."""
    lines = [f"SEG+{i}{chr(0x100 + i)}" for i in range(30_000)] + ["NAD+X$"] * 200_000
    text = "UNB+UNOW:4+A+B+250301:1200+R$\n" + "\n".join(lines)
    [f] = [f for f in lex(text.encode()).findings if f.rule == "SYN-SEPARATORS"]
    assert f.value == "$"


def test_a_release_before_nothing_is_kept_and_reported() -> None:
    lexed = lex("UNA:+.? 'FTX+A'FTX+" + "??" * 100 + "?")
    assert lexed.segments == [[["FTX"], ["A"]], [["FTX"], ["?" * 100 + "?"]]]
    assert {f.rule for f in lexed.findings if f.severity is Severity.ERROR} == {"SYN-RELEASE", "SYN-TRUNCATED"}
