"""/v1/complaints: submission, reading, and every action of the lifecycle."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api import cases
from api.auth import Caller, public_caller
from api.deps import CallerDep, Services, ServicesDep, SessionDep, StaffDep, bearer_token, current_caller
from api.intake import body_hash, open_case
from api.privacy import log_identity_views
from api.problems import Problem, problem_responses
from api.connected import add_body_system_notes, add_forwarding
from api.read_model import get_case_row, list_cases, notifications_of, view_of_row, without_confidential_originals
from api.similar import report_of_case, similar_cases, voices
from api.schemas import (
    ComplaintCreate,
    DispositionRequest,
    FollowUpRequest,
    Page,
    RatingRequest,
    ReplyRequest,
    RerouteRequest,
    SimilarCaseOut,
    SimilarCases,
    SimilarReason,
    SubmissionReceipt,
    SupplementRequest,
    VerificationRequest,
)
from domain.enums import Channel, ReportType, Status
from domain.models import (
    ComplaintDetails,
)
from domain.visibility import AGENCY_ROLES, SEES_EVERYTHING, STAFF_ROLES, CaseView, list_fields, redact

router = APIRouter(prefix="/v1/complaints", tags=["complaints"])

CASE_RESPONSES = problem_responses(401, 403, 404, 409, 422, 503)


CHAT_CHANNELS = (Channel.WHATSAPP, Channel.TELEGRAM)


@router.post(
    "",
    status_code=201,
    response_model=SubmissionReceipt,
    summary="Kirim laporan baru",
    description="Siapa pun boleh melapor. Simpan `reporter_token`: hanya token itu yang dapat menambah "
    "keterangan, membalas dan memberi penilaian. Kirim ulang dengan `Idempotency-Key` yang sama agar tidak ganda.",
    responses=problem_responses(403, 413, 422, 429, 503),
)
async def submit_complaint(
    request: Request,
    body: ComplaintCreate,
    svc: ServicesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SubmissionReceipt:
    # Intake's hot path (bench/intake.py): an anonymous submission without Idempotency-Key needs
    # no database at all, so it neither opens a session nor hops to the thread pool for one.
    caller = await submission_caller(request, svc)
    if body.channel == Channel.WALK_IN and caller.role not in STAFF_ROLES:
        raise Problem(403, "Saluran walk_in hanya untuk petugas yang mencatat laporan warga.")
    if body.channel in CHAT_CHANNELS or (body.reporter and body.reporter.chat):
        # Only the chat doors (api/chat.py) say where a chat is: nobody may have us write to one.
        raise Problem(422, "Saluran whatsapp/telegram dan reporter.chat hanya diisi oleh pintu chat.")
    await run_in_threadpool(svc.rate_limiter.check, caller.client_key)  # counted in the shared store
    now = datetime.now(timezone.utc)
    scope = None
    if idempotency_key:
        # A key is the caller's own: a token's, or for the public the client address's. Someone else
        # sending the same key and body must get a case of their own, never the first receipt
        # (whose reporter token acts as the reporter).
        scope = f"{caller.token_id or caller.client_key}:{idempotency_key}"
        response.headers["Idempotency-Key"] = idempotency_key
    details = ComplaintDetails.model_validate(body.model_dump())
    if scope is None:
        receipt = await open_case(svc, None, details, now=now)  # type: ignore[arg-type]  # no key: no session
    else:
        # The claim (a commit) runs on the thread pool inside open_case; so does giving the
        # connection back (a rollback on return to the pool): nothing here blocks the event loop.
        session = svc.sessions()
        try:
            receipt = await open_case(
                svc, session, details, now=now, idempotency_scope=scope, digest=body_hash(body.model_dump(mode="json"))
            )
        finally:
            await run_in_threadpool(session.close)
    request.state.tracking_id = receipt.tracking_id
    return receipt


async def submission_caller(request: Request, svc: Services) -> Caller:
    """`current_caller` for the submit route: without a bearer token it is the public caller, known
    without the database; a token is looked up in a session on the thread pool as elsewhere."""
    if bearer_token(request) is None:
        return public_caller(request.client.host if request.client else None)

    def look_up() -> Caller:
        with svc.sessions() as session:
            return current_caller(request, svc, session)

    return await run_in_threadpool(look_up)


@router.get(
    "",
    response_model=Page[CaseView],
    response_model_exclude_unset=True,
    summary="Daftar laporan (petugas dan pengamat)",
    description="Petugas instansi hanya melihat laporan instansinya. Urutan terbaru dahulu; halaman "
    "berikutnya dengan `cursor`.",
    responses=problem_responses(400, 401, 403, 422, 503),
)
def list_complaints(
    caller: StaffDep,
    session: SessionDep,
    svc: ServicesDep,
    status: Status | None = None,
    agency_id: str | None = None,
    report_type: ReportType | None = None,
    overdue: bool | None = None,
    needs_rerouting: Annotated[bool | None, Query(
        description="true: laporan terbuka yang instansinya dinonaktifkan atau digabungkan (perlu diteruskan ulang)"
    )] = None,
    needs_redisposition: Annotated[bool | None, Query(
        description="true: laporan terbuka yang unitnya dinonaktifkan atau digabungkan (perlu didisposisikan ulang)"
    )] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    submitted_from: datetime | None = None,
    submitted_to: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CaseView]:
    if caller.role in AGENCY_ROLES:
        if agency_id and agency_id != caller.agency_id:
            return Page(items=[], next_cursor=None)
        agency_id = caller.agency_id
    for name, value in (("submitted_from", submitted_from), ("submitted_to", submitted_to)):
        if value is not None and value.tzinfo is None:
            raise Problem(422, f"{name} harus memuat zona waktu, mis. 2026-12-01T00:00:00+07:00")
    rows, next_cursor = list_cases(
        session,
        status=status.value if status else None,
        agency_id=agency_id,
        report_type=report_type.value if report_type else None,
        overdue=overdue,
        q=q,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        cursor=cursor,
        limit=limit,
        needs_rerouting=needs_rerouting,
        needs_redisposition=needs_redisposition,
    )
    keep = list_fields()
    items = []
    for row in rows:
        view = redact(view_of_row(row, with_history=False), caller)
        if view is not None:
            items.append(CaseView.model_validate(view.model_dump(exclude_unset=True, include=keep)))
    if caller.role not in STAFF_ROLES:
        items = without_confidential_originals(session, items)
    else:
        add_forwarding(session, items)
    log_identity_views(session, caller, items, "list")
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{tracking_id}",
    response_model=CaseView,
    response_model_exclude_unset=True,
    summary="Lihat satu laporan",
    description="Publik melihat laporan yang tidak rahasia; sebelum diverifikasi dan diteruskan hanya "
    "ringkasannya (judul, status, kategori, wilayah, tenggat, riwayat tanpa catatan). Pelapor (dengan reporter_token), "
    "petugas instansi terkait, admin dan pengamat melihat lebih banyak. Bidang yang tidak boleh dilihat tidak ada.",
    responses=problem_responses(401, 404, 503),
)
async def get_complaint(tracking_id: str, caller: CallerDep, svc: ServicesDep, session: SessionDep) -> CaseView:
    view = await cases.current_view(tracking_id, caller, svc, session)
    if caller.role in STAFF_ROLES:
        await run_in_threadpool(add_forwarding, session, [view])
    await run_in_threadpool(add_body_system_notes, session, view, caller)
    if caller.role in SEES_EVERYTHING:  # which messages each event and escalation produced
        view.notifications = await run_in_threadpool(notifications_of, session, tracking_id)
        warnings = await cases.deadline_calendar_warnings(view, svc)
        if warnings:
            view.calendar_warnings = warnings
    return view


@router.get(
    "/{tracking_id}/similar",
    response_model=SimilarCases,
    summary="Laporan terbuka yang mirip (kemungkinan duplikat), dengan skor dan alasannya (petugas)",
    description="Peringkat dari kemiripan kata, wilayah, kategori dan jarak titik lokasi. Petugas instansi "
    "hanya melihat laporan instansinya; admin dan pengamat semua laporan terbuka. Untuk menggabungkan "
    "duplikat: `POST .../verification` dengan `decision=reject, reason=duplicate, duplicate_of`.",
    responses=problem_responses(401, 403, 404, 503),
)
def similar_complaints(tracking_id: str, caller: StaffDep, session: SessionDep) -> SimilarCases:
    row = get_case_row(session, tracking_id)
    if row is None or redact(view_of_row(row, with_history=False), caller) is None:
        raise Problem(404, "Laporan tidak ditemukan")
    found = similar_cases(session, report_of_case(row, caller), caller)
    counts = voices(session, [s.tracking_id for s in found], counts_confidential=caller.role in SEES_EVERYTHING)
    return SimilarCases(items=[
        SimilarCaseOut(
            tracking_id=s.tracking_id, title=s.title, status=s.status, region_code=s.region_code,
            category=s.category, agency_id=s.agency_id, score=s.match.score,
            likely_duplicate=s.match.likely_duplicate,
            reasons=[SimilarReason(kind=r.kind, value=r.value) for r in s.match.reasons],  # type: ignore[arg-type]
            reporters=counts[s.tracking_id][0], supporters=counts[s.tracking_id][1],
        )
        for s in found
    ])


IdempotencyKeyHeader = Annotated[str | None, Header(
    min_length=1, max_length=200,
    description="Membuat tindakan aman diulang: kirim ulang permintaan yang sama dengan kunci yang sama setelah "
    "batas waktu atau 503, dan Anda mendapat hasil tindakan pertama (tidak diterapkan dua kali). Kunci milik "
    "pengirimnya (token); kunci yang sama untuk isi yang berbeda adalah tindakan lain.",
)]


ACTION_RESPONSES = CASE_RESPONSES | {503: CASE_RESPONSES[503] | {
    "description": "Temporal atau worker tidak menjawab tepat waktu: hasil tindakan belum diketahui "
    "(`outcome: unknown`; tindakan mungkin tetap diterapkan begitu worker kembali). Tunggu `Retry-After` detik "
    "lalu kirim ulang permintaan yang sama dengan `Idempotency-Key` yang sama: Anda mendapat hasil tindakan "
    "itu, tidak diterapkan dua kali. Tanpa kunci: periksa laporan (GET) sebelum mengulang.",
    "headers": {"Retry-After": {"description": "Detik sebelum mengulang", "schema": {"type": "integer"}}},
}}
ACTION_DOC = dict(response_model=CaseView, response_model_exclude_unset=True, responses=ACTION_RESPONSES)


@router.post("/{tracking_id}/verification", summary="Verifikasi: terima, tunda atau tolak (admin)", **ACTION_DOC)
async def verify(
    tracking_id: str, body: VerificationRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.verify(tracking_id, body, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/pin-confirmation", summary="Konfirmasi titik lokasi di luar wilayahnya (admin)",
             responses=problem_responses(403, 404))
async def confirm_pin(tracking_id: str, caller: CallerDep, svc: ServicesDep, session: SessionDep) -> dict[str, bool]:
    """A pin outside the case's region is kept off public use and duplicate scoring until a
    verifier confirms it here (the case's timeline says so: `pin_confirmed`); `cleared` is false
    when the pin was not flagged."""
    return {"cleared": await cases.confirm_pin(tracking_id, caller, svc, session)}


@router.post("/{tracking_id}/supplements", summary="Lengkapi laporan yang ditunda (pelapor)", **ACTION_DOC)
async def supplement(
    tracking_id: str, body: SupplementRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.supplement(tracking_id, body, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/dispositions", summary="Disposisi ke unit (admin instansi)", **ACTION_DOC)
async def dispose(
    tracking_id: str, body: DispositionRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.dispose(tracking_id, body, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/follow-ups", summary="Tindak lanjut (pejabat penghubung atau admin instansi)",
             **ACTION_DOC)
async def follow_up(
    tracking_id: str, body: FollowUpRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.follow_up(tracking_id, body, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/reroute", summary="Bukan wewenang kami: kembalikan untuk dialihkan (admin instansi)",
             **ACTION_DOC)
async def reroute(
    tracking_id: str, body: RerouteRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.reroute(tracking_id, body, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/replies", summary="Tanggapi tindak lanjut (pelapor atau admin)", **ACTION_DOC)
async def reply(
    tracking_id: str, body: ReplyRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.reply(tracking_id, body, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/satisfaction", summary="Saya puas: selesaikan laporan sekarang (pelapor)", **ACTION_DOC)
async def satisfied(
    tracking_id: str, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    """While the case awaits the reporter: the follow-up settled it. The case is completed now
    (not after the 10 working days of silence) and the rating is open at once."""
    return await cases.satisfied(tracking_id, caller, svc, session, idempotency_key)


@router.post("/{tracking_id}/rating", summary="Beri penilaian 1-5 (pelapor)", **ACTION_DOC)
async def rate(
    tracking_id: str, body: RatingRequest, caller: CallerDep, svc: ServicesDep, session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    return await cases.rate(tracking_id, body, caller, svc, session, idempotency_key)
