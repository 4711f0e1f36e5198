"""Typed shapes of the console's JSON API (and of what the pages render): OpenAPI comes from these.

Strategy: one pydantic model per thing a page shows. Minimised and full traveller views are
separate models, so a minimised response cannot carry a name by accident.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, Field

Decision = Literal["confirm", "dismiss", "escalate", "approve", "reject"]
# Ids are 64-bit in the store: a larger number names no row (404/422, never an overflow in the driver).
MAX_ID = 2**63 - 1
HitId = Annotated[int, Path(ge=1, le=MAX_ID, description="a hit id")]
UploadId = Annotated[int, Path(ge=1, le=MAX_ID, description="a watchlist upload id")]
RuleSetId = Annotated[int, Path(ge=1, le=MAX_ID, description="a rule set version id")]


class TimePoint(BaseModel):
    """One instant shown twice: at the airport it concerns (local) and in UTC."""

    utc: datetime | None = None
    local: datetime | None = Field(default=None, description="wall-clock time at `airport` (no offset)")
    airport: str | None = None
    tz: str | None = Field(default=None, description="IANA zone of the airport")
    text: str = Field(default="", description="both, ready to show: '2025-03-01 15:30 JFK · 20:30 UTC'")


class AlertRow(BaseModel):
    hit_id: int
    status: str
    severity: Literal["high", "medium", "low"]
    score: float
    threshold: float | None = None
    list: str
    entry_id: str
    category: str | None = None
    traveller_ref: str
    surname: str | None = None
    given_names: str | None = None
    nationality: str | None = None
    date_of_birth: str | None = None
    role: str
    manifest_uid: str
    flight_key: str
    flight_id: str | None = None
    route: str = ""
    arrival: TimePoint
    arrives_in: str = Field(default="", description="from the scheduled arrival (UTC) as of the answer: "
                            "'arrives in 2 h 10 min' or 'landed 35 min ago'")
    received: TimePoint
    entry_removed_at: TimePoint | None = Field(default=None, description="when the entry left its list; the hit "
                                               "stays open and is decided as usual")
    rescreen_run: int | None = Field(default=None, description="the re-screen run that raised this hit after a "
                                     "list change (None: raised as the manifest arrived)")


class AlertQueue(BaseModel):
    alerts: list[AlertRow]
    open: int
    escalated: int
    pending: int = Field(default=0, description="dismissals of high-severity hits waiting for a second person")
    decided: int = Field(default=0, description="hits confirmed or dismissed")
    counts: dict[str, int] = Field(default_factory=dict, description="hits per filter: waiting (open, escalated "
                                   "and awaiting approval), open, escalated, decided, all")
    show: str = Field(default="waiting", description="the filter these alerts were chosen by")
    generated: TimePoint


class FindingNote(BaseModel):
    """A finding about a list, in an officer's words; the rule id and the technical message in `detail`."""

    rule: str | None = None
    severity: Literal["error", "warning", "note"]
    summary: str
    detail: str


class FlightRow(BaseModel):
    manifest_uid: str
    flight_key: str
    flight_id: str | None = None
    route: str = ""
    document: str = Field(description="passengers (745) or crew (250) list")
    version: int
    complete: bool
    departure: TimePoint
    arrival: TimePoint
    arrives_in: str = ""
    passengers: int
    crew: int
    declared_passengers: int | None = None
    declared_crew: int | None = None
    hits_open: int = 0
    hits_total: int = 0
    findings: list[str] = Field(default=[], description="rule id and message of each finding")
    notes: list[FindingNote] = []
    findings_summary: str = Field(default="", description="'1 error · 2 notes': how many of each weight")


class TravellerMinimal(BaseModel):
    """What the default manifest view shows: enough to count and find, not to identify."""

    ref: str
    position: int
    role: str
    initials: str
    nationality: str | None = None
    hit_count: int = 0


class TravellerFull(TravellerMinimal):
    surname: str | None = None
    given_names: str | None = None
    date_of_birth: str | None = None
    gender: str | None = None
    doc_type: str | None = None
    doc_number: str | None = None
    doc_issuing_state: str | None = None


class ManifestView(BaseModel):
    flight: FlightRow
    full: bool
    travellers: list[TravellerMinimal] | list[TravellerFull]


class FullViewRequest(BaseModel):
    reason: str = Field(max_length=1000, description="why the identifying data is needed (audited): at least "
                        "20 characters and 3 different words, not filler")


class Feature(BaseModel):
    feature: str
    label: str = Field(default="", description="the feature in words ('date of birth' for date_of_birth)")
    outcome: str
    contribution: float
    detail: str


