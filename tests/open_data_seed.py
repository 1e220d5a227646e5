"""A read model with cases whose open data is known (tests/db, tests/api, tests/browser): driven by
the lifecycle's own rules (CaseMachine) and written as the worker writes them (write_record).

Kota Palangkaraya (pemkot-62.71) receives 13 cases about roads in December 2026, all forwarded
within the deadline: 9 answered in time and then completed (6 rated 4), 3 never answered (overdue),
1 returned as not its authority. Beside them, cases that must appear nowhere: a confidential one,
one never verified and one rejected, each with a category and region of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from activities.records import write_record
from domain.calendar import calendar_for
from domain.enums import Action, ArchiveReason, Role
from domain.lifecycle import CaseMachine
from domain.models import (
    Actor,
    AgencyRef,
    ComplaintDetails,
    FollowUpInput,
    Location,
    RatingInput,
    Reporter,
    RerouteInput,
    VerificationInput,
)
from domain.policy import current_policy

WIB = ZoneInfo("Asia/Jakarta")
SUBMITTED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=WIB)  # a Tuesday
BODY = AgencyRef(id="pemkot-62.71", name="Pemerintah Kota Palangka Raya", timezone="Asia/Jakarta")
ADMIN = Actor(role=Role.ADMIN, name="admin nasional")
OFFICER = Actor(role=Role.OFFICER, agency_id=BODY.id, name="petugas")
AGENCY_ADMIN = Actor(role=Role.AGENCY_ADMIN, agency_id=BODY.id, name="admin instansi")
REPORTER = Actor(role=Role.REPORTER)
SECRET_REPORTER = Reporter(name="Siti Rahasia", email="siti.rahasia@example.org", phone="081200000001")


@dataclass
class Seeded:
    published: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # confidential, unverified, rejected


def _open(region: str, category: str, at: datetime, **details) -> CaseMachine:
    fields = {"title": "Jalan rusak di depan pasar", "description": "Jalan berlubang besar, Pak RT sudah lapor.",
              "region_code": region, "category": category, "location": Location(lat=-2.21, lon=113.92),
              "anonymous": True, "reporter": SECRET_REPORTER} | details
    return CaseMachine.open(f"LAP-{uuid.uuid4().hex[:10].upper()}", ComplaintDetails(**fields), at,
                            current_policy(), calendar_for(at))


def _accept(machine: CaseMachine, at: datetime) -> None:
    machine.accept(at, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=BODY))


def seed_open_data(session: Session, *, at: datetime = SUBMITTED_AT) -> Seeded:
    seeded = Seeded()
    machines: list[CaseMachine] = []
    for index in range(13):
        machine = _open("62.71.01", "jalan-jembatan", at + timedelta(minutes=index))
        _accept(machine, at + timedelta(hours=1))
        if index < 9:
            machine.follow_up(at + timedelta(hours=25), FollowUpInput(actor=OFFICER, message="Sudah diperbaiki."))
            machine.fire_due(machine.state.clocks["silence"].breach_at)
            if index < 6:
                machine.rate(machine.state.completed_at + timedelta(hours=1), RatingInput(actor=REPORTER, score=4))
        elif index < 12:
            machine.fire_due(machine.state.clocks["response"].breach_at + timedelta(minutes=1))
        else:
            machine.reroute(at + timedelta(hours=3), RerouteInput(actor=AGENCY_ADMIN, reason="Bukan kewenangan kami."))
        machines.append(machine)
        seeded.published.append(machine.state.tracking_id)
    secret = _open("62.03", "kesehatan", at, confidential=True)
    _accept(secret, at + timedelta(hours=1))
    never_verified = _open("62.04", "pendidikan", at)
    rejected = _open("62.05", "bantuan-sosial", at)
    rejected.reject(at + timedelta(hours=2), VerificationInput(actor=ADMIN, decision=Action.REJECT,
                                                               reason=ArchiveReason.NOT_A_COMPLAINT))
    for machine in (secret, never_verified, rejected):
        machines.append(machine)
        seeded.hidden.append(machine.state.tracking_id)
    for machine in machines:
        write_record(session, machine.record_since(0))
    session.commit()
    return seeded
