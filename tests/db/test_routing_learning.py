"""Learning from decisions (issue 15): accept, dispose and "not our authority" become labelled
examples in the projection's transaction; a trained version is an artefact in the database that
routing loads; an administrator can roll back; a city's past complaints import all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from activities.records import write_record
from activities.routing import RoutingActivities
from activities.routing_learning import activate_version, import_history, train_version
from db.models import AgencyUnit, RoutingExample, RoutingModelVersion
from domain.enums import Action, Role
from domain.models import (
    Actor,
    AgencyRef,
    DispositionInput,
    RerouteInput,
    SuggestionRequest,
    VerificationInput,
)
from tests.db.test_records import ADMIN, open_case

CITY = AgencyRef(id="pemkot-62.71", name="Pemerintah Kota Palangkaraya", timezone="Asia/Jakarta")
OFFICER = Actor(role=Role.OFFICER, name="petugas", agency_id=CITY.id)
NATIONAL = Actor(role=Role.AGENCY_ADMIN, name="admin", agency_id="kemensos")
PARKS = "pemkot-62.71/pertamanan"
TREES = [
    "Pohon angsana di taman kota tumbang menimpa pagar warga",
    "Dahan pohon besar di taman menjuntai ke kabel, mohon dipangkas",
    "Taman kota tidak terawat, rumput tinggi dan lampu taman mati",
    "Pohon peneduh di median jalan miring hampir tumbang",
]


@pytest.fixture
def clean(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.execute(delete(RoutingModelVersion))
        session.execute(delete(RoutingExample))
        if session.get(AgencyUnit, PARKS) is None:
            session.add(AgencyUnit(id=PARKS, agency_id=CITY.id, name="Dinas Pertamanan Kota Palangkaraya", kind="dinas"))


def rows(session: Session, tracking_id: str) -> list[tuple[str, str, str | None, bool]]:
    return [
        (r.source, r.agency_id, r.unit_id, r.positive)
        for r in session.scalars(select(RoutingExample).where(RoutingExample.tracking_id == tracking_id)
                                 .order_by(RoutingExample.event_seq))
    ]


def test_decisions_are_projected_as_labelled_examples(sessions: sessionmaker[Session], clean: None) -> None:
    machine = open_case(title="Pohon tumbang", description=TREES[0])
    now = machine.state.submitted_at + timedelta(hours=1)
    machine.accept(now, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=CITY))
    machine.dispose(now, DispositionInput(actor=OFFICER, unit_id=PARKS))
    first = machine.record_since(0)
    machine.reroute(now, RerouteInput(actor=Actor(role=Role.AGENCY_ADMIN, name="a", agency_id=CITY.id),
                                      reason="bukan wewenang kami"))
    second = machine.record_since(first.seq)
    for record in (first, second, second):  # a retried projection adds nothing
        with sessions.begin() as session:
            write_record(session, record)
    with sessions() as session:
        assert rows(session, first.tracking_id) == [
            ("accept", CITY.id, None, True),
            ("dispose", CITY.id, PARKS, True),
            ("reroute", CITY.id, None, False),
        ]
        example = session.scalars(select(RoutingExample).where(RoutingExample.source == "dispose")).one()
        assert example.text == f"Pohon tumbang\n{TREES[0]}" and example.region_code == "62.71"


def test_an_automatic_forward_is_not_a_decision(sessions: sessionmaker[Session], clean: None) -> None:
    machine = open_case()
    now = machine.state.submitted_at + timedelta(hours=1)
    machine.accept(now, VerificationInput(actor=Actor(role=Role.SYSTEM, name="sistem"), decision=Action.ACCEPT,
                                          agency=CITY))
    with sessions.begin() as session:
        write_record(session, machine.record_since(0))
    with sessions() as session:
        assert rows(session, machine.state.tracking_id) == []


def test_a_city_onboarded_from_its_history_gets_its_own_unit_first(
    sessions: sessionmaker[Session], clean: None
) -> None:
    history = [{"text": t, "region_code": "62.71", "agency_id": CITY.id, "unit_id": "pertamanan",
                "date": "2025-03-0%d" % (i + 1)} for i, t in enumerate(TREES)]
    with sessions.begin() as session:
        check, added = import_history(session, history)
    assert check.ok and added == 4

    routing = RoutingActivities(sessions, model=None)
    request = SuggestionRequest(tracking_id="t", text="Pohon di taman depan sekolah tumbang, dahan patah",
                                region_code="62.71")
    before = routing.suggest_agencies(request)
    assert before[0].model_version == "rules"  # nothing trained yet

    version = train_version(sessions)
    assert version is not None and version.active and version.n_examples == 4
    routing.refresh()
    [top, *_] = routing.suggest_agencies(request)
    assert top.agency_id == CITY.id and top.model_version == f"rules+m{version.version}"
    assert top.units[0].unit_id == PARKS and "disposisi serupa" in top.units[0].reason
    assert train_version(sessions) is None  # nothing new: no new version


def test_a_rollback_pins_the_older_version(sessions: sessionmaker[Session], clean: None) -> None:
    with sessions.begin() as session:
        import_history(session, [{"text": TREES[0], "agency_id": CITY.id}])
    first = train_version(sessions)
    with sessions.begin() as session:
        import_history(session, [{"text": TREES[1], "agency_id": "kemensos"}])
    second = train_version(sessions)
    assert first and second and second.active
    with sessions.begin() as session:
        assert activate_version(session, first.version).pinned
    with sessions.begin() as session:
        import_history(session, [{"text": TREES[2], "agency_id": CITY.id}])
    third = train_version(sessions)
    assert third is not None and not third.active  # trained, stored, not activated while pinned
    with sessions() as session:
        assert session.scalar(select(RoutingModelVersion.version).where(RoutingModelVersion.active)) == first.version
    routing = RoutingActivities(sessions, model=None)
    [top, *_] = routing.suggest_agencies(SuggestionRequest(tracking_id="t", text=TREES[1]))
    assert top.model_version == f"rules+m{first.version}"


def test_an_import_with_unknown_units_writes_nothing(sessions: sessionmaker[Session], clean: None) -> None:
    history = [
        {"text": TREES[0], "agency_id": CITY.id, "unit_id": "pertamanan"},
        {"text": TREES[1], "agency_id": CITY.id, "unit_id": "dinas-tidak-ada"},
        {"text": TREES[2], "agency_id": "instansi-khayalan"},
        {"text": "", "agency_id": CITY.id, "date": "kemarin"},
    ]
    with sessions.begin() as session:
        check, added = import_history(session, history)
    assert not check.ok and added == 0
    assert check.unknown_units == ["pemkot-62.71/dinas-tidak-ada"]
    assert check.unknown_agencies == ["instansi-khayalan"]
    assert any("baris 4" in e for e in check.errors)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(RoutingExample)) == 0


def test_the_command_line_imports_a_history_file_and_trains(
    sessions: sessionmaker[Session], clean: None, database_url: str, tmp_path, capsys
) -> None:
    from activities.routing_learning import main

    bad = tmp_path / "salah.csv"
    bad.write_text(f"text,agency_id,unit_id\n{TREES[0]},{CITY.id},tidak-ada\n", encoding="utf-8")
    assert main(["--database-url", database_url, "import", str(bad)]) == 2
    assert "baris 2, kolom unit_id: unit pemkot-62.71/tidak-ada" in capsys.readouterr().err
    good = tmp_path / "riwayat.json"
    good.write_text('{"items": [' + ",".join(
        f'{{"text": "{t}", "agency_id": "{CITY.id}", "unit_id": "pertamanan", "date": "2025-05-01"}}' for t in TREES
    ) + "]}", encoding="utf-8")
    assert main(["--database-url", database_url, "import", str(good), "--train"]) == 0
    out = capsys.readouterr().out
    assert "imported 4 examples" in out and "4 examples, active=True" in out
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(RoutingExample)) == 4


def test_re_disposing_a_case_leaves_one_example_and_does_not_move_the_vote(
    sessions: sessionmaker[Session], clean: None
) -> None:
    """An agency admin may dispose one case again and again while it awaits them: the latest
    disposition is the case's one example, and re-disposing adds no weight."""
    ours = AgencyRef(id="kemensos", name="Kementerian Sosial", timezone="Asia/Jakarta")
    request = SuggestionRequest(tracking_id="t", text="Pohon di taman depan sekolah tumbang, dahan patah",
                                region_code="62.71")

    def suggestions(disposals: int, imported_again: int) -> tuple[list[tuple], list[tuple]]:
        with sessions.begin() as session:
            session.execute(delete(RoutingModelVersion))
            session.execute(delete(RoutingExample))
            import_history(session, [{"text": t, "region_code": "62.71", "agency_id": CITY.id,
                                      "unit_id": "pertamanan"} for t in TREES[1:]])
        machine = open_case(title="Pohon tumbang", description=TREES[0])
        now = machine.state.submitted_at + timedelta(hours=1)
        machine.accept(now, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=ours))
        seen = 0
        for n in range(disposals):
            machine.dispose(now + timedelta(minutes=n), DispositionInput(actor=NATIONAL, unit_id=f"kemensos/u{n % 2}"))
            record = machine.record_since(seen)
            seen = record.seq
            with sessions.begin() as session:
                write_record(session, record)
        with sessions.begin() as session:
            import_history(session, [{"text": f"Pohon tumbang\n{TREES[0]}", "agency_id": ours.id}] * imported_again)
        assert train_version(sessions) is not None
        with sessions() as session:
            stored = rows(session, machine.state.tracking_id)
        routing = RoutingActivities(sessions, model=None)
        ranked = [(s.agency_id, s.score, [(u.unit_id, u.score) for u in s.units])
                  for s in routing.suggest_agencies(request)]
        return stored, ranked

    once, once_ranked = suggestions(disposals=1, imported_again=0)
    assert once == [("accept", ours.id, None, True), ("dispose", ours.id, "kemensos/u0", True)]
    again, again_ranked = suggestions(disposals=12, imported_again=0)
    assert again == [("accept", ours.id, None, True), ("dispose", ours.id, "kemensos/u1", True)]  # the latest
    assert [(a, round(s, 6)) for a, s, _ in again_ranked] == [(a, round(s, 6)) for a, s, _ in once_ranked]
    assert again_ranked[0][0] == CITY.id  # the body that handles such texts stays first


