"""Validation of read manifests against a country profile: code lists, mandatory data, dates, structure.

Strategy: the profile precomputes every rule's severity and every code list as a set; one pass over
the legs and one over the travellers do only attribute reads and set look-ups, and a Finding is built
only when something is wrong. Messages name positions and fields, never names, numbers or dates
(the offending value goes to `Finding.value`, which logs leave out).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date, timedelta

from ._budget import TOO_MANY, Budget, regrade
from ._codelists import _airports, countries_alpha3
from .models import Finding, FlightLeg, Interchange, Manifest, Severity, Traveller
from .profile import Profile
from .rules import RULES

_PAX = frozenset({"FL", "DDU"})
_CREW = frozenset({"FM", "DDT"})
# MIG: BGM 266 (flight status, e.g. CLOB) and NAD+ZZZ list travellers by reference only (no identity data).
_STATUS_UPDATE = "266"
_REFERENCE_ONLY = frozenset({"ZZZ"})
_CARRIER = re.compile(r"(?:[A-Z0-9]{2}|[A-Z]{3})\Z")
# Rules both the reader and the validator emit; the reader's finding (with its element detail) is kept.
_READER_ALSO = frozenset({"DAT-NAME-MISSING", "DAT-DOC-TYPE-MISSING"})


class _Emit:
    """Builds findings for one message with the profile's severities; a rule that is off costs nothing."""

    __slots__ = ("budget", "out", "ref", "sev")

    def __init__(self, sev: dict[str, Severity | None], ref: str, out: list[Finding],
                 budget: Budget | None = None) -> None:
        self.sev = sev
        self.ref = ref
        self.out = out
        self.budget = budget if budget is not None else Budget()

    def trav(self, rule: str, text: str, pos: int | None, value: str | None = None,
             element: int | None = None) -> None:
        """A finding about one traveller: located at its NAD, named by position, never by name."""
        if self.sev[rule] is not None:
            self(rule, f"traveller at segment {pos}: {text}", pos, "NAD", value, element)

    def __call__(self, rule: str, message: str, pos: int | None, tag: str, value: str | None = None,
                 element: int | None = None) -> None:
        s = self.sev[rule]
        if s is None or not self.budget.keep(rule, s, self.ref):
            return
        self.out.append(Finding(rule=rule, severity=s, message=message, segment_position=pos, segment_tag=tag,
                                element=element, contrl_error=RULES[rule].contrl, level="message",
                                message_ref=self.ref, value=value))


def _is_code(a: str) -> bool:
    """Three upper-case letters: the form of an IATA location code, known to airportsdata or not."""
    return len(a) == 3 and a.isalpha() and a.isupper() and a.isascii()


def _departure_date(legs: list[FlightLeg]) -> date | None:
    """The first scheduled departure (local date): the day documents and ages are measured against."""
    first = None
    for leg in legs:
        t = leg.departure_local
        if t is not None and (first is None or t < first):
            first = t
    return first.date() if first is not None else None


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def validate_manifest(manifest: Manifest, profile: Profile, *, today: date | None = None,
                      budget: Budget | None = None) -> list[Finding]:
    """Every L2–L4 finding for one manifest under `profile`.

    `today` is the validation date: it stands in for the travel date when the message has no
    flight date, and anchors the optional flight-date window. Reader findings are not repeated
    here except where the same rule also applies to models built without the reader (missing
    surname, DOC without type); `apply_profile` merges the two without duplicates.

    Findings count against `budget` (the caller's, which then adds the summaries; else one of this
    call's own, whose summary ends the list): see `parsers._budget`.
    """
    own = budget is None
    if budget is None:
        budget = Budget()
    out: list[Finding] = []
    emit = _Emit(profile.severities(profile.claims_mig(manifest.header.association)),
                 manifest.header.message_ref, out, budget)
    day = today or date.today()
    _check_header(manifest, profile, emit)
    route = _check_legs(manifest, profile, emit, day)
    _check_travellers(manifest, profile, emit, route, _departure_date(manifest.legs) or day)
    if own:
        out.extend(budget.summaries())
    return out


def _check_header(m: Manifest, p: Profile, emit: _Emit) -> None:
    code = m.document_code
    if code is None:
        emit("STR-BGM-MISSING", "message has no BGM document code", 1, "BGM", element=1)
    elif code not in p.document_codes:
        emit("COD-BGM", "BGM document code is not in the profile's list", 2, "BGM", code, 1)
    ident = m.document_id
    if ident is not None and ident not in p.document_identifiers:
        emit("COD-BGM-ID", "BGM document identifier is not in the profile's list", 2, "BGM", ident, 2)


