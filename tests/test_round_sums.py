"""The round sums the database keeps (``roundsum``, migration 0010) equal the report's live
grouped query after every kind of write, on SQLite and PostgreSQL; concurrent writers on
PostgreSQL; a database upgraded from 0009 with its data."""

from __future__ import annotations

import csv
import random
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import delete, insert, select, text, update
from sqlmodel import Session

from bot import officer as officer_shell
from flows import officer as flow
from storage import importer, repo
from storage.aggregate import _grouped
from storage.communes import apply_commune, load_commune
from storage.db import alembic_config, make_engine
from storage.kinds import IndicatorKind, UnitKind
from storage.models import (
    Indicator,
    Person,
    ReportedValue,
    Round,
    RoundSum,
    Submission,
    Unit,
)
from storage.roundsums import (
    SumRow,
    bulk_load,
    computed_round_sums,
    deadline_cutoff,
    refresh_round_sums,
    round_sums,
    stale_rounds,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parents[1]
STATUSES = ("not_started", "in_progress", "done")


# ------------------------------------------------------------------ the comparison


def live(session: Session, tz: ZoneInfo = TZ) -> set[SumRow]:
    """The report's grouped query (``storage.aggregate._grouped``), round by round, over
    every indicator of the values."""
    conn = session.connection()
    inds = [SimpleNamespace(id=i, kind=k) for i, k in
            conn.execute(select(Indicator.id, Indicator.kind))]
    out = set()
    for rid, cid, year, deadline in conn.execute(
            select(Round.id, Round.commune_id, Round.year, Round.unit_deadline)):
        for g in _grouped(session, {rid: (cid, year)}, inds, [deadline], tz):
            out.add(SumRow(rid, g.ind, g.kind, g.n, g.n_sub, g.num, g.den, g.val, g.yes,
                           g.on_time))
    return out


def stored(session: Session) -> set[SumRow]:
    """What ``roundsum`` holds, every round."""
    conn = session.connection()
    rows = round_sums(conn, conn.execute(select(Round.id)).scalars())
    assert len(rows) == len(set(rows))
    return set(rows)


def assert_exact(session: Session, what: str = "") -> None:
    """The table equals the live query (floats compared with ==), and a refresh gives it."""
    want = live(session)
    got = stored(session)
    assert got == want, (what, sorted(got ^ want))
    conn = session.connection()
    assert set(computed_round_sums(conn, conn.execute(select(Round.id)).scalars())) == want


# ------------------------------------------------------------------ the commune


def set_up(session: Session) -> tuple[Unit, list[Round]]:
    """Xuân Trường with its 2026 round and a 2025 round (both through setup)."""
    spec = load_commune(ROOT / "communes/002_xuan_truong.yaml")
    last = spec.round.model_copy(update={"year": 2025, "unit_deadline": date(2025, 11, 10),
                                         "consolidation_deadline": date(2025, 12, 5)})
    apply_commune(spec.model_copy(update={"round": last}), session=session, tz=TZ)
    apply_commune(spec, session=session, tz=TZ)
    session.commit()
    commune = repo.find_unit(spec.code, session=session)
    return commune, repo.rounds_of(commune.id, session=session)


def fields_for(kind: str, rng: random.Random) -> dict:
    """A value as a unit would give it for an indicator's kind; sometimes cleared or half
    filled (a rate without its denominator has no data)."""
    roll = rng.random()
    if kind == IndicatorKind.rate:
        den = rng.randint(0, 400)
        if roll < 0.1:
            return {}
        if roll < 0.2:
            return {"numerator": rng.randint(0, den)}
        return {"numerator": rng.randint(0, den), "denominator": den}
    if kind == IndicatorKind.task:
        if roll < 0.15:
            return {"text": "chưa rõ"}
        return {"task_status": rng.choice(STATUSES), "text": "ghi chú"}
    if roll < 0.1:
        return {}
    if kind in (IndicatorKind.yes_no, IndicatorKind.share_units):
        return {"value": float(rng.randint(0, 1))}
    return {"value": float(rng.randint(0, 5000))}


def moment(rnd: Round, rng: random.Random) -> datetime:
    """A time around the round's deadline (on time or late, sometimes at the very edge)."""
    cut = deadline_cutoff(rnd.unit_deadline, TZ)
    return cut + rng.choice([timedelta(days=-3), timedelta(microseconds=-1), timedelta(0),
                             timedelta(hours=5), timedelta(days=-20)])


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["year", "unit", "indicator", "numerator", "denominator",
                                "value"])
        w.writeheader()
        for r in rows:
            w.writerow(r)


