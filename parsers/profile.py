"""Country profiles: what a receiving state requires, kept as TOML data files, not code branches.

Strategy: a profile file is plain TOML (stdlib tomllib); `extends` merges a parent's tables key by
key; pydantic checks the merged result once; every mistake becomes a `ProfileError` naming the file,
the line where we can find it, and what is wrong. The loaded profile is frozen and precomputes the
severity of every rule, so validation only does dictionary and set look-ups.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .models import Severity
from .rules import REQUIRED_FIELD_RULES, RULES

PROFILE_DIR = Path(__file__).with_name("profiles")

SeveritySetting = Literal["error", "warning", "info", "off"]

# MIG code lists (brief §2.3); a profile replaces any of them with its own list. Entries the brief
# marks [I] (seen in implementations) or [U] (unverified) are noted: verify with the national MIG.
MIG_DOCUMENT_CODES = frozenset({"745", "250", "266", "336", "655"})  # UN 1001 confirms the meanings
MIG_DOCUMENT_IDENTIFIERS = frozenset({  # [I] GTAS enums and astra; CI/DC from astra's UK profile
    "CP", "XR", "RP", "CL", "CLOB", "CLNB", "XF", "CF", "C", "CC", "B", "BC", "A", "D", "E", "EC", "F", "FC",
    "G", "H", "I", "CI", "DC",
})
MIG_PARTY_FUNCTIONS = frozenset({"FL", "FM", "DDU", "DDT", "MS", "ZZZ", "COT"})  # COT: MIG meaning [U]
MIG_TRANSPORT_STAGES = frozenset({"20", "34"})  # 34 overflight (US)
MIG_LEG_LOCATIONS = frozenset({"125", "87", "92", "130", "22", "188", "172"})  # 188/172: US master crew list
MIG_REFERENCES = frozenset({"AVF", "ABO", "SEA", "AEA", "CR", "YZY", "ZZZ"})  # YZY: China iAPI ticket [I]
MIG_DOCUMENT_TYPES = frozenset({"P", "V", "I", "IP", "AC", "A", "C", "F", "T", "M", "L"})  # [I]; M [U]
MIG_GENDERS = frozenset({"M", "F", "U", "X"})  # [I]; X in newer profiles (ICAO 9303 "unspecified")

_TABLES = ("required", "severity", "iapi")  # merged key by key under `extends`; everything else is replaced
_NOT_INHERITED = ("name", "description", "extends")


class ProfileError(ValueError):
    """An unusable profile file: where it is and what is wrong, ready to show to whoever edits it."""

    def __init__(self, path: Path | str | None, problem: str, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.problem = problem
        where = self.path or "<profile>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {problem}")


class IapiStatus(BaseModel):
    """One answer of the interactive API: the ERC code and the FTX text a check-in agent reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[0-9A-Z]{1,3}$")
    text: str = Field(min_length=1, max_length=70, pattern=r"^[0-9A-Z .,()/=+:?'-]+$")

    def pair(self) -> tuple[str, str]:
        return self.code, self.text