def _check_legs(m: Manifest, p: Profile, emit: _Emit, day: date) -> frozenset[str]:
    """Leg checks; returns the airports of the route for the travellers' embarkation/debarkation."""
    airports = _airports()
    stages, quals = p.transport_stages, p.leg_location_qualifiers
    window = p.flight_date_window
    lo = day + timedelta(days=window[0]) if window else None
    hi = day + timedelta(days=window[1]) if window else None
    route: set[str] = set()
    if not m.legs:
        emit("STR-LEG-MISSING", "message has no flight leg (TDT)", None, "TDT")
    for leg in m.legs:
        pos = leg.segment_position
        if leg.transport_stage not in stages:
            emit("COD-TRANSPORT-STAGE", f"TDT at segment {pos}: transport stage is not in the profile's list",
                 pos, "TDT", leg.transport_stage, 1)
        carrier, fid = leg.carrier, leg.flight_id
        if carrier:
            if not _CARRIER.match(carrier):
                emit("COD-CARRIER", f"TDT at segment {pos}: carrier is not an IATA or ICAO designator",
                     pos, "TDT", carrier, 5)
            if fid and not fid.startswith(carrier):
                emit("CON-CARRIER-FLIGHT", f"TDT at segment {pos}: flight id does not start with the carrier",
                     pos, "TDT", fid, 2)
        for s in leg.stops:
            if s.qualifier not in quals:
                emit("COD-LOC-QUALIFIER", f"LOC at segment {s.segment_position}: qualifier is not in the "
                     "profile's list", s.segment_position, "LOC", s.qualifier, 1)
            a = s.airport
            if a in airports:
                route.add(a)
            elif _is_code(a):
                route.add(a)
                emit("COD-AIRPORT-UNKNOWN", f"LOC at segment {s.segment_position}: location code is not in "
                     "the airport reference data", s.segment_position, "LOC", a, 2)
            else:
                emit("COD-AIRPORT", f"LOC at segment {s.segment_position}: "
                     f"{'airport is not a three-letter IATA code' if a else 'no airport'}",
                     s.segment_position, "LOC", a or None, 2)
        if leg.departure_airport is None or leg.arrival_airport is None:
            which = "departure" if leg.departure_airport is None else "arrival"
            emit("STR-LEG-ENDPOINTS", f"TDT at segment {pos}: flight leg has no {which} location", pos, "TDT")
        dep, arr = leg.departure_utc, leg.arrival_utc
        if dep is None or arr is None:
            dep, arr = leg.departure_local, leg.arrival_local
        if dep is not None and arr is not None and arr < dep:
            emit("DAT-LEG-ORDER", f"TDT at segment {pos}: scheduled arrival is before departure", pos, "TDT",
                 f"{dep.isoformat()}/{arr.isoformat()}")
        if lo is not None and hi is not None and leg.departure_local is not None:
            d = leg.departure_local.date()
            if d < lo or d > hi:
                emit("DAT-FLIGHT-WINDOW", f"TDT at segment {pos}: departure date outside the window of "
                     "the validation date", pos, "TDT", d.isoformat())
    return frozenset(route)


