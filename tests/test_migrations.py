"""The Alembic migrations build exactly the models' schema, on SQLite and on PostgreSQL, and step back down."""

from __future__ import annotations

import os

import orjson
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry.cli import alembic_config
from registry.config import PACKAGE_DIR
from registry.db import Base, make_engine
from tests.scratch import scratch_postgres_database
from registry.models import search_object_filter
from registry.services import catalogue, rulebooks
from tests.factories import report_document, submit


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """An empty database of each engine (PostgreSQL only when the suite runs against it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("PostgreSQL run only (TEST_DATABASE_URL=postgresql+psycopg://...)")
    with scratch_postgres_database(base, "mig") as url:
        yield url


def _diff(url: str):
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True,
                                                                  "include_object": search_object_filter}), Base.metadata)
    engine.dispose()
    return diff


def test_upgrade_from_empty_matches_the_models(empty_database):
    command.upgrade(alembic_config(empty_database), "head")
    assert _diff(empty_database) == []
    engine = make_engine(empty_database)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"reports", "report_revisions", "test_results", "report_events", "standards", "clauses"} <= tables


def test_latest_migration_downgrades_and_upgrades_again(empty_database):
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    head = ScriptDirectory.from_config(config).get_current_head()
    command.downgrade(config, "-1")
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() != head
    engine.dispose()
    command.upgrade(config, "head")
    assert _diff(empty_database) == []


def test_migrated_database_refuses_to_rewrite_history(empty_database):
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, kind, name_en, demo, created_at) "
                          "VALUES ('lab-x', 'lab', 'X', false, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO accreditation_bodies (id, name_en, country, verified, source) "
                          "VALUES ('AB', 'AB', 'CN', true, 's')"))
        conn.execute(text("INSERT INTO accreditations (lab_id, body_id, number, basis, valid_from) "
                          "VALUES ('lab-x', 'AB', 'N1', 'ISO/IEC 17025', '2024-01-01')"))
        conn.execute(text("INSERT INTO accreditation_events (accreditation_id, action, status, effective_on, reason, "
                          "acting_org, recorded_at) SELECT id, 'grant', 'valid', '2024-01-01', 'r', 'AB', "
                          "CURRENT_TIMESTAMP FROM accreditations"))
    for statement in ("UPDATE accreditation_events SET status = 'withdrawn'", "DELETE FROM accreditation_events"):
        with pytest.raises(Exception, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    engine.dispose()


def test_migrations_install_the_search_text_index(empty_database):
    """0004 builds the engine's own text index: FTS5 trigram tables on SQLite, GIN trigram/tsvector on PostgreSQL."""
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE name LIKE 'search%'")).all())
            assert "trigram" in sql["search_fts"] and "content='search_documents'" in sql["search_fts"]
            assert {"search_documents_ai", "search_documents_ad", "search_documents_au"} <= set(sql)
        else:
            indexes = set(conn.execute(text("SELECT indexname FROM pg_indexes")).scalars())
            assert {"ix_search_documents_terms_trgm", "ix_search_documents_terms_tsv",
                    "ix_products_model_key_trgm"} <= indexes
    engine.dispose()
    command.downgrade(alembic_config(empty_database), "0003")
    engine = make_engine(empty_database)
    assert not {"search_documents", "users", "search_fts"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_large_json_is_compressed_with_lz4_on_postgresql(empty_database):
    if not empty_database.startswith("postgresql"):
        pytest.skip("SQLite does not compress")
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        lz4 = conn.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
        methods = dict(conn.execute(text(
            "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE (c.relname, a.attname) IN (('report_revisions', 'document'), ('decisions', 'detail'), ('decision_plans', 'plan'))")).all())
    engine.dispose()
    expected = "l" if lz4 else ""
    assert methods == {"report_revisions.document": expected, "decisions.detail": expected, "decision_plans.plan": expected}


def test_0009_gives_existing_organizations_their_name_keys(empty_database):
    config = alembic_config(empty_database)
    command.upgrade(config, "0008")
    engine = make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, kind, name_en, name_zh, country, demo, created_at) VALUES "
                          "('mfr-a', 'manufacturer', '  ＡＣＭＥ   Power Co. ', '深圳  艾克米', 'CN', false, CURRENT_TIMESTAMP), "
                          "('lab-b', 'lab', 'Lab B', NULL, 'DE', false, CURRENT_TIMESTAMP)"))
    engine.dispose()
    command.upgrade(config, "head")
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        keys = {row[0]: tuple(row[1:]) for row in conn.execute(
            text("SELECT id, name_key, name_zh_key FROM organizations ORDER BY id"))}
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("organizations")}
    engine.dispose()
    assert keys == {"mfr-a": ("acme power co.", "深圳 艾克米"), "lab-b": ("lab b", None)}
    assert {"ix_organizations_country_name_key", "ix_organizations_country_name_zh_key"} <= indexes


def test_0010_leaves_measurements_in_the_documents_and_rebuilds_the_column_going_down(empty_database):
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    engine = make_engine(empty_database)
    documents = [report_document("cn"), report_document("sg")]
    with Session(engine, expire_on_commit=False) as session:
        catalogue.load_catalogue(session, PACKAGE_DIR / "catalogue")
        rulebooks.seed_rulebook(session)
        session.commit()
        for document in documents:
            submit(session, document)
    engine.dispose()

    command.downgrade(config, "0009")
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT measurements FROM test_results ORDER BY revision_id, position")).scalars()
        stored = [orjson.loads(m) if isinstance(m, str) else m for m in stored]
    engine.dispose()
    filed = [r.get("measurements", []) for document in documents for r in document["results"]]
    assert stored == filed and any(filed)  # every result's measurements, from its revision's document
    _assert_results_are_append_only(empty_database)
    command.upgrade(config, "head")
    assert _diff(empty_database) == []
    _assert_results_are_append_only(empty_database)


def _assert_results_are_append_only(url: str) -> None:
    """The database still refuses to change or delete a result (the append-only triggers survived)."""
    engine = make_engine(url)
    for statement in ("UPDATE test_results SET verdict = 'pass'", "DELETE FROM test_results"):
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
    engine.dispose()
