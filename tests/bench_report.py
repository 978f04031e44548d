"""Benchmark of the report figures (prints timings, asserts nothing about time).

    uv run python -m tests.bench_report [--communes 3321] [--backends sqlite,postgresql]
        [--keep]   # keep the data set (SQLite file in the temp folder, PostgreSQL database
                   # ctvbot_bench_keep_N) and reuse it on the next run with --keep

Builds a synthetic province: N communes of 25 units (20 thôn + 5 agencies) on a 30-indicator
plan, rounds for 2025 and 2026 (the first commune has 10 years, 2017-2026), every unit
reporting all of its indicators; the values are bulk loaded and each round's kept sums
(``roundsum``, migration 0010) made once. Then times one commune's report and the province
roll-up, each against a single hand-written SQL aggregate over the same rows, on SQLite and
PostgreSQL (a scratch database is created and dropped), and checks that the reports read
from the values (``sums=False``) give the same figures. CPU times are this process's (on
PostgreSQL the server's work is not in them).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from storage.aggregate import build_report, build_rollup, deadline_cutoff, report_json
from storage.db import make_engine, upgrade
from storage.models import (
    Criterion,
    Goal,
    Indicator,
    Milestone,
    Plan,
    ReportedValue,
    Round,
    Submission,
    Unit,
)
from storage.roundsums import bulk_load

PG_ADMIN = os.environ.get("CTVBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
AGENCIES = ("health_station", "preschool", "primary_school", "police", "justice")
HAMLETS = 20
YEAR = 2026
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHUNK = 50_000


def _plan_rows() -> tuple[list[dict], list[dict], list[dict], list[dict], list[dict]]:
    """One plan, 4 goals, 30 criteria/indicators (25 for thôn, 5 for agencies), targets."""
    plan = [dict(id=1, code="B", name_vi="Kế hoạch thử", name_en="Bench plan", issuer="UBND",
                 level="province", start_year=2017, end_year=2030, content_hash="x",
                 loaded_at=datetime.now(UTC))]
    goals = [dict(id=g, plan_id=1, code=g, title_vi=f"Mục tiêu {g}", title_en=f"Goal {g}")
             for g in range(1, 5)]
    crits, inds, ms = [], [], []
    for n in range(1, 31):
        agency = AGENCIES[n - 26] if n > 25 else None
        kind = ("rate" if n <= 18 or agency else "share_units" if n <= 21 else
                "count" if n <= 23 else "change")
        factor = (1000 if n % 6 == 0 else 100) if kind == "rate" else None
        crits.append(dict(id=n, plan_id=1, goal_id=1 + (n - 1) % 4, number=n, text=f"CT {n}"))
        inds.append(dict(id=n, plan_id=1, criterion_id=n, code=str(n), position=n,
                         name_vi=f"Chỉ tiêu {n}", name_en=f"Indicator {n}", kind=kind,
                         factor=factor, reporters=[agency or "hamlet"], sensitive=False))
        for y in (2026, 2030):
            d = ("reduce_per_year" if kind == "change" else "maintain" if kind == "count"
                 else "below" if factor == 1000 else "at_least")
            ms.append(dict(indicator_id=n, year=y, direction=d,
                           value=None if d == "maintain" else 2 if d == "reduce_per_year"
                           else 9.5 if d == "below" else 80))
    return plan, goals, crits, inds, ms


def _insert(engine: Engine, table: Any, rows: Iterator[dict] | list[dict]) -> int:
    """Core INSERT executemany, in chunks, in a transaction of its own."""
    with engine.begin() as conn:
        return _insert_in(conn, table, rows)


def _insert_in(conn: Connection, table: Any, rows: Iterator[dict] | list[dict]) -> int:
    """Core INSERT executemany, in chunks."""
    n, batch = 0, []
    for r in rows:
        batch.append(r)
        if len(batch) >= CHUNK:
            conn.execute(table.insert(), batch)
            n += len(batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
        n += len(batch)
    return n


def populate(engine: Engine, communes: int) -> dict[str, Any]:
    """The synthetic province; returns what the timings need."""
    rng = random.Random(2026)
    plan, goals, crits, inds, ms = _plan_rows()
    for model, rows in ((Plan, plan), (Goal, goals), (Criterion, crits), (Indicator, inds),
                        (Milestone, ms)):
        _insert(engine, model.__table__, rows)
    units: list[dict] = [dict(id=1, code="tinh", name="Tỉnh Thử", kind="province",
                              parent_id=None, position=0)]
    members: dict[int, list[tuple[int, str]]] = {}
    uid = 1
    for c in range(communes):
        uid += 1
        cid = uid
        units.append(dict(id=cid, code=f"xa-{c}", name=f"Xã {c}", kind="commune",
                          parent_id=1, position=c))
        members[cid] = []
        for k in range(HAMLETS + len(AGENCIES)):
            uid += 1
            kind = "hamlet" if k < HAMLETS else AGENCIES[k - HAMLETS]
            units.append(dict(id=uid, code=f"xa-{c}/u{k}", name=f"Đơn vị {k}", kind=kind,
                              parent_id=cid, position=k + 1))
            members[cid].append((uid, kind))
    _insert(engine, Unit.__table__, units)
    first = 2
    rounds = []
    rid = 0
    for cid in members:
        years = range(2017, YEAR + 1) if cid == first else (YEAR - 1, YEAR)
        for y in years:
            rid += 1
            rounds.append(dict(id=rid, commune_id=cid, plan_id=1, year=y,
                               unit_deadline=date(y, 11, 10),
                               consolidation_deadline=date(y, 12, 5),
                               reminder_days_before=[7, 3, 1, 0], reminder_time="09:00",
                               reminder_every_days_after=2,
                               cutoff_at=deadline_cutoff(date(y, 11, 10), TZ)))
    _insert(engine, Round.__table__, rounds)
    by_kind: dict[str, list[dict]] = {}
    for i in inds:
        by_kind.setdefault(i["reporters"][0], []).append(i)

    def submitted(round_id: int, unit_id: int) -> bool:
        return (round_id * 7919 + unit_id) % 100 >= 3  # 3% of the units have not sent

    def values(part: list[dict]) -> Iterator[dict]:
        for r in part:
            when = datetime(r["year"], 11, 5, 2, 0, tzinfo=UTC)
            for unit_id, kind in members[r["commune_id"]]:
                state = "submitted" if submitted(r["id"], unit_id) else "draft"
                for ind in by_kind[kind]:
                    row = dict(round_id=r["id"], unit_id=unit_id, indicator_id=ind["id"],
                               numerator=None, denominator=None, value=None,
                               task_status=None, text=None, state=state,
                               reported_by=None, source="chat", updated_at=when, version=1)
                    if ind["kind"] == "rate":
                        den = rng.randint(50, 400)
                        row["numerator"], row["denominator"] = rng.randint(0, den), den
                    elif ind["kind"] == "share_units":
                        row["value"] = float(rng.random() < 0.8)
                    else:
                        row["value"] = float(rng.randint(0, 6))
                    yield row

    def subs(part: list[dict]) -> Iterator[dict]:
        for r in part:
            for unit_id, _ in members[r["commune_id"]]:
                if not submitted(r["id"], unit_id):
                    continue
                late = unit_id % 10 == 0
                at = datetime(r["year"], 11, 5, tzinfo=UTC) + timedelta(days=8 if late else 0)
                yield dict(round_id=r["id"], unit_id=unit_id, submitted_at=at,
                           submitted_by=None)

    # a bulk load: the round sums' triggers stand aside, each round is summed once at the end
    # of its transaction (500 rounds per transaction: PostgreSQL holds a lock per round)
    n_values = n_subs = 0
    for start in range(0, len(rounds), 500):
        part = rounds[start:start + 500]
        with engine.begin() as conn, bulk_load(conn, [r["id"] for r in part]):
            n_values += _insert_in(conn, ReportedValue.__table__, values(part))
            n_subs += _insert_in(conn, Submission.__table__, subs(part))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return dict(values=n_values, submissions=n_subs, units=len(units), rounds=len(rounds))


# The same rows as the report reads: the year and the year before (for last year's figures).
COMMUNE_SQL = """
SELECT r.year, rv.indicator_id, sum(rv.numerator), sum(rv.denominator), sum(rv.value), count(*)
FROM reportedvalue rv JOIN round r ON r.id = rv.round_id
WHERE r.commune_id = :commune AND r.year IN (:year - 1, :year)
GROUP BY r.year, rv.indicator_id
"""
ROLLUP_SQL = """
SELECT r.year, rv.indicator_id, sum(rv.numerator), sum(rv.denominator), sum(rv.value), count(*)
FROM reportedvalue rv JOIN round r ON r.id = rv.round_id JOIN unit c ON c.id = r.commune_id
WHERE c.parent_id = :upper AND r.year IN (:year - 1, :year)
GROUP BY r.year, rv.indicator_id
"""


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median wall and CPU time (of this process) in ms over ``runs`` runs (after one
    warm-up), and the last result."""
    result = fn()
    walls, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), statistics.median(cpus), result


