"""Country profiles as data files: the shipped ones load, inherit, and a broken file says where and why.

Strategy: write small TOML files into tmp_path and check the ProfileError a national IT team would
read (file, line, problem); check the shipped profiles differ where the brief says they do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.models import Severity
from parsers.profile import PROFILE_DIR, Profile, ProfileError, list_profiles, load_profile
from parsers.rules import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_four_profiles_ship_and_list_by_name() -> None:
    names = [p.name for p in list_profiles()]
    assert names == sorted(names)
    assert {"baseline", "us", "uk", "cn-iapi"} <= set(names)
    for p in list_profiles():
        assert p.description and p.source and Path(p.source).parent == PROFILE_DIR


def test_mandatory_fields_differ_between_strict_and_tolerant_states() -> None:
    us, uk, base = load_profile("us"), load_profile("uk"), load_profile("baseline")
    assert us.severities()["REQ-DOC-EXPIRY"] is Severity.ERROR
    assert uk.severities()["REQ-DOC-EXPIRY"] is None
    assert base.severities()["REQ-DOC-EXPIRY"] is Severity.WARNING
    for rule in ("REQ-DOC-NUMBER", "REQ-DOC-ISSUING-STATE", "REQ-NATIONALITY", "REQ-DOB", "REQ-GENDER",
                 "DAT-DOC-TYPE-MISSING"):
        assert us.severities()[rule] is Severity.ERROR, rule
    assert base.severities()["DAT-NAME-MISSING"] is Severity.ERROR
    assert base.severities()["REQ-RFF-AVF"] is None  # a field no profile lists is not required


def test_china_iapi_profile_as_astra_implements_it() -> None:
    cn = load_profile("cn-iapi")
    assert cn.extends == "baseline" and cn.country == "CHN"
    assert "SIRE" in cn.accept_syntax_ids and cn.max_travellers == 10 and cn.accept_name_placeholders
    assert cn.severities()["REQ-RFF-AVF"] is Severity.ERROR
    assert cn.severities()["REQ-RFF-ABO"] is Severity.ERROR


def test_a_child_inherits_what_it_does_not_set(tmp_path: Path) -> None:
    p = write(tmp_path, "de", 'extends = "baseline"\ncountry = "DEU"\n[required]\ndoc_expiry = "error"\n'
              '[severity]\n"CON-ROUTE-EMBARK" = "off"\n')
    de = load_profile(p)
    assert de.name == "de" and de.country == "DEU"
    assert de.severities()["REQ-DOC-EXPIRY"] is Severity.ERROR
    assert de.severities()["DAT-NAME-MISSING"] is Severity.ERROR  # from the baseline's [required]
    assert de.severities()["REQ-GIVEN-NAMES"] is Severity.WARNING
    assert de.severities()["CON-ROUTE-EMBARK"] is None
    assert de.severities()["DAT-DOC-EXPIRED"] is Severity.WARNING  # the baseline's [severity]


def test_a_child_may_extend_a_sibling_file(tmp_path: Path) -> None:
    write(tmp_path, "region", 'extends = "us"\nmax_travellers = 50\n')
    child = load_profile(write(tmp_path, "state", 'extends = "region"\n'))
    assert child.max_travellers == 50 and child.severities()["REQ-DOC-EXPIRY"] is Severity.ERROR


def test_messages_without_the_mig_association_cap_mig_rules_at_warning() -> None:
    base = load_profile("baseline")
    assert base.claims_mig("IATA") and not base.claims_mig(None)
    assert base.severities(mig=False)["COD-GENDER"] is Severity.WARNING
    assert base.severities(mig=False)["DAT-NAME-MISSING"] is Severity.ERROR  # not a MIG-only rule
    assert load_profile("us").claims_mig("CBP")


@pytest.mark.parametrize(("text", "line", "words"), [
    ('name = "x"\nmax_travellers = \n', 2, "not valid TOML"),
    ('extends = "baseline"\n\n[severity]\n"NO-SUCH-RULE" = "error"\n', 4, "unknown rule id"),
    ('[required]\nsurname = "error"\nshoe_size = "error"\n', 3, "unknown traveller field"),
    ('[required]\nsurname = "fatal"\n', 2, "surname"),
    ('name = "x"\nmax_travelers = 10\n', 2, "max_travelers"),
    ('max_travellers = 0\n', 1, "max_travellers"),
    ('[severity]\n"REQ-DOC-EXPIRY" = "error"\n', 2, "[required]"),
    ('flight_date_window = [3, -2]\n', None, "flight_date_window"),
])
def test_a_broken_profile_names_file_line_and_problem(tmp_path: Path, text: str, line: int | None,
                                                      words: str) -> None:
    p = write(tmp_path, "broken", text)
    with pytest.raises(ProfileError) as exc:
        load_profile(p)
    err = exc.value
    assert err.path == str(p)
    assert err.line == line
    assert words in str(err)
    assert str(p) in str(err)


def test_extends_errors_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="unknown profile 'atlantis'"):
        load_profile(write(tmp_path, "a", 'extends = "atlantis"\n'))
    write(tmp_path, "b", 'extends = "c"\n')
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(write(tmp_path, "c", 'extends = "b"\n'))


def test_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="baseline") as exc:
        load_profile("atlantis")
    assert "atlantis" in str(exc.value)


def test_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="file not found"):
        load_profile(tmp_path / "nope.toml")


def test_profiles_are_frozen_and_cached() -> None:
    p = load_profile("baseline")
    assert load_profile("baseline") is p
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError on frozen models
        p.max_travellers = 3  # type: ignore[misc]


def test_a_profile_can_be_built_in_code_with_mig_defaults() -> None:
    p = Profile(name="minimal")
    assert "745" in p.document_codes and "P" in p.document_types and "X" in p.genders
    assert p.severities()["DAT-NAME-MISSING"] is Severity.ERROR


def test_the_docs_list_every_rule_and_every_profile_key() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rid in RULES:
        assert f"`{rid}`" in text, rid
    for key in Profile.model_fields:
        if key != "source":
            assert f"`{key}`" in text, key


def test_the_docs_catalogue_table_is_generated_from_the_catalogue() -> None:
    from parsers.rules import catalogue_markdown

    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- catalogue:start -->\n", 1)[1].split("\n<!-- catalogue:end -->", 1)[0]
    assert table == catalogue_markdown(), "regenerate the table in docs/profiles.md (see its header)"


def test_a_changed_copy_of_a_profile_grades_by_its_own_tables() -> None:
    base = load_profile("baseline")
    assert base.severities()["COD-RFF"] is Severity.WARNING
    quiet = base.model_copy(update={"severity": {"COD-RFF": "off"}})
    assert quiet.severities()["COD-RFF"] is None
    assert base.severities()["COD-RFF"] is Severity.WARNING
