"""Partial dates of birth: reading the many ways lists and travellers write them, and comparing them.

Strategy: everything becomes a `PartialDate` (year, optional month/day, optional range and
"approximate" flag). Comparison returns an outcome word and a contribution, so the scorer can
explain "year only", "day and month swapped" or "1 year apart" without re-deriving anything.
Invalid days (1974-01-32) are kept at month precision rather than rejected: a typo in a day must
not hide a year that agrees.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from watchlists.models import PartialDate

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_ISO = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")
_DMY_TEXT = re.compile(r"^(?:(\d{1,2})\s+)?([A-Za-z]{3})[a-z]*\.?\s+(\d{4})$")
_DMY_NUM = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_YEAR_RANGE = re.compile(r"^(\d{4})\s*(?:to|-|–)\s*(\d{4})$")
_CIRCA = re.compile(r"^(?:circa|approximately|approx\.?|c\.|about)\s+", re.IGNORECASE)


def _valid_month(month: int | None) -> int | None:
    return month if month is not None and 1 <= month <= 12 else None


def _valid_day(day: int | None) -> int | None:
    return day if day is not None and 1 <= day <= 31 else None


def make_date(year: int, month: int | None = None, day: int | None = None, *,
              year_to: int | None = None, approximate: bool = False) -> PartialDate | None:
    """A PartialDate with out-of-range parts dropped (not rejected); None for an implausible year."""
    if not 1850 <= year <= 2100:
        return None
    m = _valid_month(month)
    d = _valid_day(day) if m is not None else None
    return PartialDate(year=year, month=m, day=d, year_to=year_to if year_to != year else None,
                       approximate=approximate)


@lru_cache(maxsize=1 << 15)
def parse_date(text: str | None) -> PartialDate | None:
    """Read YYYY, YYYY-MM, YYYY-MM-DD (lenient padding), '12 Jan 1960', 'Jan 1960', 'circa 1960',
    '1960 to 1962' and DD/MM/YYYY. Returns None when nothing usable is there.

    Memoised (bounded LRU: 32,768 dates, about 90 years of birthdays, ~35 MB when full): travellers'
    dates repeat, and the regexes plus model validation cost ~15 us. `PartialDate` is frozen, so a
    shared result cannot be altered by a caller."""
    if not text:
        return None
    value = text.strip().rstrip(".")
    approximate = False
    if _CIRCA.match(value):
        approximate = True
        value = _CIRCA.sub("", value)
    if m := _ISO.match(value):
        return make_date(int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None,
                         approximate=approximate)
    if m := _YEAR_RANGE.match(value):
        return make_date(int(m[1]), year_to=int(m[2]), approximate=approximate)
    if m := _DMY_TEXT.match(value):
        month = _MONTHS.get(m[2].lower())
        return make_date(int(m[3]), month, int(m[1]) if m[1] else None, approximate=approximate)
    if m := _DMY_NUM.match(value):
        return make_date(int(m[3]), int(m[2]), int(m[1]), approximate=approximate)
    return None


class DateComparison(NamedTuple):
    outcome: str
    contribution: float
    detail: str


# Contributions to the 0..1 score; documented in docs/watchlists.md.
DOB_EXACT = 0.06
DOB_PARTIAL = 0.03
DOB_CLOSE = 0.0
DOB_MISMATCH = -0.12
DOB_FAR = -0.20


def compare_dob(query: PartialDate, listed: list[PartialDate], tolerance_years: int = 1) -> DateComparison:
    """Best agreement between what the traveller presents and any of the listed dates of birth."""
    best: DateComparison | None = None
    for entry in listed:
        result = _compare_one(query, entry, tolerance_years)
        if best is None or result.contribution > best.contribution:
            best = result
    if best is None:
        return DateComparison("unknown", 0.0, "no date of birth on the list entry")
    return best


def _compare_one(q: PartialDate, e: PartialDate, tol: int) -> DateComparison:
    lo, hi = e.year, e.year_to if e.year_to is not None else e.year
    if e.approximate:
        lo, hi = lo - 1, hi + 1
    listed = str(e)
    if lo <= q.year <= hi:
        if e.year_to is not None or e.approximate:
            return DateComparison("in_range", DOB_PARTIAL, f"{q} within listed {listed}")
        if q.month is None or e.month is None:
            return DateComparison("year_only", DOB_PARTIAL, f"year {q.year} agrees (listed {listed})")
        if q.month == e.month:
            if q.day is None or e.day is None or q.day == e.day:
                return DateComparison("exact", DOB_EXACT, f"{q} equals listed {listed}")
            if abs(q.day - e.day) <= 1:
                return DateComparison("close", DOB_CLOSE, f"{q} one day from listed {listed}")
            return DateComparison("year_month", DOB_CLOSE, f"year and month agree, day differs ({listed})")
        if q.day is not None and e.day is not None and q.day == e.month and q.month == e.day:
            return DateComparison("day_month_swap", DOB_PARTIAL, f"{q} is listed {listed} with day/month swapped")
        if q.day is not None and q.day == e.day and abs(q.month - e.month) == 1:
            return DateComparison("close", DOB_CLOSE, f"{q} one month from listed {listed}")
        return DateComparison("year_only", DOB_CLOSE, f"year agrees, month differs (listed {listed})")
    gap = min(abs(q.year - lo), abs(q.year - hi))
    if 99 <= gap <= 101 and q.month is not None:
        # Travel documents and PAXLST (DTM 329) write two-digit years: a traveller born in 1925 reads as 2025.
        # The same day a century apart is that ambiguity, not a different person.
        shifted = PartialDate.model_construct(year=q.year - 100 if q.year > hi else q.year + 100, month=q.month,
                                              day=q.day, year_to=None, approximate=False)
        again = _compare_one(shifted, e, 0)
        if again.outcome in ("exact", "close"):
            return DateComparison("century", min(again.contribution, DOB_CLOSE),
                                  f"{q} is listed {listed} a century apart (two-digit year)")
    if gap <= tol:
        return DateComparison("close", DOB_CLOSE, f"{q} is {gap} year(s) from listed {listed}")
    if gap <= 5:
        return DateComparison("mismatch", DOB_MISMATCH, f"{q} is {gap} years from listed {listed}")
    return DateComparison("mismatch", DOB_FAR, f"{q} is {gap} years from listed {listed}")
