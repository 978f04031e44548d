"""who leads and coordinates each indicator, exact fraction targets, baseline figures

Revision ID: 0003_traj_roles_fractions
Revises: 0002_answer_cost
Create Date: 2026-12-01 03:40:00

``indicator.roles`` keeps the units a plan names for the indicator with their role as the
plan writes it: chủ trì (lead), triển khai thực hiện (implement), phối hợp (coordinate); who
is asked for the figure stays ``reporters``. ``indicator.baseline_year`` / ``baseline_value``: the plan's own figure of a
year before, where the path to the milestones starts. ``milestone.value_num`` /
``value_den``: a target written as people over a population ("xuống 5/804"), kept exact.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_traj_roles_fractions'
down_revision = '0002_answer_cost'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('indicator', sa.Column('roles', sa.JSON(), nullable=True))
    op.add_column('indicator', sa.Column('baseline_year', sa.Integer(), nullable=True))
    op.add_column('indicator', sa.Column('baseline_value', sa.Float(), nullable=True))
    op.add_column('milestone', sa.Column('value_num', sa.BigInteger(), nullable=True))
    op.add_column('milestone', sa.Column('value_den', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.drop_column('value_den')
        batch_op.drop_column('value_num')
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_column('baseline_value')
        batch_op.drop_column('baseline_year')
        batch_op.drop_column('roles')
