"""a person's channel and Zalo id; Zalo messages applied once

Revision ID: 0006_zalo_channel
Revises: 0005_language_populations
Create Date: 2026-12-01 03:40:00

A person is reached on the channel they joined from (``person.channel``: telegram, zalo or
web) and may have a Zalo Bot Platform user id (a string). A failed invitation code is
counted per Telegram or per Zalo account. Zalo updates carry no update id: the message ids
applied are kept in ``processedmessage``.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006_zalo_channel'
down_revision = '0005_language_populations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zalo_id', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10),
                                      nullable=False, server_default='telegram'))
        batch_op.create_index(batch_op.f('ix_person_zalo_id'), ['zalo_id'], unique=True)
    with op.batch_alter_table('joinattempt', schema=None) as batch_op:
        batch_op.alter_column('telegram_id', existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column('zalo_id', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.create_index(batch_op.f('ix_joinattempt_zalo_id'), ['zalo_id'], unique=False)
    op.create_table('processedmessage',
                    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100),
                              nullable=False),
                    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                              nullable=False),
                    sa.PrimaryKeyConstraint('key'))


def downgrade() -> None:
    op.drop_table('processedmessage')
    op.execute("DELETE FROM joinattempt WHERE telegram_id IS NULL")
    with op.batch_alter_table('joinattempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_joinattempt_zalo_id'))
        batch_op.drop_column('zalo_id')
        batch_op.alter_column('telegram_id', existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_zalo_id'))
        batch_op.drop_column('channel')
        batch_op.drop_column('zalo_id')
