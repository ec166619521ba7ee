"""Database plumbing: the declarative base, the engine built from config, and one session per request."""

from __future__ import annotations

from typing import Any

import fcntl
import os
import sqlite3
import threading
import time

import orjson
from flask import Flask, current_app, g
from sqlalchemy import JSON, MetaData, Table, create_engine, event, exc, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names make Alembic autogenerate and SQLite batch migrations reliable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Prebuilt:
    """A Core statement compiled once per engine kind and run on the driver's cursor, for the submission's path.

    SQLAlchemy's execute of a Core statement (cache key, execution context, parameter and result objects) cost a
    storage-only submission about 50 µs per statement in a server worker, more than SQLite took to run most of them:
    over its eight statements, a tenth of the submission's instructions. Here the statement is compiled once per
    dialect; each run converts the parameters and the result with the columns' own type processors, as SQLAlchemy
    would, and errors are SQLAlchemy's (an `IntegrityError` is one). With echo on, or a cursor-event listener on the
    engine, the run goes through SQLAlchemy, so logs and listeners see every statement.

    Only what these statements use: bound parameters named as given (no expanding IN), and inserts whose columns'
    defaults are either given or computed by the database.
    """

    def __init__(self, statement: Any):
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple] = {}

    def _compile(self, dialect: Any, keys: tuple[str, ...]) -> tuple:
        is_insert = getattr(self.statement, "is_insert", False)
        if is_insert:
            table = self.statement.table
            missing = [c.name for c in table.c if c.name not in keys and (c.default is not None or c.onupdate is not None)]
            if missing:
                raise ValueError(f"Prebuilt insert into {table.name} leaves Python-side defaults to compute: {missing}")
            compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        else:
            compiled = self.statement.compile(dialect=dialect)
        if compiled.escaped_bind_names:
            raise ValueError(f"Prebuilt statement with bind names that need escaping: {compiled.escaped_bind_names}")
        defaults, processors = {}, {}
        for name, bind in compiled.binds.items():
            if bind.expanding:
                raise ValueError("Prebuilt statements take no expanding parameters")
            if not bind.required:
                defaults[name] = bind.effective_value
            elif name not in keys:
                raise ValueError(f"Prebuilt statement run without its parameter '{name}'")
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                processors[name] = convert
        order = tuple(compiled.positiontup) if dialect.positional else None
        columns = self.statement.selected_columns if hasattr(self.statement, "selected_columns") else (
            self.statement.exported_columns if compiled.effective_returning else ())
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        return compiled.string, defaults, processors, order, results if any(results) else None, bool(columns)

    def _parameters(self, compiled: tuple, params: dict[str, Any]) -> Any:
        _, defaults, processors, order, _, _ = compiled
        values = dict(defaults, **params) if defaults else dict(params)
        for name, convert in processors.items():
            values[name] = convert(values[name])
        return tuple(values[name] for name in order) if order is not None else values

    def rows(self, connection: Connection, params: dict[str, Any] | list[dict[str, Any]]) -> list[tuple]:
        """Run with one set of parameters (and return the rows) or with a list of them (executemany, no rows)."""
        many = isinstance(params, list)
        if many and len(params) < 2:  # psycopg runs an executemany in pipeline mode: for one row, dearer
            if not params:
                return []
            params, many = params[0], False
        first = params[0] if many else params
        dialect = connection.dialect
        key = (dialect.name, tuple(first))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect, key[1])
        sql, results, fetch = compiled[0], compiled[4], compiled[5]
        converted = [self._parameters(compiled, p) for p in params] if many else self._parameters(compiled, params)
        fetched = _run_on_cursor(connection, sql, converted, many, fetch)
        if results is None:
            return fetched
        return [tuple(v if convert is None else convert(v) for v, convert in zip(row, results)) for row in fetched]

    def first(self, connection: Connection, params: dict[str, Any]) -> tuple | None:
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: Connection, params: dict[str, Any]) -> Any:
        rows = self.rows(connection, params)
        return rows[0][0] if rows else None


