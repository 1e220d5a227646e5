"""The case service: a case as a caller may see it, and each lifecycle action sent to its workflow.

Shared by the JSON routes (api/routes/complaints.py) and the portal's forms, so both doors check
the same things and answer the same way; HTTP details (headers, status codes) stay in the routes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.deps import Services
from api.privacy import log_identity_views
from api.problems import Problem
from api.read_model import get_case_row, view_of_row, without_confidential_originals
from api.schemas import (
    DispositionRequest,
    FollowUpRequest,
    RatingRequest,
    ReplyRequest,
    RerouteRequest,
    SupplementRequest,
    VerificationRequest,
)
from api.similar import may_be_original
from api.temporal import action_update_id
from db.boundaries import pin_flagged
from db.directory import get_agency, get_agency_ref
from db.models import Complaint
from domain.calendar import missing_cuti_bersama_warning, years_without_cuti_bersama
from domain.enums import Action, Role
from domain.models import (
    Actor,
    DispositionInput,
    FollowUpInput,
    PinConfirmation,
    RatingInput,
    SatisfiedInput,
    ReplyInput,
    RerouteInput,
    SupplementInput,
    VerificationInput,
)
from domain.visibility import STAFF_ROLES, CaseView, redact, view_of_state
from workflows.complaint import ComplaintWorkflow


def with_pin_flag(session: Session, view: CaseView) -> CaseView:
    """The workflow's view with the read model's pin flag (issue 22): judged again here while the
    case is not yet recorded, so that an outside pin is never public, not even for a moment."""
    try:
        row = session.execute(select(Complaint.pin_outside_region, Complaint.pin_confirmed_at,
                                     Complaint.pin_confirmed_by).where(Complaint.tracking_id == view.tracking_id)).first()
    except DBAPIError:
        # The read model is down: the case still answers from its workflow, with the pin judged
        # here (a verifier's confirmation shows again once the read model is back).
        session.rollback()
        row = None
    if row is not None:
        flagged, confirmed_at, confirmed_by = row
    else:
        location = view.location
        flagged = location is not None and pin_flagged(view.region_code, location.lat, location.lon)
        confirmed_at = confirmed_by = None
    return view.model_copy(update={"pin_outside_region": flagged, "pin_confirmed_at": confirmed_at,
                                   "pin_confirmed_by": confirmed_by})


async def current_view(tracking_id: str, caller: Caller, svc: Services, session: Session, *, for_action: bool = False) -> CaseView:
    """The case as this caller may see it: from the workflow, or the read model once Temporal no
    longer keeps a closed case. Before an action (`for_action`), a workflow that does not answer in
    time (a stopped or busy worker) is checked against the read model too: the action then goes to
    Temporal, which applies it once a worker is back (its validator decides, not this check)."""
    try:
        view = view_of_state(await svc.temporal.state(tracking_id))
        view = await run_in_threadpool(with_pin_flag, session, view)
    except Problem as problem:
        fallback = problem.status == 404 or (for_action and problem.status == 503)
        row = await run_in_threadpool(get_case_row, session, tracking_id) if fallback else None
        if row is None:
            raise
        view = view_of_row(row, with_history=True)  # Temporal no longer keeps this closed case
    visible = redact(view, caller)
    if visible is None:
        raise Problem(404, "Laporan tidak ditemukan")
    if caller.role not in STAFF_ROLES and visible.duplicate_of:
        [visible] = await run_in_threadpool(without_confidential_originals, session, [visible])
    await run_in_threadpool(log_identity_views, session, caller, [visible], "case")
    return visible


async def deadline_calendar_warnings(view: CaseView, svc: Services) -> list[str]:
    """For administrators: a deadline of this case falls in a year without a cuti bersama decree."""
    if view.deadlines is None:
        return []
    years = years_without_cuti_bersama(view.deadlines.model_dump().values(), await svc.amendments())
    return [missing_cuti_bersama_warning(year) for year in years]


async def act(
    tracking_id: str, caller: Caller, svc: Services, session: Session, update: Any, make_input: Callable[[Actor], Any],
    idempotency_key: str | None = None,
) -> CaseView:
    """Check the case exists for the caller, send the action, answer with the case as they see it."""
    if caller.role is None:
        raise Problem(401, "Diperlukan token untuk tindakan ini.", headers={"WWW-Authenticate": "Bearer"})
    await current_view(tracking_id, caller, svc, session, for_action=True)
    actor = Actor(
        role=caller.role,
        agency_id=caller.agency_id,
        name=caller.name if caller.role in STAFF_ROLES else None,  # never the reporter's identity
    )
    # make_input may look up what the body names (a unit, an agency) after visibility: database
    # work, so on the thread pool like every read-model call of these async routes.
    data = await run_in_threadpool(make_input, actor)
    # Give the connection back before waiting on Temporal (up to the dependency timeout): held
    # across the await, concurrent actions exhausted the pool while the worker was down, and the
    # next checkout then blocked the event loop for the pool timeout (the worker-crash test hung).
    await run_in_threadpool(session.close)
    update_id = None
    if idempotency_key:
        scope = caller.token_id or caller.client_key  # a token's id; a reporter: their case
        update_id = action_update_id(f"{tracking_id}:{scope}", update.__name__, idempotency_key, data)
    # A closed case: 409; no answer in time: 503 "outcome unknown" (the gateway)
    state = await svc.temporal.update(tracking_id, update, data, update_id=update_id)
    visible = redact(await run_in_threadpool(with_pin_flag, session, view_of_state(state)), caller)
    if visible is None:  # e.g. an agency that just re-routed the case away
        return CaseView(tracking_id=tracking_id, status=state.status.value)
    return visible


async def verify(tracking_id: str, body: VerificationRequest, caller: Caller, svc: Services, session: Session,
                 idempotency_key: str | None = None) -> CaseView:
    if body.decision == "accept" and not body.agency_id:
        raise Problem(422, "agency_id wajib untuk decision=accept")
    if body.decision == "reject" and body.reason == "duplicate" and not body.duplicate_of:
        raise Problem(422, "duplicate_of wajib untuk reason=duplicate: laporan asalnya.")

    def make_input(actor: Actor) -> VerificationInput:
        agency = None
        if body.decision == "accept":
            agency = get_agency_ref(session, body.agency_id)
            if agency is None:
                raise Problem(422, f"Instansi {body.agency_id} tidak ada di direktori atau tidak aktif.")
        if body.decision == "reject" and body.reason == "duplicate" and body.duplicate_of:
            refused = may_be_original(session, tracking_id, body.duplicate_of)
            if refused:
                raise Problem(422, refused)
        return VerificationInput(
            actor=actor, decision=Action(body.decision), agency=agency, reason=body.reason,
            duplicate_of=body.duplicate_of, note=body.note,
        )

    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.verify, make_input, idempotency_key)


async def supplement(tracking_id: str, body: SupplementRequest, caller: Caller, svc: Services, session: Session,
                     idempotency_key: str | None = None) -> CaseView:
    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.supplement,
                     lambda actor: SupplementInput(actor=actor, text=body.text), idempotency_key)


async def dispose(tracking_id: str, body: DispositionRequest, caller: Caller, svc: Services, session: Session,
                  idempotency_key: str | None = None) -> CaseView:
    def make_input(actor: Actor) -> DispositionInput:
        if caller.role == Role.AGENCY_ADMIN and caller.agency_id:
            agency = get_agency(session, caller.agency_id)
            if agency is None or body.unit_id not in {unit.id for unit in agency.units if unit.active}:
                raise Problem(422, f"Unit {body.unit_id} bukan unit instansi {caller.agency_id}.")
        return DispositionInput(actor=actor, unit_id=body.unit_id, note=body.note)

    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.dispose, make_input, idempotency_key)


async def follow_up(tracking_id: str, body: FollowUpRequest, caller: Caller, svc: Services, session: Session,
                    idempotency_key: str | None = None) -> CaseView:
    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.follow_up,
                     lambda actor: FollowUpInput(actor=actor, message=body.message), idempotency_key)


async def reroute(tracking_id: str, body: RerouteRequest, caller: Caller, svc: Services, session: Session,
                  idempotency_key: str | None = None) -> CaseView:
    def make_input(actor: Actor) -> RerouteInput:
        # The suggestion is shown to the verifier by name: it must be a body they can forward to.
        suggested = body.suggested_agency_id
        if suggested is not None:
            if get_agency_ref(session, suggested) is None:
                raise Problem(422, f"Usulan instansi {suggested} tidak ada di direktori atau tidak aktif: "
                                   "kirim kode instansi (mis. pemprov-62) atau kosongkan usulan.")
            if suggested == caller.agency_id:
                raise Problem(422, "Usulan instansi tidak boleh instansi Anda sendiri.")
        return RerouteInput(actor=actor, reason=body.reason, suggested_agency_id=suggested)

    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.reroute, make_input, idempotency_key)


async def reply(tracking_id: str, body: ReplyRequest, caller: Caller, svc: Services, session: Session,
                idempotency_key: str | None = None) -> CaseView:
    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.reply,
                     lambda actor: ReplyInput(actor=actor, message=body.message), idempotency_key)


async def satisfied(tracking_id: str, caller: Caller, svc: Services, session: Session,
                    idempotency_key: str | None = None) -> CaseView:
    """The reporter's "Saya puas": completed at once, the rating open."""
    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.satisfied,
                     lambda actor: SatisfiedInput(actor=actor), idempotency_key)


