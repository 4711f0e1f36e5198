"""EDIFACT dates and times: format codes, two-digit years, local time to UTC by airport.

Strategy: slice digits (no strptime on the hot path), resolve the century by what the date means
(a birth lies in the past, an expiry near the journey, a flight near the interchange), and cache
one ZoneInfo per airport.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from ._codelists import airport_tz

# Half of the shortest century (36,524 days): a date nearer than this to the reference is nearer
# than the same day a century earlier or later, so `resolve_near` need not try those.
_HALF_CENTURY_DAYS = 18262


def parse_digits(value: str, fmt: str | None) -> tuple[int | None, int, int, int, int] | None:
    """Return (year or None for 2-digit, yy/yyyy, month, day, minutes) or None if unreadable.

    The first item is the full year when the value carries one, else None and the second item is
    the two-digit year.
    """
    v = value.strip()
    if not (v.isascii() and v.isdigit()):  # "¹".isdigit() is True but int("¹") fails
        return None
    n = len(v)
    if fmt in ("102",) or (fmt is None and n == 8):
        if n != 8:
            return None
        return int(v[:4]), int(v[:4]), int(v[4:6]), int(v[6:8]), -1
    if fmt == "203" or (fmt is None and n == 12):
        if n != 12:
            return None
        return int(v[:4]), int(v[:4]), int(v[4:6]), int(v[6:8]), int(v[8:10]) * 60 + int(v[10:12])
    if fmt == "201" or (fmt is None and n == 10):
        if n != 10:
            return None
        return None, int(v[:2]), int(v[2:4]), int(v[4:6]), int(v[6:8]) * 60 + int(v[8:10])
    if fmt in ("101", None) and n == 6:
        return None, int(v[:2]), int(v[2:4]), int(v[4:6]), -1
    return None


def resolve_past(yy: int, month: int, day: int, reference: date) -> date | None:
    """A two-digit year for a birth: the most recent century that keeps the date in the past."""
    year = reference.year // 100 * 100 + yy
    try:
        d = date(year, month, day)
        if d <= reference:
            return d
    except ValueError:  # 29 February exists in 2000 but not in 2100: try the other century, not give up
        pass
    try:
        d = date(year - 100, month, day)
    except ValueError:
        return None
    return d if d <= reference else None


def resolve_near(yy: int, month: int, day: int, reference: date) -> date | None:
    """A two-digit year for an expiry or a flight: the century closest to the reference."""
    base = (reference.year // 100) * 100 + yy
    try:  # within half a century of the reference: the centuries either side are further away
        d = date(base, month, day)
        if abs((d - reference).days) < _HALF_CENTURY_DAYS:
            return d
    except ValueError:
        pass
    best: date | None = None
    for year in (base - 100, base, base + 100):
        try:
            d = date(year, month, day)
        except ValueError:  # 29 February of a non-leap century: another century may still hold it
            continue
        if best is None or abs((d - reference).days) < abs((best - reference).days):
            best = d
    return best


def to_date(value: str, fmt: str | None, reference: date, *, past: bool) -> date | None:
    if fmt is None and len(value) == 6 and value.isdigit() and value.isascii():
        # YYMMDD, as births and expiries nearly always come: what parse_digits would return, from one int()
        v = int(value)
        return (resolve_past if past else resolve_near)(v // 10000, v // 100 % 100, v % 100, reference)
    parts = parse_digits(value, fmt)
    if parts is None:
        return None
    year, yy, month, day, _ = parts
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return resolve_past(yy, month, day, reference) if past else resolve_near(yy, month, day, reference)


def to_datetime(value: str, fmt: str | None, reference: date) -> datetime | None:
    parts = parse_digits(value, fmt)
    if parts is None:
        return None
    year, yy, month, day, minutes = parts
    if minutes < 0:
        minutes = 0
    if minutes >= 24 * 60:
        return None
    if year is None:
        d = resolve_near(yy, month, day, reference)
    else:
        try:
            d = date(year, month, day)
        except ValueError:
            d = None
    if d is None:
        return None
    return datetime(d.year, d.month, d.day, minutes // 60, minutes % 60)


@lru_cache(maxsize=4096)
def _zone(airport: str) -> ZoneInfo | None:
    name = airport_tz(airport)
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except Exception:  # unknown zone name in the reference data
        return None


def local_to_utc(local: datetime | None, airport: str | None) -> datetime | None:
    """Scheduled times in PAXLST are local to the airport; UTC needs the airport's zone."""
    if local is None or not airport:
        return None
    zone = _zone(airport)
    if zone is None:
        return None
    return local.replace(tzinfo=zone).astimezone(UTC)
