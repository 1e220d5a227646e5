"""Cost per case (issue 25): CPU of each process and Temporal's footprint, per new case and per
typical lifecycle.

    python -m bench cost                          # 50 new cases, 5 typical lifecycles
    python -m bench cost --cases 200 --lifecycles 10

The processes of `make run`, in subprocesses on loopback (tests/reliability/stack.py): the Temporal
dev server with its SQLite file, `python worker.py` and the API under uvicorn, with notifications
on and an SMTP sink in this process (every message is accepted, as a mail server would). CPU time
is read from /proc/<pid>/stat (user + system) of each process before and after a phase, and each
process's idle CPU (its rate over a quiet stretch just before the phase, times the phase's
duration; the lower of its rates over 5 s before and 5 s after the phase) is taken off: what is left is the work the phase caused. (The API's part of a lifecycle
is read when its last request is answered, without that correction.)

1. **New case**: N `POST /v1/complaints` (a reporter with an email), one at a time, then wait
   until everything they caused is done (routing suggestion, projection, every delivery), with
   the production policy (no clock falls due during the bench).
2. **Typical lifecycle**: submit, forward (accept to an agency), dispose to a unit, follow up,
   then the reporter's silence completes the case: on a second API process with the drill policy
   (`latihan.v1+<d>s`, a working day of `--day-seconds`), so the silence ends within the run.
   Staff have tokens with emails, so every party has somebody to tell.

3. **The SDK's floor**: N workflows of a new case's shape with nothing of ours in them, in a
   worker process of their own on the same server with the same encrypted data converter: two
   local activities and one activity on a second task queue (as the case's projection, routing
   suggestion and e-mail batch), payloads of a case's size, every activity returning at once.
   What the worker and the server spend on these is what Temporal's Python SDK and server cost
   for that shape of work, whatever our code does.

After each phase: every workflow it started (Temporal's visibility, start time after the phase
began), their history events and workflow tasks (`WorkflowTaskStarted` events), summed.

Last line (the new case): `cost: worker_ms=… server_ms=… api_ms=… events=… workflows=…`; before it
the targets, and the lifecycle's and the floor's figures as `lifecycle: …` and `floor: …`. Each
figure line carries the load average, and the first line a reference loop's CPU time: machines
differ in speed per core, so figures taken on two of them compare only beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from aiosmtpd.controller import Controller
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.reliability.stack import ADMIN_TOKEN, ROOT, Stack, api_healthy, eventually, running_stack
from workflows.client import connect

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENCY, UNIT = "pemkot-62.71", "pemkot-62.71/pupr"
BODY = {"title": "Lampu jalan mati", "description": "Lampu jalan di depan pasar mati sejak seminggu.",
        "region_code": "62.71", "reporter": {"name": "Siti", "email": "siti@example.id"}}
TICKS = os.sysconf("SC_CLK_TCK")
PROCESSES = ("worker", "temporal", "api")
QUIET_SECONDS = 5.0


class Sink:
    """Accepts every message (the worker's SMTP server)."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        self.count += 1
        return "250 OK"


def cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS  # utime + stime


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def reference_ms() -> float:
    """CPU ms of a fixed pure-Python loop (ten million additions): machines differ by 2-3x in
    speed per core, so figures from two machines compare only beside this."""
    started, total = time.process_time(), 0
    for i in range(10_000_000):
        total += i
    return round((time.process_time() - started) * 1000)


# A new case's payloads are a few kilobytes (its input, the record projected, the plan returned).
SHAPE_PAYLOAD = "x" * 3000
SHAPE_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="shape_echo")
def shape_echo(payload: str) -> str:
    return payload


@workflow.defn(name="ShapeWorkflow")
class ShapeWorkflow:
    """A new case's shape in Temporal (two local activities, one activity on another queue), empty."""

    @workflow.run
    async def run(self, queues: list[str]) -> str:
        payload = SHAPE_PAYLOAD
        for _ in range(2):
            payload = await workflow.execute_local_activity(shape_echo, payload, start_to_close_timeout=SHAPE_TIMEOUT)
        return await workflow.execute_activity(shape_echo, payload, task_queue=queues[1],
                                               start_to_close_timeout=SHAPE_TIMEOUT)


