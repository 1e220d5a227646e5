"""ChatWorkflow (workflows/chat.py): its stored histories (tests/histories/chat/, written by that
folder's record.py) replay on the current code, an ungated change of its commands fails the
replay, and a conversation run on stand-ins opens one case with what was said."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.crypto import TEST_DATA_CONVERTER
from tests.histories.chat.record import WORKFLOW_IDS, StandIns, converse, reported_messages
from workflows.chat import ChatStart, ChatWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories" / "chat"
# Replay checks the commands, not the sandbox (tests/chat runs the workflow in it on the real worker).
RUNNER = UnsandboxedWorkflowRunner()


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(WORKFLOW_IDS[name], (HISTORIES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(WORKFLOW_IDS))
async def test_stored_conversations_replay_on_the_current_workflow(name: str) -> None:
    replayer = Replayer(workflows=[ChatWorkflow], data_converter=TEST_DATA_CONVERTER, workflow_runner=RUNNER)
    result = await replayer.replay_workflow(history(name))
    assert result.replay_failure is None


@workflow.defn(name="ChatWorkflow")
class SleepsFirst(ChatWorkflow):
    """The same conversation with a pause before it starts: a change that must be gated."""

    @workflow.run
    async def run(self, start: ChatStart) -> str | None:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


async def test_an_ungated_change_fails_the_replay() -> None:
    replayer = Replayer(workflows=[SleepsFirst], data_converter=TEST_DATA_CONVERTER, workflow_runner=RUNNER)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(history("reported"))


async def test_a_conversation_opens_one_case_with_what_was_said(time_skipping_env: WorkflowEnvironment) -> None:
    stand_ins = StandIns()
    recorded = await converse(time_skipping_env.client, "chat:telegram:test", reported_messages(), stand_ins,
                              time_skipping_env)
    [submission] = stand_ins.opened
    assert submission.draft.region is not None and submission.draft.region.code == "33.74"
    assert submission.draft.photos == ["file-1"] and submission.draft.anonymous is True
    assert "LAP-7K2M9QX4TD" in stand_ins.said[-1]
    # Nothing of the chat in clear in the history: the codec seals every payload.
    assert "5550100" not in json.dumps(json.loads(recorded.to_json()))
    assert len(recorded.events) <= 100