class IapiPolicy(BaseModel):
    """How a state answers iAPI requests: its status codes and texts (defaults: China NIA values as the
    astra departure-control system implements them [I]), and what it answers when screening cannot
    finish within `answer_budget_ms` of a request's arrival (carriers wait about 4 s, then resend)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: IapiStatus = IapiStatus(code="0Z", text="OK TO BOARD")
    no_board: IapiStatus = IapiStatus(code="1Z", text="DO NOT BOARD")
    # A hit awaits an officer's review (PNR Directive art. 6(5): a person reviews a hit before it has effect).
    advisory: IapiStatus = IapiStatus(code="2Z", text="ADVISORY - CONTACT AUTHORITY")
    insufficient: IapiStatus = IapiStatus(code="4Z", text="INSUFFICIENT DATA - RESEND")
    rejected: IapiStatus = IapiStatus(code="1", text="REQUEST NOT PROCESSED - CORRECT AND RESEND")  # header level
    fallback: IapiStatus = IapiStatus(code="2Z", text="NO ANSWER IN TIME - CONTACT AUTHORITY")
    answer_budget_ms: int = Field(default=2000, ge=50, le=60_000)
    fallback_may_board: bool = False

    @model_validator(mode="after")
    def _fallback_never_boards(self) -> IapiPolicy:
        if self.fallback.code == self.ok.code and not self.fallback_may_board:
            raise ValueError(f"fallback {self.fallback.code} is the OK status: travellers nobody screened would "
                             "board; set fallback_may_board = true if that is the state's rule")
        return self


class Profile(BaseModel):
    """What one receiving state (or the WCO/IATA/ICAO baseline) requires of a PAXLST.

    Code lists default to the MIG lists; `required` maps traveller fields to a severity;
    `severity` re-grades any rule in the catalogue or turns it off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    country: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    extends: str | None = None
    source: str | None = None  # file the profile was read from

    accept_syntax_ids: frozenset[str] = frozenset()
    mig_associations: frozenset[str] = frozenset({"IATA"})
    max_travellers: int | None = Field(default=None, ge=1)
    # Interactive API (iAPI): the government answers every request with a CUSRES status per traveller.
    interactive: bool = False
    iapi: IapiPolicy = IapiPolicy()

    document_codes: frozenset[str] = MIG_DOCUMENT_CODES
    document_identifiers: frozenset[str] = MIG_DOCUMENT_IDENTIFIERS
    party_functions: frozenset[str] = MIG_PARTY_FUNCTIONS
    transport_stages: frozenset[str] = MIG_TRANSPORT_STAGES
    leg_location_qualifiers: frozenset[str] = MIG_LEG_LOCATIONS
    reference_qualifiers: frozenset[str] = MIG_REFERENCES
    document_types: frozenset[str] = MIG_DOCUMENT_TYPES
    visa_types: frozenset[str] = frozenset({"V"})
    genders: frozenset[str] = MIG_GENDERS

    name_placeholders: frozenset[str] = frozenset({"FNU", "LNU"})
    accept_name_placeholders: bool = False
    expiry_tolerance_days: int = Field(default=0, ge=0)
    max_age_years: int = Field(default=120, ge=1)
    flight_date_window: tuple[int, int] | None = None  # days before/after the validation date; None = off

    required: dict[str, SeveritySetting] = {}
    severity: dict[str, SeveritySetting] = {}

    @field_validator("required")
    @classmethod
    def _known_fields(cls, v: dict[str, SeveritySetting]) -> dict[str, SeveritySetting]:
        unknown = sorted(set(v) - set(REQUIRED_FIELD_RULES))
        if unknown:
            raise ValueError(f"unknown traveller field(s) {', '.join(unknown)}; known: "
                             f"{', '.join(REQUIRED_FIELD_RULES)}")
        return v

    @field_validator("severity")
    @classmethod
    def _known_rules(cls, v: dict[str, SeveritySetting]) -> dict[str, SeveritySetting]:
        unknown = sorted(set(v) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule id(s) {', '.join(unknown)} "
                             "(see the catalogue in docs/profiles.md)")
        by_rule = {rule: name for name, rule in REQUIRED_FIELD_RULES.items()}
        clash = sorted(set(v) & set(by_rule))
        if clash:
            raise ValueError(f"rule(s) {', '.join(clash)} belong to traveller fields; set them in [required] "
                             f"({', '.join(by_rule[c] for c in clash)})")
        return v

    @model_validator(mode="after")
    def _window_order(self) -> Profile:
        w = self.flight_date_window
        if w is not None and w[0] > w[1]:
            raise ValueError("flight_date_window must be [days before, days after] with before <= after")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Profile:
        """A copy with changes; the precomputed severities are recomputed for it, not copied."""
        copy = super().model_copy(update=update, deep=deep)
        for cached in _CACHED:
            copy.__dict__.pop(cached, None)
        return copy

    @cached_property
    def overrides(self) -> dict[str, Severity | None]:
        """Rules this profile grades explicitly ([required] and [severity]); None means off."""
        out: dict[str, Severity | None] = {}
        for fld, setting in self.required.items():
            out[REQUIRED_FIELD_RULES[fld]] = _sev(setting)
        for rule, setting in self.severity.items():
            out[rule] = _sev(setting)
        return out

    @cached_property
    def _severities(self) -> tuple[dict[str, Severity | None], dict[str, Severity | None]]:
        required_rules = set(REQUIRED_FIELD_RULES.values())
        full: dict[str, Severity | None] = {}
        for rid, info in RULES.items():
            # A REQ-* rule fires only for fields the profile lists; reader rules keep their default.
            full[rid] = None if rid in required_rules and rid.startswith("REQ-") else info.severity
        full.update(self.overrides)
        capped = {rid: (Severity.WARNING if s is Severity.ERROR and RULES[rid].mig else s)
                  for rid, s in full.items()}
        return full, capped

    def severities(self, mig: bool = True) -> dict[str, Severity | None]:
        """Effective severity of every rule (None = off). `mig=False` for messages that do not claim
        the MIG: their MIG-only findings are capped at warning."""
        return self._severities[0] if mig else self._severities[1]

    def claims_mig(self, association: str | None) -> bool:
        """Whether a UNH association code (S009 0057) says 'WCO/IATA MIG message'."""
        return association in self.mig_associations


