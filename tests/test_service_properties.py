"""Any sequence of texts, commands and button presses, through the real service and database,
never raises and never stores a value that breaks an invariant."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from bot import service
from bot.i18n import render_reply
from storage.models import Conversation, ReportedValue, Submission, ValueChange
from tests.harness import invite, setup_commune

TEXTS = ["0", "7", "450", "1.234", "12,5", "-1", "không", "có", "chưa có", "xong", "😀", "",
         "99999999999", "abc", "/", "  3 trẻ ", "1 234"]
PEOPLE = itertools.count(10_000)
FORGED = ["r1:fix:zz:", "r999:yes:1:", "u:999:report", "inv:1", "lang:xx", "r1:ok:8.1:-5",
          "r1:use:8.1:abc", "r1:submit::", "garbage", "r1:ts:9:q", "r1:go:8.1:"]


@pytest.fixture
def env(engine):
    setup_commune(engine)
    return service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                       now=lambda: datetime(2026, 11, 3, 2, tzinfo=UTC))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_sessions_keep_invariants(env, data):
    ids = itertools.count(int(datetime.now().timestamp() * 1000) % 10**9 * 100)
    user = service.TgUser(id=next(PEOPLE), first_name="Lan", language_code="vi")
    with Session(env.engine) as s:  # each example starts from an empty report
        for table in (ValueChange, ReportedValue, Submission, Conversation):
            for row in s.exec(select(table)).all():
                s.delete(row)
        s.commit()
    code = invite(env.engine, "thon-hanh-thien")
    service.handle(env, next(ids), user, service.StartCmd(code))
    buttons: list[str] = []
    for _ in range(data.draw(st.integers(5, 40))):
        kind = data.draw(st.sampled_from(["text", "press", "forged", "cmd"]))
        if kind == "text":
            event: service.Incoming = service.TextIn(data.draw(st.sampled_from(TEXTS)))
        elif kind == "press" and buttons:
            event = service.PressIn(data.draw(st.sampled_from(buttons)))
        elif kind == "forged":
            event = service.PressIn(data.draw(st.sampled_from(FORGED)))
        else:
            event = data.draw(st.sampled_from([
                service.ReportCmd(), service.SimpleCmd("cancel"), service.SimpleCmd("status"),
                service.SimpleCmd("help"), service.SimpleCmd("language"),
                service.SimpleCmd("invite"), service.StartCmd(None)]))
        out = service.handle(env, next(ids), user, event)
        for reply in out.replies:
            text, rows = render_reply(reply, out.locale)  # every reply renders
            assert text.strip() and len(text) < 20000
            buttons.extend(d for row in rows for _, d in row)
    with Session(env.engine) as s:
        for v in s.exec(select(ReportedValue)).all():
            for n in (v.numerator, v.denominator, v.value):
                assert n is None or n >= 0
            if v.numerator is not None:
                assert v.denominator is not None and v.numerator <= v.denominator
        assert len(s.exec(select(ValueChange)).all()) >= len(s.exec(select(ReportedValue)).all())
