"""Read-model latency at scale (issue 7, ARCHITECTURE.md §4 "Reads").

    python -m bench reads                                   # 100k in SQLite and in PostgreSQL
    python -m bench reads --count 1000000 --backends postgresql
    python -m bench reads --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Each backend gets a scratch database (a temporary SQLite file; a PostgreSQL database created next
to --postgres's and dropped afterwards), migrated to head and seeded like production. Synthetic
cases are bulk-inserted with plain SQL (two timeline events each), then the API's own read-model
functions are timed, each call in a fresh session as a request would have it:

- one:    `get_case_row` + `view_of_row(with_history=True)` (GET /v1/complaints/{id} from the
          read model: the path for closed cases and the fallback);
- agency: `list_cases(agency_id=…, status=…)` + the list views (GET /v1/complaints?agency_id&status);
- overdue: `list_cases(overdue=True)`;
- q:      `list_cases(q=<one word>)` (a common and a rare word, alternately).

Each query's plan is printed (EXPLAIN / EXPLAIN QUERY PLAN on the SQL the function ran).
Last line per backend: `backend=… cases=… one_p99_ms=… agency_p99_ms=… overdue_p99_ms=… q_p99_ms=…`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.pool import NullPool

from api.read_model import get_case_row, list_cases, view_of_row
from db.migrate import prepare_database
from db.models import Agency, Complaint, TimelineEventRow
from db.session import make_engine, make_sessionmaker, normalize_url

WORDS = ("jalan rusak lampu mati sampah banjir air bersih listrik sekolah guru puskesmas obat pasar "
         "parkir liar izin usaha pungli kantor desa bansos beras jembatan drainase trotoar bus angkot "
         "ktp kk akta pajak tanah sertifikat polisi lalu lintas macet pohon tumbang").split()
RARE = "xylofonkelurahan"  # in 1 case in 10,000
STATUSES = ["awaiting_verification"] * 10 + ["awaiting_agency"] * 20 + ["in_progress"] * 30 + \
    ["completed"] * 35 + ["archived"] * 5
BATCH = 5_000
CALLS = 300


def synthetic_rows(n: int, agencies: list[str], seed: int = 7):
    rnd = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        status = rnd.choice(STATUSES)
        submitted = start + timedelta(seconds=rnd.randrange(0, 700 * 86400))
        words = rnd.sample(WORDS, 4) + ([RARE] if i % 10_000 == 0 else [])
        agency = rnd.choice(agencies) if status != "awaiting_verification" else None
        tracking_id = f"LAP-B{i:09d}"
        yield {
            "tracking_id": tracking_id, "seq": 2, "status": status, "title": " ".join(words[:3]).capitalize(),
            "description": "Mohon ditindaklanjuti: " + " ".join(words) + ". " * 3, "report_type": "pengaduan",
            "category": None, "region_code": "62.71", "location_lat": None, "location_lon": None,
            "location_address": None, "agency_hint": None, "anonymous": False, "confidential": False,
            "channel": "web", "reporter_name": None, "reporter_email": None, "reporter_phone": None,
            "submitted_at": submitted, "policy_version": "permenpan-62-2018.v1", "calendar_version": "bench",
            "agency_id": agency, "unit_id": None, "archive_reason": None, "duplicate_of": None,
            "verification_due": submitted + timedelta(days=3), "response_due": submitted + timedelta(days=8),
            "resolution_due": submitted + timedelta(days=22), "silence_ends": None, "hold_ends": None,
            "next_deadline": submitted + timedelta(days=8), "overdue": rnd.random() < 0.05,
            "bounce_count": 0, "reopen_count": 0, "ombudsman_flagged": False, "first_response_at": None,
            "completed_at": None, "rating": None, "updated_at": submitted, "needs_rerouting": False,
        }, [
            {"tracking_id": tracking_id, "seq": 1, "at": submitted, "action": "submit", "actor_role": "public",
             "actor_agency_id": None, "actor_name": None, "status_from": None, "status_to": "awaiting_verification",
             "note": None, "agency_id": None, "unit_id": None, "deadline_set": submitted + timedelta(days=3),
             "deadline_met": None},
            {"tracking_id": tracking_id, "seq": 2, "at": submitted + timedelta(days=1), "action": "accept",
             "actor_role": "admin", "actor_agency_id": None, "actor_name": None,
             "status_from": "awaiting_verification", "status_to": status, "note": None, "agency_id": agency,
             "unit_id": None, "deadline_set": submitted + timedelta(days=8), "deadline_met": None},
        ]


def fill(engine: Engine, n: int) -> list[str]:
    with engine.connect() as connection:
        agencies = list(connection.scalars(select(Agency.id).order_by(Agency.id)))[:300]
    started = time.perf_counter()
    cases, events = [], []
    with engine.begin() as connection:
        for row, timeline in synthetic_rows(n, agencies):
            cases.append(row)
            events += timeline
            if len(cases) >= BATCH:
                connection.execute(insert(Complaint), cases)
                connection.execute(insert(TimelineEventRow), events)
                cases, events = [], []
        if cases:
            connection.execute(insert(Complaint), cases)
            connection.execute(insert(TimelineEventRow), events)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    print(f"  inserted {n:,} cases + {2 * n:,} events in {time.perf_counter() - started:.0f} s")
    return agencies


class LastStatement:
    """The SQL and parameters of the last SELECT on complaints, for EXPLAIN."""

    def __init__(self, engine: Engine) -> None:
        self.sql, self.params = "", None
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM complaints" in statement:
            self.sql, self.params = statement, parameters


def timed(name: str, calls: int, call: Callable[[int], None]) -> dict[str, float]:
    latencies = []
    for i in range(calls):
        started = time.perf_counter()
        call(i)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(f"  {name:8s} p50 {statistics.median(latencies):7.2f} ms   p99 {p99:7.2f} ms")
    return {"p50": statistics.median(latencies), "p99": p99}


def explain(engine: Engine, last: LastStatement, name: str) -> None:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS OFF) "
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(prefix + last.sql, last.params).all()
    lines = [" | ".join(str(c) for c in row[-1:]) for row in plan]
    print(f"  plan {name}:")
    for line in lines[:12]:
        print(f"      {line}")


def measure(engine: Engine, n: int, agencies: list[str]) -> dict[str, float]:
    sessions = make_sessionmaker(engine)
    last = LastStatement(engine)
    rnd = random.Random(11)
    ids = [f"LAP-B{rnd.randrange(n):09d}" for _ in range(CALLS)]
    busy = agencies[: max(1, len(agencies) // 10)]  # lists of the agencies with most use

    def one(i: int) -> None:
        with sessions() as session:
            row = get_case_row(session, ids[i])
            assert row is not None
            view_of_row(row, with_history=True)

    def listing(**filters) -> Callable[[int], None]:
        def call(i: int) -> None:
            chosen = {k: (v(i) if callable(v) else v) for k, v in filters.items()}
            with sessions() as session:
                rows, _ = list_cases(session, status=chosen.get("status"), agency_id=chosen.get("agency_id"),
                                     report_type=None, overdue=chosen.get("overdue"), q=chosen.get("q"),
                                     submitted_from=None, submitted_to=None, cursor=None, limit=50)
                for row in rows:
                    view_of_row(row, with_history=False)
        return call

    plans = {}
    result = {}
    for name, call in (
        ("one", one),
        ("agency", listing(agency_id=lambda i: busy[i % len(busy)], status="in_progress")),
        ("overdue", listing(overdue=True)),
        ("q", listing(q=lambda i: RARE if i % 2 else WORDS[i % len(WORDS)])),
    ):
        call(0)  # warm
        result[name] = timed(name, CALLS, call)
        plans[name] = (last.sql, last.params)
        if name == "q":
            call(1)  # the rare word: the hard case for a LIKE scan
            plans[name] = (last.sql, last.params)
    for name, (sql, params) in plans.items():
        last.sql, last.params = sql, params
        explain(engine, last, name)
    return {f"{k}_p99_ms": round(v["p99"], 2) for k, v in result.items()}


def run_backend(backend: str, n: int, postgres: str) -> dict[str, float]:
    print(f"{backend}: {n:,} cases")
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="bench-reads-")
        url = f"sqlite:///{Path(directory) / 'reads.db'}"
        drop = lambda: [p.unlink() for p in Path(directory).iterdir()]  # noqa: E731
    else:
        base = normalize_url(postgres)
        name = f"sp4n_bench_reads_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    try:
        prepare_database(url)
        engine = make_engine(url)
        agencies = fill(engine, n)
        result = {"backend": backend, "cases": n} | measure(engine, n, agencies)
        engine.dispose()
        return result
    finally:
        drop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench reads")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = [run_backend(b, args.count, args.postgres) for b in args.backends.split(",")]
    for result in results:
        print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0
