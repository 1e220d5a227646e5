"""The vocabulary of a complaint's lifecycle (ARCHITECTURE.md section 1)."""

from enum import StrEnum


class Status(StrEnum):
    AWAITING_VERIFICATION = "awaiting_verification"
    ON_HOLD = "on_hold"
    AWAITING_AGENCY = "awaiting_agency"
    AWAITING_REPORTER = "awaiting_reporter"
    COMPLETED = "completed"
    ARCHIVED = "archived"


OPEN_STATUSES = frozenset(
    {Status.AWAITING_VERIFICATION, Status.ON_HOLD, Status.AWAITING_AGENCY, Status.AWAITING_REPORTER}
)


class ReportType(StrEnum):
    ASPIRASI = "aspirasi"
    PERMINTAAN_INFORMASI = "permintaan_informasi"
    PENGADUAN = "pengaduan"
    PENGADUAN_BERKADAR_PENGAWASAN = "pengaduan_berkadar_pengawasan"


class ArchiveReason(StrEnum):
    NOT_A_COMPLAINT = "not_a_complaint"
    INCOMPLETE = "incomplete"
    DUPLICATE = "duplicate"
    OUT_OF_SCOPE = "out_of_scope"
    ABUSIVE = "abusive"
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    REPORTER = "reporter"
    ADMIN = "admin"
    AGENCY_ADMIN = "agency_admin"
    OFFICER = "officer"
    OBSERVER = "observer"
    CLIENT = "client"
    SYSTEM = "system"


class Channel(StrEnum):
    WEB = "web"
    API = "api"
    OPEN311 = "open311"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    WALK_IN = "walk_in"


class Action(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"
    SUPPLEMENT = "supplement"
    DISPOSE = "dispose"
    FOLLOW_UP = "follow_up"
    REROUTE = "reroute"
    REPLY = "reply"
    RATE = "rate"
    # The reporter says the follow-up settled it: completed at once (not after the silence).
    SATISFIED = "satisfied"
    # Transitions the clocks make on their own.
    HOLD_EXPIRED = "hold_expired"
    SILENCE_COMPLETED = "silence_completed"
    REOPEN = "reopen"
    CALENDAR_AMENDED = "calendar_amended"
    # The reporter's rights under UU 27/2022 (docs/privacy.md): the timeline says that it
    # happened and when, never the values.
    PERSONAL_DATA_CORRECTED = "personal_data_corrected"
    PERSONAL_DATA_ERASED = "personal_data_erased"
    # Issue 22: the verifier keeps a pin that lies outside the case's region (the read model's
    # flag is cleared; the timeline says who and when).
    PIN_CONFIRMED = "pin_confirmed"


class ClockKind(StrEnum):
    VERIFICATION = "verification"
    HOLD = "hold"
    RESPONSE = "response"
    RESOLUTION = "resolution"
    SILENCE = "silence"
    REOPEN_WINDOW = "reopen_window"


class EscalationKind(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"
    OMBUDSMAN = "ombudsman"


class Party(StrEnum):
    """Who must act on a clock, and who hears about its breach."""

    REPORTER = "reporter"
    NATIONAL_ADMIN = "national_admin"
    AGENCY_ADMIN = "agency_admin"
    OFFICER = "officer"
    OMBUDSMAN = "ombudsman"
    # People following a case they did not report (a merged duplicate's reporter, a supporter who
    # asked to be told): told by the projection (activities/records.py), never by the workflow.
    FOLLOWER = "follower"
