"""Attachments (issue 8): which files a case takes, how many, and who may add what. No I/O.

A file's kind is read from its first bytes, never from its name or the Content-Type it came with:
a text file named photo.jpg is not a photo. Refusals are `AttachmentRefused` with a message in
Indonesian (the API passes it on) and a `Refusal` the API maps to its status code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.enums import OPEN_STATUSES, Role
from domain.visibility import AGENCY_ROLES, Viewer

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_CASE = 5


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extension: str
    magic: bytes
    is_image: bool


JPEG = FileKind("image/jpeg", "jpg", b"\xff\xd8\xff", is_image=True)
PNG = FileKind("image/png", "png", b"\x89PNG\r\n\x1a\n", is_image=True)
PDF = FileKind("application/pdf", "pdf", b"%PDF-", is_image=False)
KINDS = (JPEG, PNG, PDF)
KIND_BY_CONTENT_TYPE = {kind.content_type: kind for kind in KINDS}


class Purpose(StrEnum):
    """What an attachment documents."""

    REPORT = "report"  # the report itself, sent with it or right after
    SUPPLEMENT = "supplement"  # what the reporter adds to a case put on hold
    EVIDENCE = "evidence"  # the agency's proof of its follow-up
    REPLY = "reply"  # the reporter's answer to a follow-up


REPORTER_PURPOSES = frozenset({Purpose.REPORT, Purpose.SUPPLEMENT, Purpose.REPLY})
STAFF_PURPOSES = frozenset({Purpose.EVIDENCE})


class Refusal(StrEnum):
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    TOO_MANY = "too_many"
    FORBIDDEN = "forbidden"
    CLOSED = "closed"


class AttachmentRefused(Exception):
    def __init__(self, message: str, refusal: Refusal) -> None:
        super().__init__(message)
        self.message, self.refusal = message, refusal


def sniff(data: bytes) -> FileKind | None:
    """The kind of file these bytes start like, or None when it is none of the allowed kinds."""
    return next((kind for kind in KINDS if data.startswith(kind.magic)), None)


def check_file(data: bytes) -> FileKind:
    """The file's kind, if the case may take it (any kind allowed, at most the size limit)."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused(
            f"Berkas melebihi {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.", Refusal.TOO_LARGE
        )
    kind = sniff(data)
    if kind is None:
        raise AttachmentRefused(
            "Jenis berkas tidak didukung: lampirkan foto JPEG atau PNG, atau dokumen PDF "
            "(jenis berkas dikenali dari isinya, bukan dari namanya).",
            Refusal.UNSUPPORTED_TYPE,
        )
    return kind


def check_count(existing: int) -> None:
    """A case holds at most MAX_ATTACHMENTS_PER_CASE files; `existing` counts the new one too."""
    if existing > MAX_ATTACHMENTS_PER_CASE:
        raise AttachmentRefused(
            f"Laporan ini sudah memiliki {MAX_ATTACHMENTS_PER_CASE} lampiran, batas per laporan.",
            Refusal.TOO_MANY,
        )


def default_purpose(viewer: Viewer) -> Purpose:
    return Purpose.EVIDENCE if viewer.role in AGENCY_ROLES | {Role.ADMIN} else Purpose.REPORT


def check_may_add(
    viewer: Viewer, purpose: Purpose, *, tracking_id: str, agency_id: str | None, status: str | None
) -> None:
    """The reporter adds report, supplement and reply files while the case is open; the staff of
    the case's agency and administrators add evidence."""
    if viewer.role == Role.REPORTER and viewer.reporter_of == tracking_id:
        if purpose not in REPORTER_PURPOSES:
            raise AttachmentRefused(
                f"Pelapor hanya dapat melampirkan berkas untuk laporan, kelengkapan atau tanggapan, "
                f"bukan {purpose}.",
                Refusal.FORBIDDEN,
            )
        if status not in OPEN_STATUSES:
            raise AttachmentRefused(
                "Laporan sudah selesai atau diarsipkan: lampiran tidak dapat ditambah lagi.", Refusal.CLOSED
            )
        return
    staff = viewer.role == Role.ADMIN or (
        viewer.role in AGENCY_ROLES and agency_id is not None and viewer.agency_id == agency_id
    )
    if not staff:
        raise AttachmentRefused(
            f"Peran {viewer.role} tidak boleh menambah lampiran pada laporan ini.", Refusal.FORBIDDEN
        )
    if purpose not in STAFF_PURPOSES:
        raise AttachmentRefused(
            f"Petugas melampirkan berkas sebagai bukti tindak lanjut (evidence), bukan {purpose}.",
            Refusal.FORBIDDEN,
        )
