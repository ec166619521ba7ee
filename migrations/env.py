"""Alembic environment: the registry's metadata, and the database URL the app itself would use."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

from registry import models  # noqa: F401  (registers every table on Base.metadata)
from registry.config import PROJECT_DIR
from registry.db import Base, make_engine
from registry.models import search_object_filter

config = context.config
if config.config_file_name and os.path.exists(config.config_file_name) and not config.attributes.get("quiet_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    return os.environ.get("DATABASE_URL") or f"sqlite:///{PROJECT_DIR / 'instance' / 'registry.sqlite3'}"


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      compare_type=True, render_as_batch=True, include_object=search_object_filter)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode recreates the table instead.
    # include_object: the engine-specific search indexes (FTS5 tables, GIN indexes) are not in the models.
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True, render_as_batch=True,
                      include_object=search_object_filter)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
