"""sign-in links and web sessions

Revision ID: 0004_web_signin
Revises: 0003_traj_roles_fractions
Create Date: 2026-12-01 03:30:00

One-time sign-in links (15 minutes, single use) and the browser sessions they open; both
keep only a SHA-256 of their token.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004_web_signin'
down_revision = '0003_traj_roles_fractions'
branch_labels = None
depends_on = None


def _person() -> sa.Column:
    return sa.Column('person_id', sa.Integer(),
                     sa.ForeignKey('person.id', ondelete='CASCADE'), nullable=False)


def upgrade() -> None:
    op.create_table(
        'signinlink',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        _person(),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_index('ix_signinlink_token_hash', 'signinlink', ['token_hash'], unique=True)
    op.create_index('ix_signinlink_person_id', 'signinlink', ['person_id'])
    op.create_table(
        'websession',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        _person(),
        sa.Column('via', sa.String(length=10), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_index('ix_websession_token_hash', 'websession', ['token_hash'], unique=True)
    op.create_index('ix_websession_person_id', 'websession', ['person_id'])


def downgrade() -> None:
    op.drop_table('websession')
    op.drop_table('signinlink')
