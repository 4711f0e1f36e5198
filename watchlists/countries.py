"""Country names and codes to ISO 3166 alpha-2.

Strategy: one read-only table built at import from pycountry (codes, names, official and common
names, historic countries) plus the handful of spellings sanctions lists use that ISO does not
("Korea, North", "Burma", "Palestinian", "Democratic People's Republic of Korea"). Lookups on the
hot path are one dict access; `to_alpha2` never raises.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from types import MappingProxyType

import pycountry

_EXTRA: dict[str, str] = {
    "korea north": "KP",
    "north korea": "KP",
    "democratic peoples republic of korea": "KP",
    "dprk": "KP",
    "korea south": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "burma": "MM",
    "palestinian": "PS",
    "palestine": "PS",
    "state of palestine": "PS",
    "gaza": "PS",
    "west bank": "PS",
    "iran islamic republic of": "IR",
    "congo democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "drc": "CD",
    "congo republic of the": "CG",
    "republic of the congo": "CG",
    "united kingdom of great britain and northern ireland": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "united states of america": "US",
    "usa": "US",
    "russia": "RU",
    "syria": "SY",
    "turkey": "TR",
    "turkiye": "TR",
    "north macedonia the republic of": "MK",
    "macedonia": "MK",
    "kosovo": "XK",
    "laos": "LA",
    "vietnam": "VN",
    "tanzania": "TZ",
    "united republic of tanzania": "TZ",
    "bolivia": "BO",
    "venezuela": "VE",
    "moldova": "MD",
    "taiwan": "TW",
    "ivory coast": "CI",
    "cote divoire": "CI",
    "czech republic": "CZ",
    "the gambia": "GM",
    "gambia the": "GM",
    "bahamas the": "BS",
    "soviet union": "SU",
    "ussr": "SU",
    "yugoslavia": "YU",
    "serbia and montenegro": "CS",
}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", " ", folded.lower().replace("'", "")).strip()


def _build() -> MappingProxyType[str, str]:
    table: dict[str, str] = {}
    for country in list(pycountry.historic_countries) + list(pycountry.countries):
        alpha2 = country.alpha_2
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                table[_key(value)] = alpha2
    table.update(_EXTRA)
    return MappingProxyType(table)


_TABLE = _build()


@lru_cache(maxsize=1 << 12)
def to_alpha2(value: str | None) -> str | None:
    """ISO alpha-2 for a code or a country name as lists and travellers write them; None if unknown.

    Memoised (bounded LRU): a few hundred spellings make up all traffic, and the Unicode folding
    in `_key` costs more than the lookup."""
    if not value:
        return None
    key = _key(value)
    if not key or key in {"na", "n a", "unknown"}:
        return None
    found = _TABLE.get(key)
    if found is None and "," in value:  # "Congo, Democratic Republic of the" style
        head, _, tail = value.partition(",")
        found = _TABLE.get(_key(f"{tail} {head}"))
    return found
