"""`conformance run --iapi`: a carrier's departure-control system played against a live iAPI system over Kafka.

Strategy: like `run`, only the wire contract is assumed (PAXLST in on `api.inbound`, `AckEvent` and
`IapiChangeEvent` JSON out on `api.acks`), so any system speaking it can be tested. Each case is a
short check-in sequence on a flight of its own, so one broken behaviour fails one case only:
1. Every message carries the run's sender (`--sender` plus a random tag) and a reference of its own,
   so a rerun against the same long-lived system is never mistaken for a resend of an earlier run.
   Records go out keyed by the sender, as a DCS sends them; the resend goes under a key of its own
   (`<sender>/resend`): the same key and bytes are the same Kafka record, which a system answers as
   a replay, not as the carrier's second copy.
2. Answers are read with a group-less consumer from the end offsets noted before the first record,
   and correlated by content: an ack carries `interchange.content_hash` (sha256 of the bytes sent);
   a government change carries `sender`.
3. Assertions are what a DCS checks: an answer within the time budget (measured and reported), one
   ERP group per traveller with the ABO echoed, a listed traveller never cleared (0Z), the same
   CUSRES for a resend, close-out and cancellation acknowledged. A black box cannot make an officer
   decide: the 132 → 312 case takes a change as it comes and is skipped when none comes in time.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from parsers import read_interchange
from parsers.contrl import read_contrl

from .evaluate import TEST_WATCHLIST, codes_of
from .report import CaseResult, Line, Report

CASES = ("iapi-01-request", "iapi-02-listed-traveller", "iapi-03-resend", "iapi-04-changed-data",
         "iapi-05-close-out", "iapi-06-cancellation", "iapi-07-government-change")
TITLES = {
    "iapi-01-request": "a request is answered within the budget: one ERP+2 per traveller, ABO echoed, 0Z",
    "iapi-02-listed-traveller": "a listed traveller is never cleared to board (not 0Z), the others are",
    "iapi-03-resend": "the same request resent after a timeout gets the identical CUSRES",
    "iapi-04-changed-data": "changed data (BGM 745 CP, same ABOs) is answered again with a CUSRES",
    "iapi-05-close-out": "the close-out (BGM 266 CLOB, travellers by reference) is acknowledged",
    "iapi-06-cancellation": "the cancellation (BGM 266 XF, no traveller) is acknowledged",
    "iapi-07-government-change": "a government change (CUSRES 132) is answered with a CUSRES 312 quoting it",
}
NO_CHANGE = "no government change observed"
_NAME = re.compile(r"^[A-Z][A-Z -]*$")


class IapiError(ValueError):
    """A usage problem: a listed name or list file the simulator cannot use."""


@dataclass(frozen=True)
class Pax:
    surname: str
    given: str
    born: str  # YYMMDD
    gender: str
    nationality: str
    doc: str
    abo: str = ""
    avf: str = ""


# Synthetic travellers (no real person): the clean part of every flight.
_CLEAN = (Pax("HALVORSEN", "INGRID", "840312", "F", "NOR", "NO7731942"),
          Pax("MBEKI-TAN", "SIPHO", "900127", "M", "ZAF", "ZA2290415"),
          Pax("ALVAREZ RUIZ", "LUCIA", "770809", "F", "ESP", "ES5518330"),
          Pax("KOWALCZYK", "TOMASZ", "681104", "M", "POL", "PL4409127"),
          Pax("NAKAMURA", "HARUTO", "020215", "M", "JPN", "JP8801234"))


@dataclass(frozen=True)
class IapiTopics:
    inbound: str = "api.inbound"
    acks: str = "api.acks"


@dataclass
class IapiOptions:
    budget_s: float = 4.0  # the DCS's patience for one answer
    timeout_s: float = 30.0  # how long to wait for any answer before calling it missing
    change_timeout_s: float = 30.0  # how long to wait for a government change (CUSRES 132)
    listed: Pax | None = None  # planted in the listed-traveller case (default: the test watchlist's first)
    travellers: int = 3  # clean travellers per request
    sender: str = "IAPISIM"
    recipient: str = "ZZGOVAPI"
    run_tag: str | None = None
    case_ids: Sequence[str] | None = None
    topics: IapiTopics = field(default_factory=IapiTopics)


def listed_from_name(text: str) -> Pax:
    """`SURNAME:GIVEN:YYMMDD` as given to `--listed-name`."""
    parts = [p.strip().upper() for p in text.split(":")]
    if len(parts) != 3 or not all(parts) or not re.fullmatch(r"\d{6}", parts[2]):
        raise IapiError("--listed-name must be SURNAME:GIVEN:YYMMDD")
    if not (_NAME.match(parts[0]) and _NAME.match(parts[1])):
        raise IapiError("--listed-name: names in letters A-Z, spaces and hyphens only")
    return Pax(parts[0], parts[1], parts[2], "M", "GBR", "GB7000001")


def listed_from_file(path: Path | str) -> Pax:
    """The first individual of a national list file (CSV: surname, given_names, date_of_birth) with all three."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                surname = (row.get("surname") or "").strip().upper()
                given = (row.get("given_names") or "").strip().upper()
                born = (row.get("date_of_birth") or "").strip()
                if not (surname and given and re.fullmatch(r"\d{4}-\d{2}-\d{2}", born)):
                    continue
                if not (_NAME.match(surname) and _NAME.match(given)):
                    continue
                nat = (row.get("nationality") or "").strip().upper()
                gender = (row.get("gender") or "").strip().upper()
                return Pax(surname, given, born[2:4] + born[5:7] + born[8:10], gender if gender in ("M", "F") else "M",
                           nat if re.fullmatch(r"[A-Z]{3}", nat) else "GBR", "GB7000001")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IapiError(f"--watchlist {path}: cannot read it ({type(exc).__name__})") from exc
    raise IapiError(f"--watchlist {path}: no entry with surname, given_names and date_of_birth (YYYY-MM-DD)")


