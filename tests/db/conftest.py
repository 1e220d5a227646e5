"""Read-model fixtures: a migrated and seeded database per test module.

SQLite in a temporary directory by default. With DATABASE_URL=postgresql..., each module gets a
scratch database on that server (created and dropped here), so tests never touch data that
someone else keeps in DATABASE_URL's own database; where creating databases is not allowed, the
schema `public` of DATABASE_URL's database is dropped and recreated instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from db.migrate import prepare_database
from db.session import make_engine, make_sessionmaker, normalize_url


def postgres_base_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


class ScratchPostgres:
    """Scratch databases next to DATABASE_URL's, or its reset `public` schema as a fallback."""

    def __init__(self, base_url: str) -> None:
        self.base = normalize_url(base_url)
        self.created: list[str] = []

    def _admin(self) -> Engine:
        return make_engine(self.base, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def new(self) -> str:
        name = f"{self.base.database}_sp4n_{uuid.uuid4().hex[:8]}"
        admin = self._admin()
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except ProgrammingError:
            with admin.connect() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            return self.base.render_as_string(hide_password=False)
        finally:
            admin.dispose()
        self.created.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        admin = self._admin()
        try:
            with admin.connect() as connection:
                for name in self.created:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()
        self.created.clear()


@pytest.fixture(scope="module")
def new_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A factory of empty databases (nothing migrated), all removed after the module."""
    base = postgres_base_url()
    if base is None:
        directory: Path = tmp_path_factory.mktemp("sqlite")
        yield lambda: f"sqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    scratch = ScratchPostgres(base)
    try:
        yield scratch.new
    finally:
        scratch.drop_all()


@pytest.fixture(scope="module")
def database_url(new_database_url: Callable[[], str]) -> str:
    """One migrated, seeded database for the whole module."""
    url = new_database_url()
    prepare_database(url)
    return url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session