@pytest.mark.parametrize("seed", [1, 2])
def test_sums_stay_exact_through_every_write(session, tmp_path, seed):
    rng = random.Random(seed)
    commune, rounds = set_up(session)
    assert_exact(session, "setup")
    officer = Person(name="Cán bộ")
    session.add(officer)
    session.commit()
    units = repo.children(commune.id, session=session)
    inds = list(session.execute(select(Indicator).where(Indicator.plan_id == rounds[0].plan_id))
                .scalars())
    ops = ["save"] * 12 + ["submit"] * 2 + ["resubmit", "deadline", "kind", "import",
                                             "delete_value", "delete_submission",
                                             "indicator_kind", "commit", "rollback"]
    for step in range(160):
        op = rng.choice(ops)
        rnd = rng.choice(rounds)
        unit = rng.choice(units)
        if op == "save":
            ind = rng.choice(inds)
            repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                            indicator_id=ind.id, person_id=None, now=moment(rnd, rng),
                            **fields_for(ind.kind, rng))
        elif op == "submit":
            repo.submit(rnd.id, unit.id, person_id=None, session=session,
                        now=moment(rnd, rng))
        elif op == "resubmit":  # a submission's time corrected
            session.execute(update(Submission).where(Submission.round_id == rnd.id)
                            .values(submitted_at=moment(rnd, rng)))
        elif op == "deadline":  # /hanchot: the officer's effect, as the bot carries it out
            shift = timedelta(days=rng.choice([-15, -2, 1, 3]))
            new = rnd.unit_deadline + shift
            eff = flow.SetDeadlines(rnd.id, new, max(new, rnd.consolidation_deadline),
                                    (3, 1))
            officer_shell.apply(flow.Result(None, (eff,)), session=session, person=officer,
                                now=datetime.now(UTC), tz=TZ)
            session.flush()
            assert rnd.cutoff_at == deadline_cutoff(new, TZ)
        elif op == "kind":  # a unit's kind changed by setup (the same UPDATE)
            unit.kind = rng.choice([UnitKind.hamlet.value, UnitKind.health_station.value,
                                    UnitKind.police.value, UnitKind.preschool.value])
            session.add(unit)
            session.flush()
        elif op == "indicator_kind":  # a plan reloaded with an indicator of another kind
            ind = rng.choice(inds)
            ind.kind = rng.choice([k.value for k in IndicatorKind])
            session.add(ind)
            session.flush()
        elif op == "import":  # a paper report typed into the commune's file
            rows = []
            for t in rng.sample(importer.template_rows(commune, session=session),
                                rng.randint(1, 8)):
                if t.kind == IndicatorKind.rate:
                    den = rng.randint(1, 300)
                    f = {"numerator": rng.randint(0, den), "denominator": den}
                elif t.kind == IndicatorKind.task:
                    f = {"value": rng.choice(STATUSES)}
                elif t.kind in (IndicatorKind.yes_no, IndicatorKind.share_units):
                    f = {"value": rng.choice(["có", "không"])}
                else:
                    f = {"value": rng.randint(0, 900)}
                rows.append({"year": t.year, "unit": t.unit, "indicator": t.indicator, **f})
            # one line per (unit, indicator): the last one written wins
            rows = list({(r["unit"], r["indicator"]): r for r in rows}.values())
            path = tmp_path / f"import-{step}.csv"
            write_csv(path, rows)
            importer.import_values(path, session=session, submit=rng.random() < 0.5,
                                   today=date(2026, 11, 20), tz=TZ)
        elif op == "delete_value":  # no path of the bot deletes one; the database's own
            rv = session.execute(select(ReportedValue.id).where(
                ReportedValue.round_id == rnd.id)).scalars().first()
            if rv is not None:
                session.execute(delete(ReportedValue).where(ReportedValue.id == rv))
        elif op == "delete_submission":
            session.execute(delete(Submission).where(Submission.round_id == rnd.id,
                                                     Submission.unit_id == unit.id))
        elif op == "commit":
            session.commit()
        else:
            session.rollback()
            session.expire_all()
        session.flush()
        assert_exact(session, f"step {step}: {op}")
    session.commit()
    assert_exact(session, "end")
    counts = session.execute(select(RoundSum.round_id)).scalars().all()
    assert counts, "the test wrote no value with data"


def test_stored_cutoff_is_checked_against_the_configured_zone(session):
    _, rounds = set_up(session)
    conn = session.connection()
    ids = [r.id for r in rounds]
    assert stale_rounds(conn, ids, TZ) == []
    assert stale_rounds(conn, ids, ZoneInfo("UTC")) == sorted(ids)
    # a round written without its cutoff is never read from the table
    session.execute(update(Round).where(Round.id == ids[0]).values(cutoff_at=None))
    assert stale_rounds(conn, ids, TZ) == [ids[0]]
    assert_exact(session)  # on_time then counts nothing, in the table as in the query
    # setup writes the cutoff in the zone it is given
    spec = load_commune(ROOT / "communes/002_xuan_truong.yaml")
    apply_commune(spec, session=session, tz=ZoneInfo("Asia/Tokyo"))
    session.flush()
    rnd = repo.round_for_year(rounds[0].commune_id, 2026, session=session)
    assert rnd.cutoff_at == deadline_cutoff(rnd.unit_deadline, ZoneInfo("Asia/Tokyo"))
    assert rnd.id in stale_rounds(conn, ids, TZ)


