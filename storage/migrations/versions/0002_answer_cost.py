"""round version, value history written by the database

Revision ID: 0002_answer_cost
Revises: 0001
Create Date: 2026-11-30 23:50:00

``round.version`` grows whenever what a round's sheet shows changes (deadlines, closing,
plan; setup and an officer joining bump it too), so a worker's cached sheet knows it is
stale. Storing a value (insert, or an update that bumps its version) writes its history row
in the same statement, through a trigger.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_answer_cost'
down_revision = '0001'
branch_labels = None
depends_on = None

_HISTORY = """INSERT INTO valuechange (round_id, unit_id, indicator_id, numerator, denominator,
        value, task_status, text, state, changed_by, source, changed_at)
    VALUES (NEW.round_id, NEW.unit_id, NEW.indicator_id, NEW.numerator, NEW.denominator,
        NEW.value, NEW.task_status, NEW.text, NEW.state, NEW.reported_by, NEW.source,
        NEW.updated_at)"""
_ROUND_FIELDS = "unit_deadline, consolidation_deadline, closed_at, plan_id"


def upgrade() -> None:
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""CREATE FUNCTION value_history() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.version <> OLD.version THEN
        {_HISTORY};
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER value_history AFTER INSERT OR UPDATE ON reportedvalue
    FOR EACH ROW EXECUTE FUNCTION value_history()""")
        op.execute("""CREATE FUNCTION round_version() RETURNS trigger AS $$
BEGIN
    IF (NEW.unit_deadline, NEW.consolidation_deadline, NEW.closed_at, NEW.plan_id)
            IS DISTINCT FROM
            (OLD.unit_deadline, OLD.consolidation_deadline, OLD.closed_at, OLD.plan_id)
            AND NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER round_version BEFORE UPDATE ON round
    FOR EACH ROW EXECUTE FUNCTION round_version()""")
        return
    op.execute(f"""CREATE TRIGGER value_history_insert AFTER INSERT ON reportedvalue
BEGIN
    {_HISTORY};
END""")
    op.execute(f"""CREATE TRIGGER value_history_update AFTER UPDATE OF version ON reportedvalue
WHEN NEW.version <> OLD.version
BEGIN
    {_HISTORY};
END""")
    op.execute(f"""CREATE TRIGGER round_version AFTER UPDATE OF {_ROUND_FIELDS} ON round
WHEN NEW.version = OLD.version
BEGIN
    UPDATE round SET version = OLD.version + 1 WHERE id = NEW.id;
END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER round_version ON round")
        op.execute("DROP FUNCTION round_version()")
        op.execute("DROP TRIGGER value_history ON reportedvalue")
        op.execute("DROP FUNCTION value_history()")
    else:
        op.execute("DROP TRIGGER round_version")
        op.execute("DROP TRIGGER value_history_update")
        op.execute("DROP TRIGGER value_history_insert")
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_column('version')
