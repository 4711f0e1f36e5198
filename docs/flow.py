"""The message-flow picture (docs/message-flow.svg), derived from the code so that it cannot drift.

Why: a drawing kept by hand goes stale the first time a topic is renamed or a module moves. Here
everything structural is read from the code: the topic names from the `Topics` defaults, the output
kinds from `OutputKind`, the kind → topic mapping from a `Pipeline` built on default settings, the
event model of each kind from where the service builds it (`Model(event_id=<outputs>.next_id(kind))`),
the consumers of each topic from the minimisation policy, and every room from the `__module__` of the
object that does the step. Only the prose on nodes and edges is written here.

    python docs/flow.py            # writes docs/message-flow.svg
    python docs/flow.py --check    # exits 1 when the committed picture no longer matches the code

The SVG embeds the DOT source it was drawn from (`<metadata id="flow-dot">`); the check compares
that with the DOT derived now, so it does not depend on the exact SVG bytes of a graphviz version.
"""

from __future__ import annotations

import argparse
import ast
import html
import importlib
import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import graphviz

import watchlists
from api_engine.console import create_app
from api_engine.protection.crypto import Keyring
from api_engine.protection.minimise import consumers, minimise_model
from api_engine.protection.retention import run_retention
from api_engine.service.events import EVENT_MODELS, OutputKind
from api_engine.service.iapi import iapi_statuses
from api_engine.service.lists import LiveLists
from api_engine.service.outputs import Outputs
from api_engine.service.pipeline import Pipeline
from api_engine.service.prepare import prepare
from api_engine.service.processor import Processor
from api_engine.service.screening import WatchlistScreener
from api_engine.settings import Settings, Topics
from api_engine.store import Store
from parsers import read_interchange
from parsers.contrl import write_contrl
from parsers.cusres_writer import write_cusres
from parsers.validate import apply_profile

__all__ = ["SVG", "Flow", "build_graph", "check", "derive_flow", "dot_source", "embedded_dot", "main", "render_svg"]

SVG = Path(__file__).resolve().with_name("message-flow.svg")
METADATA_ID = "flow-dot"
SVG_NS = "{http://www.w3.org/2000/svg}"

# Kinds the minimisation policy does not declare pass unchanged (api_engine.protection.minimise); who
# reads them is not data anywhere else, so it is said here. A kind neither declared nor listed fails.
UNDECLARED_READERS: dict[str, tuple[str, str]] = {
    "acks": ("carrier", "CONTRL, and CUSRES 962 answering an iAPI request"),
    "dlq": ("operators", "fix the input and send it again"),
}

TOPIC_STYLE = {"shape": "cylinder", "style": "filled", "fillcolor": "#fff3c4", "color": "#b8860b"}
ROOM_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8f0fe", "color": "#3b6ec2"}
PARTY_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#f2f2f2", "color": "#777777"}
# Who uses whom (dashed). Each pair is checked against the code: the first module must import the
# second (`uses_are_imports`), so a dependency that goes away takes its arrow with it.
USES_EDGES = (("prepare", "reader"), ("prepare", "validate"), ("prepare", "contrl"), ("prepare", "screening"),
              ("screening", "engine"), ("processor", "lists"), ("lists", "screening"), ("processor", "iapi"),
              ("processor", "cusres"), ("processor", "crypto"), ("processor", "store"), ("outputs", "minimise"),
              ("retention", "store"), ("console", "store"))
BACK_AGAINST_FLOW = {("lists", "screening")}  # drawn without pulling the screening seam to the right
BOTH_WAYS = {("console", "store")}  # reads and records decisions; drawn store → console, console on the right
SPINE = ("pipeline", "prepare", "processor", "outputs")  # kept on one straight line, helpers above and below
USES = {"style": "dashed", "color": "#7a7a7a", "arrowhead": "vee", "arrowsize": "0.6"}


@dataclass(frozen=True)
class Step:
    """One step of the flow and the module that does it; its room is the package holding that module."""

    key: str
    title: str
    module: str
    note: str = ""

    @property
    def room(self) -> str:
        return self.module.rpartition(".")[0] or self.module


