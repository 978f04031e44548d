"""A round's figures kept summed by the database: the ``roundsum`` table (migration 0010).

Per round, indicator and unit kind, ``roundsum`` holds what the report's grouped query
(``storage.aggregate._grouped``) computes from the reported values: ``n`` the values with
data (the fields the indicator's kind needs are filled: a rate's numerator and
denominator, a task's status, else the value), ``n_sub`` those submitted, ``num``, ``den``
and ``val`` the sums of numerators, denominators and values (NULL when no value has one, as
SQL's ``sum`` gives it), ``yes`` the values of at least 0.5 and ``on_time`` those whose
submission (else the value's last change) came before the round's ``cutoff_at``. A group
without data has no row.

Triggers of migration 0010 keep it exact at every commit: a value written, corrected,
cleared or deleted makes the database recompute its (round, indicator) from the values
themselves (a delete and one grouped ``INSERT ... SELECT``: no running totals, no float
drift); a submission, a changed ``round.cutoff_at`` or a unit's new kind recompute the whole
round (the rounds holding that unit's values), an indicator's new kind the rounds holding
its values. On PostgreSQL the recomputations of one round take a transaction-level
advisory lock on the round, before the value's row is locked when the value is inserted or
upserted (a BEFORE INSERT trigger): two units of one commune answering at once are
recomputed one after the other, the second seeing the first's commit (READ COMMITTED takes
a new snapshot per statement of the trigger's function), and a transaction waits for a
round holding no row of it. SQLite has one writer at a time.

``round.cutoff_at`` is ``deadline_cutoff(round.unit_deadline, tz)`` with the configured time
zone, written by the application wherever a round is created or its unit deadline changes
(``stamp_cutoff``). A reader compares it with the cutoff its own configuration computes
(``stale_rounds``): a round whose stored cutoff differs (another time zone, a round written
without it) is computed from the values, never read from ``roundsum``.

Loading many values at once: ``bulk_load`` sets the triggers of values and submissions
aside for the transaction and recomputes the rounds it loaded once at the end
(``refresh_round_sums``). A bulk insert through the triggers is exact too, only slower
(each row recomputes its group; each submission its round).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlmodel.sql.sqltypes import UTCDateTime

from storage.models import Round

# the time zone a round's cutoff is written in when none is given: Settings.timezone's default
DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# PostgreSQL advisory locks (two int4 keys) of the round sums: (ROUND_LOCK, round id)
ROUND_LOCK = 0x7273


def deadline_cutoff(deadline: date, tz: tzinfo) -> datetime:
    """The first instant after the deadline day in ``tz`` (reports before it are on time)."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def stamp_cutoff(rnd: Round, tz: tzinfo | None = None) -> None:
    """Write the round's ``cutoff_at`` from its unit deadline (call after setting it)."""
    rnd.cutoff_at = deadline_cutoff(rnd.unit_deadline, tz or DEFAULT_TZ)


class SumRow(NamedTuple):
    """One row of ``roundsum``."""

    round_id: int
    indicator_id: int
    kind: str
    n: int
    n_sub: int
    num: int | None
    den: int | None
    val: float | None
    yes: int
    on_time: int


# The grouped query of the triggers (migration 0010 holds its own copy), for the rounds
# ``:ids``: the values with data per (round, indicator, unit kind).
_SELECT = """SELECT v.round_id, v.indicator_id, u.kind, count(*),
    sum(CASE WHEN v.state = 'submitted' THEN 1 ELSE 0 END),
    sum(v.numerator), sum(v.denominator), sum(v.value),
    sum(CASE WHEN v.value >= 0.5 THEN 1 ELSE 0 END),
    sum(CASE WHEN coalesce(s.submitted_at, v.updated_at) < r.cutoff_at THEN 1 ELSE 0 END)
FROM reportedvalue v
JOIN indicator i ON i.id = v.indicator_id
JOIN unit u ON u.id = v.unit_id
JOIN round r ON r.id = v.round_id
LEFT JOIN submission s ON s.round_id = v.round_id AND s.unit_id = v.unit_id
WHERE v.round_id IN :ids
    AND CASE i.kind WHEN 'rate' THEN v.numerator IS NOT NULL AND v.denominator IS NOT NULL
                    WHEN 'task' THEN v.task_status IS NOT NULL
                    ELSE v.value IS NOT NULL END
GROUP BY v.round_id, v.indicator_id, u.kind"""
_COLUMNS = "round_id, indicator_id, kind, n, n_sub, num, den, val, yes, on_time"


def _ids(ids: Iterable[int]) -> Any:
    return bindparam("ids", sorted(set(ids)), expanding=True)


MANY_ROUNDS = 64


