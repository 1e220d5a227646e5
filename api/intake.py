"""Starting a case, whatever the door: the v1 API, Open311, SMS. One place for tracking ids,
Idempotency-Key claims and the opening of the workflow, so every channel gets the same lifecycle."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import reporter_token
from api.deps import Services
from api.problems import Problem
from api.schemas import SubmissionReceipt
from db.boundaries import pin_flagged, region_of_pin
from db.directory import check_region_code
from db.models import IdempotencyKey
from domain.calendar import calendar_for
from domain.chat import is_chat_address
from domain.contacts import ContactRefused, normalise_email, normalise_phone
from domain.lifecycle import CaseMachine
from domain.models import ComplaintDetails, ComplaintInput
from telemetry.metrics import CASES_SUBMITTED

TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
TRACKING_ID = re.compile(r"^LAP-[0-9A-HJKMNP-TV-Z]{10}$")
TITLE_MAX = 80
# How long an Idempotency-Key stands for its case (docs/api.md, "Idempotency-Key"); a key sent
# again later opens a new case. Shorter than any Temporal namespace retention, so a key's case is
# still known to Temporal while the key stands.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


def new_tracking_id() -> str:
    """A fresh, unguessable tracking id (a retry finds its case through the idempotency row)."""
    raw = secrets.token_bytes(10)
    number = int.from_bytes(raw[:8], "big")
    chars = [TRACKING_ALPHABET[(number >> (5 * i)) & 31] for i in range(10)]
    return "LAP-" + "".join(chars)


def body_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_idempotency_key(
    session: Session, scope_key: str, digest: str, now: datetime, ttl: timedelta = IDEMPOTENCY_KEY_TTL
) -> tuple[str, datetime]:
    """The case an idempotency scope stands for: (tracking id, submission instant). The same scope
    with a different body is a 422. A claim older than `ttl` has expired: the scope is claimed
    afresh for a new case (a new tracking id, never the old one: a case id is started once)."""
    tracking_id = new_tracking_id()  # random: a key someone guesses must not say where a case is
    session.add(IdempotencyKey(scope_key=scope_key, body_hash=digest, tracking_id=tracking_id, submitted_at=now))
    try:
        session.commit()
        return tracking_id, now
    except IntegrityError:
        session.rollback()
    # At most one taker of an expired claim: a concurrent one finds the fresh instant and no row.
    taken = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope_key == scope_key, IdempotencyKey.submitted_at < now - ttl)
        .values(body_hash=digest, tracking_id=tracking_id, submitted_at=now)
    )
    session.commit()
    if taken.rowcount == 1:
        return tracking_id, now
    existing = session.get(IdempotencyKey, scope_key, populate_existing=True)
    if existing is None or existing.body_hash != digest:
        raise Problem(422, "Idempotency-Key ini sudah dipakai untuk isi laporan yang berbeda.",
                      type_="urn:sp4n:idempotency-key-reused")
    return existing.tracking_id, existing.submitted_at


def contact_problem(field: str, refused: ContactRefused) -> Problem:
    """422 naming the field (its path in the v1 body), like FastAPI's own validation errors."""
    loc = ["body", *field.split(".")]
    return Problem(422, f"{field}: {refused}", errors=[{"loc": loc, "msg": str(refused), "type": "value_error"}])


def checked_contacts(details: ComplaintDetails, phone_country_codes: list[int]) -> ComplaintDetails:
    """The details with the reporter's e-mail and phone checked and normalised (domain/contacts.py),
    or a 422 naming the field: nothing is ever sent to a contact that did not pass."""
    reporter = details.reporter
    if reporter is not None and reporter.chat and not is_chat_address(reporter.chat):
        raise contact_problem("reporter.chat", ContactRefused("alamat chat tidak dikenali"))
    if reporter is None or not (reporter.email or reporter.phone):
        return details
    changes = {}
    try:
        if reporter.email:
            changes["email"] = normalise_email(reporter.email)
    except ContactRefused as refused:
        raise contact_problem("reporter.email", refused) from refused
    try:
        if reporter.phone:
            changes["phone"] = normalise_phone(reporter.phone, phone_country_codes)
    except ContactRefused as refused:
        raise contact_problem("reporter.phone", refused) from refused
    return details.model_copy(update={"reporter": reporter.model_copy(update=changes)})


