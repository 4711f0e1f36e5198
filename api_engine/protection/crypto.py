"""Encryption at rest of identifying fields (AES-256-GCM) and keyed pseudonyms (HMAC-SHA256).

Strategy: a `Keyring` holds the data keys by id (the current one encrypts; older ones only decrypt,
until `api-engine keys rotate` has re-encrypted everything) and a separate pseudonym key, so that
rotating the data key does not change pseudonyms and statistics over pseudonyms stay stable.
Ciphertexts carry their key id and are bound to the column they belong to (AES-GCM associated data
"table.column"), so a value copied into another column does not decrypt. Text columns hold
"enc1:<kid>:<base64url(nonce|ciphertext)>", binary columns b"ENC1" + kid + nonce + ciphertext.
Reading a text column that holds neither a ciphertext nor a pseudonym fails (`PlaintextValue`):
an identifying value stored in clear is a fault to repair (`api-engine keys rotate` seals legacy
rows), never something to pass on quietly.
Keys come from settings (API_ENGINE_DATA_KEY, API_ENGINE_DATA_KEYS_OLD, API_ENGINE_PSEUDONYM_KEY,
base64 of 32 bytes); without them the embedded default generates a key file under data_dir (mode
0600, written whole before it appears, so a second process starting at the same moment never
reads half a file) and warns: whoever loses that file loses the identifying data, which is the point.
A store remembers the fingerprints of the keys it was written with (`check_keyring`): a process
whose keyring lacks one of them refuses to start instead of writing rows the others cannot read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api_engine.files import private_dir

if TYPE_CHECKING:
    from api_engine.settings import Settings

__all__ = ["IDENTITY_COLUMNS", "KEY_FILE", "DecryptionError", "Keyring", "KeyringMismatch", "PlaintextValue",
           "check_keyring", "identity_from_record", "keyring_from_settings", "new_key", "open_dead_letter",
           "open_traveller_secrets", "pseudonym", "retire_keys", "reveal_traveller", "seal_dead_letter"]

log = logging.getLogger("api_engine.protection.crypto")

KEY_FILE = "data-keys.json"
_TEXT_PREFIX = "enc1:"
_BIN_PREFIX = b"ENC1"
_KID_LEN = 8
_NONCE = 12
_URLSAFE = bytes.maketrans(b"+/", b"-_")  # base64url, as urlsafe_b64encode writes it
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")

# The traveller columns that identify a person: encrypted at rest, pseudonymised by retention.
TRAVELLER_SECRET_COLUMNS = ("surname", "given_names", "date_of_birth", "doc_number", "ref_abo", "ref_avf",
                            "traveller_json")


class DecryptionError(ValueError):
    """A ciphertext whose key is unknown or whose content or column does not match."""


class PlaintextValue(DecryptionError):
    """A sealed column holds a value in clear (the message names the column, never the value)."""


class KeyringMismatch(SystemExit):
    """The store was written with keys this process does not hold: it must not start.

    A SystemExit on purpose: every command that opens the store stops with this message (exit
    status 1, no traceback), and no `except Exception` on the way can keep a process running that
    would write rows the other hosts cannot read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def new_key() -> bytes:
    return secrets.token_bytes(32)


def _kid(key: bytes) -> str:
    return hashlib.sha256(b"api-engine data key id\x00" + key).hexdigest()[:_KID_LEN]


def pseudonym_key_id(key: bytes) -> str:
    """A fingerprint of the pseudonym key (hosts must share it, or equal names stop joining)."""
    return "p" + hashlib.sha256(b"api-engine pseudonym key id\x00" + key).hexdigest()[:_KID_LEN * 2]


def _is_pseudonym(value: str) -> bool:
    """Retention writes `#`-prefixed HMAC pseudonyms into the identity columns: not identifying."""
    return value.startswith("#")


def _b64key(text: str) -> bytes:
    key = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_")
    if len(key) != 32:
        raise ValueError("a data or pseudonym key must be base64 of 32 bytes")
    return key


