"""tour side data

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:41:36.802690
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archive_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('ref', sa.String(length=60), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('archived_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('archive_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archive_record_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_record_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_record_ref'), ['ref'], unique=False)

    op.create_table('desk_booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('customer_name', sa.String(length=80), nullable=False),
    sa.Column('contact', sa.String(length=60), nullable=False),
    sa.Column('service', sa.String(length=120), nullable=False),
    sa.Column('service_date', sa.DateTime(), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('refund_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('desk_booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_booking_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_booking_service_date'), ['service_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_booking_status'), ['status'], unique=False)

    op.create_table('price_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('standard', sa.String(length=20), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('price_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_item_category'), ['category'], unique=False)

    op.create_table('resource',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('supplier', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_kind'), ['kind'], unique=False)

    op.create_table('setting',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('resource_booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('tour_id', sa.String(length=40), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('resource_booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_booking_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_booking_on_date'), ['on_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_booking_resource_id'), ['resource_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_booking_tour_id'), ['tour_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resource_booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_booking_tour_id'))
        batch_op.drop_index(batch_op.f('ix_resource_booking_resource_id'))
        batch_op.drop_index(batch_op.f('ix_resource_booking_on_date'))
        batch_op.drop_index(batch_op.f('ix_resource_booking_instance_id'))

    op.drop_table('resource_booking')
    op.drop_table('setting')
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_kind'))

    op.drop_table('resource')
    with op.batch_alter_table('price_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_item_category'))

    op.drop_table('price_item')
    with op.batch_alter_table('desk_booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_booking_status'))
        batch_op.drop_index(batch_op.f('ix_desk_booking_service_date'))
        batch_op.drop_index(batch_op.f('ix_desk_booking_instance_id'))

    op.drop_table('desk_booking')
    with op.batch_alter_table('archive_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_archive_record_ref'))
        batch_op.drop_index(batch_op.f('ix_archive_record_kind'))
        batch_op.drop_index(batch_op.f('ix_archive_record_instance_id'))

    op.drop_table('archive_record')