async def serve_shape(address: str, queues: list[str]) -> None:
    """The floor's worker (run in its own process by `floor`), as worker.py builds its own: until SIGTERM."""
    client = await connect(address, "default")
    with ThreadPoolExecutor(max_workers=8) as executor:
        workers = [Worker(client, task_queue=queues[0], workflows=[ShapeWorkflow], activities=[shape_echo],
                          activity_executor=executor, workflow_runner=UnsandboxedWorkflowRunner()),
                   Worker(client, task_queue=queues[1], activities=[shape_echo], activity_executor=executor)]
        async with workers[0], workers[1]:
            await asyncio.Event().wait()


class Meter:
    """CPU of the stack's processes over a phase, less each one's idle rate."""

    def __init__(self, stack: Stack, api_names: tuple[str, ...], worker_pid: int | None = None) -> None:
        self.pids = {"worker": [worker_pid or stack.processes["worker"].pid],
                     "temporal": [stack.processes["temporal"].pid],
                     "api": [stack.processes[name].pid for name in api_names]}

    def read(self) -> dict[str, float]:
        return {name: sum(cpu_ms(pid) for pid in pids) for name, pids in self.pids.items()}

    async def idle_rates(self) -> dict[str, float]:
        """ms of CPU per second of each process while nothing happens."""
        before, started = self.read(), time.monotonic()
        await asyncio.sleep(QUIET_SECONDS)
        after, elapsed = self.read(), time.monotonic() - started
        return {name: (after[name] - before[name]) / elapsed for name in before}

    async def settled(self, limit_ms_per_s: float = 50.0, patience: float = 300.0) -> None:
        """Until the worker idles (under `limit_ms_per_s` of CPU per second over two seconds): the
        worker trains its routing model on a thread after its first suggestion, which takes tens
        of seconds of CPU on a slow machine and must not count as a phase's work nor as idling."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            before = self.read()["worker"]
            await asyncio.sleep(2)
            if (self.read()["worker"] - before) / 2 < limit_ms_per_s:
                return
        raise RuntimeError(f"the worker did not settle within {patience:.0f} s")

    async def measure(self, phase: Callable[[], Awaitable[None]]) -> dict[str, float]:
        await self.settled()
        idle_before = await self.idle_rates()
        before, started = self.read(), time.monotonic()
        await phase()
        after, elapsed = self.read(), time.monotonic() - started
        # The lower of the idle rates before and after: a quiet stretch that still held the tail
        # of earlier work (a flush, a poll) would take off more than idling costs.
        idle_after = await self.idle_rates()
        idle = {name: min(idle_before[name], idle_after[name]) for name in idle_before}
        return {name: max(after[name] - before[name] - idle[name] * elapsed, 0.0) for name in before}


async def footprint(client: Client, since: datetime) -> dict[str, int]:
    """Workflows started since `since` (not by a schedule), their events and workflow tasks, summed."""
    query = f'StartTime >= "{since.isoformat()}"'
    workflows = events = tasks = 0
    async for execution in client.list_workflows(query, page_size=1000):
        if "TemporalScheduledById" in execution.search_attributes or any(
                pair.key.name == "TemporalScheduledById" for pair in execution.typed_search_attributes):
            continue  # a schedule's run (routing retraining, open data), not the case's doing
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        workflows += 1
        events += len(history.events)
        tasks += sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in history.events)
    return {"workflows": workflows, "events": events, "tasks": tasks}


async def drained(client: Client, since: datetime, done: Callable[[], Awaitable[bool]], timeout: float = 600) -> None:
    """Until nothing started since `since` is running but the cases (which wait for their clocks),
    `done()` holds, and both stay so for a second (the last activities' results recorded)."""
    others = f'StartTime >= "{since.isoformat()}" AND ExecutionStatus = "Running" AND WorkflowType != "ComplaintWorkflow"'
    began, quiet = time.monotonic(), 0
    while quiet < 2:
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"not drained within {timeout} s")
        busy = (await client.count_workflows(others)).count
        quiet = quiet + 1 if busy == 0 and await done() else 0
        await asyncio.sleep(0.5)


