"""HTTP API fixtures: the real app, the real worker and a fresh read model per test.

`api` gives each test its own time-skipping Temporal test server (the root `time_skipping_env`),
a fresh read model (a new SQLite file; with DATABASE_URL=postgresql..., a scratch database next
to DATABASE_URL's, like tests/db, emptied down to the seeded directory), the real worker
(`worker.build_worker`, real activities writing that database) on a task queue of its own, and
`create_app(...)` with the test server's client, driven through httpx over ASGI inside the app's
lifespan. Tokens per role: `await api.headers("officer", "pemkot-62.71")`.

Settings can be changed per test: `@pytest.mark.api_settings(submission_rate_limit_per_minute=3)`.

Clocks. The API stamps `submitted_at` with its own clock, the workflows use the test server's.
In production both are the wall clock; here the server's jumps ahead on `env.sleep`, so the
fixture keeps the API's clock on the server's (`ApiHarness.sleep` re-reads the offset). The
time-skipping server does not skip time while a client waits on an update result: move time
with `api.sleep(...)` only, never while an action is in flight.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect as inspect_database
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from temporalio.testing import WorkflowEnvironment

from server import create_app
from config import Settings
from db.migrate import prepare_database
from db.session import make_engine, make_sessionmaker
from tests.db.conftest import ScratchPostgres, postgres_base_url
from worker import build_worker
from workflows.connected_client import ForwardStarter

T = TypeVar("T")

ADMIN_TOKEN = "test-admin-token-for-api-tests"
PROBLEM_JSON = "application/problem+json"

# Agencies of the seeded directory used across the tests.
WIB_AGENCY = "pemkot-62.71"  # Kota Palangkaraya, Central Kalimantan: WIB
WITA_AGENCY = "pemkot-63.71"  # Kota Banjarmasin, South Kalimantan: WITA
OTHER_AGENCY = "pemprov-51"  # Provinsi Bali: WITA


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "api_settings(**overrides): Settings fields for the `api` fixture's app"
    )


@pytest.fixture(autouse=True)
def _skip_sqlite_only_on_postgres(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sqlite_only") and postgres_base_url():
        pytest.skip("needs the SQLite read model")


# --- databases ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def new_api_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases: migrated, the directory seeded, no cases, tokens or keys.

    SQLite: a new file each time. PostgreSQL: one scratch database for the session (tests/db's
    ScratchPostgres), emptied before each test of everything but what seeding wrote; creating,
    migrating, seeding and dropping a database per test costs 1-2 s there, emptying it ~0.2 s.
    """
    base = postgres_base_url()
    if base is None:
        directory: Path = tmp_path_factory.mktemp("api-sqlite")

        def new_sqlite() -> str:
            url = f"sqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}"
            prepare_database(url)
            return url

        yield new_sqlite
        return
    scratch = ScratchPostgres(base)
    try:
        url = scratch.new()
        prepare_database(url)
        engine = make_engine(url, poolclass=NullPool)
        with engine.connect() as connection:
            names = inspect_database(connection).get_table_names()
            seeded = {n for n in names if connection.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{n}")')).scalar()}
        emptied = ", ".join(f'"{name}"' for name in sorted(set(names) - seeded))

        def emptied_postgres() -> str:
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {emptied} RESTART IDENTITY CASCADE"))
            return url

        yield emptied_postgres
        engine.dispose()
    finally:
        scratch.drop_all()


@pytest.fixture
def api_database_url(new_api_database: Callable[[], str]) -> str:
    return new_api_database()


# --- the harness -------------------------------------------------------------------------------


class ServerClock(tzinfo):
    """UTC, but `datetime.now(ServerClock())` reads the test server's clock (module docstring).

    It stands in for the name `timezone` in the api modules (see follow_server_clock), whose
    instants are `datetime.now(timezone.utc)`: the receipt's `submitted_at` among them.
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.utc = self  # so that it can replace the `timezone` name: `timezone.utc`

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "UTC"

    def fromutc(self, dt: datetime) -> datetime:
        return dt.replace(tzinfo=timezone.utc) + self.offset

    async def follow(self, env: WorkflowEnvironment) -> None:
        self.offset = await env.get_current_time() - datetime.now(timezone.utc)


# The packages whose instants share one clock: a session the portal starts is checked by api.sessions.
STAMPING_PACKAGES = ("api", "portal")


def follow_server_clock(monkeypatch: pytest.MonkeyPatch, clock: ServerClock) -> None:
    """Put `datetime.now(timezone.utc)` on the server's clock, in every api and portal module that
    stamps instants that way (the receipt's `submitted_at` among them) and uses nothing else of
    `timezone`."""
    patched = []
    for name, module in sorted(sys.modules.items()):
        if name.split(".")[0] not in STAMPING_PACKAGES or getattr(module, "timezone", None) is not timezone:
            continue
        if re.search(r"\btimezone\.(?!utc\b)|\btimezone\(", inspect.getsource(module)):
            continue
        monkeypatch.setattr(module, "timezone", clock)
        patched.append(name)
    assert patched, "no api module stamps time with datetime.now(timezone.utc) any more: update ServerClock"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class ApiHarness:
    env: WorkflowEnvironment
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    clock: ServerClock
    _tokens: dict[tuple[str, str | None], dict[str, str]] = field(default_factory=dict)

    admin: dict[str, str] = field(default_factory=lambda: bearer(ADMIN_TOKEN))

    # --- callers ---

    async def issue(self, role: str, agency_id: str | None = None, name: str | None = None) -> dict[str, Any]:
        """A new token issued through the API by the bootstrap admin: the 201 body."""
        body = {"role": role, "name": name or f"{role} {agency_id or 'nasional'}"}
        if agency_id:
            body["agency_id"] = agency_id
        response = await self.http.post("/v1/tokens", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()

    async def headers(self, role: str, agency_id: str | None = None) -> dict[str, str]:
        """Authorization headers for a role (one token per role and agency, issued on first use)."""
        key = (role, agency_id)
        if key not in self._tokens:
            self._tokens[key] = bearer((await self.issue(role, agency_id))["token"])
        return self._tokens[key]

    # --- cases ---

    async def submit(self, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"title": "Jalan berlubang", "description": "Jalan di depan pasar berlubang besar."} | fields
        response = await self.http.post("/v1/complaints", json=body, headers=headers or {})
        assert response.status_code == 201, response.text
        return response.json()

    async def get(self, tracking_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(f"/v1/complaints/{tracking_id}", headers=headers or {})

    async def case(self, tracking_id: str) -> dict[str, Any]:
        """The case as the administrator sees it."""
        response = await self.get(tracking_id, self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    async def act(
        self, tracking_id: str, action: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(f"/v1/complaints/{tracking_id}/{action}", json=body, headers=headers or {})

    async def act_ok(
        self, tracking_id: str, action: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        response = await self.act(tracking_id, action, body, headers)
        assert response.status_code == 200, f"{action}: {response.status_code} {response.text}"
        return response.json()

    async def accept(self, tracking_id: str, agency_id: str = WIB_AGENCY) -> dict[str, Any]:
        return await self.act_ok(tracking_id, "verification", {"decision": "accept", "agency_id": agency_id},
                                 self.admin)

    async def follow_up(self, tracking_id: str, agency_id: str = WIB_AGENCY, message: str = "Sudah ditangani.") -> dict[str, Any]:
        return await self.act_ok(tracking_id, "follow-ups", {"message": message},
                                 await self.headers("officer", agency_id))

    async def listing(self, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
        response = await self.http.get("/v1/complaints", params=params, headers=headers or self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    # --- time ---

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep(self, delta: timedelta) -> None:
        """Move the test server's clock (the worker fires what falls due) and the API's with it."""
        if delta > timedelta(0):
            await self.env.sleep(delta)
        await self.clock.follow(self.env)

    async def sleep_until(self, instant: datetime) -> None:
        await self.sleep(instant - await self.now())

    async def settle(self) -> None:
        """A few seconds of server time: in-flight projections finish before time moves on."""
        await self.sleep(timedelta(seconds=3))

    async def eventually(
        self, probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 15.0
    ) -> T:
        """Poll (in real time) until `accept(await probe())`; the last value otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = await probe()
            if accept(value) or time.monotonic() > deadline:
                return value
            await asyncio.sleep(0.05)

    async def listed_ids(self, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
        """Every tracking id of a filtered list, following next_cursor."""
        ids: list[str] = []
        cursor = None
        while True:
            page = await self.listing(headers, **params, **({"cursor": cursor} if cursor else {}), limit=200)
            ids += [item["tracking_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return ids

    async def wait_listed(self, tracking_ids: set[str], **params: Any) -> list[str]:
        """Wait until the read model lists all of these cases (projection is asynchronous)."""
        return await self.eventually(
            lambda: self.listed_ids(**params), lambda ids: tracking_ids <= set(ids)
        )


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=database_url,
        sp4n_admin_token=ADMIN_TOKEN,
        temporal_task_queue=f"api-{uuid.uuid4().hex}",
        submission_rate_limit_per_minute=1000,
        secret_key="api-tests-secret",
        public_base_url="http://sp4n.test",  # the harness's httpx base URL
        # The webhook receivers the API tests register (never called: no delivery worker runs
        # here), allow-listed so registration does not look the name up in DNS.
        webhook_allowed_hosts=["sistem.palangkaraya.go.id"],
    )
    return Settings(_env_file=None, **(values | overrides))


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    time_skipping_env: WorkflowEnvironment,
    api_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ApiHarness]:
    marker = request.node.get_closest_marker("api_settings")
    settings = settings_for(api_database_url, **(marker.kwargs if marker else {}))
    env = time_skipping_env
    clock = ServerClock()
    await clock.follow(env)
    worker_engine = make_engine(settings.database_url)
    app = create_app(settings, temporal_client=env.client)
    follow_server_clock(monkeypatch, clock)
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            # Forwards into connected bodies' systems start from the projection (tests/open311/test_connected.py
            # runs their worker); with no connected body none is ever made.
            worker = build_worker(env.client, settings.temporal_task_queue, make_sessionmaker(worker_engine), executor,
                                  forwards=ForwardStarter(env.client, settings))
            async with worker:
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500, as a user sees it
                    async with httpx.AsyncClient(transport=transport, base_url="http://sp4n.test") as http:
                        harness = ApiHarness(
                            env=env, app=app, http=http, settings=settings,
                            sessions=app.state.services.sessions, clock=clock,
                        )
                        yield harness
                # Let the last projections finish before the worker stops.
                await env.sleep(timedelta(seconds=5))
    finally:
        worker_engine.dispose()


# --- assertions ----------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status: content type and the four fields."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON, response.headers
    body = response.json()
    for name in ("type", "title", "status", "detail"):
        assert name in body, f"problem without {name}: {body}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body
