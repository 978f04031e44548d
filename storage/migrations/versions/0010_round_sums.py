"""round sums kept by the database, the round's deadline cutoff

Revision ID: 0010_round_sums
Revises: 0009_unit_retired
Create Date: 2026-12-01 10:00:00

``roundsum`` holds, per round, indicator and unit kind, the figures the report's grouped
query computes from the reported values (storage/roundsums.py says what each column is).
Triggers keep it equal to the values at every commit: a value inserted, updated or deleted
recomputes its (round, indicator); a submission, a round's new ``cutoff_at`` or a unit's
new kind recompute whole rounds; an indicator's new kind the groups of its values. Each
recomputation deletes the rows and inserts them again with one grouped INSERT ... SELECT
over the values (exact: no running totals). On PostgreSQL it runs under a transaction-level
advisory lock on the round, taken before the value's row when a value is inserted.

``round.cutoff_at`` is the first instant after the round's unit deadline day in the
configured time zone (the on-time count compares with it). Existing rounds get it in
Asia/Ho_Chi_Minh, the default setting; a report whose configuration gives another cutoff
ignores the round's stored sums and computes them from the values.

``roundsum_pause`` (SQLite): a row there, set only inside a bulk load's transaction, makes
the triggers of values and submissions skip (the load recomputes its rounds once);
PostgreSQL uses the transaction's setting ``ctvbot.bulk_load`` instead.
"""
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_round_sums'
down_revision = '0009_unit_retired'
branch_labels = None
depends_on = None

LOCK = 0x7273  # storage.roundsums.ROUND_LOCK
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_COLUMNS = "round_id, indicator_id, kind, n, n_sub, num, den, val, yes, on_time"


def _insert(where: str) -> str:
    """Recompute the groups of the values matching ``where`` (v: reportedvalue)."""
    return f"""INSERT INTO roundsum ({_COLUMNS})
    SELECT v.round_id, v.indicator_id, u.kind, count(*),
        sum(CASE WHEN v.state = 'submitted' THEN 1 ELSE 0 END),
        sum(v.numerator), sum(v.denominator), sum(v.value),
        sum(CASE WHEN v.value >= 0.5 THEN 1 ELSE 0 END),
        sum(CASE WHEN coalesce(s.submitted_at, v.updated_at) < r.cutoff_at
            THEN 1 ELSE 0 END)
    FROM reportedvalue v
    JOIN indicator i ON i.id = v.indicator_id
    JOIN unit u ON u.id = v.unit_id
    JOIN round r ON r.id = v.round_id
    LEFT JOIN submission s ON s.round_id = v.round_id AND s.unit_id = v.unit_id
    WHERE {where}
        AND CASE i.kind WHEN 'rate' THEN v.numerator IS NOT NULL AND v.denominator IS NOT NULL
                        WHEN 'task' THEN v.task_status IS NOT NULL
                        ELSE v.value IS NOT NULL END
    GROUP BY v.round_id, v.indicator_id, u.kind"""


def _group(r: str, ind: str) -> str:
    """SQLite: recompute the (round, indicator) group."""
    return (f"DELETE FROM roundsum WHERE round_id = {r} AND indicator_id = {ind};\n    "
            + _insert(f"v.round_id = {r} AND v.indicator_id = {ind}") + ";")


def _round(r: str) -> str:
    """SQLite: recompute the rounds ``r`` (an expression or a sub-select)."""
    return (f"DELETE FROM roundsum WHERE round_id IN ({r});\n    "
            + _insert(f"v.round_id IN ({r})") + ";")


# a value's fields the sums read: an update changing none of them changes no sum
_FIELDS = ("round_id", "unit_id", "indicator_id", "numerator", "denominator", "value",
           "task_status", "state", "updated_at")
_SQLITE_NOT_PAUSED = "NOT EXISTS (SELECT 1 FROM roundsum_pause)"

