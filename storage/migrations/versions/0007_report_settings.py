"""a commune's report settings: number, signer, recipients, template of the Word report

Revision ID: 0007_report_settings
Revises: 0006_zalo_channel
Create Date: 2026-12-01 06:20:00

The commune file's optional ``report:`` block (docs/commune-format.md) is kept with the
commune as JSON (``unit.report_settings``); ``ctvbot report`` and /tonghop read it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_report_settings'
down_revision = '0006_zalo_channel'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_settings', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_column('report_settings')
