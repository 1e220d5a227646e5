"""Retention of personal data (issue 26, docs/privacy.md): a closed case's personal data is erased
once its period has passed. A Temporal Schedule (`ensure_retention_schedule`, made by the worker at
start) runs `RetentionWorkflow` once a day; the workflow asks the activity to erase what is due as
of `workflow.now()`, so a time-skipping test moves the clock, not a cron of ours."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

RETENTION_SCHEDULE_ID = "sp4n-personal-data-retention"
DATABASE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                             maximum_attempts=20)


class RetentionRequest(BaseModel):
    retention_days: int
    as_of: str | None = None  # set by the workflow: the instant it runs (ISO 8601)


class RetentionResult(BaseModel):
    erased: list[str] = []
    held: list[str] = []  # due, but an administrator's hold defers them


@workflow.defn
class RetentionWorkflow:
    @workflow.run
    async def run(self, request: RetentionRequest) -> RetentionResult:
        return await workflow.execute_activity(
            "erase_expired_personal_data",
            request.model_copy(update={"as_of": workflow.now().isoformat()}),
            result_type=RetentionResult,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=DATABASE_RETRY,
        )