class EntryView(BaseModel):
    """The watchlist entry as listed, shown beside the traveller."""

    list: str
    id: str
    category: str
    names: builtins.list[str]
    dates_of_birth: builtins.list[str]
    nationalities: builtins.list[str]
    gender: str | None = None
    documents: builtins.list[str]
    source_ref: str | None = Field(default=None, description="the source's own reference (e.g. the UN number)")
    notes: builtins.list[str] = Field(default_factory=builtins.list, description="what the list notes on the "
                                      "entry's documents and names")
    programmes: builtins.list[str] = Field(default_factory=builtins.list, description="the sanctions programmes or "
                                           "regimes the entry is listed under; empty when the list gives none")
    reason: str | None = Field(default=None, description="why the entry is listed, in the list's words (UN comments, "
                               "OFAC remarks, UK statement of reasons); None when the list gives none")
    listed_on: str | None = Field(default=None, description="the date of listing or designation (YYYY, YYYY-MM or "
                                  "YYYY-MM-DD); None when the list gives none")
    list_version: str | None = None
    list_loaded: str | None = Field(default=None, description="when the console loaded this version of the list")


class DecisionRow(BaseModel):
    decision: str
    comment: str
    decided_by: str
    role: str
    decided_at: TimePoint


class RuleOrigin(BaseModel):
    """The targeting rule that raised a hit, and the rule set version in force when it was raised."""

    rule_set: str
    rule: str
    version: int | None = Field(default=None, description="None: not a stored version (a configured rule "
                                "file, API_ENGINE_RULES)")
    rule_set_id: int | None = None
    owner: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None


class HitDetail(BaseModel):
    title: str = Field(default="", description="'High hit on UN list · XX123 LHR → JFK'")
    alert: AlertRow
    traveller: TravellerFull
    explanation: list[Feature]
    entry: EntryView | None = Field(default=None, description="None when the list is not loaded in the console")
    decisions: list[DecisionRow]
    allowed: list[str] = Field(description="decisions the caller may take now")
    clearance: str | None = Field(default=None, description="the traveller's clearance for this entry: pending "
                                  "(not in force until a second person approves), approved or rejected")
    iapi: IapiAnswer | None = Field(default=None, description="the traveller's iAPI answer and any change of it "
                                    "(CUSRES 132) with the carrier's acknowledgement (CUSRES 312)")
    rule: RuleOrigin | None = Field(default=None, description="set when a targeting rule raised the hit")


class HitSummary(BaseModel):
    """A hit as the minimised traveller view lists it: no name, no date of birth."""

    hit_id: int
    status: str
    severity: Literal["high", "medium", "low"]
    score: float
    list: str
    entry_id: str


class TravellerSummary(BaseModel):
    """The traveller view without a reason: enough to find him, not to identify him."""

    traveller: TravellerMinimal
    flight: FlightRow
    hits: builtins.list[HitSummary]
    iapi: IapiAnswer | None = None  # the board/no-board answer is not identity data


class IapiAnswer(BaseModel):
    """The board/no-board answer given to the carrier for this traveller (interactive API), and what followed."""

    status: str = Field(description="ERC: 0Z board, 1Z no board, 2Z advisory, 4Z insufficient data")
    text: str
    answers: int = Field(description="how often it was answered (a changed request, CP, is answered again)")
    answered_at: TimePoint
    state: str = Field(description="answered | changed | boarded | offloaded | cancelled")
    state_label: str
    state_at: TimePoint
    changed_by: str | None = Field(default=None, description="the officer whose decision changed the answer")
    changed_at: TimePoint | None = None
    change: str | None = Field(default=None, description="the government-initiated change (CUSRES 132): its "
                               "reference and whether the carrier acknowledged it (CUSRES 312)")


class TravellerDetail(BaseModel):
    """The identifying view: only with a reason, audited."""

    traveller: TravellerFull
    flight: FlightRow
    hits: builtins.list[AlertRow]
    iapi: IapiAnswer | None = None


class DecisionRequest(BaseModel):
    decision: Decision
    comment: str = Field(min_length=3, max_length=2000, description="required: why (audited)")


class DecisionResult(BaseModel):
    hit_id: int
    status: str
    allowlisted: bool = Field(description="a clearance for this traveller and entry is in force (approved)")
    clearance: str | None = Field(default=None, description="pending | approved | rejected, if one was proposed")
    awaiting_approval: bool = Field(default=False, description="a second person (a supervisor) must approve")


class WatchlistRow(BaseModel):
    name: str
    version: str
    source_format: str
    origin: str
    entries: int
    rejected: int
    loaded_at: TimePoint
    uploaded_by: str | None = None


class UploadResult(BaseModel):
    """What an upload gave: shown to the uploader and returned by the JSON API."""

    accepted: bool
    list_name: str
    version: str
    source_format: str
    entries: int
    rejected: list[dict[str, str]]
    added: int = 0
    removed: int = 0
    changed: int = 0
    previous_version: str | None = None
    problem: str | None = None
    upload_id: int | None = None
    configured: bool = Field(default=False, description="a list the settings configure (API_ENGINE_WATCHLISTS)")
    awaiting_confirmation: bool = Field(default=False, description="names a configured list: installed only when "
                                        "a supervisor confirms the replacement after reading the diff")
    confirmed_by: str | None = None


