"""Lawful targeting criteria: which attributes risk rules may use, and in which combinations.

Strategy: the policy is data (TOML) kept by whoever answers for the criteria (PNR Directive
art. 6(4); CJEU C-817/19: pre-determined criteria must be targeted, proportionate and never
discriminatory), not code. A policy rule either forbids attributes outright or lets attributes be
used only beside a condition on other attributes in the same AND-chain, so that e.g. nationality
can narrow a route criterion but never select travellers on its own. `[profiles.<name>]` tables
override the default rules by name; a profile without a table gets the default.

The combination check is structural: a restricted comparison is accepted when some comparison
that must also hold for the rule to fire (a positive `=`, `in`, `has`, ordering or `between`, not
negated, not only one branch of an `or`) names a required attribute. It cannot judge whether that
condition is selective; a reviewer still reads the rules.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from watchlists.rules import Node, Rule, RuleError, RuleSet

DEFAULT_PROFILE = "default"
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$")
_RULE_KEYS = frozenset({"name", "reason", "forbid", "attributes", "only_with_any"})


class RulePolicyError(ValueError):
    """A policy file that cannot be used (the message names the file and the policy rule)."""


def _matches(attribute: str, patterns: tuple[str, ...]) -> bool:
    name = attribute.lower()
    return any(name == p or (p.endswith(".*") and name.startswith(p[:-1])) for p in patterns)


@dataclass(frozen=True)
class PolicyRule:
    """`forbid`: attributes no rule may use. `attributes` + `only_with_any`: usable only beside one of those."""

    name: str
    reason: str
    forbid: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    only_with_any: tuple[str, ...] = ()

    def forbids(self, attribute: str) -> bool:
        return _matches(attribute, self.forbid)

    def restricts(self, attribute: str) -> bool:
        return _matches(attribute, self.attributes)


@dataclass(frozen=True)
class RulePolicy:
    rules: tuple[PolicyRule, ...]
    profiles: Mapping[str, tuple[PolicyRule, ...]] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<policy>"

    def rules_for(self, profile: str | None = None) -> tuple[PolicyRule, ...]:
        """The default rules with the profile's rules replacing those of the same name (others added)."""
        extra = self.profiles.get(profile or DEFAULT_PROFILE, ())
        if not extra:
            return self.rules
        by_name = {r.name: r for r in self.rules}
        by_name.update((r.name, r) for r in extra)
        return tuple(by_name.values())

    def forbidding(self, attribute: str, profile: str | None = None) -> PolicyRule | None:
        return next((r for r in self.rules_for(profile) if r.forbids(attribute)), None)

    def check_rule(self, rule: Rule, profile: str | None = None) -> None:
        """Raise RuleError at the first comparison this policy refuses."""
        active = self.rules_for(profile)
        for cmp in rule.condition.comparisons():
            banned = next((r for r in active if r.forbids(cmp.attribute)), None)
            if banned is not None:
                raise RuleError(f"{cmp.attribute} is forbidden by policy rule {banned.name!r}: {banned.reason}",
                                cmp.line, cmp.col)
        for policy_rule in active:
            if not policy_rule.attributes:
                continue
            for node, companions in _comparisons_with_companions(rule.condition):
                assert node.comparison is not None
                cmp = node.comparison
                if not policy_rule.restricts(cmp.attribute):
                    continue
                if any(_guarantees(c, policy_rule.only_with_any) for c in companions):
                    continue
                needed = " or ".join(policy_rule.only_with_any)
                raise RuleError(f"{cmp.attribute} breaks policy rule {policy_rule.name!r}"
                                f" (profile {profile or DEFAULT_PROFILE}): it may be used only together with a "
                                f"{needed} condition in the same AND-chain; {policy_rule.reason}", cmp.line, cmp.col)

    def check(self, rules: RuleSet | Iterable[Rule], profile: str | None = None) -> None:
        """Check rules parsed earlier (e.g. stored ones) against this policy; RuleError on the first violation."""
        for rule in rules.rules if isinstance(rules, RuleSet) else rules:
            self.check_rule(rule, profile)


