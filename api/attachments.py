"""Attachments of a case: checked, cleaned under limits, held to quotas, stored, listed and served.

Used by the API (api/routes/attachments.py) and the web portal alike. An upload passes, in order:
the pace per submitter (`Uploads.pace`), what the caller may add and the room left
(`check_may_store`: the case's count and bytes, the submitter's bytes today, the disk or the
total), the cleaning in a child process under limits (`Uploads.clean`, api/cleaning.py), and the
same checks again with the cleaned size inside the transaction that records it
(`store_attachment`). The functions that take a session block: call them on the thread pool.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import structlog
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.auth import Caller, client_address_key
from api.cleaning import CleanFile, CleaningLimits, IsolatedCleaner, Unacceptable
from api.problems import Problem
from api.storage import AttachmentStorage, new_storage_key
from api.throttle import SubmissionRateLimiter, ThrottleStore
from config import Settings
from db.portal_models import Attachment, UploadUsage
from db.upsert import dialect_insert
from domain.attachments import (
    KIND_BY_CONTENT_TYPE,
    MAX_ATTACHMENTS_PER_CASE,
    AttachmentRefused,
    FileKind,
    Purpose,
    Refusal,
    check_count,
    check_file,
    check_may_add,
    default_purpose,
)
from domain.enums import Role
from domain.tokens import keyed_digest
from domain.visibility import CaseView, Viewer, sees_reporter

log = structlog.get_logger("sp4n.attachments")

REFUSAL_STATUS = {
    Refusal.UNSUPPORTED_TYPE: 415,
    Refusal.TOO_LARGE: 413,
    Refusal.TOO_MANY: 409,
    Refusal.FORBIDDEN: 403,
    Refusal.CLOSED: 409,
}
MB = 1024 * 1024


class AttachmentInfo(BaseModel):
    """An attachment as a caller sees it; who added it only for callers who may know the reporter."""

    id: str
    purpose: Purpose
    content_type: str
    size_bytes: int
    sha256: str
    created_at: AwareDatetime
    url: str
    added_by_role: str | None = None
    added_by_agency_id: str | None = None


def attachment_path(tracking_id: str, attachment_id: str) -> str:
    """Where the API serves an attachment's bytes."""
    return f"/v1/complaints/{tracking_id}/attachments/{attachment_id}"


# --- the limits an upload passes -------------------------------------------------------------------


@dataclass(frozen=True)
class Quotas:
    case_max_bytes: int
    submitter_daily_max_bytes: int
    min_free_disk_bytes: int
    total_max_bytes: int  # 0: no total
    secret_key: str

    def submitter_hash(self, submitter: str, day: date) -> str:
        """The day's key of a submitter: keyed, so no address can be read back or tried."""
        return keyed_digest(self.secret_key, "upload-usage", f"{day.isoformat()}:{submitter}")


def problem_of(refused: Unacceptable) -> Problem:
    return Problem(refused.status, refused.message_id, headers=refused.headers, detail_en=refused.message_en)


class Uploads:
    """What every upload passes before it is stored: the pace per submitter, the cleaning under
    limits in a child process, the quotas. One per API process (Services.uploads)."""

    def __init__(self, settings: Settings, throttle: ThrottleStore) -> None:
        self.cleaner = IsolatedCleaner(CleaningLimits(
            max_image_pixels=settings.attachment_max_image_pixels,
            max_pdf_pages=settings.attachment_max_pdf_pages,
            timeout_seconds=settings.attachment_cleaning_timeout_seconds,
            memory_bytes=settings.attachment_cleaning_memory_bytes,
            concurrency=settings.attachment_cleaning_concurrency,
            queue_timeout_seconds=settings.attachment_cleaning_timeout_seconds,
        ))
        self.quotas = Quotas(
            case_max_bytes=settings.attachment_case_max_bytes,
            submitter_daily_max_bytes=settings.attachment_submitter_daily_max_bytes,
            min_free_disk_bytes=settings.attachment_min_free_disk_bytes,
            total_max_bytes=settings.attachment_total_max_bytes,
            secret_key=settings.secret_key,
        )
        self.pace = SubmissionRateLimiter(throttle, settings.attachment_files_per_minute, purpose="files",
                                          what="berkas", what_en="files")  # blocks: on the thread pool

    async def clean(self, data: bytes) -> CleanFile:
        """The file as it will be kept. Problems: 413 over 10 MB or the pixel or page limit, 415 not
        a JPEG, PNG or PDF, 422 unreadable, too heavy or not cleanable, 503 every cleaner busy."""
        try:
            check_file(data)
        except AttachmentRefused as error:
            raise _refused(error) from error
        try:
            return await self.cleaner.clean(data)
        except Unacceptable as refused:
            raise problem_of(refused) from refused


def upload_submitter(caller: Caller, client_address: str | None) -> str:
    """Whose daily quota an upload counts against: a staff token's or account's own; anyone
    else's address (a reporter token is one per case, and cases are free to open)."""
    if caller.role in (None, Role.REPORTER):
        return client_address_key(client_address)
    return caller.client_key


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _case_bytes(session: Session, tracking_id: str) -> int:
    return session.scalar(select(func.coalesce(func.sum(Attachment.size_bytes), 0))
                          .where(Attachment.tracking_id == tracking_id)) or 0


