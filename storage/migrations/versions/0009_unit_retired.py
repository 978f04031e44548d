"""a unit retired while holding data

Revision ID: 0009_unit_retired
Revises: 0008_round_events
Create Date: 2026-12-01 06:15:00

A hamlet or agency an officer retires from the web page is deleted when it holds nothing;
one that holds values, reports or members is kept with its history and marked
``unit.retired_at``: it is asked for nothing more and left out of the commune file.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009_unit_retired'
down_revision = '0008_round_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
