"""Risk rules beside watchlists: a small language, parsed with pyparsing, evaluated on a flat mapping.

Strategy: rules are data. `parse_rules(text)` turns the whole file into a `RuleSet` or raises
`RuleError` naming the line and column of the first problem (syntax, unknown attribute, a string
compared with `<`, a duplicate rule name). Evaluation works on a plain `dict` of dotted names to
values (`traveller.nationality`, `flight.arrival_country`, `document.issued_days`, ...), so the
language does not depend on the parser's models; a missing attribute makes its comparison false
(and says so in the explanation) rather than raising.

Grammar (one rule per statement, `#` comments):
    rule "NAME" when CONDITION then flag severity (low|medium|high) [score NUMBER]
    CONDITION := OR-chain of AND-chains of [not] comparisons or (CONDITION)
    comparison := ATTR (= | != | < | <= | > | >=) VALUE | ATTR in [VALUE, ...] | ATTR not in [...]
                  | ATTR between NUMBER and NUMBER
    VALUE := "string" | number | true | false
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyparsing as pp

from watchlists.models import FeatureScore

Value = str | float | bool

# The attributes a rule may use, with their type; the lead's adapter fills them from the manifest.
ATTRIBUTES: Mapping[str, type] = {
    "traveller.nationality": str, "traveller.age": float, "traveller.gender": str,
    "traveller.travelling_alone": bool, "traveller.type": str,
    "document.type": str, "document.issuing_country": str, "document.issued_days": float,
    "document.expires_days": float,
    "flight.departure_country": str, "flight.arrival_country": str, "flight.departure_airport": str,
    "flight.arrival_airport": str, "flight.carrier": str, "flight.route": str,
    "booking.one_way": bool, "booking.days_before_departure": float, "booking.paid_cash": bool,
    "booking.party_size": float,
}
SEVERITIES = ("low", "medium", "high")


class RuleError(ValueError):
    """A rule file that cannot be used; `line` and `col` are 1-based."""

    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(f"line {line}, column {col}: {message}")
        self.line = line
        self.col = col


@dataclass(frozen=True)
class Comparison:
    attribute: str
    op: str
    value: Value | tuple[Value, ...]

    def evaluate(self, attrs: Mapping[str, Any]) -> tuple[bool, str]:
        if self.attribute not in attrs or attrs[self.attribute] is None:
            return False, f"{self.attribute} unknown"
        actual = attrs[self.attribute]
        if isinstance(actual, str):
            actual = actual.upper()
        value = self.value
        ok: bool
        try:
            if self.op in ("in", "not in"):
                assert isinstance(value, tuple)
                members = {v.upper() if isinstance(v, str) else v for v in value}
                ok = (actual in members) == (self.op == "in")
            elif self.op == "between":
                assert isinstance(value, tuple)
                ok = bool(value[0] <= actual <= value[1])
            else:
                expected = value.upper() if isinstance(value, str) else value
                ok = bool(_OPS[self.op](actual, expected))
        except TypeError:
            return False, f"{self.attribute} has the wrong type"
        return ok, f"{self.attribute} {self.op} {_show(value)} ({'yes' if ok else 'no'}: {actual!r})"


_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _show(value: Value | tuple[Value, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else f"{value:g}"


@dataclass(frozen=True)
class Node:
    """AND / OR / NOT over comparisons."""

    kind: str  # and | or | not | cmp
    children: tuple[Node, ...] = ()
    comparison: Comparison | None = None

    def evaluate(self, attrs: Mapping[str, Any], trace: list[str]) -> bool:
        if self.kind == "cmp":
            assert self.comparison is not None
            ok, text = self.comparison.evaluate(attrs)
            trace.append(text)
            return ok
        if self.kind == "not":
            return not self.children[0].evaluate(attrs, trace)
        if self.kind == "and":
            return all(c.evaluate(attrs, trace) for c in self.children)
        return any(c.evaluate(attrs, trace) for c in self.children)


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Node
    severity: str
    score: float
    line: int
    source: str


@dataclass(frozen=True)
class RuleHit:
    """A traveller flagged by a rule, with the comparisons that made it fire."""

    rule: str
    severity: str
    score: float
    explanation: list[FeatureScore]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def evaluate(self, attrs: Mapping[str, Any]) -> list[RuleHit]:
        hits = []
        for rule in self.rules:
            trace: list[str] = []
            if rule.condition.evaluate(attrs, trace):
                lines = [FeatureScore(feature="rule", outcome="met", contribution=0.0, detail=t) for t in trace]
                hits.append(RuleHit(rule=rule.name, severity=rule.severity, score=rule.score, explanation=lines))
        return hits


def _grammar() -> pp.ParserElement:
    kw = pp.CaselessKeyword
    string = pp.QuotedString('"', esc_char="\\")
    number = pp.pyparsing_common.number
    boolean = (kw("true") | kw("false")).set_parse_action(lambda t: t[0].lower() == "true")
    value = string | number | boolean
    word = pp.Word(pp.alphas, pp.alphanums + "_")
    attribute: pp.ParserElement = pp.Combine(word + pp.OneOrMore("." + word))
    attribute = attribute.set_name("attribute (e.g. traveller.nationality)")
    op = pp.one_of("= != <= >= < >")
    listing = pp.Suppress("[") + pp.Group(pp.DelimitedList(value)) + pp.Suppress("]")
    loc = pp.Empty().set_parse_action(lambda s, loc_, t: loc_)
    cmp = pp.Group(
        loc("loc") + attribute("attr")
        + ((kw("not") + kw("in"))("notin") + listing("list")
           | kw("in")("in_") + listing("list")
           | kw("between")("between") + number("lo") + kw("and").suppress() + number("hi")
           | op("op") + value("value")))
    condition = pp.infix_notation(cmp, [  # type: ignore[no-untyped-call]
        (kw("not"), 1, pp.OpAssoc.RIGHT),
        (kw("and"), 2, pp.OpAssoc.LEFT),
        (kw("or"), 2, pp.OpAssoc.LEFT),
    ])
    severity = pp.one_of(list(SEVERITIES), caseless=True).set_name("low, medium or high")
    # `-` stops backtracking once a rule has started, so errors point inside the rule.
    rule = pp.Group(
        loc("loc") + kw("rule").suppress() - string("name") - kw("when").suppress() - condition("cond")
        - kw("then").suppress() - kw("flag").suppress() - kw("severity").suppress()
        - severity("severity")
        - pp.Optional(kw("score").suppress() + number("score")))
    return pp.ZeroOrMore(rule).ignore(pp.python_style_comment) + pp.StringEnd()


_GRAMMAR = _grammar()


def _to_node(text: str, tree: Any) -> Node:
    if isinstance(tree, pp.ParseResults) and "attr" in tree:
        attr = tree["attr"]
        loc = int(tree["loc"])
        expected = ATTRIBUTES.get(attr)
        if expected is None:
            raise RuleError(f"unknown attribute {attr!r}", pp.lineno(loc, text), pp.col(loc, text))
        if "list" in tree:
            return Node("cmp", comparison=Comparison(attr, "not in" if "notin" in tree else "in",
                                                     tuple(_flatten(tree["list"].as_list()))))
        if "between" in tree:
            return Node("cmp", comparison=Comparison(attr, "between", (float(tree["lo"]), float(tree["hi"]))))
        value = tree["value"]
        op = tree["op"]
        wrong_number = expected is float and (not isinstance(value, int | float) or isinstance(value, bool))
        if wrong_number or (isinstance(value, bool) and expected is not bool):
            raise RuleError(f"{attr} is compared with a value of the wrong type", pp.lineno(loc, text),
                            pp.col(loc, text))
        if expected is not float and op in ("<", "<=", ">", ">="):
            raise RuleError(f"{attr} cannot be ordered with {op}", pp.lineno(loc, text), pp.col(loc, text))
        return Node("cmp", comparison=Comparison(attr, op, value))
    items = list(tree)
    if len(items) == 2 and items[0] == "not":
        return Node("not", (_to_node(text, items[1]),))
    if len(items) >= 3 and isinstance(items[1], str) and items[1].lower() in ("and", "or"):
        return Node(items[1].lower(), tuple(_to_node(text, c) for c in items[::2]))
    if len(items) == 1:
        return _to_node(text, items[0])
    raise RuleError("cannot read condition", 1, 1)


def _flatten(values: list[Any]) -> list[Value]:
    out: list[Value] = []
    for v in values:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def parse_rules(text: str) -> RuleSet:
    """Parse and validate a rule file; raise RuleError(line, col) on the first problem."""
    try:
        parsed = _GRAMMAR.parse_string(text, parse_all=True)
    except (pp.ParseException, pp.ParseSyntaxException) as exc:
        raise RuleError(f"syntax error, {exc.msg}", exc.lineno, exc.col) from None
    rules: list[Rule] = []
    seen: set[str] = set()
    for item in parsed:
        loc = int(item["loc"])
        line, col = pp.lineno(loc, text), pp.col(loc, text)
        if item["name"] in seen:
            raise RuleError(f"duplicate rule name {item['name']!r}", line, col)
        seen.add(item["name"])
        rules.append(Rule(name=item["name"], condition=_to_node(text, item["cond"]),
                          severity=item["severity"].lower(), score=float(item.get("score", 1.0)),
                          line=line, source=pp.line(loc, text).strip()))
    return RuleSet(tuple(rules))
