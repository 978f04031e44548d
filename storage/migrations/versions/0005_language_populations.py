"""person.language_chosen; indicator.numerator_population, denominator_population

Revision ID: 0005_language_populations
Revises: 0004_web_signin
Create Date: 2026-12-01 03:45:00

Until a person chooses, the bot follows what they write: Vietnamese typed gets Vietnamese
answers whatever the phone's language. Once chosen, the choice holds.

An indicator's numerator or denominator may count a population the plan names once
("trẻ em dưới 16 tuổi của thôn"): asked once per round, every indicator using it takes it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_language_populations'
down_revision = '0004_web_signin'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_chosen', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('numerator_population', sa.String(length=40),
                                      nullable=True))
        batch_op.add_column(sa.Column('denominator_population', sa.String(length=40),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_column('denominator_population')
        batch_op.drop_column('numerator_population')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('language_chosen')
