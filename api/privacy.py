"""A reporter's personal-data rights (UU 27/2022, docs/privacy.md): erasure by crypto-shredding,
holds, correction, withdrawal of consent, the data page. The routes are api/routes/privacy.py; the
API's and retention's erasure meet in `erase_case` (activities/privacy.py calls it for retention
through the same database function, db/privacy.py)."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.deps import Services
from api.intake import checked_contacts
from activities.notifications import EmailChannel, Outgoing, SmsChannel
from api.problems import Problem
from api.throttle import SubmissionRateLimiter
from db.models import Agency, Complaint, TimelineEventRow
from db.notification_models import NotificationDelivery
from db.portal_models import Attachment
from db.privacy import (active_holds, erase_personal_data, record_erasure_event, record_identity_views,
                        withdraw_contact_consent)
from db.privacy_models import CasePrivacy, IdentityView, PrivacyHold
from domain.enums import Action, Role
from domain.models import Actor, ComplaintDetails, Location, PersonalData, PersonalDataChange, Reporter
from domain.contacts import ContactRefused, normalise_email, normalise_phone
from domain.privacy import (CODE_MESSAGE, CODE_WINDOW_SECONDS, ERASE_UPDATE_ID, ERASURE_EFFECT, LEGAL_BASIS,
                            ErasedBy, HoldKind, code_matches, contact_access_token, contact_code)
from domain.tokens import keyed_digest, reporter_token
from domain.visibility import STAFF_ROLES, CaseView
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger("sp4n.privacy")



class HoldView(BaseModel):
    id: int
    kind: HoldKind
    reason: str
    set_at: datetime
    set_by: str | None = None  # administrators only
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None


class ErasureResult(BaseModel):
    tracking_id: str
    erased_at: datetime
    already_erased: bool = False


def holds_problem(holds: list[PrivacyHold]) -> Problem:
    reasons = "; ".join(f"{hold.kind}: {hold.reason}" for hold in holds)
    return Problem(409, f"Data pribadi laporan ini ditahan dan belum dapat dihapus ({reasons}).",
                   type_="urn:sp4n:privacy-hold", holds=[{"kind": h.kind, "reason": h.reason} for h in holds])


async def erase_case(svc: Services, tracking_id: str, *, by: ErasedBy, actor: Actor) -> ErasureResult:
    """Destroy the case's key and its personal data in the read model and the attachment store;
    then the workflow drops its sealed blob and records "data pribadi dihapus" (an open case goes
    on as an anonymous one), or, when the workflow has closed, the read model's timeline records
    it. Refused (409) while an administrator's hold is active."""

    def chat_of_reporter() -> str | None:
        with svc.sessions() as session:
            holds = active_holds(session, tracking_id)
            if holds:
                raise holds_problem(holds)
            return session.scalar(select(Complaint.reporter_chat).where(Complaint.tracking_id == tracking_id))

    def in_database():
        with svc.sessions.begin() as session:
            holds = active_holds(session, tracking_id)
            if holds:
                raise holds_problem(holds)
            return erase_personal_data(session, tracking_id, by=by.value)

    # A chat's conversations first: a failure here leaves the key, so asking again finds the chat.
    if chat := await run_in_threadpool(chat_of_reporter):
        await svc.temporal.forget_conversations(svc.settings.secret_key, chat)
    erasure = await run_in_threadpool(in_database)
    for key in erasure.storage_keys:
        await run_in_threadpool(_delete_file, svc, key)
    if await svc.temporal.is_running(tracking_id):
        try:
            await svc.temporal.update(tracking_id, ComplaintWorkflow.change_personal_data,
                                      PersonalDataChange(actor=actor, sealed=None), update_id=ERASE_UPDATE_ID)
            return ErasureResult(tracking_id=tracking_id, erased_at=erasure.erased_at, already_erased=erasure.already)
        except Problem as problem:
            if problem.status != 409:  # 409: it closed meanwhile (recorded below)
                raise
    await run_in_threadpool(_record_on_closed_case, svc, tracking_id, erasure.erased_at, actor.role.value)
    return ErasureResult(tracking_id=tracking_id, erased_at=erasure.erased_at, already_erased=erasure.already)


