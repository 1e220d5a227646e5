"""Alembic brings any fresh database to the model's schema, also when two processes race."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from db.directory import load_national_agencies
from db.migrate import alembic_config, current_revision, prepare_database, upgrade_to_head
from db.models import Agency, Base, Complaint
from db.session import make_engine, make_sessionmaker, normalize_url

TABLES = {
    "complaints",
    "timeline_events",
    "escalations",
    "notifications",
    "agencies",
    "agency_units",
}


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_creates_every_table_at_head(new_database_url: Callable[[], str]) -> None:
    url = new_database_url()
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        assert current_revision(url) == head_revision()
        indexes = {index["name"] for index in inspect(engine).get_indexes("complaints")}
        assert {
            "ix_complaints_agency_id_status_submitted_at",
            "ix_complaints_status_submitted_at",
            "ix_complaints_overdue",
            "ix_complaints_next_deadline",
            "ix_complaints_submitted_at",
        } <= indexes
        with engine.connect() as connection:  # upgrade alone does not seed
            assert connection.scalar(select(func.count()).select_from(Agency)) == 0
    finally:
        engine.dispose()


def for_this_dialect(dialect: str):
    """Alembic's comparison ignores `ddl_if`: leave out model indexes meant for another dialect
    (the PostgreSQL-only trigram indexes of migration 0005)."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        return ddl_if is None or ddl_if.dialect is None or ddl_if.dialect == dialect

    return include


def test_migrations_match_the_models(new_database_url: Callable[[], str]) -> None:
    """A model change without its migration shows up here."""
    url = new_database_url()
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": for_this_dialect(connection.dialect.name)}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_prepare_twice_is_harmless_and_downgrade_removes_everything(
    new_database_url: Callable[[], str],
) -> None:
    url = new_database_url()
    prepare_database(url)
    prepare_database(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(Agency)) > 500
        command.downgrade(alembic_config(url), "base")
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_two_processes_preparing_a_fresh_database_at_once(
    new_database_url: Callable[[], str],
) -> None:
    """The API and the worker start together on an empty database: both succeed, once."""
    url = new_database_url()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=3, mp_context=spawn) as pool:
        results = [pool.submit(prepare_database, url) for _ in range(3)]
        for result in results:
            result.result(timeout=120)
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            agencies = connection.scalar(select(func.count()).select_from(Agency))
        assert agencies == 38 + 514 + len(load_national_agencies())
    finally:
        engine.dispose()


def test_instants_come_back_aware_and_in_utc(new_database_url: Callable[[], str]) -> None:
    url = new_database_url()
    upgrade_to_head(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    wib = timezone(timedelta(hours=7))
    submitted = datetime(2026, 12, 1, 23, 30, tzinfo=wib)  # 16:30 UTC
    try:
        with sessions.begin() as session:
            session.add(_complaint("LAP-TZ", submitted))
        with sessions() as session:
            row = session.get_one(Complaint, "LAP-TZ")
            assert row.submitted_at == submitted
            assert row.submitted_at.tzinfo == UTC
            assert row.submitted_at.hour == 16
            # Comparisons happen in SQL on the stored UTC value.
            later = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
            found = session.scalar(
                select(Complaint.tracking_id).where(Complaint.submitted_at < later)
            )
            assert found == "LAP-TZ"
        with sessions() as session, pytest.raises(Exception, match="naive datetime"):
            session.add(_complaint("LAP-NAIVE", datetime(2026, 12, 1, 9, 0)))
            session.flush()
    finally:
        engine.dispose()


def _complaint(tracking_id: str, submitted_at: datetime) -> Complaint:
    return Complaint(
        tracking_id=tracking_id,
        seq=1,
        status="awaiting_verification",
        title="t",
        description="d",
        report_type="pengaduan",
        channel="api",
        submitted_at=submitted_at,
        policy_version="p",
        calendar_version="c",
    )


def test_postgresql_urls_default_to_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://u@h/db")


def test_sqlite_uses_wal_and_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        engine.dispose()
