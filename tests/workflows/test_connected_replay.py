"""The connected bodies' workflows (issue 27) replay their stored histories
(tests/histories/connected/, `python -m tests.histories.record_connected`): a forward backing off
or a sync running when new code is deployed finishes on it; a change of their commands is gated
with workflow.patched like the case's. And the check bites: an ungated change fails."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.crypto import TEST_DATA_CONVERTER
from tests.histories.record_connected import WORKFLOW_IDS
from workflows.connected import ConnectedSyncWorkflow, ForwardPlan, ForwardWorkflow

DIRECTORY = Path(__file__).resolve().parents[1] / "histories" / "connected"
WORKFLOW_OF = {"forward_outage_token": ForwardWorkflow, "forward_refused": ForwardWorkflow,
               "sync_scheduled": ConnectedSyncWorkflow}


def history(stem: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(WORKFLOW_IDS[stem], (DIRECTORY / f"{stem}.json").read_text(encoding="utf-8"))


def test_every_scenario_has_a_stored_history() -> None:
    assert {path.stem for path in DIRECTORY.glob("*.json")} == set(WORKFLOW_IDS) == set(WORKFLOW_OF)


@pytest.mark.parametrize("stem", sorted(WORKFLOW_IDS))
async def test_stored_history_replays_on_the_current_workflow(stem: str) -> None:
    replayer = Replayer(workflows=[WORKFLOW_OF[stem]], data_converter=TEST_DATA_CONVERTER)
    result = await replayer.replay_workflow(history(stem))
    assert result.replay_failure is None


@workflow.defn(name="ForwardWorkflow")
class ForwardWithAnExtraTimer(ForwardWorkflow):
    @workflow.run
    async def run(self, plan: ForwardPlan) -> str:
        await workflow.sleep(timedelta(seconds=1))  # an ungated new command
        return await super().run(plan)


async def test_an_ungated_change_fails_the_replay() -> None:
    # Unsandboxed (as the production worker runs them): this test module is not sandbox-safe.
    replayer = Replayer(workflows=[ForwardWithAnExtraTimer], data_converter=TEST_DATA_CONVERTER,
                        workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history("forward_outage_token"), raise_on_replay_failure=False)
    assert result.replay_failure is not None
