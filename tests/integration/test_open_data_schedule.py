"""The daily open data schedule (issue 28) on a real dev server: created once at worker start
(a second start finds it), and a triggered run generates a version through the real worker."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.open_data_models import OpenDataVersion
from tests.integration.conftest import RunningWorker
from tests.open_data_seed import seed_open_data
from workflows.open_data import (
    CRON,
    SCHEDULE_ID,
    TIME_ZONE,
    OpenDataGenerated,
    ensure_open_data_schedule,
)


async def test_the_schedule_is_made_once_and_its_run_publishes_a_version(running_worker: RunningWorker, sessions):
    with sessions() as session:
        seed_open_data(session)
    client = running_worker.client
    assert await ensure_open_data_schedule(client, running_worker.task_queue) is True
    assert await ensure_open_data_schedule(client, running_worker.task_queue) is False
    schedule = client.get_schedule_handle(SCHEDULE_ID)
    try:
        described = await schedule.describe()
        [daily] = described.schedule.spec.calendars  # the server keeps the cron as a calendar
        assert CRON.startswith("0 2 ") and [(r.start, r.end) for r in daily.hour] == [(2, 2)]
        assert described.schedule.spec.time_zone_name == TIME_ZONE
        await schedule.trigger()
        for _ in range(100):  # the trigger is asynchronous: wait for the action to be recorded
            described = await schedule.describe()
            if described.info.recent_actions:
                break
            await asyncio.sleep(0.2)
        started = described.info.recent_actions[-1].action
        result = await client.get_workflow_handle(started.workflow_id, result_type=OpenDataGenerated).result()
        assert result.created and result.rows == {"bodies": 1, "regions": 1, "cases": 13}
        with sessions() as session:
            assert session.scalars(select(OpenDataVersion.version)).all() == [result.version]
        # A worker on another task queue (TEMPORAL_TASK_QUEUE changed) moves the runs to it.
        assert await ensure_open_data_schedule(client, "complaints-elsewhere") is False
        assert (await schedule.describe()).schedule.action.task_queue == "complaints-elsewhere"
    finally:
        await schedule.delete()