def _check_travellers(m: Manifest, p: Profile, emit: _Emit, route: frozenset[str], travel_day: date) -> None:
    sev = emit.sev
    countries = countries_alpha3()
    airports = _airports()
    functions, genders, doc_types, visas, ref_quals = (p.party_functions, p.genders, p.document_types,
                                                        p.visa_types, p.reference_qualifiers)
    placeholders = frozenset() if p.accept_name_placeholders else p.name_placeholders
    need_given = sev["REQ-GIVEN-NAMES"] is not None
    need_gender = sev["REQ-GENDER"] is not None
    need_dob = sev["REQ-DOB"] is not None
    need_nat = sev["REQ-NATIONALITY"] is not None
    need_res = sev["REQ-RESIDENCE"] is not None
    need_birth = sev["REQ-BIRTH-PLACE"] is not None
    need_emb = sev["REQ-EMBARKATION"] is not None
    need_deb = sev["REQ-DEBARKATION"] is not None
    need_doc = sev["REQ-DOCUMENT"] is not None
    need_num = sev["REQ-DOC-NUMBER"] is not None
    need_exp = sev["REQ-DOC-EXPIRY"] is not None
    need_state = sev["REQ-DOC-ISSUING-STATE"] is not None
    need_refs = tuple(q for q in ("AVF", "ABO", "SEA", "YZY") if sev[f"REQ-RFF-{q}"] is not None)
    # Airports a traveller can name without any finding: known ones, on the route when there is one.
    quiet: Collection[str] = frozenset(a for a in route if a in airports) if route else airports
    expiry_limit = travel_day - timedelta(days=p.expiry_tolerance_days)
    oldest = _years_before(travel_day, p.max_age_years)
    status_update = m.document_code == _STATUS_UPDATE
    npax = ncrew = 0
    first_pax: int | None = None
    for t in m.travellers:
        pos = t.segment_position
        pf = t.party_function
        if pf in _PAX:
            npax += 1
            if first_pax is None:
                first_pax = pos
        elif pf in _CREW:
            ncrew += 1
        if pf not in functions:
            emit.trav("COD-PARTY", "NAD party function is not in the profile's list", pos, pf, 1)
        refs = t.references
        if not ref_quals.issuperset(refs):
            for q in refs:
                if q not in ref_quals:
                    emit("COD-RFF", f"traveller at segment {pos}: RFF qualifier is not in the profile's list",
                         pos, "RFF", q, 1)
        for q in need_refs:
            if q not in refs:
                emit.trav(f"REQ-RFF-{q}", f"no RFF {q} reference", pos)
        if status_update or pf in _REFERENCE_ONLY:
            continue  # listed by reference only (MIG): no identity data expected
        # -- names
        sn = t.surname
        if sn is None:
            emit("DAT-NAME-MISSING", "traveller without a surname", pos, "NAD", element=4)
        elif placeholders and sn.strip().upper() in placeholders:
            emit.trav("DAT-NAME-MISSING", "surname is a placeholder", pos, element=4)
        if need_given:
            given = t.given_names
            if not given:
                emit.trav("REQ-GIVEN-NAMES", "no given names", pos, element=4)
            elif placeholders:
                for gn in given:
                    if gn.strip().upper() not in placeholders:
                        break
                else:
                    emit.trav("REQ-GIVEN-NAMES", "given names are only a placeholder", pos, element=4)
        # -- gender, birth, nationality, places
        g = t.gender
        if g is None:
            if need_gender:
                emit.trav("REQ-GENDER", "no gender (ATT)", pos)
        elif g not in genders:
            emit.trav("COD-GENDER", "gender code is not in the profile's list", pos, g)
        dob = t.date_of_birth
        if dob is None:
            if need_dob and t.date_of_birth_raw is None:
                emit.trav("REQ-DOB", "no date of birth (DTM 329)", pos)
        elif dob > travel_day:
            emit.trav("DAT-BIRTH-AFTER-DEPARTURE", "date of birth is after the departure date", pos,
                      t.date_of_birth_raw)
        elif dob < oldest:
            emit.trav("DAT-AGE", f"older than {p.max_age_years} years at departure", pos, t.date_of_birth_raw)
        nat = t.nationality
        if nat is None:
            if need_nat:
                emit.trav("REQ-NATIONALITY", "no nationality (NAT)", pos)
        elif nat not in countries:
            emit.trav("COD-COUNTRY", "nationality (NAT) is not an ISO 3166-1 alpha-3 or ICAO 9303 code", pos, nat)
        c = t.residence_country
        if c is None:
            if need_res:
                emit.trav("REQ-RESIDENCE", "no country of residence (LOC 174)", pos)
        elif c not in countries:
            emit.trav("COD-COUNTRY", "country of residence (LOC 174) is not an ISO 3166-1 alpha-3 or ICAO 9303 "
                      "code", pos, c)
        c = t.birth_country
        if c is not None:
            if c not in countries:
                emit.trav("COD-COUNTRY", "country of birth (LOC 180) is not an ISO 3166-1 alpha-3 or ICAO 9303 code",
                          pos, c)
        elif need_birth and t.birth_place is None:
            emit.trav("REQ-BIRTH-PLACE", "no place of birth (LOC 180)", pos)
        emb, deb, clr = t.embarkation, t.debarkation, t.clearance
        if emb in quiet and deb in quiet and (clr is None or clr in airports):
            pass  # known airports on the route: nothing to report (the common case)
        else:
            _check_places(t, emit, pos, airports, route, need_emb, need_deb)
        # -- documents
        docs = t.documents
        if not docs:
            if need_doc:
                emit.trav("REQ-DOCUMENT", "no travel document (DOC)", pos)
            continue
        primary = None
        for d in docs:
            dpos = d.segment_position
            dt = d.doc_type
            if dt is None:
                emit("DAT-DOC-TYPE-MISSING", "DOC without a document type", dpos, "DOC", element=1)
            elif dt not in doc_types:
                emit("COD-DOC-TYPE", f"DOC at segment {dpos}: document type is not in the profile's list",
                     dpos, "DOC", dt, 1)
            if primary is None and dt not in visas:
                primary = d
            st = d.issuing_state
            if st is not None and st not in countries:
                emit("COD-COUNTRY", f"DOC at segment {dpos}: issuing state (LOC 91) is not an ISO 3166-1 "
                     "alpha-3 or ICAO 9303 code", dpos, "DOC", st)
            exp = d.expiry
            if exp is not None and exp < expiry_limit:
                emit("DAT-DOC-EXPIRED", f"DOC at segment {dpos}: document expired before the departure date",
                     dpos, "DOC", d.expiry_raw)
            iss = d.issue_date
            if iss is not None and iss > travel_day:
                emit("DAT-DOC-ISSUED-LATE", f"DOC at segment {dpos}: issued after the departure date",
                     dpos, "DOC", d.issue_date_raw)
        if primary is None:
            primary = docs[0]
        dpos = primary.segment_position
        if need_num and not primary.number:
            emit("REQ-DOC-NUMBER", f"DOC at segment {dpos}: no document number", dpos, "DOC", element=2)
        if need_exp and primary.expiry is None and primary.expiry_raw is None:
            emit("REQ-DOC-EXPIRY", f"DOC at segment {dpos}: no expiry date (DTM 36)", dpos, "DOC")
        if need_state and not primary.issuing_state:
            emit("REQ-DOC-ISSUING-STATE", f"DOC at segment {dpos}: no issuing state (LOC 91)", dpos, "DOC")
    _check_counts(m, p, emit, npax, ncrew, first_pax)


