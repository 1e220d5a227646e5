"""Retention (workflows/retention.py): erase the personal data of closed cases whose period has
passed, as an erasure on request does (db/privacy.py erase_personal_data), unless held."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.chat import forget_conversations
from db.models import Complaint, TimelineEventRow
from db.privacy import erase_personal_data, record_erasure_event
from db.privacy_models import CasePrivacy, PrivacyHold
from domain.enums import Action, Status
from domain.models import SYSTEM, PersonalDataChange
from domain.privacy import ERASE_UPDATE_ID, ErasedBy
from workflows.complaint import ComplaintWorkflow
from workflows.retention import RetentionRequest, RetentionResult

log = structlog.get_logger("sp4n.retention")

CLOSED = (Status.COMPLETED.value, Status.ARCHIVED.value)
BATCH = 500


def due_for_erasure(session: Session, cutoff: datetime, limit: int = BATCH) -> tuple[list[str], list[str]]:
    """(closed cases quiet since before `cutoff` that still hold personal data, those of them on hold)."""
    last_event = select(func.max(TimelineEventRow.at)).where(
        TimelineEventRow.tracking_id == Complaint.tracking_id).scalar_subquery()
    personal = or_(
        Complaint.reporter_name.is_not(None), Complaint.reporter_email.is_not(None),
        Complaint.reporter_phone.is_not(None), Complaint.reporter_chat.is_not(None),
        Complaint.location_address.is_not(None),
        Complaint.location_lat.is_not(None),
        exists().where(CasePrivacy.tracking_id == Complaint.tracking_id, CasePrivacy.wrapped_key.is_not(None)),
    )
    not_erased = ~exists().where(CasePrivacy.tracking_id == Complaint.tracking_id, CasePrivacy.erased_at.is_not(None))
    due = list(session.scalars(
        select(Complaint.tracking_id).where(Complaint.status.in_(CLOSED), personal, not_erased, last_event < cutoff)
        .order_by(Complaint.submitted_at).limit(limit)))
    held = set(session.scalars(select(PrivacyHold.tracking_id).where(
        and_(PrivacyHold.tracking_id.in_(due), PrivacyHold.lifted_at.is_(None)))))
    return [t for t in due if t not in held], [t for t in due if t in held]


class RetentionActivities:
    def __init__(self, sessions: sessionmaker[Session], storage: Any, secret_key: str | None = None) -> None:
        # secret_key: to find a chat's conversations (activities/chat.py); None: chats' are kept.
        self.sessions, self.storage, self.secret_key = sessions, storage, secret_key

    @activity.defn(name="erase_expired_personal_data")
    async def erase_expired_personal_data(self, request: RetentionRequest) -> RetentionResult:
        as_of = datetime.fromisoformat(request.as_of) if request.as_of else datetime.now().astimezone()
        cutoff = as_of - timedelta(days=request.retention_days)
        due, held = await asyncio.to_thread(self._due, cutoff)
        for tracking_id in due:
            await self._erase(tracking_id, as_of)
        if due or held:
            log.info("retention: personal data erased", erased=len(due), held=len(held))
        return RetentionResult(erased=due, held=held)

    def _due(self, cutoff: datetime) -> tuple[list[str], list[str]]:
        with self.sessions() as session:
            return due_for_erasure(session, cutoff)

    async def _erase(self, tracking_id: str, as_of: datetime) -> None:
        def chat_of_reporter() -> str | None:
            with self.sessions() as session:
                return session.scalar(select(Complaint.reporter_chat).where(Complaint.tracking_id == tracking_id))

        # A chat's conversations first: a failure retries the activity while the chat is still known.
        if self.secret_key and (chat := await asyncio.to_thread(chat_of_reporter)):
            await forget_conversations(activity.client(), self.secret_key, chat)

        def in_database():
            with self.sessions.begin() as session:
                return erase_personal_data(session, tracking_id, by=ErasedBy.RETENTION.value, now=as_of)

        erasure = await asyncio.to_thread(in_database)
        for key in erasure.storage_keys:
            try:
                await asyncio.to_thread(self.storage.delete, key)
            except OSError as error:
                log.warning("erased attachment not removed from storage", key=key, error=str(error))
        try:  # a completed case whose reopen window still runs: its workflow records the erasure
            await activity.client().get_workflow_handle(tracking_id).execute_update(
                ComplaintWorkflow.change_personal_data, PersonalDataChange(actor=SYSTEM), id=ERASE_UPDATE_ID)
            return
        except (RPCError, WorkflowUpdateFailedError):
            pass  # closed (or gone): the read model's timeline records it

        def record() -> None:
            with self.sessions.begin() as session:
                recorded = session.scalar(select(TimelineEventRow.seq).where(
                    TimelineEventRow.tracking_id == tracking_id,
                    TimelineEventRow.action == Action.PERSONAL_DATA_ERASED.value))
                if recorded is None:
                    record_erasure_event(session, tracking_id, erasure.erased_at, "system")

        await asyncio.to_thread(record)
