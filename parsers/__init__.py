"""EDIFACT PAXLST/CUSRES reading, validation and writing: pure functions, no I/O.

Bytes in, models and findings out. Everything national is a profile (data), not code.
"""

from ._lexer import Separators
from .models import (
    Finding,
    FlightLeg,
    Interchange,
    InterchangeHeader,
    Manifest,
    MessageHeader,
    Response,
    Severity,
    TravelDocument,
    Traveller,
)
from .reader import read_interchange
from .writer import write_paxlst

__all__ = [
    "Finding",
    "FlightLeg",
    "Interchange",
    "InterchangeHeader",
    "Manifest",
    "MessageHeader",
    "Response",
    "Separators",
    "Severity",
    "TravelDocument",
    "Traveller",
    "read_interchange",
    "write_paxlst",
]
