"""Synthetic, realistic PAXLST manifests: for the conformance kit, property tests and benchmarks.

Strategy: every random choice comes from one seeded `random.Random`, and all reference data are
tuples or insertion-ordered dicts, so a seed always gives the same bytes. Travellers are built as
plain dicts exactly as the reader would fill them (name as sent plus its normalised form, raw and
resolved dates, local and UTC times) and each message becomes a `Manifest` in one
`model_validate` call, so reading the written bytes back gives the same values (segment positions
aside). Bytes come from `parsers.write_paxlst`, the project's own writer. Realism lives in
`names.py` (cultures, airports, carriers) and in the small distributions below (ages, documents,
bags, seats, families sharing a booking); planted watchlist names and expired documents are
injected on top, from their own random stream, so they never shift the rest of the data.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from parsers import DEFAULT_SEPARATORS as DEFAULT
from parsers import Manifest, Separators, write_paxlst
from parsers import normalise_name as normalise

from .names import AIRPORTS, CARRIERS, CULTURES, ID_CARD_REGIONS, SCHENGEN, Culture

__all__ = [
    "Flight",
    "Plant",
    "generate_flights",
    "generate_interchange_bytes",
    "generate_manifest",
    "plant_names",
    "random_flight",
    "to_bytes",
]

Plant = Sequence[tuple[str, str, date]]  # (surname, given names, date of birth)

_PNR_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SEAT_LETTERS = "ABCDEFGHJK"
_DEU_ALNUM = "CFGHJKLMNPRTVWXYZ0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_UNOA_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-/")
_PLANT_SALT = 0x5EED_9A17

# Document number formats: '#' digit, '@' letter, '*' alphanumeric (German alphabet); others literal.
_PASSPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "USA": ("#########", "@########"), "GBR": ("#########",), "IRL": ("@@#######",), "CAN": ("@@######",),
    "AUS": ("@#######", "@@#######"), "NZL": ("@@######",), "DEU": ("C********",), "FRA": ("##@@#####",),
    "ITA": ("@@#######",), "ESP": ("@@@######",), "PRT": ("@######",), "NLD": ("@@*******",),
    "BEL": ("@@######",), "CHE": ("@#######",), "AUT": ("P#######",), "SWE": ("########",),
    "NOR": ("########",), "DNK": ("#########",), "FIN": ("@@#######",), "POL": ("@@#######",),
    "RUS": ("#########",), "UKR": ("@@######",), "CHN": ("E########", "E@#######"), "HKG": ("K########",),
    "TWN": ("#########",), "JPN": ("@@#######",), "KOR": ("M########",), "IND": ("@#######",),
    "PAK": ("@@#######",), "BGD": ("@@#######",), "LKA": ("N#######",), "VNM": ("@#######",),
    "THA": ("@@#######",), "MYS": ("@########",), "IDN": ("@#######",), "PHL": ("P#######@",),
    "SGP": ("@#######@",), "SAU": ("@#######",), "ARE": ("#########",), "EGY": ("@########",),
    "TUR": ("U########",), "ISR": ("########",), "NGA": ("@########",), "GHA": ("G#######",),
    "ETH": ("EP#######",), "ZAF": ("@########",), "BRA": ("@@######",), "MEX": ("@########",),
    "ARG": ("@@@######",),
}
_ID_FORMATS: dict[str, tuple[str, ...]] = {
    "DEU": ("L********",), "FRA": ("*********",), "ITA": ("CA#####@@",), "NLD": ("@@*******",),
    "BEL": ("###-#######-##",), "PRT": ("########",),
}
# Arrival country -> DOC 3055 agency code as national profiles ask for it (brief §2.3).
_AGENCY = {"GBR": "109", "CHN": "ZZZ", "ARE": "ZZZ", "VNM": "ZZZ", "TUR": "ZZZ"}
# Age buckets (years, half-open) and their weights: infants to 90.
_AGE_BUCKETS: tuple[tuple[float, float, float], ...] = (
    (0.04, 2, 2.0), (2, 12, 8.0), (12, 18, 6.0), (18, 30, 20.0), (30, 45, 27.0), (45, 65, 26.0),
    (65, 80, 9.5), (80, 90, 1.5),
)
_CREW_AGES: tuple[tuple[float, float, float], ...] = ((21, 35, 4.0), (35, 50, 4.0), (50, 65, 2.0))


@dataclass(frozen=True, slots=True)
class Airport:
    code: str
    country: str  # alpha-3
    zone: ZoneInfo
    lat: float
    lon: float
    city: str


@dataclass(frozen=True, slots=True)
class _World:
    """Reference data resolved once: airports with zones, carriers and cultures by country."""

    airports: tuple[Airport, ...]
    airports_by_country: dict[str, tuple[Airport, ...]]
    carriers_by_country: dict[str, tuple[str, ...]]
    carriers: tuple[str, ...]
    cultures: tuple[Culture, ...]
    culture_cum: tuple[float, ...]  # cumulative weights, for bisect
    culture_by_country: dict[str, Culture]


@dataclass(frozen=True, slots=True)
class Flight:
    """One scheduled flight as the generator chose it."""

    carrier: str
    number: str
    origin: Airport
    destination: Airport
    departure_local: datetime
    arrival_local: datetime
    departure_utc: datetime
    arrival_utc: datetime

    @property
    def flight_id(self) -> str:
        return f"{self.carrier}{self.number}"

    @property
    def common_access_ref(self) -> str:
        """`<carrier><flight>/<YYMMDD>/<HHMM>` from the arrival, as astra builds it (brief §2.4)."""
        return f"{self.flight_id}/{self.arrival_local:%y%m%d}/{self.arrival_local:%H%M}"


def _city(name: str) -> str:
    from anyascii import anyascii

    text = anyascii(name).upper()
    return "".join(ch for ch in text if ch in _UNOA_OK).strip()


@lru_cache(maxsize=1)
def _world() -> _World:
    import airportsdata
    import pycountry

    a2to3 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}
    data = airportsdata.load("IATA")
    airports: list[Airport] = []
    for code in dict.fromkeys(AIRPORTS):
        a = data.get(code)
        if a is None or not a["tz"] or a["country"] not in a2to3:
            continue
        airports.append(Airport(code, a2to3[a["country"]], ZoneInfo(a["tz"]), float(a["lat"]),
                                float(a["lon"]), _city(a["city"])))
    by_country: dict[str, list[Airport]] = {}
    for ap in airports:
        by_country.setdefault(ap.country, []).append(ap)
    carriers: dict[str, list[str]] = {}
    for code, country in CARRIERS:
        carriers.setdefault(country, []).append(code)
    culture_by_country: dict[str, Culture] = {}
    for c in CULTURES:
        for country in c.countries:
            culture_by_country.setdefault(country, c)
    return _World(
        airports=tuple(airports),
        airports_by_country={k: tuple(v) for k, v in by_country.items()},
        carriers_by_country={k: tuple(v) for k, v in carriers.items()},
        carriers=tuple(code for code, _ in CARRIERS),
        cultures=CULTURES,
        culture_cum=_cumulative(tuple((0.0, 0.0, c.weight) for c in CULTURES)),
        culture_by_country=culture_by_country,
    )


def _fill(rng: random.Random, fmt: str) -> str:
    rnd = rng.random
    out = []
    for ch in fmt:
        if ch == "#":
            out.append(_DIGITS[int(rnd() * 10)])
        elif ch == "@":
            out.append(_LETTERS[int(rnd() * 26)])
        elif ch == "*":
            out.append(_DEU_ALNUM[int(rnd() * 27)])
        else:
            out.append(ch)
    return "".join(out)


def _doc_number(rng: random.Random, doc_type: str, state: str) -> str:
    """A number in the issuing state's format, so format checks in profiles have real input."""
    if doc_type == "I":
        if state == "ESP":  # DNI: eight digits and the real check letter
            n = rng.randrange(10_000_000, 100_000_000)
            return f"{n}{_DNI_LETTERS[n % 23]}"
        return _fill(rng, rng.choice(_ID_FORMATS.get(state, ("*********",))))
    if doc_type == "V":
        if state in SCHENGEN:
            return state + _fill(rng, "#########")
        return _fill(rng, "########" if state == "USA" else "V########")
    if doc_type == "AC":
        return _fill(rng, "@@#####")
    return _fill(rng, rng.choice(_PASSPORT_FORMATS.get(state, ("@@#######",))))


