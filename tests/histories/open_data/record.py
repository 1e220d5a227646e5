"""Records the stored OpenDataWorkflow history (`python -m tests.histories.open_data.record`): one
scheduled-style run on the time-skipping server, its activity a stand-in, payloads encrypted with
the tests' key. tests/workflows/test_open_data_replay.py replays it on the current code."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import test_server_path
from tests.crypto import TEST_DATA_CONVERTER
from workflows.open_data import GenerateOpenData, OpenDataGenerated, OpenDataWorkflow

HERE = Path(__file__).parent
WORKFLOW_ID = "sp4n-open-data-2026-12-07T19:00:00Z"  # as a scheduled run is named


@activity.defn(name="generate_open_data")
def generate_open_data(request: GenerateOpenData) -> OpenDataGenerated:
    return OpenDataGenerated(version=1, created=True, rows={"bodies": 1, "regions": 1, "cases": 13})


async def main() -> None:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(), data_converter=TEST_DATA_CONVERTER
    ) as env:
        with ThreadPoolExecutor(max_workers=2) as executor:
            async with Worker(env.client, task_queue="open-data", workflows=[OpenDataWorkflow],
                              activities=[generate_open_data], activity_executor=executor):
                handle = await env.client.start_workflow(OpenDataWorkflow.run, id=WORKFLOW_ID, task_queue="open-data")
                await handle.result()
                history = await handle.fetch_history()
    (HERE / "daily_run.json").write_text(history.to_json(), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
