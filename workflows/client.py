"""Connecting to Temporal, for the worker, the API and the tests alike (never imported by workflows)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from domain.models import CalendarAmendment
from workflows import SEARCH_ATTRIBUTES
from workflows.codec import PayloadKeys, data_converter
from workflows.retention import RETENTION_SCHEDULE_ID, RetentionRequest, RetentionWorkflow
from workflows.schedules import ensure_schedule


async def connect(
    address: str, namespace: str, keys: PayloadKeys | None = None, *, runtime: Runtime | None = None,
    tracing: bool | None = None,
) -> Client:
    """The client every process uses. Every payload it writes is encrypted (workflows/codec.py;
    keys default to the settings'). With tracing (default: when the settings name an
    OpenTelemetry endpoint, OTEL_EXPORTER_OTLP_ENDPOINT) its TracingInterceptor carries the
    caller's OpenTelemetry context into the workflow and on to its activities (a worker built on
    this client gets it too). Without an endpoint nobody reads the spans, and the interceptor cost
    a worker ~11 % of its CPU per case (issue 25): workflow and activity log lines then carry no
    trace id. `runtime` is the worker's, with the SDK's Prometheus exporter (telemetry/metrics.py)."""
    if keys is None or tracing is None:
        from config import get_settings

        settings = get_settings()
        keys = settings.payload_keys if keys is None else keys
        tracing = bool(settings.otel_exporter_otlp_endpoint) if tracing is None else tracing
    return await Client.connect(
        address, namespace=namespace, data_converter=data_converter(keys),
        interceptors=[TracingInterceptor()] if tracing else [], runtime=runtime,
    )


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the custom search attributes the workflow upserts; returns the ones added."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as error:
        # The time-skipping test server cannot list them; adding is still supported there.
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.ValueType(SearchAttributeIndexedValueType(key.indexed_value_type))
        for key in SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
        except RPCError as error:
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            return []
    return sorted(missing)


async def amend_open_cases(client: Client, amendment: CalendarAmendment) -> int:
    """Send a calendar amendment to every running case; returns how many were signalled.

    Each case applies it once (by calendar version), so re-sending after a partial failure is safe.
    """
    signalled = 0
    query = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        try:
            await client.get_workflow_handle(execution.id).signal("amend_calendar", amendment)
            signalled += 1
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:  # closed meanwhile
                raise
    return signalled


async def ensure_retention_schedule(client: Client, task_queue: str, retention_days: int, every: timedelta) -> bool:
    """The Temporal Schedule that erases closed cases' personal data once their period has passed
    (workflows/retention.py), made or brought up to the settings; removed when retention is off
    (0 days). Returns whether one runs now."""
    handle = client.get_schedule_handle(RETENTION_SCHEDULE_ID)
    if retention_days <= 0:
        try:
            await handle.delete()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        return False
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run, RetentionRequest(retention_days=retention_days),
            id=f"{RETENTION_SCHEDULE_ID}-run", task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    await ensure_schedule(client, RETENTION_SCHEDULE_ID, schedule, keep_operator_changes=False)
    return True