def _submitter_bytes(session: Session, quotas: Quotas, submitter: str, day: date) -> int:
    return session.scalar(select(UploadUsage.bytes).where(
        UploadUsage.day == day, UploadUsage.submitter_hash == quotas.submitter_hash(submitter, day))) or 0


def readable_size(size: int) -> str:
    """30 MB, 146 KB: a limit as people read it."""
    return f"{size // MB} MB" if size >= MB else f"{size // 1024} KB"


def _case_full(quotas: Quotas) -> Problem:
    limit = readable_size(quotas.case_max_bytes)
    return Problem(413, f"Lampiran laporan ini sudah mencapai batas {limit} per laporan.",
                   detail_en=f"This case's attachments have reached the limit of {limit} per case.")


def _submitter_full(quotas: Quotas) -> Problem:
    limit = readable_size(quotas.submitter_daily_max_bytes)
    now = datetime.now(timezone.utc)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), timezone.utc)
    return Problem(429, f"Batas unggahan {limit} per hari dari pengirim ini tercapai; coba lagi besok.",
                   headers={"Retry-After": str(int((tomorrow - now).total_seconds()) + 1)},
                   detail_en=f"This sender's upload limit of {limit} per day is reached; try again tomorrow.")


def storage_full() -> Problem:
    return Problem(507, "Ruang penyimpanan lampiran hampir habis: berkas tidak dapat diterima saat ini. "
                   "Laporan tanpa lampiran tetap dapat dikirim.",
                   detail_en="Attachment storage is nearly full: files cannot be accepted now. "
                   "Reports without attachments can still be sent.")


def check_storage_room(session: Session, storage: AttachmentStorage, quotas: Quotas, adding: int) -> None:
    """507 when `adding` bytes more would leave less than the floor on the local disk, or take
    all attachments together over the total (the total counts the rows this session sees)."""
    try:
        free = storage.free_bytes()
    except OSError:
        free = None  # an unreadable disk shows up when the file is written
    if free is not None and free - adding < quotas.min_free_disk_bytes:
        log.warning("attachment storage below its floor", free_bytes=free, floor=quotas.min_free_disk_bytes)
        raise storage_full()
    if quotas.total_max_bytes:
        total = session.scalar(select(func.coalesce(func.sum(Attachment.size_bytes), 0))) or 0
        if total + adding > quotas.total_max_bytes:
            log.warning("attachments over their total", total_bytes=total, limit=quotas.total_max_bytes)
            raise storage_full()


def check_may_store(
    session: Session, storage: AttachmentStorage, quotas: Quotas, *, case: CaseView | None, added_by: Viewer,
    submitter: str, purpose: Purpose | None = None, files: int = 1,
) -> None:
    """Before any file is cleaned: may this caller add `files` files to the case (None: a case
    not opened yet), and is there room left? Problems 403/409 as store_attachment; 413 the case's
    bytes, 429 the submitter's bytes today, 507 the storage (the limits' values: docs/security.md)."""
    try:
        if case is not None:
            check_may_add(added_by, purpose or default_purpose(added_by), tracking_id=case.tracking_id,
                          agency_id=case.agency_id, status=case.status)
            existing = _count(session, case.tracking_id)
            if existing + files > MAX_ATTACHMENTS_PER_CASE:
                raise AttachmentRefused(f"Laporan ini sudah memiliki {existing} lampiran; batasnya "
                                        f"{MAX_ATTACHMENTS_PER_CASE}.", Refusal.TOO_MANY)
    except AttachmentRefused as error:
        raise _refused(error) from error
    if case is not None and _case_bytes(session, case.tracking_id) >= quotas.case_max_bytes:
        raise _case_full(quotas)
    if _submitter_bytes(session, quotas, submitter, _today()) >= quotas.submitter_daily_max_bytes:
        raise _submitter_full(quotas)
    check_storage_room(session, storage, quotas, adding=1)
    session.commit()  # end the reads: nothing is held while the files are cleaned


def _count_usage(session: Session, quotas: Quotas, submitter: str, size: int) -> int:
    """Add `size` to the submitter's bytes of today (atomically) and answer the new total."""
    day = _today()
    key = quotas.submitter_hash(submitter, day)
    statement = dialect_insert(session, UploadUsage.__table__).values(day=day, submitter_hash=key, bytes=size)
    session.execute(statement.on_conflict_do_update(
        index_elements=["day", "submitter_hash"], set_={"bytes": UploadUsage.bytes + statement.excluded.bytes}))
    session.execute(delete(UploadUsage).where(UploadUsage.day < day - timedelta(days=1)))
    return _submitter_bytes(session, quotas, submitter, day)


def _storage_down() -> Problem:
    return Problem(503, "Penyimpanan lampiran tidak tersedia; coba lagi sebentar lagi.", headers={"Retry-After": "5"},
                   detail_en="Attachment storage is unavailable; try again shortly.")


