"""Stored histories (tests/histories/*.json) must replay on today's ComplaintWorkflow.

A change to the commands the workflow issues (another activity or timer, a different order, a
removed upsert) makes running cases fail their next workflow task after a deploy. Such a change
must be gated with `workflow.patched(...)`; this test fails when it is not. See
tests/histories/README.md for what the histories cover and when to regenerate them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from domain.models import CaseState, ComplaintInput
from workflows.complaint import ComplaintWorkflow

HISTORIES_DIR = Path(__file__).resolve().parents[1] / "histories"
HISTORY_FILES = sorted(HISTORIES_DIR.glob("*.json"))
# The scenarios tests/histories/record.py writes; a missing file is a failure, not a skip.
EXPECTED = {
    "typical",
    "hold_supplement",
    "hold_expired",
    "rejected_duplicate",
    "reroute_reopen",
    "overdue_ombudsman",
    "continue_as_new",
    "continue_as_new_second_run",
    "action_while_recording",
    "calendar_amendments",
}


def load_history(path: Path) -> WorkflowHistory:
    """The stored history, under its own workflow id (the tracking id in the start input)."""
    text = path.read_text(encoding="utf-8")
    anonymous = WorkflowHistory.from_json("unknown", text)
    started = anonymous.events[0].workflow_execution_started_event_attributes
    [complaint] = pydantic_data_converter.payload_converter.from_payloads(
        list(started.input.payloads), [ComplaintInput]
    )
    return WorkflowHistory.from_json(complaint.tracking_id, text)


def replayer(*workflows: type) -> Replayer:
    return Replayer(workflows=list(workflows), data_converter=pydantic_data_converter)


def test_every_scenario_has_a_stored_history():
    assert {path.stem for path in HISTORY_FILES} == EXPECTED


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[path.stem for path in HISTORY_FILES])
async def test_stored_history_replays_on_the_current_workflow(path: Path):
    history = load_history(path)
    result = await replayer(ComplaintWorkflow).replay_workflow(history)
    assert result.replay_failure is None


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
