"""domain/attachments.py: a file's kind from its content, the limits, who may add what."""

from __future__ import annotations

import pytest

from domain.attachments import (
    JPEG,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_PER_CASE,
    PDF,
    PNG,
    AttachmentRefused,
    Purpose,
    Refusal,
    check_count,
    check_file,
    check_may_add,
    default_purpose,
    sniff,
)
from domain.enums import Role, Status
from domain.visibility import PUBLIC, Viewer

CASE = "LAP-7K2M9QX4TD"
AGENCY = "pemkot-62.71"
REPORTER = Viewer(role=Role.REPORTER, reporter_of=CASE)
OFFICER = Viewer(role=Role.OFFICER, agency_id=AGENCY)
AGENCY_ADMIN = Viewer(role=Role.AGENCY_ADMIN, agency_id=AGENCY)
ADMIN = Viewer(role=Role.ADMIN)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", PDF),
    ],
)
def test_kind_is_read_from_the_first_bytes(data: bytes, kind) -> None:
    assert sniff(data) is kind
    assert check_file(data) is kind


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just a text file named photo.jpg\n",
        b"\xff\xd8",  # half a JPEG signature
        b"\x89PNG\r\n",  # a PNG signature cut short
        b"GIF89a\x01\x00",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"PK\x03\x04",  # a zip (or .docx)
        b" %PDF-1.7",  # the signature must come first
        b"<html><script>alert(1)</script>%PDF-",
    ],
)
def test_anything_else_is_refused_as_unsupported(data: bytes) -> None:
    assert sniff(data) is None
    with pytest.raises(AttachmentRefused) as refused:
        check_file(data)
    assert refused.value.refusal == Refusal.UNSUPPORTED_TYPE
    assert "JPEG" in refused.value.message and "PDF" in refused.value.message


def test_size_limit_is_ten_megabytes_inclusive() -> None:
    assert MAX_ATTACHMENT_BYTES == 10 * 1024 * 1024
    at_limit = PDF.magic + b"x" * (MAX_ATTACHMENT_BYTES - len(PDF.magic))
    assert check_file(at_limit) is PDF
    with pytest.raises(AttachmentRefused) as refused:
        check_file(at_limit + b"x")
    assert refused.value.refusal == Refusal.TOO_LARGE
    assert "10 MB" in refused.value.message


def test_a_case_holds_five_files() -> None:
    assert MAX_ATTACHMENTS_PER_CASE == 5
    check_count(5)
    with pytest.raises(AttachmentRefused) as refused:
        check_count(6)
    assert refused.value.refusal == Refusal.TOO_MANY


def allowed(viewer: Viewer, purpose: Purpose, status: Status = Status.AWAITING_AGENCY,
            agency_id: str | None = AGENCY) -> Refusal | None:
    try:
        check_may_add(viewer, purpose, tracking_id=CASE, agency_id=agency_id, status=status)
    except AttachmentRefused as error:
        return error.refusal
    return None


@pytest.mark.parametrize("purpose", [Purpose.REPORT, Purpose.SUPPLEMENT, Purpose.REPLY])
def test_reporter_adds_report_supplement_and_reply_while_open(purpose: Purpose) -> None:
    for status in (Status.AWAITING_VERIFICATION, Status.ON_HOLD, Status.AWAITING_AGENCY, Status.AWAITING_REPORTER):
        assert allowed(REPORTER, purpose, status) is None
    for status in (Status.COMPLETED, Status.ARCHIVED):
        assert allowed(REPORTER, purpose, status) == Refusal.CLOSED


def test_reporter_does_not_add_evidence_nor_to_another_case() -> None:
    assert allowed(REPORTER, Purpose.EVIDENCE) == Refusal.FORBIDDEN
    other = Viewer(role=Role.REPORTER, reporter_of="LAP-OTHER00000")
    assert allowed(other, Purpose.REPORT) == Refusal.FORBIDDEN


def test_staff_of_the_cases_agency_and_admins_add_evidence() -> None:
    for viewer in (OFFICER, AGENCY_ADMIN, ADMIN):
        assert allowed(viewer, Purpose.EVIDENCE) is None
        assert allowed(viewer, Purpose.REPORT) == Refusal.FORBIDDEN
    assert allowed(ADMIN, Purpose.EVIDENCE, agency_id=None) is None  # not yet forwarded


def test_everyone_else_adds_nothing() -> None:
    other_agency = Viewer(role=Role.OFFICER, agency_id="pemprov-51")
    for viewer in (other_agency, Viewer(role=Role.OBSERVER), Viewer(role=Role.CLIENT), PUBLIC):
        for purpose in Purpose:
            assert allowed(viewer, purpose) == Refusal.FORBIDDEN, (viewer, purpose)
    assert allowed(OFFICER, Purpose.EVIDENCE, agency_id=None) == Refusal.FORBIDDEN


def test_default_purpose_by_role() -> None:
    assert default_purpose(REPORTER) == Purpose.REPORT
    for viewer in (OFFICER, AGENCY_ADMIN, ADMIN):
        assert default_purpose(viewer) == Purpose.EVIDENCE
