"""Delivers the notification outbox: email (SMTP), SMS (HTTP gateway) and signed webhooks.

`project_case` (activities/records.py) writes one outbox row per (event, party) in the same
transaction as the read model and, in that transaction too, expands them (`expand_rows`); the
case's workflow then sends what is pending (workflows/delivery.py `send_planned`). Cases still on
the older code (`record_case`), an administrator's resend and a notice without a case go through a
`DeliveryWorkflow` instead. The activities here:

1. expanding (`expand_rows` in the projection, `expand_outbox` in a DeliveryWorkflow) turns a row
   into deliveries, one per (case, event seq, party, channel,
   address) — the unique `key` — resolving the party to people (the reporter's contact from the
   complaint row; staff from `api_tokens` and `notification_preferences`) and to the webhooks
   that subscribe to the event, rendering each message (domain/messages.py) in the recipient's
   language. Re-expanding inserts nothing new (ON CONFLICT DO NOTHING on the key).
2. `send_email`, `send_sms`, `send_webhook`, `send_chat` (each on its channel's own task queue; for a case's
   projection `send_email_batch` / `send_sms_batch` / `send_chat_batch`, that channel's deliveries in one activity) mark the
   delivery `sending`, send it and record the outcome: `sent`; or, when the channel certainly did
   not accept it, `pending` again and Temporal retries it after an exponential backoff until the
   attempts run out: `failed` (the dead letter); a refusal for good (SMTP 5xx, HTTP 4xx, a webhook
   target the guard refuses) is `failed` at once. When the channel *may* have accepted it (a
   timeout after the message went out, a worker killed between send and record), the delivery
   becomes `uncertain` and is never resent automatically: an administrator looks and resends it
   (`POST /v1/notifications/{id}/resend`, which starts the workflow again for that delivery).
3. `conclude_delivery` (`conclude_deliveries` for a batch) settles a delivery whose attempts ran
   out without a recorded outcome.

Exactly once as far as the channel allows: emails carry a Message-ID derived from the key, SMS
gateway calls and webhooks carry the delivery id, so a receiver can drop the duplicate that an
administrator's resend of an `uncertain` delivery may cause.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

import httpx
import structlog
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.webhook_targets import TargetRefused, check_target, pinned_request
from config import Settings
from db.models import Agency, ApiToken, Complaint, EscalationRow, NotificationRow, TimelineEventRow, utc_now
from db.portal_models import CaseFollower
from db.notification_models import (
    DeliveryChannel,
    DeliveryStatus,
    NotificationDelivery,
    NotificationPreference,
    Webhook,
)
from db.privacy import WITHDRAWN_CONSENT, CaseKeyring, may_contact_reporter
from db.upsert import insert_ignoring_duplicates
from domain.contacts import INDONESIA, usable_email, usable_phone
from domain.enums import Action, Party, Role
from domain.tokens import keyed_digest, private_link, unsubscribe_link
from domain.messages import DEFAULT_LANGUAGE, MessageContext, is_essential, render, template_for, with_unsubscribe
from telemetry.metrics import DELIVERIES
from workflows.delivery import (BATCH_PARALLEL, NOT_ACCEPTED, REFUSED, UNCERTAIN as UNCERTAIN_ERROR, DeliveryPlan,
                                PendingDelivery, SendBatch, SendRequest)
from workflows.delivery_client import delivery_plan, outbox_workflow_id

log = structlog.get_logger("sp4n.notifications")

OUTBOX_PENDING, OUTBOX_EXPANDED = "pending", "expanded"
STAFF_ROLE = {
    Party.NATIONAL_ADMIN: Role.ADMIN,
    Party.AGENCY_ADMIN: Role.AGENCY_ADMIN,
    Party.OFFICER: Role.OFFICER,
    Party.OMBUDSMAN: Role.OBSERVER,
}
SIGNATURE_HEADER = "X-SP4N-Signature"

# The statements every delivery runs, built once (their construction and cache keys were a
# measurable share of the worker's CPU per case, issue 25).
_DELIVERIES, _OUTBOX = NotificationDelivery.__table__, NotificationRow.__table__
DELETE_DELIVERY_BY_KEY = delete(_DELIVERIES).where(_DELIVERIES.c.key == bindparam("delivery_key"))
MARK_OUTBOX_EXPANDED = update(_OUTBOX).where(
    _OUTBOX.c.key == bindparam("outbox_key"), _OUTBOX.c.status == OUTBOX_PENDING,
).values(status=OUTBOX_EXPANDED, sent_at=bindparam("expanded_at"))
# `uncertain` too: an attempt that outlived its time may still learn it was accepted.
MARK_SENT = update(_DELIVERIES).where(
    _DELIVERIES.c.id == bindparam("delivery_id"),
    _DELIVERIES.c.status.in_([DeliveryStatus.SENDING.value, DeliveryStatus.UNCERTAIN.value]),
).values(status=DeliveryStatus.SENT.value, sent_at=bindparam("delivered_at"), lease_until=None, last_error=None)


def delivery_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook signature: hex HMAC-SHA256 of `<timestamp>.<body>` under the webhook's secret."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300,
                     now: float | None = None) -> bool:
    """What a receiver does (docs/notifications.md, Webhooks): parse `t=..,v1=..`, check the age, compare in constant time."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(parts.get("v1", ""), sign(secret, timestamp, body))


# --- channels --------------------------------------------------------------------------------