def _yymmdd(d: date) -> str:
    return f"{d.year % 100:02d}{d.month:02d}{d.day:02d}"  # strftime is slow on this path


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    """As the reader computes it: the local wall time in the airport's zone (fold 0), in UTC."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def random_flight(rng: random.Random, *, start: date = date(2025, 3, 1), days: int = 60,
                  arrivals: tuple[datetime, datetime] | None = None) -> Flight:
    """A flight between two large airports in different countries, with local times at each end.

    `arrivals` (two aware datetimes) puts the arrival in that window instead of departing on one of
    `days` days from `start`: the demo's flights arrive around the real clock. Without it the random
    stream is used exactly as before, so seeded suites keep their bytes.
    """
    w = _world()
    origin = rng.choice(w.airports)
    while True:
        destination = rng.choice(w.airports)
        if destination.country != origin.country:
            break
    home = w.carriers_by_country.get(origin.country, ()) + w.carriers_by_country.get(destination.country, ())
    carrier = rng.choice(home) if home and rng.random() < 0.85 else rng.choice(w.carriers)
    number = str(rng.randrange(1, 10) if rng.random() < 0.05 else rng.randrange(10, 2000))
    km = _distance_km(origin, destination)
    minutes = int((km / 830 + 0.5) * 60 / 5) * 5
    if arrivals is not None:
        lo, hi = (t.astimezone(UTC).replace(second=0, microsecond=0) for t in arrivals)
        lo += timedelta(minutes=-lo.minute % 5)  # schedules are on the five minutes
        arr_utc = lo + timedelta(minutes=5 * rng.randrange(max(int((hi - lo).total_seconds() // 300), 1)))
        dep_local = (arr_utc - timedelta(minutes=minutes)).astimezone(origin.zone).replace(tzinfo=None)
    else:
        day = start + timedelta(days=rng.randrange(days))
        dep_local = datetime(day.year, day.month, day.day) + timedelta(minutes=5 * rng.randrange(60, 288))
    dep_utc = _utc(dep_local, origin.zone)
    arr_local = (dep_utc + timedelta(minutes=minutes)).astimezone(destination.zone).replace(tzinfo=None)
    return Flight(carrier, number, origin, destination, dep_local, arr_local, dep_utc,
                  _utc(arr_local, destination.zone))


def _distance_km(a: Airport, b: Airport) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0 * math.acos(max(-1.0, min(1.0, c)))


def _cumulative(buckets: tuple[tuple[float, float, float], ...]) -> tuple[float, ...]:
    total, out = 0.0, []
    for b in buckets:
        total += b[2]
        out.append(total)
    return tuple(out)


_AGE_CUM = _cumulative(_AGE_BUCKETS)
_CREW_CUM = _cumulative(_CREW_AGES)


def _age_days(rng: random.Random, crew: bool) -> int:
    buckets, cum = (_CREW_AGES, _CREW_CUM) if crew else (_AGE_BUCKETS, _AGE_CUM)
    lo, hi, _ = buckets[bisect(cum, rng.random() * cum[-1])]
    return int((lo + (hi - lo) * rng.random()) * 365.25)


def _pnr(rng: random.Random) -> str:
    """Six characters from a 32-letter alphabet: one call for 30 random bits."""
    bits = rng.getrandbits(30)
    return "".join(_PNR_CHARS[(bits >> s) & 31] for s in (0, 5, 10, 15, 20, 25))


def _feminine(surname: str, style: str) -> str:
    if style == "russian" and surname.endswith(("OV", "EV", "IN")):
        return surname + "A"
    if style == "slavic":
        if surname.endswith(("SKI", "CKI")):
            return surname[:-1] + "A"
        if surname == "NOVAK":
            return "NOVAKOVA"
        if surname == "SVOBODA":
            return "SVOBODOVA"
    if style == "greek":
        if surname.endswith("OS"):
            return surname[:-2] + "OU"
        if surname.endswith("IS"):
            return surname[:-1]
    return surname


def _person_name(rng: random.Random, c: Culture, female: bool, family: str | None) -> tuple[str, list[str]]:
    """Surname and given-name components as a DCS writes them for this culture."""
    style = c.style
    pool = c.female if female else c.male
    given = rng.choice(pool)
    surname = family if family is not None else rng.choice(c.surnames)
    extra: list[str] = []
    r = rng.random()
    if style in ("spanish", "portuguese"):
        if family is None and r < 0.8:
            second = rng.choice(c.surnames)
            if second != surname:
                surname = f"DOS {surname}" if style == "portuguese" and r < 0.1 else f"{surname} {second}"
        if rng.random() < 0.3:
            given = f"{given} {rng.choice(pool)}"
    elif style == "arabic":
        if r < 0.4:
            extra.append(rng.choice(c.male))  # father's name as a middle name
    elif style == "vietnamese":
        middle = "THI" if female else "VAN"
        if r < 0.5:
            given = f"{middle} {given}"
        elif r < 0.8:
            extra, given = [given], middle
    elif style == "indian":
        if r < 0.03:
            surname, given = given, "FNU"  # a single-name traveller; the DCS fills the given name
    elif style == "french":
        if r < 0.2:
            given = f"{given}-{rng.choice(pool)}"
    elif style == "anglo":
        if r < 0.03:
            surname = f"{surname}-{rng.choice(c.surnames)}"
        elif r < 0.35:
            extra.append(rng.choice(pool))
    elif r < 0.15:
        extra.append(rng.choice(pool))
    if female and family is None:
        surname = _feminine(surname, style)
    return surname, [given, *extra]


class _Builder:
    """Builds one flight's travellers as reader-shaped dicts; holds per-flight choices."""

    def __init__(self, rng: random.Random, flight: Flight, hint: str | None, expired_share: float) -> None:
        self.rng = rng
        self.f = flight
        self.hint = (hint or "").lower()
        self.expired_share = expired_share
        self.dep_day = flight.departure_local.date()
        self.arr_country = flight.destination.country
        self.agency = _AGENCY.get(self.arr_country, "111")
        w = _world()
        self.w = w
        self.local_cultures = [w.culture_by_country[c] for c in (flight.origin.country, self.arr_country)
                               if c in w.culture_by_country]
        self.serial = 0
        # Nationals of these countries may show an ID card on this route (same region at both ends).
        self.id_card_ok = next((r for r in ID_CARD_REGIONS if flight.origin.country in r
                                and self.arr_country in r), frozenset())

    def _culture_and_nationality(self) -> tuple[Culture, str]:
        rng, w = self.rng, self.w
        if self.local_cultures and rng.random() < 0.55:
            c = rng.choice(self.local_cultures)
            ends = [x for x in (self.f.origin.country, self.arr_country) if x in c.countries]
            return c, rng.choice(ends) if ends and rng.random() < 0.9 else rng.choice(c.countries)
        c = w.cultures[bisect(w.culture_cum, rng.random() * w.culture_cum[-1])]
        return c, c.countries[0] if rng.random() < 0.5 else rng.choice(c.countries)

    def _document(self, doc_type: str, state: str, dob: date, years: int) -> dict[str, Any]:
        rng = self.rng
        span = 365 * years + years // 4
        if rng.random() < self.expired_share:
            expiry = self.dep_day - timedelta(days=1 + int(rng.random() * 400))
        else:
            lo = max((dob - self.dep_day).days + span, 1)  # issued on or after the birth
            expiry = self.dep_day + timedelta(days=lo + int(rng.random() * (span + 1 - lo)) if lo <= span else lo)
        doc: dict[str, Any] = {"doc_type": doc_type, "number": _doc_number(rng, doc_type, state),
                               "agency": self.agency, "expiry": expiry, "expiry_raw": _yymmdd(expiry),
                               "issuing_state": state}
        if rng.random() < 0.12:
            issued = expiry - timedelta(days=span)
            if issued > dob:
                doc["issue_date"], doc["issue_date_raw"] = issued, _yymmdd(issued)
        return doc

    def person(self, *, crew: bool, family: tuple[Culture, str, str] | None = None,
               pnr: str | None = None, seat: str | None = None) -> dict[str, Any]:
        rng, f = self.rng, self.f
        self.serial += 1
        if crew:
            home = self.w.carriers_by_country
            country = next((k for k, v in home.items() if f.carrier in v), f.origin.country)
            culture = self.w.culture_by_country.get(country)
            if culture is None or rng.random() < 0.2:
                culture, country = self._culture_and_nationality()
            nationality = country
        elif family is not None:
            culture, nationality, _ = family
        else:
            culture, nationality = self._culture_and_nationality()
        female = rng.random() < 0.5
        surname, given = _person_name(rng, culture, female, family[2] if family else None)
        g = rng.random()
        gender = "U" if g < 0.005 else "X" if g < 0.007 else "F" if female else "M"
        age = _age_days(rng, crew)
        dob = self.dep_day - timedelta(days=age)
        t: dict[str, Any] = {
            "role": "crew" if crew else "passenger", "party_function": "FM" if crew else "FL",
            "surname": surname, "given_names": given,
            "gender": gender, "date_of_birth": dob, "date_of_birth_raw": _yymmdd(dob),
            "embarkation": f.origin.code, "debarkation": f.destination.code,
            "nationality": nationality, "references": {}, "documents": [], "bag_tags": [],
        }
        t["full_name"], t["matching_key"] = normalise(surname, given)
        if not crew and rng.random() < 0.03:
            t["role"], t["party_function"] = "transit_passenger", "DDU"
        hint = self.hint
        if "tolerant" in hint and rng.random() < 0.05:
            del t["nationality"]
        r = rng.random()
        if r < 0.6:
            t["verified"] = True
        elif r < 0.7:
            t["verified"] = False
        if not crew and rng.random() < 0.35:
            bags = 1 if rng.random() < 0.7 else rng.randrange(2, 4)
            t["bag_count"] = bags
            t["bag_weight"] = float(rng.randrange(16, 64 * bags)) / 2
            t["bag_weight_unit"] = "KGM"
            t["bag_tags"].append({"first_tag": f"0{rng.getrandbits(32) % 900_000_000 + 100_000_000}",
                                  "count": bags})
        if rng.random() < 0.2:
            t["residence_country"] = nationality
        if crew or rng.random() < 0.1:
            t["birth_country"] = nationality
            places = self.w.airports_by_country.get(nationality)
            if places:
                t["birth_place"] = rng.choice(places).city or None
        if crew:
            t["crew_function"] = "CR1" if rng.random() < 0.25 else "CR2"
        else:
            refs: dict[str, list[str]] = t["references"]
            refs["AVF"] = [pnr or _pnr(rng)]
            refs["ABO"] = [f"{rng.getrandbits(16):04X}{self.serial:06d}"]
            if seat:
                refs["SEA"] = [seat]
            if self.arr_country == "CHN" or "china" in hint:
                refs["YZY"] = [f"{rng.getrandbits(43) % 9 * 10**12 + 10**12 + rng.getrandbits(40) % 10**12}C1"]
        # Documents: a passport mostly, an ID card inside its region, a visa as a second document.
        doc_type = "P"
        if not crew and nationality in self.id_card_ok and rng.random() < 0.45:
            doc_type = "I"
        years = 5 if age < 18 * 365 else 10
        doc = self._document(doc_type, nationality, dob, years)
        if "tolerant" in hint and rng.random() < 0.1:
            del doc["expiry"], doc["expiry_raw"]
        t["documents"].append(doc)
        visa_share = 0.5 if "germany" in hint else 0.12
        if (not crew and nationality != self.arr_country and doc_type == "P" and rng.random() < visa_share):
            t["documents"].append(self._document("V", self.arr_country, self.dep_day - timedelta(days=30), 2))
        if crew and rng.random() < 0.3:
            t["documents"].append(self._document("AC", nationality, dob, 5))
        return t

    def passengers(self, n: int) -> list[dict[str, Any]]:
        """Bookings of one to five people; families share a surname, nationality and PNR."""
        rng = self.rng
        out: list[dict[str, Any]] = []
        row = 1
        while len(out) < n:
            size = min(n - len(out), 1 if rng.random() < 0.6 else rng.randrange(2, 6))
            pnr = _pnr(rng)
            family: tuple[Culture, str, str] | None = None
            if size > 1 and rng.random() < 0.5:
                culture, nationality = self._culture_and_nationality()
                family = (culture, nationality, rng.choice(culture.surnames))
            row = row + rng.randrange(0, 2) if row < 70 else rng.randrange(1, 20)
            letters = rng.randrange(0, max(1, len(_SEAT_LETTERS) - size + 1))
            for k in range(size):
                seat = f"{row}{_SEAT_LETTERS[(letters + k) % len(_SEAT_LETTERS)]}" if rng.random() < 0.9 else None
                out.append(self.person(crew=False, family=family, pnr=pnr, seat=seat))
        return out