def test_the_migration_fills_the_sums_of_existing_data(db_url, tmp_path):
    """A database at 0009 holding values and submissions: upgraded, its sums are exact and
    its rounds' cutoffs are in the default zone."""
    engine = make_engine(db_url)
    try:
        rng = random.Random(7)
        with Session(engine) as session:
            _, rounds = set_up(session)
            units = repo.children(rounds[0].commune_id, session=session)
            inds = session.execute(select(Indicator)).scalars().all()
            for _ in range(120):
                rnd, unit, ind = rng.choice(rounds), rng.choice(units), rng.choice(inds)
                repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                                indicator_id=ind.id, person_id=None, now=moment(rnd, rng),
                                **fields_for(ind.kind, rng))
            for unit in units[:5]:
                repo.submit(rounds[1].id, unit.id, person_id=None, session=session,
                            now=moment(rounds[1], rng))
            session.commit()
            want = live(session)
            assert want
        cfg = alembic_config(engine)
        command.downgrade(cfg, "0009_unit_retired")
        with engine.connect() as conn:
            assert "roundsum" not in {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                if engine.dialect.name == "sqlite" else
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
        command.upgrade(cfg, "head")
        with Session(engine) as session:
            assert stored(session) == want
            for rnd in session.execute(select(Round)).scalars():
                assert rnd.cutoff_at == deadline_cutoff(rnd.unit_deadline, TZ)
    finally:
        # the session's migrated PostgreSQL database is shared: leave it migrated
        command.upgrade(alembic_config(engine), "head")
        engine.dispose()


def test_bulk_load_recomputes_its_rounds_once(session):
    _, rounds = set_up(session)
    units = repo.children(rounds[0].commune_id, session=session)
    inds = session.execute(select(Indicator)).scalars().all()
    rng = random.Random(3)
    rows = [{"round_id": r.id, "unit_id": u.id, "indicator_id": i.id, "state": "draft",
             "source": "import", "updated_at": moment(r, rng), "version": 1,
             **{"numerator": None, "denominator": None, "value": None, "task_status": None,
                **fields_for(i.kind, rng)}}
            for r in rounds for u in units for i in inds if rng.random() < 0.3]
    subs = [{"round_id": r.id, "unit_id": u.id, "submitted_at": moment(r, rng)}
            for r in rounds for u in units if rng.random() < 0.5]
    conn = session.connection()
    with bulk_load(conn, [r.id for r in rounds]):
        conn.execute(insert(ReportedValue), rows)
        conn.execute(insert(Submission), subs)
        assert stored(session) == set()  # the triggers stood aside
    assert_exact(session)
    # an error inside leaves the triggers in place for the rest of the transaction
    with pytest.raises(LookupError), bulk_load(conn, [rounds[0].id]):
        raise LookupError
    session.execute(delete(Submission).where(Submission.round_id == rounds[0].id))
    assert_exact(session)
    # after it, the triggers run again
    repo.save_value(session=session, round_id=rounds[0].id, unit_id=units[0].id,
                    indicator_id=inds[0].id, person_id=None, value=1.0, numerator=1,
                    denominator=2, task_status="done")
    assert_exact(session)
    refresh_round_sums(conn, [r.id for r in rounds])
    assert_exact(session)


def test_a_province_sized_bulk_load_fits_the_database_s_locks(session):
    """A restore of thousands of rounds in one transaction: PostgreSQL's lock table (about
    64 locks per connection) does not hold one lock per round, so the load locks the table."""
    _, rounds = set_up(session)
    conn = session.connection()
    many = [r.id for r in rounds] + list(range(100_000, 200_000))  # a province: 100,000 rounds
    with bulk_load(conn, many):
        repo.save_value(session=session, round_id=rounds[0].id,
                        unit_id=repo.children(rounds[0].commune_id, session=session)[0].id,
                        indicator_id=session.execute(select(Indicator)).scalars().first().id,
                        person_id=None, value=1.0, numerator=1, denominator=2,
                        task_status="done")
    assert_exact(session)


@pytest.fixture
def pg_engine(pg_migrated):
    """An engine on the emptied, migrated PostgreSQL database, for threads of their own."""
    url, empty = pg_migrated
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(empty)
    admin.dispose()
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_writers_of_one_group_leave_exact_sums(pg_engine):
    """Two units of one commune answering the same indicators at once, in opposite orders,
    each in its own transaction (READ COMMITTED), many times: the sums include both."""
    engine = pg_engine
    with Session(engine) as session:
        _, rounds = set_up(session)
        rnd = next(r for r in rounds if r.year == 2026)
        units = [u.id for u in repo.children(rnd.commune_id, session=session)
                 if u.kind == UnitKind.hamlet][:2]
        inds = [i.id for i in session.execute(select(Indicator).where(
            Indicator.kind == IndicatorKind.rate)).scalars()][:3]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(unit_id: int, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for n in range(150):
                order = inds if (n + seed) % 2 else list(reversed(inds))
                barrier.wait(timeout=30)
                with Session(engine) as s:
                    for ind in order:
                        den = rng.randint(1, 1000)
                        repo.save_value(session=s, round_id=rnd.id, unit_id=unit_id,
                                        indicator_id=ind, person_id=None,
                                        numerator=rng.randint(0, den), denominator=den)
                    if n % 25 == 0:
                        repo.submit(rnd.id, unit_id, person_id=None, session=s)
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(u, k)) for k, u in enumerate(units)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with Session(engine) as session:
        assert_exact(session)
        hamlets = [r for r in stored(session)
                   if r.indicator_id in inds and r.kind == UnitKind.hamlet]
        assert len(hamlets) == len(inds) and all(r.n == 2 for r in hamlets)


def test_a_round_deleted_takes_its_sums(session):
    commune, rounds = set_up(session)
    unit = repo.children(commune.id, session=session)[0]
    ind = session.execute(select(Indicator).where(Indicator.kind == IndicatorKind.count)) \
        .scalars().first()
    for rnd in rounds:
        repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                        indicator_id=ind.id, person_id=None, value=4.0)
    session.execute(delete(Round).where(Round.id == rounds[0].id))
    session.flush()
    assert {r.round_id for r in stored(session)} == {rounds[1].id}
    assert_exact(session)


