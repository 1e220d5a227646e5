"""Calendar amendments in the read model: every declared or cancelled non-working day, kept for
good (domain.calendar.DayAmendment; the effective calendar is computed in domain.calendar)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.models import CalendarAmendmentRow
from domain.calendar import AmendmentKind, DayAmendment, HolidayCalendar, amendments_in_force, effective_calendar

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RequestedDay:
    day: date
    kind: AmendmentKind
    name: str


def load_amendments(session: Session) -> tuple[DayAmendment, ...]:
    rows = session.scalars(select(CalendarAmendmentRow).order_by(CalendarAmendmentRow.declared_at,
                                                                 CalendarAmendmentRow.id))
    return tuple(
        DayAmendment(day=r.day, kind=r.kind, name=r.name, decree=r.decree, declared_by=r.declared_by,  # type: ignore[arg-type]
                     declared_at=r.declared_at)
        for r in rows
    )


def record_amendments(
    session: Session, days: Sequence[RequestedDay], *, decree: str, declared_by: str, now: datetime
) -> tuple[list[DayAmendment], list[date]]:
    """Store the days that change something; (stored, unchanged days). Sending the same amendment
    again stores nothing. A cancelled day must be a day off now (the package's or an amendment's)."""
    existing = load_amendments(session)
    in_force = amendments_in_force(existing)
    stored: list[DayAmendment] = []
    unchanged: list[date] = []
    for wanted in days:
        current = in_force.get(wanted.day)
        off_now = wanted.day in calendar_for_day(wanted.day, existing).holidays
        if wanted.kind == "cancelled":
            same = current is not None and current.kind == "cancelled" or (current is None and not off_now)
        else:
            same = (current is not None and current.kind == wanted.kind and current.name == wanted.name) or (
                current is None and off_now
            )
        if same:
            unchanged.append(wanted.day)
            continue
        amendment = DayAmendment(day=wanted.day, kind=wanted.kind, name=wanted.name, decree=decree,
                                 declared_by=declared_by, declared_at=now)
        session.add(CalendarAmendmentRow(**amendment.model_dump()))
        stored.append(amendment)
        in_force[wanted.day] = amendment
    session.commit()
    return stored, unchanged


def calendar_for_day(day: date, amendments: Sequence[DayAmendment]) -> HolidayCalendar:
    """The effective calendar of the year holding `day` (for checks on one day)."""
    return effective_calendar(day.year, 0, amendments)


class AmendmentBook:
    """The amendments in force as this process last read them: intake reads them for every case, so
    they are re-read from the database at most every `ttl_seconds` (and at once after a change made
    here). Another API process sees a change within that time."""

    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: float = 1.0) -> None:
        self._sessions, self._ttl = sessions, ttl_seconds
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._amendments: tuple[DayAmendment, ...] = ()

    def fresh(self) -> tuple[DayAmendment, ...] | None:
        """The cached amendments while they are fresh, else None (then `load` on a thread)."""
        return self._amendments if time.monotonic() - self._loaded_at < self._ttl else None

    def load(self) -> tuple[DayAmendment, ...]:
        with self._lock:
            if (cached := self.fresh()) is not None:
                return cached
            try:
                with self._sessions() as session:
                    self._amendments = load_amendments(session)
            except SQLAlchemyError:
                if self._loaded_at == float("-inf"):
                    raise
                # Intake goes on during a read-model outage with what it last read (the broadcast
                # of a change needs the database anyway).
                log.warning("calendar amendments not re-read: the read model does not answer")
                return self._amendments
            self._loaded_at = time.monotonic()
            return self._amendments

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
