"""Runs the complaint workflows and their activities on the task queue, and the deliveries.

`python worker.py` brings the read model's schema up to date (when AUTO_MIGRATE), registers the
search attributes the workflow needs, and polls until SIGINT/SIGTERM: the case queue
(ComplaintWorkflow and its activities) and, with NOTIFICATIONS_ENABLED, the deliveries' queue
(`<queue>-deliveries`: DeliveryWorkflow, expanding and settling) and one queue per delivery
channel (`<queue>-email`, `-sms`, `-webhook`), each with its own threads, concurrency and
task-queue rate limit, so a slow webhook receiver never holds up a citizen's receipt
(workflows/delivery.py).
"""

from __future__ import annotations

import asyncio
import gc
import signal
from datetime import timedelta
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack

import structlog
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.connected import ConnectedActivities, connected_bodies, pending_forward_keys
from activities.chat import ChatApi, ChatSender
from activities.notifications import DeliveryActivities
from activities.open_data import OpenDataActivities
from activities.privacy import RetentionActivities
from activities.records import RecordActivities
from activities.routing import RoutingActivities
from activities.routing_learning import TrainingActivities
from api.chat import ChatService, conversation_task_queue
from api.main import build_services
from config import Settings, get_settings
from db.migrate import prepare_database
from db.privacy import CaseKeyring
from db.session import make_engine, make_sessionmaker
from telemetry.metrics import ActivityMetrics, worker_runtime_and_endpoint
from telemetry.tracing import configure as configure_telemetry
from api.storage import storage_from_settings
from workflows.client import connect, ensure_retention_schedule, ensure_search_attributes
from workflows.chat import ChatWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.connected import ConnectedSyncWorkflow, ForwardWorkflow
from workflows.connected_client import ForwardStarter, connected_task_queue, ensure_sync_schedule
from workflows.delivery import DeliveryWorkflow
from workflows.retention import RetentionWorkflow
from workflows.delivery_client import CHANNELS, DeliveryStarter, channel_task_queue, delivery_task_queue
from workflows.open_data import OpenDataWorkflow, ensure_open_data_schedule
from workflows.routing_training import RoutingTrainingWorkflow, ensure_routing_schedule

log = structlog.get_logger("sp4n.worker")

# Production runs the workflows without Temporal's sandbox (issue 25). Measured with
# `python -m bench cost` (2 cores, load 10-19, two runs each way, 2026-12-07): worker CPU per new
# case 65 / 58 ms sandboxed, 57 / 52 ms without; per typical lifecycle 290 / 280 ms, 229 / 250 ms
# (py-spy had put the sandbox at ~21 % of the worker's CPU, most of it fetching each payload's
# serialization context through the sandbox). Given up: the run-time guard against a
# non-deterministic call (the clock, randomness, I/O) added to workflow code, and the isolation
# of module state between runs (our workflow modules keep none). The workflow tests
# (tests/workflows: their workers and the Replayer use the full sandbox) are where such a call is
# caught, and the stored histories (tests/histories) catch a change of commands.
WORKFLOW_RUNNER = UnsandboxedWorkflowRunner()


def build_worker(
    client: Client, task_queue: str, sessionmaker, executor: ThreadPoolExecutor, max_cached_workflows: int = 1000,
    deliveries: DeliveryStarter | None = None, forwards: ForwardStarter | None = None,
    expand: DeliveryActivities | None = None, keyring: CaseKeyring | None = None,
    retention: RetentionActivities | None = None,
) -> Worker:
    """The case queue. With `expand`, each projection expands its outbox rows into deliveries that
    the case's workflow sends; with `deliveries`, a case still on the older code starts a
    DeliveryWorkflow per outbox row (workflows/complaint.py, DELIVERIES_IN_CASE); with `forwards`,
    the forwarding of what goes to connected bodies' systems. `keyring` opens each case's sealed
    personal data for the read model (default: the settings' keys).
    The daily open data generation (OpenDataWorkflow, its schedule made at start) runs here too,
    the routing model's training (RoutingTrainingWorkflow: after an import, and on its schedule), and
    with `retention` the personal-data retention (RetentionWorkflow, workflows/retention.py)."""
    records = RecordActivities(sessionmaker, deliveries=deliveries, forwards=forwards,
                               expand=expand.expand_rows if expand is not None else None,
                               keyring=keyring or CaseKeyring(get_settings().payload_keys))
    routing = RoutingActivities(sessionmaker)
    open_data = OpenDataActivities(sessionmaker)
    training = TrainingActivities(sessionmaker)
    extra = ([RetentionWorkflow], [retention.erase_expired_personal_data]) if retention else ([], [])
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ComplaintWorkflow, OpenDataWorkflow, RoutingTrainingWorkflow, *extra[0]],
        activities=[records.project_case, records.record_case, routing.suggest_agencies,
                    open_data.generate_open_data, training.train_routing_model, *extra[1]],
        activity_executor=executor,
        max_cached_workflows=max_cached_workflows,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityMetrics()],  # tracing comes with the client (workflows.client.connect)
    )


