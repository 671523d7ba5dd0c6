"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import handlers.domain.models  # noqa: F401
from engine.store.db import SCHEMA_HEAD, Database, alembic_config
from engine.store.models import Base
from engine.store.schema_scope import include_object

pytestmark = pytest.mark.both_databases


def test_schema_head_constant_matches_the_migrations(db_url):
    assert ScriptDirectory.from_config(alembic_config(db_url)).get_current_head() == SCHEMA_HEAD


def test_migrated_schema_matches_the_models(empty_db_url):
    db = Database(empty_db_url)
    db.upgrade()
    assert db.schema_revision() == SCHEMA_HEAD
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object(conn.dialect.name)})
        diff = compare_metadata(context, Base.metadata)
    db.dispose()
    assert diff == []


def test_migrations_go_down_and_up_again(empty_db_url):
    from alembic import command

    db = Database(empty_db_url)
    db.upgrade()
    cfg = alembic_config(empty_db_url)
    command.downgrade(cfg, "base")
    assert db.schema_revision() is None
    with db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == ["alembic_version"], "base leaves only Alembic's own table"
    command.upgrade(cfg, "head")
    assert db.schema_revision() == SCHEMA_HEAD
    db.dispose()
