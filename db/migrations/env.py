"""Alembic environment for the read model.

db/migrate.py passes an open connection (already holding the migration lock) in
`config.attributes["connection"]`; the alembic CLI gets its URL from `config.attributes["url"]`,
`sqlalchemy.url` or the settings (DATABASE_URL).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from db.models import Base
from db.session import make_engine, normalize_url

config = context.config
target_metadata = Base.metadata

# Only the CLI configures logging: fileConfig inside a running API would silence its loggers.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name)


def database_url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from config import get_settings  # noqa: PLC0415 (only when nobody passed a URL)

        url = get_settings().database_url
    return url


def configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = (
        connection.dialect.name
        if connection is not None
        else normalize_url(url or "").get_backend_name()
    )
    context.configure(
        connection=connection,
        url=normalize_url(url) if url else None,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables instead.
        render_as_batch=dialect == "sqlite",
        compare_type=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
