"""The business key's index holds only the instances that have a key

Almost every instance is started without a business key (only a process that sets one, or a message
start with a correlation key, has it), yet each wrote a NULL entry into ix_process_instance_business_key
at its INSERT: one more B-tree insert and, on SQLite, one more WAL page per instance. Its only readers
are the message correlation's `business_key = ?` (a message routed to its waiting instance) and
`business_key IN (...)` (the buffered messages' sweep), and both imply `business_key IS NOT NULL`, so
SQLite's and PostgreSQL's planners use the partial index for them (docs/performance.md, "Round 7: the
instance and task indexes each step writes", with every other index of process_instance and human_task
and who reads it).

Revision ID: 0024_step_row_indexes
Revises: 0023_audit_kind_index
Create Date: 2026-12-05 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_step_row_indexes"
down_revision = "0023_audit_kind_index"
branch_labels = None
depends_on = None

INDEX = "ix_process_instance_business_key"
HAS_KEY = sa.text("business_key IS NOT NULL")


def upgrade() -> None:
    op.drop_index(INDEX, table_name="process_instance")
    op.create_index(
        INDEX,
        "process_instance",
        ["business_key"],
        unique=False,
        sqlite_where=HAS_KEY,
        postgresql_where=HAS_KEY,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="process_instance")
    op.create_index(INDEX, "process_instance", ["business_key"], unique=False)
