"""Encryption at rest and pseudonyms: what an operator and a statistician would notice.

Strategy: the Keyring alone (no database): ciphertexts do not show the value, are bound to their
column, survive rotation while the old key is configured, and pseudonyms are stable and keyed.
"""

from __future__ import annotations

import base64

import pytest

from api_engine.protection.crypto import DecryptionError, Keyring, keyring_from_settings, new_key
from api_engine.settings import Settings


def test_values_are_unreadable_and_bound_to_their_column() -> None:
    ring = Keyring.generate()
    token = ring.encrypt_text("O'BRIEN", "travellers.surname")
    assert token and "BRIEN" not in token and ring.decrypt_text(token, "travellers.surname") == "O'BRIEN"
    with pytest.raises(DecryptionError):
        ring.decrypt_text(token, "travellers.given_names")
    blob = ring.encrypt_bytes(b"UNA:+.? 'UNB+...", "raw_messages.raw")
    assert b"UNB" not in blob and ring.decrypt_bytes(blob, "raw_messages.raw").startswith(b"UNA")
    with pytest.raises(DecryptionError, match="not encrypted") as refused:  # never passed through in clear
        ring.decrypt_text("legacy plaintext", "travellers.surname")
    assert "legacy" not in str(refused.value)


def test_a_row_sealed_at_once_reads_back_column_by_column() -> None:
    ring = Keyring.generate()
    earlier = ring.encrypt_text("ANNA", "travellers.given_names")
    row = {"surname": "O'BRIEN", "given_names": earlier, "date_of_birth": None, "doc_number": 1234,
           "ref_abo": "O'BRIEN"}
    cols = [(c, f"travellers.{c}".encode()) for c in row]
    ring.encrypt_fields(row, cols)
    assert row["given_names"] == earlier  # already sealed: left alone
    assert row["date_of_birth"] is None and row["doc_number"] is None  # nothing that is not text is kept
    assert "BRIEN" not in str(row) and row["surname"] != row["ref_abo"]  # fresh nonce per value
    assert ring.decrypt_text(row["surname"], "travellers.surname") == "O'BRIEN"
    assert ring.decrypt_text(row["ref_abo"], "travellers.ref_abo") == "O'BRIEN"
    with pytest.raises(DecryptionError):
        ring.decrypt_text(row["surname"], "travellers.ref_abo")


def test_rotation_keeps_old_values_readable_until_rewritten() -> None:
    ring = Keyring.generate()
    old = ring.encrypt_text("PA1234567", "travellers.doc_number")
    ring.add_current(new_key())
    assert ring.decrypt_text(old, "travellers.doc_number") == "PA1234567"
    fresh = ring.reencrypt(old, "travellers.doc_number")
    assert ring.key_id_of(fresh) == ring.current and ring.reencrypt(fresh, "travellers.doc_number") is None


def test_pseudonyms_are_stable_keyed_and_fit_their_column() -> None:
    a, b = Keyring.generate(), Keyring.generate()
    assert a.pseudonym("Smith", "surname") == a.pseudonym("SMITH ", "surname") != b.pseudonym("SMITH", "surname")
    assert len(a.pseudonym("1985-04-12", "date_of_birth", 10) or "") == 10


def test_key_from_settings_or_generated_file(tmp_path: object) -> None:
    from pathlib import Path

    data_dir = Path(str(tmp_path))
    key = base64.b64encode(new_key()).decode()
    from pydantic import SecretStr

    ring = keyring_from_settings(Settings(data_dir=data_dir, data_key=SecretStr(key)))
    assert ring.path is None and not (data_dir / "data-keys.json").exists()
    generated = keyring_from_settings(Settings(data_dir=data_dir))
    assert (data_dir / "data-keys.json").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert keyring_from_settings(Settings(data_dir=data_dir)).current == generated.current


def test_a_travellers_identity_columns_are_read_from_its_one_sealed_record() -> None:
    """The row keeps the identity only inside the sealed record; the columns an officer sees come from it
    (the document shown is the first that is not a visa), and a pseudonym written by retention wins."""
    from datetime import date

    from api_engine.protection.crypto import open_traveller_secrets
    from parsers import TravelDocument, Traveller

    ring = Keyring.generate()
    t = Traveller(role="passenger", party_function="FL", surname="O'BRIEN", given_names=["ANN", "MARY"],
                  date_of_birth=date(1980, 2, 29), references={"ABO": ["DCS77"], "AVF": ["QX2Z9K"]},
                  documents=[TravelDocument(doc_type="V", number="V111", issuing_state="USA"),
                             TravelDocument(doc_type="P", number="P222", issuing_state="IRL")])
    row = {"surname": None, "given_names": None, "date_of_birth": None, "doc_number": None, "ref_abo": None,
           "ref_avf": None, "traveller_json": ring.encrypt_text(t.model_dump_json(), "travellers.traveller_json")}
    opened = open_traveller_secrets(row, ring)
    assert {k: opened[k] for k in ("surname", "given_names", "date_of_birth", "doc_number", "ref_abo", "ref_avf")} == {
        "surname": "O'BRIEN", "given_names": "ANN MARY", "date_of_birth": "1980-02-29", "doc_number": "P222",
        "ref_abo": "DCS77", "ref_avf": "QX2Z9K"}
    assert open_traveller_secrets({**row, "surname": "#PSEUDO"}, ring)["surname"] == "#PSEUDO"