def build_delivery_workers(client: Client, settings: Settings, deliveries: DeliveryActivities,
                           executors: ExitStack, chat_sender: ChatSender | None = None) -> list[Worker]:
    """The DeliveryWorkflows' queue (expanding and settling: database work), and one worker per
    delivery channel on the channel's own task queue, with its own threads and rate limit."""
    workers = [Worker(
        client,
        task_queue=delivery_task_queue(settings),
        workflows=[DeliveryWorkflow],
        activities=[deliveries.expand_outbox, deliveries.conclude_delivery, deliveries.conclude_deliveries],
        activity_executor=executors.enter_context(ThreadPoolExecutor(max_workers=4, thread_name_prefix="deliveries")),
        max_concurrent_activities=4,
        # Short workflows sharing the process with the cases: a burst of them (a deadline storm's
        # reminders) takes a few workflow-task slots, not all of the event loop's time.
        max_concurrent_workflow_tasks=8,
        max_cached_workflows=200,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityMetrics()],
    )]
    # Per channel: one delivery (DeliveryWorkflow, webhooks from a case), a projection's batch.
    send = {"email": [deliveries.send_email, deliveries.send_email_batch],
            "sms": [deliveries.send_sms, deliveries.send_sms_batch], "webhook": [deliveries.send_webhook],
            "chat": [deliveries.send_chat, deliveries.send_chat_batch]}
    for channel in CHANNELS:
        concurrency = getattr(settings, f"notification_{channel}_concurrency")
        executor = executors.enter_context(
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"send-{channel}")
        )
        workers.append(Worker(
            client,
            task_queue=channel_task_queue(settings, channel),
            # The chat queue also carries the conversations' replies (one rate limit per door).
            activities=send[channel] + ([chat_sender.say] if channel == "chat" and chat_sender else []),
            activity_executor=executor,
            max_concurrent_activities=concurrency,
            max_task_queue_activities_per_second=getattr(settings, f"notification_{channel}_per_second"),
            interceptors=[ActivityMetrics()],
        ))
    return workers


def build_connected_worker(client: Client, settings: Settings, connected: ConnectedActivities,
                           executor: ThreadPoolExecutor) -> Worker:
    """Connected bodies' queue (workflows/connected.py): forwards into their systems and the
    scheduled reads of their updates, with threads of their own (a slow system waits here only)."""
    return Worker(
        client,
        task_queue=connected_task_queue(settings),
        workflows=[ForwardWorkflow, ConnectedSyncWorkflow],
        activities=[connected.forward_to_connected, connected.resolve_connected_token,
                    connected.alert_connected_forward, connected.sync_connected_body],
        activity_executor=executor,
        max_concurrent_activities=8,
        max_concurrent_workflow_tasks=8,
        max_cached_workflows=200,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityMetrics()],
    )


async def resume_connected(client: Client, settings: Settings, sessionmaker) -> None:
    """At start: every active connected body has its schedule (a fresh Temporal server has none),
    and every forward not done has its workflow (started once per id: a running one is left be)."""
    with sessionmaker() as session:
        bodies = connected_bodies(session)
        keys = pending_forward_keys(session)
    for agency_id, active in bodies:
        await ensure_sync_schedule(client, settings, agency_id, active=active)
    await ForwardStarter(client, settings).start_forwards_async(keys)
    if bodies or keys:
        log.info("connected bodies resumed", bodies=len(bodies), forwards=len(keys))