@dataclass(frozen=True)
class Reader:
    """Who reads an output topic: a consumer declared in the minimisation policy, or a known party."""

    name: str
    audience: str
    declared: bool


@dataclass(frozen=True)
class Flow:
    """Everything the picture shows, as read from the code."""

    inbound: str
    kinds: tuple[str, ...]
    topic_for: dict[str, str]
    model_for: dict[str, str]
    reader_for: dict[str, Reader]
    steps: dict[str, Step]
    uses: tuple[tuple[str, str], ...]


class _NoProcessor:
    """Stands in for the processor: building a `Pipeline` to read its topic map needs no processing."""

    async def process_batch(self, records: Sequence[tuple[bytes, bytes | None]], *,
                            source: str = "kafka") -> Sequence[list[Any]]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def default_settings() -> Settings:
    """Settings with every default and nothing from the environment: the picture is the same everywhere."""
    return Settings.model_construct(topics=Topics.model_construct())


def models_by_kind(kinds: Sequence[str]) -> dict[str, str]:
    """The event model built for each kind, found where the service builds it: `Model(event_id=x.next_id("kind"))`.

    Reads the sources of the package that holds `Outputs`; fails when a kind has no model or two.
    """
    package = Outputs.__module__.rpartition(".")[0]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"cannot find the sources of {package}")
    names = {m.__name__ for m in EVENT_MODELS.values()}
    next_id = Outputs.next_id.__name__
    found: dict[str, set[str]] = {}
    for location in spec.submodule_search_locations:
        for path in sorted(Path(location).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names):
                    continue
                for kw in node.keywords:
                    value = kw.value
                    if (kw.arg == "event_id" and isinstance(value, ast.Call)
                            and isinstance(value.func, ast.Attribute) and value.func.attr == next_id
                            and value.args and isinstance(value.args[0], ast.Constant)
                            and isinstance(value.args[0].value, str)):
                        found.setdefault(value.args[0].value, set()).add(node.func.id)
    out: dict[str, str] = {}
    for kind in kinds:
        models = found.get(kind, set())
        if len(models) != 1:
            raise RuntimeError(f"output kind {kind!r}: expected one event model built for it in {package}, "
                               f"found {sorted(models) or 'none'}")
        out[kind] = models.pop()
    return out