_PG = f"""
CREATE FUNCTION roundsum_refresh(p_round integer, p_indicator integer) RETURNS void AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK}, p_round);
    IF p_indicator IS NULL THEN
        DELETE FROM roundsum WHERE round_id = p_round;
        {_insert("v.round_id = p_round")};
    ELSE
        DELETE FROM roundsum WHERE round_id = p_round AND indicator_id = p_indicator;
        {_insert("v.round_id = p_round AND v.indicator_id = p_indicator")};
    END IF;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION roundsum_value_lock() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK}, NEW.round_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION roundsum_value() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM roundsum_refresh(NEW.round_id, NEW.indicator_id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM roundsum_refresh(OLD.round_id, OLD.indicator_id);
    ELSIF (OLD.round_id, OLD.indicator_id) = (NEW.round_id, NEW.indicator_id) THEN
        PERFORM roundsum_refresh(NEW.round_id, NEW.indicator_id);
    ELSIF OLD.round_id <= NEW.round_id THEN
        PERFORM roundsum_refresh(OLD.round_id, OLD.indicator_id);
        PERFORM roundsum_refresh(NEW.round_id, NEW.indicator_id);
    ELSE
        PERFORM roundsum_refresh(NEW.round_id, NEW.indicator_id);
        PERFORM roundsum_refresh(OLD.round_id, OLD.indicator_id);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION roundsum_submission() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM roundsum_refresh(NEW.round_id, NULL);
    ELSIF TG_OP = 'DELETE' OR OLD.round_id = NEW.round_id THEN
        PERFORM roundsum_refresh(OLD.round_id, NULL);
    ELSE
        PERFORM roundsum_refresh(least(OLD.round_id, NEW.round_id), NULL);
        PERFORM roundsum_refresh(greatest(OLD.round_id, NEW.round_id), NULL);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION roundsum_round() RETURNS trigger AS $$
BEGIN
    PERFORM roundsum_refresh(NEW.id, NULL);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION roundsum_unit() RETURNS trigger AS $$
DECLARE
    rid integer;
BEGIN
    FOR rid IN SELECT DISTINCT round_id FROM reportedvalue WHERE unit_id = NEW.id ORDER BY 1
    LOOP
        PERFORM roundsum_refresh(rid, NULL);
    END LOOP;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION roundsum_indicator() RETURNS trigger AS $$
DECLARE
    rid integer;
BEGIN
    FOR rid IN SELECT DISTINCT round_id FROM reportedvalue WHERE indicator_id = NEW.id
            ORDER BY 1
    LOOP
        PERFORM roundsum_refresh(rid, NEW.id);
    END LOOP;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER roundsum_value_lock BEFORE INSERT ON reportedvalue
    FOR EACH ROW WHEN (current_setting('ctvbot.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION roundsum_value_lock();
CREATE TRIGGER roundsum_value AFTER INSERT OR DELETE ON reportedvalue
    FOR EACH ROW WHEN (current_setting('ctvbot.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION roundsum_value();
CREATE TRIGGER roundsum_value_update AFTER UPDATE ON reportedvalue
    FOR EACH ROW WHEN (current_setting('ctvbot.bulk_load', true) IS DISTINCT FROM 'on'
        AND ({", ".join("OLD." + f for f in _FIELDS)})
            IS DISTINCT FROM ({", ".join("NEW." + f for f in _FIELDS)}))
    EXECUTE FUNCTION roundsum_value();
CREATE TRIGGER roundsum_submission AFTER INSERT OR DELETE OR UPDATE ON submission
    FOR EACH ROW WHEN (current_setting('ctvbot.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION roundsum_submission();
CREATE TRIGGER roundsum_round AFTER UPDATE OF cutoff_at ON round
    FOR EACH ROW WHEN (OLD.cutoff_at IS DISTINCT FROM NEW.cutoff_at)
    EXECUTE FUNCTION roundsum_round();
CREATE TRIGGER roundsum_unit AFTER UPDATE OF kind ON unit
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION roundsum_unit();
CREATE TRIGGER roundsum_indicator AFTER UPDATE OF kind ON indicator
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION roundsum_indicator();
"""

