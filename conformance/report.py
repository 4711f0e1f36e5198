"""Reports people can file: one result model, four renderings (terminal, JUnit XML, HTML, JSON).

Strategy: `check` (carrier files) and `run` (a live system) both produce a `Report` of cases, each
with a verdict and the lines that explain it (a finding of a file, or an expectation a system
missed). Renderers only format; they never decide a verdict. The HTML page is one file with
inline CSS and no scripts or external assets, so it can be mailed, archived or attached to a
certification record and still render the same. Offending values are shown: this is a
certification tool run on sample data, where seeing the value is the point.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["check", "run"]


@dataclass
class Line:
    """One explained observation: a finding (check) or a missed expectation (run)."""

    rule: str
    severity: str  # error, warning, info
    message: str
    reference: str = ""  # implementation-guide reference
    position: int | None = None
    segment: str | None = None
    text: str | None = None  # the offending value as sent
    hint: str = ""
    contrl: int | None = None
    message_ref: str | None = None


@dataclass
class CaseResult:
    name: str
    passed: bool
    title: str = ""
    lines: list[Line] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "SKIP" if self.skipped else ("PASS" if self.passed else "FAIL")

    @property
    def failures(self) -> list[Line]:
        return [ln for ln in self.lines if ln.severity == "error"]


@dataclass
class Report:
    kind: Kind
    title: str
    profile: str
    cases: list[CaseResult] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def passed(self) -> bool:
        return all(c.passed or c.skipped for c in self.cases) and any(not c.skipped for c in self.cases)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def counts(self) -> dict[str, int]:
        return {"total": len(self.cases), "passed": sum(c.verdict == "PASS" for c in self.cases),
                "failed": sum(c.verdict == "FAIL" for c in self.cases),
                "skipped": sum(c.verdict == "SKIP" for c in self.cases)}


# ---- JSON ---------------------------------------------------------------------------------------------


def to_json(report: Report) -> str:
    doc = {"kind": report.kind, "title": report.title, "profile": report.profile, "verdict": report.verdict,
           "created": report.created, "counts": report.counts(), "meta": report.meta,
           "cases": [{"name": c.name, "title": c.title, "verdict": c.verdict, "seconds": round(c.seconds, 3),
                      "details": c.details, "lines": [asdict(ln) for ln in c.lines]} for c in report.cases]}
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str)


# ---- JUnit XML ----------------------------------------------------------------------------------------


def _line_text(ln: Line) -> str:
    where = f" at {ln.segment or ''}@{ln.position}" if ln.position is not None else ""
    text = f" [{ln.text}]" if ln.text else ""
    hint = f"\n  fix: {ln.hint}" if ln.hint else ""
    ref = f" ({ln.reference})" if ln.reference else ""
    return f"{ln.rule}{ref}{where}: {ln.message}{text}{hint}"


def to_junit(report: Report) -> str:
    """One testsuite, one testcase per file (check) or suite case (run); failures list the error lines."""
    c = report.counts()
    suite = ET.Element("testsuite", name=f"conformance {report.kind}: {report.title}", tests=str(c["total"]),
                       failures=str(c["failed"]), errors="0", skipped=str(c["skipped"]),
                       time=f"{sum(x.seconds for x in report.cases):.3f}", timestamp=report.created)
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="profile", value=report.profile)
    for k, v in _shown_meta(report.meta).items():
        ET.SubElement(props, "property", name=str(k), value=str(v))
    for case in report.cases:
        tc = ET.SubElement(suite, "testcase", classname=f"conformance.{report.kind}.{report.profile}",
                           name=case.name, time=f"{case.seconds:.3f}")
        if case.skipped:
            ET.SubElement(tc, "skipped", message=case.details.get("skip_reason", "skipped"))
        elif not case.passed:
            fails = case.failures or case.lines
            f = ET.SubElement(tc, "failure", type="conformance",
                              message=f"{len(fails)} error(s): " + ", ".join(dict.fromkeys(ln.rule for ln in fails)))
            f.text = "\n".join(_line_text(ln) for ln in fails)
        others = [ln for ln in case.lines if ln.severity != "error"]
        if others:
            ET.SubElement(tc, "system-out").text = "\n".join(_line_text(ln) for ln in others)
    root = ET.Element("testsuites", name="api-engine conformance", tests=str(c["total"]),
                      failures=str(c["failed"]))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---- HTML ---------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d2327;background:#fff}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
.meta{color:#50575e;font-size:.9rem}.verdict{display:inline-block;padding:.2rem .7rem;border-radius:.3rem;
font-weight:700;color:#fff}.PASS{background:#1e7e34}.FAIL{background:#b32d2e}.SKIP{background:#787c82}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #dcdcde;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f7f7}td.sev-error{color:#b32d2e;font-weight:600}td.sev-warning{color:#996800}
td.sev-info{color:#2271b1}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;
background:#f6f7f7;padding:0 .2rem}.summary td{border:none;padding:.1rem .8rem .1rem 0}
"""


def _e(v: object) -> str:
    return html.escape("" if v is None else str(v))


_PROJECT = Path(__file__).resolve().parents[1]
_SOURCE_KEYS = frozenset({"profile_source", "profile_file"})


