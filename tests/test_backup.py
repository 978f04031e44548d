"""`ctvbot backup` and `ctvbot restore`: a round trip that loses nothing, across engines."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner

from bot.cli import app
from storage import repo
from storage.db import make_engine, upgrade
from storage.models import Person
from tests.harness import invite, setup_commune

runner = CliRunner()


def dump(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        out = {}
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in r) for r in rows)
        return out


def fill(engine) -> None:
    setup_commune(engine)
    code = invite(engine, "thon-hanh-thien")
    with Session(engine) as s:
        res = repo.redeem_invitation(code, telegram_id=9_000_000_001, name="Lan",
                                     language="vi", session=s)
        unit = res.unit
        rnd = repo.open_round(repo.commune_of(unit, session=s).id, session=s)
        inds = repo.indicators_for(unit, rnd, session=s)
        for n, ind in enumerate(inds):
            repo.save_value(session=s, round_id=rnd.id, unit_id=unit.id, indicator_id=ind.id,
                            person_id=res.person.id, numerator=n, denominator=100 + n)
        repo.save_value(session=s, round_id=rnd.id, unit_id=unit.id, indicator_id=inds[0].id,
                        person_id=res.person.id, numerator=5, denominator=99)
        repo.submit(rnd.id, unit.id, person_id=res.person.id, session=s)
        repo.save_state(res.person.id, {"flow": "report", "step": "review"}, session=s)
        s.commit()


def test_round_trip_loses_nothing(engine, db_url, tmp_path, monkeypatch):
    fill(engine)
    file = tmp_path / "ctvbot-backup.json.gz"
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    out = runner.invoke(app, ["backup", str(file)])
    assert out.exit_code == 0, out.output
    target_url = f"sqlite:///{tmp_path / 'restored.db'}"
    monkeypatch.setenv("CTVBOT_DATABASE_URL", target_url)
    out = runner.invoke(app, ["restore", str(file)])
    assert out.exit_code == 0, out.output
    target = make_engine(target_url)
    assert dump(target) == dump(engine)
    # the restored database keeps working: new rows get fresh ids
    with Session(target) as s:
        s.add(Person(telegram_id=42, name="Mới", created_at=datetime.now(UTC)))
        s.commit()
    again = runner.invoke(app, ["restore", str(file)])
    assert again.exit_code == 1 and "không trống" in again.output
    target.dispose()


def test_restore_into_postgresql_from_sqlite(tmp_path, pg_database, monkeypatch):
    source = make_engine(f"sqlite:///{tmp_path / 'src.db'}")
    upgrade(source)
    fill(source)
    file = tmp_path / "b.json.gz"
    monkeypatch.setenv("CTVBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'src.db'}")
    assert runner.invoke(app, ["backup", str(file)]).exit_code == 0
    target = make_engine(pg_database)
    with target.begin() as conn:
        from sqlalchemy import text
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    monkeypatch.setenv("CTVBOT_DATABASE_URL", pg_database)
    out = runner.invoke(app, ["restore", str(file)])
    assert out.exit_code == 0, out.output
    assert dump(target) == dump(source)
    with Session(target) as s:  # sequences were moved past the restored ids
        s.add(Person(telegram_id=43, name="Mới", created_at=datetime.now(UTC)))
        s.commit()
    target.dispose()
    source.dispose()


def test_not_a_backup_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CTVBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    bad = tmp_path / "bad.gz"
    bad.write_text("hello")
    out = runner.invoke(app, ["restore", str(bad)])
    assert out.exit_code == 1 and "không phải là bản sao lưu của ctvbot" in out.output


def test_backup_is_one_snapshot_while_the_bot_writes(pg_database, tmp_path):
    """A person joins (person, then membership rows) while the backup reads table by table.

    On SQLite the backup holds the write lock, so writers wait; on PostgreSQL they do not,
    and the backup must still see the database as of one moment.
    """
    from sqlalchemy import event, text

    from storage.backup import backup, restore
    from storage.models import Membership

    engine = make_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    fill(engine)
    code = invite(engine, "thon-xuan-bac")
    joined = []

    def join_meanwhile(conn, cursor, statement, *_args) -> None:
        if joined or "FROM person" not in statement:
            return
        joined.append(True)  # right after the person table was read: someone joins
        with Session(engine) as s:
            repo.redeem_invitation(code, telegram_id=9_000_000_002, name="Bình", language="vi",
                                   session=s)
            s.commit()

    reader = make_engine(pg_database)
    event.listen(reader, "after_cursor_execute", join_meanwhile)
    file = tmp_path / "b.json.gz"
    counts = backup(reader, file)
    reader.dispose()
    assert joined, "the backup never read the person table"
    with Session(engine) as s:  # the join did happen, after the snapshot
        assert len(s.exec(select(Membership)).all()) == counts["membership"] + 1
    target = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(target)
    assert restore(target, file) == counts  # no membership without its person
    target.dispose()
    engine.dispose()