def _delete_file(svc: Services, key: str) -> None:
    try:
        svc.storage.delete(key)
    except OSError as error:  # the row is gone already; the operator sees what is left over
        log.warning("erased attachment not removed from storage", key=key, error=str(error))


def _record_on_closed_case(svc: Services, tracking_id: str, at: datetime, actor_role: str) -> None:
    with svc.sessions.begin() as session:
        recorded = session.scalar(select(TimelineEventRow.seq).where(
            TimelineEventRow.tracking_id == tracking_id,
            TimelineEventRow.action == Action.PERSONAL_DATA_ERASED.value))
        if recorded is None:
            record_erasure_event(session, tracking_id, at, actor_role)


# --- the access log ---------------------------------------------------------------------------------


def log_identity_views(session: Session, caller: Caller, views: list[CaseView], via: str) -> None:
    """Record each case whose reporter identity these views show to staff (committed here)."""
    if caller.role not in STAFF_ROLES:
        return
    shown = [view.tracking_id for view in views
             if view.reporter is not None and (view.reporter.name or view.reporter.email or view.reporter.phone)]
    if shown:
        record_identity_views(session, shown, role=caller.role.value, agency_id=caller.agency_id,
                              viewer_id=caller.token_id, viewer_name=caller.name, via=via)
        session.commit()


# --- holds ------------------------------------------------------------------------------------------


def set_hold(svc: Services, tracking_id: str, kind: HoldKind, reason: str, set_by: str,
             *, known_to_temporal: bool = False) -> HoldView:
    """`known_to_temporal`: the caller found the case's workflow (a case not yet projected)."""
    with svc.sessions.begin() as session:
        if not known_to_temporal and session.get(Complaint, tracking_id) is None \
                and session.get(CasePrivacy, tracking_id) is None:
            raise Problem(404, "Laporan tidak ditemukan")
        hold = PrivacyHold(tracking_id=tracking_id, kind=kind.value, reason=reason, set_by=set_by)
        session.add(hold)
        session.flush()
        return hold_view(hold, for_admin=True)


def lift_hold(svc: Services, tracking_id: str, hold_id: int, reason: str, lifted_by: str, now: datetime) -> HoldView:
    with svc.sessions.begin() as session:
        hold = session.get(PrivacyHold, hold_id)
        if hold is None or hold.tracking_id != tracking_id:
            raise Problem(404, "Penahanan tidak ditemukan")
        if hold.lifted_at is not None:
            raise Problem(409, "Penahanan ini sudah dicabut.", type_="urn:sp4n:conflict")
        hold.lifted_at, hold.lifted_by, hold.lift_reason = now, lifted_by, reason
        return hold_view(hold, for_admin=True)


def hold_view(hold: PrivacyHold, *, for_admin: bool) -> HoldView:
    view = HoldView(id=hold.id, kind=HoldKind(hold.kind), reason=hold.reason, set_at=hold.set_at,
                    lifted_at=hold.lifted_at, lift_reason=hold.lift_reason)
    if for_admin:
        view.set_by, view.lifted_by = hold.set_by, hold.lifted_by
    return view


# --- correction and withdrawal ----------------------------------------------------------------------