def _existing(engine: Engine) -> dict[str, Any] | None:
    """The counts of a data set kept from an earlier run (None when the database is empty)."""
    with engine.connect() as conn:
        n = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
             for t in ("unit", "round", "reportedvalue", "submission")}
    if not n["unit"]:
        return None
    return dict(units=n["unit"], rounds=n["round"], values=n["reportedvalue"],
                submissions=n["submission"])


def bench(name: str, url: str, communes: int) -> None:
    """Populate one database (unless it holds a kept data set) and print the timings."""
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    info = _existing(engine)
    if info is None:
        info = populate(engine, communes)
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    load_s = time.perf_counter() - t0
    print(f"\n== {name}: {info['units']:,} units, {info['rounds']:,} rounds, "
          f"{info['values']:,} values, {info['submissions']:,} submissions "
          f"(bulk insert + ANALYZE {load_s:.1f} s)")
    with Session(engine) as s:
        conn = s.connection()
        ms, cpu, rep = timed(lambda: build_report("xa-0", YEAR, session=s, tz=TZ), 5)
        live_ms, live_cpu, live = timed(
            lambda: build_report("xa-0", YEAR, session=s, tz=TZ, sums=False), 5)
        sql_ms, sql_cpu, raw = timed(lambda: conn.execute(text(COMMUNE_SQL),
                                                          {"commune": 2, "year": YEAR}).all(), 5)
        _check(rep, raw)
        assert report_json(rep) == report_json(live)
        print(f"  one commune (25 units x 30 indicators, 10 years): build_report "
              f"{ms:8.1f} ms (CPU {cpu:.1f}) | from the values {live_ms:8.1f} ms "
              f"(CPU {live_cpu:.1f}) | hand-written SQL aggregate {sql_ms:8.1f} ms "
              f"(CPU {sql_cpu:.1f})")
        lean_ms, lean_cpu, lean = timed(lambda: build_rollup("tinh", YEAR, session=s, tz=TZ,
                                                             include_units=False), 3)
        full_ms, full_cpu, full = timed(lambda: build_rollup("tinh", YEAR, session=s, tz=TZ),
                                        3)
        sql_ms, sql_cpu, raw = timed(lambda: conn.execute(text(ROLLUP_SQL),
                                                          {"upper": 1, "year": YEAR}).all(), 3)
        _check(lean, raw)
        print(f"  roll-up of {communes:,} communes: build_rollup {lean_ms:8.1f} ms "
              f"(CPU {lean_cpu:.0f}; with per-commune detail {full_ms:8.1f} ms, CPU "
              f"{full_cpu:.0f}) | hand-written SQL aggregate {sql_ms:8.1f} ms (CPU "
              f"{sql_cpu:.0f}) "
              f"(detail ÷ hand-written {full_ms / sql_ms:.1f}x)")
        live_ms, live_cpu, live = timed(lambda: build_rollup("tinh", YEAR, session=s, tz=TZ,
                                                             sums=False), 1)
        assert report_json(full) == report_json(live)
        print(f"  roll-up with detail from the values (sums=False): {live_ms:8.1f} ms "
              f"(CPU {live_cpu:.0f}); the same figures as through the kept sums")
    engine.dispose()