def _run_on_cursor(connection: Connection, sql: str, parameters: Any, many: bool, fetch: bool = False) -> list[tuple]:
    """Run SQL in the driver's own parameter style on the connection's transaction; with `fetch`, its rows as tuples
    (the caller knows whether the statement returns any: asking psycopg builds its column descriptions)."""
    if not connection.in_transaction():
        connection.begin()
    if connection.engine.echo or connection.dispatch.before_cursor_execute:
        result = connection.exec_driver_sql(sql, parameters)
        return [tuple(row) for row in result] if fetch else []
    dialect = connection.dialect
    pooled = connection.connection
    # One cursor per driver connection, kept in the pool's info for it (cleared when the connection is replaced):
    # psycopg builds a fair amount of state for each new cursor.
    cursor = pooled.info.get("registry_cursor")
    if cursor is None:
        cursor = pooled.info["registry_cursor"] = pooled.dbapi_connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
            return []
        cursor.execute(sql, parameters)
        return cursor.fetchall() if fetch else []
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect,
                                      ismulti=many) from error


_BULK_INSERTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}  # statements by dialect, table and columns


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows, each value converted by its column's type exactly as an ordinary insert converts it.

    PostgreSQL: one statement whose one parameter is the rows as a JSON array. An executemany sends, and PostgreSQL
    executes, one statement per row: for a report's ~30 results that was a quarter of a submission's client time
    (psycopg binds, sends and reads back each row) and much of the server's. `json_to_recordset` unpacks the array on
    the server instead: 4x less client CPU for the 34 results of the example. JSON columns go in as nested JSON (an
    `orjson.Fragment` is embedded as is).

    SQLite runs in the process, with no round trip to save, and unpacking JSON there (`json_each`) was twice as slow
    as an executemany. The executemany is given plain tuples: SQLAlchemy's own parameter handling of the 34 rows
    cost more than SQLite's inserting them, and it runs under the write lock.

    Every row must have every key of the first.
    """
    if not rows:
        return
    dialect = connection.dialect
    names = tuple(rows[0])
    key = (dialect.name, table.name, names)
    cached = _BULK_INSERTS.get(key)
    if cached is None:
        columns = [table.c[name] for name in names]
        quote = dialect.identifier_preparer.quote
        listed = ", ".join(quote(c.name) for c in columns)
        processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        if dialect.name == "postgresql":
            typed = ", ".join(f"{quote(c.name)} {c.type.compile(dialect)}" for c in columns)
            sql = (f"INSERT INTO {quote(table.name)} ({listed}) SELECT {listed} "
                   f"FROM json_to_recordset(CAST(:rows AS json)) AS r({typed})")
            # JSON columns stay Python data: the whole array is serialized once, below.
            converters = {c.name: convert for c, convert in zip(columns, processors)
                          if convert is not None and not isinstance(c.type, JSON)}
            cached = (Prebuilt(text(sql)), converters)
        else:
            sql = f"INSERT INTO {quote(table.name)} ({listed}) VALUES ({', '.join('?' * len(columns))})"
            cached = (sql, [(i, convert) for i, convert in enumerate(processors) if convert is not None])
        _BULK_INSERTS[key] = cached
    if dialect.name == "postgresql":
        statement, converters = cached
        if converters:
            rows = [dict(row, **{name: convert(row[name]) for name, convert in converters.items()}) for row in rows]
        statement.rows(connection, {"rows": orjson.dumps(rows).decode()})
        return
    sql, converters = cached
    values = [[row[name] for name in names] for row in rows]
    for i, convert in converters:
        for row in values:
            row[i] = convert(row[i])
    _run_on_cursor(connection, sql, [tuple(row) for row in values], many=True)


def make_engine(url: str, echo: bool = False) -> Engine:
    """Build an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    # orjson for JSON columns: report documents are stored whole, and the stdlib encoder dominated a submission.
    kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _commit_then_release_writer_lock)
        event.listen(engine, "rollback", _release_writer_lock)
    else:
        _ping_idle_connections(engine)
    return engine