def test_imported_rows_are_examples_in_their_own_right(sessions: sessionmaker[Session], clean: None) -> None:
    """One text a city sent to two units (two rows of its history) keeps both labels (issue 22:
    10,024 rows had become 9,688 examples, unit labels silently dropped)."""
    from activities.routing_learning import labelled_examples

    text = "Pohon tumbang menutup jalan di depan taman kota"
    with sessions.begin() as session:
        check, added = import_history(session, [
            {"text": text, "agency_id": CITY.id, "unit_id": "pertamanan"},
            {"text": text, "agency_id": CITY.id, "unit_id": "pupr"},
            {"text": text, "agency_id": CITY.id, "unit_id": "pertamanan"},
        ])
    assert check.ok and added == 3
    with sessions() as session:
        examples, _ = labelled_examples(session)
    assert [e.unit_id for e in examples] == [PARKS, f"{CITY.id}/pupr", PARKS]


def test_a_new_version_or_a_removed_unit_is_seen_without_waiting_for_the_directory_ttl(
    sessions: sessionmaker[Session], clean: None
) -> None:
    """Every process checks a cheap stamp (active version, directory fingerprint) every couple of
    seconds, not the 60 s directory reload: an import's version or a unit an agency admin removed
    shows in the next suggestions (issue 22, item 4)."""
    routing = RoutingActivities(sessions, model=None)
    routing.STAMP_CHECK_SECONDS = 0.0
    request = SuggestionRequest(tracking_id="t", text="Pohon di taman depan sekolah tumbang, dahan patah",
                                region_code="62.71")
    assert routing.suggest_agencies(request)[0].model_version == "rules"
    with sessions.begin() as session:
        import_history(session, [{"text": t, "region_code": "62.71", "agency_id": CITY.id, "unit_id": "pertamanan"}
                                 for t in TREES])
    version = train_version(sessions)
    [top, *_] = routing.suggest_agencies(request)  # no refresh(), no TTL: the stamp changed
    assert top.model_version == f"rules+m{version.version}" and top.unit_id == PARKS
    with sessions.begin() as session:
        session.get(AgencyUnit, PARKS).active = False
    [top, *_] = routing.suggest_agencies(request)
    assert top.agency_id == CITY.id and PARKS not in {u.unit_id for u in top.units} and top.unit_id != PARKS
    with sessions.begin() as session:
        session.get(AgencyUnit, PARKS).active = True
