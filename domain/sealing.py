"""Crypto-shredding of a case's personal data (UU 27/2022, docs/privacy.md). No I/O.

Each case has a key of its own (32 random bytes). The reporter's identity and the pin/address are
sealed under it (AES-256-GCM, bound to the tracking id) into one text blob, which is all that
workflow payloads carry of them (`ComplaintDetails.sealed`). The case key is kept outside
Temporal, in the database, wrapped (AES-256-GCM) by the service's payload keys
(TEMPORAL_ENCRYPTION_KEYS, domain/payload_keys.py), so it rotates with them. Erasure destroys the
wrapped key: every history, export or backup of Temporal then holds a blob nobody can open, while
the case's non-personal facts stay readable.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.models import PersonalData
from domain.payload_keys import KEY_BYTES, PayloadKeys

NONCE_BYTES = 12
SEALED_PREFIX = "sp4n-sealed/v1:"
_SEAL_CONTEXT = b"sp4n-personal-data/v1:"
_WRAP_CONTEXT = b"sp4n-case-key/v1:"


class SealBroken(ValueError):
    """A sealed blob or wrapped key that does not open (wrong case, tampered, unknown key)."""


def new_case_key() -> bytes:
    return os.urandom(KEY_BYTES)


def wrap_case_key(keys: PayloadKeys, tracking_id: str, case_key: bytes) -> tuple[str, bytes]:
    """(the service key's id, the wrapped case key), bound to the case's tracking id."""
    nonce = os.urandom(NONCE_BYTES)
    key_id = keys.current_id
    sealed = AESGCM(keys.keys[key_id]).encrypt(nonce, case_key, _wrap_context(key_id, tracking_id))
    return key_id, nonce + sealed


def unwrap_case_key(keys: PayloadKeys, tracking_id: str, key_id: str, wrapped: bytes) -> bytes:
    raw = keys.keys.get(key_id)
    if raw is None:
        raise SealBroken(f"the case key is wrapped with key {key_id!r}, which TEMPORAL_ENCRYPTION_KEYS does not hold")
    try:
        return AESGCM(raw).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_context(key_id, tracking_id))
    except (InvalidTag, ValueError) as error:
        raise SealBroken("the wrapped case key does not authenticate") from error


def seal(case_key: bytes, tracking_id: str, personal: PersonalData) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(case_key).encrypt(nonce, personal.model_dump_json().encode(),
                                      _SEAL_CONTEXT + tracking_id.encode())
    return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_sealed(case_key: bytes, tracking_id: str, blob: str) -> PersonalData:
    if not blob.startswith(SEALED_PREFIX):
        raise SealBroken("not a sealed blob")
    encoded = blob[len(SEALED_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        plain = AESGCM(case_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _SEAL_CONTEXT + tracking_id.encode())
    except (InvalidTag, ValueError, binascii.Error) as error:
        raise SealBroken("the sealed personal data does not open with this case's key") from error
    return PersonalData.model_validate_json(plain)


def _wrap_context(key_id: str, tracking_id: str) -> bytes:
    return _WRAP_CONTEXT + key_id.encode() + b"\x00" + tracking_id.encode()
