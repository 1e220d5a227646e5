"""POST /v1/channels/sms: the inbound SMS webhook of a gateway.

Every message gets an answer to send back by SMS (`reply`), and none is dropped:
- `STATUS <tracking id>` (or `CEK`): the case's status and the deadline it now waits on;
- a message from the phone of a reporter whose case awaits their reply becomes that `reply`
  (`BALAS <tracking id> <message>` names the case; `LAPOR <text>` is always a new complaint);
- any other text is a new complaint (channel `sms`; its first line, or first words, as title);
- an empty, too short or malformed command gets an explanation of the commands.
The gateway authenticates with `Authorization: Bearer <SMS_GATEWAY_INBOUND_TOKEN>`; `message_id`
makes its retries safe (same message, same case, one reply recorded).
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timezone
from typing import Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, SessionDep
from api.intake import TRACKING_ID, body_hash, claim_idempotency_key, find_idempotency_key, open_case, title_from_text
from api.problems import Problem, problem_responses
from api.temporal import action_update_id
from api.read_model import get_case_row, view_of_row
from db.models import Agency, Complaint
from domain.enums import Channel, Role, Status
from domain.models import Actor, ComplaintDetails, Reporter, ReplyInput
from domain.contacts import ContactRefused, normalise_phone
from domain.open311 import expected_datetime, status_notes
from domain.text import line
from domain.text import MachineTextRepairs, repair_machine_text
from domain.visibility import PUBLIC, CaseView, Viewer, redact, view_of_state
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger("sp4n.sms")

router = APIRouter(prefix="/v1/channels", tags=["channels"])

MIN_COMPLAINT_CHARS = 15
HELP_WORDS = {"HELP", "BANTUAN", "INFO", "MENU", "?"}
STATUS_WORDS = {"STATUS", "CEK"}
REPLY_WORDS = {"BALAS", "REPLY"}
NEW_WORDS = {"LAPOR"}
ZONE_NAMES = {7: "WIB", 8: "WITA", 9: "WIT"}
HELP = (
    "SP4N-LAPOR!: kirim isi pengaduan Anda (min. {min} huruf), atau STATUS <nomor laporan>, "
    "atau BALAS <nomor laporan> <tanggapan>."
)


class SmsInbound(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{
            "from": "+6281234567890",
            "text": "Lampu jalan padam di Jl. Yos Sudarso depan SDN 3 sejak seminggu",
            "message_id": "gw-20261128-000123",
        }]},
    )

    sender: str = Field(alias="from", min_length=3, max_length=40, pattern=r"^\+?[0-9][0-9 ()-]*$",
                        description="Nomor pengirim, mis. +6281234567890 atau 081234567890")
    # A machine door: mojibake and control characters are repaired, not refused (domain/text.py).
    text: str = Field(max_length=4000, description="Isi SMS apa adanya (boleh kosong: dijawab dengan petunjuk); "
                      "karakter C1 (Windows-1252 yang salah dibaca) dipulihkan, karakter kendali lain dihapus, "
                      "dan laporan mencatatnya")
    message_id: line(200) | None = Field(default=None, description="Id pesan di gateway (untuk pengiriman ulang)")
    received_at: AwareDatetime | None = None


class SmsReply(BaseModel):
    to: str = Field(description="Nomor tujuan SMS balasan (pengirim, dinormalkan +62…)")
    text: str


class SmsAnswer(BaseModel):
    action: Literal["complaint_created", "status", "reply_recorded", "help"] = Field(
        description="Apa yang dilakukan dengan pesan ini")
    tracking_id: str | None = None
    reply: SmsReply = Field(description="SMS yang harus dikirim gateway kepada pengirim")


def normalize_phone(raw: str) -> str:
    """+62… for Indonesian numbers however written (0812…, 62812…, +62 812-…); digits otherwise."""
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return "+" + digits


def same_phone(a: str | None, b: str | None) -> bool:
    return bool(a and b) and normalize_phone(a) == normalize_phone(b)


def _tracking_id(word: str) -> str | None:
    candidate = word.strip().upper().rstrip(".,;:")
    if not candidate.startswith("LAP-"):
        candidate = "LAP-" + candidate.removeprefix("LAP")
    return candidate if TRACKING_ID.match(candidate) else None


def _when(instant: datetime | None) -> str:
    if instant is None:
        return "-"
    hours = int(instant.utcoffset().total_seconds() // 3600) if instant.utcoffset() is not None else 0
    return instant.strftime("%d-%m-%Y %H:%M ") + ZONE_NAMES.get(hours, f"UTC{hours:+d}")


def _gateway(request: Request, svc) -> None:
    expected = svc.settings.sms_gateway_inbound_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Problem(401, "Token gateway SMS tidak ada atau tidak valid.", headers={"WWW-Authenticate": "Bearer"})


async def _view(tracking_id: str, svc, session: Session) -> CaseView | None:
    """The whole case (the workflow's state, or the read model once Temporal has let it go)."""
    try:
        return view_of_state(await svc.temporal.state(tracking_id))
    except Problem as problem:
        if problem.status != 404:
            raise
    row = await run_in_threadpool(get_case_row, session, tracking_id)  # database work: off the event loop
    return view_of_row(row, with_history=False) if row is not None else None


def _answer(phone: str, action: str, text: str, tracking_id: str | None = None) -> SmsAnswer:
    return SmsAnswer(action=action, tracking_id=tracking_id, reply=SmsReply(to=phone, text=text))


def _help(phone: str, reason: str = "") -> SmsAnswer:
    return _answer(phone, "help", (reason + " " if reason else "") + HELP.format(min=MIN_COMPLAINT_CHARS))


async def _status(phone: str, word: str, svc, session: Session) -> SmsAnswer:
    tracking_id = _tracking_id(word)
    if tracking_id is None:
        return _help(phone, f"Nomor laporan '{word}' tidak dikenali (contoh: LAP-7K2M9QX4TD).")
    view = await _view(tracking_id, svc, session)
    is_reporter = view is not None and same_phone(view.reporter.phone if view.reporter else None, phone)
    visible = redact(view, Viewer(reporter_of=tracking_id) if is_reporter else PUBLIC) if view else None
    if visible is None:  # unknown, or confidential and not the reporter's phone
        return _answer(phone, "status", f"Laporan {tracking_id} tidak ditemukan.", None)
    agency = await run_in_threadpool(session.get, Agency, visible.agency_id) if visible.agency_id else None
    note = status_notes(visible.status, agency_name=agency.name if agency else None, archive_reason=visible.archive_reason,
                        duplicate_of=visible.duplicate_of)
    due = expected_datetime(visible.status, visible.deadlines)
    text = f"{tracking_id}: {note}" + (f" Batas berikutnya: {_when(due)}." if due else "")
    return _answer(phone, "status", text, tracking_id)


def _awaiting_reply(session: Session, phone: str) -> list[str]:
    """Cases from this phone that wait for their reporter's reply, most recently updated first."""
    tail = re.sub(r"\D", "", phone)[-8:]
    rows = session.execute(
        select(Complaint.tracking_id, Complaint.reporter_phone)
        .where(Complaint.status == Status.AWAITING_REPORTER.value, Complaint.reporter_phone.is_not(None))
        .where(Complaint.reporter_phone.contains(tail[-4:]))
        .order_by(Complaint.updated_at.desc())
    ).all()
    return [tracking_id for tracking_id, stored in rows if same_phone(stored, phone)]


async def _reply(phone: str, tracking_id: str, message: str, body: SmsInbound, svc, session: Session) -> SmsAnswer | None:
    """Record the SMS as the reporter's reply; None when the case no longer takes one."""
    scope = f"sms-reply:{body.message_id}" if body.message_id else None
    data = ReplyInput(actor=Actor(role=Role.REPORTER), message=message)
    # The gateway's message id is the SMS's Idempotency-Key: a redelivery after a timeout attaches to
    # the same update instead of replying twice (or answering that the case no longer takes one).
    update_id = action_update_id(f"{tracking_id}:sms", "reply", body.message_id, data) if body.message_id else None
    try:
        await svc.temporal.update(tracking_id, ComplaintWorkflow.reply, data, update_id=update_id)
    except Problem as problem:
        if problem.status in (409, 422, 403):
            log.info("sms reply not accepted", tracking_id=tracking_id, status=problem.status)
            return None
        raise
    if scope:
        await run_in_threadpool(claim_idempotency_key, session, scope, body_hash({"to": tracking_id}),
                                datetime.now(timezone.utc))
    return _answer(phone, "reply_recorded",
                   f"Tanggapan Anda untuk {tracking_id} telah dicatat dan diteruskan ke instansi.", tracking_id)


async def _complaint(phone: str, text: str, body: SmsInbound, svc, session: Session, prefix: str = "",
                     note: str | None = None) -> SmsAnswer:
    if len(text) < MIN_COMPLAINT_CHARS:
        return _help(phone, "Pesan terlalu pendek untuk dijadikan laporan.")
    await run_in_threadpool(svc.rate_limiter.check, f"sms:{phone}")
    details = ComplaintDetails(
        title=title_from_text(text), description=text, channel=Channel.SMS, reporter=Reporter(phone=phone),
        intake_note=note,
    )
    receipt = await open_case(
        svc, session, details, idempotency_scope=f"sms:{body.message_id}" if body.message_id else None,
    )
    due = _when(receipt.deadlines.verification_due)
    return _answer(
        phone, "complaint_created",
        f"{prefix}Laporan Anda diterima, nomor {receipt.tracking_id}. Verifikasi paling lambat {due}. "
        f"Cek dengan: STATUS {receipt.tracking_id}",
        receipt.tracking_id,
    )


@router.post(
    "/sms",
    response_model=SmsAnswer,
    summary="SMS masuk dari gateway: laporan baru, STATUS, atau tanggapan pelapor",
    description=(__doc__ or "").split("\n\n", 1)[1],
    responses=problem_responses(401, 413, 422, 429, 503),
)
async def inbound_sms(request: Request, body: SmsInbound, svc: ServicesDep, session: SessionDep) -> SmsAnswer:
    _gateway(request, svc)
    try:  # a number we will not answer (another country, a premium-rate line) opens nothing either
        phone = normalise_phone(body.sender, svc.settings.phone_country_codes)
    except ContactRefused as refused:
        raise Problem(422, f"from: {refused}", errors=[{"loc": ["body", "from"], "msg": str(refused),
                                                        "type": "value_error"}]) from refused
    repairs = MachineTextRepairs()
    text = repair_machine_text(body.text, repairs).strip()
    note = repairs.note("SMS")
    words = text.split()
    command = words[0].upper() if words else ""
    log.info("sms inbound", message_id=body.message_id, command=command if command.isalpha() else None, chars=len(text))
    if body.message_id and (replied := await run_in_threadpool(find_idempotency_key, session,
                                                               f"sms-reply:{body.message_id}")):
        # The gateway's retry of a message already recorded as a reply: nothing more to record.
        return _answer(phone, "reply_recorded", f"Tanggapan Anda untuk {replied} sudah kami terima.", replied)
    names_a_case = len(words) >= 2 and words[1].upper().startswith("LAP")
    if not text or text.upper() in HELP_WORDS:
        return _help(phone)
    # A command is a keyword followed by a tracking id; otherwise the words are just text.
    if command in STATUS_WORDS and (len(words) == 1 or names_a_case):
        if len(words) != 2:
            return _help(phone, "Format: STATUS <nomor laporan>.")
        return await _status(phone, words[1], svc, session)
    if command in NEW_WORDS:
        return await _complaint(phone, text[len(words[0]):].strip(), body, svc, session, note=note)
    if command in REPLY_WORDS and (len(words) == 1 or names_a_case):
        tracking_id = _tracking_id(words[1]) if len(words) >= 3 else None
        if tracking_id is None:
            return _help(phone, "Format: BALAS <nomor laporan> <tanggapan>.")
        view = await _view(tracking_id, svc, session)
        if view is None or not same_phone(view.reporter.phone if view.reporter else None, phone):
            return _help(phone, f"Laporan {tracking_id} tidak ditemukan untuk nomor ini.")
        message = text.split(None, 2)[2]
        answer = await _reply(phone, tracking_id, message, body, svc, session)
        return answer or await _complaint(
            phone, message, body, svc, session,
            prefix=f"Laporan {tracking_id} tidak sedang menunggu tanggapan; pesan Anda dicatat sebagai laporan baru. ",
            note=note)
    for tracking_id in (await run_in_threadpool(_awaiting_reply, session, phone))[:1]:
        answer = await _reply(phone, tracking_id, text, body, svc, session)
        if answer is not None:
            return answer
    return await _complaint(phone, text, body, svc, session, note=note)
