"""human_task.routing and user_account.attributes (JSON) replace the desk and branch columns

A process declares the data keys that route its tasks (docs/bpmn-conventions.md, `routingKeys`);
a task keeps their values, a user the attributes matched against them. The agency's desk and
branch become the keys `desk` and `branch` (a user's `branch_code` is the attribute `branch`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _object(pairs: list[tuple[str, str]]) -> str:
    """SQL for a JSON object of the non-NULL columns among (key, column) pairs, on this database."""
    postgres = op.get_bind().dialect.name == "postgresql"
    build, empty = ("json_build_object", "'{}'::json") if postgres else ("json_object", "'{}'")
    (k1, c1), (k2, c2) = pairs
    return (f"CASE WHEN {c1} IS NOT NULL AND {c2} IS NOT NULL THEN {build}('{k1}', {c1}, '{k2}', {c2}) "
            f"WHEN {c1} IS NOT NULL THEN {build}('{k1}', {c1}) "
            f"WHEN {c2} IS NOT NULL THEN {build}('{k2}', {c2}) ELSE {empty} END")


def _field(column: str, key: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routing", sa.JSON(), nullable=False, server_default="{}"))
    op.execute(f"UPDATE human_task SET routing = {_object([('desk', 'desk'), ('branch', 'branch')])}")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.alter_column("routing", server_default=None)
        batch_op.drop_index(batch_op.f("ix_human_task_branch"))
        batch_op.drop_index(batch_op.f("ix_human_task_desk"))
        batch_op.drop_column("branch")
        batch_op.drop_column("desk")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=False, server_default="{}"))
    op.execute(f"UPDATE user_account SET attributes = {_object([('desk', 'desk'), ('branch', 'branch_code')])}")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("attributes", server_default=None)
        batch_op.drop_column("branch_code")
        batch_op.drop_column("desk")


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("desk", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("branch_code", sa.String(length=20), nullable=True))
    op.execute(f"UPDATE user_account SET desk = {_field('attributes', 'desk')}, "
               f"branch_code = {_field('attributes', 'branch')}")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("attributes")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("desk", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("branch", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_human_task_desk"), ["desk"], unique=False)
        batch_op.create_index(batch_op.f("ix_human_task_branch"), ["branch"], unique=False)
    op.execute(f"UPDATE human_task SET desk = {_field('routing', 'desk')}, branch = {_field('routing', 'branch')}")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_column("routing")
