"""The duplicate rule as the conformance kit holds a receiving system to it.

Only the same bytes (from the same sender, since the sender is in the bytes) as an interchange
processed before are a duplicate: answered with CONTRL 0085 = 26, not processed again. The same
sender and interchange reference (UNB 0020) with other content is processed and flagged
(ENV-REF-REUSED, 26 noted on an accepting UCI), so a decoy sent first never gets the real list
dropped. A black-box run sends a duplicate under a key of its own, after the input it repeats has
been acknowledged: the same key and bytes would be a replay, answered with the same events again.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from conformance.build_suite import _resent, edi
from conformance.evaluate import REF_REUSED, evaluate
from conformance.runner import _Seen, _Sent, batches, judge
from conformance.suite import expectation_of, load_suite
from parsers.profile import load_profile

BASELINE = load_profile("baseline")


def _real_and_decoy() -> tuple[bytes, bytes]:
    """A list of three travellers, and a decoy of one traveller under the same sender and reference."""
    real = edi(151, 3)
    decoy = edi(151, 3)
    first, _ = decoy.traveller(0)
    _, last = decoy.traveller(1)
    del decoy.segments[first:last]
    decoy.replace("CNT+", "CNT+42:1").fix_counts()
    return real.to_bytes(), decoy.to_bytes()


def test_a_decoy_sent_first_does_not_get_the_real_list_dropped() -> None:
    real, decoy = _real_and_decoy()
    ev = evaluate([("decoy.edi", decoy), ("real.edi", real)], BASELINE)
    d, r = ev.inputs
    assert d.duplicate_of is None and r.duplicate_of is None and r.reuses_ref_of == 0
    assert not ev.errors and d.accepted and r.accepted
    assert REF_REUSED not in {f.rule for f in d.findings}
    [flag] = [f for f in r.findings if f.rule == REF_REUSED]
    assert flag.severity.value == "warning" and flag.contrl_error == 26 and "decoy.edi" in flag.message
    assert d.contrl_codes == set() and r.contrl_codes == {26}
    e = expectation_of(ev, "baseline")
    assert e.duplicates == () and e.accepted == (True, True) and e.contrl == {26}
    assert (e.manifests, e.announced_travellers) == (2, 1 + 3)  # both announced: the real list is there
    assert REF_REUSED in e.warnings


def test_only_the_same_bytes_are_a_duplicate() -> None:
    real, _ = _real_and_decoy()
    ev = evaluate([("a.edi", real), ("b.edi", _resent(real)), ("c.edi", real)], BASELINE)
    a, b, c = ev.inputs
    assert (a.duplicate_of, b.duplicate_of, c.duplicate_of) == (None, None, 0)
    assert b.reuses_ref_of == 0 and c.reuses_ref_of is None
    e = expectation_of(ev, "baseline")
    assert e.duplicates == (2,) and e.accepted == (True, True) and e.manifests == 2


def test_a_dead_lettered_input_is_dead_lettered_again_not_a_duplicate() -> None:
    bad = edi(153, 2)
    bad.delete("UNT+")  # an envelope error: dead letter
    data = bad.to_bytes()
    ev = evaluate([("1.edi", data), ("2.edi", data)], BASELINE)
    assert [(r.dead_letter, r.duplicate_of) for r in ev.inputs] == [(True, None), (True, None)]
    assert expectation_of(ev, "baseline").dead_letters == (0, 1)


def test_a_run_sends_a_duplicate_in_a_batch_of_its_own() -> None:
    a, b, c = b"A", b"B", b"C"
    assert batches([a, b, c]) == [[a, b, c]]
    assert batches([a, a]) == [[a], [a]]
    assert batches([a, b, a, c, b]) == [[a, b], [a, c], [b]]


def _contrl(action: str) -> str:
    text = ("UNA:+.? '\nUNB+UNOA:4+RCPT+SNDR+20250330:0300+C1'\nUNH+1+CONTRL:4:1:UN'\n"
            f"UCI+000000001+SNDR+RCPT+{action}'\nUCM+1+PAXLST:D:05B:UN:IATA+7'\nUNT+4+1'\nUNZ+1+C1'\n")
    return base64.b64encode(text.encode()).decode()


def _judged(second_ack: dict[str, Any], second_manifest: dict[str, Any] | None) -> set[str]:
    """The checks case 097 fails when the system answers its second input like this."""
    case = load_suite().case("097-reused-interchange-reference")
    data = [b for _, b in case.input_bytes()]
    hashes = [hashlib.sha256(b).hexdigest() for b in data]
    s = _Sent(case=case, expect=case.expect["baseline"], key=b"k", hashes=hashes, batches=batches(data), produced=1)
    seen = _Seen()
    two = [{"name": "A"}, {"name": "B"}]
    seen.add("acks", {"interchange": {"content_hash": hashes[0]}, "accepted": True, "duplicate": False,
                      "contrl_base64": _contrl("7")})
    seen.add("manifests", {"interchange": {"content_hash": hashes[0]}, "manifest_uid": "m1", "travellers": two,
                           "findings": [], "parts": [1], "complete": True})
    seen.add("acks", {"interchange": {"content_hash": hashes[1]}, **second_ack})
    if second_manifest is not None:
        seen.add("manifests", {"interchange": {"content_hash": hashes[1]}, "manifest_uid": "m2", "travellers": two,
                               "parts": [1], "complete": True, **second_manifest})
    return {line.rule for line in judge(s, seen)}


def test_a_run_holds_a_system_to_processing_and_flagging_a_reused_reference() -> None:
    flag = {"rule": REF_REUSED, "severity": "warning", "message": "reference used before"}
    conforming = _judged({"accepted": True, "duplicate": False, "contrl_base64": _contrl("7+26+UNB")},
                         {"findings": [flag]})
    assert conforming == set()
    dropped = _judged({"accepted": False, "duplicate": True, "contrl_base64": _contrl("4+26+UNB")}, None)
    assert {"duplicates", "accepted", "manifests"} <= dropped  # the old rule: the real list is gone
    unflagged = _judged({"accepted": True, "duplicate": False, "contrl_base64": _contrl("7")}, {"findings": []})
    assert unflagged == {"contrl", "manifest_flags"}
