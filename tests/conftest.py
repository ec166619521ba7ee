"""Test fixtures: one database per test session, one rolled-back transaction per test.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL names another (CI runs the suite again on
PostgreSQL that way). Tables come from `create_all` here for speed; tests/test_migrations.py guards that the
Alembic migrations build the same schema.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy.orm import Session, sessionmaker

from registry import create_app
from registry.config import PACKAGE_DIR
from registry.db import Base, make_engine
from registry.services import catalogue, rulebooks

from tests import factories


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        catalogue.load_catalogue(session, PACKAGE_DIR / "catalogue")
        rulebooks.seed_rulebook(session)
        session.commit()
    yield engine
    Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def connection(engine):
    """A connection inside an outer transaction that every test rolls back; services' commits become savepoints."""
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def app(connection, database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test"})
    app.extensions["registry.sessionmaker"] = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield app


@pytest.fixture
def session(app):
    with app.app_context():
        from registry.db import get_session

        yield get_session()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def lab_key(session):
    """An API key of the demo Chinese lab that the CN example report names."""
    return factories.make_key(session, "lab-cn-sh-evtc")