class DeliveryError(Exception):
    """What a channel says of a failed send. `str()` is the short reason shown to administrators
    and kept in Temporal's history: "refused", "failed" or "timeout" and a cause, never the
    recipient's address nor a receiver's answer; `detail` adds what a national administrator may
    read in the delivery log."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail

    def for_log(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


class Refused(DeliveryError):
    """The channel certainly did not take the message, and another attempt will not change that
    (a webhook target the guard refuses, SMTP 5xx, HTTP 4xx, a channel not configured)."""


class NotAccepted(DeliveryError):
    """The channel certainly did not take the message: safe to retry."""


class Uncertain(DeliveryError):
    """The channel may have taken the message: never resent without an administrator."""


@dataclass(frozen=True)
class Outgoing:
    """A delivery being sent, detached from the session."""

    id: str
    key: str
    tracking_id: str
    event: str
    channel: str
    address: str | None
    subject: str | None
    body_text: str
    body_html: str | None
    webhook_id: str | None
    webhook_secret: str | None
    attempts: int
    list_unsubscribe: str | None = None


def compose_email(out: Outgoing, sender: str) -> Message:
    """The message as sent: plain text, and HTML beside it when there is one.

    Built with the email package's compat32 classes: the default policy's EmailMessage parses every
    header it is given through its header registry, ~3.7 ms of CPU per message against ~1.3 ms
    here (issue 25). Text that may hold anything (the subject names the case's title) is always
    encoded (RFC 2047), so no line break in it can start a header."""
    message: Message = MIMEText(out.body_text, "plain", "utf-8")
    if out.body_html:
        alternative = MIMEMultipart("alternative")
        alternative.attach(message)
        alternative.attach(MIMEText(out.body_html, "html", "utf-8"))
        message = alternative
    message["From"] = formataddr(parseaddr(sender), "utf-8")
    message["To"] = formataddr(("", out.address or ""), "utf-8")
    message["Subject"] = Header(out.subject or "", "utf-8")
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "sp4n.localhost"
    message["Message-ID"] = f"<{out.id}@{domain}>"
    message["X-SP4N-Delivery"] = out.id
    if out.list_unsubscribe:  # a follower's message: one click stops it (RFC 8058)
        message["List-Unsubscribe"] = f"<{out.list_unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def smtp_failure(error: BaseException, *, message_sent: bool) -> DeliveryError | None:
    """What an SMTP error says of the delivery (None: not an SMTP error, let it be). A reply code
    decides refused for good (5xx) or not accepted (4xx); a connection lost once the message was on
    its way may have left it queued (uncertain), before that it was not accepted."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        kind = Refused if all(code >= 500 for code in codes) else NotAccepted
        return kind(f"refused: SMTP {'/'.join(map(str, codes))} for the recipient", repr(error))
    if isinstance(error, smtplib.SMTPResponseException):  # MAIL, RCPT, DATA, HELO, STARTTLS, AUTH
        kind = Refused if error.smtp_code >= 500 else NotAccepted
        return kind(f"refused: SMTP {error.smtp_code}", repr(error))
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return Refused("refused: the SMTP server does not support what is configured", repr(error))
    if isinstance(error, OSError):  # the connection dropped or timed out (SMTPException is an OSError)
        if message_sent:
            return Uncertain("timeout: the SMTP connection was lost before the answer", repr(error))
        return NotAccepted("failed: cannot connect to the SMTP server", repr(error))
    return None


class EmailChannel:
    """Sends over SMTP, keeping a few connections open between messages: a new connection costs
    a handshake (TLS and login in production) per message. A kept connection is asked `NOOP`
    before it carries a message, and any trouble closes it, so a connection the server has since
    dropped costs a reconnect, never a message: nothing of a message is sent before that answer."""

    KEEP = 8  # connections kept open (the email channel's concurrency is usually lower)
    IDLE_SECONDS = 30.0  # well inside common servers' idle limits (Postfix: 300 s)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._idle: list[tuple[float, smtplib.SMTP]] = []
        self._lock = threading.Lock()

    def send(self, out: Outgoing) -> None:
        s = self.settings
        if not s.smtp_host:
            raise Refused("failed: email is not configured (SMTP_HOST)")
        message = compose_email(out, s.smtp_from)
        client = self._kept() or self._connect()
        try:
            # A refusal with a reply code (MAIL, RCPT or DATA answered 4xx/5xx) means not taken.
            # Nothing of the message is accepted before DATA's final "250".
            client.send_message(message)
        except BaseException as error:
            self._close(client)
            raise smtp_failure(error, message_sent=True) or error
        self._keep(client)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp_class = smtplib.SMTP_SSL if s.smtp_ssl else smtplib.SMTP
            client = smtp_class(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        except (socket.timeout, TimeoutError) as error:
            raise NotAccepted("timeout: the SMTP server did not answer", repr(error)) from error
        except (OSError, smtplib.SMTPException) as error:  # refused, unreachable, greeting refused
            raise NotAccepted("failed: cannot connect to the SMTP server", repr(error)) from error
        try:  # nothing of a message has been sent yet: a failure here never leaves one uncertain
            if s.smtp_starttls:
                client.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                client.login(s.smtp_username, s.smtp_password or "")
        except BaseException as error:
            self._close(client)
            raise smtp_failure(error, message_sent=False) or error
        return client

    def _kept(self) -> smtplib.SMTP | None:
        """A kept connection that still answers, or None."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                since, client = self._idle.pop()
            if time.monotonic() - since < self.IDLE_SECONDS:
                try:
                    if client.noop()[0] == 250:
                        return client
                except (smtplib.SMTPException, OSError):
                    pass
            self._close(client)

    def _keep(self, client: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self.KEEP:
                self._idle.append((time.monotonic(), client))
                return
        self._close(client)

    @staticmethod
    def _close(client: smtplib.SMTP) -> None:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, client in idle:
            self._close(client)


class HttpChannel:
    """Common to SMS gateways and webhooks: a JSON POST; 2xx means accepted. Redirects are not
    followed; the receiver's answer is never repeated in an error."""

    def __init__(self, connect_seconds: float, read_seconds: float) -> None:
        timeout = httpx.Timeout(read_seconds, connect=connect_seconds)
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def post(self, url: str, body: bytes, headers: dict[str, str], extensions: dict[str, Any] | None = None) -> None:
        try:
            response = self.client.post(url, content=body, extensions=extensions or {},
                                        headers={"Content-Type": "application/json", **headers})
        except httpx.ConnectTimeout as error:
            raise NotAccepted("timeout: the receiver did not accept the connection", repr(error)) from error
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            raise NotAccepted("failed: cannot connect to the receiver", repr(error)) from error
        except httpx.TimeoutException as error:  # the request went out, no answer
            raise Uncertain("timeout: no answer from the receiver (it may have received the message)",
                            type(error).__name__) from error
        except httpx.HTTPError as error:  # connection reset after the request went out
            raise Uncertain("failed: the connection was lost before the answer (it may have received the message)",
                            type(error).__name__) from error
        code = response.status_code
        if 200 <= code < 300:
            return
        if 300 <= code < 400:
            raise Refused(f"refused: HTTP {code} (redirects are not followed)")
        if 400 <= code < 500 and code not in (408, 425, 429):
            raise Refused(f"refused: HTTP {code}")
        raise NotAccepted(f"failed: HTTP {code}")

    def close(self) -> None:
        self.client.close()


class SmsChannel(HttpChannel):
    """A generic gateway: POST {to, message, reference} with `Authorization: Bearer <token>`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.sms_connect_timeout_seconds, settings.sms_read_timeout_seconds)
        self.url, self.token = settings.sms_gateway_url, settings.sms_gateway_token

    def send(self, out: Outgoing) -> None:
        if not self.url:
            raise Refused("failed: SMS is not configured (SMS_GATEWAY_URL)")
        body = json.dumps({"to": out.address, "message": out.body_text, "reference": out.id}).encode()
        headers = {"Idempotency-Key": out.id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.post(self.url, body, headers)


class WebhookChannel(HttpChannel):
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings.webhook_connect_timeout_seconds, settings.webhook_read_timeout_seconds)
        self.clock = clock
        self.allowed_hosts = settings.webhook_allowed_hosts

    def send(self, out: Outgoing) -> None:
        assert out.address and out.webhook_secret is not None
        try:  # checked again at each send: DNS may point elsewhere since registration
            target = check_target(out.address, self.allowed_hosts)
        except TargetRefused as error:
            raise Refused(f"refused: {error}") from error
        url, host_header, extensions = pinned_request(target)
        body = out.body_text.encode()
        timestamp = int(self.clock())
        self.post(url, body, {
            **host_header,
            SIGNATURE_HEADER: signature_header(out.webhook_secret, timestamp, body),
            "X-SP4N-Event": out.event,
            "X-SP4N-Delivery": out.id,
        }, extensions)


def chat_channel(settings: Settings, sessions: sessionmaker[Session]) -> Any:
    """The chat channel (activities/chat.py builds on this module's HTTP channel and errors)."""
    from activities.chat import ChatChannel  # noqa: PLC0415 - it imports this module

    return ChatChannel(settings, sessions)


# --- who hears it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    recipient_ref: str  # "reporter" or "token:<id>"
    channel: DeliveryChannel
    address: str
    language: str
    opted_out: bool
    follower_key: str | None = None  # a follower's: their messages carry a one-click unsubscribe


def _channels_for(pref: NotificationPreference | None, email: str | None, phone: str | None,
                  phone_country_codes: Collection[int] = (INDONESIA,)) -> list[tuple[DeliveryChannel, str]]:
    # Only an address that passes domain/contacts.py's checks, whatever was stored before them.
    available = {DeliveryChannel.EMAIL: usable_email(email),
                 DeliveryChannel.SMS: usable_phone(phone, phone_country_codes)}
    wanted = [DeliveryChannel(c) for c in (pref.channels if pref and pref.channels else []) if c in available]
    if not wanted:  # default: email, else SMS
        wanted = [DeliveryChannel.EMAIL] if available[DeliveryChannel.EMAIL] else [DeliveryChannel.SMS]
    return [(channel, available[channel]) for channel in wanted if available[channel]]


def resolve_targets(session: Session, row: NotificationRow, complaint: Complaint | None,
                    phone_country_codes: Collection[int] = (INDONESIA,)) -> list[Target]:
    """The people an outbox row's party stands for, with their addresses and language. A
    reporter's contact comes from their own case's row only, for their own case's messages."""
    party = Party(row.recipient)
    essential = is_essential(row.event, party)
    if party == Party.FOLLOWER:
        return follower_targets(session, row.tracking_id, essential, phone_country_codes)
    if party == Party.REPORTER:
        if complaint is None or not may_contact_reporter(session, complaint.tracking_id):
            return []
        pref = session.get(NotificationPreference, f"reporter:{complaint.tracking_id}")
        if complaint.reporter_chat:  # a report from a chat hears of its case in that chat
            if row.event == Action.SUBMIT.value:
                return []  # the conversation answered KIRIM with the receipt already (workflows/chat.py)
            return [Target("reporter", DeliveryChannel.CHAT, complaint.reporter_chat,
                           pref.language if pref else DEFAULT_LANGUAGE,
                           bool(pref and pref.opt_out_non_essential and not essential))]
        phone = (pref.phone if pref and pref.phone else None) or complaint.reporter_phone
        return [
            Target("reporter", channel, address, (pref.language if pref else DEFAULT_LANGUAGE),
                   bool(pref and pref.opt_out_non_essential and not essential))
            for channel, address in _channels_for(pref, complaint.reporter_email, phone, phone_country_codes)
        ]
    query = select(ApiToken).where(ApiToken.role == STAFF_ROLE[party].value, ApiToken.revoked_at.is_(None))
    if party in (Party.AGENCY_ADMIN, Party.OFFICER):
        if row.agency_id is None:
            return []
        query = query.where(ApiToken.agency_id == row.agency_id)
    targets: list[Target] = []
    for token in session.scalars(query.order_by(ApiToken.created_at, ApiToken.id)):
        pref = session.get(NotificationPreference, f"token:{token.id}")
        if party == Party.OFFICER and pref and pref.unit_id and pref.unit_id != row.unit_id:
            continue  # an officer of another unit of the same agency
        for channel, address in _channels_for(pref, token.email, pref.phone if pref else None, phone_country_codes):
            targets.append(Target(f"token:{token.id}", channel, address,
                                  pref.language if pref else DEFAULT_LANGUAGE,
                                  bool(pref and pref.opt_out_non_essential and not essential)))
    return targets


def reporters_case(delivery: NotificationDelivery) -> str | None:
    """The case whose reporter a delivery goes to (their own case, or the case they follow as a
    merged duplicate's reporter); None for staff, webhooks and supporters."""
    if delivery.recipient_ref == "reporter":
        return delivery.tracking_id
    owner = delivery.recipient_ref.removeprefix("follower:")
    if owner != delivery.recipient_ref and owner != "support":
        return owner
    return None


def follower_targets(session: Session, tracking_id: str, essential: bool,
                     phone_country_codes: Collection[int] = (INDONESIA,)) -> list[Target]:
    """The followers of a case: merged duplicates' reporters (their contact and preferences from
    their own case) and supporters who left an address. Nobody's identity crosses over: each is
    told of the case, never of who else reported or follows it."""
    targets: list[Target] = []
    for follower in session.scalars(
        select(CaseFollower).where(CaseFollower.tracking_id == tracking_id).order_by(CaseFollower.created_at)
    ):
        if follower.source_tracking_id:
            own = session.get(Complaint, follower.source_tracking_id)
            if own is None or not may_contact_reporter(session, own.tracking_id):
                continue
            pref = session.get(NotificationPreference, f"reporter:{own.tracking_id}")
            if own.reporter_chat:
                targets.append(Target(f"follower:{own.tracking_id}", DeliveryChannel.CHAT, own.reporter_chat,
                                      pref.language if pref else DEFAULT_LANGUAGE,
                                      bool(pref and pref.opt_out_non_essential and not essential),
                                      follower.follower_key))
                continue
            phone = (pref.phone if pref and pref.phone else None) or own.reporter_phone
            targets += [
                Target(f"follower:{own.tracking_id}", channel, address, pref.language if pref else DEFAULT_LANGUAGE,
                       bool(pref and pref.opt_out_non_essential and not essential), follower.follower_key)
                for channel, address in _channels_for(pref, own.reporter_email, phone, phone_country_codes)
            ]
        elif follower.confirmed_at is None:
            continue  # a supporter's address hears nothing until its owner confirmed (issue 24)
        elif address := usable_email(follower.email):  # checked like every contact (domain/contacts.py)
            targets.append(Target("follower:support", DeliveryChannel.EMAIL, address, follower.language, False,
                                  follower.follower_key))
    return targets


def matching_webhooks(session: Session, row: NotificationRow) -> list[Webhook]:
    """Active webhooks of the case's agency, and administrators' (agency-less) ones, for this event."""
    if not row.tracking_id:
        return []
    scope = Webhook.agency_id.is_(None)
    if row.agency_id:
        scope = or_(scope, Webhook.agency_id == row.agency_id)
    hooks = session.scalars(select(Webhook).where(Webhook.active.is_(True), scope).order_by(Webhook.id))
    kind = row.event.split(":", 1)[0]
    return [h for h in hooks if not h.event_types or row.event in h.event_types or kind in h.event_types]


def message_context(session: Session, row: NotificationRow, complaint: Complaint | None, language: str) -> MessageContext:
    """What the templates may say about one outbox event (never the reporter's identity)."""
    payload = row.payload or {}
    note = summary = None
    unit_id = row.unit_id
    agency_id = row.agency_id
    if row.tracking_id and ":" not in row.event:
        event = session.get(TimelineEventRow, (row.tracking_id, row.event_seq))
        if event is not None:
            note, unit_id, agency_id = event.note, event.unit_id or unit_id, event.agency_id or agency_id
    elif row.tracking_id:
        escalation = session.get(EscalationRow, (row.tracking_id, row.event_seq))
        summary = escalation.summary if escalation else None
    agency = session.get(Agency, agency_id) if agency_id else None
    reason = complaint.archive_reason if complaint is not None else None
    return MessageContext(
        tracking_id=row.tracking_id,
        event=row.event,
        party=Party(row.recipient),
        language=language,
        title=complaint.title if complaint is not None else "",
        status=str(payload.get("status") or ""),
        at=payload.get("at"),  # type: ignore[arg-type]
        due_at=payload.get("due_at"),  # type: ignore[arg-type]
        agency_name=agency.name if agency else agency_id,
        unit_id=unit_id,
        note=note if row.event not in ("reject", "hold_expired") or note != reason else None,
        archive_reason=reason if row.event in ("reject", "hold_expired") else None,
        rating=complaint.rating if complaint is not None and row.event == "rate" else None,
        summary=summary,
        extra={k: str(v) for k, v in payload.items() if k in ("webhook_id", "url", "failures")},
    )


def pending_deliveries(session: Session, outbox_keys: Sequence[str]) -> list[PendingDelivery]:
    """What is still to send of these outbox rows (a channel, not `none`), in key order."""
    pending = session.scalars(
        select(NotificationDelivery).where(
            NotificationDelivery.outbox_key.in_(outbox_keys),
            NotificationDelivery.status == DeliveryStatus.PENDING.value,
            NotificationDelivery.channel != DeliveryChannel.NONE.value,
        ).order_by(NotificationDelivery.key)
    )
    return [PendingDelivery(id=d.id, channel=d.channel) for d in pending]


def webhook_body(row: NotificationRow, delivery: str) -> str:
    """What a webhook receives: the event, never the reporter's identity nor free text."""
    payload = row.payload or {}
    return json.dumps({
        "delivery_id": delivery,
        "event": row.event,
        "tracking_id": row.tracking_id,
        "event_seq": row.event_seq,
        "agency_id": row.agency_id,
        "unit_id": row.unit_id,
        "status": payload.get("status"),
        "at": payload.get("at"),
        "due_at": payload.get("due_at"),
    }, separators=(",", ":"), sort_keys=True)


# --- the activities ----------------------------------------------------------------------------

UNRECORDED = ("timeout: the attempt stopped (worker stopped or no answer in time) before its outcome "
              "was recorded; not resent automatically (the channel may have accepted it)")


class DeliveryActivities:
    """What DeliveryWorkflow (workflows/delivery.py) runs: expanding an outbox row into
    deliveries, sending one delivery over its channel, and settling one whose attempts ran out.

    Every step is one short transaction on the delivery's row, which carries its state:
    `pending` → `sending` (committed before the channel is called) → `sent`; back to `pending`
    when the channel certainly refused and Temporal will retry; `failed` when refused for good or
    out of attempts; `uncertain` when the channel may have it. An attempt that finds its delivery
    still `sending` knows the previous one stopped between sending and recording, so it records
    `uncertain` and sends nothing.
    """

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, starter: Any = None, *,
                 channels: dict[str, Any] | None = None, now: Callable[[], datetime] = utc_now) -> None:
        self.sessions, self.settings, self.starter, self.now = sessions, settings, starter, now
        self.keyring = CaseKeyring(settings.payload_keys)
        self.channels = channels or {
            DeliveryChannel.EMAIL.value: EmailChannel(settings),
            DeliveryChannel.SMS.value: SmsChannel(settings),
            DeliveryChannel.WEBHOOK.value: WebhookChannel(settings),
            DeliveryChannel.CHAT.value: chat_channel(settings, sessions),
        }

    # expanding -------------------------------------------------------------------------------

    @activity.defn(name="expand_outbox")
    def expand_outbox(self, outbox_key: str) -> list[PendingDelivery]:
        """The row's deliveries still to send (expanding it first; safe to repeat)."""
        with self.sessions.begin() as session:
            row = session.get(NotificationRow, outbox_key)
            if row is None:
                return []
            self._expand(session, row)
        with self.sessions() as session:
            return pending_deliveries(session, [outbox_key])

    def expand_rows(self, session: Session, outbox_keys: Sequence[str]) -> DeliveryPlan | None:
        """In the projection's own transaction (activities/records.py): expand the outbox rows
        it wrote (those not expanded yet) and plan the sending of what is pending among them."""
        if not outbox_keys:
            return None
        rows = session.scalars(select(NotificationRow).where(NotificationRow.key.in_(outbox_keys),
                                                             NotificationRow.status == OUTBOX_PENDING))
        for row in list(rows):
            self._expand(session, row)
        pending = pending_deliveries(session, outbox_keys)
        return delivery_plan(self.settings, deliveries=pending) if pending else None

    def _address_digest(self, session: Session, row: NotificationRow, target: Target) -> str:
        """The address's part of a delivery's key (and so of its id, which Temporal's histories
        carry): keyed with the key of the case whose reporter it is (a follower's own case), so
        that once that case's personal data is erased nobody can test a guessed phone number
        against it (docs/privacy.md); staff and cases without a key use SECRET_KEY."""
        owner = target.recipient_ref.removeprefix("follower:") if target.recipient_ref.startswith("follower:") \
            else row.tracking_id
        case_key = self.keyring.case_key(session, owner) if owner and owner != "support" else None
        secret = case_key or self.settings.secret_key.encode()
        return hmac.new(secret, target.address.lower().encode(), hashlib.sha256).hexdigest()[:12]

    def _expand(self, session: Session, row: NotificationRow) -> None:
        complaint = session.get(Complaint, row.tracking_id) if row.tracking_id else None
        now = self.now()
        base = row.key.removesuffix(":outbox")
        deliveries: list[dict[str, Any]] = []
        targets = resolve_targets(session, row, complaint, self.settings.phone_country_codes)
        for target in targets:
            if template_for(row.event, row.recipient, target.language) is None:
                continue
            context = message_context(session, row, complaint, target.language)
            if row.recipient == Party.REPORTER.value and row.tracking_id and self.settings.public_base_url:
                context = replace(context, link=private_link(
                    self.settings.public_base_url, row.tracking_id, self.settings.secret_keyring))
            elif row.recipient == Party.FOLLOWER.value and row.tracking_id and self.settings.public_base_url:
                context = replace(context, link=f"{self.settings.public_base_url.rstrip('/')}/kasus/{row.tracking_id}")
            message = render(context)
            unsubscribe = None
            if target.follower_key and row.tracking_id:
                unsubscribe = unsubscribe_link(self.settings.base_url, self.settings.secret_keyring,
                                               row.tracking_id, target.follower_key)
                message = with_unsubscribe(message, unsubscribe, target.language)
            digest = self._address_digest(session, row, target)
            key = f"{base}:{target.channel.value}:{digest}"
            sms, chat = target.channel == DeliveryChannel.SMS, target.channel == DeliveryChannel.CHAT
            body = message.sms if sms else f"{message.subject}\n\n{message.text}" if chat else message.text
            deliveries.append(self._delivery(
                row, key, now, party=row.recipient, recipient_ref=target.recipient_ref,
                channel=target.channel.value, address=target.address, language=target.language,
                subject=None if sms or chat else message.subject, body_text=body,
                body_html=None if sms or chat else message.html,
                list_unsubscribe=unsubscribe if target.channel == DeliveryChannel.EMAIL else None,
                status=DeliveryStatus.SKIPPED if target.opted_out else DeliveryStatus.PENDING,
                last_error="opted out of non-essential messages" if target.opted_out else None,
            ))
        nobody = f"{base}:none"
        if deliveries:  # somebody now (an administrator resent after issuing a token)
            session.execute(DELETE_DELIVERY_BY_KEY, {"delivery_key": nobody})
        else:
            # Nobody with an address: staff missing is a visible failure an administrator can fix
            # (issue a token with an email, then resend); a reporter who left no contact is not.
            reporter = row.recipient in (Party.REPORTER.value, Party.FOLLOWER.value)
            status = DeliveryStatus.SKIPPED if reporter else DeliveryStatus.FAILED
            error = f"no {row.recipient} with a contact" + (f" for {row.agency_id}" if row.agency_id else "")
            deliveries.append(self._delivery(
                row, nobody, now, party=row.recipient, recipient_ref=row.recipient,
                channel=DeliveryChannel.NONE.value, address=None, language=DEFAULT_LANGUAGE, subject=None,
                body_text="", body_html=None, status=status, last_error=error,
            ))
            session.execute(update(NotificationDelivery).where(NotificationDelivery.key == nobody)
                            .values(status=status.value, last_error=error))
        for hook in matching_webhooks(session, row):
            key = f"{row.tracking_id}:{row.event_seq}:webhook:{hook.id}"
            deliveries.append(self._delivery(
                row, key, now, party="webhook", recipient_ref=f"webhook:{hook.id}", channel="webhook",
                address=hook.url, language=DEFAULT_LANGUAGE, subject=None,
                body_text=webhook_body(row, delivery_id(key)), body_html=None, status=DeliveryStatus.PENDING,
                webhook_id=hook.id, agency_id=hook.agency_id,
            ))
        session.execute(insert_ignoring_duplicates(session, NotificationDelivery.__table__), deliveries)
        session.execute(MARK_OUTBOX_EXPANDED, {"outbox_key": row.key, "expanded_at": now})

    @staticmethod
    def _delivery(row: NotificationRow, key: str, now: datetime, *, status: DeliveryStatus,
                  agency_id: str | None = None, webhook_id: str | None = None, **fields: Any) -> dict[str, Any]:
        return {
            "id": delivery_id(key), "key": key, "outbox_key": row.key, "tracking_id": row.tracking_id,
            "event_seq": row.event_seq, "event": row.event, "agency_id": agency_id or row.agency_id,
            "webhook_id": webhook_id, "status": status.value, "attempts": 0, "resends": 0,
            "next_attempt_at": now, "lease_until": None, "created_at": now, "sent_at": None,
            "last_error": None, "list_unsubscribe": None, **fields,
        }

    # sending ---------------------------------------------------------------------------------

    @activity.defn(name="send_email")
    def send_email(self, request: SendRequest) -> str:
        return self.send(request, DeliveryChannel.EMAIL.value)

    @activity.defn(name="send_sms")
    def send_sms(self, request: SendRequest) -> str:
        return self.send(request, DeliveryChannel.SMS.value)

    @activity.defn(name="send_webhook")
    def send_webhook(self, request: SendRequest) -> str:
        return self.send(request, DeliveryChannel.WEBHOOK.value)

    @activity.defn(name="send_email_batch")
    def send_email_batch(self, batch: SendBatch) -> dict[str, str]:
        return self.send_batch(batch, DeliveryChannel.EMAIL.value)

    @activity.defn(name="send_sms_batch")
    def send_sms_batch(self, batch: SendBatch) -> dict[str, str]:
        return self.send_batch(batch, DeliveryChannel.SMS.value)

    @activity.defn(name="send_chat")
    def send_chat(self, request: SendRequest) -> str:
        return self.send(request, DeliveryChannel.CHAT.value)

    @activity.defn(name="send_chat_batch")
    def send_chat_batch(self, batch: SendBatch) -> dict[str, str]:
        return self.send_batch(batch, DeliveryChannel.CHAT.value)

    def send_batch(self, batch: SendBatch, channel: str) -> dict[str, str]:
        """One attempt at each delivery of the batch still pending, side by side; returns each
        one's status. Raises `DeliveryNotAccepted` (retryable) when one of them was not accepted
        and has attempts left: Temporal's next attempt sends only what is still pending."""
        attempt = activity.info().attempt if activity.in_activity() else 1

        def one(delivery_id: str) -> tuple[str, ApplicationError | None]:
            request = SendRequest(delivery_id=delivery_id, max_attempts=batch.max_attempts)
            try:
                return self.send(request, channel, attempt), None
            except ApplicationError as error:
                return "", error

        ids = batch.delivery_ids
        if len(ids) == 1:
            outcomes = [one(ids[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(len(ids), BATCH_PARALLEL),
                                    thread_name_prefix=f"batch-{channel}") as pool:
                outcomes = list(pool.map(one, ids))
        statuses: dict[str, str] = {}
        again: ApplicationError | None = None
        for delivery_id, (status, error) in zip(ids, outcomes):
            if error is None:
                statuses[delivery_id] = status
            elif error.type == NOT_ACCEPTED and not error.non_retryable:
                statuses[delivery_id], again = DeliveryStatus.PENDING.value, error
            else:
                statuses[delivery_id] = (DeliveryStatus.UNCERTAIN.value if error.type == UNCERTAIN_ERROR
                                         else DeliveryStatus.FAILED.value)
        if again is not None:  # an expected outcome, said in one line by send(): no traceback from the SDK
            raise ApplicationError(str(again), type=NOT_ACCEPTED, category=ApplicationErrorCategory.BENIGN)
        return statuses

    def send(self, request: SendRequest, channel: str, attempt: int | None = None) -> str:
        """One attempt; returns `sent` (or the status it found and left alone), raises for Temporal
        to retry (`DeliveryNotAccepted`) or to stop (non-retryable)."""
        try:
            status = self._send(request, channel, attempt)
        except ApplicationError as error:
            retried = error.type == NOT_ACCEPTED and not error.non_retryable
            outcome = "pending" if retried else "uncertain" if error.type == UNCERTAIN_ERROR else "failed"
            DELIVERIES.labels(channel, outcome).inc()
            # A delivery that did not go out is an outcome the notifications page shows, not a crash:
            # _record_failure logged it in one line; BENIGN, so Temporal's SDK adds no traceback.
            raise ApplicationError(str(error), type=error.type, non_retryable=error.non_retryable,
                                   category=ApplicationErrorCategory.BENIGN) from None
        if status == DeliveryStatus.SENT.value:
            DELIVERIES.labels(channel, status).inc()
        return status

    def _send(self, request: SendRequest, channel: str, attempt: int | None = None) -> str:
        if attempt is None:
            attempt = activity.info().attempt if activity.in_activity() else 1
        out, found = self._begin_attempt(request.delivery_id)
        if out is None:
            if found == DeliveryStatus.UNCERTAIN.value + "-now":
                raise ApplicationError(UNRECORDED, type=UNCERTAIN_ERROR, non_retryable=True)
            return found
        try:
            self.channels[channel].send(out)
        except Refused as error:
            self._record_failure(out, error, DeliveryStatus.FAILED)
            raise ApplicationError(str(error), type=REFUSED, non_retryable=True) from None
        except NotAccepted as error:
            last = attempt >= request.max_attempts
            self._record_failure(out, error, DeliveryStatus.FAILED if last else DeliveryStatus.PENDING)
            raise ApplicationError(str(error), type=NOT_ACCEPTED, non_retryable=last) from None
        except Uncertain as error:
            self._record_failure(out, error, DeliveryStatus.UNCERTAIN)
            raise ApplicationError(f"{error}; not resent automatically", type=UNCERTAIN_ERROR,
                                   non_retryable=True) from None
        except Exception as error:  # a bug of ours or of a library: we cannot tell, so ask a human
            log.exception("notification send failed unexpectedly", delivery=out.id)
            self._record_failure(out, Uncertain("failed: unexpected error while sending", repr(error)),
                                 DeliveryStatus.UNCERTAIN)
            raise ApplicationError("failed: unexpected error while sending", type=UNCERTAIN_ERROR,
                                   non_retryable=True) from None
        self._record_sent(out)
        return DeliveryStatus.SENT.value

    def _begin_attempt(self, delivery_id: str) -> tuple[Outgoing | None, str]:
        """Mark the delivery `sending` (committed before anything goes out) and return it; or
        return None and the status that means there is nothing to send."""
        with self.sessions.begin() as session:
            delivery = session.get(NotificationDelivery, delivery_id, with_for_update=True)
            if delivery is None:
                return None, "missing"
            if delivery.status == DeliveryStatus.SENDING.value:
                delivery.status, delivery.lease_until = DeliveryStatus.UNCERTAIN.value, None
                delivery.last_error = UNRECORDED
                log.warning("notification outcome unknown", delivery=delivery.id, channel=delivery.channel)
                return None, DeliveryStatus.UNCERTAIN.value + "-now"
            if delivery.status != DeliveryStatus.PENDING.value:
                return None, delivery.status
            reporter_case = reporters_case(delivery)
            if reporter_case is not None and not may_contact_reporter(session, reporter_case):
                # Checked again at the last moment: an administrator's resend, or a delivery
                # expanded while the withdrawal (or erasure) was being committed, sends nothing.
                delivery.status = DeliveryStatus.SKIPPED.value
                delivery.last_error = WITHDRAWN_CONSENT
                return None, delivery.status
            hook = session.get(Webhook, delivery.webhook_id) if delivery.webhook_id else None
            if delivery.webhook_id and (hook is None or not hook.active):
                before = f" (last failure: {delivery.last_error})" if delivery.last_error else ""
                delivery.status = DeliveryStatus.SKIPPED.value
                delivery.last_error = f"skipped: webhook disabled or deleted{before}"
                return None, delivery.status
            delivery.status, delivery.attempts = DeliveryStatus.SENDING.value, delivery.attempts + 1
            delivery.next_attempt_at = self.now()
            return Outgoing(
                id=delivery.id, key=delivery.key, tracking_id=delivery.tracking_id, event=delivery.event,
                channel=delivery.channel, address=delivery.address, subject=delivery.subject,
                body_text=delivery.body_text, body_html=delivery.body_html,
                webhook_id=delivery.webhook_id, webhook_secret=hook.secret if hook else None,
                attempts=delivery.attempts, list_unsubscribe=delivery.list_unsubscribe,
            ), delivery.status

    def _record_sent(self, out: Outgoing) -> None:
        with self.sessions.begin() as session:
            session.execute(MARK_SENT, {"delivery_id": out.id, "delivered_at": self.now()})
            if out.webhook_id:
                session.execute(update(Webhook).where(Webhook.id == out.webhook_id).values(consecutive_failures=0))
        log.info("notification sent", delivery=out.id, channel=out.channel, notification_event=out.event,
                 tracking_id=out.tracking_id)

    def _record_failure(self, out: Outgoing, error: DeliveryError, status: DeliveryStatus) -> None:
        told: list[str] = []
        with self.sessions.begin() as session:
            session.execute(update(NotificationDelivery).where(
                NotificationDelivery.id == out.id, NotificationDelivery.status == DeliveryStatus.SENDING.value,
            ).values(status=status.value, lease_until=None, last_error=error.for_log()[:2000]))
            if out.webhook_id:
                told = self._webhook_failed(session, out.webhook_id)
        log.warning("notification not delivered", delivery=out.id, channel=out.channel, status=status.value,
                    attempts=out.attempts, error=str(error))
        if told and self.starter is not None:
            self.starter.start_outbox(told)

    def _webhook_failed(self, session: Session, webhook_id: str) -> list[str]:
        """Count a failure; at the limit, disable the hook and write the outbox rows that tell
        the administrators (returned, to be started once committed)."""
        hook = session.get(Webhook, webhook_id, with_for_update=True)
        if hook is None or not hook.active:
            return []
        hook.consecutive_failures += 1
        if hook.consecutive_failures < self.settings.webhook_failure_limit:
            return []
        hook.active, hook.disabled_at = False, self.now()
        hook.disabled_count += 1
        # Tell the administrators (and the agency's admins) through the outbox, like any event.
        parties = [Party.NATIONAL_ADMIN] + ([Party.AGENCY_ADMIN] if hook.agency_id else [])
        rows = [{
            "key": f"webhook:{hook.id}:disabled:{hook.disabled_count}:{party.value}:outbox",
            "tracking_id": "", "event_seq": hook.disabled_count, "event": "webhook_disabled",
            "recipient": party.value, "agency_id": hook.agency_id, "unit_id": None, "channel": "outbox",
            "payload": {"webhook_id": hook.id, "url": hook.url, "failures": hook.consecutive_failures,
                        "at": self.now().isoformat()},
            "status": OUTBOX_PENDING, "attempts": 0, "created_at": self.now(),
        } for party in parties]
        session.execute(insert_ignoring_duplicates(session, NotificationRow.__table__), rows)
        log.warning("webhook disabled", webhook=hook.id, failures=hook.consecutive_failures)
        return [row["key"] for row in rows]

    # settling --------------------------------------------------------------------------------

    @activity.defn(name="conclude_delivery")
    def conclude_delivery(self, delivery_id: str) -> str:
        """After the last attempt: what was never answered is `uncertain`, what never went out is
        `failed`; returns the final status."""
        with self.sessions.begin() as session:
            return self._conclude(session, delivery_id)

    @activity.defn(name="conclude_deliveries")
    def conclude_deliveries(self, delivery_ids: list[str]) -> dict[str, str]:
        """`conclude_delivery` for a batch whose attempts ran out."""
        with self.sessions.begin() as session:
            return {delivery_id: self._conclude(session, delivery_id) for delivery_id in delivery_ids}

    @staticmethod
    def _conclude(session: Session, delivery_id: str) -> str:
        delivery = session.get(NotificationDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return "missing"
        if delivery.status == DeliveryStatus.SENDING.value:
            delivery.status, delivery.last_error = DeliveryStatus.UNCERTAIN.value, UNRECORDED
        elif delivery.status == DeliveryStatus.PENDING.value:
            delivery.status = DeliveryStatus.FAILED.value
            delivery.last_error = delivery.last_error or "failed: out of attempts"
        return delivery.status

    def close(self) -> None:
        for channel in self.channels.values():
            if hasattr(channel, "close"):
                channel.close()


# --- what the API does with deliveries -------------------------------------------------------


def resend(session: Session, delivery: NotificationDelivery, now: datetime, settings: Settings) -> tuple[str, DeliveryPlan]:
    """Queue a dead-lettered, uncertain or skipped delivery again (same key, same Message-ID);
    returns the id and plan of the DeliveryWorkflow that sends it, to start once committed.

    A `none` delivery (nobody had an address) expands its outbox row again instead, so a token
    issued since then is found.
    """
    delivery.status, delivery.next_attempt_at, delivery.lease_until = DeliveryStatus.PENDING.value, now, None
    delivery.attempts, delivery.resends = 0, delivery.resends + 1
    if delivery.channel == DeliveryChannel.NONE.value:
        return (f"{outbox_workflow_id(delivery.outbox_key)}:again:{delivery.resends}",
                delivery_plan(settings, outbox_key=delivery.outbox_key))
    plan = delivery_plan(settings, deliveries=[PendingDelivery(id=delivery.id, channel=delivery.channel)])
    return resend_workflow_id(settings, delivery.id, delivery.resends), plan


def resend_workflow_id(settings: Settings, delivery_id: str, resends: int) -> str:
    """The id of the DeliveryWorkflow resending a delivery. Workflow ids are plain text in
    Temporal (UI, CLI, visibility), and a delivery's id is an unkeyed digest of its key, which
    holds an unkeyed digest of the address: from it a phone number could be found by trying them
    all. So the id shows only a keyed digest of the delivery id (the stored key and id stay as
    they are: expanding an outbox row again must find the deliveries already made, not send anew)."""
    return f"resend:{keyed_digest(settings.secret_key, 'resend-workflow', delivery_id)[:32]}:{resends}"
