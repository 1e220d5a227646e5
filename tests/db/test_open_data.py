"""Open data generated from a seeded read model (activities/open_data.py): the figures, the
suppression, a confidential, unverified or rejected case nowhere, versions, and a data package the
`frictionless` library validates."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import frictionless
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.open_data import DESCRIPTOR, generate
from db.open_data_models import OpenDataFile, OpenDataVersion
from tests.open_data_seed import SECRET_REPORTER, SUBMITTED_AT, Seeded, seed_open_data

NOW = datetime(2027, 2, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(sessions: sessionmaker[Session]) -> Seeded:
    with sessions() as session:
        return seed_open_data(session)


@pytest.fixture(scope="module")
def files(sessions: sessionmaker[Session], seeded: Seeded) -> dict[str, str]:
    with sessions() as session:
        result = generate(session, NOW)
        assert result.created and result.rows == {"bodies": 1, "regions": 1, "cases": 13}
        stored = session.scalars(select(OpenDataFile).where(OpenDataFile.version == result.version)).all()
        return {file.name: file.content for file in stored}


def test_each_body_s_month_is_counted_from_the_timeline_with_small_counts_hidden(files):
    [row] = json.loads(files["bodies.json"])
    assert row == {
        "agency_id": "pemkot-62.71", "agency_name": row["agency_name"], "month": "2026-12",
        "received": 13,
        "forwarded_within_deadline": 13,
        "first_response_within_deadline": "x",  # 9 of 13: the 4 others would be given back
        "median_first_response_hours": 24.0,
        "completed": "x",
        "returned_not_our_authority": "<5",
        "overdue": "<5",
        "ombudsman_flagged": 0,
        "mean_rating": 4.0,
    }
    assert "Palangka" in row["agency_name"]
    assert list(csv.reader(io.StringIO(files["bodies.csv"])))[1][3:6] == ["13", "13", "x"]


def test_regions_and_cases(files):
    # 9 of the 13 completed: 13 - 9 would tell the 4 open ones, as in the bodies table.
    assert json.loads(files["regions.json"]) == [
        {"region_code": "62.71", "month": "2026-12", "category": "jalan-jembatan", "received": 13, "completed": "x"}]
    cases = json.loads(files["cases.json"])
    assert {(c["region_code"], c["category"], c["submitted_at"]) for c in cases} == {
        ("62.71", "jalan-jembatan", "2026-12-01")}
    # the case the city returned now names no body, and does not say it was returned
    assert sorted(c["agency_id"] or "" for c in cases) == [""] + ["pemkot-62.71"] * 12
    assert {c["ombudsman_flagged"] for c in cases} == {False} and sum(bool(c["bounce_count"]) for c in cases) == 0
    assert all("tracking_id" not in c and "T" not in (c["completed_at"] or "") for c in cases)


# What counting a body's case rows of a month gives back, per column of the bodies table.
_COUNTED_BY = {
    "completed": lambda c: c["completed_at"] is not None or c["status"] in ("completed", "archived"),
    "returned_not_our_authority": lambda c: bool(c["bounce_count"]),
    "overdue": lambda c: bool(c["overdue"]),
    "ombudsman_flagged": lambda c: bool(c["ombudsman_flagged"]),
    "first_response_within_deadline": lambda c: c["first_response_at"] is not None,
}


def test_no_count_the_bodies_table_hides_is_given_back_by_counting_the_case_rows(files):
    """The first thing anyone checks: count the rows naming the body in the month. Each "<5" or
    "x" of the bodies table must not be counted out of the case rows (the column is blanked)."""
    cases = json.loads(files["cases.json"])
    for body in json.loads(files["bodies.json"]):
        # a regional body's cases: those naming it, and those of its region naming no body
        rows = [c for c in cases if c["submitted_at"][:7] == body["month"] and (
            c["agency_id"] == body["agency_id"] or (not c["agency_id"] and c["region_code"] == "62.71"))]
        hidden = [column for column in _COUNTED_BY if not isinstance(body[column], int)]
        assert set(hidden) == {"completed", "returned_not_our_authority", "overdue",
                               "first_response_within_deadline"}  # the seed hides these four
        for column in hidden:  # the column that would count it is empty in every row
            assert sum(map(_COUNTED_BY[column], rows)) == 0, column
        ratings = [c["rating"] for c in rows if c["rating"] is not None]
        assert len(ratings) >= 5 or not ratings  # a mean the table does not give is not summed up here


def test_a_confidential_unverified_or_rejected_case_appears_nowhere(files, seeded):
    every_file = "".join(files.values())
    for tracking_id in seeded.hidden + seeded.published:  # no tracking id at all
        assert tracking_id not in every_file
    for trace in ("kesehatan", "pendidikan", "bantuan-sosial", "62.03", "62.04", "62.05",
                  SECRET_REPORTER.name, SECRET_REPORTER.email, "Jalan rusak", "Pak RT", "-2.21", "113.92"):
        assert trace not in every_file, trace


def test_the_data_package_validates(files, tmp_path: Path):
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    report = frictionless.validate(str(tmp_path / DESCRIPTOR))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    descriptor = json.loads(files[DESCRIPTOR])
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0" and descriptor["updateFrequency"] == "daily"
    assert descriptor["sources"] and {r["path"] for r in descriptor["resources"]} == {
        f"{name}.{fmt}" for name in ("bodies", "regions", "cases") for fmt in ("csv", "json")}
    package = frictionless.Package(str(tmp_path / DESCRIPTOR))
    assert package.get_resource("bodies").read_rows()[0]["received"] == 13
    assert package.get_resource("bodies-json").read_rows()[0]["overdue"] is None  # "<5" is a missing value


def test_unchanged_figures_keep_the_version_and_new_ones_make_the_next(sessions, files):
    with sessions() as session:
        latest = session.scalar(select(OpenDataVersion.version).order_by(OpenDataVersion.version.desc()).limit(1))
        again = generate(session, NOW + timedelta(days=1))
        assert (again.created, again.version) == (False, latest)
        seed_open_data(session, at=SUBMITTED_AT + timedelta(days=31))
        newer = generate(session, NOW + timedelta(days=2))
        assert newer.created and newer.version == latest + 1 and newer.rows["bodies"] == 2
        first = session.get_one(OpenDataFile, (latest, "bodies.json"))
        assert len(json.loads(first.content)) == 1  # the earlier version is kept as it was
