"""deployment.called_files: the other files' BPMN a process's call activities need, pinned at deploy

Revision ID: 0012_called_files
Revises: 0011
Create Date: 2026-12-03 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0012_called_files'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('called_files', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_column('called_files')
