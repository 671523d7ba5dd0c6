"""Alembic environment: run against the connection tourflow hands over, or the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from engine.plugins.handlers import load_plugins
from engine.store.models import Base
from engine.store.schema_scope import include_object

load_plugins()  # the plug-ins' tables (the agency's) join Base.metadata

target_metadata = Base.metadata
config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object(conn.dialect.name))
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