# ---- messages ------------------------------------------------------------------------------------------


@dataclass
class Flight:
    number: str  # e.g. XX401
    departs: datetime
    travellers: list[Pax]


def paxlst(sender: str, recipient: str, ref: str, flight: Flight, bgm: str = "BGM+745",
           travellers: Sequence[Pax] | None = None, *, by_reference: bool = False) -> bytes:
    """A PAXLST iAPI request (UNB 0026 IAPI); `by_reference`: travellers as `NAD+FL` and their references only."""
    pax = flight.travellers if travellers is None else list(travellers)
    stamp = datetime.now(UTC)
    dep, arr = flight.departs, flight.departs + timedelta(hours=5)
    body = [bgm, f"RFF+TN:{flight.number}{dep:%y%m%d}", "NAD+MS+++IAPI DESK", f"TDT+20+{flight.number}+++XX",
            "LOC+125+LHR", f"DTM+189:{dep:%y%m%d%H%M}:201", "LOC+87+JFK", f"DTM+232:{arr:%y%m%d%H%M}:201"]
    for p in pax:
        if by_reference:
            body += ["NAD+FL", f"RFF+ABO:{p.abo}"]
            continue
        body += [f"NAD+FL+++{p.surname}:{p.given}", f"ATT+2++{p.gender}", f"DTM+329:{p.born}", "LOC+178+LHR",
                 "LOC+179+JFK", f"NAT+2+{p.nationality}", f"RFF+AVF:{p.avf}", f"RFF+ABO:{p.abo}",
                 f"DOC+P:110:111+{p.doc}", f"DTM+36:{(dep + timedelta(days=3000)):%y%m%d}",
                 f"LOC+91+{p.nationality}"]
    body.append(f"CNT+42:{len(pax)}")
    segments = [f"UNB+UNOA:4+{sender}:ZZ+{recipient}:ZZ+{stamp:%y%m%d:%H%M}+{ref}++IAPI",
                f"UNH+1+PAXLST:D:05B:UN:IATA+{ref}+01:F", *body]
    segments += [f"UNT+{len(segments)}+1", f"UNZ+1+{ref}"]
    return ("UNA:+.? '\n" + "".join(f"{s}'\n" for s in segments)).encode("latin-1")


