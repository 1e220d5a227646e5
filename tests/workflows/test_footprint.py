"""Temporal footprint budget per case (issue 25): a typical lifecycle, everything it starts summed,
stays within 100 history events and 15 workflow tasks.

The typical lifecycle of tests/histories/record.py (submit, accept, dispose, follow-up, completion
by the reporter's silence, rating 5) on the time-skipping server, with the stand-ins returning one
email delivery per notification, as `project_case` plans them: the case's workflow sends them
itself, and starts no other workflow.
"""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from tests.histories.record import GatedActivities, typical
from tests.workflows.conftest import Harness

MAX_EVENTS, MAX_WORKFLOW_TASKS = 100, 15


async def test_a_typical_lifecycle_stays_within_its_footprint_budget(time_skipping_env: WorkflowEnvironment):
    activities = GatedActivities(deliver=True)
    harness = Harness(time_skipping_env, f"tq-{uuid.uuid4().hex}", activities)
    async with harness.worker():
        [handle] = (await typical(harness)).values()
        events = (await handle.fetch_history()).events
    notifications = [n.key for record in activities.records for n in record.notifications]
    assert sorted(activities.sent) == sorted(notifications)  # every message went out, once
    assert not any(e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED for e in events)
    tasks = sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in events)
    print(f"typical lifecycle: 1 workflow, {len(events)} events, {tasks} workflow tasks, "
          f"{len(notifications)} deliveries")
    assert len(events) <= MAX_EVENTS
    assert tasks <= MAX_WORKFLOW_TASKS