async def post(api: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None, **body) -> dict:
    response = await api.post(path, json=body, headers=headers or {})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
    return response.json()


async def run(cases: int, lifecycles: int, day_seconds: int, workdir: Path) -> dict[str, dict[str, float]]:
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with running_stack(workdir, DEPENDENCY_TIMEOUT_SECONDS="60", SMTP_HOST="127.0.0.1",
                           SMTP_PORT=str(smtp_port), NOTIFICATIONS_ENABLED="true") as stack:
            stack.start("api-drill", POLICY_VERSION="latihan.v1", POLICY_WORKING_DAY_SECONDS=str(day_seconds))
            return await measure(stack, sink, cases, lifecycles)
    finally:
        controller.stop()


async def measure(stack: Stack, sink: Sink, cases: int, lifecycles: int) -> dict[str, dict[str, float]]:
    client = await connect(f"127.0.0.1:{stack.temporal_port}", "default")
    meter = Meter(stack, ("api", "api-drill"))
    async with (httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_ports['api-drill']}", timeout=60) as drill):
        for one in (api, drill):
            await eventually(lambda: api_healthy(one), timeout=60)
        staff = {}
        for role, name in (("admin", "Admin"), ("agency_admin", "Admin instansi"), ("officer", "Petugas")):
            token = await post(api, "/v1/tokens", ADMIN, role=role, name=name, email=f"{role}@staff.example",
                               **({} if role == "admin" else {"agency_id": AGENCY}))
            staff[role] = {"Authorization": f"Bearer {token['token']}"}

        async def submit(door: httpx.AsyncClient, i: int) -> str:
            return (await post(door, "/v1/complaints", **BODY | {"title": f"Lampu jalan mati {i}"}))["tracking_id"]

        async def settled(since: datetime, mails: int) -> None:
            async def done() -> bool:
                return sink.count >= mails
            await drained(client, since, done)

        async def typical(i: int, acted: asyncio.Event | None = None) -> None:
            tracking_id = await submit(drill, i)
            await post(drill, f"/v1/complaints/{tracking_id}/verification", ADMIN, decision="accept",
                       agency_id=AGENCY)
            await post(drill, f"/v1/complaints/{tracking_id}/dispositions", staff["agency_admin"], unit_id=UNIT)
            await post(drill, f"/v1/complaints/{tracking_id}/follow-ups", staff["officer"],
                       message="Lampu sudah diganti.")
            if acted is not None:
                acted.set()
            # The reporter's silence completes the case and its workflow (asked of Temporal, not of
            # the API: polling would count as the API's work).
            await client.get_workflow_handle(tracking_id).result()

        # Warm-up: every path taken once (imports, caches, connections); the drill case completes,
        # so no clock of it falls due later.
        since = datetime.now(timezone.utc)
        await asyncio.gather(submit(api, 0), typical(0))
        await settled(since, 2)

        results: dict[str, dict[str, float]] = {}
        # 1. New cases.
        since, mails = datetime.now(timezone.utc), sink.count

        async def new_cases() -> None:
            for i in range(cases):
                await submit(api, i)
            await settled(since, mails + cases)

        cpu = await meter.measure(new_cases)
        results["case"] = per(cpu, await footprint(client, since), cases)
        print_line("new case", results["case"], cases)

        # 2. Typical lifecycles, side by side (each waits for its silence).
        since = datetime.now(timezone.utc)

        api_cpu: list[float] = []

        async def typicals() -> None:
            api_before = meter.read()["api"]
            actions = [asyncio.Event() for _ in range(lifecycles)]

            async def one(i: int) -> None:
                await typical(i, acted=actions[i])

            async def requests_done() -> None:
                for acted in actions:
                    await acted.wait()
                # The API's part is over once the last action is answered: read it then, not
                # after the silence (its idle work over those seconds would swamp it).
                api_cpu.append(meter.read()["api"] - api_before)

            await asyncio.gather(requests_done(), *(one(i) for i in range(lifecycles)))
            await settled(since, 0)

        cpu = await meter.measure(typicals)
        cpu["api"] = api_cpu[0]
        results["lifecycle"] = per(cpu, await footprint(client, since), lifecycles)
        print_line("typical lifecycle", results["lifecycle"], lifecycles)
    results["floor"] = await floor(stack, client, cases)
    print_line("empty workflow of a new case's shape (the SDK's floor)", results["floor"], cases)
    return results