@dataclass
class Keyring:
    """Data keys by id (`current` encrypts) and the pseudonym key."""

    keys: dict[str, bytes]
    current: str
    pseudonym_key: bytes
    source: str = "settings"
    path: Path | None = None
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    @classmethod
    def generate(cls) -> Keyring:
        key = new_key()
        return cls(keys={_kid(key): key}, current=_kid(key), pseudonym_key=new_key(), source="generated")

    def _cipher(self, kid: str) -> AESGCM:
        if kid not in self._aead:
            if kid not in self.keys:
                raise DecryptionError(f"data key {kid} is not configured")
            self._aead[kid] = AESGCM(self.keys[kid])
        return self._aead[kid]

    # ---- text columns ---------------------------------------------------------------------------

    def encrypt_text(self, value: str | None, column: str) -> str | None:
        if value is None or value.startswith(_TEXT_PREFIX):
            return value
        nonce = os.urandom(_NONCE)  # a fresh random 96-bit nonce per value
        ct = (self._aead.get(self.current) or self._cipher(self.current)).encrypt(
            nonce, value.encode("utf-8"), column.encode())
        body = binascii.b2a_base64(nonce + ct, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")
        return f"{_TEXT_PREFIX}{self.current}:{body}"

    def encrypt_fields(self, row: dict[str, Any], columns: Sequence[tuple[str, bytes]]) -> None:
        """`encrypt_text` for several columns of one row, in place (non-text values become None).

        The row's random nonces come from one read of the OS generator: a traveller has seven
        identifying columns, and a system call per value cost as much as the encryption."""
        aead = self._aead.get(self.current) or self._cipher(self.current)
        prefix = f"{_TEXT_PREFIX}{self.current}:"
        nonces = os.urandom(_NONCE * len(columns))
        for i, (col, aad) in enumerate(columns):
            value = row[col]
            if not isinstance(value, str):
                row[col] = None
            elif not value.startswith(_TEXT_PREFIX):
                nonce = nonces[i * _NONCE:(i + 1) * _NONCE]
                body = binascii.b2a_base64(nonce + aead.encrypt(nonce, value.encode("utf-8"), aad), newline=False)
                row[col] = prefix + body.translate(_URLSAFE).rstrip(b"=").decode("ascii")

    def is_sealed(self, value: str | bytes | None) -> bool:
        """Whether a stored value is a ciphertext of ours (of any key)."""
        if isinstance(value, str):
            return value.startswith(_TEXT_PREFIX)
        return isinstance(value, bytes | bytearray | memoryview) and bytes(value).startswith(_BIN_PREFIX)

    def decrypt_text(self, value: str | None, column: str) -> str | None:
        """The value of a sealed text column; a pseudonym as it is; anything in clear is refused."""
        if value is None:
            return None
        if not value.startswith(_TEXT_PREFIX):
            if _is_pseudonym(value):
                return value
            raise PlaintextValue(f"{column} holds a value that is not encrypted (run `api-engine keys rotate` "
                                 "to seal values written before encryption)")
        try:
            _, kid, body = value.split(":", 2)
            # what urlsafe_b64decode does, without its per-call checks (re-screening opens a million of these)
            raw = binascii.a2b_base64(body.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(body) % 4))
            return self._cipher(kid).decrypt(raw[:_NONCE], raw[_NONCE:], column.encode()).decode("utf-8")
        except DecryptionError:
            raise
        except Exception as exc:
            raise DecryptionError(f"cannot decrypt {column}") from exc

    # ---- binary columns -------------------------------------------------------------------------

    def encrypt_bytes(self, value: bytes, column: str) -> bytes:
        if value.startswith(_BIN_PREFIX):
            return value
        nonce = os.urandom(_NONCE)  # a fresh random 96-bit nonce per value
        ct = self._cipher(self.current).encrypt(nonce, value, column.encode())
        return _BIN_PREFIX + self.current.encode() + nonce + ct

    def decrypt_bytes(self, value: bytes, column: str) -> bytes:
        if not value.startswith(_BIN_PREFIX):
            return value
        head = len(_BIN_PREFIX)
        kid = value[head:head + _KID_LEN].decode("ascii", "replace")
        body = value[head + _KID_LEN:]
        try:
            return self._cipher(kid).decrypt(body[:_NONCE], body[_NONCE:], column.encode())
        except DecryptionError:
            raise
        except Exception as exc:
            raise DecryptionError(f"cannot decrypt {column}") from exc

    # ---- rotation -------------------------------------------------------------------------------

    def key_id_of(self, value: str | bytes | None) -> str | None:
        """The key a stored value is encrypted with; None for plaintext."""
        if isinstance(value, str) and value.startswith(_TEXT_PREFIX):
            return value.split(":", 2)[1]
        if isinstance(value, bytes | bytearray | memoryview):
            b = bytes(value)
            if b.startswith(_BIN_PREFIX):
                return b[len(_BIN_PREFIX):len(_BIN_PREFIX) + _KID_LEN].decode("ascii", "replace")
        return None

    def reencrypt(self, value: Any, column: str) -> Any:
        """The value under the current key (plaintext gets encrypted too); None if nothing to do."""
        if value is None or self.key_id_of(value) == self.current:
            return None
        if isinstance(value, str):
            if not value.startswith(_TEXT_PREFIX):  # legacy plaintext or a pseudonym: seal it as it is
                return self.encrypt_text(value, column)
            return self.encrypt_text(self.decrypt_text(value, column), column)
        return self.encrypt_bytes(self.decrypt_bytes(bytes(value), column), column)

    def add_current(self, key: bytes) -> str:
        kid = _kid(key)
        self.keys[kid] = key
        self.current = kid
        return kid

    def save(self) -> None:
        """Write the key file (embedded default only)."""
        if self.path is None:
            raise ValueError("keys from settings are managed by the operator, not written to a file")
        tmp = _write_temp(self.path, self._file_data())
        os.replace(tmp, self.path)

    def _file_data(self) -> bytes:
        data = {"current": self.current, "pseudonym": base64.b64encode(self.pseudonym_key).decode(),
                "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}
        return json.dumps(data, indent=2).encode("utf-8")

    # ---- pseudonyms -----------------------------------------------------------------------------

    def pseudonym(self, value: str | None, kind: str, width: int = 27) -> str | None:
        return pseudonym(self.pseudonym_key, value, kind, width)


# Dead letters leave the store (api.dlq) with the bytes as received sealed under the data key, bound to
# this label: an operator with the keyring opens them (`api-engine keys open-dead-letter`); once the key
# is retired by a rotation, old dead letters are unreadable everywhere, whatever the topic still holds.
DEAD_LETTER_LABEL = "api.dlq.original"


def seal_dead_letter(keyring: Keyring, original: bytes) -> str:
    """The original bytes of a dead letter, AES-GCM sealed, as base64 text for the event."""
    return base64.b64encode(keyring.encrypt_bytes(original, DEAD_LETTER_LABEL)).decode("ascii")


def open_dead_letter(keyring: Keyring, sealed: str) -> bytes:
    """The original bytes behind `seal_dead_letter` (DecryptionError for anything else)."""
    try:
        blob = base64.b64decode(sealed, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("not a sealed dead letter (bad base64)") from exc
    if not blob.startswith(_BIN_PREFIX):
        raise PlaintextValue("the dead letter's original is not sealed")
    return keyring.decrypt_bytes(blob, DEAD_LETTER_LABEL)


def pseudonym(key: bytes, value: str | None, kind: str, width: int = 27) -> str | None:
    """A keyed, stable stand-in: equal values give equal pseudonyms, so counts and joins survive."""
    if value is None or value == "":
        return value
    mac = hmac.new(key, f"{kind}\x1f{value.strip().upper()}".encode(), hashlib.sha256).digest()
    return "#" + base64.b32encode(mac).decode().rstrip("=")[:max(1, min(width, 53) - 1)]


def _write_temp(path: Path, data: bytes) -> Path:
    """The whole content in a private temporary file beside `path`, flushed to disk."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _load_file(path: Path) -> Keyring:
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
    return Keyring(keys=keys, current=data["current"], pseudonym_key=base64.b64decode(data["pseudonym"]),
                   source="file", path=path)


def keyring_from_settings(settings: Settings) -> Keyring:
    """Keys from settings, else the key file under data_dir (created, with a warning, when absent)."""
    data_key = getattr(settings, "data_key", None)
    if data_key is not None:
        key = _b64key(data_key.get_secret_value())
        keys = {_kid(key): key}
        for old in getattr(settings, "data_keys_old", []) or []:
            k = _b64key(old)
            keys.setdefault(_kid(k), k)
        pkey_setting = getattr(settings, "pseudonym_key", None)
        pkey = (_b64key(pkey_setting.get_secret_value()) if pkey_setting is not None
                else hmac.new(key, b"api-engine pseudonym key", hashlib.sha256).digest())
        return Keyring(keys=keys, current=_kid(key), pseudonym_key=pkey)
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return _load_file(path)
    private_dir(path.parent)
    ring = Keyring.generate()
    ring.path = path
    # Written whole to a temporary file, then linked into place: the name appears complete or not at
    # all, and a link never replaces an existing file, so two processes starting together agree on
    # the first one's key instead of one of them reading a half-written file.
    tmp = _write_temp(path, ring._file_data())
    try:
        os.link(tmp, path)
    except FileExistsError:  # another process created it first: use theirs
        return _load_file(path)
    finally:
        os.unlink(tmp)
    log.warning("no API_ENGINE_DATA_KEY set: generated a data key file at %s; back it up and keep it secret "
                "(without it the stored identifying fields cannot be read)", path)
    ring.source = "file"
    return ring


# The identifying columns a traveller row can be read from its full record (`traveller_json`). A row
# written since the record became the one sealed copy of the traveller leaves them NULL (one
# encryption per traveller instead of seven); retention writes their pseudonyms into them.
IDENTITY_COLUMNS = ("surname", "given_names", "date_of_birth", "doc_number", "ref_abo", "ref_avf")


def identity_from_record(record: Mapping[str, Any]) -> dict[str, str | None]:
    """The identity columns as a traveller record (the parser's `Traveller`, as JSON) gives them.

    The document is the first one that is not a visa (as the row's doc_type/doc_issuing_state)."""
    docs = [d for d in record.get("documents") or [] if isinstance(d, dict)]
    doc = next((d for d in docs if d.get("doc_type") != "V"), docs[0] if docs else None)
    refs = record.get("references") or {}
    given = [str(g) for g in record.get("given_names") or []]
    return {"surname": record.get("surname"), "given_names": " ".join(given) or None,
            "date_of_birth": record.get("date_of_birth"), "doc_number": doc.get("number") if doc else None,
            "ref_abo": (refs.get("ABO") or [None])[0], "ref_avf": (refs.get("AVF") or [None])[0]}


def open_traveller_secrets(row: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """The identifying columns of a `travellers` row, decrypted, with those left NULL read from the
    (decrypted) full record."""
    plain = {c: keyring.decrypt_text(row[c], f"travellers.{c}") if isinstance(row.get(c), str) else row.get(c)
             for c in TRAVELLER_SECRET_COLUMNS}
    record = plain.get("traveller_json")
    if record and any(plain[c] is None for c in IDENTITY_COLUMNS):
        derived = identity_from_record(json.loads(record))
        for c in IDENTITY_COLUMNS:
            if plain[c] is None:
                plain[c] = derived[c]
    return plain


def reveal_traveller(row: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """A `travellers` row with its identifying columns decrypted (for the audited views that need them)."""
    out = dict(row)
    out.update(open_traveller_secrets(out, keyring))
    return out


# ---- key rotation ------------------------------------------------------------------------------------------

# (table, primary key, encrypted columns): everything `rotate` re-encrypts.
SEALED_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("travellers", "id", (*TRAVELLER_SECRET_COLUMNS, "reid_sealed")),
    ("raw_messages", "interchange_id", ("raw",)),
    ("assembly_parts", "id", ("manifest_json",)),
    ("output_events", "id", ("value",)),
    ("hits", "id", ("explanation",)),
)


async def rotate(store: Any, keyring: Keyring, *, batch_size: int = 2000) -> dict[str, int]:
    """Re-encrypt every sealed value under the keyring's current key, in batches (resumable: values
    already under the current key are skipped). Returns the values rewritten per table."""
    from sqlalchemy import bindparam, select, update

    from api_engine.store.schema import metadata

    done: dict[str, int] = {}
    for table_name, pk_name, cols in SEALED_COLUMNS:
        table = metadata.tables[table_name]
        pk = table.c[pk_name]
        last: Any = None
        done[table_name] = 0
        while True:
            query = select(pk, *(table.c[c] for c in cols)).order_by(pk).limit(batch_size)
            if last is not None:
                query = query.where(pk > last)
            async with store.transaction() as conn:
                rows = (await conn.execute(query)).all()
                changes = []
                for r in rows:
                    new = {c: keyring.reencrypt(getattr(r, c), f"{table_name}.{c}") for c in cols}
                    if any(v is not None for v in new.values()):
                        changes.append({"_pk": r[0], **{c: v if v is not None else getattr(r, c)
                                                        for c, v in new.items()}})
                if changes:
                    await conn.execute(update(table).where(pk == bindparam("_pk"))
                                       .values({c: bindparam(c) for c in cols}), changes)
            done[table_name] += len(changes)
            if len(rows) < batch_size:
                break
            last = rows[-1][0]
    return done


# ---- the keys a store was written with ---------------------------------------------------------------------

_KEYRING_LOCK = 0x4150494B  # "APIK": serialises the keyring check of processes starting together (PostgreSQL)
MULTI_HOST_HINT = ("every process sharing a store needs the same keyring: the same API_ENGINE_DATA_KEY, "
                   "API_ENGINE_DATA_KEYS_OLD and API_ENGINE_PSEUDONYM_KEY on every host (or one data-keys.json "
                   "copied to each host's data dir); see docs/data-protection.md, 'Several hosts, one store'")


async def check_keyring(store: Any, keyring: Keyring) -> list[str]:
    """Refuse a keyring that cannot read what the store holds; otherwise register its current key.

    The store keeps the fingerprints (key ids) of the data keys it was written with and of the
    pseudonym key. A process whose keyring lacks an active one raises `KeyringMismatch` before it
    writes anything: its rows would be unreadable to the other hosts and to a console holding the
    other keys (and its pseudonyms would not join theirs). A store that has no fingerprints yet
    (new, or written before they were kept) is sampled: the newest sealed value of each table names
    the key it needs. Returns the data key ids registered by this call."""
    from sqlalchemy import insert, select, text, update

    from api_engine.store.schema import key_fingerprints, metadata

    pid = pseudonym_key_id(keyring.pseudonym_key)
    async with store.transaction() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYRING_LOCK})
        rows = (await conn.execute(select(key_fingerprints))).all()
        kind_of = {r.fingerprint: r.kind for r in rows}
        retired = {r.fingerprint for r in rows if r.retired_at is not None}
        if not rows:  # nothing recorded yet: what does the data say?
            for table_name, pk_name, col_name in _SAMPLED:
                table = metadata.tables[table_name]
                col = table.c[col_name]
                value = (await conn.execute(select(col).where(col.is_not(None))
                                            .order_by(table.c[pk_name].desc()).limit(1))).scalar()
                kid = keyring.key_id_of(value)
                if kid is not None:
                    kind_of.setdefault(kid, "data")
        active = sorted(fp for fp, kind in kind_of.items() if kind == "data" and fp not in retired)
        missing = [fp for fp in active if fp not in keyring.keys]
        pseudonyms = [fp for fp, kind in kind_of.items() if kind == "pseudonym"]
        problems = []
        if missing:
            problems.append(f"the store holds data sealed with data key(s) {', '.join(missing)}, which this "
                            f"process's keyring ({', '.join(sorted(keyring.keys))}) does not have")
        if pseudonyms and pid not in pseudonyms:
            problems.append("the store's pseudonyms were made with another pseudonym key than this process's")
        if problems:
            raise KeyringMismatch("refusing to start: " + "; ".join(problems) + ". " + MULTI_HOST_HINT + ".")
        recorded = {r.fingerprint for r in rows}
        added = []
        for fp, kind in {keyring.current: "data", **dict.fromkeys(active, "data"), pid: "pseudonym"}.items():
            if fp in recorded:
                if fp in retired and fp == keyring.current:  # a retired key made current again
                    await conn.execute(update(key_fingerprints).where(key_fingerprints.c.fingerprint == fp)
                                       .values(retired_at=None))
                continue
            await conn.execute(insert(key_fingerprints).values(fingerprint=fp, kind=kind,
                                                               registered_at=datetime.now(UTC)))
            if kind == "data":
                added.append(fp)
                log.info("event=data_key_registered key=%s", fp)
        return added


# The newest value of these (table, primary key, sealed column) names a key an unregistered store needs.
_SAMPLED = (("travellers", "id", "traveller_json"), ("raw_messages", "interchange_id", "raw"),
            ("assembly_parts", "id", "manifest_json"), ("output_events", "id", "value"), ("hits", "id", "explanation"))


async def retire_keys(store: Any, keyring: Keyring) -> list[str]:
    """After a rotation has sealed everything under the current key: the other data keys are no
    longer needed to read the store, so processes without them may start. Returns those retired."""
    from sqlalchemy import select, update

    from api_engine.store.schema import key_fingerprints

    async with store.transaction() as conn:
        old = (await conn.execute(select(key_fingerprints.c.fingerprint).where(
            key_fingerprints.c.kind == "data", key_fingerprints.c.fingerprint != keyring.current,
            key_fingerprints.c.retired_at.is_(None)))).scalars().all()
        if old:
            await conn.execute(update(key_fingerprints).where(key_fingerprints.c.fingerprint.in_(old))
                               .values(retired_at=datetime.now(UTC)))
    return sorted(old)