def test_a_unit_or_indicator_deleted_takes_its_values_sums(session):
    """The values go with their unit or indicator (ON DELETE CASCADE): their groups are
    recomputed (the database's triggers fire on the cascade too)."""
    commune, rounds = set_up(session)
    units = repo.children(commune.id, session=session)
    inds = session.execute(select(Indicator)).scalars().all()
    rng = random.Random(5)
    for rnd in rounds:
        for unit in units:
            for ind in rng.sample(inds, 6):
                repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                                indicator_id=ind.id, person_id=None, now=moment(rnd, rng),
                                **fields_for(ind.kind, rng))
        repo.submit(rnd.id, units[0].id, person_id=None, session=session)
    assert_exact(session)
    session.execute(delete(Unit).where(Unit.id == units[0].id))
    session.flush()
    assert_exact(session, "unit deleted")
    gone = session.execute(select(ReportedValue.indicator_id)).scalars().first()
    session.execute(delete(Indicator).where(Indicator.id == gone))
    session.flush()
    assert_exact(session, "indicator deleted")
    assert gone not in {r.indicator_id for r in stored(session)}


@pytest.mark.postgres
def test_a_unit_sending_its_report_while_its_other_reporter_answers_never_deadlocks(
        pg_engine):
    """Two people of one unit: one presses "Gửi báo cáo" while the other saves answers,
    at the same instant, many times: neither is refused and the sums stay exact."""
    engine = pg_engine
    with Session(engine) as session:
        _, rounds = set_up(session)
        rnd = next(r for r in rounds if r.year == 2026)
        rid = rnd.id
        unit = next(u.id for u in repo.children(rnd.commune_id, session=session)
                    if u.kind == UnitKind.hamlet)
        inds = [i.id for i in session.execute(select(Indicator).where(
            Indicator.kind == IndicatorKind.rate)).scalars()][:3]
        for ind in inds:
            repo.save_value(session=session, round_id=rid, unit_id=unit,
                            indicator_id=ind, person_id=None, numerator=1, denominator=2)
        session.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def answering() -> None:
        rng = random.Random(7)
        try:
            for _ in range(60):
                barrier.wait(timeout=30)
                with Session(engine) as s:
                    for ind in inds:
                        den = rng.randint(1, 1000)
                        repo.save_value(session=s, round_id=rid, unit_id=unit,
                                        indicator_id=ind, person_id=None,
                                        numerator=rng.randint(0, den), denominator=den)
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            barrier.abort()

    def sending() -> None:
        try:
            for _ in range(60):
                barrier.wait(timeout=30)
                with Session(engine) as s:
                    repo.submit(rid, unit, person_id=None, session=s)
                    s.commit()
                with Session(engine) as s:  # the officer reopens it for the next turn
                    s.execute(delete(Submission).where(Submission.round_id == rid,
                                                       Submission.unit_id == unit))
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=answering), threading.Thread(target=sending)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with Session(engine) as session:
        assert_exact(session)
