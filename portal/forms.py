"""What the portal's forms share: parsing a form into a request model, the files of a form
(checked and cleaned before anything is stored), and the agency choices of the agency fields."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.datastructures import UploadFile
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.attachments import check_may_store, store_attachment, upload_submitter
from api.auth import Caller
from api.cleaning import CleanFile
from api.problems import Problem
from db.models import REGIONAL_KINDS, Agency
from domain.attachments import MAX_ATTACHMENTS_PER_CASE, Purpose
from domain.region_rule import may_propose
from domain.visibility import CaseView
from portal.web import Page, describe_errors

log = structlog.get_logger("sp4n.portal")


def problem_text(page: Page, problem: Problem) -> str:
    """A problem's message in the page's language (English where the problem has one)."""
    if page.language == "en":
        return problem.extensions.get("detail_en") or problem.detail
    return problem.detail


def page_submitter(page: Page) -> str:
    """Whose daily upload quota the page's files count against (api.attachments.upload_submitter)."""
    return upload_submitter(page.caller, page.request.client.host if page.request.client else None)


async def uploaded_files(
    page: Page, form: Any, *, case: CaseView | None = None, added_by: Caller | None = None, field: str = "attachments",
) -> tuple[list[CleanFile], list[str]]:
    """The files of a form field, checked and cleaned (api/attachments.py) before anything is
    stored, so that a bad file, or no room for files, sends the person back to the form rather
    than half a report. `case` is None for a case not opened yet."""
    files = [f for f in form.getlist(field) if isinstance(f, UploadFile) and f.filename]
    if not files:
        return [], []
    if len(files) > MAX_ATTACHMENTS_PER_CASE:
        return [], [page.t("form.files.too_many", count=MAX_ATTACHMENTS_PER_CASE)]
    uploads, submitter = page.svc.uploads, page_submitter(page)
    try:
        for _ in files:
            await run_in_threadpool(uploads.pace.check, submitter)
        with page.svc.sessions() as session:
            await run_in_threadpool(check_may_store, session, page.svc.storage, uploads.quotas, case=case,
                                    added_by=added_by or page.caller, submitter=submitter, files=len(files))
    except Problem as problem:
        return [], [problem_text(page, problem)]
    cleaned, errors = [], []
    for index, upload in enumerate(files, start=1):
        try:
            cleaned.append(await uploads.clean(await upload.read()))
        except Problem as problem:
            errors.append(f"{page.t('form.file', number=index)}: {problem_text(page, problem)}")
    return cleaned, errors


def store_files(page: Page, case: CaseView, files: list[CleanFile], purpose: Purpose, caller: Caller,
                event_seq: int | None = None) -> list[str]:
    """Store cleaned files (`event_seq`: the timeline event they document); answer with what could
    not be stored."""
    problems = []
    submitter = page_submitter(page)
    with page.svc.sessions() as session:
        for index, file in enumerate(files, start=1):
            try:
                store_attachment(session, page.svc.storage, page.svc.uploads.quotas, case=case, added_by=caller,
                                 file=file, submitter=submitter, purpose=purpose, event_seq=event_seq)
            except Problem as problem:
                problems.append(f"{page.t('form.file', number=index)}: {problem_text(page, problem)}")
            except Exception:  # the case exists already: the person must still get its receipt
                log.exception("attachment not stored", tracking_id=case.tracking_id, index=index)
                session.rollback()
                problems.append(f"{page.t('form.file', number=index)}: {page.t('form.file.not_stored')}")
    return problems


def parse(model, **data):
    """A request body from form fields; what is wrong is told to the person (422 page)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Problem(422, describe_errors(error)) from error


def agency_choices(page: Page) -> list[tuple[str, str]]:
    """Every active agency (id, name) by name: one <datalist> per page for the agency fields."""
    with page.svc.sessions() as session:
        return [tuple(row) for row in session.execute(
            select(Agency.id, Agency.name).where(Agency.active).order_by(Agency.name)).all()]


def resolve_agency(page: Page, typed: str) -> str:
    """A body's id from what was typed in an agency field: its id, or a name (or words of one)
    that names exactly one active body. Anything else is passed on for the API to refuse."""
    typed = " ".join(typed.split())[:300]
    if not typed:
        return ""
    from db.directory import list_agencies

    with page.svc.sessions() as session:
        if session.get(Agency, typed) is not None:
            return typed
        exact = list(session.scalars(select(Agency.id).where(Agency.active, func.lower(Agency.name) == typed.lower())))
        if len(exact) == 1:
            return exact[0]
        found = list_agencies(session, q=typed, limit=2)
        return found[0].id if len(found) == 1 else typed


def outside_the_region(session: Session, agency_id: str, region_code: str | None) -> Agency | None:
    """The agency when it is another region's government than the case's: choosing it needs a
    confirmation (the region rule, domain/region_rule.py)."""
    agency = session.get(Agency, agency_id) if region_code and agency_id else None
    if agency is None or agency.kind not in REGIONAL_KINDS or not agency.region_code:
        return None
    return None if may_propose(regional=True, body_region=agency.region_code, case_region=region_code) else agency
