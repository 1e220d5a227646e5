"""The API's door to Temporal: start cases, read them, send actions; failures become problems."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (TypedSearchAttributes, SearchAttributePair, WorkflowIDConflictPolicy,
                               WorkflowIDReusePolicy)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from sqlalchemy.orm import Session, sessionmaker

from activities.chat import forget_conversations
from api.problems import Problem
from config import Settings
from db.privacy_models import CasePrivacy
from domain.enums import Action, Role
from domain.lifecycle import ERASED_NOTE
from domain.models import Actor, CalendarAmendment, CaseState, ComplaintInput, TimelineEvent
from workflows import NEXT_DEADLINE_ATTRIBUTE, OVERDUE_ATTRIBUTE, STATUS_ATTRIBUTE
from api.reconcile import ReconcileReport, reconcile
from db.privacy import CaseKeyring
from workflows.client import amend_open_cases, connect
from workflows.codec import PayloadKeys, PayloadRefused
from workflows.complaint import ComplaintWorkflow
from workflows.delivery import DeliveryPlan
from workflows.delivery_client import start_delivery

T = TypeVar("T")
REJECTION_STATUS = {"conflict": 409, "forbidden": 403, "invalid": 422}


class TemporalGateway:
    def __init__(
        self, address: str, namespace: str, task_queue: str, timeout_seconds: float, client: Client | None = None,
        keys: PayloadKeys | None = None, sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self._address, self._namespace, self.task_queue = address, namespace, task_queue
        self._keys = keys
        # With both, a case's state comes back with its sealed personal data opened (db/privacy.py).
        self._sessions = sessions
        self.keyring = CaseKeyring(keys) if keys else None
        self._timeout = timeout_seconds
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """Connect lazily, so the API starts (and says 503) while Temporal is down."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        self._client = await asyncio.wait_for(connect(self._address, self._namespace, self._keys), self._timeout)
                    except (asyncio.TimeoutError, RuntimeError, RPCError, OSError) as error:
                        raise unavailable(f"Temporal di {self._address} tidak dapat dihubungi") from error
        return self._client

    async def _call(self, operation: Callable[[Client], Awaitable[T]]) -> T:
        client = await self.client()
        try:
            return await asyncio.wait_for(operation(client), self._timeout)
        except (asyncio.TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            # For an action: the server may still deliver it once the worker is back (GET shows it).
            raise unavailable("Temporal atau worker tidak menjawab tepat waktu") from error
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type in REJECTION_STATUS:
                raise Problem(REJECTION_STATUS[cause.type], str(cause.message), type_=f"urn:sp4n:{cause.type}") from error
            raise
        except WorkflowQueryFailedError as error:
            # The worker could not run the case's query (e.g. it lacks the key of the case's
            # payloads): the case is intact; it answers again once the worker can.
            raise unavailable("Worker tidak dapat membaca laporan ini saat ini") from error
        except PayloadRefused as error:
            # Nothing is lost: the case is intact in Temporal, only unreadable with the keys held here.
            raise Problem(
                503,
                "Data laporan di Temporal tidak dapat dibuka dengan kunci yang dipegang API "
                "(TEMPORAL_ENCRYPTION_KEYS tidak memuat kunci yang dipakai laporan ini).",
                headers={"Retry-After": "30"},
            ) from error
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise Problem(404, "Laporan tidak ditemukan") from error
            if error.status == RPCStatusCode.FAILED_PRECONDITION and "workflow task in failed state" in str(error).lower():
                # A query while the case's last workflow task failed (a worker lacking its key, a
                # bug): the case is intact and answers again once a worker can run it.
                raise unavailable("Worker tidak dapat membaca laporan ini saat ini") from error
            if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise unavailable("Temporal tidak tersedia") from error
            if error.status == RPCStatusCode.UNIMPLEMENTED:
                # A server without the operation (schedules on the time-skipping test server): a
                # clear 503, never a 500; the same request works against a full server.
                raise unavailable("Server Temporal ini tidak mendukung operasi ini") from error
            raise

    async def call(self, operation: Callable[[Client], Awaitable[T]]) -> T:
        """Any other operation on the client, its failures answered as problems (503 when down)."""
        return await self._call(operation)

    async def start_case(self, case: ComplaintInput, opening: CaseState) -> bool:
        """Start the case's workflow; False when its id already ran and closed (nothing started).

        A case id is started once, ever (ARCHITECTURE.md §5, "the record is append-only"):
        REJECT_DUPLICATE refuses a new run under the id of a closed one (Temporal's default
        would start one and revive the case); USE_EXISTING lets concurrent retries with one
        Idempotency-Key meet the running workflow instead of failing.
        """
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(STATUS_ATTRIBUTE, opening.status.value),
                SearchAttributePair(OVERDUE_ATTRIBUTE, False),
                SearchAttributePair(NEXT_DEADLINE_ATTRIBUTE, opening.next_deadline),
            ]
        )

        async def start(client: Client) -> bool:
            try:
                await client.start_workflow(
                    ComplaintWorkflow.run,
                    case,
                    id=case.tracking_id,
                    task_queue=self.task_queue,
                    search_attributes=attributes,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except WorkflowAlreadyStartedError:
                return False
            return True

        return await self._call(start)

    async def signal_with_start(self, run: Any, arg: Any, *, workflow_id: str, task_queue: str, signal: str,
                                signal_arg: Any) -> None:
        """Signal a workflow, starting it first when it is not running (a chat's conversation):
        answered by the server alone, never waiting for a worker."""
        await self._call(lambda client: client.start_workflow(
            run, arg, id=workflow_id, task_queue=task_queue, start_signal=signal, start_signal_args=[signal_arg]))

    async def start_delivery(self, settings: Settings, plan: DeliveryPlan, workflow_id: str) -> bool:
        """Start a DeliveryWorkflow (an administrator's resend); False when that id already ran."""
        return await self._call(lambda client: start_delivery(client, settings, plan, workflow_id))

    async def forget_conversations(self, secret_key: str, address: str) -> int:
        """Delete a chat's conversation histories (activities/chat.py forget_conversations)."""
        return await self._call(lambda client: forget_conversations(client, secret_key, address))

    async def state(self, tracking_id: str) -> CaseState:
        state = await self._call(lambda client: client.get_workflow_handle(tracking_id).query(ComplaintWorkflow.state))
        return await self.opened(state)

    async def opened(self, state: CaseState) -> CaseState:
        """The state with the reporter's identity and place opened from the sealed blob (nothing
        once erased): what every reader of a case's state (views, Open311, SMS) expects. A case
        erased after its workflow closed shows the erasure its workflow could not record."""
        details = state.details
        if self.keyring is None or self._sessions is None or (
                details.sealed is None and details.reporter is None and details.location is None):
            return state
        keyring, sessions = self.keyring, self._sessions

        def open_personal_data() -> CaseState:
            with sessions() as session:
                personal = keyring.open(session, state.tracking_id, details)
                privacy = session.get(CasePrivacy, state.tracking_id)
            if privacy is not None and privacy.erased_at is not None:
                return erased_state(state, privacy.erased_at, privacy.erased_by)
            opened = details.model_copy(update={"reporter": personal.reporter, "location": personal.location})
            return state.model_copy(update={"details": opened})

        return await run_in_threadpool(open_personal_data)

    async def is_running(self, tracking_id: str) -> bool:
        """Whether the case's workflow still runs (False when it closed or Temporal no longer has it)."""
        async def describe(client: Client) -> bool:
            # The raw call: the SDK's describe() also decodes search attributes, which fails on an
            # unset datetime attribute as the time-skipping test server returns it.
            request = DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=tracking_id))
            try:
                description = await client.workflow_service.describe_workflow_execution(request)
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise
            return description.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

        return await self._call(describe)

    async def update(self, tracking_id: str, update: Any, data: Any, *, update_id: str | None = None) -> CaseState:
        """Send an action to a case the caller has just read (so 'not found' means it has closed).

        `update_id` (from the caller's Idempotency-Key, see `action_update_id`) makes a retry attach
        to the same Temporal update: the server runs an update id once per workflow run and answers
        a repeat with the first outcome. When the answer does not come in time the outcome is
        unknown (Temporal may have admitted the update and apply it once a worker is back): 503,
        saying so and how to retry.
        """
        try:
            state = await self._call(
                lambda client: client.get_workflow_handle(tracking_id).execute_update(
                    update, data, id=update_id, result_type=CaseState
                )
            )
        except RPCError as error:
            if error.status != RPCStatusCode.FAILED_PRECONDITION:
                raise
            raise closed_case() from error
        except Problem as problem:
            if problem.status == 503:
                raise outcome_unknown(keyed=update_id is not None) from problem
            if problem.status != 404:
                raise
            raise closed_case() from problem
        return await self.opened(state)

    async def amend_open_cases(self, amendment: CalendarAmendment) -> int:
        """Broadcast a calendar amendment (no overall timeout: it visits every open case)."""
        client = await self.client()
        with listing_errors():
            return await amend_open_cases(client, amendment)

    async def reconcile(self, sessions: sessionmaker[Session], *, repair: bool) -> ReconcileReport:
        """Every open case's workflow against the read model (api/reconcile.py; no overall timeout)."""
        client = await self.client()
        with listing_errors():
            return await reconcile(client, sessions, repair=repair, query_timeout=self._timeout,
                                   keyring=CaseKeyring(self._keys) if self._keys else None)

    async def healthy(self) -> bool:
        try:
            await self._call(lambda client: client.service_client.check_health(timeout=timedelta(seconds=self._timeout)))
            return True
        except Problem:
            return False
        except Exception:
            return False


