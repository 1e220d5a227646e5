"""Attachments of a case: checked, stripped of metadata, stored, listed and served.

Used by the API (api/routes/attachments.py) and the web portal alike. Every function here blocks
(Pillow, storage, the database): call them on the thread pool from async code.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

import structlog
from pypdf import PdfReader, PdfWriter
from PIL import Image
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.problems import Problem
from api.storage import AttachmentStorage, new_storage_key
from db.portal_models import Attachment
from domain.attachments import (
    KIND_BY_CONTENT_TYPE,
    AttachmentRefused,
    FileKind,
    Purpose,
    Refusal,
    check_count,
    check_file,
    check_may_add,
    default_purpose,
)
from domain.visibility import CaseView, Viewer, sees_reporter

log = structlog.get_logger("sp4n.attachments")

REFUSAL_STATUS = {
    Refusal.UNSUPPORTED_TYPE: 415,
    Refusal.TOO_LARGE: 413,
    Refusal.TOO_MANY: 409,
    Refusal.FORBIDDEN: 403,
    Refusal.CLOSED: 409,
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
JPEG_QUALITY = 90
# The only entry of Image.info carried into the new file: a PNG's transparent colour is pixels.
KEPT_IMAGE_INFO = ("transparency",)
# EXIF Orientation → the turn that shows the picture upright, as ImageOps.exif_transpose does
# (not used: it writes back the EXIF it reads, and fails on some malformed EXIF).
ORIENTATION_TAG = 0x0112
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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


def check_image_decodes(data: bytes, content_type: str) -> None:
    """Problem 413/422 unless the image is a whole, decodable picture of a sane size (cheap: the
    portal checks every file this way before it opens a case)."""
    with _decoding():
        _probe(data, PILLOW_FORMATS[content_type])


@contextmanager
def _decoding() -> Iterator[None]:
    """Whatever decoding a file raises, as a problem: 413 too many pixels, 422 anything else."""
    try:
        yield
    except Image.DecompressionBombError as error:
        raise Problem(
            413, f"Gambar terlalu besar: paling banyak {Image.MAX_IMAGE_PIXELS // 1_000_000} megapiksel."
        ) from error
    except Exception as error:  # noqa: BLE001 - a malformed file makes decoders raise anything
        raise Problem(422, "Gambar rusak atau tidak dapat dibaca.") from error


def _probe(data: bytes, pillow_format: str) -> None:
    with Image.open(BytesIO(data), formats=[pillow_format]) as probe:
        width, height = probe.size
        if width * height > Image.MAX_IMAGE_PIXELS:
            raise Image.DecompressionBombError(f"{width}x{height}")
        probe.verify()  # a truncated or corrupt file fails here; verify() spends the image


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(ORIENTATION_TAG)
    except Exception:  # noqa: BLE001 - unreadable EXIF: the picture is kept as it is stored
        return None
    return value if isinstance(value, int) else None


def sanitize_pdf(data: bytes) -> bytes:
    """The document without its metadata: the Info dictionary (author, creator, dates) and XMP, of
    the document and of each page, can name an anonymous reporter. Written anew without the objects
    nothing refers to any more, which also drops earlier revisions kept by incremental saves."""
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            raise Problem(422, "PDF yang dikunci (terenkripsi) tidak dapat diterima: kirim tanpa kata sandi.")
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        for holder in (writer._root_object, *writer.pages):
            for key in ("/Metadata", "/PieceInfo"):
                if key in holder:
                    del holder[key]
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)  # the cut XMP
        out = BytesIO()
        writer.write(out)
    except Problem:
        raise
    except Exception as error:  # a malformed PDF fails in many ways inside pypdf: each is the sender's
        raise Problem(422, "PDF rusak atau tidak dapat dibaca.") from error
    return out.getvalue()


def sanitize_image(data: bytes, content_type: str) -> bytes:
    """The picture alone: decoded, turned upright by its EXIF orientation and encoded again with no
    EXIF (GPS, camera, time), XMP, ICC profile, comment or PNG text chunk."""
    pillow_format = PILLOW_FORMATS[content_type]
    with _decoding():
        _probe(data, pillow_format)
        with Image.open(BytesIO(data), formats=[pillow_format]) as image:
            image.load()
            turn = UPRIGHT.get(_orientation(image))
            upright = image.transpose(turn) if turn is not None else image.copy()
    # The pixels only: the new image still carries the file's metadata in `info`, which save() reads.
    upright.info = {key: upright.info[key] for key in KEPT_IMAGE_INFO if key in upright.info}
    out = BytesIO()
    if pillow_format == "JPEG":
        if upright.mode not in ("L", "RGB", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        try:
            upright.save(out, "PNG")
        except (OSError, KeyError, ValueError):  # a mode PNG cannot write back as it is
            out = BytesIO()
            upright.convert("RGBA").save(out, "PNG")
    return out.getvalue()


def _storage_down() -> Problem:
    return Problem(503, "Penyimpanan lampiran tidak tersedia; coba lagi sebentar lagi.", headers={"Retry-After": "5"})


def _refused(error: AttachmentRefused) -> Problem:
    return Problem(REFUSAL_STATUS[error.refusal], error.message)


def _count(session: Session, tracking_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Attachment).where(Attachment.tracking_id == tracking_id)) or 0


def store_attachment(
    session: Session,
    storage: AttachmentStorage,
    *,
    case: CaseView,
    added_by: Viewer,
    data: bytes,
    purpose: Purpose | None = None,
) -> Attachment:
    """Check, clean and keep one file for a case the caller sees (`case`: their view of it).

    Problems: 403 not theirs to add, 409 the case is closed to them or already has 5 files, 413
    over 10 MB, 415 not a JPEG, PNG or PDF by its content, 422 an image that does not decode.
    """
    purpose = purpose or default_purpose(added_by)
    try:
        check_may_add(added_by, purpose, tracking_id=case.tracking_id, agency_id=case.agency_id, status=case.status)
        kind = check_file(data)
        check_count(_count(session, case.tracking_id) + 1)  # early, before the work; again below
    except AttachmentRefused as error:
        raise _refused(error) from error
    session.commit()  # end the read above: the insert below starts the writing transaction
    stored = sanitize_image(data, kind.content_type) if kind.is_image else sanitize_pdf(data)
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
    )
    try:
        storage.put(row.storage_key, stored, kind.content_type)
    except OSError as error:
        log.error("attachment storage failed", tracking_id=case.tracking_id, error=str(error))
        raise _storage_down() from error
    try:
        # Count again inside the writing transaction, so concurrent uploads cannot pass 5 together:
        # PostgreSQL serialises a case's uploads on an advisory lock held to commit; SQLite takes
        # its database-wide write lock at the insert, before the count.
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                            {"key": f"attachments:{case.tracking_id}"})
        session.add(row)
        session.flush()
        check_count(_count(session, case.tracking_id))
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