def cusres_312(sender: str, recipient: str, ref: str, reference: str) -> bytes:
    """The carrier's acknowledgement of a government change: a CUSRES 312 quoting its RFF+TN."""
    stamp = datetime.now(UTC)
    segments = [f"UNB+UNOA:4+{sender}:ZZ+{recipient}:ZZ+{stamp:%y%m%d:%H%M}+{ref}++IAPI",
                f"UNH+1+CUSRES:D:05B:UN:IATA+{ref}", "BGM+312", f"RFF+TN:{reference}"]
    segments += [f"UNT+{len(segments)}+1", f"UNZ+1+{ref}"]
    return ("UNA:+.? '\n" + "".join(f"{s}'\n" for s in segments)).encode("latin-1")


# ---- the link to the system under test --------------------------------------------------------------------


class _Link:
    """One producer and one group-less consumer on the acks topic; answers kept by content hash."""

    def __init__(self, bootstrap: str, topics: IapiTopics, sender: str) -> None:
        self.bootstrap, self.topics, self.sender = bootstrap, topics, sender
        self.acks: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        self.changes: list[tuple[float, dict[str, Any]]] = []
        self.consumer: Any = None
        self.producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
        from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

        # A short fetch wait: some brokers (Tansu) answer a waiting fetch only when the wait runs out.
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                         fetch_max_wait_ms=50)
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False, acks="all")
        await self.consumer.start()
        await self.producer.start()
        await self.consumer.topics()
        tps = [TopicPartition(self.topics.acks, p)
               for p in sorted(self.consumer.partitions_for_topic(self.topics.acks) or ())]
        if not tps:
            raise RuntimeError(f"the topic {self.topics.acks} does not exist at {self.bootstrap}")
        self.consumer.assign(tps)
        for tp, offset in (await self.consumer.end_offsets(tps)).items():
            self.consumer.seek(tp, offset)
        quiet = 0  # Tansu's end offsets point into the last batch: read what is there before sending
        while quiet < 2:
            quiet = 0 if any((await self.consumer.getmany(timeout_ms=200)).values()) else quiet + 1

    async def stop(self) -> None:
        for client in (self.producer, self.consumer):
            if client is not None:
                await client.stop()

    async def send(self, data: bytes, key: str | None = None) -> tuple[str, float]:
        await self.producer.send_and_wait(self.topics.inbound, data, key=(key or self.sender).encode())
        return hashlib.sha256(data).hexdigest(), time.monotonic()

    async def pump(self, wait_ms: int = 100) -> None:
        batch = await self.consumer.getmany(timeout_ms=wait_ms)
        at = time.monotonic()
        for records in batch.values():
            for rec in records:
                try:
                    event = json.loads(rec.value)
                except (ValueError, TypeError):
                    continue  # not an event of the schemas: not ours to judge
                if not isinstance(event, dict):
                    continue
                if event.get("type") == "iapi_change":
                    if event.get("sender") == self.sender:
                        self.changes.append((at, event))
                    continue
                h = (event.get("interchange") or {}).get("content_hash")
                if h:
                    self.acks[str(h)].append((at, event))

    async def answer(self, content_hash: str, sent_at: float, timeout_s: float,
                     nth: int = 0) -> tuple[dict[str, Any] | None, float]:
        """The nth acknowledgement of these bytes and the seconds it took, or None after `timeout_s`."""
        deadline = sent_at + timeout_s
        while len(self.acks.get(content_hash, [])) <= nth and time.monotonic() < deadline:
            await self.pump()
        got = self.acks.get(content_hash, [])
        if len(got) <= nth:
            return None, time.monotonic() - sent_at
        at, event = got[nth]
        return event, at - sent_at

    async def change(self, timeout_s: float) -> tuple[dict[str, Any] | None, int]:
        """The first government change for this sender (and how many sendings came meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while not self.changes and time.monotonic() < deadline:
            await self.pump()
        return (self.changes[0][1] if self.changes else None), len(self.changes)


# ---- judging ------------------------------------------------------------------------------------------------


def _err(rule: str, message: str) -> Line:
    return Line(rule=rule, severity="error", message=message)


def _contrl_codes(ack: dict[str, Any]) -> set[int]:
    try:
        return codes_of(read_contrl(base64.b64decode(ack.get("contrl_base64") or "")))
    except Exception:  # an unreadable CONTRL is reported as code -1
        return {-1}


def _cusres(ack: dict[str, Any]) -> tuple[bytes | None, list[Any], str | None]:
    """The CUSRES bytes of an ack, its responses, and why it cannot be used (None: usable)."""
    raw = ack.get("cusres_base64")
    if not raw:
        return None, [], "the acknowledgement carries no CUSRES"
    try:
        data = base64.b64decode(raw)
        responses = list(read_interchange(data).responses)
    except Exception as exc:
        return None, [], f"the CUSRES cannot be read ({type(exc).__name__})"
    if not responses:
        return data, [], "the CUSRES holds no response message"
    return data, responses, None


def judge_answer(ack: dict[str, Any] | None, seconds: float, sent: Sequence[Pax], opts: IapiOptions, *,
                 document: str = "962", listed_abo: str | None = None) -> tuple[list[Line], dict[str, str]]:
    """What a DCS checks on one answer; returns the failures and the status per ABO."""
    if ack is None:
        return [_err("answer", f"no answer within {opts.timeout_s:g} s")], {}
    out: list[Line] = []
    if seconds > opts.budget_s:
        out.append(_err("latency", f"answered in {seconds:.3f} s, budget {opts.budget_s:g} s"))
    _, responses, problem = _cusres(ack)
    if problem:
        return [*out, _err("cusres", problem)], {}
    codes = sorted({str(r.document_code) for r in responses})
    if codes != [document]:
        out.append(_err("cusres_document", f"CUSRES BGM document code: expected {document}, got {codes}"))
    per_abo: dict[str, list[str]] = defaultdict(list)
    for r in responses:
        for t in r.travellers:
            for abo in t.references.get("ABO", []) or ["(none)"]:
                per_abo[abo].append(str(t.status))
    want = [p.abo for p in sent]
    missing = [a for a in want if a not in per_abo]
    twice = sorted(a for a, s in per_abo.items() if len(s) > 1)
    unknown = sorted(a for a in per_abo if a not in want)
    if missing:
        out.append(_err("erp_per_traveller", f"no ERP+2 group echoing RFF+ABO {', '.join(missing)}"))
    if twice or unknown:
        out.append(_err("erp_per_traveller", f"ERP+2 groups answered twice {twice} or for references never sent "
                                             f"{unknown}"))
    statuses = {a: s[0] for a, s in per_abo.items()}
    for abo in want:
        got = statuses.get(abo)
        if got is None:
            continue
        if abo == listed_abo:
            if got == "0Z":
                out.append(_err("listed_not_cleared", f"the listed traveller (ABO {abo}) was cleared to board: 0Z"))
            elif got not in ("1Z", "2Z", "4Z"):
                out.append(_err("erc", f"ABO {abo}: unknown ERC {got}"))
        elif got != "0Z":
            out.append(_err("clean_cleared", f"ABO {abo} (clean data, not listed): expected 0Z, got {got}"))
    return out, statuses


def judge_ack(ack: dict[str, Any] | None, opts: IapiOptions) -> list[Line]:
    """A close-out or cancellation: acknowledged, accepted."""
    if ack is None:
        return [_err("answer", f"no acknowledgement within {opts.timeout_s:g} s")]
    if not ack.get("accepted"):
        return [_err("accepted", f"the CONTRL rejects it (0085 codes {sorted(_contrl_codes(ack))})")]
    return []


# ---- the cases ----------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    link: _Link
    opts: IapiOptions
    sender: str
    departs: datetime
    refs: int = 0
    flights: int = 0

    def ref(self) -> str:
        self.refs += 1
        return f"{self.refs:09d}"

    def flight(self, extra: Sequence[Pax] = ()) -> Flight:
        self.flights += 1
        n = self.flights
        pax = [replace(p, abo=f"{n:02d}{i + 1:03d}", avf=f"SIM{n:02d}{i + 1}")
               for i, p in enumerate([*(_CLEAN[i % len(_CLEAN)] for i in range(self.opts.travellers)), *extra])]
        return Flight(number=f"XX{400 + n}", departs=self.departs, travellers=pax)

    async def request(self, flight: Flight, bgm: str = "BGM+745",
                      **kw: Any) -> tuple[bytes, dict[str, Any] | None, float]:
        data = paxlst(self.sender, self.opts.recipient, self.ref(), flight, bgm, **kw)
        h, at = await self.link.send(data)
        ack, seconds = await self.link.answer(h, at, self.opts.timeout_s)
        return data, ack, seconds


def _details(seconds: float | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {} if seconds is None else {"latency_s": round(seconds, 3)}
    out.update({k: v for k, v in more.items() if v is not None})
    return out


async def _request(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    flight = ctx.flight()
    _, ack, seconds = await ctx.request(flight)
    lines, statuses = judge_answer(ack, seconds, flight.travellers, ctx.opts)
    return lines, _details(seconds, travellers=len(flight.travellers), statuses=" ".join(statuses.values()))


async def _listed(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    assert ctx.opts.listed is not None
    flight = ctx.flight([ctx.opts.listed])
    listed_abo = flight.travellers[-1].abo
    _, ack, seconds = await ctx.request(flight)
    lines, statuses = judge_answer(ack, seconds, flight.travellers, ctx.opts, listed_abo=listed_abo)
    return lines, _details(seconds, listed_answer=statuses.get(listed_abo))


async def _resend(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    flight = ctx.flight()
    data, ack, seconds = await ctx.request(flight)
    lines, _ = judge_answer(ack, seconds, flight.travellers, ctx.opts)
    if ack is None:
        return lines, _details(seconds)
    # The carrier's timeout ran out: the same bytes again, as a new record.
    h, at = await ctx.link.send(data, key=f"{ctx.sender}/resend")
    again, again_s = await ctx.link.answer(h, at, ctx.opts.timeout_s, nth=1)
    if again is None:
        return [*lines, _err("resend_answer", f"no answer to the resend within {ctx.opts.timeout_s:g} s")], \
            _details(seconds)
    if again_s > ctx.opts.budget_s:
        lines.append(_err("latency", f"resend answered in {again_s:.3f} s, budget {ctx.opts.budget_s:g} s"))
    first_bytes, _, _ = _cusres(ack)
    again_bytes, _, problem = _cusres(again)
    if problem:
        lines.append(_err("resend_cusres", f"resend: {problem}"))
    elif first_bytes != again_bytes:
        lines.append(_err("resend_cusres", "the resend got another CUSRES than the first copy"))
    return lines, _details(seconds, resend_latency_s=round(again_s, 3), duplicate=bool(again.get("duplicate")))


async def _changed(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    flight = ctx.flight()
    _, ack, seconds = await ctx.request(flight)
    lines, _ = judge_answer(ack, seconds, flight.travellers, ctx.opts)
    if ack is None:
        return lines, _details(seconds)
    changed = [replace(p, doc=p.doc[:-1] + ("0" if p.doc[-1] != "0" else "1")) for p in flight.travellers]
    _, ack2, seconds2 = await ctx.request(flight, "BGM+745+CP", travellers=changed)
    more, _ = judge_answer(ack2, seconds2, changed, ctx.opts)
    lines += [replace(ln, message=f"changed data: {ln.message}") for ln in more]
    return lines, _details(seconds, changed_latency_s=round(seconds2, 3))


async def _close_out(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    flight = ctx.flight()
    _, ack, seconds = await ctx.request(flight)
    lines, _ = judge_answer(ack, seconds, flight.travellers, ctx.opts)
    boarded = flight.travellers[:-1] or flight.travellers
    _, ack2, _ = await ctx.request(flight, "BGM+266+CLOB", travellers=boarded, by_reference=True)
    lines += [replace(ln, message=f"close-out: {ln.message}") for ln in judge_ack(ack2, ctx.opts)]
    return lines, _details(seconds, on_board=len(boarded))


async def _cancellation(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    flight = ctx.flight()
    _, ack, seconds = await ctx.request(flight)
    lines, _ = judge_answer(ack, seconds, flight.travellers, ctx.opts)
    _, ack2, _ = await ctx.request(flight, "BGM+266+XF", travellers=[])
    lines += [replace(ln, message=f"cancellation: {ln.message}") for ln in judge_ack(ack2, ctx.opts)]
    return lines, _details(seconds)


class _Skip(Exception):
    pass


async def _government_change(ctx: _Ctx) -> tuple[list[Line], dict[str, Any]]:
    event, sendings = await ctx.link.change(ctx.opts.change_timeout_s)
    if event is None:
        raise _Skip(f"{NO_CHANGE} within {ctx.opts.change_timeout_s:g} s")
    lines: list[Line] = []
    reference = str(event.get("reference") or "")
    answered: list[tuple[str, str]] = []  # (ABO, new ERC) per traveller the 132 changes
    _, responses, problem = _cusres(event)
    if problem:
        lines.append(_err("cusres", f"132: {problem}"))
    else:
        codes = sorted({str(r.document_code) for r in responses})
        if codes != ["132"]:
            lines.append(_err("cusres_document", f"CUSRES BGM document code: expected 132, got {codes}"))
        if reference not in {str(r.transaction_ref) for r in responses}:
            lines.append(_err("reference", "the CUSRES 132 does not quote the event's reference in RFF+TN"))
        answered = [(abo, str(t.status)) for r in responses for t in r.travellers
                    for abo in t.references.get("ABO", [])]
        if not answered or any(s not in ("0Z", "1Z", "2Z", "4Z") for _, s in answered):
            lines.append(_err("erc", f"the CUSRES 132 changes no traveller with a known ERC ({len(answered)} given)"))
    if not reference:
        return [*lines, _err("reference", "the change event carries no reference")], _details(sendings=sendings)
    data = cusres_312(ctx.sender, ctx.opts.recipient, ctx.ref(), reference)
    h, at = await ctx.link.send(data)
    ack, seconds = await ctx.link.answer(h, at, ctx.opts.timeout_s)
    lines += [replace(ln, message=f"312: {ln.message}") for ln in judge_ack(ack, ctx.opts)]
    return lines, _details(seconds, reference=reference, sendings=sendings,
                           new_status=" ".join(s for _, s in answered) or None)


_RUN: dict[str, Callable[[_Ctx], Awaitable[tuple[list[Line], dict[str, Any]]]]] = {
    "iapi-01-request": _request, "iapi-02-listed-traveller": _listed, "iapi-03-resend": _resend,
    "iapi-04-changed-data": _changed, "iapi-05-close-out": _close_out, "iapi-06-cancellation": _cancellation,
    "iapi-07-government-change": _government_change,
}


async def run_iapi(bootstrap: str, opts: IapiOptions | None = None) -> Report:
    """Play every selected check-in sequence against the system at `bootstrap`, one after the other."""
    opts = opts or IapiOptions()
    if opts.listed is None:
        opts = replace(opts, listed=listed_from_file(TEST_WATCHLIST))
    unknown = [c for c in opts.case_ids or () if c not in CASES]
    if unknown:
        raise IapiError(f"unknown iAPI case(s) {', '.join(unknown)} (cases: {', '.join(CASES)})")
    tag = opts.run_tag or secrets.token_hex(3).upper()
    sender = f"{opts.sender}{tag}"[:35]
    report = Report(kind="run", title=f"iAPI carrier simulator against {bootstrap}", profile="iapi",
                    meta={"bootstrap": bootstrap, "run_tag": tag, "sender": sender, "budget_s": opts.budget_s,
                          "timeout_s": opts.timeout_s, "change_timeout_s": opts.change_timeout_s,
                          "inbound": opts.topics.inbound, "acks": opts.topics.acks})
    link = _Link(bootstrap, opts.topics, sender)
    departs = datetime.combine(date.today() + timedelta(days=1), datetime.min.time()).replace(hour=10, minute=30)
    ctx = _Ctx(link=link, opts=opts, sender=sender, departs=departs)
    await link.start()
    try:
        for case in CASES:
            if opts.case_ids and case not in opts.case_ids:
                continue
            started = time.monotonic()
            try:
                lines, details = await _RUN[case](ctx)
            except _Skip as skip:
                report.cases.append(CaseResult(name=case, title=TITLES[case], passed=True, skipped=True,
                                               details={"skip_reason": str(skip)},
                                               seconds=time.monotonic() - started))
                continue
            report.cases.append(CaseResult(name=case, title=TITLES[case], passed=not lines, lines=lines,
                                           details=details, seconds=time.monotonic() - started))
    finally:
        await link.stop()
    return report
