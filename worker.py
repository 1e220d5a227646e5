"""Runs the complaint workflows and their activities on the task queue.

`python worker.py` brings the read model's schema up to date (when AUTO_MIGRATE), registers the
search attributes the workflow needs, and polls until SIGINT/SIGTERM. Alongside, the notification
dispatcher (activities/notifications.py) drains the outbox; on SIGTERM it finishes the deliveries
it has claimed, then stops with the Temporal worker.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.notifications import Dispatcher
from activities.records import RecordActivities
from activities.routing import RoutingActivities
from activities.routing_learning import Trainer
from config import Settings, get_settings
from db.migrate import prepare_database
from db.session import make_engine, make_sessionmaker
from ops.metrics import ActivityMetrics, worker_runtime_and_endpoint
from ops.telemetry import configure as configure_telemetry
from workflows.client import connect, ensure_search_attributes
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger("sp4n.worker")

# The sandbox re-imports a workflow's module for every workflow run it creates: one more copy of
# workflows/complaint.py (its class, functions, definitions) per cached case, and its import time
# on every new or replayed run (bench/RESULTS.md, worker memory: ~1/3 of the memory per case).
# The rules it runs (domain/) are passed through already; so is this module here. The workflow
# tests (tests/workflows) still run it in the full sandbox, which is where a restricted call
# (the clock, randomness, I/O) added to it is caught; the stored histories catch the rest.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows.complaint", "opentelemetry")
)


def build_worker(
    client: Client, task_queue: str, sessionmaker, executor: ThreadPoolExecutor, max_cached_workflows: int = 1000
) -> Worker:
    records = RecordActivities(sessionmaker)
    routing = RoutingActivities(sessionmaker)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ComplaintWorkflow],
        activities=[records.record_case, routing.suggest_agencies],
        activity_executor=executor,
        max_cached_workflows=max_cached_workflows,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityMetrics()],  # tracing comes with the client (workflows.client.connect)
    )


async def main(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_telemetry(settings, "sp4n-worker")
    if settings.auto_migrate:
        prepare_database(settings.database_url)
    sessionmaker = make_sessionmaker(make_engine(settings.database_url))
    # /metrics on WORKER_METRICS_PORT: ours, and the SDK's runtime metrics from this runtime.
    runtime = worker_runtime_and_endpoint(settings.worker_metrics_host, settings.worker_metrics_port)
    client = await connect(settings.temporal_address, settings.temporal_namespace, settings.payload_keys,
                           runtime=runtime)
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    if added:
        log.info("search attributes registered", added=added)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(
            client, settings.temporal_task_queue, sessionmaker, executor, settings.worker_max_cached_workflows
        )
        log.info("worker started", task_queue=settings.temporal_task_queue, address=settings.temporal_address,
                 metrics_port=settings.worker_metrics_port or None)
        trainer = Trainer(sessionmaker, settings.routing_retrain_seconds).start() if settings.routing_retrain_seconds else None
        async with worker:
            dispatcher = None
            if settings.notifications_enabled:
                dispatcher = asyncio.create_task(Dispatcher(sessionmaker, settings).run(stop))
            await stop.wait()
            if dispatcher is not None:
                await dispatcher
        if trainer is not None:
            trainer.stop()
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