def _leg(f: Flight) -> dict[str, Any]:
    return {
        "transport_stage": "20", "flight_id": f.flight_id, "carrier": f.carrier, "flight_number": f.number,
        "departure_airport": f.origin.code, "departure_local": f.departure_local,
        "departure_utc": f.departure_utc, "arrival_airport": f.destination.code,
        "arrival_local": f.arrival_local, "arrival_utc": f.arrival_utc,
        "stops": [
            {"qualifier": "125", "airport": f.origin.code, "time_qualifier": "189",
             "local_time": f.departure_local, "utc_time": f.departure_utc},
            {"qualifier": "87", "airport": f.destination.code, "time_qualifier": "232",
             "local_time": f.arrival_local, "utc_time": f.arrival_utc},
        ],
    }


def _manifests(f: Flight, travellers: list[dict[str, Any]], *, crew: bool, max_per_part: int | None,
               control_ref: int, version: int = 1) -> list[Manifest]:
    """Split one flight's list into parts that share the common access reference and the CNT total."""
    size = max_per_part or max(len(travellers), 1)
    chunks = [travellers[i:i + size] for i in range(0, len(travellers), size)] or [[]]
    if len(chunks) > 99:
        raise ValueError(f"{len(chunks)} parts: the UNH sequence number allows at most 99")
    carrier_phone = f"+{control_ref % 90 + 10} 20 7946 {control_ref % 10_000:04d}"
    out: list[Manifest] = []
    for i, chunk in enumerate(chunks, start=1):
        ref = control_ref + i - 1
        m: dict[str, Any] = {
            "header": {
                "message_ref": str(i), "message_type": "PAXLST", "version": "D", "release": "05B",
                "agency": "UN", "association": "IATA", "common_access_ref": f.common_access_ref,
                "sequence": i, "sequence_flag": "F" if i == len(chunks) else "C",
                "sender": f"{f.carrier}APIS", "recipient": f"{f.destination.country}APIS",
                "interchange_ref": f"{ref:09d}", "application_ref": "APIS",
            },
            "document_code": "250" if crew else "745", "document_id": "C" if crew else None,
            "transaction_ref": f"{f.flight_id}{f.departure_local:%y%m%d%H%M}", "transaction_revision": str(version),
            "reporting_party": {"function": "MS", "name": f"{f.carrier} APIS DESK",
                                "contacts": [{"number": carrier_phone, "channel": "TE"}]},
            "legs": [_leg(f)], "travellers": chunk,
            "totals": {"crew": len(travellers)} if crew else {"passengers": len(travellers)},
            "parts": [i], "complete": i == len(chunks),
        }
        out.append(Manifest.model_validate(m))
    return out