class Correction(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


async def correct_identity(svc: Services, tracking_id: str, correction: Correction, actor: Actor) -> PersonalData:
    """The reporter's name and contacts replaced (checked like every contact), sealed again under the
    case's key; the timeline records that they were corrected, never the old or new values."""
    state = await svc.temporal.state(tracking_id)  # opened: the identity as it is now
    current = state.details.reporter or Reporter()
    changes = correction.model_dump(exclude_unset=True)
    reporter = Reporter.model_validate(current.model_dump() | changes)
    details = checked_contacts(ComplaintDetails(title="-", description="-", reporter=reporter),
                               svc.settings.phone_country_codes)
    personal = PersonalData(reporter=details.reporter, location=state.details.location)
    keyring = svc.temporal.keyring
    assert keyring is not None

    def seal_it() -> str | None:
        with svc.sessions.begin() as session:
            privacy = session.get(CasePrivacy, tracking_id)
            if privacy is not None and privacy.erased_at is not None:
                raise Problem(409, "Data pribadi laporan ini sudah dihapus.", type_="urn:sp4n:conflict")
            return keyring.seal(session, tracking_id, personal)

    sealed = await run_in_threadpool(seal_it)
    await svc.temporal.update(tracking_id, ComplaintWorkflow.change_personal_data,
                              PersonalDataChange(actor=actor, sealed=sealed))
    return personal


async def withdraw_consent(svc: Services, tracking_id: str) -> datetime:
    def withdraw() -> datetime:
        with svc.sessions.begin() as session:
            return withdraw_contact_consent(session, tracking_id)

    return await run_in_threadpool(withdraw)


# --- the reporter's data page -----------------------------------------------------------------------


class FileEntry(BaseModel):
    id: str
    purpose: str
    content_type: str
    size_bytes: int
    sha256: str
    added_at: datetime
    metadata: str = "removed"  # images are stored with every metadata field (EXIF, GPS) removed


class SentEntry(BaseModel):
    at: datetime
    event: str
    channel: str
    address: str | None
    status: str


class ViewEntry(BaseModel):
    body: str  # the body (agency) or the national role that saw it; never a person's name
    at: datetime


class PersonalDataPage(BaseModel):
    tracking_id: str
    legal_basis: dict[str, str]
    erasure_effect: dict[str, str]
    reporter: Reporter | None = None
    location: Location | None = None
    files: list[FileEntry] = []
    notifications: list[SentEntry] = []
    identity_viewed_by: list[ViewEntry] = []
    holds: list[HoldView] = []
    contact_withdrawn_at: datetime | None = None
    erased_at: datetime | None = None
    retention_days: int | None = None


VIEWER_BODY = {Role.ADMIN.value: "Admin Nasional SP4N", Role.OBSERVER.value: "Ombudsman / pengawas"}


async def personal_data_page(svc: Services, tracking_id: str) -> PersonalDataPage:
    state = await svc.temporal.state(tracking_id) if await svc.temporal.is_running(tracking_id) else None

    def read() -> PersonalDataPage:
        with svc.sessions() as session:
            row = session.get(Complaint, tracking_id)
            if row is None and state is None:
                raise Problem(404, "Laporan tidak ditemukan")
            privacy = session.get(CasePrivacy, tracking_id)
            if state is not None:
                reporter, location = state.details.reporter, state.details.location
            else:
                reporter = Reporter(name=row.reporter_name, email=row.reporter_email, phone=row.reporter_phone,
                                    chat=row.reporter_chat) \
                    if row and (row.reporter_name or row.reporter_email or row.reporter_phone or row.reporter_chat) \
                    else None
                location = Location(lat=row.location_lat, lon=row.location_lon, address=row.location_address) \
                    if row and (row.location_address or row.location_lat is not None) else None
            files = session.scalars(select(Attachment).where(
                Attachment.tracking_id == tracking_id, Attachment.added_by_role == Role.REPORTER.value
            ).order_by(Attachment.created_at))
            sent = session.scalars(select(NotificationDelivery).where(
                NotificationDelivery.tracking_id == tracking_id, NotificationDelivery.recipient_ref == "reporter",
            ).order_by(NotificationDelivery.created_at))
            views = list(session.scalars(select(IdentityView).where(IdentityView.tracking_id == tracking_id)
                                         .order_by(IdentityView.at)))
            agency_ids = {v.viewer_agency_id for v in views if v.viewer_agency_id}
            agency_names = dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))).all())
            return PersonalDataPage(
                tracking_id=tracking_id,
                legal_basis=LEGAL_BASIS,
                erasure_effect=ERASURE_EFFECT,
                reporter=reporter,
                location=location,
                files=[FileEntry(id=f.id, purpose=f.purpose, content_type=f.content_type, size_bytes=f.size_bytes,
                                 sha256=f.sha256, added_at=f.created_at) for f in files],
                notifications=[SentEntry(at=d.sent_at or d.created_at, event=d.event, channel=d.channel,
                                         address=d.address, status=d.status) for d in sent],
                identity_viewed_by=[ViewEntry(body=_viewer_body(v, agency_names), at=v.at) for v in views],
                holds=[hold_view(h, for_admin=False) for h in active_holds(session, tracking_id)],
                contact_withdrawn_at=privacy.contact_withdrawn_at if privacy else None,
                erased_at=privacy.erased_at if privacy else None,
                retention_days=svc.settings.personal_data_retention_days or None,
            )

    return await run_in_threadpool(read)