def _check_places(t: Traveller, emit: _Emit, pos: int | None, airports: Collection[str], route: frozenset[str],
                  need_emb: bool, need_deb: bool) -> None:
    """Embarkation, debarkation and clearance airports of one traveller: known, and on the route."""
    for a, what, need, required_rule, route_rule in (
            (t.embarkation, "embarkation airport (LOC 178)", need_emb, "REQ-EMBARKATION", "CON-ROUTE-EMBARK"),
            (t.debarkation, "debarkation airport (LOC 179)", need_deb, "REQ-DEBARKATION", "CON-ROUTE-DEBARK"),
            (t.clearance, "clearance airport (LOC 22)", False, None, None)):
        if a is None:
            if need and required_rule:
                emit.trav(required_rule, f"no {what}", pos)
        elif a not in airports:
            if _is_code(a):
                emit.trav("COD-AIRPORT-UNKNOWN", f"{what} is not in the airport data", pos, a)
            else:
                emit.trav("COD-AIRPORT", f"{what} is not a three-letter IATA code", pos, a)
        elif route and route_rule and a not in route:
            emit.trav(route_rule, f"{what} is not on the flight's route", pos, a)


def _check_counts(m: Manifest, p: Profile, emit: _Emit, npax: int, ncrew: int, first_pax: int | None) -> None:
    n = len(m.travellers)
    if p.max_travellers is not None and n > p.max_travellers:
        emit("STR-TOO-MANY-TRAVELLERS", f"{n} travellers in one message; the profile allows "
             f"{p.max_travellers}", m.travellers[p.max_travellers].segment_position, "NAD", str(n))
    if m.document_code == "250" and npax:
        emit("STR-CREW-LIST-PAX", f"crew list (BGM 250) contains {npax} passenger(s); first at segment "
             f"{first_pax}", first_pax, "NAD", str(npax))
    totals = m.totals
    if totals.passengers is None and totals.crew is None:
        emit("STR-CNT-MISSING", "message has no CNT total", None, "CNT")
        return
    # One complete single-part message only: the totals of multi-part lists are the assembler's to check.
    if not m.complete or (m.parts and m.parts != [1]):
        return
    if totals.passengers is not None and totals.passengers != npax:
        emit("CNT-PASSENGERS", f"CNT 42 says {totals.passengers} passengers, the message has {npax}", None,
             "CNT", str(totals.passengers), 1)
    if totals.crew is not None and totals.crew != ncrew:
        emit("CNT-CREW", f"CNT 41 says {totals.crew} crew, the message has {ncrew}", None, "CNT",
             str(totals.crew), 1)


