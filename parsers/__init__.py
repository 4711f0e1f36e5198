"""EDIFACT PAXLST/CUSRES reading, validation and writing: pure functions, no I/O.

Bytes in, models and findings out. Everything national is a profile (data), not code.
"""

from ._budget import TOO_MANY as TOO_MANY_FINDINGS
from ._lexer import DEFAULT as DEFAULT_SEPARATORS
from ._lexer import Separators
from ._names import matching_key
from ._names import normalise as normalise_name
from .assembly import Assembly, assemble
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
from .profile import Profile, ProfileError, list_profiles, load_profile
from .reader import read_interchange
from .validate import apply_profile, validate_manifest
from .writer import write_paxlst

__all__ = [
    "DEFAULT_SEPARATORS",
    "TOO_MANY_FINDINGS",
    "Assembly",
    "Finding",
    "FlightLeg",
    "Interchange",
    "InterchangeHeader",
    "Manifest",
    "MessageHeader",
    "Profile",
    "ProfileError",
    "Response",
    "Separators",
    "Severity",
    "TravelDocument",
    "Traveller",
    "apply_profile",
    "assemble",
    "list_profiles",
    "load_profile",
    "matching_key",
    "normalise_name",
    "read_interchange",
    "validate_manifest",
    "write_paxlst",
]
