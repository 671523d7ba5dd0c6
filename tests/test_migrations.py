"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import engine.agency  # noqa: F401
from engine.db import SCHEMA_HEAD, Database, alembic_config
from engine.models import Base


def test_schema_head_constant_matches_the_migrations(db_url):
    assert ScriptDirectory.from_config(alembic_config(db_url)).get_current_head() == SCHEMA_HEAD


def test_migrated_schema_matches_the_models(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    db.upgrade()
    assert db.schema_revision() == SCHEMA_HEAD
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrations_go_down_and_up_again(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    db = Database(url)
    db.upgrade()
    cfg = alembic_config(url)
    command.downgrade(cfg, "base")
    assert db.schema_revision() is None
    command.upgrade(cfg, "head")
    assert db.schema_revision() == SCHEMA_HEAD
