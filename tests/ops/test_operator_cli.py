"""The operator's CLI (`python -m ops`) and the admin endpoint, on the real processes of `make run`:

- reconcile finds read-model rows that were deleted or corrupted (a case row gone, a status and a
  deadline changed, a timeline event lost, a row pushed to a future seq) and re-projects them from
  the workflows (adding what was lost, never rewriting a recorded event: tests/db/
  test_reconcile_append_only.py), reporting counts; `--dry-run` only reports (exit status 1);
- export-cases writes open data: no personal data, no confidential case;
- migrate and seed prepare an empty database, and say when there was nothing to do; the routing
  history importer takes a body's past complaints (all rows or none).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.pool import NullPool

from db.models import Complaint, TimelineEventRow
from db.session import make_engine, make_sessionmaker
from tests.crypto import TEST_ENVIRONMENT
from tests.reliability.stack import ADMIN_TOKEN, ROOT, Stack, eventually, running_stack

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BODY = {"title": "Lampu jalan mati", "description": "Lampu di depan pasar mati sejak seminggu.",
        "region_code": "62.71"}


def ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # A read model of its own (the test damages it), whatever DATABASE_URL says.
    with running_stack(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'sp4n.db'}") as running:
        yield running



async def test_reconcile_repairs_a_damaged_read_model_and_export_has_no_personal_data(stack: Stack) -> None:
    sessions = make_sessionmaker(make_engine(stack.env["DATABASE_URL"], poolclass=NullPool))

    def snapshot() -> dict[str, tuple]:
        with sessions() as session:
            cases = {c.tracking_id: (c.seq, c.status, c.agency_id, c.response_due, c.verification_due)
                     for c in session.execute(select(Complaint)).scalars()}
            events = dict(session.execute(select(TimelineEventRow.tracking_id, func.count())
                                          .group_by(TimelineEventRow.tracking_id)).all())
        return {t: (*row, events.get(t, 0)) for t, row in cases.items()}

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api:
        async def healthy() -> bool:
            try:
                return (await api.get("/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        assert await eventually(healthy, timeout=90)
        ids = []
        for i in range(4):
            response = await api.post("/v1/complaints", json=BODY | {"title": f"Lampu jalan mati {i}",
                                                                    "reporter": {"name": "Siti Rahma",
                                                                                 "email": "siti@example.id"}})
            assert response.status_code == 201, response.text
            ids.append(response.json()["tracking_id"])
        secret = await api.post("/v1/complaints", json=BODY | {"title": "Pungli di kantor kelurahan",
                                                              "confidential": True})
        assert secret.status_code == 201, secret.text
        for tracking_id in ids[:2]:
            response = await api.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN,
                                      json={"decision": "accept", "agency_id": "pemkot-62.71"})
            assert response.status_code == 200, response.text

        async def projected() -> dict[str, tuple]:
            rows = snapshot()
            statuses = [rows.get(t, (None, None))[1] for t in ids]
            ready = statuses == ["awaiting_agency"] * 2 + ["awaiting_verification"] * 2
            return rows if ready and len(rows) == 5 else {}

        good = await eventually(projected)
        assert good, snapshot()

        in_sync = ops(stack.env, "reconcile", "--dry-run")
        assert in_sync.returncode == 0, in_sync.stdout + in_sync.stderr
        assert json.loads(in_sync.stdout) | {"differences": {}} == {
            "checked": 5, "in_sync": 5, "repaired": 0, "differing": 0, "missing_rows": 0, "unanswered": 0,
            "run_mismatches": 0, "conflicts": 0, "differences": {}}

        def damage() -> None:
            with sessions.begin() as session:
                # A lost row (its events too), a corrupted one, a lost event, a row from the future.
                session.execute(delete(TimelineEventRow).where(TimelineEventRow.tracking_id == ids[0]))
                session.execute(delete(Complaint).where(Complaint.tracking_id == ids[0]))
                session.execute(update(Complaint).where(Complaint.tracking_id == ids[1]).values(
                    status="completed", response_due=good[ids[1]][3] + timedelta(days=30)))
                last = session.scalar(select(func.max(TimelineEventRow.seq))
                                      .where(TimelineEventRow.tracking_id == ids[2]))
                session.execute(delete(TimelineEventRow).where(TimelineEventRow.tracking_id == ids[2],
                                                               TimelineEventRow.seq == last))
                session.execute(update(Complaint).where(Complaint.tracking_id == ids[3]).values(
                    seq=99, status="archived"))

        damage()
        assert snapshot() != good
        report = ops(stack.env, "reconcile", "--dry-run")
        assert report.returncode == 1, report.stdout + report.stderr
        found = json.loads(report.stdout)
        assert (found["checked"], found["in_sync"], found["differing"], found["repaired"], found["missing_rows"]) == (
            5, 1, 4, 0, 1)
        assert found["differences"][ids[0]] == ["missing"]
        assert {"status", "response_due"} <= set(found["differences"][ids[1]])
        assert found["differences"][ids[2]] == ["timeline"]
        assert {"seq", "status"} <= set(found["differences"][ids[3]])
        assert snapshot() != good  # a dry run repairs nothing

        # The administrator's endpoint repairs it.
        response = await api.post("/v1/operations/reconcile", headers=ADMIN)
        assert response.status_code == 200, response.text
        repaired = response.json()
        assert (repaired["checked"], repaired["in_sync"], repaired["repaired"], repaired["missing_rows"]) == (5, 1, 4, 1)
        assert snapshot() == good
        listed = (await api.get("/v1/complaints?status=awaiting_agency", headers=ADMIN)).json()["items"]
        assert sorted(item["tracking_id"] for item in listed) == sorted(ids[:2])

        # The CLI repairs too, and a second run finds nothing left.
        damage()
        fixed = ops(stack.env, "reconcile")
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert json.loads(fixed.stdout)["repaired"] == 4
        assert snapshot() == good
        again = ops(stack.env, "reconcile")
        assert json.loads(again.stdout)["in_sync"] == 5, again.stdout

        # Open data: every non-confidential case, nothing that identifies anyone.
        exported = ops(stack.env, "export-cases")
        assert exported.returncode == 0, exported.stderr
        rows = list(csv.DictReader(io.StringIO(exported.stdout)))
        assert sorted(row["tracking_id"] for row in rows) == sorted(ids)
        assert {row["status"] for row in rows} == {"awaiting_agency", "awaiting_verification"}
        for leaked in ("Siti", "siti@example.id", "Lampu", "pasar", secret.json()["tracking_id"], "Pungli"):
            assert leaked not in exported.stdout
        assert not {"title", "description", "reporter_name", "reporter_email", "location_lat"} & set(rows[0])


def test_migrate_and_seed_an_empty_database(tmp_path: Path) -> None:
    env = TEST_ENVIRONMENT | {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "PATH": "/usr/bin:/bin"}
    migrated = ops(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("schema at ")
    seeded = ops(env, "seed")
    assert seeded.returncode == 0 and "loaded" in seeded.stdout, seeded.stdout + seeded.stderr
    assert "already up to date" in ops(env, "seed").stdout
    with make_sessionmaker(make_engine(env["DATABASE_URL"], poolclass=NullPool))() as session:
        from db.models import Agency
        assert session.scalar(select(func.count()).select_from(Agency)) > 500
    # A body's past complaints become routing examples through the routing importer: all or none.
    history = tmp_path / "riwayat.csv"
    history.write_text("text,agency_id,region_code\nLampu jalan padam di depan pasar,pemkot-62.71,62.71\n"
                       "Jalan berlubang di Jl. Tjilik Riwut,pemkot-62.71,62.71\n")
    imported = ops(env, "import-routing-history", str(history))
    assert imported.returncode == 0 and "imported 2 examples" in imported.stdout, imported.stdout + imported.stderr
    history.write_text("text,agency_id\nLampu padam,no-such-body\n")
    refused = ops(env, "import-routing-history", str(history))
    assert refused.returncode == 2 and "Tidak ada yang diimpor" in refused.stderr, refused.stdout + refused.stderr
