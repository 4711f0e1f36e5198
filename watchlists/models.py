"""The watchlist side of the domain model: entries, partial dates, hits and their explanations.

Strategy: one `WatchlistEntry` for every source (UN, OFAC, UK, national lists, document lists);
loaders map their format onto it and keep the source's own identifier in `id`. Dates of birth are
`PartialDate`s because lists say "1965", "approximately 1958" or "between 1960 and 1962" far more
often than they give a day. Explanations are data (`FeatureScore`) so that the CLI, the console
and the tests read the same thing an officer reads.
Why an entry is listed (programme, the source's reason, listing date) is carried for the officer
and never scored; those fields are left out of an entry's JSON when the list does not give them, so
an entry without them serialises byte for byte as before they existed (its fingerprint, and the
digest of a stored list version, stay the same).
"""

from __future__ import annotations

import builtins
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(StrEnum):
    """What kind of thing a list entry is; thresholds are set per list and category."""

    INDIVIDUAL = "individual"
    ENTITY = "entity"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    DOCUMENT = "document"  # a lost, stolen or revoked travel document


class PartialDate(_Model):
    """A date of birth as precise as the source gives it.

    `year_to` is set for ranges ("between 1960 and 1962", "1975 to 1977"); `approximate` for
    "circa"/"APPROXIMATELY", which widens the tolerance in scoring.
    """

    year: int
    month: int | None = None
    day: int | None = None
    year_to: int | None = None
    approximate: bool = False

    def __str__(self) -> str:
        if self.year_to is not None and self.year_to != self.year:
            return f"{self.year}..{self.year_to}" + ("~" if self.approximate else "")
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        return text + ("~" if self.approximate else "")


class NameVariant(_Model):
    """One way of writing the entry's name: the primary name, an alias, an original-script form."""

    name: str
    kind: str = "primary"  # primary | alias | weak_alias | original_script
    quality: str | None = None  # the source's own wording (UN "Good"/"Low", OFAC "aka"/"fka")

    @property
    def weak(self) -> bool:
        return self.kind == "weak_alias" or (self.quality or "").lower() in {"low", "weak"}


class Document(_Model):
    number: str
    doc_type: str | None = None  # passport, national_id, P, I, ...
    country: str | None = None  # ISO 3166 alpha-2 where known
    note: str | None = None


def _absent(value: object) -> bool:
    return value is None or value == []


class WatchlistEntry(_Model):
    """One listed person, organisation, vessel or travel document."""

    id: str
    list: str
    category: Category = Category.INDIVIDUAL
    names: builtins.list[NameVariant] = Field(default_factory=builtins.list)
    dates_of_birth: builtins.list[PartialDate] = Field(default_factory=builtins.list)
    nationalities: builtins.list[str] = Field(default_factory=builtins.list)  # ISO 3166 alpha-2
    gender: str | None = None  # "M" | "F"
    documents: builtins.list[Document] = Field(default_factory=builtins.list)
    source_ref: str | None = None  # e.g. the UN reference number shared by several lists
    # Why the entry is listed, in the source's words (read by officers, never scored).
    programmes: builtins.list[str] = Field(default_factory=builtins.list, exclude_if=_absent)  # regime, programme
    reason: str | None = Field(default=None, exclude_if=_absent)  # statement of reasons, comments, remarks
    listed_on: PartialDate | None = Field(default=None, exclude_if=_absent)  # date of designation

    @property
    def primary_name(self) -> str:
        return str(self.names[0].name) if self.names else ""


class Rejected(_Model):
    """A row a loader could not use, and why. `where` is a line number or a record id."""

    where: str
    reason: str


class ScreeningQuery(_Model):
    """What a traveller presents: the same fields as the national format, all optional but one name."""

    id: str = ""
    full_name: str | None = None
    surname: str | None = None
    given_names: str | None = None
    date_of_birth: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD (lenient: 1969-7-16 is read)
    nationality: str | None = None  # alpha-2, alpha-3 or a country name
    gender: str | None = None
    document_number: str | None = None
    document_country: str | None = None

    @property
    def display_name(self) -> str:
        if self.full_name:
            return self.full_name
        return " ".join(p for p in (self.given_names, self.surname) if p)


class FeatureScore(_Model):
    """One line of an explanation: what was compared, what it gave, and how it moved the score."""

    feature: str  # name | date_of_birth | nationality | gender | document | rule
    outcome: str  # exact | close | year_only | mismatch | unknown | ocr_tolerant | ...
    contribution: float
    detail: str


class Hit(_Model):
    """A traveller matched to a list entry (or flagged by a rule), with a readable explanation."""

    traveller_id: str
    entry_id: str
    list: str
    category: Category | None = None
    score: float
    threshold: float
    matched_name: str | None = None
    explanation: builtins.list[FeatureScore] = Field(default_factory=builtins.list)

    def explain(self) -> str:
        """One sentence per feature, for a terminal or an alert."""
        lines = [f"score {self.score:.2f} (threshold {self.threshold:.2f}) against {self.list}:{self.entry_id}"]
        lines += [f"  {f.feature}: {f.outcome} ({f.contribution:+.2f}) {f.detail}" for f in self.explanation]
        return "\n".join(lines)
