"""The syntax layer as a carrier's message meets it: UNA, charsets, envelopes, counts.

Strategy: one small valid interchange (BASE), varied one property at a time (separators,
layout, charset, envelope damage), checked through `read_interchange` for what a user sees:
the traveller read, and the finding with its rule, CONTRL code and segment position.
"""

from __future__ import annotations

import pytest

from parsers import read_interchange
from parsers.contrl import read_contrl, write_contrl
from parsers.models import Interchange, Severity

UNB = "UNB+UNOA:4+AIR1+GOV+250301:1200+REF1'"
BODY = [
    "UNH+M1+PAXLST:D:05B:UN:IATA'",
    "BGM+745'",
    "TDT+20+AA123+++AA'",
    "LOC+125+ATL'",
    "DTM+189:2503011540:201'",
    "LOC+87+JFK'",
    "DTM+232:2503011940:201'",
    "NAD+FL+++{name}'",
    "UNT+9+M1'",
]
UNZ = "UNZ+1+REF1'"


def base(name: str = "SMITH:JOHN", *, unb: str = UNB, unz: str = UNZ, sep: str = "") -> str:
    return sep.join([unb, *(s.format(name=name) for s in BODY), unz])


def errors(i: Interchange) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    for f in i.findings:
        if f.severity is Severity.ERROR:
            out.setdefault(f.rule, []).append(f.contrl_error)
    return out


def only_traveller_surname(i: Interchange) -> str | None:
    (m,) = i.manifests
    (t,) = m.travellers
    return t.surname


def test_base_message_is_clean() -> None:
    i = read_interchange(base())
    assert i.ok and only_traveller_surname(i) == "SMITH"
    assert i.manifests[0].travellers[0].given_names == ["JOHN"]


def test_una_star_dollar_as_in_gtas_airline2() -> None:
    text = "UNA:*.? $\r\n" + base("O?$NEIL?*SMITH:ANN", sep="\r\n").replace("+", "*").replace("'", "$")
    i = read_interchange(text)
    assert errors(i) == {}
    assert only_traveller_surname(i) == "O$NEIL*SMITH"
    assert i.header.separators == ":*.? $"


def test_type_b_header_is_stripped_and_una_drives_the_tokenizer() -> None:
    body = base("O?+BRIEN:SEAN", sep="\n").replace("?", ")").replace("+", "(").replace("'", "-")
    text = "QK LONPPXS\n.MUCKMTS 250521\nSTX\nUNA:(.) -\n" + body
    i = read_interchange(text)
    assert errors(i) == {}
    assert only_traveller_surname(i) == "O(BRIEN"
    assert any(f.rule == "ENV-TYPEB" for f in i.findings)
    assert not any(f.rule == "ENV-JUNK-BEFORE" for f in i.findings)


def test_unob_non_printing_separators_without_una() -> None:
    text = base("Smith:John", unb="UNB+UNOB:4+AIR1+GOV+250301:1200+REF1'")
    text = text.replace("'", "\x1c").replace("+", "\x1d").replace(":", "\x1f")
    i = read_interchange(text.encode("latin-1"))
    assert errors(i) == {}  # lower case is fine in UNOB
    assert only_traveller_surname(i) == "Smith"
    assert i.header.syntax_id == "UNOB"


def test_release_character_at_the_very_end_is_an_error() -> None:
    i = read_interchange(base()[:-1] + "?")
    assert 22 in errors(i).get("SYN-RELEASE", [])


def test_released_final_terminator_is_an_error() -> None:
    i = read_interchange(base()[:-1] + "?'")
    assert not i.ok
    assert "SYN-TRUNCATED" in errors(i) or "SYN-RELEASE" in errors(i)


def test_crlf_and_indentation_between_segments_are_dropped_spaces_inside_kept() -> None:
    compact = read_interchange(base("VAN DER BERG:ANNA MARIA"))
    spaced = read_interchange(base("VAN DER BERG:ANNA MARIA", sep="\r\n    "))
    assert spaced.ok and spaced.manifests == compact.manifests
    assert only_traveller_surname(spaced) == "VAN DER BERG"
    assert spaced.manifests[0].travellers[0].given_names == ["ANNA MARIA"]


def test_star_is_never_split_even_when_una_declares_it() -> None:
    text = "UNA:+.?*'" + base("SMITH*JONES:ANN", unb="UNB+UNOA:4+APIS*ABE+GOV+250301:1200+REF1'")
    i = read_interchange(text)
    assert i.ok
    assert i.header.sender == "APIS*ABE"
    assert only_traveller_surname(i) == "SMITH*JONES"


def test_unoa_lowercase_is_rejected_with_code_21_at_the_nad_position() -> None:
    i = read_interchange(base("Smith:JOHN"))
    (f,) = [f for f in i.findings if f.rule == "SYN-CHARSET"]
    assert (f.contrl_error, f.segment_position, f.segment_tag, f.message_ref) == (21, 8, "NAD", "M1")
    assert only_traveller_surname(i) == "Smith"  # read as sent, never upper-cased
    report = read_contrl(write_contrl(i))
    (ucs,) = report.messages[0].segments
    assert ucs.position == 8 and (21, 5, 1) in ucs.element_errors


