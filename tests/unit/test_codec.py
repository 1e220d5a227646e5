"""Temporal payload encryption (workflows/codec.py): what Temporal stores is ciphertext, what a
worker reads is only what a known key sealed, and a key can be rotated."""

from __future__ import annotations

import json

import pytest
from temporalio.api.common.v1 import Payload

from tests.crypto import TEST_DATA_CONVERTER, TEST_ENCRYPTION_KEYS, TEST_PAYLOAD_KEYS
from workflows.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    EncryptionKeyError,
    PayloadKeys,
    PayloadRefused,
    data_converter,
    new_key_entry,
)

IDENTITY = {"name": "Zubaidah Kertanegara-Xq", "email": "zubaidah.xq@contoh.id", "phone": "+6281299887766"}


def plain(value) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


async def test_a_payload_is_stored_as_ciphertext_naming_its_key():
    [sealed] = await TEST_DATA_CONVERTER.encode([IDENTITY])
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"test1"
    stored = sealed.SerializeToString()
    for value in IDENTITY.values():
        assert value.encode() not in stored
    assert await TEST_DATA_CONVERTER.decode([sealed], [dict]) == [IDENTITY]


async def test_each_encryption_is_fresh():
    first, second = await TEST_DATA_CONVERTER.encode([IDENTITY, IDENTITY])
    assert first.data != second.data


async def test_a_clear_payload_is_refused_with_its_reason_and_not_its_content():
    codec = EncryptionCodec(TEST_PAYLOAD_KEYS)
    [refused] = await codec.decode([plain(IDENTITY)])
    assert refused.data == b""
    with pytest.raises(PayloadRefused, match="not encrypted") as caught:
        TEST_DATA_CONVERTER.payload_converter.from_payloads([refused], [dict])
    assert "Zubaidah" not in str(caught.value)


async def test_a_tampered_or_foreign_payload_is_refused():
    [sealed] = await TEST_DATA_CONVERTER.encode([IDENTITY])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    # The key id is authenticated too: relabelling a ciphertext with another held key fails.
    other = PayloadKeys.parse(f"{new_key_entry('other')},{TEST_ENCRYPTION_KEYS}")
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"other"
    stranger = data_converter(PayloadKeys.parse(new_key_entry("stranger")))
    for converter, payload, reason in (
        (TEST_DATA_CONVERTER, tampered, "does not authenticate"),
        (data_converter(other), relabelled, "does not authenticate"),
        (stranger, sealed, "key 'test1'"),
    ):
        with pytest.raises(PayloadRefused, match=reason):
            await converter.decode([payload], [dict])


async def test_rotation_reads_old_payloads_and_writes_with_the_new_key():
    old_converter = TEST_DATA_CONVERTER
    [old] = await old_converter.encode([IDENTITY])
    rotated = data_converter(PayloadKeys.parse(f"{new_key_entry('k2')},{TEST_ENCRYPTION_KEYS}"))
    assert await rotated.decode([old], [dict]) == [IDENTITY]
    [new] = await rotated.encode([IDENTITY])
    assert new.metadata[KEY_ID_METADATA] == b"k2"
    with pytest.raises(PayloadRefused, match="key 'k2'"):
        await old_converter.decode([new], [dict])  # a worker not yet given the new key says so


async def test_failure_messages_are_encrypted_too():
    from temporalio.api.failure.v1 import Failure
    from temporalio.exceptions import ApplicationError

    failure = Failure()
    TEST_DATA_CONVERTER.failure_converter.to_failure(
        ApplicationError("insert failed for Zubaidah Kertanegara-Xq"), TEST_DATA_CONVERTER.payload_converter, failure
    )
    await TEST_DATA_CONVERTER.payload_codec.encode_failure(failure)
    assert b"Zubaidah" not in failure.SerializeToString()


@pytest.mark.parametrize(
    "setting, complaint",
    [
        (None, "not set"),
        ("", "not set"),
        ("k1", "id:key"),
        ("k 1:AAAA", "id:key"),
        ("k1:AAAA", "not 32 bytes"),
        ("k1:!!!!", "not 32 bytes"),
        (f"{TEST_ENCRYPTION_KEYS},{TEST_ENCRYPTION_KEYS}", "twice"),
    ],
)
def test_unusable_keys_are_refused_with_how_to_make_one(setting, complaint):
    with pytest.raises(EncryptionKeyError, match=complaint) as caught:
        PayloadKeys.parse(setting)
    assert "python -m workflows.codec new-key" in str(caught.value) or complaint == "twice"


def test_new_key_makes_a_usable_entry():
    keys = PayloadKeys.parse(new_key_entry("k9"))
    assert keys.current_id == "k9" and len(keys.keys["k9"]) == 32


def _for(workflow_id: str):
    from temporalio.converter import WorkflowSerializationContext

    return TEST_DATA_CONVERTER.with_context(WorkflowSerializationContext(namespace="default", workflow_id=workflow_id))


async def test_a_payload_is_bound_to_its_case_and_refused_in_another():
    """An accept copied from LAP-A's history and sent to LAP-B with the CLI is not read there."""
    [sealed] = await _for("LAP-A").encode([IDENTITY])
    assert sealed.metadata["encryption-workflow-id"] == b"LAP-A"
    assert await _for("LAP-A").decode([sealed], [dict]) == [IDENTITY]
    with pytest.raises(PayloadRefused, match="belongs to workflow 'LAP-A'"):
        await _for("LAP-B").decode([sealed], [dict])
    # Relabelling the payload for LAP-B breaks its authentication (the id is sealed in).
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata["encryption-workflow-id"] = b"LAP-B"
    with pytest.raises(PayloadRefused, match="does not authenticate"):
        await _for("LAP-B").decode([relabelled], [dict])
    # The codec endpoint (no context, an administrator in Temporal's UI) reads it.
    assert await TEST_DATA_CONVERTER.decode([sealed], [dict]) == [IDENTITY]


async def test_a_scheduled_runs_result_opens_in_the_next_run_of_that_schedule_only():
    """Temporal gives a schedule's next run the last run's result; it stays refused anywhere else."""
    [sealed] = await _for("sp4n-routing-retrain-2026-12-07T13:05:00Z").encode([IDENTITY])
    assert await _for("sp4n-routing-retrain-2026-12-07T13:10:00Z").decode([sealed], [dict]) == [IDENTITY]
    for elsewhere in ("sp4n-open-data-2026-12-07T13:10:00Z", "LAP-A", "sp4n-routing-retrain"):
        with pytest.raises(PayloadRefused, match="belongs to workflow"):
            await _for(elsewhere).decode([sealed], [dict])
    [case_payload] = await _for("LAP-A").encode([IDENTITY])
    with pytest.raises(PayloadRefused, match="belongs to workflow 'LAP-A'"):
        await _for("LAP-A-2026-12-07T13:10:00Z").decode([case_payload], [dict])
