"""The rule catalogue: every rule id any part of the parser can emit, with what a carrier needs to fix it.

Strategy: one frozen table, keyed by rule id, read by profiles (which may re-grade any rule), by the
validator (default severities) and by the docs (the catalogue table in docs/profiles.md is generated
from here, so the two cannot drift apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .models import Severity

Layer = Literal["L0", "L1", "L2", "L3", "L4"]

_E = Severity.ERROR
_W = Severity.WARNING
_I = Severity.INFO

_ISO = "ISO 9735"
_MIG = "WCO/IATA/ICAO PAXLST MIG"


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a rule checks, how bad it is by default, and where the carrier reads up on it.

    `mig` marks rules that come from the WCO/IATA/ICAO MIG rather than from ISO 9735 or the UN
    directory: a message that does not claim the MIG (no association code such as IATA in UNH
    S009) is held to the UN directory only, so these findings are capped at warning for it.
    """

    id: str
    layer: Layer
    severity: Severity
    contrl: int | None
    title: str
    reference: str
    hint: str
    mig: bool = False


def _r(id: str, layer: Layer, severity: Severity, contrl: int | None, title: str, reference: str, hint: str,
       *, mig: bool = False) -> RuleInfo:
    return RuleInfo(id, layer, severity, contrl, title, reference, hint, mig)


