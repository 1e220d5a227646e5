"""Every event reaches the right people over real SMTP and HTTP, and nobody else; anonymity holds."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import NotificationRow
from db.notification_models import NotificationDelivery, NotificationPreference
from domain.calendar import WIB, calendar_for
from domain.enums import Action, ReportType, Role
from domain.lifecycle import CaseMachine
from domain.models import (
    Actor,
    ComplaintDetails,
    DispositionInput,
    FollowUpInput,
    RatingInput,
    ReplyInput,
    Reporter,
    SupplementInput,
    VerificationInput,
)
from domain.policy import current_policy
from domain.tokens import reporter_token

from tests.notifications.conftest import (
    AGENCY,
    UNIT,
    make_settings,
    agency_ref,
    record,
)

IDENTITY = Reporter(name="Siti Rahmawati", email="siti.rahmawati@warga.example", phone="+6281234567890")
IDENTITY_FRAGMENTS = ["Siti", "Rahmawati", "siti.rahmawati", "warga.example", "6281234567890", "81234567890"]
ADMIN = Actor(role=Role.ADMIN, name="Admin Nasional")
REPORTER = Actor(role=Role.REPORTER)
START = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo(WIB))  # a Monday


def open_case(tracking_id: str, reporter: Reporter | None = IDENTITY) -> CaseMachine:
    details = ComplaintDetails(
        title="Jalan berlubang di Jl. A. Yani km 3", description="Lubang besar, membahayakan pengendara.",
        report_type=ReportType.PENGADUAN, region_code="63.71", anonymous=True, reporter=reporter,
    )
    return CaseMachine.open(tracking_id, details, START, current_policy(), calendar_for(START))


def received(sessions: sessionmaker[Session], smtp_sink, http_sink) -> dict[str, set[str]]:
    """event → the addresses it reached (emails by To, SMS by `sms:<number>`), from the sinks."""
    with sessions() as session:
        events = {d.id: d.event for d in session.scalars(select(NotificationDelivery))}
    reached: dict[str, set[str]] = defaultdict(set)
    for message in smtp_sink.messages:
        reached[events[message["X-SP4N-Delivery"]]].add(message["To"])
    for body in http_sink.bodies("/sms"):
        reached[events[body["reference"]]].add(f"sms:{body['to']}")
    return dict(reached)


def test_every_event_reaches_the_right_people_and_nobody_else(database_url, sessions, people, smtp, http_sink,
                                                              delivering):
    sink, port = smtp
    settings = make_settings(database_url, port, http_sink)
    stack = delivering(settings)
    recorder, projected = stack.recorder, [0]
    with sessions.begin() as session:  # the reporter asked for SMS too
        session.add(NotificationPreference(subject="reporter:LAP-WALK", channels=["email", "sms"]))
    bjm = agency_ref(sessions)
    agency_admin = Actor(role=Role.AGENCY_ADMIN, agency_id=AGENCY)
    officer = Actor(role=Role.OFFICER, agency_id=AGENCY)

    m = open_case("LAP-WALK")
    steps = [
        lambda t: m.hold(t, VerificationInput(actor=ADMIN, decision=Action.HOLD, note="Lampirkan foto lokasi")),
        lambda t: m.supplement(t, SupplementInput(actor=REPORTER, text="Foto terlampir.")),
        lambda t: m.accept(t, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=bjm)),
        lambda t: m.dispose(t, DispositionInput(actor=agency_admin, unit_id=UNIT, note="Mohon ditangani")),
        lambda t: m.follow_up(t, FollowUpInput(actor=officer, message="Tim PUPR menambal lubang.")),
        lambda t: m.reply(t, ReplyInput(actor=REPORTER, message="Baru sebagian yang ditambal.")),
        lambda t: m.follow_up(t, FollowUpInput(actor=officer, message="Sudah ditambal seluruhnya.")),
    ]
    record(m, recorder, projected)
    for hour, step in enumerate(steps, start=1):
        step(START + timedelta(hours=hour))
        record(m, recorder, projected)
    # The silence clock runs out (its reminder first), the case completes; a low rating reopens it.
    m.fire_due(START + timedelta(days=20))
    record(m, recorder, projected)
    m.rate(START + timedelta(days=20, hours=1), RatingInput(actor=REPORTER, score=1, comment="Masih berlubang"))
    record(m, recorder, projected)
    stack.settle()

    a = people.address
    reporter = {IDENTITY.email, f"sms:{IDENTITY.phone}"}
    expected = {
        "submit": reporter | {a["admin"]},
        "hold": reporter,
        "supplement": {a["admin"]},
        "accept": reporter | {a["bjm_admin"]},
        "dispose": {a["bjm_officer_pupr"], a["bjm_admin"]},  # not the officer of another unit
        "follow_up": reporter,
        "reply": {a["bjm_admin"], a["bjm_officer_pupr"]},
        "silence_completed": reporter | {a["bjm_admin"]},
        "rate": {a["bjm_admin"]},
        "reopen": {a["bjm_admin"], a["admin"]},
    }
    # Clock events: whoever the escalation named (reminders to the responsible, breaches to the
    # supervisor), from the recorded escalations.
    who = {"reporter": reporter, "national_admin": {a["admin"]}, "agency_admin": {a["bjm_admin"]},
           "officer": {a["bjm_officer_pupr"]}, "ombudsman": {a["ombudsman"]}}
    for escalation in m.state.escalations:
        event = f"{escalation.kind.value}:{escalation.clock.value}"
        expected.setdefault(event, set()).update(who[escalation.notified.value])
        if escalation.kind.value == "ombudsman":
            expected[event] |= {a["admin"]}
    assert "reminder:silence" in expected  # the walk did exercise a clock
    got = received(sessions, sink, http_sink)
    assert got == expected
    # Exactly one message per (event, address): the follow-up happened twice, so two each.
    assert len(sink.messages) + len(http_sink.requests) == sum(
        len(v) * (2 if k == "follow_up" else 1) for k, v in expected.items())

    # Anonymity: the reporter's identity is in nothing sent to anybody else.
    for message in sink.messages:
        text = message.as_string()
        if message["To"] != IDENTITY.email:
            for fragment in IDENTITY_FRAGMENTS:
                assert fragment.lower() not in text.lower(), (message["Subject"], fragment)
        assert "Siti" not in text  # not even to the reporter: messages never name anyone
    for path, _, body in http_sink.requests:
        if path != "/sms":
            for fragment in IDENTITY_FRAGMENTS:
                assert fragment.lower() not in body.decode().lower()

    # The receipt carries the tracking id; the hold says what is missing; forwarded names the body.
    by_subject = {m["Subject"]: m for m in sink.messages if m["To"] == IDENTITY.email}
    receipt = next(m for s, m in by_subject.items() if "diterima" in s)
    assert "LAP-WALK" in receipt.get_body(("plain",)).get_content()
    assert receipt["Message-ID"].startswith(f"<{receipt['X-SP4N-Delivery']}@lapor.test")
    assert receipt.get_body(("html",)) is not None
    hold = next(m for s, m in by_subject.items() if "dilengkapi" in s and "telah" not in s)
    assert "Lampirkan foto lokasi" in hold.get_body(("plain",)).get_content()
    forwarded = next(m for s, m in by_subject.items() if "diteruskan" in s)
    assert "Banjarmasin" in forwarded["Subject"]
    assert all(len(body["message"]) <= 160 for body in http_sink.bodies("/sms"))
    assert {h["authorization"] for p, h, _ in http_sink.requests if p == "/sms"} == {"Bearer sms-token"}

    # Every outbox row was expanded once, in its projection's transaction. Projecting again (a
    # retried projection) plans nothing more to send; an outbox row's DeliveryWorkflow started
    # again (how a case still on the older code sends) and expanding again find nothing left.
    with sessions() as session:
        outbox = list(session.scalars(select(NotificationRow)))
    assert {r.status for r in outbox} == {"expanded"}
    before = len(sink.messages) + len(http_sink.requests)
    assert recorder.records.project_case(m.record_since(0)) is None
    stack.start_outbox(*(r.key for r in outbox))
    assert all(stack.activities.expand_outbox(r.key) == [] for r in outbox)
    stack.settle()
    assert len(sink.messages) + len(http_sink.requests) == before


def test_language_preference_and_opt_out(database_url, sessions, people, smtp, delivering):
    sink, port = smtp
    settings = make_settings(database_url, port)
    stack = delivering(settings)
    with sessions.begin() as session:
        session.add(NotificationPreference(subject="reporter:LAP-EN", language="en"))
        session.add(NotificationPreference(subject=f"token:{people.tokens['bjm_admin']}", opt_out_non_essential=True))
    recorder, projected = stack.recorder, [0]
    m = open_case("LAP-EN")
    record(m, recorder, projected)
    m.accept(START + timedelta(hours=1), VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency_ref(sessions)))
    record(m, recorder, projected)
    m.dispose(START + timedelta(hours=2), DispositionInput(actor=Actor(role=Role.AGENCY_ADMIN, agency_id=AGENCY), unit_id=UNIT))
    record(m, recorder, projected)
    stack.settle()
    subjects = {(msg["To"], msg["Subject"]) for msg in sink.messages}
    assert (IDENTITY.email, "Report LAP-EN received") in subjects
    assert (IDENTITY.email, f"Report LAP-EN forwarded to {agency_ref(sessions).name}") in subjects
    assert (people.address["admin"], "Laporan baru LAP-EN menunggu verifikasi") in subjects
    # The agency admin opted out of non-essential messages: the new case yes, the disposition copy no.
    to_bjm_admin = [s for to, s in subjects if to == people.address["bjm_admin"]]
    assert to_bjm_admin == [f"Laporan baru LAP-EN untuk {agency_ref(sessions).name}"]
    with sessions() as session:
        skipped = session.scalars(select(NotificationDelivery).where(NotificationDelivery.status == "skipped")).all()
        assert [(s.event, s.recipient_ref) for s in skipped] == [("dispose", f"token:{people.tokens['bjm_admin']}")]


def test_nobody_to_tell_is_a_visible_failure(database_url, sessions, clean, smtp, delivering):
    """No staff token has an email yet: the admins' copy is a failed delivery, the reporter without
    contact is skipped."""
    sink, port = smtp
    stack = delivering(make_settings(database_url, port))
    recorder, projected = stack.recorder, [0]
    m = open_case("LAP-NOBODY", reporter=None)
    record(m, recorder, projected)
    stack.settle()
    assert sink.messages == []
    with sessions() as session:
        rows = {(d.party, d.channel, d.status) for d in session.scalars(select(NotificationDelivery))}
    assert rows == {("reporter", "none", "skipped"), ("national_admin", "none", "failed")}


def test_the_reporters_emails_carry_the_private_link_and_nobody_elses_do(database_url, sessions, people, smtp, http_sink,
                                                                        delivering):
    sink, port = smtp
    settings = make_settings(database_url, port, http_sink, public_base_url="https://lapor.example.go.id/",
                             secret_key="delivery-test-secret")
    stack = delivering(settings)
    recorder, projected = stack.recorder, [0]
    m = open_case("LAP-LINK")
    record(m, recorder, projected)
    m.accept(START + timedelta(hours=1), VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency_ref(sessions)))
    record(m, recorder, projected)
    stack.settle()

    link = f"https://lapor.example.go.id/kasus/LAP-LINK?token={reporter_token(settings.secret_keyring, 'LAP-LINK')}"
    to_reporter = [msg for msg in sink.messages if msg["To"] == IDENTITY.email]
    to_staff = [msg for msg in sink.messages if msg["To"] != IDENTITY.email]
    assert len(to_reporter) == 2 and to_staff  # the receipt and the forwarding; the admins and the agency
    for message in to_reporter:
        assert link in message.get_body(("plain",)).get_content()
        assert link in message.get_body(("html",)).get_content()
    for message in to_staff:
        assert "token=" not in message.get_body(("plain",)).get_content()
    assert all("token=" not in body["message"] for body in http_sink.bodies("/sms"))


HISTORIES = Path(__file__).resolve().parents[1] / "histories"


def test_history_sizes_of_the_typical_lifecycle(database_url, sessions, people, smtp, delivering):
    """Each projection's sends stay small: one activity per channel (a webhook each), the workflow
    tasks between (here in CaseSends; in production inside the case's workflow, whose whole
    typical lifecycle with its sends is held to its budget by tests/workflows/test_footprint.py)."""
    sink, port = smtp
    stack = delivering(make_settings(database_url, port))
    recorder, projected = stack.recorder, [0]
    bjm = agency_ref(sessions)
    m = open_case("LAP-TYPICAL")
    record(m, recorder, projected)
    m.accept(START + timedelta(hours=1), VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=bjm))
    record(m, recorder, projected)
    m.dispose(START + timedelta(hours=2), DispositionInput(actor=Actor(role=Role.AGENCY_ADMIN, agency_id=AGENCY),
                                                           unit_id=UNIT))
    record(m, recorder, projected)
    m.follow_up(START + timedelta(hours=3), FollowUpInput(actor=Actor(role=Role.OFFICER, agency_id=AGENCY),
                                                          message="Sudah ditambal."))
    record(m, recorder, projected)
    m.fire_due(START + timedelta(days=20))
    record(m, recorder, projected)
    m.rate(START + timedelta(days=20, hours=1), RatingInput(actor=REPORTER, score=5))
    record(m, recorder, projected)
    results = stack.settle()

    case_events = len(json.loads((HISTORIES / "typical.json").read_text())["events"])
    assert case_events == 56  # the stored run from before issue 25 (its deliveries in DeliveryWorkflows)
    lengths = {workflow_id: stack.history_length(workflow_id) for workflow_id in results}
    sends = {workflow_id: len(result) for workflow_id, result in results.items()}
    print(f"case {case_events} events; {len(lengths)} delivery workflows, {sum(lengths.values())} events, "
          f"{sum(sends.values())} sends; per workflow {sorted(lengths.values())}")
    # One expansion (3 events), one send per delivery (3 events each), the workflow tasks between.
    for workflow_id, length in lengths.items():
        assert length <= 14 + 5 * sends[workflow_id], (workflow_id, length)
    assert max(lengths.values()) <= 100
    assert {status for result in results.values() for status in result.values()} == {"sent"}
