"""A case's personal data in the database: its key (domain/sealing.py), erasure, consent, holds.

One place for what erasure removes from the read model, so the API (a reporter's or an
administrator's request) and retention (activities/privacy.py) erase the same things.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from db.models import Complaint, TimelineEventRow, utc_now
from db.notification_models import DeliveryStatus, NotificationDelivery, NotificationPreference
from db.portal_models import Attachment, CaseFollower
from db.privacy_models import CasePrivacy, IdentityView, PrivacyHold
from db.upsert import dialect_insert
from domain.enums import Action, Role
from domain.lifecycle import ERASED_NOTE
from domain.models import ComplaintDetails, PersonalData
from domain.payload_keys import PayloadKeys
from domain.sealing import SealBroken, new_case_key, open_sealed, seal, unwrap_case_key, wrap_case_key

REPORTER_FILE_ROLES = (Role.REPORTER.value,)
WITHDRAWN_CONSENT = "the reporter withdrew consent to be contacted"


class CaseKeyring:
    """Each case's key, wrapped by the service's payload keys and kept in `case_privacy`."""

    def __init__(self, keys: PayloadKeys) -> None:
        self.keys = keys

    def case_key(self, session: Session, tracking_id: str, *, create: bool = False, lock: bool = False) -> bytes | None:
        """The case's key; None once erased (or, without `create`, when it never had one)."""
        row = session.get(CasePrivacy, tracking_id, with_for_update=lock or None)
        if row is None and create:
            key_id, wrapped = wrap_case_key(self.keys, tracking_id, new_case_key())
            # A concurrent retry of the same submission (one Idempotency-Key) may insert first.
            session.execute(dialect_insert(session, CasePrivacy.__table__).on_conflict_do_nothing(), [{
                "tracking_id": tracking_id, "wrap_key_id": key_id, "wrapped_key": wrapped, "created_at": utc_now(),
            }])
            row = session.get(CasePrivacy, tracking_id, populate_existing=True)
        if row is None or row.wrapped_key is None or row.wrap_key_id is None:
            return None
        return unwrap_case_key(self.keys, tracking_id, row.wrap_key_id, row.wrapped_key)

    def sealed_details(self, session: Session, tracking_id: str, details: ComplaintDetails) -> ComplaintDetails:
        """The details as workflow payloads carry them: identity and place sealed under the case's
        key (created now), none of them in the clear. Commits the key."""
        personal = PersonalData(reporter=details.reporter, location=details.location)
        if personal.empty:
            return details
        key = self.case_key(session, tracking_id, create=True)
        session.commit()
        sealed = seal(key, tracking_id, personal) if key is not None else None
        return details.model_copy(update={"reporter": None, "location": None, "sealed": sealed})

    def seal(self, session: Session, tracking_id: str, personal: PersonalData) -> str | None:
        """A correction's newly sealed identity (None when the case's key is erased)."""
        key = self.case_key(session, tracking_id, create=True)
        return seal(key, tracking_id, personal) if key is not None else None

    def open(self, session: Session, tracking_id: str, details: ComplaintDetails, *, lock: bool = False) -> PersonalData:
        """What the details hold of the reporter: the sealed blob opened (nothing once the key is
        destroyed), or the clear fields of a case opened before sealing."""
        if details.sealed is None:
            return PersonalData(reporter=details.reporter, location=details.location)
        key = self.case_key(session, tracking_id, lock=lock)
        if key is None:
            return PersonalData()
        try:
            return open_sealed(key, tracking_id, details.sealed)
        except SealBroken:
            return PersonalData()


# --- holds ------------------------------------------------------------------------------------------


def active_holds(session: Session, tracking_id: str) -> list[PrivacyHold]:
    return list(session.scalars(select(PrivacyHold).where(
        PrivacyHold.tracking_id == tracking_id, PrivacyHold.lifted_at.is_(None)).order_by(PrivacyHold.id)))


# --- erasure ----------------------------------------------------------------------------------------


@dataclass
class Erasure:
    tracking_id: str
    erased_at: datetime
    storage_keys: list[str]  # the reporter's files: the caller removes them from the store
    already: bool = False


