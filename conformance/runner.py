"""`conformance run`: a black-box test of a live API system over Kafka, held to a suite's expectations.

Strategy: only the wire contract is assumed (the topic names and the JSON event schemas in
docs/schemas/), never this project's internals, so any system speaking them can be certified.
1. Every input gets the run's tag appended to its UNB sender (`edi.personalise`), so a rerun
   against the same long-lived system is never mistaken for a duplicate or for more parts of an
   earlier list. Each case is produced with its own key, inputs in order (one key, one
   partition: parts of a list arrive in the order sent); the producer is not idempotent (the
   embedded broker rejects idempotent producers). An input with the same bytes as an earlier
   input of its case (a duplicate) cannot go under that key: the same key and bytes are the same
   record, and a replay of a record is answered with its events again. It starts a new batch,
   produced under a key of its own once every input before it has been acknowledged, so the
   order the case states still holds across keys and partitions.
2. Outputs are read with a group-less consumer: partitions are assigned by hand and read from the
   end offsets recorded before the first record is produced (no group join, nothing missed).
3. Events are correlated by content, not by timing: acknowledgements, dead letters and manifests
   carry `interchange.content_hash` (sha256 of the bytes we sent); alerts carry the
   `manifest_uid` of their manifest. A case is settled once the number of events it expects has
   arrived; after the last case settles (or the timeout) a short grace period catches extras. A
   case whose inputs are all acknowledged waits at most `after_ack_s` more for the rest: a system
   that never sends an expected dead letter or alert fails in seconds, not at the run's timeout.
4. Each case is compared on what a black box can show: acceptance per input and the CONTRL 0085
   codes (read with the project's CONTRL reader), duplicates, dead letters and their rules,
   announced manifests with their travellers, assembly errors and the ENV-REF-REUSED flag, and
   watchlist hits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from parsers.contrl import read_contrl

from .edi import personalise
from .evaluate import codes_of
from .report import CaseResult, Line, Report
from .suite import Case, Expectation, Suite

GRACE_S = 1.0
# Warnings a service puts on the manifests it announces, checked on the wire: a reference reused with
# other content is processed and flagged there (and with 0085 = 26 on the accepting CONTRL).
MANIFEST_FLAGS = frozenset({"ENV-REF-REUSED"})


@dataclass(frozen=True)
class Topics:
    inbound: str = "api.inbound"
    acks: str = "api.acks"
    alerts: str = "border.alerts"
    manifests: str = "border.manifests"
    dlq: str = "api.dlq"


@dataclass
class _Sent:
    case: Case
    expect: Expectation
    key: bytes
    hashes: list[str]  # per input, in sending order
    batches: list[list[bytes]] = field(default_factory=list)  # the inputs, split before each duplicate
    produced: int = 0  # batches produced so far
    started: float = 0.0
    acked_at: float | None = None  # when every input had its acknowledgement

    def batch_key(self, n: int) -> bytes:
        return self.key if n == 0 else self.key + f"/{n + 1}".encode()

    @property
    def waiting(self) -> bool:
        return self.produced < len(self.batches)

    def produced_hashes(self) -> list[str]:
        return self.hashes[:sum(len(b) for b in self.batches[:self.produced])]


def batches(data: Sequence[bytes]) -> list[list[bytes]]:
    """The inputs of a case in sending order, a new batch starting at each repeat of earlier bytes."""
    out: list[list[bytes]] = []
    for i, b in enumerate(data):
        if not out or b in data[:i]:
            out.append([])
        out[-1].append(b)
    return out


def _acknowledged(hashes: Sequence[str], seen: _Seen) -> bool:
    need: dict[str, int] = defaultdict(int)
    for h in hashes:
        need[h] += 1
    return all(len(seen.acks.get(h, [])) >= n for h, n in need.items())


@dataclass
class _Seen:
    acks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    dlq: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    manifests: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, event: dict[str, Any]) -> None:
        if kind == "alerts":
            self.alerts[str(event.get("manifest_uid"))].append(event)
            return
        h = str((event.get("interchange") or {}).get("content_hash"))
        {"acks": self.acks, "dlq": self.dlq, "manifests": self.manifests}[kind][h].append(event)


def _settled(s: _Sent, seen: _Seen) -> bool:
    if s.waiting or not _acknowledged(s.hashes, seen):
        return False
    uniq = list(dict.fromkeys(s.hashes))
    if sum(len(seen.dlq.get(h, [])) for h in uniq) < len(s.expect.dead_letters):
        return False
    manifests = [m for h in uniq for m in seen.manifests.get(h, [])]
    if len(manifests) < s.expect.manifests:
        return False
    alerts = sum(len(seen.alerts.get(str(m.get("manifest_uid")), [])) for m in manifests)
    return alerts >= len(s.expect.hits)


def _codes(ack: dict[str, Any]) -> set[int]:
    try:
        return codes_of(read_contrl(base64.b64decode(ack.get("contrl_base64") or "")))
    except Exception:  # a CONTRL we cannot read is itself a failure, reported as code -1
        return {-1}


def judge(s: _Sent, seen: _Seen) -> list[Line]:
    """Every way the system's events depart from the case's expectation."""
    e = s.expect
    out: list[Line] = []

    def miss(check: str, expected: object, actual: object) -> None:
        out.append(Line(rule=check, severity="error", message=f"{check}: expected {expected}, got {actual}"))

    uniq = list(dict.fromkeys(s.hashes))
    acks: list[dict[str, Any] | None] = []  # the acknowledgement of each input, in sending order
    taken: dict[str, int] = defaultdict(int)
    for h in s.hashes:
        got = seen.acks.get(h, [])
        acks.append(got[taken[h]] if taken[h] < len(got) else None)
        taken[h] += 1
    if any(a is None for a in acks):
        miss("acks", f"{len(s.hashes)} acknowledgement(s)", sum(a is not None for a in acks))
    primary = [a for i, a in enumerate(acks) if i not in e.duplicates and a is not None]
    accepted = tuple(bool(a.get("accepted")) for a in primary)
    if primary and accepted != e.accepted:
        miss("accepted", list(e.accepted), list(accepted))
    codes = set().union(*(_codes(a) for a in primary)) if primary else set()
    if primary and codes != set(e.contrl):
        miss("contrl", sorted(e.contrl), sorted(codes))
    dups = [a for i, a in enumerate(acks) if i in e.duplicates and a is not None]
    flagged = [a for i, a in enumerate(acks) if i not in e.duplicates and a is not None and a.get("duplicate")]
    if len(dups) != len(e.duplicates) or flagged or any(not a.get("duplicate") or 26 not in _codes(a) for a in dups):
        miss("duplicates", f"inputs {list(e.duplicates)} acknowledged as duplicates with CONTRL 26",
             [(i, bool(a.get("duplicate")), sorted(_codes(a))) for i, a in enumerate(acks) if a is not None
              and (i in e.duplicates or a.get("duplicate"))])
    dlq = [d for h in uniq for d in seen.dlq.get(h, [])]
    if len(dlq) != len(e.dead_letters):
        miss("dead_letters", len(e.dead_letters), len(dlq))
    elif dlq:
        rules = {f["rule"] for d in dlq for f in d.get("findings", [])} | {r for d in dlq for r in d.get("rules", [])}
        if not rules <= set(e.errors) or (len(dlq) == len(uniq) and rules != set(e.errors)):
            miss("dead_letter_rules", sorted(e.errors), sorted(rules))
    manifests = [m for h in uniq for m in seen.manifests.get(h, [])]
    if len(manifests) != e.manifests:
        miss("manifests", e.manifests, len(manifests))
    else:
        travellers = sum(len(m.get("travellers", [])) for m in manifests)
        if travellers != e.announced_travellers:
            miss("announced_travellers", e.announced_travellers, travellers)
        errors = {f["rule"] for m in manifests for f in m.get("findings", []) if f.get("severity") == "error"}
        if errors != set(e.manifest_errors):
            miss("manifest_errors", sorted(e.manifest_errors), sorted(errors))
        if any(not m.get("complete", False) for m in manifests if len(m.get("parts", [])) > 1):
            miss("complete", "announced lists complete", [m.get("complete") for m in manifests])
        flags = {str(f.get("rule")) for m in manifests for f in m.get("findings", [])
                 if f.get("rule") in MANIFEST_FLAGS}
        if flags != set(e.warnings) & MANIFEST_FLAGS:
            miss("manifest_flags", sorted(set(e.warnings) & MANIFEST_FLAGS), sorted(flags))
    hits = sorted(str((a.get("watchlist") or {}).get("entry_id")) for m in manifests
                  for a in seen.alerts.get(str(m.get("manifest_uid")), []))
    if hits != list(e.hits):
        miss("hits", list(e.hits), hits)
    return out


async def _produce_next(producer: Any, topic: str, s: _Sent) -> None:
    """Produce the next batch of a case's inputs, in order, under that batch's key."""
    key = s.batch_key(s.produced)
    for b in s.batches[s.produced]:
        await producer.send_and_wait(topic, b, key=key)
    s.produced += 1


def _done(s: _Sent, seen: _Seen, now: float, after_ack_s: float) -> bool:
    """Settled, or acknowledged long enough ago that what is still missing is not coming."""
    if s.acked_at is None and not s.waiting and _acknowledged(s.hashes, seen):
        s.acked_at = now
    return _settled(s, seen) or (s.acked_at is not None and now - s.acked_at >= after_ack_s)


async def run_suite(bootstrap: str, suite: Suite, *, profile: str = "baseline", timeout_s: float = 60.0,
                    topics: Topics = Topics(), run_tag: str | None = None,
                    case_ids: Sequence[str] | None = None, after_ack_s: float = 10.0) -> Report:
    """Produce every case of `suite` that has an expectation for `profile`, and judge the answers."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
    from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

    tag = run_tag or secrets.token_hex(3).upper()
    report = Report(kind="run", title=f"suite {suite.name} against {bootstrap}", profile=profile,
                    meta={"suite": suite.name, "bootstrap": bootstrap, "run_tag": tag, "timeout_s": timeout_s,
                          "after_ack_s": after_ack_s, "inbound": topics.inbound})
    sent: list[_Sent] = []
    skipped: list[CaseResult] = []
    for n, case in enumerate(suite.cases):
        if case_ids and case.id not in case_ids:
            continue
        if profile not in case.expect:
            skipped.append(CaseResult(name=case.id, title=case.title, passed=True, skipped=True,
                                      details={"skip_reason": f"no expectation for profile {profile}"}))
            continue
        data = [personalise(b, f"X{tag}{n:03d}") for _, b in case.input_bytes()]
        s = _Sent(case=case, expect=case.expect[profile], key=f"CONFORMANCE/{tag}/{case.id}".encode(),
                  hashes=[hashlib.sha256(b).hexdigest() for b in data], batches=batches(data))
        sent.append(s)

    # A short fetch wait: some brokers (Tansu) answer a waiting fetch only when the wait runs out.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=50)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all",
                                max_request_size=8 * 1024 * 1024)
    await consumer.start()
    await producer.start()
    seen = _Seen()
    kinds = {topics.acks: "acks", topics.alerts: "alerts", topics.manifests: "manifests", topics.dlq: "dlq"}
    try:
        await consumer.topics()  # metadata for every topic
        tps = [TopicPartition(t, p) for t in kinds for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            raise RuntimeError(f"none of the output topics {', '.join(kinds)} exists at {bootstrap}")
        consumer.assign(tps)
        for tp, offset in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, offset)
        # Some brokers (Tansu) answer end offsets that point into the last record batch rather than
        # past it: read what is already there before sending, so no earlier run's event is judged.
        quiet = 0
        while quiet < 2:
            quiet = 0 if any((await consumer.getmany(timeout_ms=200)).values()) else quiet + 1
        started = time.monotonic()
        for s in sent:
            s.started = time.monotonic()
            await _produce_next(producer, topics.inbound, s)
        deadline = started + timeout_s
        settled_at: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for rec in records:
                    try:
                        seen.add(kinds[tp.topic], json.loads(rec.value))
                    except (ValueError, TypeError, KeyError):
                        continue  # not an event of the schemas: not ours to judge
            for s in sent:  # a duplicate goes out once everything before it is acknowledged
                if s.waiting and _acknowledged(s.produced_hashes(), seen):
                    await _produce_next(producer, topics.inbound, s)
            now = time.monotonic()
            if all([_done(s, seen, now, after_ack_s) for s in sent]):  # a list: every case's clock is kept
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at >= GRACE_S:
                    break
    finally:
        await producer.stop()
        await consumer.stop()
    for s in sent:
        lines = judge(s, seen)
        if not _settled(s, seen):
            lines.insert(0, Line(rule="timeout", severity="error", message=(
                f"not all expected events arrived within {after_ack_s:g} s of the acknowledgements"
                if s.acked_at is not None else f"not all expected events arrived within {timeout_s:g} s")))
        report.cases.append(CaseResult(name=s.case.id, title=s.case.title, passed=not lines, lines=lines,
                                       details={"inputs": len(s.hashes)}))
    report.cases.extend(skipped)
    report.cases.sort(key=lambda c: c.name)
    return report