def grade_findings(findings: Iterable[Finding], profile: Profile, *,
                   non_mig_refs: Collection[str | None] = ()) -> list[Finding]:
    """Grade findings made elsewhere (the reader's, the assembler's) by the profile; drop those it turns off.

    The profile's [required]/[severity] entries win over the emitter's severity; an accepted unknown
    syntax id becomes info; in messages listed in `non_mig_refs` (no MIG association code) MIG-only
    rules are capped at warning. Findings that need no change are passed on as they are. A summary of
    findings left out (`SYN-TOO-MANY-FINDINGS`) is graded from the rules it counts: its severity becomes
    the worst of theirs, and it goes when the profile turns all of them off.
    """
    overrides = profile.overrides
    accepted = profile.accept_syntax_ids
    out: list[Finding] = []
    for f in findings:
        if f.rule == TOO_MANY:
            graded = _grade_summary(f, overrides, f.message_ref in non_mig_refs)
            if graded is not None:
                out.append(graded)
            continue
        sev: Severity | None = f.severity
        message = f.message
        if f.rule == "SYN-CHARSET-UNKNOWN" and f.value in accepted:
            sev = Severity.INFO
            if "accepted by profile" not in message:
                message = f"{message} (accepted by profile {profile.name})"
        elif f.rule in overrides:
            sev = overrides[f.rule]
        if sev is None:
            continue
        if sev is Severity.ERROR and f.message_ref in non_mig_refs and f.rule in RULES and RULES[f.rule].mig:
            sev = Severity.WARNING
        out.append(f if sev is f.severity and message is f.message
                   else f.model_copy(update={"severity": sev, "message": message}))
    return out


def _grade_summary(f: Finding, overrides: Mapping[str, Severity | None], non_mig: bool) -> Finding | None:
    """A summary graded rule by rule as `grade_findings` grades single findings."""
    def grade(rule: str, sev: Severity) -> Severity | None:
        g = overrides.get(rule, sev)
        if g is Severity.ERROR and non_mig and rule in RULES and RULES[rule].mig:
            g = Severity.WARNING
        return g

    return regrade(f, grade)


def apply_profile(interchange: Interchange, profile: Profile, *, today: date | None = None) -> Interchange:
    """Validate every manifest and grade every finding (the reader's too) by the profile.

    Returns a copy; the input interchange is left as read, and applying the same profile twice
    changes nothing more. See `grade_findings` for how reader findings are graded.
    """
    non_mig: set[str | None] = set()
    reference_only: set[tuple[str, int | None]] = set()
    validation: list[Finding] = []
    budget = Budget()
    for m in interchange.manifests:
        ref = m.header.message_ref
        if not profile.claims_mig(m.header.association):
            non_mig.add(ref)
        status = m.document_code == _STATUS_UPDATE
        reference_only.update((ref, t.segment_position) for t in m.travellers
                              if status or t.party_function in _REFERENCE_ONLY)
        validation.extend(validate_manifest(m, profile, today=today, budget=budget))
    validation.extend(budget.summaries())
    # Travellers listed by reference only have no name by design: the reader's finding does not apply.
    kept = (f for f in interchange.findings
            if not (f.rule == "DAT-NAME-MISSING" and (f.message_ref, f.segment_position) in reference_only))
    out = grade_findings(kept, profile, non_mig_refs=non_mig)
    reader_keys = {(f.rule, f.message_ref, f.segment_position) for f in out if f.rule in _READER_ALSO}
    present = {(f.rule, f.message_ref, f.segment_position, f.message, f.value) for f in out}
    for f in validation:
        if f.rule in _READER_ALSO and (f.rule, f.message_ref, f.segment_position) in reader_keys:
            continue
        if (f.rule, f.message_ref, f.segment_position, f.message, f.value) in present:
            continue  # this profile was applied before
        out.append(f)
    return interchange.model_copy(update={"findings": out})