_CHANGED = " OR ".join(f"OLD.{f} IS NOT NEW.{f}" for f in _FIELDS)
_SQLITE = [
    f"""CREATE TRIGGER roundsum_value_insert AFTER INSERT ON reportedvalue
WHEN {_SQLITE_NOT_PAUSED}
BEGIN
    {_group("NEW.round_id", "NEW.indicator_id")}
END""",
    f"""CREATE TRIGGER roundsum_value_delete AFTER DELETE ON reportedvalue
WHEN {_SQLITE_NOT_PAUSED}
BEGIN
    {_group("OLD.round_id", "OLD.indicator_id")}
END""",
    f"""CREATE TRIGGER roundsum_value_update AFTER UPDATE ON reportedvalue
WHEN ({_CHANGED}) AND {_SQLITE_NOT_PAUSED}
BEGIN
    {_group("NEW.round_id", "NEW.indicator_id")}
END""",
    f"""CREATE TRIGGER roundsum_value_move AFTER UPDATE OF round_id, indicator_id ON reportedvalue
WHEN (OLD.round_id IS NOT NEW.round_id OR OLD.indicator_id IS NOT NEW.indicator_id)
    AND {_SQLITE_NOT_PAUSED}
BEGIN
    {_group("OLD.round_id", "OLD.indicator_id")}
END""",
    f"""CREATE TRIGGER roundsum_submission_insert AFTER INSERT ON submission
WHEN {_SQLITE_NOT_PAUSED}
BEGIN
    {_round("NEW.round_id")}
END""",
    f"""CREATE TRIGGER roundsum_submission_delete AFTER DELETE ON submission
WHEN {_SQLITE_NOT_PAUSED}
BEGIN
    {_round("OLD.round_id")}
END""",
    f"""CREATE TRIGGER roundsum_submission_update AFTER UPDATE ON submission
WHEN {_SQLITE_NOT_PAUSED}
BEGIN
    {_round("OLD.round_id, NEW.round_id")}
END""",
    f"""CREATE TRIGGER roundsum_round AFTER UPDATE OF cutoff_at ON round
WHEN OLD.cutoff_at IS NOT NEW.cutoff_at
BEGIN
    {_round("NEW.id")}
END""",
    f"""CREATE TRIGGER roundsum_unit AFTER UPDATE OF kind ON unit
WHEN OLD.kind IS NOT NEW.kind
BEGIN
    {_round("SELECT round_id FROM reportedvalue WHERE unit_id = NEW.id")}
END""",
    f"""CREATE TRIGGER roundsum_indicator AFTER UPDATE OF kind ON indicator
WHEN OLD.kind IS NOT NEW.kind
BEGIN
    DELETE FROM roundsum WHERE indicator_id = NEW.id;
    {_insert("v.indicator_id = NEW.id")};
END""",
]
_SQLITE_TRIGGERS = ("roundsum_value_insert", "roundsum_value_delete", "roundsum_value_update",
                    "roundsum_value_move", "roundsum_submission_insert",
                    "roundsum_submission_delete", "roundsum_submission_update",
                    "roundsum_round", "roundsum_unit", "roundsum_indicator")


def _cutoff(deadline) -> datetime:
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=TZ).astimezone(UTC)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cutoff_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    op.create_table(
        'roundsum',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('indicator_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('n_sub', sa.Integer(), nullable=False),
        sa.Column('num', sa.BigInteger(), nullable=True),
        sa.Column('den', sa.BigInteger(), nullable=True),
        sa.Column('val', sa.Float(), nullable=True),
        sa.Column('yes', sa.Integer(), nullable=False),
        sa.Column('on_time', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['round.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'indicator_id', 'kind'),
    )
    op.create_index('ix_reportedvalue_round_indicator', 'reportedvalue',
                    ['round_id', 'indicator_id'], unique=False)
    # the existing rounds' cutoffs, in the default time zone, written as the application
    # writes them (the same type: SQLite compares the stored texts)
    rnd = sa.table('round', sa.column('id', sa.Integer()), sa.column('unit_deadline', sa.Date()),
                   sa.column('cutoff_at', sqlmodel.sql.sqltypes.UTCDateTime()))
    rows = bind.execute(sa.select(rnd.c.id, rnd.c.unit_deadline)).all()
    if rows:
        bind.execute(rnd.update().where(rnd.c.id == sa.bindparam('rid'))
                     .values(cutoff_at=sa.bindparam('cut', type_=rnd.c.cutoff_at.type)),
                     [{'rid': rid, 'cut': _cutoff(d)} for rid, d in rows])
    if bind.dialect.name == 'postgresql':
        op.execute(_PG)
    else:
        op.execute("CREATE TABLE roundsum_pause (id INTEGER PRIMARY KEY)")
        for stmt in _SQLITE:
            op.execute(stmt)
    # every round's sums, once
    op.execute("DELETE FROM roundsum")
    op.execute(_insert("1 = 1"))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for trigger, table in (("roundsum_indicator", "indicator"), ("roundsum_unit", "unit"),
                               ("roundsum_round", "round"),
                               ("roundsum_submission", "submission"),
                               ("roundsum_value_update", "reportedvalue"),
                               ("roundsum_value", "reportedvalue"),
                               ("roundsum_value_lock", "reportedvalue")):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        for function in ("roundsum_indicator()", "roundsum_unit()", "roundsum_round()",
                         "roundsum_submission()", "roundsum_value()", "roundsum_value_lock()",
                         "roundsum_refresh(integer, integer)"):
            op.execute(f"DROP FUNCTION {function}")
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE roundsum_pause")
    op.drop_index('ix_reportedvalue_round_indicator', table_name='reportedvalue')
    op.drop_table('roundsum')
    # not a batch (SQLite would copy the round table, dropping it with its trigger of 0002
    # and the values the drop cascades to): SQLite 3.35 drops a column in place
    op.execute("ALTER TABLE round DROP COLUMN cutoff_at")