def _refused(error: AttachmentRefused) -> Problem:
    return Problem(REFUSAL_STATUS[error.refusal], error.message)


def _count(session: Session, tracking_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Attachment).where(Attachment.tracking_id == tracking_id)) or 0


def store_attachment(
    session: Session,
    storage: AttachmentStorage,
    quotas: Quotas,
    *,
    case: CaseView,
    added_by: Viewer,
    file: CleanFile,
    submitter: str,
    purpose: Purpose | None = None,
    event_seq: int | None = None,
) -> Attachment:
    """Keep one cleaned file (Uploads.clean) for a case the caller sees (`case`: their view of it).

    Problems: 403 not theirs to add, 409 the case is closed to them or already has 5 files, 413
    the case's bytes, 429 the submitter's bytes today, 507 the storage's room, 503 storage down.
    """
    purpose = purpose or default_purpose(added_by)
    try:
        check_may_add(added_by, purpose, tracking_id=case.tracking_id, agency_id=case.agency_id, status=case.status)
    except AttachmentRefused as error:
        raise _refused(error) from error
    session.commit()  # end any read: the insert below starts the writing transaction
    stored, kind = file.data, file.kind
    attachment_id = secrets.token_hex(16)
    row = Attachment(
        id=attachment_id,
        tracking_id=case.tracking_id,
        purpose=purpose.value,
        content_type=kind.content_type,
        size_bytes=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(),
        storage_key=new_storage_key(attachment_id),
        added_by_role=str(added_by.role),
        added_by_agency_id=added_by.agency_id,
        event_seq=event_seq,
    )
    try:
        check_storage_room(session, storage, quotas, adding=len(stored))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    try:
        storage.put(row.storage_key, stored, kind.content_type)
    except OSError as error:
        log.error("attachment storage failed", tracking_id=case.tracking_id, error=str(error))
        raise _storage_down() from error
    try:
        # Count again inside the writing transaction, so concurrent uploads cannot pass the limits
        # together: PostgreSQL serialises a case's uploads on an advisory lock held to commit (and
        # a submitter's on the row of their usage); SQLite takes its database-wide write lock at
        # the insert, before the counts.
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                            {"key": f"attachments:{case.tracking_id}"})
        session.add(row)
        session.flush()
        check_count(_count(session, case.tracking_id))
        if _case_bytes(session, case.tracking_id) > quotas.case_max_bytes:
            raise _case_full(quotas)
        if _count_usage(session, quotas, submitter, len(stored)) > quotas.submitter_daily_max_bytes:
            raise _submitter_full(quotas)
        session.commit()
    except BaseException as error:
        session.rollback()
        try:
            storage.delete(row.storage_key)
        except OSError:  # an orphan in the store, never a row without its file
            log.warning("stored attachment left behind", storage_key=row.storage_key)
        if isinstance(error, AttachmentRefused):
            raise _refused(error) from error
        raise
    log.info("attachment stored", tracking_id=case.tracking_id, attachment_id=row.id, purpose=row.purpose,
             content_type=row.content_type, size_bytes=row.size_bytes)
    return row


def attachments_of(session: Session, tracking_id: str) -> list[Attachment]:
    """A case's attachments, oldest first."""
    return list(session.scalars(
        select(Attachment).where(Attachment.tracking_id == tracking_id).order_by(Attachment.created_at, Attachment.id)
    ))


def get_attachment(session: Session, tracking_id: str, attachment_id: str) -> Attachment | None:
    row = session.get(Attachment, attachment_id)
    return row if row is not None and row.tracking_id == tracking_id else None


def attachment_info(row: Attachment, case: CaseView, viewer: Viewer) -> AttachmentInfo:
    """The row as this viewer may see it (`case`: their view of the attachment's case)."""
    info = AttachmentInfo(
        id=row.id,
        purpose=Purpose(row.purpose),
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        created_at=row.created_at,
        url=attachment_path(row.tracking_id, row.id),
    )
    if sees_reporter(case, viewer):
        info.added_by_role = row.added_by_role
        info.added_by_agency_id = row.added_by_agency_id
    return info


def attachment_response(storage: AttachmentStorage, row: Attachment) -> Response:
    """The stored bytes with headers that keep a browser from treating them as anything else."""
    try:
        data = storage.get(row.storage_key)
    except FileNotFoundError as error:
        log.warning("attachment missing from storage", attachment_id=row.id, storage_key=row.storage_key)
        raise Problem(404, "Berkas lampiran tidak ditemukan.") from error
    except OSError as error:
        log.error("attachment storage failed", attachment_id=row.id, error=str(error))
        raise _storage_down() from error
    kind: FileKind = KIND_BY_CONTENT_TYPE[row.content_type]
    # Pictures are shown in the page; a PDF is downloaded and opened by the person's own viewer
    # (Chromium's viewer refuses a sandboxed document, and a PDF's scripts should run nowhere here).
    disposition = "inline" if kind.is_image else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{row.id}.{kind.extension}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private",
    }
    if not kind.is_image:
        headers["Content-Security-Policy"] = "sandbox"
    return Response(data, media_type=row.content_type, headers=headers)
