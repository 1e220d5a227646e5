"""Secrets we must use again but never show (a connected body's api_key): sealed at rest with
AES-GCM under a key derived from the server's SECRET_KEY ring. No I/O.

A sealed value names the ring key that sealed it (`<key id>.<base64url nonce+ciphertext>`), so
SECRET_KEY can be rotated like the reporter tokens (domain/tokens.py): values sealed under a
retired key open while the key is kept, and sealing again moves them to the current key.
The purpose is bound into the key and the associated data: a value sealed for one purpose (or
one row, `context`) does not open for another.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.tokens import SecretKeyring

NONCE_BYTES = 12


class SealBroken(ValueError):
    """The value cannot be opened with the keys held (tampered, moved, or its key was dropped)."""


def _cipher(secret: str, purpose: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"sp4n-sealed:{purpose}".encode()).derive(
        secret.encode())
    return AESGCM(key)


def seal(keyring: SecretKeyring, purpose: str, context: str, plaintext: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(keyring.current, purpose).encrypt(nonce, plaintext.encode(), f"{purpose}:{context}".encode())
    return f"{keyring.current_id}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def unseal(keyring: SecretKeyring, purpose: str, context: str, value: str) -> str:
    key_id, _, encoded = value.partition(".")
    secret = keyring.keys.get(key_id)
    if secret is None or not encoded:
        raise SealBroken(f"no key {key_id!r} to open this value")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        plain = _cipher(secret, purpose).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{purpose}:{context}".encode())
    except (InvalidTag, ValueError) as error:
        raise SealBroken("the value does not open with this key") from error
    return plain.decode()