@pytest.mark.parametrize(("syntax", "codec"), [("UNOC", "latin-1"), ("UNOW", "utf-8")])
def test_unoc_and_unow_names_are_decoded(syntax: str, codec: str) -> None:
    text = base("MÜLLER:JOSÉ", unb=f"UNB+{syntax}:4+AIR1+GOV+250301:1200+REF1'")
    i = read_interchange(text.encode(codec))
    assert errors(i) == {}
    assert only_traveller_surname(i) == "MÜLLER"
    assert i.manifests[0].travellers[0].given_names == ["JOSÉ"]


def test_unow_with_bytes_that_are_not_utf8_is_an_error() -> None:
    text = base("MÜLLER:JOSÉ", unb="UNB+UNOW:4+AIR1+GOV+250301:1200+REF1'")
    i = read_interchange(text.encode("latin-1"))
    assert 21 in errors(i).get("SYN-ENCODING", [])


@pytest.mark.parametrize("stamp", ["250301:1200", "20250301:1200"])
def test_six_and_eight_digit_unb_dates(stamp: str) -> None:
    i = read_interchange(base(unb=f"UNB+UNOA:4+AIR1+GOV+{stamp}+REF1'"))
    assert i.ok
    assert i.header.prepared is not None and i.header.prepared.isoformat() == "2025-03-01T12:00:00"


def test_bad_unb_date_is_reported() -> None:
    i = read_interchange(base(unb="UNB+UNOA:4+AIR1+GOV+2503:1200+REF1'"))
    assert errors(i).get("ENV-UNB-DATE") == [12]


def test_junk_after_unz_is_a_warning_only() -> None:
    i = read_interchange(base() + "NAD+FL+++EXTRA'")
    assert i.ok
    assert [f.severity for f in i.findings if f.rule == "ENV-JUNK-AFTER"] == [Severity.WARNING]
    assert only_traveller_surname(i) == "SMITH"


def test_truncated_inside_a_segment_is_an_error() -> None:
    text = base()
    i = read_interchange(text[: text.index("UNT") + 4])
    assert 13 in errors(i).get("SYN-TRUNCATED", [])
    assert "ENV-UNZ-MISSING" in errors(i)


def test_truncated_between_segments_misses_unz() -> None:
    text = base()
    i = read_interchange(text[: text.index("UNZ")])
    assert errors(i) == {"ENV-UNZ-MISSING": [13]}
    assert only_traveller_surname(i) == "SMITH"  # what arrived is still read


def test_fragment_without_unb_reads_the_body_and_reports_the_envelope() -> None:
    i = read_interchange("".join(s.format(name="SMITH:JOHN") for s in BODY))
    assert only_traveller_surname(i) == "SMITH"
    assert errors(i) == {"ENV-UNB-MISSING-ENVELOPE": [13]}
    assert i.header.sender is None


def _two_messages(unz_count: int) -> str:
    crew = [s.replace("M1", "M2").replace("745", "250").replace("NAD+FL", "NAD+FM") for s in BODY]
    return "".join([UNB, *(s.format(name="SMITH:JOHN") for s in BODY),
                    *(s.format(name="JONES:MARY") for s in crew), f"UNZ+{unz_count}+REF1'"])


def test_several_messages_in_one_interchange() -> None:
    i = read_interchange(_two_messages(2))
    assert i.ok
    assert [(m.header.message_ref, m.document_code, m.travellers[0].role) for m in i.manifests] == \
        [("M1", "745", "passenger"), ("M2", "250", "crew")]


@pytest.mark.parametrize(("text", "rule", "code", "position"), [
    (base().replace("UNT+9+M1", "UNT+8+M1"), "ENV-UNT-COUNT", 29, 9),
    (base().replace("UNT+9+M1", "UNT+9+M9"), "ENV-UNT-REF", 28, 9),
    (base(unz="UNZ+2+REF1'"), "ENV-UNZ-COUNT", 29, 11),
    (base(unz="UNZ+1+REF2'"), "ENV-UNZ-REF", 28, 11),
    (_two_messages(1), "ENV-UNZ-COUNT", 29, 20),
])
def test_wrong_counts_and_references(text: str, rule: str, code: int, position: int) -> None:
    i = read_interchange(text)
    (f,) = [f for f in i.findings if f.severity is Severity.ERROR]
    assert (f.rule, f.contrl_error, f.segment_position) == (rule, code, position)


@pytest.mark.parametrize(("une", "rule", "code"), [("UNE+2+G1'", "ENV-UNE-COUNT", 29),
                                                     ("UNE+1+G2'", "ENV-UNE-REF", 28)])
def test_wrong_group_count_and_reference(une: str, rule: str, code: int) -> None:
    text = "".join([UNB, "UNG+PAXLST+AIR1+GOV+250301:1200+G1+UN+D:05B'",
                    *(s.format(name="SMITH:JOHN") for s in BODY), une, UNZ])
    i = read_interchange(text)
    assert errors(i) == {rule: [code]}