def build_chat_workers(client: Client, settings: Settings, sessionmaker, executors: ExitStack,
                       chat_api: ChatApi, with_sender: bool) -> list[Worker]:
    """The chat doors' conversations (workflows/chat.py) and the activities they ask for, which
    work with the application's services (api/chat.py); `with_sender`: the chat channel's queue
    too, when the delivery workers do not poll it."""
    service = ChatService(build_services(settings, sessionmaker, client), chat_api)
    workers = [Worker(
        client,
        task_queue=conversation_task_queue(settings),
        workflows=[ChatWorkflow],
        activities=[service.open_case, service.status, service.reply_awaited],
        max_concurrent_workflow_tasks=8,
        max_cached_workflows=500,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityMetrics()],
    )]
    if with_sender:
        workers.append(Worker(
            client,
            task_queue=channel_task_queue(settings, "chat"),
            activities=[ChatSender(chat_api).say],
            activity_executor=executors.enter_context(ThreadPoolExecutor(
                max_workers=settings.notification_chat_concurrency, thread_name_prefix="send-chat")),
            max_concurrent_activities=settings.notification_chat_concurrency,
            max_task_queue_activities_per_second=settings.notification_chat_per_second,
            interceptors=[ActivityMetrics()],
        ))
    return workers


async def main(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_telemetry(settings, "sp4n-worker")
    if settings.auto_migrate:
        prepare_database(settings.database_url)
    sessionmaker = make_sessionmaker(make_engine(settings.database_url))
    # /metrics on WORKER_METRICS_PORT: ours, and the SDK's runtime metrics from this runtime.
    runtime = worker_runtime_and_endpoint(settings.worker_metrics_host, settings.worker_metrics_port)
    client = await connect(settings.temporal_address, settings.temporal_namespace, settings.payload_keys,
                           runtime=runtime, tracing=bool(settings.otel_exporter_otlp_endpoint))
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    if added:
        log.info("search attributes registered", added=added)
    if await ensure_open_data_schedule(client, settings.temporal_task_queue):
        log.info("open data schedule created")
    if await ensure_routing_schedule(client, settings.temporal_task_queue, settings.routing_retrain_seconds):
        log.info("routing retrain schedule created", every_seconds=settings.routing_retrain_seconds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    starter = DeliveryStarter(client, settings)
    deliveries = DeliveryActivities(sessionmaker, settings, starter)
    forwards = ForwardStarter(client, settings)
    connected = ConnectedActivities(sessionmaker, settings, client, deliveries=starter)
    with ExitStack() as executors:
        executor = executors.enter_context(ThreadPoolExecutor(max_workers=16))
        workers = [build_worker(
            client, settings.temporal_task_queue, sessionmaker, executor, settings.worker_max_cached_workflows,
            starter, forwards, deliveries if settings.notifications_enabled else None,
            CaseKeyring(settings.payload_keys), RetentionActivities(sessionmaker, storage_from_settings(settings), settings.secret_key),
        )]
        if await ensure_retention_schedule(client, settings.temporal_task_queue, settings.personal_data_retention_days,
                                           timedelta(hours=settings.retention_sweep_interval_hours)):
            log.info("personal-data retention scheduled", days=settings.personal_data_retention_days)
        workers.append(build_connected_worker(
            client, settings, connected,
            executors.enter_context(ThreadPoolExecutor(max_workers=8, thread_name_prefix="connected"))))
        await resume_connected(client, settings, sessionmaker)
        chat_api = ChatApi(settings)
        if settings.notifications_enabled:
            workers += build_delivery_workers(client, settings, deliveries, executors, ChatSender(chat_api))
        if settings.chat_enabled:
            workers += build_chat_workers(client, settings, sessionmaker, executors, chat_api,
                                          with_sender=not settings.notifications_enabled)
        log.info("worker started", task_queues=[w.task_queue for w in workers], address=settings.temporal_address,
                 metrics_port=settings.worker_metrics_port or None)
        # What start-up made (modules, settings, the workers) lives as long as the process: out of
        # the collector's generations, no collection walks it again (issue 25: the collector took
        # ~13 % of the worker's CPU per case).
        gc.collect()
        gc.freeze()
        async with AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
            await stop.wait()
        deliveries.close()
        chat_api.close()
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