_CATALOGUE: tuple[RuleInfo, ...] = (
    # ---- L0: transport and envelope -------------------------------------------------------------------
    _r("ENV-TYPEB", "L0", _I, None, "Type-B teletype envelope stripped", "IATA Type B / SITA teletype",
       "Nothing to fix; the teletype wrapper is removed before reading."),
    _r("ENV-JUNK-BEFORE", "L0", _W, None, "Data before the first service segment", f"{_ISO} UNA/UNB",
       "Start the transmission with UNA or UNB; remove banners or headers."),
    _r("ENV-JUNK-AFTER", "L0", _W, 33, "Segments after UNZ ignored", f"{_ISO} UNZ",
       "End the transmission with UNZ; send further interchanges separately."),
    _r("ENV-EMPTY", "L0", _E, 32, "No message in the interchange", f"{_ISO} UNB/UNZ",
       "Send at least one UNH..UNT message inside UNB..UNZ."),
    _r("ENV-MIXED", "L0", _E, 30, "Groups and bare messages mixed", f"{_ISO} UNG",
       "Either put every message in a UNG..UNE group or none."),
    _r("ENV-OUTSIDE", "L0", _E, 33, "Segment outside any message", f"{_ISO} UNH/UNT",
       "Every data segment belongs between UNH and UNT."),
    _r("ENV-SYNTAX-VERSION", "L0", _E, 2, "Syntax version not supported", f"{_ISO} UNB S001 0002",
       "Use syntax version 3 or 4 in UNB S001 (e.g. UNOA:4)."),
    _r("ENV-UNB-DATE", "L0", _E, 12, "UNB date/time unreadable", f"{_ISO} UNB S004",
       "Send the preparation date as YYMMDD (v3) or CCYYMMDD (v4) plus HHMM."),
    _r("ENV-UNB-MISSING", "L0", _E, 13, "Mandatory UNB element missing", f"{_ISO} UNB",
       "Fill syntax identifier, sender, recipient and control reference in UNB."),
    _r("ENV-UNB-MISSING-ENVELOPE", "L0", _E, 13, "No UNB: message fragment", f"{_ISO} UNB",
       "Wrap the message in UNB..UNZ before transmission."),
    _r("ENV-UNB-NOT-FIRST", "L0", _E, 33, "Segments before UNB", f"{_ISO} UNB",
       "UNB (after an optional UNA) is the first segment of an interchange."),
    _r("ENV-UNB-REPEATED", "L0", _E, 33, "Second UNB in one input", f"{_ISO} UNB",
       "Send one interchange per transmission."),
    _r("ENV-UNE-COUNT", "L0", _E, 29, "UNE message count mismatch", f"{_ISO} UNE 0060",
       "UNE must count the messages in its group."),
    _r("ENV-UNE-MISSING", "L0", _E, 13, "Group without UNE", f"{_ISO} UNE",
       "Close every UNG group with UNE."),
    _r("ENV-UNE-REF", "L0", _E, 28, "UNE reference does not match UNG", f"{_ISO} UNE 0048",
       "Repeat the UNG group reference in UNE."),
    _r("ENV-UNE-STRAY", "L0", _E, 33, "UNE without UNG", f"{_ISO} UNE",
       "Remove the UNE or open the group with UNG."),
    _r("ENV-UNH-REF", "L0", _E, 13, "UNH message reference missing", f"{_ISO} UNH 0062",
       "Give every message a reference in UNH and repeat it in UNT."),
    _r("ENV-UNT-COUNT", "L0", _E, 29, "UNT segment count mismatch", f"{_ISO} UNT 0074",
       "UNT must count the segments from UNH to UNT inclusive."),
    _r("ENV-UNT-MISSING", "L0", _E, 13, "Message without UNT", f"{_ISO} UNT",
       "Close every message with UNT."),
    _r("ENV-UNT-REF", "L0", _E, 28, "UNT reference does not match UNH", f"{_ISO} UNT 0062",
       "Repeat the UNH message reference in UNT."),
    _r("ENV-UNT-STRAY", "L0", _E, 33, "UNT without UNH", f"{_ISO} UNT",
       "Remove the UNT or open the message with UNH."),
    _r("ENV-UNZ-COUNT", "L0", _E, 29, "UNZ count mismatch", f"{_ISO} UNZ 0036",
       "UNZ must count the groups (or messages, when there are no groups)."),
    _r("ENV-UNZ-MISSING", "L0", _E, 13, "Interchange without UNZ", f"{_ISO} UNZ",
       "Close the interchange with UNZ; check the transmission was not truncated."),
    _r("ENV-UNZ-REF", "L0", _E, 28, "UNZ reference does not match UNB", f"{_ISO} UNZ 0020",
       "Repeat the UNB control reference in UNZ."),
    _r("ENV-UNZ-STRAY", "L0", _E, 33, "UNZ without UNB", f"{_ISO} UNZ",
       "Remove the UNZ or open the interchange with UNB."),
    _r("FMT-UNSUPPORTED", "L0", _E, 14, "Message type not supported", f"{_ISO} UNH S009",
       "Send UN/EDIFACT PAXLST (or CUSRES), directory D, e.g. PAXLST:D:05B:UN:IATA."),
    # ---- L1: syntax ----------------------------------------------------------------------------------
    _r("FMT-LEGACY-US", "L0", _I, None, "Legacy US EDIFACT PAXLST read", "US Customs PAXLST 001:000",
       "Move to the WCO/IATA/ICAO PAXLST (D:05B with association code IATA)."),
    _r("FMT-NOT-CONTRL", "L0", _E, 14, "Message is not a CONTRL", f"{_ISO} CONTRL",
       "Send syntax and service reports as CONTRL messages."),
    _r("SYN-UNA", "L1", _E, 20, "Invalid UNA service string advice", f"{_ISO} UNA",
       "UNA is exactly 9 characters with six distinct service characters."),
    _r("SYN-SEPARATORS", "L1", _E, 20, "Separators do not split the input", f"{_ISO} UNA",
       "Send a UNA when using non-default separators."),
    _r("SYN-TRUNCATED", "L1", _E, 13, "Input ends inside a segment", f"{_ISO} segment terminator",
       "Terminate every segment; check the transmission was not cut off."),
    _r("SYN-ENCODING", "L1", _E, 21, "Bytes not valid in the declared character set", f"{_ISO} UNB S001 0001",
       "Encode the interchange in the character set named in UNB."),
    _r("SYN-CHARSET", "L1", _E, 21, "Characters outside the syntax level repertoire", f"{_ISO} UNB S001 0001",
       "Use only the declared repertoire (UNOA: upper case, digits, few signs) or declare UNOC/UNOY."),
    _r("SYN-CHARSET-UNKNOWN", "L0", _E, 2, "Unknown syntax identifier", f"{_ISO} UNB S001 0001",
       "Use an ISO 9735 syntax identifier (UNOA..UNOY); a national agreement may accept others."),
    _r("SYN-CHARSET-UNSUPPORTED", "L0", _E, 46, "Character set not supported", f"{_ISO} UNB S001 0001",
       "Use UNOA, UNOB, UNOC or UNOY."),
    _r("SYN-RELEASE", "L1", _E, 22, "Release character before nothing", f"{_ISO} release character",
       "A release character must precede the character it releases."),
    _r("SYN-TAG", "L1", _E, 12, "Segment tag invalid", f"{_ISO} segment tag 0013",
       "Segment tags are three upper-case letters."),
    _r("SYN-TAG-SPACE", "L1", _W, 12, "Segment tag with spaces", f"{_ISO} segment tag 0013",
       "Remove spaces around segment tags."),
    _r("SYN-TOO-MANY-FINDINGS", "L1", _E, None, "More findings than are listed per message",
       f"{_ISO} CONTRL SG2 UCS (C999)",
       "Fix the findings listed and send again: past 999 per message (10,000 per interchange) findings are "
       "counted, not listed. Its severity is the worst of those counted, as the profile grades them."),
    _r("DAT-DATE", "L1", _E, 12, "Date unreadable", f"{_MIG} DTM 2380/2379",
       "Send dates as YYMMDD (or CCYYMMDD with format 102), times as YYMMDDHHMM with format 201."),
    _r("DAT-NUMBER", "L1", _E, 37, "Number unreadable", f"{_MIG} SG4 MEA",
       "Send measurements as plain numbers, e.g. MEA+WT++KGM:20."),
    # ---- L2: structure -------------------------------------------------------------------------------
    _r("STR-SG4-ORDER", "L2", _W, 15, "Traveller group segments out of order", f"{_MIG} SG4",
       "Keep the SG4 order NAD ATT DTM MEA GEI FTX LOC COM EMP NAT RFF, then DOC groups.", mig=True),
    _r("STR-UNEXPECTED", "L2", _W, 15, "Segment or qualifier not expected here", f"{_MIG} segment table",
       "Send only the segments and qualifiers the MIG defines at that position.", mig=True),
    _r("DAT-DOC-TYPE-MISSING", "L2", _E, 13, "DOC without document type", f"{_MIG} SG5 DOC C002",
       "Give the document type in DOC C002 (e.g. DOC+P:110:111+<number>)."),
    _r("STR-BGM-MISSING", "L2", _E, 13, "No BGM document code", f"{_MIG} BGM",
       "Send BGM with the document code right after UNH (e.g. BGM+745)."),
    _r("STR-LEG-MISSING", "L2", _E, 13, "No flight leg", f"{_MIG} SG2 TDT",
       "Send at least one TDT group with its LOC/DTM pairs.", mig=True),
    _r("STR-LEG-ENDPOINTS", "L2", _E, 13, "Flight leg without departure or arrival", f"{_MIG} SG3 LOC",
       "Give each TDT a LOC+125 / LOC+87 pair (or LOC+92 routing pairs) with DTM 189/232.", mig=True),
    _r("STR-CREW-LIST-PAX", "L2", _W, None, "Passenger in a crew list", f"{_MIG} BGM 250",
       "Send passengers (NAD+FL) in a passenger list (BGM+745), crew in a crew list (BGM+250).", mig=True),
    _r("STR-TOO-MANY-TRAVELLERS", "L2", _E, 36, "More travellers than the profile allows per message",
       f"{_MIG} SG4 (national profile)",
       "Split the list: the receiving state limits travellers per message (iAPI requests)."),
    _r("STR-CNT-MISSING", "L2", _I, None, "No CNT total", f"{_MIG} CNT",
       "Send CNT+42:<passengers> (and CNT+41:<crew> for crew lists)."),
    # ---- L3: code lists ------------------------------------------------------------------------------
    _r("COD-CNT", "L3", _E, 12, "CNT qualifier not 41 or 42", "UN 6069; MIG CNT",
       "Use CNT+42:<passengers> and CNT+41:<crew>."),
    _r("DAT-CNT", "L1", _E, 13, "CNT without a numeric count", "UN 6066; MIG CNT",
       "Send the count as qualifier:number, e.g. CNT+42:2."),
    _r("COD-COUNTRY", "L3", _E, 12, "Country code not ISO 3166-1 alpha-3 / ICAO 9303",
       "ISO 3166-1; ICAO Doc 9303-3",
       "Use three-letter codes (NAT, LOC 91/174/180), e.g. GBR, DEU or D, XXA.", mig=True),
    _r("COD-AIRPORT", "L3", _E, 12, "Airport code not an IATA location", f"{_MIG} SG3/SG4 LOC; IATA codes",
       "Use the three-letter IATA airport code in LOC (125, 87, 92, 178, 179, 22).", mig=True),
    _r("COD-AIRPORT-UNKNOWN", "L3", _W, None, "Airport code well-formed but not in the reference data",
       "IATA location codes; airportsdata",
       "Check the code: IATA also assigns codes to rail and bus stations the airport list does not hold.",
       mig=True),
    _r("COD-GENDER", "L3", _E, 12, "Gender code not in the list", f"{_MIG} SG4 ATT 9019",
       "Send ATT+2++M, F, U (unknown) or X (unspecified).", mig=True),
    _r("COD-DOC-TYPE", "L3", _E, 12, "Document type not in the list", f"{_MIG} SG5 DOC 1001",
       "Use a document type the profile lists (P passport, V visa, I identity card, ...).", mig=True),
    _r("COD-BGM", "L3", _E, 12, "BGM document code not in the list", f"{_MIG} BGM 1001",
       "Use 745 (passenger list), 250 (crew list), 266 (flight status), 336 or 655.", mig=True),
    _r("COD-BGM-ID", "L3", _W, 12, "BGM document identifier not in the list", f"{_MIG} BGM C106 1004",
       "Use an identifier the profile lists (CP, XR, RP, CL, CLOB, CLNB, XF, C, CC, ...).", mig=True),
    _r("COD-PARTY", "L3", _E, 12, "NAD party function not in the list", f"{_MIG} SG4 NAD 3035",
       "Use NAD+FL (passenger), FM (crew), DDU/DDT (in transit) or MS (reporting party).", mig=True),
    _r("COD-TRANSPORT-STAGE", "L3", _E, 12, "TDT transport stage not in the list", f"{_MIG} SG2 TDT 8051",
       "Use TDT+20 (main carriage) or TDT+34 (overflight).", mig=True),
    _r("COD-LOC-QUALIFIER", "L3", _W, 12, "Flight leg LOC qualifier not in the list", f"{_MIG} SG3 LOC 3227",
       "Use LOC+125/87 (border crossing), 92 (routing), 130 (final destination), 22 (clearance).", mig=True),
    _r("COD-RFF", "L3", _W, 12, "Traveller reference qualifier not in the list", f"{_MIG} SG4 RFF 1153",
       "Use AVF, ABO, SEA, AEA, CR, YZY or a qualifier agreed with the receiving state.", mig=True),
    _r("COD-CARRIER", "L3", _W, 12, "Carrier designator malformed", f"{_MIG} SG2 TDT C040",
       "Use the IATA two-character or ICAO three-letter airline designator.", mig=True),
    # ---- L4: semantics, identity completeness ---------------------------------------------------------
    _r("DAT-NAME-MISSING", "L4", _E, 13, "Traveller without surname", f"{_MIG} SG4 NAD C080 3036",
       "Send the surname in NAD C080 as on the travel document."),
    _r("REQ-GIVEN-NAMES", "L4", _W, 13, "Given names missing", f"{_MIG} SG4 NAD C080",
       "Send the given names as on the travel document (FNU only where the profile allows it)."),
    _r("REQ-GENDER", "L4", _W, 13, "Gender missing", f"{_MIG} SG4 ATT", "Send ATT+2++<M|F|U|X>."),
    _r("REQ-DOB", "L4", _W, 13, "Date of birth missing", f"{_MIG} SG4 DTM 329", "Send DTM+329:<YYMMDD>."),
    _r("REQ-NATIONALITY", "L4", _W, 13, "Nationality missing", f"{_MIG} SG4 NAT", "Send NAT+2+<alpha-3>."),
    _r("REQ-RESIDENCE", "L4", _W, 13, "Country of residence missing", f"{_MIG} SG4 LOC 174",
       "Send LOC+174+<alpha-3>."),
    _r("REQ-BIRTH-PLACE", "L4", _W, 13, "Place or country of birth missing", f"{_MIG} SG4 LOC 180",
       "Send LOC+180+<alpha-3>+:::<place>."),
    _r("REQ-EMBARKATION", "L4", _W, 13, "Embarkation airport missing", f"{_MIG} SG4 LOC 178",
       "Send LOC+178+<IATA airport>."),
    _r("REQ-DEBARKATION", "L4", _W, 13, "Debarkation airport missing", f"{_MIG} SG4 LOC 179",
       "Send LOC+179+<IATA airport>."),
    _r("REQ-DOCUMENT", "L4", _W, 13, "No travel document", f"{_MIG} SG5 DOC",
       "Send a DOC group for the travel document (passport, ID card, ...)."),
    _r("REQ-DOC-NUMBER", "L4", _W, 13, "Document number missing", f"{_MIG} SG5 DOC C503 1004",
       "Send the document number in DOC element 2."),
    _r("REQ-DOC-EXPIRY", "L4", _W, 13, "Document expiry date missing", f"{_MIG} SG5 DTM 36",
       "Send DTM+36:<YYMMDD> after the DOC."),
    _r("REQ-DOC-ISSUING-STATE", "L4", _W, 13, "Document issuing state missing", f"{_MIG} SG5 LOC 91",
       "Send LOC+91+<alpha-3> after the DOC."),
    _r("REQ-RFF-AVF", "L4", _W, 13, "Booking reference (AVF) missing", f"{_MIG} SG4 RFF AVF",
       "Send RFF+AVF:<PNR locator>."),
    _r("REQ-RFF-ABO", "L4", _W, 13, "Sender's passenger reference (ABO) missing", f"{_MIG} SG4 RFF ABO",
       "Send RFF+ABO:<unique passenger id>; responses are matched on it."),
    _r("REQ-RFF-SEA", "L4", _W, 13, "Seat (SEA) missing", f"{_MIG} SG4 RFF SEA", "Send RFF+SEA:<seat>."),
    _r("REQ-RFF-YZY", "L4", _W, 13, "Ticket number (YZY) missing", f"{_MIG} SG4 RFF YZY",
       "Send RFF+YZY:<ticket number>C<coupon>."),
    _r("DAT-BIRTH-AFTER-DEPARTURE", "L4", _E, 12, "Date of birth after departure", f"{_MIG} SG4 DTM 329",
       "Check the date of birth (four-digit year with DTM+329:CCYYMMDD:102 removes century doubt)."),
    _r("DAT-AGE", "L4", _W, None, "Traveller older than 120 years", f"{_MIG} SG4 DTM 329",
       "Check the date of birth and its century."),
    _r("DAT-DOC-EXPIRED", "L4", _W, None, "Document expired before departure", f"{_MIG} SG5 DTM 36",
       "Check the expiry date; the traveller may need another document."),
    _r("DAT-DOC-ISSUED-LATE", "L4", _W, None, "Document issued after departure", f"{_MIG} SG5 DTM 182",
       "Check the issue date."),
    _r("DAT-LEG-ORDER", "L4", _W, None, "Flight leg arrives before it departs", f"{_MIG} SG3 DTM 189/232",
       "Check scheduled times; they are local to each airport."),
    _r("DAT-FLIGHT-WINDOW", "L4", _W, None, "Flight date far from the time of receipt", f"{_MIG} SG3 DTM 189",
       "Send the manifest around check-in and departure of the flight it describes."),
    _r("CNT-PASSENGERS", "L4", _E, None, "CNT 42 differs from the passengers sent", f"{_MIG} CNT 6069=42",
       "CNT+42 counts FL and DDU groups (of all parts, on the final part)."),
    _r("CNT-CREW", "L4", _E, None, "CNT 41 differs from the crew sent", f"{_MIG} CNT 6069=41",
       "CNT+41 counts FM and DDT groups (of all parts, on the final part)."),
    _r("CON-CARRIER-FLIGHT", "L4", _W, None, "TDT carrier differs from the flight id prefix",
       f"{_MIG} SG2 TDT",
       "The flight id in TDT 8028 starts with the carrier in C040 (TDT+20+XX123+++XX)."),
    _r("CON-ROUTE-EMBARK", "L4", _W, None, "Embarkation airport not on the route", f"{_MIG} SG4 LOC 178",
       "Check LOC+178 against the flight legs (through passengers may embark earlier)."),
    _r("CON-ROUTE-DEBARK", "L4", _W, None, "Debarkation airport not on the route", f"{_MIG} SG4 LOC 179",
       "Check LOC+179 against the flight legs (connecting passengers may travel on)."),
    # ---- multi-part assembly (reserved; emitted by the assembler) -------------------------------------
    _r("ASM-PART-DUPLICATE", "L2", _W, 26, "Part received twice", f"{_ISO} UNH S010; {_MIG} 2.4",
       "Send each part once; a corrected list is a new transmission."),
    _r("ASM-PART-MISSING", "L2", _E, 13, "Part missing from a multi-part list", f"{_ISO} UNH S010",
       "Send every part 01..nn of the list."),
    _r("ASM-FINAL-MISSING", "L2", _E, 13, "No final part (F) received", f"{_ISO} UNH S010 0073",
       "Mark the last part with F in UNH S010 (e.g. 03:F)."),
    _r("ASM-PART-ORDER", "L2", _I, None, "Parts received out of order", f"{_ISO} UNH S010",
       "Nothing to fix; parts are reordered by sequence number."),
    _r("ASM-CNT-MISMATCH", "L4", _E, None, "CNT differs from the travellers of all parts", f"{_MIG} CNT; 2.4",
       "CNT on the final part counts the travellers of all parts."),
    _r("ASM-HEADER-MISMATCH", "L2", _E, None, "Parts disagree on header data", f"{_MIG} 2.4",
       "Repeat the same BGM, reporting party and flight legs in every part."),
)

