"""person.language_chosen: the person chose their language with /ngonngu

Revision ID: 0003_c14a_language_chosen
Revises: 0002_answer_cost
Create Date: 2026-12-01 03:45:00

Until a person chooses, the bot follows what they write: Vietnamese typed gets Vietnamese
answers whatever the phone's language. Once chosen, the choice holds.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_c14a_language_chosen'
down_revision = '0002_answer_cost'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_chosen', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('language_chosen')
