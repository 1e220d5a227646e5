"""The notifications page in a clerk's words: what each failed or uncertain delivery was about,
for whom, why it did not arrive, and whether sending it again can help."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config import Settings
from db.notification_models import NotificationDelivery
from portal.web import Page

# The delivery's recorded reason (activities/notifications.py) → (text key, when a resend helps):
# "yes"; "no" (the same thing would happen again); "configured" (only once that channel is set up);
# "careful" (it may have arrived: a resend may send it twice).
REASONS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple((re.compile(pattern), key, helps) for pattern, key, helps in (
    (r"^failed: email is not configured", "deliveries.why.no_email", "configured:email"),
    (r"^failed: SMS is not configured", "deliveries.why.no_sms", "configured:sms"),
    (r"^failed: cannot connect to the SMTP server", "deliveries.why.mail_down", "yes"),
    (r"^timeout: the SMTP server did not answer", "deliveries.why.mail_down", "yes"),
    (r"^refused: SMTP 4\d\d", "deliveries.why.mail_busy", "yes"),  # 4xx: the server says try later
    (r"^refused: SMTP \S+ for the recipient", "deliveries.why.address_refused", "no"),
    (r"^refused: the SMTP server does not support", "deliveries.why.mail_settings", "no"),
    (r"^refused: SMTP", "deliveries.why.mail_refused", "no"),
    (r"^failed: cannot connect to the receiver", "deliveries.why.receiver_down", "yes"),
    (r"^timeout: the receiver did not accept", "deliveries.why.receiver_down", "yes"),
    (r"^refused: HTTP", "deliveries.why.receiver_refused", "no"),
    (r"^failed: HTTP", "deliveries.why.receiver_error", "yes"),
    (r"^failed: out of attempts", "deliveries.why.out_of_attempts", "yes"),
    (r"^skipped: webhook disabled", "deliveries.why.webhook_off", "no"),
    (r"^(timeout|failed): .*(may have received|lost before the answer)", "deliveries.why.maybe_arrived", "careful"),
    (r"^timeout: the attempt stopped", "deliveries.why.maybe_arrived", "careful"),
    (r"^failed: unexpected error", "deliveries.why.unexpected", "careful"),
))


@dataclass(frozen=True)
class Explained:
    event: str
    party: str
    channel: str
    why: str
    resend: bool
    resend_note: str | None


def channel_configured(settings: Settings, channel: str) -> bool:
    return bool(settings.smtp_host) if channel == "email" else bool(settings.sms_gateway_url) if channel == "sms" else True


def explain(page: Page, delivery: NotificationDelivery) -> Explained:
    t, reason = page.t, delivery.last_error or ""
    key, helps = next(((k, h) for pattern, k, h in REASONS if pattern.search(reason)), ("deliveries.why.other", "yes"))
    if helps.startswith("configured:"):
        resend = channel_configured(page.svc.settings, helps.split(":", 1)[1])
        note = None if resend else t("deliveries.resend.after_setup")
    else:
        resend = helps in ("yes", "careful")
        note = t("deliveries.resend.careful") if helps == "careful" else None if resend else t("deliveries.resend.useless")
    return Explained(event=event_label(page, delivery.event), party=t(f"party.{delivery.party}"),
                     channel=t(f"channel.{delivery.channel}"), why=t(key), resend=resend, resend_note=note)


def event_label(page: Page, event: str) -> str:
    """'accept' → 'Diverifikasi dan diteruskan'; 'overdue:response' → 'Terlambat — tanggapan instansi'."""
    if ":" in event:
        kind, clock = event.split(":", 1)
        return f"{page.t('escalation.' + kind)} — {page.clock_label(clock)}"
    return page.t(f"action.{event}")