async def floor(stack: Stack, client: Client, count: int) -> dict[str, float]:
    """Phase 3: `count` ShapeWorkflows, one started after another as the new cases were, then
    every result awaited; CPU of the floor's own worker process and of the server."""
    queues = [f"shape-{uuid.uuid4().hex[:8]}", f"shape-send-{uuid.uuid4().hex[:8]}"]
    code = "import asyncio, sys; from bench.cost import serve_shape; asyncio.run(serve_shape(sys.argv[1], sys.argv[2:]))"
    with open(stack.workdir / "shape-worker.log", "ab") as log:
        worker = subprocess.Popen([sys.executable, "-c", code, f"127.0.0.1:{stack.temporal_port}", *queues],
                                  cwd=ROOT, env=stack.env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        async def shapes(n: int) -> None:
            handles = [await client.start_workflow(ShapeWorkflow.run, queues, id=f"shape-{uuid.uuid4().hex}",
                                                   task_queue=queues[0]) for _ in range(n)]
            for handle in handles:
                await handle.result()

        await shapes(3)  # warm-up: imports, connections, the first polls
        meter = Meter(stack, (), worker_pid=worker.pid)
        since = datetime.now(timezone.utc)
        cpu = await meter.measure(lambda: shapes(count))
        return per(cpu, await footprint(client, since), count)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def per(cpu: dict[str, float], footprint: dict[str, int], count: int) -> dict[str, float]:
    return {"worker_ms": round(cpu["worker"] / count, 1), "server_ms": round(cpu["temporal"] / count, 1),
            "api_ms": round(cpu["api"] / count, 1)} | {k: round(v / count, 1) for k, v in footprint.items()}


def print_line(what: str, figures: dict[str, float], count: int) -> None:
    print(f"per {what} (mean of {count}; load {load()}): worker {figures['worker_ms']} ms, Temporal server "
          f"{figures['server_ms']} ms, API {figures['api_ms']} ms CPU; {figures['workflows']} workflows, "
          f"{figures['events']} events, {figures['tasks']} workflow tasks", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cost")
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--lifecycles", type=int, default=5)
    parser.add_argument("--day-seconds", type=int, default=2, help="the drill day of the lifecycles")
    args = parser.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load {load()}; {args.cases} new cases, {args.lifecycles} typical lifecycles; "
          f"this machine's reference loop {reference_ms()} ms (bench/cost.py reference_ms)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as workdir:
        results = asyncio.run(run(args.cases, args.lifecycles, args.day_seconds, Path(workdir)))
    lifecycle, case, shape = results["lifecycle"], results["case"], results["floor"]
    print("floor: " + " ".join(f"{k}={v}" for k, v in shape.items()))
    print("lifecycle: " + " ".join(f"{k}={v}" for k, v in lifecycle.items()))
    print(f"targets (issue 25): new case worker <= 10 ms, server <= 30 ms; lifecycle worker <= 150 ms, "
          f"events <= 100, tasks <= 15; load {load()}")
    print("cost: " + " ".join(f"{k}={case[k]}" for k in ("worker_ms", "server_ms", "api_ms", "events", "workflows"))
          + f" tasks={case['tasks']} load={os.getloadavg()[0]:.2f}")
    return 0