def find_idempotency_key(session: Session, scope_key: str, now: datetime | None = None) -> str | None:
    """The tracking id an idempotency scope was claimed for, if it was and has not expired."""
    existing = session.get(IdempotencyKey, scope_key)
    if existing is None or existing.submitted_at < (now or datetime.now(timezone.utc)) - IDEMPOTENCY_KEY_TTL:
        return None
    return existing.tracking_id


async def open_case(
    svc: Services,
    session: Session | None,
    details: ComplaintDetails,
    *,
    now: datetime | None = None,
    idempotency_scope: str | None = None,
    digest: str | None = None,
) -> SubmissionReceipt:
    """Start the case's workflow (or meet the one an idempotency scope already started) and answer
    with the receipt: tracking id, reporter token, status and the deadlines of the opening.
    The reporter's contact is checked first (422 naming the field). Without an idempotency scope
    no database is needed (`session` may be None); with one, the
    claim is committed on the thread pool, never on the event loop."""
    now = now or datetime.now(timezone.utc)
    try:
        check_region_code(details.region_code)  # every door: the 38 provinces and what lies under them
    except ValueError as error:
        raise Problem(422, f"region_code {details.region_code} tidak dikenal: {error}",
                      type_="urn:sp4n:unknown-region") from error
    details = checked_contacts(details, svc.settings.phone_country_codes)  # every door comes here
    location = details.location
    if details.region_code is None and location is not None and location.lat is not None:
        # A pin without a region (Open311's lat/long, an API client's location): its regency is the
        # case's region, so the region rule holds for it too (a region-less case was routed by the
        # text alone, and the shipped model's pull took it to Kota Semarang).
        region = await run_in_threadpool(region_of_pin, location.lat, location.lon)
        if region is not None:
            details = details.model_copy(update={"region_code": region})
    pin_outside = False
    if location is not None and location.lat is not None and details.region_code:
        # Said on the receipt of every door, as the report form's map says it (the read model
        # flags it); on the thread pool: the first pin of a process reads the shapes.
        pin_outside = await run_in_threadpool(pin_flagged, details.region_code, location.lat, location.lon)
    if idempotency_scope:
        if session is None:
            raise ValueError("an idempotency scope is claimed in a database session")
        tracking_id, submitted_at = await run_in_threadpool(
            claim_idempotency_key, session, idempotency_scope, digest or body_hash(details.model_dump(mode="json")), now
        )
    else:
        tracking_id, submitted_at = new_tracking_id(), now
    # The package's calendar plus every amendment in force (an amendment declared before this case
    # is in its calendar; one declared after reaches it by the broadcast).
    policy, calendar = svc.settings.policy(), calendar_for(submitted_at, amendments=await svc.amendments())
    # The receipt's deadlines come from the same pure rules the workflow runs: intake never waits
    # for the worker.
    # The reporter's identity and place travel to Temporal only sealed under the case's own key.
    details = await run_in_threadpool(seal_personal_data, svc, tracking_id, details)
    opening = CaseMachine.open(tracking_id, details, submitted_at, policy, calendar).state
    case = ComplaintInput(
        tracking_id=tracking_id, details=opening.details, submitted_at=submitted_at, policy=policy, calendar=calendar
    )
    retry = submitted_at != now  # the key's earlier request opened this case
    if not await svc.temporal.start_case(case, opening):
        if not retry:  # a fresh random id that ran before: never hand out that case's receipt
            raise Problem(503, "Nomor laporan bentrok; kirim ulang.", headers={"Retry-After": "1"})
        # The key's case has closed: its receipt again, with its status now. Nothing starts (a
        # case id is started once, ever): a closed case never comes back by a replayed request.
        opening = await svc.temporal.state(tracking_id)
    if not retry:
        CASES_SUBMITTED.labels(details.channel.value).inc()
    return SubmissionReceipt(
        tracking_id=tracking_id,
        reporter_token=reporter_token(svc.settings.secret_keyring, tracking_id),
        status=opening.status.value,
        submitted_at=submitted_at,
        deadlines=opening.deadlines(),
        pin_outside_region=pin_outside,
    )


def seal_personal_data(svc: Services, tracking_id: str, details: ComplaintDetails) -> ComplaintDetails:
    keyring = svc.temporal.keyring
    if keyring is None:
        return details
    with svc.sessions() as session:
        return keyring.sealed_details(session, tracking_id, details)


def title_from_text(text: str, *, limit: int = TITLE_MAX) -> str:
    """A title for free text (SMS, Open311 descriptions): its first line, cut at a word boundary
    within `limit` characters (with an ellipsis when cut)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = " ".join(first.split())
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"
