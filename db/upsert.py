"""INSERT ... ON CONFLICT for the two databases we support (the generic insert has no upsert)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect!r}: use SQLite or PostgreSQL")


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    return insert_for(session.get_bind().dialect.name, table)


def insert_ignoring_duplicates(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT DO NOTHING for `table`, built once per database kind: the rows come as
    parameters at execution. Building a statement and its cache key anew for every projection was
    a measurable share of the worker's CPU per case (issue 25)."""
    return _ignoring_duplicates(session.get_bind().dialect.name, table)


@cache
def _ignoring_duplicates(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    return insert_for(dialect, table).on_conflict_do_nothing()
