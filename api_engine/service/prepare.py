"""The pure half of a record: bytes in, a classified, assembled and screened interchange out.

Strategy: everything here is synchronous, CPU-bound and free of I/O, so a shell may run it in an
executor while the event loop goes on. `prepare` reads and validates one input, writes its CONTRL,
tells a malformed input (an error of the envelope or syntax, or nothing readable) from a good one,
and screens and serialises the single-part lists; parts of multi-part lists are handed back for the
processor to store and merge (`complete_assembly`, once the stored parts are known). Never raises
on bad input: an unexpected reader error becomes a finding, and so a dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from api_engine.service.screening import HitLike, Screener
from parsers import Finding, Interchange, InterchangeHeader, Manifest, Severity, Traveller, read_interchange
from parsers.assembly import AssemblyKey, assemble, part_key
from parsers.contrl import write_contrl
from parsers.profile import Profile
from parsers.validate import apply_profile

if TYPE_CHECKING:
    from api_engine.service.rules import ActiveRules

__all__ = ["Prepared", "Screened", "complete_assembly", "identity", "prepare", "record_id", "screen_manifest"]

_ENVELOPE_PREFIXES = ("SYN-", "ENV-")
_HEAD_BYTES = 4096  # of an over-size input, read for its UNB (a UNA and a Type-B wrapper fit before it)


def record_id(value: bytes, key: bytes | None, source: str) -> str:
    """Identity of one input record: a replay of it is recognised by this."""
    h = hashlib.sha256()
    for part in (source.encode(), b"\x1f", (key or b"").hex().encode(), b"\x1f", value):
        h.update(part)
    return h.hexdigest()


@dataclass
class Screened:
    """A manifest ready to store and announce: screened, minimised, with its assembly findings."""

    key: AssemblyKey
    manifest: Manifest
    complete: bool
    findings: list[Finding]
    hits: list[HitLike]
    digest: str
    header_json: str  # the manifest without its travellers, as stored
    traveller_json: list[str]  # each traveller as stored (encrypted) and hashed into the digest
    multipart: bool = False
    # The version (digest) of each list in force when screening began: what a list change re-screens from.
    screened_with: dict[str, str] | None = None
    traveller_ids: dict[int, int] | None = None  # stored row id by position (iAPI: every traveller; else hits')
    # Built off the event loop before the transaction opens (see Processor._seal_screened):
    rows: list[dict[str, Any]] | None = None  # traveller rows, identifying columns encrypted, no manifest_id yet
    views: list[dict[str, Any]] | None = None  # TravellerView fields, validated once inside the ManifestEvent


@dataclass
class Prepared:
    """Everything `prepare` worked out from one input, before the store is consulted."""

    content_hash: str
    interchange: Interchange | None
    malformed: list[Finding] = field(default_factory=list)
    reason: str | None = None
    contrl: bytes = b""
    interactive: bool = False
    singles: list[Screened] = field(default_factory=list)
    parts: list[Manifest] = field(default_factory=list)
    sealed: bytes | None = None  # the input encrypted for raw_messages, when sealed ahead of the transaction

    @property
    def sender(self) -> str | None:
        return self.interchange.header.sender if self.interchange else None

    @property
    def interchange_ref(self) -> str | None:
        return self.interchange.header.control_ref if self.interchange else None


def identity(t: Traveller) -> dict[str, Any]:
    """Minimisation (brief §5.5): names, date of birth, nationality, documents; nothing else leaves.

    The fields of `IdentityView` as a plain dict: pydantic validates them once, in the event that carries them."""
    return {"surname": t.surname, "given_names": list(t.given_names), "date_of_birth": t.date_of_birth,
            "nationality": t.nationality,
            "documents": [{"doc_type": d.doc_type, "number": d.number, "issuing_state": d.issuing_state}
                          for d in t.documents]}


def screen_manifest(key: AssemblyKey, manifest: Manifest, complete: bool, findings: list[Finding],
                    screener: Screener, rules: ActiveRules | None = None) -> Screened:
    """Screen and apply the targeting rules (complete lists only), and serialise one manifest; its digest tells
    a changed list from a resend. Rule hits follow the watchlist hits, so the watchlist alerts keep their ids."""
    hits: list[HitLike] = list(screener.screen(manifest)) if complete else []
    if complete and rules is not None:
        hits.extend(rules.evaluate(manifest))
    header_json = manifest.model_copy(update={"travellers": []}).model_dump_json()
    traveller_json = [t.model_dump_json() for t in manifest.travellers]
    h = hashlib.sha256(header_json.encode())
    for j in traveller_json:
        h.update(b"\x1e")
        h.update(j.encode())
    return Screened(key=key, manifest=manifest, complete=complete, findings=findings, hits=hits,
                    digest=h.hexdigest(), header_json=header_json, traveller_json=traveller_json)


def _is_part(m: Manifest) -> bool:
    h = m.header
    return h.sequence is not None and not (h.sequence == 1 and h.sequence_flag in ("F", None))


def _malformed(ic: Interchange) -> list[Finding]:
    return [f for f in ic.findings if f.severity is Severity.ERROR
            and (f.level in ("interchange", "group") or f.rule.startswith(_ENVELOPE_PREFIXES))]


def _wants_cusres(ic: Interchange, profile: Profile) -> bool:
    """iAPI: UNB 0026 = IAPI, or a profile that declares itself interactive."""
    return (ic.header.application_ref or "").upper() == "IAPI" or profile.interactive


def _too_large(value: bytes, limit: int, content_hash: str, control_ref: str, today: date | None) -> Prepared:
    """An input over the size limit: a dead letter, unread, whose CONTRL names the carrier's interchange.

    Only the first bytes are read, for the UNB (sender, reference); ISO 9735 has no 0085 code for
    size, so the CONTRL says 18 "unspecified" and the reason travels in the finding and dead letter.
    """
    big = Finding(rule="ENV-TOO-LARGE", severity=Severity.ERROR, level="interchange", segment_tag="UNB",
                  message=f"the input is {len(value):,} bytes, over the limit of {limit:,} bytes per record "
                          "(API_ENGINE_MAX_RECORD_BYTES); it was not read", contrl_error=18)
    try:
        header = read_interchange(value[:_HEAD_BYTES], today=today).header
    except Exception:  # the head only addresses the CONTRL: without it the UCI says UNKNOWN
        header = InterchangeHeader()
    ic = Interchange(header=header, findings=[big])
    return Prepared(content_hash=content_hash, interchange=ic, malformed=[big], reason=f"{big.rule}: {big.message}",
                    contrl=write_contrl(ic, control_ref=control_ref))


def prepare(value: bytes, profile: Profile, screener: Screener, *, control_ref: str,
            today: date | None = None, max_record_bytes: int | None = None,
            rules: ActiveRules | None = None) -> Prepared:
    """Read, validate, classify, write the CONTRL, and assemble + screen + minimise single-part lists.

    Pure and CPU-bound; never raises on bad input (an unexpected reader error becomes a dead letter).
    An input longer than `max_record_bytes` is not read at all: reading costs time and memory in
    proportion to its size, so the check comes first.
    """
    content_hash = hashlib.sha256(value).hexdigest()
    if max_record_bytes is not None and len(value) > max_record_bytes:
        return _too_large(value, max_record_bytes, content_hash, control_ref, today)
    try:
        ic = apply_profile(read_interchange(value, today=today), profile, today=today)
    except Exception as exc:  # the reader promises values, not exceptions; a bug must not stop the service
        bad = Finding(rule="INT-READER-FAILURE", severity=Severity.ERROR, level="interchange",
                      message=f"the reader failed ({type(exc).__name__}); the input is kept for analysis",
                      contrl_error=18)
        empty = Interchange.model_validate({"header": {}, "findings": [bad]})
        return Prepared(content_hash=content_hash, interchange=None, malformed=[bad], reason=bad.message,
                        contrl=write_contrl(empty, control_ref=control_ref))
    malformed = _malformed(ic)
    if not malformed and not ic.manifests and not ic.responses:
        malformed = [Finding(rule="ENV-EMPTY", severity=Severity.ERROR, level="interchange",
                             message="nothing readable: no PAXLST or CUSRES message", contrl_error=32)]
        ic = ic.model_copy(update={"findings": [*ic.findings, *malformed]})
    out = Prepared(content_hash=content_hash, interchange=ic, contrl=write_contrl(ic, control_ref=control_ref))
    out.interactive = _wants_cusres(ic, profile)
    if malformed:
        out.malformed = malformed
        out.reason = "; ".join(dict.fromkeys(f"{f.rule}: {f.message}" for f in malformed))
        return out
    for m in ic.manifests:
        if _is_part(m):
            out.parts.append(m)
        else:
            out.singles.append(screen_manifest(part_key(m), m, m.complete, [], screener, rules))
    return out


def complete_assembly(parts: Sequence[Manifest], screener: Screener, rules: ActiveRules | None = None) -> Screened:
    """Merge the stored parts of one list (arrival order), then screen and minimise the result."""
    [a] = assemble(parts)
    screened = screen_manifest(a.key, a.manifest, a.complete, a.findings, screener, rules)
    screened.multipart = True
    return screened
