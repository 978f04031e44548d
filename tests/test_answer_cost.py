"""What one typed answer costs: at most five SQL statements and one message, on both engines;
and the cached sheet follows a deadline change made by another process."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot import service
from storage import repo
from storage.models import ReportedValue, Round, ValueChange
from tests.harness import TOKEN, BotProcess, Clock, invite, say, setup_commune

MAX_STATEMENTS = 5


class Statements:
    """Counts the SQL statements an engine runs (BEGIN of SQLite's write lock aside)."""

    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.strip().upper() != "BEGIN IMMEDIATE":
            self.seen.append(statement)

    def during(self, fn):
        self.seen.clear()
        out = fn()
        return out, list(self.seen)


@pytest.fixture
def env(engine):
    setup_commune(engine)
    return service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                       now=lambda: datetime(2026, 11, 3, 2, tzinfo=UTC))


class Person:
    def __init__(self, env, telegram_id, name):
        self.env, self.user = env, service.TgUser(telegram_id, name)
        self.update = 1000 * telegram_id

    def __call__(self, event):
        self.update += 1
        return service.handle(self.env, self.update, self.user, event)


def joined(env, unit_code, telegram_id=501):
    person = Person(env, telegram_id, "Lan")
    code = invite(env.engine, unit_code)
    person(service.StartCmd(code))
    return person


def test_a_typed_answer_costs_five_statements_and_one_message(env, engine):
    lan = joined(env, "thon-xuan-bac")
    count = Statements(engine)
    lan(service.ReportCmd())
    lan(service.TextIn("450"))  # the first rate's total: the sheet is now cached
    out, sql = count.during(lambda: lan(service.TextIn("12")))
    assert len(sql) <= MAX_STATEMENTS, "\n\n".join(sql)
    assert len(out.replies) == 1
    lines = [m.key for m in out.replies[0].lines]
    assert lines[0] == "report.saved" and "report.ask" in lines
    assert out.replies[0].buttons[-1][0].data.endswith(":fix:8.1:")
    # the answer is stored once, with its history row naming who typed it in the chat
    with Session(engine) as s:
        value = s.exec(select(ReportedValue)).one()
        assert (value.numerator, value.denominator) == (12, 450)
        hist = s.exec(select(ValueChange)).all()
        assert [(h.numerator, h.denominator, h.source, h.changed_by) for h in hist] == \
            [(12, 450, "chat", value.reported_by)]
    # the denominator of the next rate costs no more
    _, sql = count.during(lambda: lan(service.TextIn("12")))
    assert len(sql) <= MAX_STATEMENTS, "\n\n".join(sql)


def test_the_same_update_twice_is_applied_once_in_the_fast_path(env, engine):
    lan = joined(env, "thon-xuan-bac")
    lan(service.ReportCmd())
    lan(service.TextIn("450"))
    first = lan(service.TextIn("12"))
    again = service.handle(env, lan.update, lan.user, service.TextIn("12"))
    assert not first.duplicate and again.duplicate and not again.replies
    with Session(engine) as s:
        assert len(s.exec(select(ValueChange)).all()) == 1


def test_a_value_typed_again_keeps_both_in_the_history(env, engine):
    lan = joined(env, "thon-xuan-bac")
    lan(service.ReportCmd())
    lan(service.TextIn("450"))
    fix = lan(service.TextIn("12")).replies[0].buttons[-1][0].data
    lan(service.PressIn(fix))
    lan(service.TextIn("450"))
    lan(service.TextIn("13"))
    with Session(engine) as s:
        assert s.exec(select(ReportedValue)).one().version == 2
        assert [h.numerator for h in s.exec(select(ValueChange).order_by(ValueChange.id))] \
            == [12, 13]


def test_a_deadline_moved_elsewhere_reaches_the_cached_sheet(env, engine):
    lan = joined(env, "thon-xuan-bac")
    lan(service.ReportCmd())
    lan(service.TextIn("450"))  # cached
    with Session(engine) as s:  # another process (an officer's /hanchot) moves the deadline
        rnd = s.exec(select(Round)).one()
        before = rnd.version
        rnd.unit_deadline = date(2026, 12, 24)
        s.add(rnd)
        s.commit()
        s.refresh(rnd)
        assert rnd.version == before + 1
    out = lan(service.SimpleCmd("status"))
    assert out.replies[0].lines[1].params["deadline"].d == date(2026, 12, 24)


def test_a_round_closed_elsewhere_locks_the_next_answer(env, engine):
    lan = joined(env, "thon-xuan-bac")
    lan(service.ReportCmd())
    lan(service.TextIn("450"))
    with Session(engine) as s:
        rnd = s.exec(select(Round)).one()
        rnd.closed_at = datetime(2026, 11, 3, 1, tzinfo=UTC)
        s.add(rnd)
        s.commit()
    out = lan(service.TextIn("12"))
    assert out.replies[0].lines[0].key == "report.locked"
    with Session(engine) as s:
        assert s.exec(select(ReportedValue)).all() == []


def test_an_officer_typing_for_a_hamlet_is_recorded_as_officer(env, engine):
    officer = Person(env, 777, "Cán bộ")
    officer(service.StartCmd(invite(engine, "xuan-truong")))
    with Session(engine) as s:
        hamlet = repo.find_unit("thon-xuan-bac", session=s)
    officer(service.PressIn(f"u:{hamlet.id}:report"))
    officer(service.TextIn("450"))
    officer(service.TextIn("12"))
    with Session(engine) as s:
        assert [h.source for h in s.exec(select(ValueChange))] == ["officer"]


async def test_one_message_answers_a_typed_figure(api, db_url, engine):
    setup_commune(engine)
    code = invite(engine, "thon-xuan-bac")
    proc = await BotProcess(api, db_url, Clock()).start()
    try:
        lan = api.user(TOKEN, 5101, "Lan", language_code="vi")
        await say(lan, f"/start {code}")
        await say(lan, "/baocao")
        await say(lan, "450")
        out = await say(lan, "12")
        assert len(out) == 1
        assert out[0].startswith("✅ Đã ghi chỉ tiêu") and "(2/" in out[0]
        last = lan.messages()[-1]
        assert any(d.endswith(":fix:8.1:") for d in last.button_data)
    finally:
        await proc.stop()


def test_setup_again_and_a_new_officer_renew_the_cached_sheets(env, engine):
    def version():
        with Session(engine) as s:
            return s.exec(select(Round)).one().version

    first = version()
    setup_commune(engine)  # `ctvbot setup` run again (names, plan, deadlines may have changed)
    assert version() > first
    lan = joined(env, "thon-xuan-bac")
    lan(service.ReportCmd())
    lan(service.TextIn("450"))
    before = version()
    officer = Person(env, 778, "Chị Hằng")
    officer(service.StartCmd(invite(engine, "xuan-truong")))
    assert version() == before + 1  # the reporters' sheets name the officers to contact
    with Session(engine) as s:
        rnd = s.exec(select(Round)).one()
        rnd.closed_at = datetime(2026, 11, 3, 1, tzinfo=UTC)
        s.add(rnd)
        s.commit()
    out = lan(service.TextIn("12"))
    assert "Chị Hằng" in out.replies[0].lines[0].params["contact"]
