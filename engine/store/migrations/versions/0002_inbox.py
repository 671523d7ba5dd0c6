"""inbox: process and desk on task rows, API tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("process_id", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("desk", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_human_task_process_id"), ["process_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_human_task_desk"), ["desk"], unique=False)
    op.execute(
        "UPDATE human_task SET process_id = (SELECT process_id FROM process_instance "
        "WHERE process_instance.id = human_task.instance_id)"
    )
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.alter_column("process_id", server_default=None)
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))
    op.drop_table("api_token")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_task_desk"))
        batch_op.drop_index(batch_op.f("ix_human_task_process_id"))
        batch_op.drop_column("desk")
        batch_op.drop_column("process_id")
