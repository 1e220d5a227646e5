"""The keys that encrypt Temporal payloads (workflows/codec.py), as TEMPORAL_ENCRYPTION_KEYS holds
them: parsed here, without the cipher, so that the settings refuse a bad key at start."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class EncryptionKeyError(ValueError):
    """A key setting that cannot be used; the message says which and how to make one."""


HOW_TO_MAKE_A_KEY = "make one with `python -m workflows.codec new-key`"


@dataclass(frozen=True)
class PayloadKeys:
    """The keys held at once: payloads are written with `current_id`, read with any."""

    current_id: str
    keys: Mapping[str, bytes]

    @classmethod
    def parse(cls, setting: str | None) -> "PayloadKeys":
        """`id:base64url,id:base64url` (first is current), as TEMPORAL_ENCRYPTION_KEYS holds it."""
        entries = [entry.strip() for entry in (setting or "").split(",") if entry.strip()]
        if not entries:
            raise EncryptionKeyError(f"TEMPORAL_ENCRYPTION_KEYS is not set: {HOW_TO_MAKE_A_KEY}")
        keys: dict[str, bytes] = {}
        for entry in entries:
            key_id, separator, encoded = entry.partition(":")
            if not separator or not KEY_ID_PATTERN.match(key_id):
                raise EncryptionKeyError(
                    "TEMPORAL_ENCRYPTION_KEYS entries are `id:key` with an id of letters, digits, "
                    f"'-' or '_': {HOW_TO_MAKE_A_KEY}"
                )
            if key_id in keys:
                raise EncryptionKeyError(f"TEMPORAL_ENCRYPTION_KEYS names key {key_id!r} twice")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != KEY_BYTES:
                raise EncryptionKeyError(
                    f"TEMPORAL_ENCRYPTION_KEYS key {key_id!r} is not {KEY_BYTES} bytes of base64url: "
                    f"{HOW_TO_MAKE_A_KEY}"
                )
            keys[key_id] = raw
        return cls(current_id=entries[0].partition(":")[0], keys=keys)