def lock_rounds(conn: Connection, ids: Sequence[int]) -> None:
    """PostgreSQL: the rounds' advisory locks, in ascending order (as the triggers take
    them, one round at a time). A transaction that locks a value's row before the triggers
    run (the ORM's updates of ``submit``) takes them first, so it never waits for the round
    while holding a row an answer of the same round waits for."""
    if conn.dialect.name != "postgresql" or not ids:
        return
    if len(set(ids)) > MANY_ROUNDS:
        # a province's restore: one lock on the whole table instead of thousands of advisory
        # locks (PostgreSQL's lock table holds about 64 per connection); a trigger holding
        # a round's lock waits for it before writing the table, which this one never waits for
        conn.execute(text("LOCK TABLE roundsum IN SHARE ROW EXCLUSIVE MODE"))
    else:
        conn.execute(text("SELECT count(pg_advisory_xact_lock(:k, r)) FROM "
                          "(SELECT unnest(CAST(:ids AS integer[])) AS r ORDER BY 1) AS o"),
                     {"k": ROUND_LOCK, "ids": sorted(set(ids))})


def refresh_round_sums(conn: Connection, round_ids: Iterable[int]) -> None:
    """Recompute the rounds' ``roundsum`` rows from their values (what the triggers do, for
    whole rounds at once: after a bulk load, a repair)."""
    ids = sorted(set(round_ids))
    if not ids:
        return
    lock_rounds(conn, ids)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        conn.execute(text("DELETE FROM roundsum WHERE round_id IN :ids")
                     .bindparams(_ids(part)))
        conn.execute(text(f"INSERT INTO roundsum ({_COLUMNS}) {_SELECT}")
                     .bindparams(_ids(part)))


def computed_round_sums(conn: Connection, round_ids: Iterable[int]) -> list[SumRow]:
    """What ``roundsum`` must hold for the rounds, computed from the values now."""
    ids = sorted(set(round_ids))
    out: list[SumRow] = []
    for start in range(0, len(ids), 500):
        out += _plain(conn.execute(text(_SELECT).bindparams(_ids(ids[start:start + 500]))))
    return out


def round_sums(conn: Connection, round_ids: Iterable[int]) -> list[SumRow]:
    """The ``roundsum`` rows of the rounds (check ``stale_rounds`` before trusting them)."""
    ids = sorted(set(round_ids))
    out: list[SumRow] = []
    for start in range(0, len(ids), 500):
        out += _plain(conn.execute(
            text(f"SELECT {_COLUMNS} FROM roundsum WHERE round_id IN :ids")
            .bindparams(_ids(ids[start:start + 500]))))
    return out


def _plain(rows: Iterable[Any]) -> list[SumRow]:
    """Rows as plain ints and floats (PostgreSQL's sums of bigints are Decimals)."""
    return [SumRow(int(rid), int(ind), kind, int(n), int(sub),
                   None if num is None else int(num), None if den is None else int(den),
                   None if val is None else float(val), int(yes), int(ontime))
            for rid, ind, kind, n, sub, num, den, val, yes, ontime in rows]


def stale_rounds(conn: Connection, round_ids: Iterable[int], tz: tzinfo) -> list[int]:
    """The rounds whose stored ``cutoff_at`` is not the cutoff ``tz`` gives their unit
    deadline (another time zone, or none written): their sums must be computed from the
    values, ``roundsum``'s on-time counts are not theirs."""
    ids = sorted(set(round_ids))
    out = []
    typed = UTCDateTime()
    for start in range(0, len(ids), 500):
        for rid, deadline, cutoff in conn.execute(
                text("SELECT id, unit_deadline, cutoff_at FROM round WHERE id IN :ids")
                .bindparams(_ids(ids[start:start + 500]))
                .columns(unit_deadline=Round.__table__.c.unit_deadline.type,
                         cutoff_at=typed)):
            if cutoff is None or cutoff != deadline_cutoff(deadline, tz):
                out.append(rid)
    return sorted(out)


@contextmanager
def bulk_load(conn: Connection, round_ids: Iterable[int]) -> Iterator[None]:
    """Load many values and submissions of ``round_ids`` in this transaction without the
    recomputation per row; the rounds are recomputed once at the end. Every value and
    submission written inside must belong to ``round_ids`` (the sums of another round would
    be left behind).

    PostgreSQL: those triggers skip while the transaction's ``ctvbot.bulk_load`` is on (SET
    LOCAL: it ends with the transaction); the rounds' locks are taken first. SQLite (one
    writer): a row of ``roundsum_pause`` set while loading, removed before the transaction
    ends (a rollback removes it too, and so does an error raised inside)."""
    ids = sorted(set(round_ids))
    lock_rounds(conn, ids)
    if conn.dialect.name == "postgresql":
        pause, resume = "SET LOCAL ctvbot.bulk_load = 'on'", "SET LOCAL ctvbot.bulk_load = 'off'"
    else:
        pause, resume = "INSERT INTO roundsum_pause (id) VALUES (1)", "DELETE FROM roundsum_pause"
    conn.execute(text(pause))
    try:
        yield
    except BaseException:
        # never leave the triggers aside in a transaction the caller might still commit
        # (PostgreSQL refuses the statement in a failed transaction, which rolls back anyway)
        with contextlib.suppress(DBAPIError):
            conn.execute(text(resume))
        raise
    conn.execute(text(resume))
    refresh_round_sums(conn, ids)