def plant_names(manifests: Sequence[Manifest], plant: Plant, rng: random.Random) -> list[tuple[int, int]]:
    """Give random distinct travellers the planted names and birth dates (for watchlist screening).

    Returns (manifest index, traveller index) of each planted name, in the order of `plant`.
    """
    slots = [(i, j) for i, m in enumerate(manifests) for j in range(len(m.travellers))]
    if len(plant) > len(slots):
        raise ValueError(f"{len(plant)} names to plant but only {len(slots)} travellers")
    chosen = rng.sample(slots, len(plant))
    for (i, j), (surname, given, dob) in zip(chosen, plant, strict=True):
        t = manifests[i].travellers[j]
        names = given.split()
        t.surname, t.given_names = surname, names
        t.full_name, t.matching_key = normalise(surname, names)
        t.date_of_birth, t.date_of_birth_raw = dob, _yymmdd(dob)
    return chosen


def generate_manifest(rng: random.Random, *, travellers: int = 180, crew: bool = False,
                      profile_hint: str | None = None, plant: Plant | None = None,
                      expired_share: float = 0.005, flight: Flight | None = None) -> Manifest:
    """One single-part (01:F) passenger list, or a crew list (BGM 250) with `crew=True`."""
    f = flight or random_flight(rng)
    b = _Builder(rng, f, profile_hint, expired_share)
    people = [b.person(crew=True) for _ in range(travellers)] if crew else b.passengers(travellers)
    m = _manifests(f, people, crew=crew, max_per_part=None, control_ref=rng.randrange(1, 10**8))[0]
    if plant:
        plant_names([m], plant, random.Random(rng.getrandbits(64)))
    return m


