"""The database plumbing's own promises, on whichever engine the suite runs against."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import (JSON, Boolean, Column, Date, Integer, MetaData, String, Table, bindparam, event, func, insert,
                        select, text)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker

from registry import db
from registry.db import begin_write, bulk_insert, make_engine
from registry.models import UTCDateTime

_metadata = MetaData()
_rows_table = Table(
    "bulk_insert_probe", _metadata,
    Column("id", Integer, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("label", String(80)),
    Column("flag", Boolean, nullable=False),
    Column("day", Date, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("details", JSON),
    Column("readings", JSON, nullable=False),
)

_TRICKY = ["plain", "quote ' and \" and \\ backslash", "GB/T 18487.1-2023 §5", "交流充电桩 绝缘电阻", "$.label", "", None]


def _rows():
    return [
        dict(position=i, label=label, flag=i % 2 == 0, day=date(2025, 1 + i % 12, 1 + i),
             at=datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))) + timedelta(minutes=i),
             details=None if i % 3 == 0 else {"ambient_c": [-25, 50 + i], "note": label},
             readings=orjson.Fragment(orjson.dumps([{"quantity": "U", "value": 1.5 * i, "unit": "kV"}])))
        for i, label in enumerate(_TRICKY)
    ]


def _stored(connection, table):
    """The rows as the application reads them, and their dates, timestamps, JSON and booleans as the database holds
    them (the text SQLite compares in SQL must have one format, and a JSON null must not turn into SQL NULL or the
    reverse, whichever way a row was written)."""
    typed = [dict(row._mapping) for row in connection.execute(select(table).order_by(table.c.position))]
    raw = connection.exec_driver_sql(f"SELECT day, at, details, flag FROM {table.name} ORDER BY position").all()
    return [dict(row, raw=tuple(stored)) for row, stored in zip(typed, raw)]


def test_bulk_insert_stores_what_one_insert_per_row_stores(engine):
    """Same values back, types included: text with quotes and CJK, booleans, dates, timestamps (given in UTC+8,
    stored in UTC), JSON objects, arrays and null."""
    with engine.connect() as connection, connection.begin() as transaction:
        _metadata.create_all(connection)  # a throw-away table: the rollback below takes it away again
        bulk_insert(connection, _rows_table, _rows())
        bulk = _stored(connection, _rows_table)
        connection.execute(_rows_table.delete())
        connection.execute(insert(_rows_table), _rows())  # the engine's JSON serializer passes a Fragment through
        one_by_one = _stored(connection, _rows_table)
        transaction.rollback()
    for row in bulk + one_by_one:
        row.pop("id")
    assert len(bulk) == len(_TRICKY)
    assert bulk == one_by_one
    assert bulk[1]["label"] == _TRICKY[1] and bulk[3]["label"] == "交流充电桩 绝缘电阻" and bulk[6]["label"] is None
    assert bulk[1]["details"] == {"ambient_c": [-25, 51], "note": _TRICKY[1]} and bulk[0]["details"] is None
    assert bulk[2]["readings"] == [{"quantity": "U", "value": 3.0, "unit": "kV"}]
    assert bulk[0]["flag"] is True and bulk[1]["flag"] is False and bulk[5]["day"] == date(2025, 6, 6)
    assert bulk[2]["at"] == datetime(2026, 11, 30, 0, 2, 0, 123456, tzinfo=timezone.utc)


def test_bulk_insert_of_nothing_does_nothing(engine):
    with engine.connect() as connection:
        bulk_insert(connection, _rows_table, [])  # the table does not even exist: no statement was sent


def test_committed_pages_reach_the_database_file_before_the_autocheckpoint_threshold(tmp_path):
    """The WAL is copied back by a thread of the writing process, outside the write lock: pages reach the database
    file although no commit came near `wal_autocheckpoint` (4,000 pages), which alone would have copied them."""
    path = tmp_path / "wal.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    make_session = sessionmaker(bind=engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY, body TEXT)")
    size_before = path.stat().st_size
    for i in range(40):
        with make_session() as session:
            begin_write(session)
            session.execute(text("INSERT INTO probe (body) VALUES (:body)"), {"body": f"{i}" * 3000})
            session.commit()
        time.sleep(0.01)
    deadline = time.monotonic() + 10
    while path.stat().st_size < size_before + 40 * 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    size_after = path.stat().st_size
    wal_pages = (tmp_path / "wal.sqlite3-wal").stat().st_size // 4096
    engine.dispose()
    assert wal_pages < 4000  # the threshold was never reached ...
    assert size_after >= size_before + 40 * 3000  # ... yet the rows are in the database file


def test_the_checkpointing_thread_ends_when_its_database_is_idle_and_comes_back_with_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(db._WalCheckpointer, "idle_after", 0.2)
    path = tmp_path / "idle.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    make_session = sessionmaker(bind=engine)
    name = "wal-checkpointer:idle.sqlite3"

    def write():
        with make_session() as session:
            begin_write(session)
            session.execute(text("CREATE TABLE IF NOT EXISTS probe (body TEXT)"))
            session.execute(text("INSERT INTO probe VALUES ('x')"))
            session.commit()

    def threads():
        return [t for t in threading.enumerate() if t.name == name]

    write()
    assert len(threads()) == 1
    deadline = time.monotonic() + 5
    while threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threads() == []  # idle: the thread ended (and closed its connection)
    write()
    assert len(threads()) == 1  # a commit starts another
    engine.dispose()


# ---------------------------------------------------------------------------------------------------- Prebuilt

_INSERT_PROBE = db.Prebuilt(insert(_rows_table).returning(_rows_table.c.id))
_PROBE_AT = db.Prebuilt(select(_rows_table).where(_rows_table.c.position == bindparam("position")))
_PROBES_SINCE = db.Prebuilt(select(_rows_table.c.label, _rows_table.c.at).where(_rows_table.c.day >= bindparam("day"))
                            .order_by(_rows_table.c.position).limit(3))


def test_a_prebuilt_statement_stores_and_reads_what_sqlalchemy_does(engine):
    """Inserted by `Prebuilt`, the rows are stored as SQLAlchemy's own insert stores them (same text, timestamps,
    JSON and booleans in the database), and read back by `Prebuilt` with the same Python values as by SQLAlchemy."""
    rows = _rows()
    with engine.connect() as connection, connection.begin() as transaction:
        _metadata.create_all(connection)
        ids = [_INSERT_PROBE.scalar(connection, row) for row in rows]
        prebuilt = _stored(connection, _rows_table)
        connection.execute(_rows_table.delete())
        connection.execute(insert(_rows_table), _rows())
        ordinary = _stored(connection, _rows_table)
        read = {r["position"]: _PROBE_AT.first(connection, {"position": r["position"]}) for r in ordinary}
        core = {r["position"]: tuple(connection.execute(_PROBE_AT.statement, {"position": r["position"]}).one())
                for r in ordinary}
        since = _PROBES_SINCE.rows(connection, {"day": date(2025, 3, 1)})
        since_core = [tuple(r) for r in connection.execute(_PROBES_SINCE.statement, {"day": date(2025, 3, 1)})]
        transaction.rollback()
    assert len(set(ids)) == len(rows) and all(isinstance(i, int) for i in ids)
    for row in prebuilt + ordinary:
        row.pop("id")
    assert prebuilt == ordinary
    assert read == core and read[3][2] == "交流充电桩 绝缘电阻" and read[2][5] == datetime(2026, 11, 30, 0, 2, 0, 123456, tzinfo=timezone.utc)
    assert read[1][6] == {"ambient_c": [-25, 51], "note": _TRICKY[1]} and read[0][3] is True and read[1][3] is False
    assert since == since_core and len(since) == 3  # the LIMIT's own parameter is filled in


def test_a_prebuilt_insert_of_many_rows_and_its_errors_are_sqlalchemys(engine):
    rows = _rows()
    with engine.connect() as connection, connection.begin() as transaction:
        _metadata.create_all(connection)
        _INSERT_EVENTLESS.rows(connection, [dict(row, id=100 + i) for i, row in enumerate(rows)])
        assert connection.execute(select(func.count()).select_from(_rows_table)).scalar() == len(rows)
        with pytest.raises(IntegrityError):  # the same primary key again: what a caller catches from SQLAlchemy
            _INSERT_EVENTLESS.rows(connection, dict(rows[0], id=100))
        transaction.rollback()


_INSERT_EVENTLESS = db.Prebuilt(insert(_rows_table))


def test_a_prebuilt_statement_is_seen_by_cursor_listeners_and_refuses_what_it_cannot_do(engine):
    seen = []

    def listener(_conn, _cursor, statement, *_):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            _metadata.create_all(connection)
            _INSERT_PROBE.scalar(connection, _rows()[0])
            transaction.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert any(s.startswith("INSERT INTO bulk_insert_probe") for s in seen)  # with a listener, through SQLAlchemy

    defaulted = Table("prebuilt_defaulted", MetaData(), Column("id", Integer, primary_key=True),
                      Column("note", String(10), default="x"))
    with engine.connect() as connection, pytest.raises(ValueError, match="defaults"):
        db.Prebuilt(insert(defaulted)).rows(connection, {"id": 1})  # the default would be silently skipped
    with engine.connect() as connection, pytest.raises(ValueError, match="without its parameter"):
        _PROBE_AT.rows(connection, {})


# ---------------------------------------------------------------------------------------------------- PostgreSQL pool


def _backend_pid(connection) -> int:
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _terminate(database_url: str, pid: int) -> None:
    other = make_engine(database_url)
    with other.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        connection.commit()
    other.dispose()


@pytest.fixture
def postgres_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server to lose")
    return database_url


def test_an_idle_pooled_connection_the_server_dropped_is_replaced_before_use(postgres_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout counts as idle
    pooled = make_engine(postgres_url)
    with pooled.connect() as connection:
        first = _backend_pid(connection)
    _terminate(postgres_url, first)  # a server restart, as the pooled connection sees it
    with pooled.connect() as connection:  # tested at checkout, found dead, replaced
        assert _backend_pid(connection) != first
    pooled.dispose()


def test_a_connection_used_a_moment_ago_is_handed_out_untested(postgres_url, monkeypatch):
    """The trade made for a round trip less per request: a connection checked in less than a second ago is not
    tested. If the server dropped it meanwhile the statement fails; the pool is then renewed."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pooled = make_engine(postgres_url)
    with pooled.connect() as connection:
        first = _backend_pid(connection)
    _terminate(postgres_url, first)
    with pooled.connect() as connection, pytest.raises(OperationalError):
        _backend_pid(connection)
    with pooled.connect() as connection:
        assert _backend_pid(connection) != first
    pooled.dispose()
