"""Reference code lists: countries (ISO 3166-1 + ICAO 9303 extras), airports, MIG codes.

Strategy: load each maintained source once, lazily, into frozensets and dicts; lookups on the
hot path are a set membership test. Nothing here is hand-maintained that a package maintains.
"""

from __future__ import annotations

from functools import lru_cache

# ICAO Doc 9303 Part 3 codes that are not ISO 3166-1 alpha-3 country codes.
ICAO_EXTRA_CODES = frozenset({
    "D",  # Germany (legacy MRZ)
    "GBD", "GBN", "GBO", "GBP", "GBS",  # British nationality classes
    "UNO", "UNA", "UNK",  # United Nations
    "XXA", "XXB", "XXC", "XXX",  # stateless, refugees, unspecified
    "EUE",  # European Union
    "RKS",  # Kosovo
    "XBA", "XIM", "XCC", "XCO", "XEC", "XPO", "XES", "XMP", "XOM", "XDC", "XCE", "XAU", "XCT",
})


@lru_cache(maxsize=1)
def countries_alpha3() -> frozenset[str]:
    import pycountry

    codes = {c.alpha_3 for c in pycountry.countries}
    return frozenset(codes | ICAO_EXTRA_CODES)


@lru_cache(maxsize=1)
def countries_alpha2_to_3() -> dict[str, str]:
    import pycountry

    return {c.alpha_2: c.alpha_3 for c in pycountry.countries}


@lru_cache(maxsize=1)
def _airports() -> dict[str, tuple[str, str]]:
    import airportsdata

    data = airportsdata.load("IATA")
    return {code: (a["tz"], a["country"]) for code, a in data.items()}


def is_airport(code: str) -> bool:
    return code in _airports()


def airport_tz(code: str) -> str | None:
    a = _airports().get(code)
    return a[0] if a else None


def airport_country_alpha3(code: str) -> str | None:
    """The alpha-3 country of an IATA airport (airportsdata gives alpha-2)."""
    a = _airports().get(code)
    if a is None:
        return None
    return countries_alpha2_to_3().get(a[1])


def is_country(code: str) -> bool:
    return code in countries_alpha3()


ROLES = {"FL": "passenger", "FM": "crew", "DDU": "transit_passenger", "DDT": "transit_crew"}