def _check(report: Any, raw: list[Any]) -> None:
    """The report's sums equal the hand-written aggregate's (rates and counts)."""
    sums = {int(r[1]): r[1:] for r in raw if r[0] == YEAR}
    last = {int(r[1]): r[1:] for r in raw if r[0] == YEAR - 1}
    for row in report.rows:
        r = sums[int(row.code)]
        if row.kind == "rate":
            p = last[int(row.code)]
            assert math.isclose(row.last_year_value, int(p[1]) / int(p[2]) * row.factor)
        if row.kind == "rate":
            assert (row.numerator, row.denominator) == (int(r[1]), int(r[2])), row.code
        elif row.kind in ("count", "change"):
            assert row.value == float(r[3]), row.code
        assert row.units_reported == int(r[4]), row.code
    print("  figures match the hand-written aggregate")


def main() -> None:
    """Run the benchmark on the chosen backends."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--communes", type=int, default=3321)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data set and reuse it on the next run with --keep")
    args = ap.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            if args.keep:
                path = os.path.join(tempfile.gettempdir(), f"ctvbot_bench_{args.communes}.db")
                bench("SQLite", f"sqlite:///{path}", args.communes)
                continue
            with tempfile.TemporaryDirectory() as d:
                bench("SQLite", f"sqlite:///{d}/bench.db", args.communes)
        else:
            name = (f"ctvbot_bench_keep_{args.communes}" if args.keep
                    else f"ctvbot_bench_{uuid.uuid4().hex[:8]}")
            admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                there = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                     {"n": name}).first()
                if not there:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                bench("PostgreSQL", f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", args.communes)
            finally:
                if not args.keep:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
