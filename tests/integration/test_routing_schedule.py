"""The routing model's periodic retrain is a Temporal Schedule (issue 22, item 4), on a real dev
server: made once at worker start, on an interval, overlaps skipped; a triggered run trains and
activates a version from the examples the read model holds."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from temporalio.client import ScheduleOverlapPolicy

from activities.routing_learning import import_history
from db.models import RoutingModelVersion
from tests.integration.conftest import RunningWorker
from workflows.routing_training import SCHEDULE_ID, TrainedVersion, ensure_routing_schedule


async def test_the_retrain_schedule_is_made_once_and_its_run_activates_a_version(running_worker: RunningWorker,
                                                                                 sessions):
    with sessions.begin() as session:
        check, added = import_history(session, [
            {"text": "Pohon tumbang di taman kota menimpa pagar warga", "agency_id": "pemkot-62.71"},
            {"text": "Lampu jalan padam di depan pasar sejak seminggu", "agency_id": "pemkot-62.71"}])
        assert check.ok and added == 2
    client = running_worker.client
    assert await ensure_routing_schedule(client, running_worker.task_queue, 0) is False  # 0: no schedule
    assert await ensure_routing_schedule(client, running_worker.task_queue, 300) is True
    assert await ensure_routing_schedule(client, running_worker.task_queue, 300) is False
    schedule = client.get_schedule_handle(SCHEDULE_ID)
    try:
        described = await schedule.describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every.total_seconds() == 300
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        await schedule.trigger()
        for _ in range(100):  # the trigger is asynchronous: wait for the action to be recorded
            described = await schedule.describe()
            if described.info.recent_actions:
                break
            await asyncio.sleep(0.2)
        started = described.info.recent_actions[-1].action
        trained = await client.get_workflow_handle(started.workflow_id, result_type=TrainedVersion).result()
        assert trained.version is not None and trained.active and trained.n_examples >= 2
        with sessions() as session:
            assert session.scalar(select(RoutingModelVersion.version).where(RoutingModelVersion.active)) == trained.version
    finally:
        await schedule.delete()
