"""Minimisation before anything leaves: each outgoing topic's consumer gets only the fields it declares.

Strategy: the declaration is data (policies/minimisation.toml), one list of field paths per
consumer; `minimise(kind, event)` keeps the declared paths of an event dict and `minimise_model(kind,
model)` serialises only those paths, so a field added to an event model later does not leave until
someone declares it (with a reason next to it). Kinds without a declaration (acks, dead letters) go
to operators and carriers and pass unchanged. The processor applies `minimise_model` before it stores
and produces an event, so replays carry the same.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

__all__ = ["Consumer", "carry_tree", "consumers", "keep", "minimise", "minimise_model", "policy"]


@dataclass(frozen=True)
class Consumer:
    name: str
    kind: str
    topic: str
    audience: str
    legal_basis: str
    carry: tuple[str, ...]


@cache
def policy() -> dict[str, Any]:
    """The minimisation policy file as data: `[consumer.*]` for the topics, `[channel.*]` for notifications."""
    text = resources.files("api_engine.protection.policies").joinpath("minimisation.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def consumers() -> dict[str, Consumer]:
    """The declared consumers by output kind (manifests, alerts)."""
    out = {}
    for name, c in policy()["consumer"].items():
        out[c["kind"]] = Consumer(name=name, kind=c["kind"], topic=c["topic"], audience=c["audience"],
                                  legal_basis=c["legal_basis"], carry=tuple(c["carry"]))
    return out


def carry_tree(paths: tuple[str, ...]) -> dict[str, Any]:
    """"a.b", "a[].c" -> {"a": {"b": {}, "c": {}}} (a list's items share the sub-tree)."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for part in path.replace("[]", "").split("."):
            node = node.setdefault(part, {})
    return root


@cache
def _compiled(kind: str) -> dict[str, Any] | None:
    c = consumers().get(kind)
    return carry_tree(c.carry) if c else None


def keep(value: Any, tree: dict[str, Any]) -> Any:
    """`value` with only the declared paths of `tree` (`carry_tree`); a path without sub-paths keeps its value
    whole, and a scalar where the policy names sub-fields keeps nothing."""
    if not tree:
        return value
    if isinstance(value, list):
        return [keep(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: keep(v, tree[k]) for k, v in value.items() if k in tree}
    return None


def minimise(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """The event as its consumer may see it: declared fields only."""
    tree = _compiled(kind)
    if tree is None:
        return event
    kept: dict[str, Any] = keep(event, tree)
    return kept


def _include(paths: tuple[str, ...]) -> dict[str, Any]:
    """"a.b", "a[].c" -> pydantic's include spec {"a": {"b": True, "__all__": ...}} (lists via "__all__")."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        parts = path.split(".")
        for k, part in enumerate(parts):
            name, many = (part[:-2], True) if part.endswith("[]") else (part, False)
            if k == len(parts) - 1:
                node.setdefault(name, {"__all__": True} if many else True)
                break
            child = node.setdefault(name, {})
            node = child.setdefault("__all__", {}) if many else child
    return root


@cache
def _compiled_include(kind: str) -> dict[str, Any] | None:
    c = consumers().get(kind)
    return _include(c.carry) if c else None


def minimise_model(kind: str, model: BaseModel) -> bytes:
    """The event serialised with the declared fields only, in one pass (pydantic's include, no re-parse)."""
    include = _compiled_include(kind)
    return model.model_dump_json(include=include).encode()
