"""Bring a database up to date (Alembic) and seed the directory, safely from several processes.

The API and the worker both call `prepare_database` at start. On a fresh database they would race
to create the same tables, so the whole upgrade-and-seed runs in one transaction holding a lock:
a PostgreSQL advisory lock, or SQLite's write lock (BEGIN IMMEDIATE). The loser waits, then finds
the schema at head and the directory seeded, and does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, event, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from db.directory import load_directory
from db.session import make_engine, normalize_url

DB_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = DB_DIR / "alembic.ini"
MIGRATIONS_DIR = DB_DIR / "migrations"
# Any constant shared by every process of this application ("SP4N" in ASCII).
ADVISORY_LOCK_KEY = 0x5350_344E


def alembic_config(url: str | URL | None = None) -> Config:
    """Alembic's configuration, independent of the current working directory."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logging"] = False
    if url is not None:
        config.attributes["url"] = normalize_url(url).render_as_string(hide_password=False)
    return config


def upgrade_to_head(url: str | URL) -> None:
    """Apply every migration not yet applied."""
    prepare_database(url, seed=False)


def prepare_database(url: str | URL, *, seed: bool = True) -> None:
    """Upgrade to head and bring the directory up to the shipped version; all or nothing."""
    engine = _locking_engine(url)
    try:
        with engine.begin() as connection:
            _take_migration_lock(connection)
            _upgrade(connection)
            if seed:
                # Joins the outer transaction: committed with the schema, or not at all.
                with Session(bind=connection) as session:
                    if load_directory(session):
                        session.flush()
    finally:
        engine.dispose()


def current_revision(url: str | URL) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _locking_engine(url: str | URL) -> Engine:
    engine = make_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # pysqlite would begin lazily (and not at all before DDL); begin ourselves, and take the
        # write lock up front so a second process waits here instead of half-creating tables.
        @event.listens_for(engine, "connect")
        def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _take_migration_lock(connection: Connection) -> None:
    # SQLite: BEGIN IMMEDIATE (see _locking_engine) already holds the write lock.
    if connection.dialect.name == "postgresql":
        # Released at commit or rollback.
        connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
