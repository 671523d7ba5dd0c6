"""Staff alerts: each user's alert preference, and the alerts waiting for (or sent in) a digest

Revision ID: 0020_staff_alerts
Revises: 0019_outbox
Create Date: 2026-12-04 07:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0020_staff_alerts'
down_revision = '0019_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_alert_preference',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('staff_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('human_task_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('staff_alert', schema=None) as batch_op:
        batch_op.create_index('ix_staff_alert_pending', ['settled_at', 'username'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_alert_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_alert_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_alert_created_at'))
        batch_op.drop_index(batch_op.f('ix_staff_alert_instance_id'))
        batch_op.drop_index('ix_staff_alert_pending')
    op.drop_table('staff_alert')
    op.drop_table('staff_alert_preference')