_CACHED = ("overrides", "_severities")


def _sev(setting: SeveritySetting) -> Severity | None:
    return None if setting == "off" else Severity(setting)


# ---- loading -------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(path, f"cannot read: {exc}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        raise ProfileError(path, f"not valid TOML: {exc}", int(m.group(1)) if m else None) from None


def _line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """The line that sets the key at `loc` (top-level key, or table then key), if we can find it."""
    if not loc:
        return None
    table: str | None = None
    key = str(loc[0])
    if len(loc) > 1 and loc[0] in _TABLES:
        table, key = str(loc[0]), str(loc[1])
    current: str | None = None
    key_re = re.compile(rf'^\s*(?:"{re.escape(key)}"|\'{re.escape(key)}\'|{re.escape(key)})\s*=')
    for n, line in enumerate(text.splitlines(), 1):
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            current = header.group(1).strip()
            if table is not None and current == table and key == table:
                return n
            continue
        if current == table and key_re.match(line):
            return n
    if table is not None:  # the table itself
        for n, line in enumerate(text.splitlines(), 1):
            if re.match(rf"^\s*\[{re.escape(table)}\]", line):
                return n
    return None


def _find_parent(name: str, child: Path) -> Path:
    for d in (child.parent, PROFILE_DIR):
        p = d / f"{name}.toml"
        if p.is_file():
            return p
    raise ProfileError(child, f"extends unknown profile {name!r} "
                              f"(looked in {child.parent} and {PROFILE_DIR})")


def _load_raw(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], list[tuple[Path, str]]]:
    """The merged raw tables of a profile and its ancestors, plus (file, text) for error lines."""
    data, text = _read_toml(path)
    files = [(path, text)]
    parent_name = data.get("extends")
    if parent_name is None:
        return data, files
    if not isinstance(parent_name, str):
        raise ProfileError(path, "extends must be a profile name (a string)", _line_of(text, ("extends",)))
    parent_path = _find_parent(parent_name, path)
    if parent_path.resolve() in chain:
        names = " -> ".join(p.stem for p in (*chain, parent_path))
        raise ProfileError(path, f"extends forms a cycle: {names}", _line_of(text, ("extends",)))
    base, parent_files = _load_raw(parent_path, (*chain, parent_path.resolve()))
    merged = {k: v for k, v in base.items() if k not in _NOT_INHERITED}
    for k, v in data.items():
        if k in _TABLES and isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    return merged, files + parent_files


def load_profile_file(path: Path | str) -> Profile:
    """Read one profile file (resolving `extends`), or raise ProfileError."""
    path = Path(path)
    data, files = _load_raw(path, (path.resolve(),))
    data.setdefault("name", path.stem)
    data["source"] = str(path)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        if len(loc) == 1 and loc[0] in _TABLES and isinstance(data.get(str(loc[0])), dict):
            # A table-level check (unknown rule id, unknown field): point at the first key it names.
            msg = str(err["msg"]).split("; known:")[0]
            named = [k for k in data[str(loc[0])] if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", msg)]
            if named:
                loc = (loc[0], named[0])
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            msg = f"unknown key (known: {', '.join(k for k in Profile.model_fields if k != 'source')})"
        problem = f"{'.'.join(str(x) for x in loc) or 'profile'}: {msg}"
        if len(exc.errors()) > 1:
            problem += f" (and {len(exc.errors()) - 1} more problem(s))"
        for f, text in files:  # the child first: that is where the key most likely is
            line = _line_of(text, loc)
            if line is not None:
                raise ProfileError(f, problem, line) from None
        raise ProfileError(path, problem) from None


@lru_cache(maxsize=64)
def _builtin(name: str) -> Profile:
    return load_profile_file(PROFILE_DIR / f"{name}.toml")


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name ('baseline', 'us', 'uk', 'cn-iapi') or any profile file by path."""
    if isinstance(name_or_path, Path) or name_or_path.endswith(".toml") or "/" in name_or_path:
        return load_profile_file(name_or_path)
    if not (PROFILE_DIR / f"{name_or_path}.toml").is_file():
        known = ", ".join(p.stem for p in sorted(PROFILE_DIR.glob("*.toml")))
        raise ProfileError(None, f"no profile named {name_or_path!r} (shipped: {known})")
    return _builtin(name_or_path)


def list_profiles() -> list[Profile]:
    """Every shipped profile, by name."""
    return [_builtin(p.stem) for p in sorted(PROFILE_DIR.glob("*.toml"))]
