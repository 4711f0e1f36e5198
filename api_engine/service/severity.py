"""How urgent a hit is: one rule for the console's queue, four-eyes decisions and notifications.

Kept apart from the console so the service (notifications) applies the same rule without loading the web
application.
"""

from __future__ import annotations

from typing import Literal

SEVERITIES: tuple[Literal["high", "medium", "low"], ...] = ("high", "medium", "low")


def severity(score: float, category: str | None, declared: str | None = None) -> Literal["high", "medium", "low"]:
    """The severity a targeting rule declared (`hits.severity`) when there is one; otherwise high: a listed
    document, or score ≥ 0.95; medium: ≥ 0.90; low: below (yet over the list's threshold)."""
    for known in SEVERITIES:
        if declared == known:
            return known
    if category == "document" or score >= 0.95:
        return "high"
    return "medium" if score >= 0.90 else "low"