def erase_personal_data(session: Session, tracking_id: str, *, by: str, now: datetime | None = None) -> Erasure:
    """Destroy the case's key and remove its reporter's personal data from the read model: the
    identity and place columns, their files' rows, the addresses of the deliveries sent to them,
    their phone preference, and their following of other cases. Non-personal facts stay. In the
    caller's transaction; the key row is locked first, so a projection writing at the same time
    (activities/records.py, which locks it too) either finishes before or finds it destroyed."""
    now = now or utc_now()
    session.execute(dialect_insert(session, CasePrivacy.__table__).on_conflict_do_nothing(), [{
        "tracking_id": tracking_id, "created_at": now,
    }])
    privacy = session.get(CasePrivacy, tracking_id, with_for_update=True, populate_existing=True)
    assert privacy is not None
    if privacy.erased_at is not None:
        return Erasure(tracking_id, privacy.erased_at, [], already=True)
    privacy.wrapped_key = privacy.wrap_key_id = None
    privacy.erased_at, privacy.erased_by = now, by
    session.execute(update(Complaint).where(Complaint.tracking_id == tracking_id).values(
        reporter_name=None, reporter_email=None, reporter_phone=None, reporter_chat=None,
        location_lat=None, location_lon=None, location_address=None,
    ))
    files = list(session.scalars(select(Attachment).where(
        Attachment.tracking_id == tracking_id, Attachment.added_by_role.in_(REPORTER_FILE_ROLES))))
    for file in files:
        session.delete(file)
    session.execute(update(NotificationDelivery).where(
        or_(
            (NotificationDelivery.tracking_id == tracking_id) & (NotificationDelivery.recipient_ref == "reporter"),
            NotificationDelivery.recipient_ref == f"follower:{tracking_id}",
        )
    ).values(address=None))
    session.execute(update(NotificationPreference).where(
        NotificationPreference.subject == f"reporter:{tracking_id}").values(phone=None))
    for follower in session.scalars(select(CaseFollower).where(CaseFollower.source_tracking_id == tracking_id)):
        session.delete(follower)
    return Erasure(tracking_id, now, [file.storage_key for file in files])


def record_erasure_event(session: Session, tracking_id: str, at: datetime, actor_role: str) -> None:
    """The timeline's "data pribadi dihapus" for a case whose workflow has closed (an open case's
    workflow records it itself, api/privacy.py)."""
    row = session.get(Complaint, tracking_id, with_for_update=True)
    if row is None:
        return
    last = session.scalar(select(func.max(TimelineEventRow.seq)).where(TimelineEventRow.tracking_id == tracking_id))
    seq = max(row.seq, last or 0) + 1
    session.add(TimelineEventRow(
        tracking_id=tracking_id, seq=seq, at=at, action=Action.PERSONAL_DATA_ERASED.value, actor_role=actor_role,
        actor_agency_id=None, actor_name=None, status_from=row.status, status_to=row.status, note=ERASED_NOTE,
        agency_id=row.agency_id, unit_id=row.unit_id,
    ))
    row.seq = seq


# --- consent ----------------------------------------------------------------------------------------


def withdraw_contact_consent(session: Session, tracking_id: str, now: datetime | None = None) -> datetime:
    """Nothing more is sent to the reporter of this case (nor as a follower of another case):
    the deliveries waiting for them are skipped now, and new ones are never made."""
    now = now or utc_now()
    session.execute(dialect_insert(session, CasePrivacy.__table__).on_conflict_do_nothing(), [{
        "tracking_id": tracking_id, "created_at": now,
    }])
    privacy = session.get(CasePrivacy, tracking_id, with_for_update=True, populate_existing=True)
    assert privacy is not None
    if privacy.contact_withdrawn_at is None:
        privacy.contact_withdrawn_at = now
    session.execute(update(NotificationDelivery).where(
        or_(
            (NotificationDelivery.tracking_id == tracking_id) & (NotificationDelivery.recipient_ref == "reporter"),
            NotificationDelivery.recipient_ref == f"follower:{tracking_id}",
        ),
        NotificationDelivery.status == DeliveryStatus.PENDING.value,
    ).values(status=DeliveryStatus.SKIPPED.value, last_error=WITHDRAWN_CONSENT))
    return privacy.contact_withdrawn_at