def _comparisons_with_companions(root: Node) -> list[tuple[Node, list[Node]]]:
    """Each comparison with the conditions that must hold beside it: siblings in un-negated ANDs above it."""
    out: list[tuple[Node, list[Node]]] = []

    def walk(node: Node, positive: bool, companions: list[Node]) -> None:
        if node.kind == "cmp":
            out.append((node, companions))
        elif node.kind == "not":
            walk(node.children[0], not positive, companions)
        elif node.kind == "and" and positive:
            for child in node.children:
                walk(child, positive, companions + [c for c in node.children if c is not child])
        else:  # an OR, or an AND under `not` (which De Morgan turns into an OR): branches stand alone
            for child in node.children:
                walk(child, positive, companions)

    walk(root, True, [])
    return out


def _guarantees(node: Node, patterns: tuple[str, ...]) -> bool:
    """Whether the condition can hold only with a positive comparison on one of `patterns`.

    A negated comparison does not count: a missing value makes the comparison false and its
    negation true, so `not flight.route = "X"` holds for everyone else, route known or not.
    """
    if node.kind == "cmp":
        assert node.comparison is not None
        return node.comparison.positive and _matches(node.comparison.attribute, patterns)
    if node.kind == "and":
        return any(_guarantees(c, patterns) for c in node.children)
    if node.kind == "or":
        return all(_guarantees(c, patterns) for c in node.children)
    return False


def _patterns(where: str, value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulePolicyError(f"{where}: {key} must be a list of attribute names")
    for v in value:
        if not (_NAME.match(v) or _PREFIX.match(v)):
            raise RulePolicyError(f"{where}: {v!r} in {key} is not an attribute name or a prefix like flight.*")
    return tuple(value)


def _policy_rules(source: str, where: str, raw: Any) -> tuple[PolicyRule, ...]:
    if not isinstance(raw, list):
        raise RulePolicyError(f"{source}: {where} must be an array of tables ([[{where}]])")
    out: list[PolicyRule] = []
    for i, item in enumerate(raw, start=1):
        at = f"{source}: {where} #{i}"
        if not isinstance(item, dict):
            raise RulePolicyError(f"{at} is not a table")
        extra = set(item) - _RULE_KEYS
        if extra:
            raise RulePolicyError(f"{at}: unknown keys {', '.join(sorted(extra))}")
        name, reason = item.get("name"), item.get("reason")
        if not isinstance(name, str) or not name or not isinstance(reason, str) or not reason:
            raise RulePolicyError(f"{at} needs a name and a reason")
        at = f"{source}: policy rule {name!r}"
        forbid = _patterns(at, item.get("forbid", []), "forbid")
        attributes = _patterns(at, item.get("attributes", []), "attributes")
        with_any = _patterns(at, item.get("only_with_any", []), "only_with_any")
        if bool(forbid) == bool(attributes) or bool(attributes) != bool(with_any):
            raise RulePolicyError(f"{at} must have either forbid, or attributes with only_with_any")
        if name in {r.name for r in out}:
            raise RulePolicyError(f"{at} is defined twice in {where}")
        out.append(PolicyRule(name=name, reason=reason, forbid=forbid, attributes=attributes,
                              only_with_any=with_any))
    return tuple(out)


def parse_rule_policy(text: str, source: str = "<policy>") -> RulePolicy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulePolicyError(f"{source}: {exc}") from None
    extra = set(data) - {"rules", "profiles"}
    if extra:
        raise RulePolicyError(f"{source}: unknown top-level keys {', '.join(sorted(extra))}")
    profiles_raw = data.get("profiles", {})
    if not isinstance(profiles_raw, dict):
        raise RulePolicyError(f"{source}: profiles must be a table of [profiles.<name>] tables")
    profiles: dict[str, tuple[PolicyRule, ...]] = {}
    for name, table in profiles_raw.items():
        if not isinstance(table, dict) or set(table) - {"rules"}:
            raise RulePolicyError(f"{source}: [profiles.{name}] may hold only [[profiles.{name}.rules]]")
        profiles[name] = _policy_rules(source, f"profiles.{name}.rules", table.get("rules", []))
    return RulePolicy(rules=_policy_rules(source, "rules", data.get("rules", [])),
                      profiles=MappingProxyType(profiles), source=source)


def load_rule_policy(path: Path | None = None) -> RulePolicy:
    """The policy file at `path`, or the shipped default (`watchlists/data/rule_policy.toml`)."""
    if path is None:
        text = resources.files("watchlists").joinpath("data/rule_policy.toml").read_text(encoding="utf-8")
        return parse_rule_policy(text, "watchlists/data/rule_policy.toml")
    return parse_rule_policy(path.read_text(encoding="utf-8"), str(path))
