"""Every payload this project writes to Temporal is encrypted and authenticated (AES-256-GCM).

Temporal stores workflow inputs, update/signal/query arguments and results, activity results,
memos and failures in its database and shows them in its UI and CLI: with this codec they are
ciphertext there, readable only by a process holding a key (the worker, the API, and an
administrator through the API's codec endpoint, `api/routes/codec.py`).

Keys come from `TEMPORAL_ENCRYPTION_KEYS` ("id:base64url-of-32-bytes,id:…", first = current):
payloads are encrypted with the current key and decrypted with whichever key their metadata
names, so a key is rotated by putting a new one first and keeping the old ones until no history
still uses them. `python -m workflows.codec new-key` prints a fresh entry.

Fail closed: a payload that is not encrypted, names an unknown key, or does not authenticate is
not decoded. It is not an error of the whole activation either (that would stall a case on one
forged message): it becomes a "refused" payload that no type can be read from, so Temporal's SDK
rejects a forged update before its validator, drops a forged signal, and fails a forged workflow
start, each with the reason and never the payload's content in the log.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from domain.models import Message
from domain.payload_keys import HOW_TO_MAKE_A_KEY, KEY_BYTES, KEY_ID_PATTERN, EncryptionKeyError, PayloadKeys

log = structlog.get_logger("sp4n.codec")

ENCRYPTED_ENCODING = b"binary/encrypted"
REFUSED_ENCODING = b"binary/sp4n-refused"
KEY_ID_METADATA = "encryption-key-id"
WORKFLOW_ID_METADATA = "encryption-workflow-id"
# Set on what the codec opens for a workflow from a payload bound to none (see `EncryptionCodec`).
UNBOUND_METADATA = "sp4n-unbound"
CIPHER_METADATA = "encryption-cipher"
CIPHER = b"AES-256-GCM"
NONCE_BYTES = 12
# Binds each ciphertext to the key id it claims and to this project's use.
_ASSOCIATED_DATA_PREFIX = b"sp4n-temporal-payload/v1:"


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh `id:key` entry for TEMPORAL_ENCRYPTION_KEYS (the id defaults to today's date)."""
    key_id = key_id or "k" + date.today().strftime("%Y%m%d")
    encoded = base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")
    return f"{key_id}:{encoded}"


class PayloadRefused(ValueError):
    """Raised when code asks for the value of a refused payload."""


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM over each serialized payload; the key id travels in the payload's metadata.

    A payload is also bound to the workflow it belongs to (Temporal gives the codec that context:
    the case's tracking id, or a delivery's id): the id is written beside the key id and sealed
    into the ciphertext's associated data. A payload copied from one case's history and sent to
    another case (an accept, say, replayed with the CLI by someone who can reach Temporal) is
    refused there. Payloads written without a context (histories from before binding) carry no
    workflow id: opened for a workflow, they are marked unbound (`UNBOUND_METADATA`), and the
    payload converter tells the message so (`domain.models.Message.bound`): the workflow refuses
    an unbound update or signal (an old history's are replayed as they were). The codec endpoint's
    encode binds to the workflow its caller names.

    `accept_plaintext` exists for one purpose: replaying histories recorded before encryption
    (tests/workflows/test_replay.py). A worker or API never sets it.
    """

    def __init__(
        self, keys: PayloadKeys, *, accept_plaintext: bool = False, workflow_id: str | None = None,
        _ciphers: dict[str, AESGCM] | None = None,
    ) -> None:
        self._keys = keys
        self._ciphers = _ciphers or {key_id: AESGCM(raw) for key_id, raw in keys.keys.items()}
        self._accept_plaintext = accept_plaintext
        self._workflow_id = workflow_id

    def with_context(self, context: SerializationContext) -> "EncryptionCodec":
        workflow_id = None
        if isinstance(context, (WorkflowSerializationContext, ActivitySerializationContext)):
            workflow_id = context.workflow_id
        return EncryptionCodec(self._keys, accept_plaintext=self._accept_plaintext, workflow_id=workflow_id,
                               _ciphers=self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._keys.current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, payload.SerializeToString(), _associated_data(key_id, self._workflow_id)
        )
        metadata = {"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: key_id.encode(), CIPHER_METADATA: CIPHER}
        if self._workflow_id is not None:
            metadata[WORKFLOW_ID_METADATA] = self._workflow_id.encode()
        return Payload(metadata=metadata, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload, or a refused one saying why (never raises)."""
        opened = self._open(payload)
        if isinstance(opened, Payload):
            return opened
        reason, message = opened
        log.warning("temporal payload refused", reason=reason, detail=message)
        return Payload(metadata={"encoding": REFUSED_ENCODING, "reason": message.encode()}, data=b"")

    def decrypt_for_display(self, payload: Payload) -> Payload:
        """For the codec endpoint: what cannot be decrypted is shown as it is stored."""
        opened = self._open(payload)
        return opened if isinstance(opened, Payload) else payload

    def _open(self, payload: Payload) -> Payload | tuple[str, str]:
        if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
            if self._accept_plaintext:
                return payload
            return "not-encrypted", "the payload is not encrypted"
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return "unknown-key", (
                f"the payload is encrypted with key {key_id!r}, which TEMPORAL_ENCRYPTION_KEYS does not hold"
            )
        bound_to = payload.metadata[WORKFLOW_ID_METADATA].decode(errors="replace") \
            if WORKFLOW_ID_METADATA in payload.metadata else None
        if bound_to is not None and self._workflow_id is not None and bound_to != self._workflow_id \
                and not runs_of_one_schedule(bound_to, self._workflow_id):
            return "other-workflow", (
                f"the payload belongs to workflow {bound_to!r}, not {self._workflow_id!r} (copied from another case)"
            )
        try:
            plain = cipher.decrypt(
                payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], _associated_data(key_id, bound_to),
            )
        except (InvalidTag, ValueError):
            return "not-authentic", f"the payload does not authenticate under key {key_id!r}"
        opened = Payload.FromString(plain)
        if bound_to is None and self._workflow_id is not None:
            opened.metadata[UNBOUND_METADATA] = b"1"
        return opened