def may_contact_reporter(session: Session, tracking_id: str) -> bool:
    """False once the reporter withdrew consent or their data was erased."""
    privacy = session.get(CasePrivacy, tracking_id)
    return privacy is None or (privacy.contact_withdrawn_at is None and privacy.erased_at is None)


def erasures_in_month(session: Session, month: str) -> dict[str, object]:
    """The monthly report: the cases whose personal data was erased in `YYYY-MM` (UTC), by whom."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    rows = session.execute(select(CasePrivacy.tracking_id, CasePrivacy.erased_by).where(
        CasePrivacy.erased_at >= start, CasePrivacy.erased_at < end).order_by(CasePrivacy.erased_at)).all()
    by: dict[str, int] = {}
    for _, who in rows:
        by[who or "unknown"] = by.get(who or "unknown", 0) + 1
    return {"month": month, "erased": len(rows), "by": by, "tracking_ids": [tracking_id for tracking_id, _ in rows]}


def record_identity_views(session: Session, tracking_ids: list[str], *, role: str, agency_id: str | None,
                          viewer_id: str | None, viewer_name: str | None, via: str) -> None:
    """The access log: these cases' reporter identity was shown to this staff member now."""
    now = utc_now()
    session.add_all(IdentityView(tracking_id=tracking_id, at=now, viewer_role=role, viewer_agency_id=agency_id,
                                 viewer_id=viewer_id, viewer_name=viewer_name, via=via)
                    for tracking_id in dict.fromkeys(tracking_ids))


# --- breach support -------------------------------------------------------------------------------


@dataclass
class Affected:
    tracking_id: str
    contacts: list[str]
    stores: list[str]
    erased: bool
    kind: str = "reporter"  # or "follower": a supporter who left an address to be told of a case


def breach_affected(session: Session, start: datetime, end: datetime, stores: list[str]) -> list[Affected]:
    """The reporters (by case) whose personal data a store held during [start, end], with the
    contacts to notify: a case submitted before `end` whose data was not erased before `start`.
    Temporal alone exposes only sealed identities, except cases opened before sealing (no key) or
    when the service's keys leaked with it."""
    erased_before = {t for (t,) in session.execute(select(CasePrivacy.tracking_id).where(
        CasePrivacy.erased_at.is_not(None), CasePrivacy.erased_at < start))}
    # Sealed cases: a key now, or one destroyed after it was made (a case opened before sealing
    # gets its row only at its erasure, made and erased at one instant).
    keyed = {t for (t,) in session.execute(select(CasePrivacy.tracking_id).where(or_(
        CasePrivacy.wrapped_key.is_not(None), CasePrivacy.created_at < CasePrivacy.erased_at)))}
    with_files = {t for (t,) in session.execute(select(Attachment.tracking_id).where(
        Attachment.added_by_role.in_(REPORTER_FILE_ROLES), Attachment.created_at < end))}
    affected: list[Affected] = []
    for row in session.execute(select(Complaint.tracking_id, Complaint.reporter_email, Complaint.reporter_phone,
                                      Complaint.reporter_chat, Complaint.reporter_name, Complaint.location_address,
                                      Complaint.location_lat)
                               .where(Complaint.submitted_at < end).order_by(Complaint.submitted_at)):
        tracking_id = row.tracking_id
        if tracking_id in erased_before:
            continue
        held = any((row.reporter_email, row.reporter_phone, row.reporter_chat, row.reporter_name, row.location_address,
                    row.location_lat is not None)) or tracking_id in keyed
        hit = []
        if "read_model" in stores and held:
            hit.append("read_model")
        if "attachments" in stores and tracking_id in with_files:
            hit.append("attachments")
        if "temporal" in stores and held and ("keys" in stores or tracking_id not in keyed):
            hit.append("temporal")
        if hit:
            privacy = session.get(CasePrivacy, tracking_id)
            contacts = [c for c in (row.reporter_email, row.reporter_phone, row.reporter_chat) if c]
            affected.append(Affected(tracking_id, contacts, hit,
                                     erased=privacy is not None and privacy.erased_at is not None))
    if "read_model" in stores:
        affected += [Affected(f.tracking_id, [f.email], ["read_model"], erased=False, kind="follower")
                     for f in session.scalars(select(CaseFollower).where(
                         CaseFollower.email.is_not(None), CaseFollower.created_at < end))]
    return affected