def generate_flights(n_flights: int, *, seed: int, travellers_per_flight: tuple[int, int] = (150, 220),
                     max_per_part: int | None = None, crew_lists: bool = False,
                     profile_hint: str | None = None, plant: Plant | None = None,
                     expired_share: float = 0.005, start: date = date(2025, 3, 1),
                     arrivals: tuple[datetime, datetime] | None = None) -> list[list[Manifest]]:
    """Flights as lists of parts: one inner list per passenger list (and per crew list if asked).

    Parts of a list share the UNH common access reference, carry sequence 01:C ... nn:F and the
    whole-flight CNT total. Planted names come from a separate stream, so planting never changes
    the other travellers.
    """
    rng = random.Random(seed)
    lists: list[list[Manifest]] = []
    control_ref = 1
    lo, hi = travellers_per_flight
    for _ in range(n_flights):
        f = random_flight(rng, start=start, arrivals=arrivals)
        b = _Builder(rng, f, profile_hint, expired_share)
        pax = b.passengers(rng.randint(lo, hi))
        parts = _manifests(f, pax, crew=False, max_per_part=max_per_part, control_ref=control_ref)
        control_ref += len(parts)
        lists.append(parts)
        if crew_lists:
            crew = [b.person(crew=True) for _ in range(rng.randint(4, 18))]
            parts = _manifests(f, crew, crew=True, max_per_part=max_per_part, control_ref=control_ref)
            control_ref += len(parts)
            lists.append(parts)
    if plant:
        plant_names([m for parts in lists for m in parts if m.document_code == "745"], plant,
                    random.Random(seed ^ _PLANT_SALT))
    return lists


