"""Connected bodies (issue 27): a body with its own complaint system receives its SP4N cases over
Open311 GeoReport v2 (we are then a GeoReport client, as FixMyStreet is to councils) and its
updates come back as that body's actions. The pure rules: what we send, what an update means
for our case, and how the case says where it went. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.enums import Action, Status

# What is forwarded: the case when it reaches the body, the reporter's words while it is there.
REQUEST, UPDATE = "request", "update"
FORWARDED_ACTIONS = frozenset({Action.ACCEPT, Action.REOPEN})  # POST requests
REPORTER_WORDS = frozenset({Action.REPLY, Action.SUPPLEMENT})  # POST servicerequestupdates

# Forward states (connected_forwards.status).
PENDING, SENT, ACKNOWLEDGED, FAILED, MANUAL = "pending", "sent", "acknowledged", "failed", "manual"
DONE_STATES = frozenset({ACKNOWLEDGED, MANUAL})

TITLE_MAX = 200
DESCRIPTION_MAX = 4_000  # GeoReport's own limit for `description`


def forward_key(tracking_id: str, event_seq: int) -> str:
    return f"{tracking_id}:{event_seq}"


@dataclass(frozen=True)
class CaseForForwarding:
    """The case as the body may see it (the agency's view: domain/visibility.sees_reporter)."""

    tracking_id: str
    title: str
    description: str
    category: str | None
    report_type: str
    anonymous: bool
    confidential: bool
    lat: float | None
    lon: float | None
    address: str | None
    region_code: str | None
    reporter_name: str | None
    reporter_email: str | None
    reporter_phone: str | None


def request_form(case: CaseForForwarding, *, service_code: str, jurisdiction_id: str | None,
                 media_urls: list[str]) -> list[tuple[str, str]]:
    """The fields of `POST requests` (form-encoded, `media_url` repeated). An anonymous reporter's
    identity never leaves: no name, e-mail or phone, and no pin (a pin can point at a home; the
    address line and region say where). Our tracking id travels as an attribute and in the text,
    so the body's staff can always find the SP4N case."""
    text = f"{case.title}\n\n{case.description}".strip()
    suffix = f"\n\n(SP4N-LAPOR! {case.tracking_id})"
    fields: list[tuple[str, str]] = [
        ("service_code", service_code),
        ("description", text[: DESCRIPTION_MAX - len(suffix)] + suffix),
        ("attribute[sp4n_tracking_id]", case.tracking_id),
        ("attribute[report_type]", case.report_type),
        ("attribute[anonymous]", "true" if case.anonymous else "false"),
        ("attribute[confidential]", "true" if case.confidential else "false"),
    ]
    if jurisdiction_id:
        fields.append(("jurisdiction_id", jurisdiction_id))
    if case.region_code:
        fields.append(("attribute[region]", case.region_code))
    if case.lat is not None and case.lon is not None and not case.anonymous:
        fields += [("lat", f"{case.lat:.6f}"), ("long", f"{case.lon:.6f}")]
    if case.address:
        fields.append(("address_string", case.address[:500]))
    if not case.anonymous:
        if case.reporter_email:
            fields.append(("email", case.reporter_email))
        if case.reporter_phone:
            fields.append(("phone", case.reporter_phone))
        if case.reporter_name:
            first, _, last = case.reporter_name.strip().partition(" ")
            fields.append(("first_name", first))
            if last:
                fields.append(("last_name", last))
    fields += [("media_url", url) for url in media_urls]
    return fields


def service_code_for(category: str | None, service_codes: dict[str, str], default: str) -> str:
    return service_codes.get(category or "", default) if category else default


# --- updates read back ------------------------------------------------------------------------


class Meaning(StrEnum):
    FOLLOW_UP = "follow_up"  # the body answered: our case waits for the reporter
    REROUTE = "reroute"  # not the body's authority: back to verification
    PROGRESS = "progress"  # the body is working on it: shown, the lifecycle stays


# mySociety's extended statuses (domain/open311.Extended), upper-cased with "_" for spaces.
RETURNED = frozenset({"NOT_COUNCILS_RESPONSIBILITY", "NOT_RESPONSIBLE"})
ANSWERED = frozenset({"CLOSED", "FIXED", "ACTION_SCHEDULED", "NO_FURTHER_ACTION", "DUPLICATE", "INTERNAL_REFERRAL"})
WORKING = frozenset({"OPEN", "INVESTIGATING", "IN_PROGRESS"})


def normalised_status(status: str | None) -> str:
    return (status or "").strip().upper().replace(" ", "_")


def meaning_of(status: str | None, description: str | None) -> Meaning | None:
    """What one update of the body's system means for our case.

    GeoReport v2 itself has two statuses: a plain `open` update with words is a comment, which
    is the body's follow-up; `closed` is an answer too. The extended statuses say more:
    in progress, investigating (and an extended `OPEN`) leave the case with the body; a
    scheduled action, fixed, closed, no further action are its answer (our case then waits
    for the reporter); "not the council's responsibility" sends the case back to our national
    administrators to forward elsewhere. None: nothing to do (an `open` without words).
    `INTERNAL_REFERRAL` is a hand-over inside the body: still with the body (progress)."""
    if status is not None and status.strip() == "open":  # GeoReport's own lower-case status
        return Meaning.FOLLOW_UP if (description or "").strip() else None
    code = normalised_status(status)
    if code in RETURNED:
        return Meaning.REROUTE
    if code == "INTERNAL_REFERRAL":
        return Meaning.PROGRESS
    if code in ANSWERED:
        return Meaning.FOLLOW_UP
    if code in WORKING or not code:
        return Meaning.PROGRESS if code or (description or "").strip() else None
    return Meaning.PROGRESS  # a status we do not know: shown, never a transition


def action_for(meaning: Meaning | None, status: Status) -> Action | None:
    """The action an update takes on our case now, or None (shown only): an answer is a follow-up
    while the case waits for the body, a return is "not our authority" then; afterwards (the case
    already answered, or closed) an update changes nothing."""
    if status != Status.AWAITING_AGENCY:
        return None
    return {Meaning.FOLLOW_UP: Action.FOLLOW_UP, Meaning.REROUTE: Action.REROUTE}.get(meaning or Meaning.PROGRESS)


def follow_up_text(description: str | None, status: str | None) -> str:
    text = (description or "").strip()
    return text or f"Status di sistem instansi: {normalised_status(status) or 'diperbarui'}."


# --- how a case says where it went -------------------------------------------------------------

FORWARDED_TEXT = {
    "id": "diteruskan ke sistem {body} (#{remote})",
    "en": "forwarded to {body}'s system (#{remote})",
}
FORWARDING_TEXT = {
    "id": "sedang diteruskan ke sistem {body}",
    "en": "being forwarded to {body}'s system",
}


def forwarded_label(body: str, remote_id: str | None, language: str = "id") -> str:
    texts = FORWARDED_TEXT if remote_id else FORWARDING_TEXT
    return texts.get(language, texts["id"]).format(body=body, remote=remote_id or "")


def sync_lag_seconds(now: datetime, last_ok: datetime | None, created: datetime) -> float:
    """How old the freshest successful read of the body's system is (since connecting, if none)."""
    return max(0.0, (now - (last_ok or created)).total_seconds())