# A pooled connection unused this long is tested before it is handed out (see `_ping_idle_connections`).
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Hand out no pooled connection that the server has dropped (a restart, a failover, an idle timeout).

    SQLAlchemy's `pool_pre_ping` tests every connection at every checkout: one more round trip for every request,
    a twelfth of a storage-only submission on PostgreSQL. A connection checked in less than a second ago was alive
    then; one idle longer is tested first, and a dead one is replaced (SQLAlchemy retries the checkout when this
    hook raises `DisconnectionError`). A server that goes away under load fails the statements then in flight, and
    SQLAlchemy invalidates the pool's connections on the first such error.
    """
    broken = engine.dialect.loaded_dbapi.Error

    def fresh(_dbapi_connection, record) -> None:
        record.info["registry_used_at"] = time.monotonic()

    def checkout(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get("registry_used_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except broken as error:
            raise exc.DisconnectionError(f"pooled connection lost: {error}") from error

    event.listen(engine, "connect", fresh)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", fresh)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN would defer locks and break isolation).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint every 4,000 WAL pages (16 MB), not 1,000: index and table pages that many submissions rewrite are
    # copied back once per checkpoint, so fewer checkpoints write less (361 KB instead of 388 KB of I/O per
    # storage-only submission, 7 % faster in-process). The commit that crosses it checkpoints under the writer lock;
    # `_WalCheckpointer` does most of that work beforehand, outside it.
    cursor.execute("PRAGMA wal_autocheckpoint=4000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # IMMEDIATE takes the write lock at the start, so two writers queue instead of failing mid-transaction.
    write = connection.get_execution_options().get("registry_write", False)
    connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def init_app(app: Flask) -> None:
    """Create the engine and sessionmaker for this app and close the request's session on teardown."""
    engine = make_engine(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False))
    app.extensions["registry.engine"] = engine
    app.extensions["registry.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The request's session, opened lazily."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["registry.sessionmaker"]()
    return g.db_session


def begin_write(session: Session) -> None:
    """Start the write transaction of a use case; on SQLite it takes the write lock up front.

    A deferred SQLite transaction that read first (authentication, say) cannot upgrade to a writer once another
    connection has written: it fails with "database is locked" whatever the busy timeout. So the reads done so far
    are ended and the write transaction begins with BEGIN IMMEDIATE, which waits its turn instead.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if session.in_transaction():
        connection = session.connection()
        if connection.info.get("registry_writer_lock"):
            return
        owned = isinstance(bind, Engine) and not connection.in_nested_transaction()  # not a test's savepoint
        if owned and not (session.new or session.dirty or session.deleted):
            # Only reads so far: end them and begin the write on the same connection, under the same SQLAlchemy
            # transaction. Committing the session and checking a connection out again cost every submission
            # about a twentieth of its time, for a transaction that had nothing to commit.
            dbapi_connection = connection.connection.dbapi_connection
            dbapi_connection.execute("COMMIT")
            _acquire_writer_lock(bind.engine)
            connection.info["registry_writer_lock"] = True  # from here a rollback releases it
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        session.commit()
    _acquire_writer_lock(bind.engine)
    connection = session.connection(execution_options={"registry_write": True})
    connection.info["registry_writer_lock"] = True


# SQLite lets one writer in at a time and makes the others poll with growing sleeps (1, 2, 5, 10 ms ...), which
# under steady load wastes most of the time. Writers of all processes queue on an flock instead: the kernel wakes
# the next one the moment the lock is released. One descriptor per database file per process.
_writer_locks: dict[str, int] = {}
_writer_locks_guard = threading.Lock()


def _lock_fd(engine: Engine) -> int | None:
    path = engine.url.database
    if not path or path == ":memory:":
        return None
    with _writer_locks_guard:
        if path not in _writer_locks:
            _writer_locks[path] = os.open(f"{path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        return _writer_locks[path]


def forget_inherited_locks() -> None:
    """In a forked child: drop the parent's lock descriptors (flock is per open file, so sharing them would
    let parent and child hold the "exclusive" lock at once)."""
    with _writer_locks_guard:
        _writer_locks.clear()


def _acquire_writer_lock(engine: Engine) -> None:
    fd = _lock_fd(engine)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _commit_then_release_writer_lock(connection) -> None:
    """Commit, then let the next writer in.

    SQLAlchemy announces a commit before it makes it. Releasing the lock then let the next writer's BEGIN IMMEDIATE
    meet a commit still in progress (and sometimes a WAL checkpoint): SQLite made it sleep 1, 2, 5, 10 ms ...
    So a writer commits here, under the lock; SQLAlchemy's own commit that follows finds no open transaction.
    """
    if not connection.info.get("registry_writer_lock"):
        return
    try:
        connection.connection.dbapi_connection.execute("COMMIT")
    finally:
        _release_writer_lock(connection)
    checkpointer = _checkpointer(connection.engine)
    if checkpointer is not None:
        checkpointer.nudge()


def _release_writer_lock(connection) -> None:
    if connection.info.pop("registry_writer_lock", False):
        fd = _lock_fd(connection.engine)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


class _WalCheckpointer:
    """Copies committed pages from the WAL back into the database file, from a thread of its own.

    SQLite checkpoints inside the commit that takes the WAL past `wal_autocheckpoint` pages: that commit copies them
    (16 MB) and waits for two fsyncs, ~50 ms here, while it holds the write lock, and every other writer waits with it.
    Under load that idled a CPU and made the slowest submissions. Writers nudge this thread at most every `interval`
    seconds; it runs a PASSIVE checkpoint, which never waits for or blocks a writer (the driver lets other threads
    run meanwhile), so the checkpoint left to a commit finds little to copy. That one still restarts the WAL.
    One thread per database file per process, started by the first commit in the process (threads do not survive
    the fork of a server's workers); it sleeps until nudged, and after `idle_after` seconds without a nudge it closes
    its connection and ends (the next commit starts another), so idle databases hold neither a thread nor a file.
    """

    interval = 0.05
    idle_after = 30.0

    def __init__(self, key: tuple[int, str]):
        self.key = key
        self.last = 0.0
        self.wake = threading.Event()
        threading.Thread(target=self._run, name=f"wal-checkpointer:{os.path.basename(key[1])}", daemon=True).start()

    def nudge(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.wake.set()

    def _run(self) -> None:
        connection = None
        try:
            while self.wake.wait(self.idle_after):
                self.wake.clear()
                try:
                    if connection is None:
                        connection = sqlite3.connect(self.key[1], timeout=0, isolation_level=None,
                                                     check_same_thread=False)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # e.g. the file was removed (a test's scratch database): afresh next time
                    if connection is not None:
                        connection.close()
                    connection = None
        finally:
            with _writer_locks_guard:
                if _checkpointers.get(self.key) is self:
                    del _checkpointers[self.key]
            if connection is not None:
                connection.close()


_checkpointers: dict[tuple[int, str], _WalCheckpointer] = {}


def _checkpointer(engine: Engine) -> _WalCheckpointer | None:
    path = engine.url.database
    if not path or path == ":memory:":
        return None
    key = (os.getpid(), path)
    found = _checkpointers.get(key)
    if found is None:
        with _writer_locks_guard:
            found = _checkpointers.get(key)
            if found is None:
                found = _checkpointers[key] = _WalCheckpointer(key)
    return found


def get_engine() -> Engine:
    return current_app.extensions["registry.engine"]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
