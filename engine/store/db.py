"""Database connection: engines, sessions, SQLite pragmas, and Alembic upgrades."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.store import state_hash

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest Alembic revision; a test keeps it equal to the migrations folder's head.
# Knowing it lets every CLI call skip importing Alembic (a third of start-up) when the
# schema is already current.
SCHEMA_HEAD = "0020_staff_alerts"


class Database:
    """One SQLAlchemy engine plus two session factories: reads, and serialized writes."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.engine = _create_engine(url, self.is_sqlite)
        self.reader = sessionmaker(self.engine, expire_on_commit=False)
        # On SQLite a writer takes the write lock at BEGIN (BEGIN IMMEDIATE): two writers
        # queue instead of one failing late with a stale snapshot.
        self.writer = sessionmaker(
            self.engine.execution_options(tourflow_write=True), expire_on_commit=False
        )
        state_hash.install(self.writer)

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
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _create_engine(url: str, is_sqlite: bool) -> Engine:
    if not is_sqlite:
        return create_engine(url, pool_pre_ping=True)
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get("tourflow_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