class ListStateRow(BaseModel):
    """A configured list as the service last checked it; `error` while its file cannot be loaded."""

    list_name: str
    version: str | None = None
    entries: int | None = None
    digest: str = ""  # the first 12 characters: enough to tell versions apart on a screen
    checked_at: TimePoint
    error: str | None = None
    error_at: TimePoint | None = None


class ListChangeRow(BaseModel):
    installed_at: TimePoint
    list_name: str
    version: str
    added: int
    removed: int
    changed: int
    trigger: str


class RescreenRunRow(BaseModel):
    started_at: TimePoint
    trigger: str
    list_name: str
    versions: str  # "from → to", or "whole list → to" when screened against every entry
    entries: int
    travellers: int
    new_hits: int
    flagged: int
    status: str
    duration: str


class LiveLists(BaseModel):
    """What the watchlists page shows of the running service's lists beside the console's own copy."""

    states: list[ListStateRow] = []
    changes: list[ListChangeRow] = []
    runs: list[RescreenRunRow] = []


class WatchlistsPage(BaseModel):
    lists: list[WatchlistRow]
    problems: list[str]
    uploads: list[dict[str, object]]
    live: LiveLists = Field(default_factory=LiveLists, description="the running service's lists: in force, "
                            "recent changes, re-screen runs")


class RetentionRuleRow(BaseModel):
    """One rule of the retention policy in force, in words."""

    category: str
    lane: str
    clock: str
    depersonalise_after: str | None = None
    delete_after: str | None = None
    source: str = ""


class RetentionRunRow(BaseModel):
    at: str
    actor: str
    dry_run: bool
    counts: dict[str, int]


class RetentionBacklogRow(BaseModel):
    category: str
    lane: str
    depersonalised: int
    deleted: int


class RetentionStatus(BaseModel):
    """The policy in force, the last runs and what falls due in the next `horizon_hours`."""

    policy_file: str
    rules: list[RetentionRuleRow]
    runs: list[RetentionRunRow]
    backlog: list[RetentionBacklogRow]
    horizon_hours: int
    as_of: TimePoint


class AuditPage(BaseModel):
    available: bool
    verification: dict[str, object] | None = None
    recent: list[dict[str, object]] = []
    purges: list[dict[str, object]] = []
    retention: RetentionStatus | None = None
    retention_note: str = ""


class UserRow(BaseModel):
    name: str
    role: str
    identity_provider: str
    active: bool


class NewUser(BaseModel):
    name: str
    role: str
    password: str = Field(min_length=1, max_length=1024)  # the policy (users.check_password) says why a short one fails


class Me(BaseModel):
    name: str
    role: str
    csrf_token: str


# ---- targeting rules ------------------------------------------------------------------------------------------

RuleAction = Literal["approve", "reject", "retire", "dry_run"]


class RuleSetRow(BaseModel):
    """One version of a rule set, as the rules page lists it (the text is on its own page)."""

    id: int
    name: str
    version: int
    status: str = Field(description="pending | active | retired | rejected")
    owner: str
    purpose: str
    legal_basis: str
    proposed_by: str
    proposed_at: TimePoint
    approved_by: str | None = None
    approved_at: TimePoint | None = None
    rejected_by: str | None = None
    rejected_at: TimePoint | None = None
    retired_by: str | None = None
    retired_at: TimePoint | None = None


class RuleSetDetail(BaseModel):
    rule_set: RuleSetRow
    text: str
    diff: str = Field(description="unified diff against the previous version of the name (all added for v1)")
    rules: int | None = Field(default=None, description="how many rules the text holds (None: it no longer "
                              "parses with the current vocabulary or policy)")
    problem: str | None = Field(default=None, description="why the text no longer parses, if it does not")
    allowed: builtins.list[RuleAction] = Field(description="what the caller may do with this version now")
    versions: builtins.list[RuleSetRow] = Field(description="every version of this name, newest first")


class RuleProposal(BaseModel):
    name: str = Field(min_length=1, max_length=94, description="letters, digits, '.', '_', '-'")
    text: str = Field(min_length=1, max_length=200_000, description="the rule file (docs/watchlists.md)")
    owner: str = Field(min_length=1, max_length=100, description="the unit answerable for the rules")
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)


class RuleText(BaseModel):
    text: str = Field(min_length=1, max_length=200_000)


class RuleProblem(BaseModel):
    """A rule text that does not parse: where, and the offending line with a caret under the column."""

    message: str
    line: int
    col: int
    source_line: str = ""
    caret: str = ""


class RuleCountRow(BaseModel):
    rule: str
    severity: str
    score: float
    flagged: int = Field(description="travellers of the window this rule would have flagged")


class DryRunResult(BaseModel):
    """Counts only: no traveller is named."""

    rules: builtins.list[RuleCountRow]
    manifests: int
    travellers: int = Field(description="travellers evaluated")
    flagged: int = Field(description="travellers flagged by at least one rule")
    depersonalised: int = Field(description="travellers of the window with no record left to evaluate")
    since: TimePoint
    window_days: int
    max_travellers: int
    truncated: bool = Field(description="the traveller bound ended the run before the window's oldest manifest")
    seconds: float