async def rate(tracking_id: str, body: RatingRequest, caller: Caller, svc: Services, session: Session,
               idempotency_key: str | None = None) -> CaseView:
    return await act(tracking_id, caller, svc, session, ComplaintWorkflow.rate,
                     lambda actor: RatingInput(actor=actor, score=body.score, comment=body.comment), idempotency_key)


def _pin_flag(session: Session, tracking_id: str) -> bool:
    flagged = session.scalar(select(Complaint.pin_outside_region).where(Complaint.tracking_id == tracking_id))
    if flagged is None:
        raise Problem(404, "Laporan tidak ditemukan")
    return flagged


def _clear_pin_flag(session: Session, tracking_id: str, caller: Caller) -> None:
    row = session.get(Complaint, tracking_id)
    row.pin_outside_region = False
    row.pin_confirmed_at = datetime.now(timezone.utc)
    row.pin_confirmed_by = caller.name or "admin"
    session.commit()


async def confirm_pin(tracking_id: str, caller: Caller, svc: Services, session: Session) -> bool:
    """A verifier (administrator) confirms a pin outside the case's region (issue 22): the case's
    timeline records it (append-only, through the workflow), then the read model's flag is cleared
    and who confirmed it, when, is kept for the case page. False when there was no flag to clear."""
    if caller.role is None:
        raise Problem(401, "Diperlukan token untuk tindakan ini.", headers={"WWW-Authenticate": "Bearer"})
    if caller.role != Role.ADMIN:
        raise Problem(403, "Hanya verifikator (admin nasional) yang dapat mengonfirmasi titik lokasi.")
    if not await run_in_threadpool(_pin_flag, session, tracking_id):
        return False
    await act(tracking_id, caller, svc, session, ComplaintWorkflow.confirm_pin, lambda actor: PinConfirmation(actor=actor))
    await run_in_threadpool(_clear_pin_flag, session, tracking_id, caller)
    return True
