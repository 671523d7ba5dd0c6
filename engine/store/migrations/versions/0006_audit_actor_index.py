"""audit_event (actor, instance_id) index for the auditor's actor search

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:00:00
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_audit_event_actor_instance', 'audit_event', ['actor', 'instance_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_event_actor_instance', table_name='audit_event')
