"""Database connection: engines, sessions, SQLite pragmas, and Alembic upgrades."""

from __future__ import annotations

import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Dialect, RootTransaction, make_url
from sqlalchemy.engine.base import OptionEngine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

from engine import config
from engine.store import state_hash
from engine.store.kept_connections import KeptConnections
from engine.store.unit_scope import UnitSession
from engine.store.wal_checkpoint import CHECKPOINTER, WalTarget, file_path

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest Alembic revision; a test keeps it equal to the migrations folder's head.
# Knowing it lets every CLI call skip importing Alembic (a third of start-up) when the
# schema is already current.
SCHEMA_HEAD = "0024_step_row_indexes"


class Database:
    """One SQLAlchemy engine plus two session factories: reads, and serialized writes."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # A SQLite file's WAL is checkpointed by a background thread (engine/store/wal_checkpoint.py).
        path = file_path(make_url(url).database) if self.is_sqlite and config.wal_checkpoint_thread() else None
        self.wal: WalTarget | None = CHECKPOINTER.register(path, self) if path else None
        self.engine = _create_engine(url, self.is_sqlite, self.wal)
        self.reader = sessionmaker(self.engine, expire_on_commit=False)
        # On SQLite a writer takes the write lock at BEGIN (BEGIN IMMEDIATE): two writers
        # queue instead of one failing late with a stale snapshot.
        self.writes = self.engine.execution_options(tourflow_write=True)
        # Inside a unit of work (engine/run/unit.py `write_session`) a writer is bound to the unit's Connection.
        self.writer = sessionmaker(self.writes, class_=UnitSession, expire_on_commit=False,
                                   join_transaction_mode="rollback_only")
        state_hash.install(self.writer)
        _DATABASES.add(self)
        # Each thread's closed sessions, by factory ("writer", "reader"), kept for its next unit of work
        # (engine/run/unit.py `take_session`): a new Session cost ~10 us of every transaction.
        self.idle_sessions = threading.local()
        # On a SQLite file, each thread's write Connection from one unit to its next (kept_connections.py).
        database = make_url(url).database
        self.kept_connections = KeptConnections() if self.is_sqlite and database and database != ":memory:" \
            else None

    def read(self) -> Session:
        return self.reader()

    def write(self) -> Session:
        return self.writer()

    def schema_revision(self) -> str | None:
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (a no-op when it is current)."""
        if self.schema_revision() == SCHEMA_HEAD:
            return
        from alembic import command

        with self.engine.begin() as connection:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        if self.kept_connections is not None:
            self.kept_connections.close_all()
        if self.wal is not None:
            CHECKPOINTER.unregister(self.wal)
        self.engine.dispose()


# Every Database of the process, for a forked child (below).
_DATABASES: weakref.WeakSet[Database] = weakref.WeakSet()
_PARENTS_POOLS: list[Pool] = []  # a forked child's copies of its parent's pools: never used, never closed


def _pools_of_its_own_after_fork() -> None:
    """A forked child (gunicorn's workers fork from the master that migrated the schema) starts each Database
    with an empty pool, as SQLAlchemy advises: the pooled connections stay the parent's. SQLite's connections must
    not be used across a fork, nor a PostgreSQL socket by two processes. Nor are they closed in the child
    (closing a copy of a SQLite connection could take the WAL from under the parent): the old pool is kept, and
    so are the connections kept between units (kept_connections.py)."""
    for database in list(_DATABASES):
        _PARENTS_POOLS.append(database.engine.pool)
        database.engine.dispose(close=False)
        if database.kept_connections is not None:
            database.kept_connections.forget_after_fork()


os.register_at_fork(after_in_child=_pools_of_its_own_after_fork)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# A pooled connection idle longer than this is pinged before use (a server restarted, a proxy or
# firewall that dropped it); one in use moments ago is not: `pool_pre_ping` would cost a round trip
# per transaction, several per request.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_after_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        if record is not None:
            record.info["tourflow_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("tourflow_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection idle since {idle_since:.0f} is gone: {exc}") from exc


# The commit that takes the WAL past this many pages copies them into the database file and syncs twice
# (a checkpoint) before its COMMIT returns. SQLite's default, 1,000 pages, made that every ~26 user-task
# instances and cost ~0.3-0.5 ms per instance on a busy machine; 10,000 (a WAL file of ~40 MB)
# checkpoints a tenth as often, each copy deduplicating more pages (docs/performance.md, "Round 5: the
# write transaction's own cost"). Durability is unchanged: a commit is in the WAL. With the checkpoint
# thread (wal_checkpoint.py) this is the safety net, crossed only when the thread lags or is off; 1,000
# would let the committers checkpoint before the thread's signal (Round 6).
WAL_AUTOCHECKPOINT_PAGES = 10_000


class _SQLiteConnection(Connection):
    """A connection to SQLite whose transactions begin explicitly: BEGIN IMMEDIATE for a writer (the write
    lock at once: two writers queue instead of one failing late with a stale snapshot), BEGIN for everyone
    else (one snapshot for a read's queries). Sent on the driver's connection as transaction control, as
    SQLAlchemy sends COMMIT (pysqlite sends no BEGIN of its own: `isolation_level = None`); the engine's
    `begin` event still fires first for whoever listens (tests count transactions with it)."""

    def _begin_impl(self, transaction: RootTransaction) -> None:
        super()._begin_impl(transaction)
        writes = self._execution_options.get("tourflow_write")
        if writes and (wal := _WAL_OF_DIALECT.get(self.dialect)) is not None:
            wal.note_write()  # a count; every so often a signal to the checkpoint thread
        begin = "BEGIN IMMEDIATE" if writes else "BEGIN"
        try:
            self.connection.driver_connection.execute(begin)
        except BaseException as exc:  # e.g. still locked after busy_timeout: SQLAlchemy's OperationalError
            self._handle_dbapi_exception(exc, begin, (), None, None)


class _SQLiteOptionEngine(OptionEngine):
    """What `engine.execution_options(...)` makes (the writers' engine among them): its connections too."""

    _connection_cls = _SQLiteConnection


_SQLiteOptionEngine._option_cls = _SQLiteOptionEngine  # and what its own execution_options make


# A file database's WAL target (engine/store/wal_checkpoint.py), by its engine's dialect: the engines its
# execution_options make share it, and it outlives `engine.dispose()` (which makes a new pool).
_WAL_OF_DIALECT: weakref.WeakKeyDictionary[Dialect, WalTarget] = weakref.WeakKeyDictionary()


def _create_engine(url: str, is_sqlite: bool, wal: WalTarget | None) -> Engine:
    if not is_sqlite:
        engine = create_engine(url)
        _ping_after_idle(engine)
        return engine
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, emit BEGIN (the documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    # Each transaction's BEGIN comes from the connection class, not from a `begin` listener: a listener on
    # the engine made every Connection join and dispatch the engine's events (begin, commit, each statement's),
    # ~6 us of every write transaction and ~20 us of every read (docs/performance.md, "Round 6: the write
    # transaction's fixed cost").
    engine._connection_cls = _SQLiteConnection
    engine._option_cls = _SQLiteOptionEngine
    if wal is not None:
        _WAL_OF_DIALECT[engine.dialect] = wal
    return engine