RULES: dict[str, RuleInfo] = {r.id: r for r in _CATALOGUE}
"""Every rule id the package emits, by id."""

# Traveller fields a profile can require, and the rule each missing field raises.
REQUIRED_FIELD_RULES: dict[str, str] = {
    "surname": "DAT-NAME-MISSING",
    "given_names": "REQ-GIVEN-NAMES",
    "gender": "REQ-GENDER",
    "date_of_birth": "REQ-DOB",
    "nationality": "REQ-NATIONALITY",
    "residence_country": "REQ-RESIDENCE",
    "birth_place": "REQ-BIRTH-PLACE",
    "embarkation": "REQ-EMBARKATION",
    "debarkation": "REQ-DEBARKATION",
    "document": "REQ-DOCUMENT",
    "doc_type": "DAT-DOC-TYPE-MISSING",
    "doc_number": "REQ-DOC-NUMBER",
    "doc_expiry": "REQ-DOC-EXPIRY",
    "doc_issuing_state": "REQ-DOC-ISSUING-STATE",
    "ref_avf": "REQ-RFF-AVF",
    "ref_abo": "REQ-RFF-ABO",
    "ref_sea": "REQ-RFF-SEA",
    "ref_yzy": "REQ-RFF-YZY",
}


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table, for docs/profiles.md."""
    lines = ["| rule | layer | default | CONTRL 0085 | MIG only | title | reference | fix |",
             "|---|---|---|---|---|---|---|---|"]
    for r in _CATALOGUE:
        contrl = "" if r.contrl is None else str(r.contrl)
        lines.append(f"| `{r.id}` | {r.layer} | {r.severity.value} | {contrl} "
                     f"| {'yes' if r.mig else ''} | {r.title} | {r.reference} | {r.hint} |")
    return "\n".join(lines)
