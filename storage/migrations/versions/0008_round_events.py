"""a round's closings and reopenings with their reasons

Revision ID: 0008_round_events
Revises: 0007_report_settings
Create Date: 2026-12-01 06:20:00

An officer closes or reopens a round from the web page with a reason; each change is kept in
``roundevent`` (who, when, why) beside ``round.closed_at``.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008_round_events'
down_revision = '0007_report_settings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('roundevent',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('round_id', sa.Integer(), nullable=False),
                    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=10),
                              nullable=False),
                    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500),
                              nullable=False),
                    sa.Column('person_id', sa.Integer(), nullable=True),
                    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['round_id'], ['round.id'], ondelete='CASCADE'),
                    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='SET NULL'),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('roundevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roundevent_round_id'), ['round_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('roundevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roundevent_round_id'))
    op.drop_table('roundevent')
