"""Risk rules beside watchlists: a small language, parsed with pyparsing, evaluated on a flat mapping.

Strategy: rules are data. `parse_rules(text)` turns the whole file into a `RuleSet` or raises
`RuleError` naming the line and column of the first problem (syntax, unknown attribute, an
attribute no configured input fills, a policy violation, a string compared with `<`, a duplicate
rule name). Evaluation works on a plain `dict` of dotted names to values (`traveller.nationality`,
`flight.arrival_country`, `document.issued_days`, ...), so the language does not depend on the
parser's models; a missing attribute makes its comparison false rather than raising.

Evaluation runs for every traveller of every manifest, so each comparison is compiled once into a
closure over pre-upper-cased values, and the explanation text is built only for rules that fire.

Grammar (one rule per statement, `#` comments):
    rule "NAME" when CONDITION then flag severity (low|medium|high) [score NUMBER]
    CONDITION := OR-chain of AND-chains of [not] comparisons or (CONDITION)
    comparison := ATTR (= | != | < | <= | > | >=) VALUE | ATTR in [VALUE, ...] | ATTR not in [...]
                  | ATTR between NUMBER and NUMBER | ATTR has VALUE
    VALUE := "string" | number | true | false
Multi-valued attributes (`flight.legs`, `flight.via_airports`, `flight.via_countries`) take
`has "X"` (holds X), `in [...]` (holds any of them) and `not in [...]` (holds none of them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeGuard

import pyparsing as pp

from watchlists.models import FeatureScore

if TYPE_CHECKING:
    from watchlists.rule_policy import RulePolicy

Value = str | float | bool
Test = Callable[[Mapping[str, Any]], bool]

# The attributes a rule may use, with their type; `frozenset` marks a multi-valued attribute.
ATTRIBUTES: Mapping[str, type] = MappingProxyType({
    "traveller.nationality": str, "traveller.age": float, "traveller.gender": str,
    "traveller.type": str, "traveller.crew": bool, "traveller.transit": bool,
    "traveller.party_size": float, "traveller.travelling_alone": bool,
    "traveller.bag_count": float, "traveller.verified": bool,
    "document.type": str, "document.issuing_country": str, "document.issued_days": float,
    "document.expires_days": float,
    "flight.departure_country": str, "flight.arrival_country": str, "flight.departure_airport": str,
    "flight.arrival_airport": str, "flight.carrier": str, "flight.route": str,
    "flight.legs": frozenset, "flight.via_airports": frozenset, "flight.via_countries": frozenset,
    "flight.transit": bool,
    "booking.one_way": bool, "booking.days_before_departure": float, "booking.paid_cash": bool,
})
# Older names still accepted in rule text; a rule stores the current name.
ALIASES: Mapping[str, str] = MappingProxyType({"booking.party_size": "traveller.party_size"})

_BOOKING_ONLY = frozenset({"booking.one_way", "booking.days_before_departure", "booking.paid_cash"})
# Which input fills which attributes. No input carries fares or return legs yet, so the booking.*
# attributes are filled by none and a rule naming them is refused instead of never firing.
FILLED_BY: Mapping[str, frozenset[str]] = MappingProxyType({
    "paxlst": frozenset(ATTRIBUTES) - _BOOKING_ONLY,
    "jsonl": frozenset({"traveller.nationality", "traveller.gender", "traveller.age", "document.issuing_country"}),
})
SEVERITIES = ("low", "medium", "high")


def inputs_filling(attribute: str) -> tuple[str, ...]:
    """The inputs that fill `attribute` (an alias is resolved), in `FILLED_BY` order."""
    name = ALIASES.get(attribute, attribute)
    return tuple(source for source, names in FILLED_BY.items() if name in names)


class RuleError(ValueError):
    """A rule file that cannot be used; `line` and `col` are 1-based."""

    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(f"line {line}, column {col}: {message}")
        self.line = line
        self.col = col


@dataclass(frozen=True)
class Comparison:
    """One `attribute op value`; `test` is the compiled check, `line`/`col` where it was written."""

    attribute: str
    op: str
    value: Value | tuple[Value, ...]
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)
    test: Test = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", _compile(self.attribute, self.op, self.value))

    def __reduce__(self) -> tuple[Any, ...]:  # compiled closures do not pickle: rebuild them
        return (Comparison, (self.attribute, self.op, self.value, self.line, self.col))

    @property
    def positive(self) -> bool:
        """True when the comparison holds for values it names (not for `!=` / `not in`)."""
        return self.op not in ("!=", "not in")

    def evaluate(self, attrs: Mapping[str, Any]) -> tuple[bool, str]:
        ok = self.test(attrs)
        return ok, self.explain(attrs, ok)

    def explain(self, attrs: Mapping[str, Any], ok: bool) -> str:
        actual = attrs.get(self.attribute)
        if actual is None:
            return f"{self.attribute} unknown"
        if not _type_fits(ATTRIBUTES.get(self.attribute, str), actual):
            return f"{self.attribute} has the wrong type"
        return f"{self.attribute} {self.op} {_show(self.value)} ({'yes' if ok else 'no'}: {_show_actual(actual)})"


def _type_fits(expected: type, actual: Any) -> bool:
    if expected is frozenset:
        return isinstance(actual, frozenset | set | tuple | list)
    if expected is float:
        return isinstance(actual, int | float) and not isinstance(actual, bool)
    return isinstance(actual, expected)


def _show(value: Value | tuple[Value, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else f"{value:g}"


def _show_actual(actual: Any) -> str:
    if isinstance(actual, str):
        return repr(actual.upper())
    if isinstance(actual, frozenset | set | tuple | list):
        return "[" + ", ".join(sorted(repr(str(v).upper()) for v in actual)) + "]"
    return repr(actual)


def _upper(value: Value) -> Value:
    return value.upper() if isinstance(value, str) else value


_MULTI = (frozenset, set, tuple, list)


def _compile(key: str, op: str, value: Value | tuple[Value, ...]) -> Test:
    """A closure for one comparison: a missing value, or one of the wrong type, never matches."""
    kind = ATTRIBUTES.get(key, str)
    if kind is frozenset:
        return _compile_multi(key, op, value)
    if op in ("in", "not in"):
        assert isinstance(value, tuple)
        members = frozenset(_upper(v) for v in value)
        if kind is str:
            if op == "in":
                return lambda a: isinstance(x := a.get(key), str) and (x in members or x.upper() in members)
            return lambda a: isinstance(x := a.get(key), str) and x.upper() not in members
        if kind is bool:
            if op == "in":
                return lambda a: (x := a.get(key)) is not None and x.__class__ is bool and x in members
            return lambda a: (x := a.get(key)) is not None and x.__class__ is bool and x not in members
        if op == "in":
            return lambda a: _is_number(x := a.get(key)) and x in members
        return lambda a: _is_number(x := a.get(key)) and x not in members
    if op == "between":
        assert isinstance(value, tuple)
        lo, hi = value
        assert isinstance(lo, int | float) and isinstance(hi, int | float)
        return lambda a: _is_number(x := a.get(key)) and lo <= x <= hi
    assert not isinstance(value, tuple)
    if kind is str:
        expected = _upper(value)
        if op == "=":
            return lambda a: (x := a.get(key)) == expected or (isinstance(x, str) and x.upper() == expected)
        return lambda a: isinstance(x := a.get(key), str) and x.upper() != expected
    if kind is bool:
        if op == "=":
            return lambda a: a.get(key) is value
        other = not value
        return lambda a: a.get(key) is other
    assert isinstance(value, int | float)
    number = value
    if op == "=":
        return lambda a: _is_number(x := a.get(key)) and x == number
    if op == "!=":
        return lambda a: _is_number(x := a.get(key)) and x != number
    if op == "<":
        return lambda a: _is_number(x := a.get(key)) and x < number
    if op == "<=":
        return lambda a: _is_number(x := a.get(key)) and x <= number
    if op == ">":
        return lambda a: _is_number(x := a.get(key)) and x > number
    if op == ">=":
        return lambda a: _is_number(x := a.get(key)) and x >= number
    raise ValueError(f"unknown operator {op!r}")


def _is_number(x: Any) -> TypeGuard[float]:
    return x.__class__ is float or x.__class__ is int


def _compile_multi(key: str, op: str, value: Value | tuple[Value, ...]) -> Test:
    """`has` X: holds X; `in` [..]: holds any of them; `not in` [..]: holds none (an empty set holds none)."""
    wanted = frozenset(_upper(v) for v in value) if isinstance(value, tuple) else frozenset({_upper(value)})

    def any_of(a: Mapping[str, Any]) -> bool:
        x = a.get(key)
        if not isinstance(x, _MULTI):
            return False
        return not wanted.isdisjoint(x) or not wanted.isdisjoint([v.upper() for v in x if isinstance(v, str)])

    if op in ("has", "in"):
        return any_of
    if op == "not in":
        return lambda a: isinstance(a.get(key), _MULTI) and not any_of(a)
    raise ValueError(f"operator {op!r} does not apply to a multi-valued attribute")


def _both(first: Test, second: Test) -> Test:
    return lambda a: first(a) and second(a)


def _either(first: Test, second: Test) -> Test:
    return lambda a: first(a) or second(a)


@dataclass(frozen=True)
class Node:
    """AND / OR / NOT over comparisons; `test` is the compiled condition."""

    kind: str  # and | or | not | cmp
    children: tuple[Node, ...] = ()
    comparison: Comparison | None = None
    test: Test = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", self._compile())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Node, (self.kind, self.children, self.comparison))

    def _compile(self) -> Test:
        if self.kind == "cmp":
            assert self.comparison is not None
            return self.comparison.test
        tests = [c.test for c in self.children]
        if self.kind == "not":
            inner = tests[0]
            return lambda a: not inner(a)
        # Chained pairwise from the right: plain calls, no generator per evaluation.
        chained = tests.pop()
        while tests:
            chained = _both(tests.pop(), chained) if self.kind == "and" else _either(tests.pop(), chained)
        return chained

    def looked_at(self, attrs: Mapping[str, Any]) -> list[Comparison]:
        """The comparisons `evaluate` looks at for these attributes, in order (short-circuit alike)."""
        seen: list[Comparison] = []

        def walk(node: Node) -> bool:
            if node.kind == "cmp":
                assert node.comparison is not None
                seen.append(node.comparison)
                return node.comparison.test(attrs)
            if node.kind == "not":
                return not walk(node.children[0])
            if node.kind == "and":
                return all(walk(c) for c in node.children)
            return any(walk(c) for c in node.children)

        walk(self)
        return seen

    def evaluate(self, attrs: Mapping[str, Any], trace: list[str]) -> bool:
        """The same answer as `test`, recording each comparison it looked at (short-circuit alike)."""
        if self.kind == "cmp":
            assert self.comparison is not None
            ok = self.comparison.test(attrs)
            trace.append(self.comparison.explain(attrs, ok))
            return ok
        if self.kind == "not":
            return not self.children[0].evaluate(attrs, trace)
        if self.kind == "and":
            return all(c.evaluate(attrs, trace) for c in self.children)
        return any(c.evaluate(attrs, trace) for c in self.children)

    def comparisons(self) -> list[Comparison]:
        if self.comparison is not None:
            return [self.comparison]
        return [c for child in self.children for c in child.comparisons()]


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Node
    severity: str
    score: float
    line: int
    source: str
    attributes: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", frozenset(c.attribute for c in self.condition.comparisons()))

    def explain(self, attrs: Mapping[str, Any]) -> list[FeatureScore]:
        """Each comparison looked at, in order, as met or not met (a losing branch of an `or` is not met)."""
        lines: list[FeatureScore] = []
        for cmp in self.condition.looked_at(attrs):
            ok = cmp.test(attrs)
            lines.append(FeatureScore(feature="rule", outcome="met" if ok else "not met", contribution=0.0,
                                      detail=cmp.explain(attrs, ok)))
        return lines


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
    _fired: Callable[[Mapping[str, Any]], list[int]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fired", _compile_ruleset(self.rules))

    def __reduce__(self) -> tuple[Any, ...]:  # e.g. sent to a worker process
        return (RuleSet, (self.rules,))

    @property
    def attributes(self) -> frozenset[str]:
        """Every attribute some rule reads: an adapter may skip the others."""
        return frozenset().union(*(r.attributes for r in self.rules))

    def evaluate(self, attrs: Mapping[str, Any]) -> list[RuleHit]:
        rules = self.rules
        return [RuleHit(rule=rule.name, severity=rule.severity, score=rule.score, explanation=rule.explain(attrs))
                for rule in (rules[i] for i in self._fired(attrs))]


def _upper_set(x: Any) -> frozenset[Any] | None:
    if not isinstance(x, _MULTI):
        return None
    return frozenset([v.upper() if isinstance(v, str) else v for v in x])


def _compile_ruleset(rules: tuple[Rule, ...]) -> Callable[[Mapping[str, Any]], list[int]]:
    """One Python function testing every rule: each attribute read and upper-cased once, no call per comparison.

    The source holds only generated names and attribute names from `ATTRIBUTES`; every value
    written in a rule reaches the function as a constant in its namespace, never as source text.
    Semantics are those of `Node.test` (a test compares both on many attribute sets).
    """
    namespace: dict[str, Any] = {"_upper_set": _upper_set}
    local: dict[str, str] = {}
    prologue: list[str] = []

    def var(attr: str) -> str:
        if attr not in local:
            v = local[attr] = f"v{len(local)}"
            kind = ATTRIBUTES[attr]
            if kind is str:
                prologue.append(f"{v} = g({attr!r}); {v} = {v}.upper() if isinstance({v}, str) else None")
            elif kind is float:
                prologue.append(f"{v} = g({attr!r}); {v} = {v} if {v}.__class__ is float or {v}.__class__ is int "
                                "else None")
            elif kind is bool:
                prologue.append(f"{v} = g({attr!r})")
            else:
                prologue.append(f"{v} = _upper_set(g({attr!r}))")
        return local[attr]

    def const(value: Any) -> str:
        name = f"c{len(namespace)}"
        namespace[name] = value
        return name

    def expr(node: Node) -> str:
        if node.kind == "not":
            return f"(not {expr(node.children[0])})"
        if node.kind in ("and", "or"):
            return "(" + f" {node.kind} ".join(expr(c) for c in node.children) + ")"
        assert node.comparison is not None
        cmp = node.comparison
        v, kind, op, value = var(cmp.attribute), ATTRIBUTES[cmp.attribute], cmp.op, cmp.value
        if kind is frozenset:
            wanted = const(frozenset(_upper(x) for x in value) if isinstance(value, tuple) else _upper(value))
            test = {"has": f"{wanted} in {v}", "in": f"not {wanted}.isdisjoint({v})",
                    "not in": f"{wanted}.isdisjoint({v})"}[op]
            return f"({v} is not None and {test})"
        if op in ("in", "not in"):
            assert isinstance(value, tuple)
            members = const(frozenset(_upper(x) for x in value))
            if kind is bool:
                return f"({v}.__class__ is bool and {v} {op} {members})"
            return f"({v} in {members})" if op == "in" else f"({v} is not None and {v} not in {members})"
        if op == "between":
            assert isinstance(value, tuple)
            return f"({v} is not None and {const(value[0])} <= {v} <= {const(value[1])})"
        if kind is bool:
            return f"({v} is {const(value if op == '=' else not value)})"
        assert not isinstance(value, tuple)
        python_op = "==" if op == "=" else op
        return f"({v} is not None and {v} {python_op} {const(_upper(value))})"

    tests = [expr(rule.condition) for rule in rules]
    body = [f"    if {t}:\n        out.append({i})" for i, t in enumerate(tests)]
    source = "\n".join(["def _fired(a):", "    g = a.get", *(f"    {p}" for p in prologue), "    out = []",
                        *body, "    return out"])
    exec(compile(source, "<rules>", "exec"), namespace)
    fired: Callable[[Mapping[str, Any]], list[int]] = namespace["_fired"]
    return fired


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
           | kw("has")("has") + value("value")
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
_KIND_NAMES = {str: "a string", float: "a number", bool: "true or false", frozenset: "a string"}


@dataclass(frozen=True)
class _Context:
    text: str
    inputs: tuple[str, ...]
    filled: frozenset[str]
    policy: RulePolicy | None
    profile: str | None


def _to_node(ctx: _Context, tree: Any) -> Node:
    if isinstance(tree, pp.ParseResults) and "attr" in tree:
        return Node("cmp", comparison=_comparison(ctx, tree))
    items = list(tree)
    if len(items) == 2 and items[0] == "not":
        return Node("not", (_to_node(ctx, items[1]),))
    if len(items) >= 3 and isinstance(items[1], str) and items[1].lower() in ("and", "or"):
        return Node(items[1].lower(), tuple(_to_node(ctx, c) for c in items[::2]))
    if len(items) == 1:
        return _to_node(ctx, items[0])
    raise RuleError("cannot read condition", 1, 1)


def _comparison(ctx: _Context, tree: pp.ParseResults) -> Comparison:
    written = tree["attr"]
    loc = int(tree["loc"])
    line, col = pp.lineno(loc, ctx.text), pp.col(loc, ctx.text)
    attr = ALIASES.get(written, written)
    if ctx.policy is not None:
        banned = ctx.policy.forbidding(written, ctx.profile) or ctx.policy.forbidding(attr, ctx.profile)
        if banned is not None:
            raise RuleError(f"{written} is forbidden by policy rule {banned.name!r}: {banned.reason}", line, col)
    expected = ATTRIBUTES.get(attr)
    if expected is None:
        raise RuleError(f"unknown attribute {written!r}", line, col)
    if attr not in ctx.filled:
        sources = inputs_filling(attr)
        filled_by = f"filled only by {', '.join(sources)}" if sources else "filled by no input yet"
        raise RuleError(f"{written} is not filled by the configured input ({', '.join(ctx.inputs)}): "
                        f"it is {filled_by}", line, col)
    multi = expected is frozenset
    if "list" in tree:
        values = tuple(_flatten(tree["list"].as_list()))
        for v in values:
            _check_value(attr, expected, v, line, col)
        return Comparison(attr, "not in" if "notin" in tree else "in", values, line, col)
    if "between" in tree:
        if expected is not float:
            raise RuleError(f"{attr} is not a number: between does not apply", line, col)
        return Comparison(attr, "between", (float(tree["lo"]), float(tree["hi"])), line, col)
    value = tree["value"]
    _check_value(attr, expected, value, line, col)
    if "has" in tree:
        if not multi:
            raise RuleError(f"{attr} holds one value: use = instead of has", line, col)
        return Comparison(attr, "has", value, line, col)
    op = tree["op"]
    if multi:
        raise RuleError(f"{attr} holds several values: use has, in [...] or not in [...]", line, col)
    if expected is not float and op in ("<", "<=", ">", ">="):
        raise RuleError(f"{attr} cannot be ordered with {op}", line, col)
    return Comparison(attr, op, value, line, col)


def _check_value(attr: str, expected: type, value: Any, line: int, col: int) -> None:
    if expected is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is bool:
        fits = isinstance(value, bool)
    else:
        fits = isinstance(value, str)
    if not fits:
        raise RuleError(f"{attr} is compared with a value of the wrong type (it takes {_KIND_NAMES[expected]})",
                        line, col)


def _flatten(values: list[Any]) -> list[Value]:
    out: list[Value] = []
    for v in values:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def parse_rules(text: str, *, inputs: Collection[str] = ("paxlst",), policy: RulePolicy | None = None,
                profile: str | None = None) -> RuleSet:
    """Parse and validate a rule file; raise RuleError(line, col) on the first problem.

    `inputs` names where the travellers come from (keys of `FILLED_BY`): an attribute none of them
    fills would never match, so it is refused. With a `policy`, attributes it forbids and
    restricted attributes outside their allowed combinations are refused too (for `profile`).
    """
    sources = tuple(inputs)
    unknown = [s for s in sources if s not in FILLED_BY]
    if not sources or unknown:
        raise ValueError(f"inputs must name some of {', '.join(FILLED_BY)}; got {', '.join(sources) or 'none'}")
    ctx = _Context(text=text, inputs=sources, filled=frozenset().union(*(FILLED_BY[s] for s in sources)),
                   policy=policy, profile=profile)
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
        rule = Rule(name=item["name"], condition=_to_node(ctx, item["cond"]),
                    severity=item["severity"].lower(), score=float(item.get("score", 1.0)),
                    line=line, source=pp.line(loc, text).strip())
        if policy is not None:
            policy.check_rule(rule, profile)
        rules.append(rule)
    return RuleSet(tuple(rules))
