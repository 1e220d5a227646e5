"""mySociety's servicerequestupdates: GET the public updates of cases, POST a citizen's comment (the
reporter's reply only from the reporter's own e-mail or phone)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request, Response
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, SessionDep
from api.intake import TRACKING_ID, body_hash
from api.problems import Problem
from api.routes.open311.common import (
    MAX_ITEMS,
    UNSHOWN_ACTIONS,
    Open311Error,
    date_window,
    listed_values,
    log,
    query_param,
    route_doc,
    router,
)
from api.routes.open311.rendering import answer, extended_attributes, render, w3, zone_of
from api.routes.open311.submit import client_caller, read_form, repaired_fields
from api.temporal import action_update_id
from db.models import Complaint, TimelineEventRow
from db.open311_models import Open311ClientUpdate, Open311Request
from domain.contacts import usable_email, usable_phone
from domain.enums import Role, Status
from domain.models import Actor, ReplyInput, Reporter, SupplementInput
from domain.open311 import (
    DESCRIPTION_MAX,
    update_description,
)
from domain.text import MachineTextRepairs
from domain.visibility import REPORTER_ADDITIONS, published
from workflows.complaint import ComplaintWorkflow

# --- mySociety's extension: GET servicerequestupdates ---------------------------------------------


@router.get(
    "/servicerequestupdates.{fmt}",
    summary="Open311 (ekstensi mySociety): pembaruan laporan",
    **route_doc(
        query_param("start_date", "W3C (pembaruan pada atau setelah)"),
        query_param("end_date", "W3C (pembaruan pada atau sebelum); rentang paling lama 90 hari"),
        query_param("service_request_id", "hanya pembaruan laporan ini (dipisah koma)"),
        description="Setiap langkah laporan publik (verifikasi, tindak lanjut, tanggapan, selesai, ...), "
        "terlama dahulu, paling banyak 1.000. `status` dan `external_status_code`: status lanjutan "
        "(OPEN, INVESTIGATING, IN_PROGRESS, ACTION_SCHEDULED, INTERNAL_REFERRAL, FIXED, DUPLICATE, "
        "NOT_COUNCILS_RESPONSIBILITY, NO_FURTHER_ACTION) sesudah langkah itu; `extended_attributes` "
        "memuat status SP4N-nya. `api_key` boleh dikirim dan diabaikan.",
    ),
)
async def get_updates(request: Request, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        start, end = date_window(request)
        original = aliased(Complaint)
        statement = (
            select(TimelineEventRow, Complaint.region_code, Complaint.archive_reason,
                   # a confidential original's id is never public
                   case((original.confidential.is_(True), None), else_=Complaint.duplicate_of),
                   Complaint.anonymous, Complaint.status)
            .join(Complaint, Complaint.tracking_id == TimelineEventRow.tracking_id)
            .outerjoin(original, original.tracking_id == Complaint.duplicate_of)
            .where(Complaint.confidential.is_(False), TimelineEventRow.action.not_in(UNSHOWN_ACTIONS))
            .where(TimelineEventRow.at >= start, TimelineEventRow.at <= end)
        )
        if ids := listed_values(request, "service_request_id"):
            statement = statement.where(TimelineEventRow.tracking_id.in_(ids[:MAX_ITEMS]))
        statement = statement.order_by(TimelineEventRow.at, TimelineEventRow.tracking_id, TimelineEventRow.seq)
        rows = await run_in_threadpool(lambda: session.execute(statement.limit(MAX_ITEMS)).all())
        return render(fmt, "service_request_updates", [update_of_event(*row) for row in rows])

    return await answer(request, produce)


# What an anonymous reporter writes can name them: shown to the staff who handle the case only.
REPORTER_TEXT_ACTIONS = REPORTER_ADDITIONS  # domain/visibility.py: one rule for every face


def update_of_event(event: TimelineEventRow, region_code: str | None, archive_reason: str | None,
                    duplicate_of: str | None, anonymous: bool, status: str | None) -> dict[str, Any]:
    """One step of a case as mySociety's request_update. `status` is the extended status (the
    extension allows it, and FixMyStreet reads it there); `external_status_code` repeats it for
    FixMyStreet's response templates; `extended_attributes` adds the SP4N status behind it.
    A case not published (not verified and forwarded, domain/visibility.py) shows its steps
    without their notes, as its outline does everywhere else."""
    hidden = not published(status) or (anonymous and event.action in REPORTER_TEXT_ACTIONS)
    note = None if hidden else event.note
    extended = extended_attributes(event.status_to, archive_reason, duplicate_of, event.action)
    return {
        "update_id": f"{event.tracking_id}-{event.seq}",
        "service_request_id": event.tracking_id,
        "status": extended["extended_status"],
        "updated_datetime": w3(event.at, zone_of(region_code)),
        "description": update_description(event.action, note),
        "media_url": None,
        "external_status_code": extended["extended_status"],
        "extended_attributes": extended,
    }


# --- mySociety's extension: POST servicerequestupdates (a citizen's comment from the client) -------

UPDATE_ID_MAX = 200


def _claim_update(session: Session, scope_key: str, tracking_id: str, digest: str) -> Open311ClientUpdate | None:
    """Claim the client's update id; the earlier claim when it was used already (a retry)."""
    row = Open311ClientUpdate(scope_key=scope_key, tracking_id=tracking_id, update_id=f"{tracking_id}-n{secrets.token_hex(6)}",
                              recorded_as="pending", body_hash=digest)
    session.add(row)
    try:
        session.commit()
        return None
    except IntegrityError:
        session.rollback()
    return session.get(Open311ClientUpdate, scope_key)


