"""OpenDataWorkflow's stored history (tests/histories/open_data/daily_run.json, written by its
record.py) replays on the current code; an ungated change of its commands fails the replay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.crypto import TEST_DATA_CONVERTER
from workflows.open_data import (
    GENERATION_TIMEOUT,
    GenerateOpenData,
    OpenDataGenerated,
    OpenDataWorkflow,
)

WORKFLOW_ID = "sp4n-open-data-2026-12-07T19:00:00Z"  # as record.py names the run
# Replay checks the commands, not the sandbox (tests/api runs the workflow in it on the real worker);
# unsandboxed, this module is not imported again for its altered workflow.
RUNNER = UnsandboxedWorkflowRunner()
HISTORY = Path(__file__).resolve().parents[1] / "histories" / "open_data" / "daily_run.json"


def history() -> WorkflowHistory:
    return WorkflowHistory.from_json(WORKFLOW_ID, HISTORY.read_text(encoding="utf-8"))


async def test_the_daily_run_replays_on_the_current_workflow():
    result = await Replayer(workflows=[OpenDataWorkflow], data_converter=TEST_DATA_CONVERTER, workflow_runner=RUNNER).replay_workflow(history())
    assert result.replay_failure is None


@workflow.defn(name="OpenDataWorkflow")
class WaitsFirst:
    """The same workflow with a timer before its activity: a change that must be gated."""

    @workflow.run
    async def run(self) -> OpenDataGenerated:
        await workflow.sleep(timedelta(minutes=1))
        return await workflow.execute_activity("generate_open_data", GenerateOpenData(now=workflow.now()),
                                               result_type=OpenDataGenerated, start_to_close_timeout=GENERATION_TIMEOUT)


async def test_an_ungated_change_fails_the_replay():
    with pytest.raises(workflow.NondeterminismError):
        await Replayer(workflows=[WaitsFirst], data_converter=TEST_DATA_CONVERTER, workflow_runner=RUNNER).replay_workflow(history())