def to_bytes(manifest: Manifest, *, separators: Separators = DEFAULT, syntax_id: str = "UNOA",
             newline: bool = True) -> bytes:
    """One interchange for one part, as carriers send them, prepared two hours before departure."""
    leg = manifest.legs[0] if manifest.legs else None
    prepared = (leg.departure_local - timedelta(hours=2)) if leg and leg.departure_local else None
    return write_paxlst(manifest, separators=separators, prepared=prepared, syntax_id=syntax_id,
                        newline=newline)


def generate_interchange_bytes(n_flights: int, *, seed: int, travellers_per_flight: tuple[int, int] = (150, 220),
                               max_per_part: int | None = None, crew_lists: bool = False,
                               profile_hint: str | None = None, plant: Plant | None = None,
                               expired_share: float = 0.005, separators: Separators = DEFAULT,
                               syntax_id: str = "UNOA", newline: bool = True) -> list[bytes]:
    """`generate_flights` written out: one interchange per part, in flight and part order."""
    lists = generate_flights(n_flights, seed=seed, travellers_per_flight=travellers_per_flight,
                             max_per_part=max_per_part, crew_lists=crew_lists, profile_hint=profile_hint,
                             plant=plant, expired_share=expired_share)
    return [to_bytes(m, separators=separators, syntax_id=syntax_id, newline=newline)
            for parts in lists for m in parts]
