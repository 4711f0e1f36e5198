"""Which carrier may send under which UNB sender id: the sender binding (docs/carrier-identity.md).

Strategy: the transport authenticates the carrier (per-carrier Kafka principals with topic ACLs, or
a trusted gateway that stamps a header); the binding, read from a TOML file the operator keeps, says
which UNB sender ids each authenticated identity may claim. The processor refuses an interchange
whose identity is missing or may not use its UNB sender, before anything of it is stored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence

from api_engine.settings import Settings
from parsers import Finding, Severity

__all__ = ["Origin", "SenderBinding"]

# Where a Kafka record came from: its topic and headers, as the transport delivered them.
Origin = tuple[str | None, Sequence[tuple[str, bytes]] | None]


class SenderBinding:
    """Which authenticated carrier identity may send under which UNB sender ids (docs/carrier-identity.md).

    The file (TOML): `[senders]` identity = [UNB sender ids]; `[topics]` per-carrier inbound topic =
    identity. A record's identity is the trusted gateway's header (`header`) when configured and
    present, else the identity its topic is bound to. The transport vouches for the identity (Kafka
    ACLs, the gateway's authentication); the binding only says what that identity may claim in UNB.
    """

    def __init__(self, senders: dict[str, frozenset[str]], topics: dict[str, str], header: str | None) -> None:
        self.senders, self.topics, self.header = senders, topics, header

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderBinding | None:
        """The binding named by the settings; None when carriers are not authenticated. A broken file is
        a configuration error, raised with its reason: the service must not start without its binding."""
        path = settings.sender_binding
        if path is None:
            return None
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"sender binding {path}: {exc}") from exc
        raw_senders, raw_topics = data.get("senders", {}), data.get("topics", {})
        if not isinstance(raw_senders, dict) or not raw_senders:
            raise ValueError(f"sender binding {path}: [senders] must map each identity to its UNB sender ids")
        senders: dict[str, frozenset[str]] = {}
        for who, ids in raw_senders.items():
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.strip() for i in ids):
                raise ValueError(f"sender binding {path}: senders.{who} must be a non-empty list of sender ids")
            senders[who] = frozenset(i.strip() for i in ids)
        if not isinstance(raw_topics, dict):
            raise ValueError(f"sender binding {path}: [topics] must map topic names to identities")
        for topic, who in raw_topics.items():
            if who not in senders:
                raise ValueError(f"sender binding {path}: topics.{topic} names {who!r}, which has no [senders] entry")
        return cls(senders, dict(raw_topics), settings.sender_identity_header)

    def identity_of(self, topic: str | None, headers: Sequence[tuple[str, bytes]] | None) -> str | None:
        """The authenticated identity of a Kafka record: the gateway's header, else its topic's carrier."""
        if self.header is not None:
            values = [v for k, v in headers or () if k.lower() == self.header.lower()]
            if len(values) == 1:  # two copies of the header: someone added one, trust neither
                return values[0].decode("utf-8", "replace").strip() or None
            if values:
                return None
        return self.topics.get(topic or "")

    def refusal(self, identity: str | None, sender: str | None) -> Finding | None:
        """None when `identity` may send as `sender`; else the finding that refuses the interchange."""
        if identity is None:
            return Finding(rule="ENV-SENDER-UNAUTHENTICATED", severity=Severity.ERROR, level="interchange",
                           segment_tag="UNB", contrl_error=23, value=sender,
                           message="no authenticated carrier identity came with this interchange: refused")
        if sender is None or sender not in self.senders.get(identity, frozenset()):
            return Finding(rule="ENV-SENDER-NOT-BOUND", severity=Severity.ERROR, level="interchange",
                           segment_tag="UNB", contrl_error=23, value=sender,
                           message=f"UNB sender {sender} is not bound to the authenticated identity {identity}: "
                                   "refused")
        return None