def _settle_update(session: Session, scope_key: str, recorded_as: str | None, update_id: str | None = None,
                   note: str | None = None) -> None:
    """Record how the comment was kept (None: it was not, and the claim is given back)."""
    row = session.get(Open311ClientUpdate, scope_key)
    if row is None:
        return
    if recorded_as is None:
        session.delete(row)
    else:
        row.recorded_as, row.note = recorded_as, note
        if update_id:
            row.update_id = update_id
    session.commit()


@router.post(
    "/servicerequestupdates.{fmt}",
    summary="Open311 (ekstensi mySociety): komentar warga atas laporan",
    **route_doc(description="Form: `api_key` (aplikasi yang mengirim laporan itu), `service_request_id`, "
           "`update_id` (id pembaruan di aplikasi; pengiriman ulang dengan id yang sama dijawab sama dan "
           f"dicatat sekali), `description` (≤ {DESCRIPTION_MAX} karakter); `status`, `updated_datetime`, "
           "`first_name`, `last_name`, `media_url` diterima dan tidak dipakai. Bila laporan menunggu pelapor "
           "dan `email` atau `phone` komentar sama dengan kontak pelapor laporan itu, komentar dicatat "
           "sebagai tanggapan pelapor (menunggu tanggapan) atau kelengkapan (ditunda); selain itu (juga "
           "komentar pengguna lain aplikasi) sebagai catatan bagi petugas. Jawaban: `update_id` "
           "kita (sama dengan update_id langkah itu di GET servicerequestupdates)."),
)
async def post_update(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        fields, _media, _files = await read_form(request)
        fields = repaired_fields(fields, MachineTextRepairs())
        caller = await client_caller(request, svc, session, fields.get("api_key") or request.query_params.get("api_key"))
        tracking_id = (fields.get("service_request_id") or "").strip()
        client_update_id = (fields.get("update_id") or "").strip()
        text = (fields.get("description") or "").strip()
        if not client_update_id:
            raise Open311Error(400, "update_id wajib: id pembaruan di aplikasi Anda (membuat pengiriman ulang aman)")
        if len(client_update_id) > UPDATE_ID_MAX:
            raise Open311Error(400, f"update_id paling panjang {UPDATE_ID_MAX} karakter")
        if not text:
            raise Open311Error(400, "description wajib diisi")
        if len(text) > DESCRIPTION_MAX:
            raise Open311Error(400, f"description melebihi {DESCRIPTION_MAX} karakter")
        sent = await run_in_threadpool(session.get, Open311Request, tracking_id) if TRACKING_ID.match(tracking_id) else None
        if sent is None or sent.client_token_id != caller.token_id:
            raise Open311Error(404, f"service_request_id '{tracking_id[:64]}' tidak dikirim oleh aplikasi ini")
        await run_in_threadpool(svc.rate_limiter.check, caller.client_key)
        scope_key = f"{caller.token_id}:{client_update_id}"
        digest = body_hash({"service_request_id": tracking_id, "description": text})
        earlier = await run_in_threadpool(_claim_update, session, scope_key, tracking_id, digest)
        if earlier is not None:
            if earlier.body_hash != digest or earlier.tracking_id != tracking_id:
                raise Open311Error(422, "update_id ini sudah dipakai untuk komentar yang berbeda")
            if earlier.recorded_as != "pending":
                return render(fmt, "service_request_updates", [{"update_id": earlier.update_id}])
            # Still pending (sent at the same moment, or its first attempt failed half-way): sent
            # again under the same Temporal update id, which Temporal applies once.
        try:
            update_id, recorded_as, note = await _record_comment(
                svc, session, tracking_id, text, scope_key, sender=_comment_sender(fields, svc.settings.phone_country_codes))
        except BaseException:
            if earlier is None:
                await run_in_threadpool(_settle_update, session, scope_key, None)
            raise
        await run_in_threadpool(_settle_update, session, scope_key, recorded_as, update_id, note)
        log.info("open311 comment", tracking_id=tracking_id, client=caller.token_id, recorded_as=recorded_as)
        row = await run_in_threadpool(session.get, Open311ClientUpdate, scope_key)
        return render(fmt, "service_request_updates", [{"update_id": row.update_id}])

    return await answer(request, produce)


def _comment_sender(fields: dict[str, str], phone_country_codes: list[int]) -> tuple[str | None, str | None]:
    """The commenter's e-mail and phone as the client sent them, normalised like a reporter's
    (domain/contacts.py); None for one absent or unusable."""
    return usable_email((fields.get("email") or "").strip()), usable_phone((fields.get("phone") or "").strip(),
                                                                          phone_country_codes)


def _is_the_reporter(reporter: Reporter | None, sender: tuple[str | None, str | None]) -> bool:
    """Whether the commenter is the case's reporter: the client forwards every one of its users'
    comments, and only the reporter's own e-mail (any case) or phone (E.164) makes one theirs."""
    if reporter is None:
        return False
    email, phone = sender
    return bool((email and reporter.email and email.casefold() == reporter.email.casefold())
                or (phone and reporter.phone and phone == reporter.phone))


async def _record_comment(svc, session: Session, tracking_id: str, text: str, scope_key: str,
                          sender: tuple[str | None, str | None]) -> tuple[str | None, str, str | None]:
    """The comment as the reporter's reply (the case waits for their answer to a follow-up) or
    supplement (on hold) when it comes from the reporter's own contact, or else a note for staff:
    (our update id or None, how, the note)."""
    await run_in_threadpool(session.close)  # no connection held while waiting on Temporal
    state = await svc.temporal.state(tracking_id)
    reporter = Actor(role=Role.REPORTER)  # never the reporter's identity
    action = {
        Status.AWAITING_REPORTER: (ComplaintWorkflow.reply, lambda: ReplyInput(actor=reporter, message=text), "reply"),
        Status.ON_HOLD: (ComplaintWorkflow.supplement, lambda: SupplementInput(actor=reporter, text=text), "supplement"),
    }.get(state.status) if _is_the_reporter(state.details.reporter, sender) else None
    if action is not None:
        update, make_input, recorded_as = action
        data = make_input()
        try:
            state = await svc.temporal.update(tracking_id, update, data, update_id=action_update_id(
                f"open311:{scope_key}", recorded_as, "comment", data))
            return f"{tracking_id}-{state.timeline[-1].seq}", recorded_as, None
        except Problem as problem:
            if problem.status != 409:  # the case moved on meanwhile: kept as a note below
                raise
    return None, "note", text