# A scheduled run's id is its schedule action's id plus the time it was due (Temporal's naming).
SCHEDULED_RUN_ID = re.compile(r"^(?P<action>.+)-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def runs_of_one_schedule(first: str, second: str) -> bool:
    """Two runs of one schedule's action: Temporal hands each run the previous run's result (its
    last completion result), sealed for that run. Case ids never end in a time, so a case's payload
    is still refused in any other workflow."""
    a, b = SCHEDULED_RUN_ID.match(first), SCHEDULED_RUN_ID.match(second)
    return a is not None and b is not None and a["action"] == b["action"]


def _associated_data(key_id: str, workflow_id: str | None) -> bytes:
    data = _ASSOCIATED_DATA_PREFIX + key_id.encode()
    return data if workflow_id is None else data + b"\x00workflow:" + workflow_id.encode()


class RefusedPayloadConverter(EncodingPayloadConverter):
    """Reads a refused payload by raising: no value comes out of what the codec would not open."""

    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING.decode()

    def to_payload(self, value: object) -> Payload | None:
        return None  # never chosen to write a value

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> object:
        reason = payload.metadata.get("reason", b"").decode(errors="replace")
        raise PayloadRefused(f"Temporal payload refused: {reason}")


class ProjectPayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON for every value, plus the refusal of what the codec would not open, and an
    update's or signal's message told whether its payload was bound to its workflow."""

    def __init__(self) -> None:
        super().__init__()
        self._set_converters(RefusedPayloadConverter(), *self.converters.values())

    def from_payloads(self, payloads: Sequence[Payload], type_hints: list[type] | None = None) -> list[object]:
        values = super().from_payloads(payloads, type_hints)
        for payload, value in zip(payloads, values):
            if UNBOUND_METADATA in payload.metadata and isinstance(value, Message):
                value.mark_unbound()
        return values


def data_converter(keys: PayloadKeys, *, accept_plaintext: bool = False) -> DataConverter:
    """The one data converter of every Temporal client and worker of the project.

    Failure messages and stack traces are moved into an encoded attribute too (they may quote a
    case's text), so a failed activity's message is as private as its result.
    """
    return DataConverter(
        payload_converter_class=ProjectPayloadConverter,
        payload_codec=EncryptionCodec(keys, accept_plaintext=accept_plaintext),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _main(argv: list[str]) -> int:
    if argv[:1] == ["new-key"]:
        print(new_key_entry(argv[1] if len(argv) > 1 else None))
        return 0
    print("usage: python -m workflows.codec new-key [KEY_ID]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