def _viewer_body(view: IdentityView, agency_names: dict[str, Any]) -> str:
    if view.viewer_agency_id:
        return str(agency_names.get(view.viewer_agency_id, view.viewer_agency_id))
    return VIEWER_BODY.get(view.viewer_role, view.viewer_role)


# --- every case of one contact, after a one-time code -------------------------------------------------


def normalised_contact(contact: str, phone_country_codes: list[int]) -> str:
    """An e-mail address (lower case) or a phone number (E.164), as the cases store it (422 naming why not)."""
    try:
        return normalise_email(contact).lower() if "@" in contact else normalise_phone(contact, phone_country_codes)
    except ContactRefused as refused:
        raise Problem(422, f"contact: {refused}", errors=[{"loc": ["body", "contact"], "msg": str(refused),
                                                           "type": "value_error"}]) from refused


def cases_of_contact(session: Session, contact: str) -> list[str]:
    """The cases whose reporter gave this contact (an e-mail in any case: mail servers ignore it)."""
    matches = func.lower(Complaint.reporter_email) == contact.lower() if "@" in contact \
        else Complaint.reporter_phone == contact
    return list(session.scalars(select(Complaint.tracking_id).where(matches).order_by(Complaint.submitted_at)))


CODES_PER_MINUTE = 3  # per contact, and per client: a code is asked for, not guessed
GUESSES_PER_MINUTE = 5  # per contact: six digits against five guesses a minute, over 20 minutes


async def send_contact_code(svc: Services, contact: str, client_key: str, language: str) -> None:
    """Send the one-time code to the contact when some case has it; say nothing either way (no
    answer tells whether an address reported something)."""
    store = svc.rate_limiter.store
    limiter = SubmissionRateLimiter(store, CODES_PER_MINUTE, purpose="contact-code", what="kode", what_en="codes")
    await run_in_threadpool(limiter.check, client_key)
    await run_in_threadpool(limiter.check, f"contact:{keyed_digest(svc.settings.secret_key, 'contact', contact)}")

    def send() -> None:
        with svc.sessions() as session:
            if not cases_of_contact(session, contact):
                return
        code = contact_code(svc.settings.secret_key, contact, int(time.time() // CODE_WINDOW_SECONDS))
        text = CODE_MESSAGE.get(language, CODE_MESSAGE["id"]).format(code=code)
        email = "@" in contact
        out = Outgoing(id=secrets.token_hex(16), key=f"contact-code:{secrets.token_hex(8)}", tracking_id="",
                       event="contact_code", channel="email" if email else "sms", address=contact,
                       subject="Kode data pribadi" if email else None, body_text=text, body_html=None,
                       webhook_id=None, webhook_secret=None, attempts=1)
        try:
            (EmailChannel(svc.settings) if email else SmsChannel(svc.settings)).send(out)
        except Exception as error:  # noqa: BLE001 - the person asks again; the log names no address
            log.warning("contact code not sent", channel=out.channel, error=type(error).__name__)

    await run_in_threadpool(send)


async def grant_contact_access(svc: Services, contact: str, code: str) -> str:
    store = svc.rate_limiter.store
    guesses = SubmissionRateLimiter(store, GUESSES_PER_MINUTE, purpose="contact-code-guess", what="percobaan kode",
                                    what_en="code attempts")
    await run_in_threadpool(guesses.check, keyed_digest(svc.settings.secret_key, "contact", contact))
    now = time.time()
    if not code_matches(svc.settings.secret_key, contact, code, now):
        raise Problem(403, "Kode salah atau sudah kedaluwarsa.", type_="urn:sp4n:bad-code")
    return contact_access_token(svc.settings.secret_key, contact, now)


class ContactCase(BaseModel):
    tracking_id: str
    reporter_token: str  # the case's own private-link token: correction and erasure act per case
    data: PersonalDataPage


async def contact_cases(svc: Services, contact: str) -> list[ContactCase]:
    def ids() -> list[str]:
        with svc.sessions() as session:
            return cases_of_contact(session, contact)

    return [ContactCase(tracking_id=tracking_id, reporter_token=reporter_token(svc.settings.secret_keyring, tracking_id),
                        data=await personal_data_page(svc, tracking_id))
            for tracking_id in await run_in_threadpool(ids)]