def imported_modules(module: str) -> set[str]:
    """The modules `module` imports anywhere in its source (late imports too), names resolved to their module."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"cannot find the source of {module}")
    package = module if spec.submodule_search_locations else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            out.add(base)
            for alias in node.names:
                obj = getattr(importlib.import_module(base), alias.name, None)
                if inspect.ismodule(obj):
                    out.add(obj.__name__)
                elif inspect.isclass(obj) or inspect.isroutine(obj):
                    out.add(obj.__module__)
    return out


def uses_are_imports(steps: dict[str, Step], uses: Sequence[tuple[str, str]]) -> None:
    """Fail when the picture says a step uses another that its module does not import."""
    for tail, head in uses:
        if steps[head].module not in imported_modules(steps[tail].module):
            raise RuntimeError(f"docs/flow.py draws {steps[tail].module} using {steps[head].module}, "
                               "which it does not import: update USES_EDGES")


def derive_flow() -> Flow:
    """Read topics, kinds, models, readers and rooms from the code; fail loudly where they disagree."""
    settings = default_settings()
    kinds: tuple[str, ...] = get_args(OutputKind)
    topic_for = dict(Pipeline(settings, "", _NoProcessor()).topic_for)
    if set(topic_for) != set(kinds):
        raise RuntimeError(f"Pipeline.topic_for maps {sorted(topic_for)}, OutputKind is {sorted(kinds)}")
    declared = consumers()
    reader_for: dict[str, Reader] = {}
    for kind in kinds:
        consumer = declared.get(kind)
        if consumer is not None:
            if consumer.topic != topic_for[kind]:
                raise RuntimeError(f"minimisation policy: consumer {consumer.name} reads {consumer.topic!r}, "
                                   f"but kind {kind!r} is produced to {topic_for[kind]!r}")
            reader_for[kind] = Reader(consumer.name, consumer.audience, declared=True)
        elif kind in UNDECLARED_READERS:
            reader_for[kind] = Reader(*UNDECLARED_READERS[kind], declared=False)
        else:
            raise RuntimeError(f"output kind {kind!r} has no consumer in the minimisation policy "
                               "and no reader in docs/flow.py")
    steps = [
        Step("pipeline", "Kafka loop", Pipeline.__module__, "consume, produce by kind, commit"),
        Step("prepare", "prepare", prepare.__module__, "read, validate, assemble, screen (pure)"),
        Step("processor", "processor", Processor.__module__, "replays, duplicates, parts; one transaction"),
        Step("reader", "EDIFACT reader", read_interchange.__module__),
        Step("validate", "profile rules", apply_profile.__module__),
        Step("contrl", "CONTRL writer", write_contrl.__module__),
        Step("screening", "screening seam", WatchlistScreener.__module__),
        Step("engine", "screening engine", watchlists.Screener.__module__),
        Step("lists", "live lists", LiveLists.__module__, "console uploads and clearances"),
        Step("iapi", "iAPI answer", iapi_statuses.__module__, "board / no-board per traveller"),
        Step("cusres", "CUSRES writer", write_cusres.__module__),
        Step("crypto", "encryption", Keyring.__module__, "identifying data sealed at rest"),
        Step("outputs", "outputs", Outputs.__module__, "one event per kind, deterministic ids"),
        Step("minimise", "minimisation", minimise_model.__module__, "declared fields only leave"),
        Step("store", "store", Store.__module__, "state and outputs"),
        Step("retention", "retention", run_retention.__module__, "depersonalise, delete"),
        Step("console", "console", create_app.__module__, "officers review hits, upload lists"),
    ]
    by_key = {s.key: s for s in steps}
    uses_are_imports(by_key, USES_EDGES)
    return Flow(inbound=settings.topics.inbound, kinds=kinds, topic_for=topic_for,
                model_for=models_by_kind(kinds), reader_for=reader_for, steps=by_key, uses=USES_EDGES)


def _label(title: str, *lines: str, mono: str = "") -> str:
    """An HTML-like label: a bold title, an optional module path in monospace, small wrapped lines."""
    rows = [f"<B>{html.escape(title)}</B>"]
    if mono:
        rows.append(f'<FONT FACE="monospace" POINT-SIZE="9">{html.escape(mono)}</FONT>')
    for line in lines:
        for part in textwrap.wrap(line, 40):
            rows.append(f'<FONT POINT-SIZE="9">{html.escape(part)}</FONT>')
    return "<" + "<BR/>".join(rows) + ">"


def build_graph(flow: Flow) -> graphviz.Digraph:
    """Left to right: carrier, inbound topic, service rooms, output topics, their readers."""
    g = graphviz.Digraph("message_flow")
    g.attr(rankdir="LR", newrank="true", nodesep="0.3", ranksep="0.55", fontname="Helvetica", fontsize="12",
           labelloc="b", labeljust="l",
           label="cylinder: Kafka topic · box: module (framed by its package) · ellipse: outside party · "
                 "solid: messages · dashed: uses / reads.  Generated by docs/flow.py from the code.")
    g.attr("node", fontname="Helvetica", fontsize="11", margin="0.12,0.06")
    g.attr("edge", fontname="Helvetica", fontsize="9", color="#444444")

    g.node("carrier_in", _label("carrier", "sends PAXLST / CUSRES"), group="spine", **PARTY_STYLE)
    g.node("topic_inbound", _label(flow.inbound, "inbound"), group="spine", **TOPIC_STYLE)

    by_room: dict[str, list[Step]] = {}
    for step in flow.steps.values():
        by_room.setdefault(step.room, []).append(step)
    for package, members in by_room.items():
        with g.subgraph(name="cluster_" + re.sub(r"\W", "_", package)) as c:
            c.attr(label=package, fontname="monospace", fontsize="10", style="rounded,dashed", color="#9aa5b1")
            for step in members:
                c.node(step.key, _label(step.title, *([step.note] if step.note else []), mono=step.module),
                       **({"group": "spine"} if step.key in SPINE else {}), **ROOM_STYLE)

    with g.subgraph() as topics:
        topics.attr(rank="same")
        for kind in flow.kinds:
            topics.node(f"topic_{kind}", _label(flow.topic_for[kind], f"{kind} · {flow.model_for[kind]}"),
                        **TOPIC_STYLE)
    with g.subgraph() as readers:
        readers.attr(rank="same")
        for kind in flow.kinds:
            r = flow.reader_for[kind]
            headline, _, detail = r.audience.partition(":")
            lines = [detail.strip()] if detail.strip() else []
            title = f"{r.name}: {headline}" if r.declared else r.name
            readers.node(f"reader_{kind}", _label(title, *(lines if r.declared else [r.audience])), **PARTY_STYLE)

    for prefix in ("topic_", "reader_"):  # keep topics and their readers in OutputKind order
        for upper, lower in zip(flow.kinds, flow.kinds[1:], strict=False):
            g.edge(prefix + upper, prefix + lower, style="invis")

    g.edge("carrier_in", "topic_inbound", "EDIFACT")
    g.edge("topic_inbound", "pipeline", "consume")
    g.edge("pipeline", "prepare", "record")
    g.edge("prepare", "processor", "prepared")
    g.edge("processor", "outputs", "events")
    for kind in flow.kinds:
        g.edge("outputs", f"topic_{kind}")
        g.edge(f"topic_{kind}", f"reader_{kind}")

    for tail, head in flow.uses:
        if (tail, head) in BOTH_WAYS:
            g.edge(head, tail, dir="both", **USES)
        elif (tail, head) in BACK_AGAINST_FLOW:
            g.edge(tail, head, constraint="false", **USES)
        else:
            g.edge(tail, head, **USES)
    return g


def dot_source(flow: Flow | None = None) -> str:
    """The DOT text of the picture, derived from the code now."""
    source: str = build_graph(flow or derive_flow()).source
    return source


def render_svg(source: str, dot: str | None = None) -> str:
    """SVG drawn by the `dot` binary, with the DOT source embedded for `check`."""
    binary = dot or shutil.which("dot")
    if binary is None:
        raise RuntimeError("the graphviz `dot` binary is not installed (Debian: apt-get install graphviz)")
    if "]]>" in source:
        raise ValueError("the DOT source cannot be embedded in CDATA")
    done = subprocess.run([binary, "-Tsvg"], input=source, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed (exit status {done.returncode}): {done.stderr.strip()}")
    svg = done.stdout
    opening = re.search(r"<svg\b[^>]*>", svg)
    if opening is None:
        raise RuntimeError("dot did not produce an <svg> element")
    metadata = f'\n<metadata id="{METADATA_ID}"><![CDATA[\n{source}]]></metadata>'
    return svg[:opening.end()] + metadata + svg[opening.end():]


def embedded_dot(svg_text: str) -> str | None:
    """The DOT source a picture was drawn from, or None when it has none."""
    root = ET.fromstring(svg_text)
    for element in root.iter(f"{SVG_NS}metadata"):
        if element.get("id") == METADATA_ID:
            return (element.text or "").strip("\n")
    return None


def _normalised(source: str) -> str:
    return " ".join(source.split())


def check(svg_path: Path = SVG) -> str | None:
    """None when the picture matches the code, else what is wrong and how to fix it."""
    fix = "run `python docs/flow.py` and commit docs/message-flow.svg"
    if not svg_path.exists():
        return f"{svg_path} is missing: {fix}"
    try:
        committed = embedded_dot(svg_path.read_text(encoding="utf-8"))
    except ET.ParseError as exc:
        return f"{svg_path} is not valid XML ({exc}): {fix}"
    if committed is None:
        return f"{svg_path} has no embedded DOT source: {fix}"
    if _normalised(committed) != _normalised(dot_source()):
        return f"{svg_path} no longer matches the code: {fix}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw docs/message-flow.svg from the code.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed SVG is stale")
    parser.add_argument("--output", type=Path, default=SVG, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        problem = check(args.output)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    try:
        svg = render_svg(dot_source())
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    args.output.write_text(svg, encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
