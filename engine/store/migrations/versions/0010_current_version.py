"""current_version: the version of each process that new instances start on

Until now the newest deployment always started. Owners may now activate an older version (a
rollback) or a newer one again; each process starts on its newest version after this migration.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('current_version',
    sa.Column('process_id', sa.String(length=100), nullable=False),
    sa.Column('deployment_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('chosen_by', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployment.id'], ),
    sa.PrimaryKeyConstraint('process_id')
    )
    op.execute(
        "INSERT INTO current_version (process_id, deployment_id, since, chosen_by) "
        "SELECT d.process_id, d.id, d.deployed_at, d.deployed_by FROM deployment d "
        "WHERE d.version = (SELECT MAX(n.version) FROM deployment n WHERE n.process_id = d.process_id)"
    )


def downgrade() -> None:
    op.drop_table('current_version')