def _shown_source(value: object) -> object:
    """A profile file as a filed report shows it: relative to the project, else its name.

    An absolute path names the machine and the user that made the report, and means nothing to
    whoever reads it elsewhere."""
    text = str(value)
    path = Path(text)
    if not path.is_absolute():
        return value
    try:
        return path.resolve().relative_to(_PROJECT).as_posix()
    except ValueError:
        return path.name


def _shown_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: _shown_source(v) if k in _SOURCE_KEYS else v for k, v in meta.items()}


def case_title(case: CaseResult) -> str:
    """The case's own title (suite cases have one); for a checked file, what it holds or why it fails."""
    if case.title:
        return case.title
    if case.skipped:
        return str(case.details.get("skip_reason", "skipped"))
    errors = [ln for ln in case.lines if ln.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        return f"{errors[0].message}{more}"
    held = [f"{v} {k if v != 1 else k[:-1]}" for k, v in case.details.items()
            if k in ("messages", "travellers", "responses")]
    return ", ".join(held) or case.verdict.lower()


def to_html(report: Report) -> str:
    """One self-contained page: summary, a table of cases, then each case's lines."""
    c = report.counts()
    out = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Conformance {_e(report.kind)}: {_e(report.verdict)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Conformance {_e(report.kind)} — {_e(report.title)} "
        f'<span class="verdict {report.verdict}" id="verdict">{report.verdict}</span></h1>',
        f'<p class="meta">profile <code>{_e(report.profile)}</code> · {_e(report.created)} · '
        f"{c['total']} case(s): {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped</p>",
    ]
    if report.meta:
        out.append('<table class="summary">' + "".join(
            f"<tr><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>" for k, v in _shown_meta(report.meta).items())
            + "</table>")
    out.append("<h2>Cases</h2><table><tr><th>verdict</th><th>case</th><th>title</th><th>errors</th>"
               "<th>warnings</th><th>details</th></tr>")
    for i, case in enumerate(report.cases):
        errs = sorted({ln.rule for ln in case.lines if ln.severity == "error"})
        warns = sorted({ln.rule for ln in case.lines if ln.severity == "warning"})
        details = ", ".join(f"{k}={v}" for k, v in case.details.items())
        out.append(f'<tr><td><span class="verdict {case.verdict}">{case.verdict}</span></td>'
                   f'<td><a href="#case-{i}">{_e(case.name)}</a></td><td>{_e(case_title(case))}</td>'
                   f"<td>{_e(' '.join(errs))}</td><td>{_e(' '.join(warns))}</td><td>{_e(details)}</td></tr>")
    out.append("</table>")
    for i, case in enumerate(report.cases):
        if not case.lines:
            continue
        out.append(f'<h2 id="case-{i}"><span class="verdict {case.verdict}">{case.verdict}</span> '
                   f"{_e(case.name)}</h2>")
        out.append("<table><tr><th>severity</th><th>rule</th><th>reference</th><th>segment</th>"
                   "<th>message</th><th>offending text</th><th>how to fix</th></tr>")
        for ln in case.lines:
            where = f"{ln.segment or ''}@{ln.position}" if ln.position is not None else (ln.segment or "")
            out.append(f'<tr><td class="sev-{_e(ln.severity)}">{_e(ln.severity)}</td><td><code>{_e(ln.rule)}</code>'
                       f"</td><td>{_e(ln.reference)}</td><td>{_e(where)}</td><td>{_e(ln.message)}</td>"
                       f"<td><code>{_e(ln.text)}</code></td><td>{_e(ln.hint)}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---- terminal -----------------------------------------------------------------------------------------


def print_terminal(report: Report, console: Any = None) -> None:
    """A rich table per failing or noted case, then the overall verdict."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    colour = {"PASS": "green", "FAIL": "red", "SKIP": "dim", "error": "red", "warning": "yellow", "info": "cyan"}
    t = Table(title=f"Conformance {report.kind}: {report.title} (profile {report.profile})", title_justify="left")
    for col in ("verdict", "case", "errors", "warnings", "details"):
        t.add_column(col)
    for case in report.cases:
        errs = " ".join(sorted({ln.rule for ln in case.lines if ln.severity == "error"}))
        warns = " ".join(sorted({ln.rule for ln in case.lines if ln.severity == "warning"}))
        t.add_row(f"[{colour[case.verdict]}]{case.verdict}[/]", case.name, errs, warns,
                  ", ".join(f"{k}={v}" for k, v in case.details.items()))
    con.print(t)
    for case in report.cases:
        if not case.lines:
            continue
        d = Table(title=f"{case.verdict} {case.name}", title_justify="left", show_lines=False)
        for col in ("severity", "rule", "reference", "segment", "message", "text", "fix"):
            d.add_column(col, overflow="fold")
        for ln in case.lines:
            where = f"{ln.segment or ''}@{ln.position}" if ln.position is not None else (ln.segment or "")
            d.add_row(f"[{colour.get(ln.severity, 'white')}]{ln.severity}[/]", ln.rule, ln.reference, where,
                      ln.message, ln.text or "", ln.hint)
        con.print(d)
    c = report.counts()
    con.print(f"[{colour[report.verdict]}]{report.verdict}[/]: {c['passed']} passed, {c['failed']} failed, "
              f"{c['skipped']} skipped of {c['total']}")
