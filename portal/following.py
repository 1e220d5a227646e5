"""Following a case is opt-in and bounded (issue 24): the portal was a mail relay (any address made
to follow any case, with no confirmation, no limit and no way out).

- A follow (the support form's e-mail field) sends one confirmation mail with a signed link that
  works FOLLOW_CONFIRM_HOURS; only then does the address hear of the case. The mail quotes nothing
  of the case (its title was the spam). An address with an unanswered confirmation gets no other.
- Confirmation mails per address and per client per day, followers per case, supports per client
  per minute (the dukung routes, portal/citizen.py) are capped in the shared counters.
- Every message to a follower carries List-Unsubscribe with one-click unsubscribe (RFC 8058: a
  POST without cookies to the signed link) and the same link visibly (activities/notifications.py).
- Only a public case (verified and forwarded) takes supports and follows (portal/citizen.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from activities.notifications import delivery_id
from db.notification_models import DeliveryStatus, NotificationDelivery
from db.portal_models import CaseFollower
from domain.tokens import confirm_link, follow_signature_matches
from portal.web import Page, PageDep, PortalError, check_csrf, portal_router
from workflows.delivery import DeliveryPlan, PendingDelivery
from workflows.delivery_client import delivery_plan

router = portal_router()
FOLLOW_CONFIRMATION = "follow_confirmation"
DAY_SECONDS = 24 * 3600

CONFIRMATION = {
    "id": ("Konfirmasi: ikuti laporan {id}",
           "Seseorang, semoga Anda, meminta kabar perkembangan laporan {id} dikirim ke alamat ini.\n\n"
           "Bila benar, buka tautan ini dalam {hours} jam lalu tekan \"Ya, ikuti\":\n{link}\n\n"
           "Bila bukan Anda, abaikan email ini: Anda tidak akan menerima email lain tentang laporan itu."),
    "en": ("Confirm: follow report {id}",
           "Someone, we hope you, asked for news of report {id} to be sent to this address.\n\n"
           "If so, open this link within {hours} hours and press \"Yes, follow\":\n{link}\n\n"
           "If it was not you, ignore this e-mail: you will get no other about that report."),
}


def follower_key(tracking_id: str, email: str) -> str:
    return "support:" + hashlib.sha256(f"{tracking_id}:{email.lower()}".encode()).hexdigest()[:40]


def request_follow(page: Page, session: Session, tracking_id: str, email: str) -> tuple[DeliveryPlan, str] | None:
    """Record an unconfirmed follow and its one confirmation mail (committed); what to start to send
    it, or None when nothing is sent (already following, or a confirmation still unanswered)."""
    settings, store = page.svc.settings, page.svc.throttle
    now = datetime.now(timezone.utc)
    fresh_after = now - timedelta(hours=settings.follow_confirm_hours)
    key = follower_key(tracking_id, email)
    existing = session.get(CaseFollower, (tracking_id, key))
    if existing is not None:
        if existing.confirmed_at is not None or existing.created_at > fresh_after:
            return None
        session.delete(existing)  # its link expired unanswered: asking again is a new request
        session.flush()
    unanswered = session.scalar(select(CaseFollower.tracking_id).where(
        CaseFollower.email == email, CaseFollower.confirmed_at.is_(None), CaseFollower.created_at > fresh_after,
    ).limit(1))
    if unanswered is not None:
        return None  # one unanswered confirmation per address at a time: a stranger gets one mail
    followers = session.scalar(select(func.count()).select_from(CaseFollower).where(
        CaseFollower.tracking_id == tracking_id, CaseFollower.source_tracking_id.is_(None)))
    if followers >= settings.followers_per_case_max:
        raise PortalError(429, "follow.limit")
    for purpose, value, cap in (("follow-client", page.caller.client_key, settings.follow_requests_per_client_per_day),
                                ("follow-address", email.lower(), settings.follow_requests_per_address_per_day)):
        if store.count_in_window(store.key(purpose, value), DAY_SECONDS).count > cap:
            raise PortalError(429, "follow.limit")
    expires = int((now + timedelta(hours=settings.follow_confirm_hours)).timestamp())
    language = page.language if page.language in CONFIRMATION else "id"
    subject, body = CONFIRMATION[language]
    link = confirm_link(settings.base_url, settings.secret_keyring, tracking_id, key, expires)
    delivery_key = f"{tracking_id}:follow:{key}:{expires}"
    session.add(CaseFollower(tracking_id=tracking_id, follower_key=key, email=email, language=language,
                             created_at=now, confirmed_at=None))
    session.add(NotificationDelivery(
        id=delivery_id(delivery_key), key=delivery_key, outbox_key=delivery_key, tracking_id=tracking_id,
        event_seq=0, event=FOLLOW_CONFIRMATION, party="follower", recipient_ref="follower:support",
        channel="email", address=email, language=language, subject=subject.format(id=tracking_id),
        body_text=body.format(id=tracking_id, hours=settings.follow_confirm_hours, link=link), body_html=None,
        status=DeliveryStatus.PENDING.value, attempts=0, resends=0, next_attempt_at=now, created_at=now,
    ))
    session.commit()
    plan = delivery_plan(settings, deliveries=[PendingDelivery(id=delivery_id(delivery_key), channel="email")])
    return plan, f"follow-confirm:{delivery_id(delivery_key)}"


async def start_confirmation(page: Page, started: tuple[DeliveryPlan, str] | None) -> None:
    """Send the confirmation mail through Temporal (a DeliveryWorkflow for that one mail)."""
    if started is not None:
        plan, workflow_id = started
        await page.svc.temporal.start_delivery(page.svc.settings, plan, workflow_id)


# --- the links of the mails -------------------------------------------------------------------


def _follower(page: Page, purpose: str, kasus: str, f: str, sig: str, exp: int = 0) -> CaseFollower:
    keyring = page.svc.settings.secret_keyring
    if not follow_signature_matches(keyring, purpose, kasus, f, exp, sig):
        raise PortalError(404, "follow.link_invalid")
    if purpose == "confirm" and exp < datetime.now(timezone.utc).timestamp():
        raise PortalError(410, "follow.link_expired")
    with page.svc.sessions() as session:
        follower = session.get(CaseFollower, (kasus, f))
        if follower is None:
            raise PortalError(404, "follow.link_invalid")
        session.expunge(follower)
        return follower


@router.get("/ikuti/konfirmasi")
async def confirm_page(page: PageDep, kasus: str = "", f: str = "", exp: int = 0, sig: str = "") -> HTMLResponse:
    """Opening the link only asks (mail scanners open links): the button confirms."""
    follower = await run_in_threadpool(_follower, page, "confirm", kasus, f, sig, exp)
    return page.render("follow.html", tracking_id=kasus, step="confirmed" if follower.confirmed_at else "confirm")


@router.post("/ikuti/konfirmasi")
async def confirm(page: PageDep, kasus: str = "", f: str = "", exp: int = 0, sig: str = "") -> HTMLResponse:
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)
    await run_in_threadpool(_follower, page, "confirm", kasus, f, sig, exp)

    def confirmed() -> None:
        with page.svc.sessions.begin() as session:
            follower = session.get(CaseFollower, (kasus, f))
            if follower is not None and follower.confirmed_at is None:
                follower.confirmed_at = datetime.now(timezone.utc)

    await run_in_threadpool(confirmed)
    return page.render("follow.html", tracking_id=kasus, step="confirmed")


@router.get("/ikuti/berhenti")
async def unsubscribe_page(page: PageDep, kasus: str = "", f: str = "", sig: str = "") -> HTMLResponse:
    await run_in_threadpool(_follower, page, "unsubscribe", kasus, f, sig)
    return page.render("follow.html", tracking_id=kasus, step="unsubscribe")


@router.post("/ikuti/berhenti")
async def unsubscribe(page: PageDep, kasus: str = "", f: str = "", sig: str = "") -> HTMLResponse:
    """One click (RFC 8058): the mail provider POSTs `List-Unsubscribe=One-Click` to the link, with no
    cookie and no form of ours; the signature is the authority. Unknown or gone: the same answer."""
    if not follow_signature_matches(page.svc.settings.secret_keyring, "unsubscribe", kasus, f, 0, sig):
        raise PortalError(404, "follow.link_invalid")

    def stopped() -> None:
        with page.svc.sessions.begin() as session:
            follower = session.get(CaseFollower, (kasus, f))
            if follower is not None:
                session.delete(follower)

    await run_in_threadpool(stopped)
    return page.render("follow.html", tracking_id=kasus, step="unsubscribed")
