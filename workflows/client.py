"""Connecting to Temporal, for the worker, the API and the tests alike (never imported by workflows)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from domain.models import CalendarAmendment
from workflows import SEARCH_ATTRIBUTES
from workflows.codec import PayloadKeys, data_converter


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