@contextmanager
def listing_errors() -> Iterator[None]:
    """What visiting every open case may meet: a server that cannot list workflows, or none."""
    try:
        yield
    except RPCError as error:
        if error.status == RPCStatusCode.UNIMPLEMENTED:
            raise unavailable("Server Temporal ini tidak dapat mendaftar workflow (visibility)") from error
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise unavailable("Temporal tidak tersedia") from error
        raise


ERASED_BY_ROLE = {"reporter": Role.REPORTER, "admin": Role.ADMIN}


def erased_state(state: CaseState, erased_at: datetime, erased_by: str | None) -> CaseState:
    """A state without personal data; its timeline ends with the erasure (added when the workflow
    closed before it could record it, db/privacy.py record_erasure_event)."""
    details = state.details.model_copy(update={"reporter": None, "location": None, "sealed": None})
    timeline = state.timeline
    if not any(event.action == Action.PERSONAL_DATA_ERASED for event in timeline):
        timeline = [*timeline, TimelineEvent(
            seq=state.seq + 1, at=erased_at, action=Action.PERSONAL_DATA_ERASED,
            actor=Actor(role=ERASED_BY_ROLE.get(erased_by or "", Role.SYSTEM)), status_from=state.status,
            status_to=state.status, note=ERASED_NOTE,
            agency_id=state.agency.id if state.agency else None, unit_id=state.unit_id,
        )]
    return state.model_copy(update={"details": details, "timeline": timeline})


