"""Merged duplicates' reporters and supporters who left an email hear of the original case's
progress (issue 19), over real SMTP, and nobody's identity crosses over."""

from __future__ import annotations

from sqlalchemy import select

from activities.records import RecordActivities
from db.models import NotificationRow
from db.portal_models import CaseFollower
from domain.enums import Action, ArchiveReason
from domain.lifecycle import CaseMachine
from domain.models import FollowUpInput, Reporter, VerificationInput

from tests.notifications.conftest import AGENCY, agency_ref, make_settings, record
from tests.notifications.test_delivery import ADMIN, START, open_case
from domain.enums import Role
from domain.models import Actor

ORIGINAL = Reporter(name="Budi Santoso", email="budi.santoso@warga.example", phone="+6281111111111")
DUPLICATE = Reporter(name="Ani Lestari", email="ani.lestari@warga.example")
OFFICER = Actor(role=Role.OFFICER, agency_id=AGENCY, name="Petugas PUPR")


def merged_pair(recorder: RecordActivities, original_id: str, duplicate_id: str, *,
                confidential: bool = False) -> tuple[CaseMachine, list[int], RecordActivities]:
    original, projected = open_case(original_id, ORIGINAL), [0]
    original.state.details.confidential = confidential
    record(original, recorder, projected)
    duplicate, dup_projected = open_case(duplicate_id, DUPLICATE), [0]
    record(duplicate, recorder, dup_projected)
    duplicate.reject(START, VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE,
                                              duplicate_of=original_id))
    record(duplicate, recorder, dup_projected)
    return original, projected, recorder


def subject(message) -> str:
    return " ".join(str(message["Subject"]).split())  # a long subject comes folded


def emails_to(sink, address: str) -> list:
    return [m for m in sink.messages if m["To"] == address]


def test_a_merged_duplicates_reporter_hears_of_the_originals_progress(database_url, sessions, people, smtp,
                                                                     delivering):
    sink, port = smtp
    settings = make_settings(database_url, port, public_base_url="https://lapor.test")
    stack = delivering(settings)
    original, projected, recorder = merged_pair(stack.recorder, "LAP-ORIG1", "LAP-DUPE1")
    with sessions() as session:
        follower = session.get(CaseFollower, ("LAP-ORIG1", "duplicate:LAP-DUPE1"))
        assert follower is not None and follower.email is None  # the address stays on the reporter's own case
    stack.settle()
    sink.clear()  # the submissions and the rejection: not what this test is about

    original.accept(START, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency_ref(sessions)))
    record(original, recorder, projected)
    original.follow_up(START, FollowUpInput(actor=OFFICER, message="Lubang sudah ditambal hari ini."))
    record(original, recorder, projected)
    stack.settle()

    told = emails_to(sink, DUPLICATE.email)
    assert sorted(subject(m) for m in told) == [
        "Laporan LAP-ORIG1 yang Anda ikuti diteruskan ke Pemerintah Kota Banjarmasin",
        "Tindak lanjut atas laporan LAP-ORIG1 yang Anda ikuti",
    ]
    follow_up = next(m for m in told if subject(m).startswith("Tindak lanjut"))
    text = follow_up.get_body(("plain",)).get_content()
    assert "/ikuti/berhenti?kasus=LAP-ORIG1&f=duplicate%3ALAP-DUPE1" in str(follow_up["List-Unsubscribe"])
    assert "Lubang sudah ditambal hari ini." in text
    assert "https://lapor.test/kasus/LAP-ORIG1" in text
    assert "token=" not in text  # the public page, never the original reporter's private link
    for fragment in ("Budi", "Santoso", "budi.santoso", "6281111111111"):
        assert fragment not in follow_up.as_string()
    # The original's reporter is told as before, and hears nothing of who else reported it.
    for message in emails_to(sink, ORIGINAL.email):
        assert "Ani" not in message.as_string() and "ani.lestari" not in message.as_string()
    assert len(emails_to(sink, ORIGINAL.email)) == 2


def test_followers_of_a_confidential_case_are_told_nothing(database_url, sessions, people, smtp, delivering):
    sink, port = smtp
    settings = make_settings(database_url, port)
    stack = delivering(settings)
    original, projected, recorder = merged_pair(stack.recorder, "LAP-ORIG2", "LAP-DUPE2", confidential=True)
    original.accept(START, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency_ref(sessions)))
    record(original, recorder, projected)
    stack.settle()
    with sessions() as session:
        rows = session.scalars(select(NotificationRow).where(NotificationRow.tracking_id == "LAP-ORIG2",
                                                             NotificationRow.recipient == "follower")).all()
    assert rows == []
    # Their own case's receipt and rejection only.
    assert sorted(subject(m) for m in emails_to(sink, DUPLICATE.email)) == [
        "Laporan LAP-DUPE2 diarsipkan", "Laporan LAP-DUPE2 telah diterima"]


def test_a_supporter_who_left_an_email_hears_of_it_in_their_language(database_url, sessions, people, smtp,
                                                                     delivering):
    sink, port = smtp
    settings = make_settings(database_url, port)
    stack = delivering(settings)
    recorder = stack.recorder
    original, projected = open_case("LAP-ORIG3", ORIGINAL), [0]
    record(original, recorder, projected)
    with sessions.begin() as session:
        session.add(CaseFollower(tracking_id="LAP-ORIG3", follower_key="support:x", email="warga@contoh.example",
                                 language="en", confirmed_at=START))
        # Asked to follow, never confirmed (issue 24): hears nothing.
        session.add(CaseFollower(tracking_id="LAP-ORIG3", follower_key="support:y", email="orang.lain@contoh.example",
                                 language="id"))
    original.accept(START, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency_ref(sessions)))
    record(original, recorder, projected)
    stack.settle()
    [told] = emails_to(sink, "warga@contoh.example")
    assert subject(told) == "Report LAP-ORIG3 you follow was forwarded to Pemerintah Kota Banjarmasin"
    assert emails_to(sink, "orang.lain@contoh.example") == []
    # One click stops it (RFC 8058), and the same link is in the text for the reader.
    unsubscribe = str(told["List-Unsubscribe"]).strip().strip("<>")  # folded: a long header continues on the next line
    assert unsubscribe.startswith(f"{settings.base_url}/ikuti/berhenti?kasus=LAP-ORIG3&f=support%3Ax&sig=")
    assert told["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in told.get_body(("plain",)).get_content()
    assert "Stop following it" in told.get_body(("plain",)).get_content()
