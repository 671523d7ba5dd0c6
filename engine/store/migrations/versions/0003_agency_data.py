"""agency data

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:28:31.663832
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_status',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('desk', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('max_chats', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_status_desk'), ['desk'], unique=False)

    op.create_table('branch',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('city', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('desk', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('destination', sa.String(length=80), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_desk'), ['desk'], unique=False)

    op.create_table('booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('tour_id', sa.String(length=40), nullable=True),
    sa.Column('depart_on', sa.Date(), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_tour_id'), ['tour_id'], unique=False)

    op.create_table('contact_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('contact', sa.String(length=60), nullable=True),
    sa.Column('desk', sa.String(length=20), nullable=True),
    sa.Column('request_type', sa.String(length=20), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('handled_by', sa.String(length=80), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('archived_at', sa.DateTime(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('contact_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_record_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_record_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_record_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_record_request_type'), ['request_type'], unique=False)

    op.create_table('followup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('tour_id', sa.String(length=40), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('customer_name', sa.String(length=80), nullable=False),
    sa.Column('branch_code', sa.String(length=20), nullable=True),
    sa.Column('sales', sa.String(length=80), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.Column('service_problem', sa.Boolean(), nullable=False),
    sa.Column('called_at', sa.DateTime(), nullable=False),
    sa.Column('reported_in', sa.String(length=7), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followup_branch_code'), ['branch_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_called_at'), ['called_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_tour_id'), ['tour_id'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.String(length=20), nullable=False, server_default='普通'))
        batch_op.add_column(sa.Column('branch_code', sa.String(length=20), nullable=True))
        batch_op.create_foreign_key('fk_customer_branch', 'branch', ['branch_code'], ['code'])

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_state_created', ['state', 'created_at'], unique=False)

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deployment_id', sa.Integer(), nullable=True))
        batch_op.alter_column('instance_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_job_deployment_id'), ['deployment_id'], unique=False)
        batch_op.create_foreign_key('fk_job_deployment', 'deployment', ['deployment_id'], ['id'])

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('desk', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('branch_code', sa.String(length=20), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('branch_code')
        batch_op.drop_column('desk')

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_constraint('fk_job_deployment', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_job_deployment_id'))
        batch_op.alter_column('instance_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('deployment_id')

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_state_created')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint('fk_customer_branch', type_='foreignkey')
        batch_op.drop_column('branch_code')
        batch_op.drop_column('level')

    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followup_tour_id'))
        batch_op.drop_index(batch_op.f('ix_followup_instance_id'))
        batch_op.drop_index(batch_op.f('ix_followup_called_at'))
        batch_op.drop_index(batch_op.f('ix_followup_branch_code'))

    op.drop_table('followup')
    with op.batch_alter_table('contact_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_record_request_type'))
        batch_op.drop_index(batch_op.f('ix_contact_record_outcome'))
        batch_op.drop_index(batch_op.f('ix_contact_record_instance_id'))
        batch_op.drop_index(batch_op.f('ix_contact_record_channel'))

    op.drop_table('contact_record')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_tour_id'))
        batch_op.drop_index(batch_op.f('ix_booking_customer_id'))

    op.drop_table('booking')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_desk'))

    op.drop_table('product')
    op.drop_table('branch')
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_status_desk'))

    op.drop_table('agent_status')