def closed_case() -> Problem:
    return Problem(409, "Laporan sudah ditutup; tidak ada tindakan lagi yang dapat dilakukan.",
                   type_="urn:sp4n:conflict")


def action_update_id(scope: str, action: str, key: str, data: Any) -> str:
    """The Temporal update id of an action sent with an Idempotency-Key. Scoped to the caller (a
    token's id, the reporter of one case): another caller's same key is another update and can never
    fetch this one's result; the action and its input are part of it, so reusing a key for a
    different request is a different action, not the first one's answer."""
    payload = data.model_dump_json() if hasattr(data, "model_dump_json") else repr(data)
    digest = hashlib.sha256("\0".join((scope, action, key, payload)).encode()).hexdigest()
    return f"action-{digest[:40]}"


def outcome_unknown(*, keyed: bool) -> Problem:
    if keyed:
        detail = ("Temporal atau worker tidak menjawab tepat waktu: hasil tindakan belum diketahui (mungkin "
                  "tetap diterapkan). Ulangi permintaan yang sama dengan Idempotency-Key yang sama: tindakan "
                  "tidak akan diterapkan dua kali dan Anda mendapat hasilnya.")
    else:
        detail = ("Temporal atau worker tidak menjawab tepat waktu: tindakan mungkin tetap diterapkan. Periksa "
                  "laporan (GET) sebelum mengulang, atau kirim dengan header Idempotency-Key agar aman diulang.")
    return Problem(503, detail, type_="urn:sp4n:outcome-unknown", headers={"Retry-After": "5"},
                   outcome="unknown", idempotent_retry=keyed)


def unavailable(detail: str) -> Problem:
    return Problem(503, detail, headers={"Retry-After": "5"})
