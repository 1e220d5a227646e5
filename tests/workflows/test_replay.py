"""Stored histories (tests/histories/*.json) must replay on today's ComplaintWorkflow.

A change to the commands the workflow issues (another activity or timer, a different order, a
removed upsert) makes running cases fail their next workflow task after a deploy. Such a change
must be gated with `workflow.patched(...)`; this test fails when it is not. See
tests/histories/README.md for what the histories cover and when to regenerate them.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from domain.models import CaseState, ComplaintInput
from tests.crypto import TEST_DATA_CONVERTER, TEST_PAYLOAD_KEYS
from workflows.codec import data_converter
from tests.histories.record_delivery import WORKFLOW_IDS as DELIVERY_WORKFLOW_IDS
from workflows.complaint import ComplaintWorkflow
from workflows.delivery import DeliveryWorkflow

# Histories recorded before payload encryption are clear; the replay reads them as they are.
# A worker never does (tests/unit/test_codec.py): this converter exists for this test only.
REPLAY_CONVERTER = data_converter(TEST_PAYLOAD_KEYS, accept_plaintext=True)

HISTORIES_DIR = Path(__file__).resolve().parents[1] / "histories"
HISTORY_FILES = sorted(HISTORIES_DIR.glob("*.json"))
# The scenarios tests/histories/record.py writes; a missing file is a failure, not a skip.
EXPECTED = {
    "typical",
    "pin_confirmed",
    "hold_supplement",
    "hold_expired",
    "rejected_duplicate",
    "reroute_reopen",
    "overdue_ombudsman",
    "continue_as_new",
    "continue_as_new_second_run",
    "action_while_recording",
    "calendar_amendments",
    "typical_encrypted",
    "typical_bound",
    "satisfied",
    "typical_deliveries",
    "personal_data_erased",
}


def load_history(path: Path) -> WorkflowHistory:
    """The stored history, under its own workflow id (the tracking id in the start input)."""
    text = path.read_text(encoding="utf-8")
    anonymous = WorkflowHistory.from_json("unknown", text)
    started = anonymous.events[0].workflow_execution_started_event_attributes
    return WorkflowHistory.from_json(_start_input(started.input.payloads).tracking_id, text)


def _start_input(payloads) -> ComplaintInput:
    decoded = [REPLAY_CONVERTER.payload_codec.decrypt(payload) for payload in payloads]
    [complaint] = REPLAY_CONVERTER.payload_converter.from_payloads(decoded, [ComplaintInput])
    return complaint


def replayer(*workflows: type, converter=REPLAY_CONVERTER) -> Replayer:
    return Replayer(workflows=list(workflows), data_converter=converter)


def test_every_scenario_has_a_stored_history():
    assert {path.stem for path in HISTORY_FILES} == EXPECTED
    assert {path.stem for path in (HISTORIES_DIR / "delivery").glob("*.json")} == set(DELIVERY_WORKFLOW_IDS)


@pytest.mark.parametrize("stem", sorted(DELIVERY_WORKFLOW_IDS))
async def test_stored_delivery_history_replays_on_the_current_workflow(stem: str):
    """A DeliveryWorkflow started before deliveries moved into the case's workflow (issue 25),
    or an administrator's resend (still one), finishes on today's code."""
    text = (HISTORIES_DIR / "delivery" / f"{stem}.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json(DELIVERY_WORKFLOW_IDS[stem], text)
    result = await replayer(DeliveryWorkflow, converter=TEST_DATA_CONVERTER).replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[path.stem for path in HISTORY_FILES])
async def test_stored_history_replays_on_the_current_workflow(path: Path):
    history = load_history(path)
    result = await replayer(ComplaintWorkflow).replay_workflow(history)
    assert result.replay_failure is None


# What stays clear in an encrypted history, by design: search attributes (Temporal indexes them;
# workflows/__init__.py keeps personal data out of them) and the SDK's own bookkeeping of a local
# activity (its sequence number, attempt and type; the result beside it is encrypted).
CLEAR_BY_DESIGN = ("/searchAttributes/", "/markerRecordedEventAttributes/details/data/")
LOCAL_ACTIVITY_BOOKKEEPING = {"seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff",
                              "original_schedule_time", "activation_index"}


def clear_payloads(node, path=""):
    """(path, decoded data) of every payload in a JSON history that is not encrypted."""
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "encoding" in metadata:
            if base64.b64decode(metadata["encoding"]) != b"binary/encrypted":
                yield path, base64.b64decode(node.get("data", ""))
        for key, value in node.items():
            yield from clear_payloads(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from clear_payloads(value, path)


@pytest.mark.parametrize("stem", ["typical_encrypted", "typical_bound"])
def test_the_encrypted_history_holds_nothing_of_the_case_in_clear(stem: str):
    history = json.loads((HISTORIES_DIR / f"{stem}.json").read_text(encoding="utf-8"))
    encrypted = (HISTORIES_DIR / f"{stem}.json").read_text().count("YmluYXJ5L2VuY3J5cHRlZA")
    assert encrypted >= 10  # the input, every update's argument and result, every local result
    for path, data in clear_payloads(history["events"]):
        assert any(part in path for part in CLEAR_BY_DESIGN), path
        if "/markerRecordedEventAttributes/" in path:
            assert set(json.loads(data)) <= LOCAL_ACTIVITY_BOOKKEEPING, data


def test_the_bound_history_names_its_case_in_every_payload():
    history = json.loads((HISTORIES_DIR / "typical_bound.json").read_text(encoding="utf-8"))
    tracking_id = load_history(HISTORIES_DIR / "typical_bound.json").workflow_id
    bound = {
        base64.b64decode(node["metadata"]["encryption-workflow-id"]).decode()
        for node in _encrypted(history["events"])
    }
    assert bound == {tracking_id}


def _encrypted(node):
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and base64.b64decode(metadata.get("encoding", "")) == b"binary/encrypted":
            yield node
        for value in node.values():
            yield from _encrypted(value)
    elif isinstance(node, list):
        for value in node:
            yield from _encrypted(value)


async def test_a_clear_history_does_not_run_on_a_worker_that_refuses_plaintext():
    """What a forged workflow start (plain JSON from the CLI) meets on a real worker."""
    history = load_history(HISTORIES_DIR / "typical.json")
    result = await replayer(ComplaintWorkflow, converter=TEST_DATA_CONVERTER).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert "PayloadRefused" in str(result.replay_failure)  # the type stays readable; the message is sealed


# Unsandboxed: the sandbox would re-import this test module, whose module-level Path.resolve()
# it forbids. Replay checks commands against history the same way in both runners.
@workflow.defn(name="ComplaintWorkflow", sandboxed=False)
class ComplaintWorkflowWithAnExtraTimer(ComplaintWorkflow):
    """The kind of change the stored histories exist to catch: a new command (here a timer)
    before everything the recorded runs did, with no `workflow.patched` gate."""

    @workflow.run
    async def run(self, input: ComplaintInput) -> CaseState:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


@workflow.defn(name="ComplaintWorkflow", sandboxed=False)
class ComplaintWorkflowWithoutSearchAttributes(ComplaintWorkflow):
    """A subtler one, deep in the history: the search-attribute upserts dropped."""

    @workflow.run
    async def run(self, input: ComplaintInput) -> CaseState:
        return await super().run(input)

    def _upsert_search_attributes(self) -> None:
        pass


@pytest.mark.parametrize(
    "altered", [ComplaintWorkflowWithAnExtraTimer, ComplaintWorkflowWithoutSearchAttributes]
)
@pytest.mark.parametrize("stem", ["typical", "continue_as_new_second_run"])
async def test_an_ungated_change_fails_the_replay(stem: str, altered: type):
    history = load_history(HISTORIES_DIR / f"{stem}.json")
    with pytest.raises(workflow.NondeterminismError):
        await replayer(altered).replay_workflow(history)


def test_the_pin_confirmed_history_carries_its_patch_marker():
    """The pin confirmation (issue 22) came after release: only its history carries the marker."""
    text = (HISTORIES_DIR / "pin_confirmed.json").read_text(encoding="utf-8")
    patch = base64.b64encode(b'{"id":"pin-confirmed"').decode()[:24]
    assert patch in text
    assert all(patch not in path.read_text(encoding="utf-8") for path in HISTORY_FILES if path.stem != "pin_confirmed")


def test_the_satisfied_history_carries_its_patch_marker():
    """The satisfied update came after release: its histories say so (workflow.patched), the
    older ones replay without it (test_stored_history_replays_on_the_current_workflow)."""
    text = (HISTORIES_DIR / "satisfied.json").read_text(encoding="utf-8")
    patch = base64.b64encode(b'{"id":"reporter-satisfied"').decode()[:30]
    assert patch in text
    assert all(patch not in path.read_text(encoding="utf-8") for path in HISTORY_FILES if path.stem != "satisfied")
