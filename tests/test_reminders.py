"""Reminders: the schedule, who is missing what, exactly-once fan-out, officer commands.

Everything runs on SQLite and PostgreSQL (the ``engine``/``db_url`` fixtures). Time never
passes for real: the schedule is computed from a controllable clock and the tests call
``Reminders.run_due(at=T)``. Sends go through the local Bot API with its faults.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, event
from sqlmodel import Session, select
from telegram import Bot

from bot import service
from bot.i18n import render_reply
from bot.reminders import Delivery, Pacer, Reminders
from bot.service import Env, TgUser, build_sheet
from bot.telegram import TelegramMessenger
from flows import reminders as plan
from flows import report as report_flow
from sandbox.botapi import LocalBotApi
from storage import reminders as store
from storage import repo
from storage.db import make_engine
from storage.kinds import Role
from storage.models import Indicator, Membership, Person, ReminderLog, ReportedValue, Round
from tests.harness import TOKEN, BotProcess, Clock, invite, say, setup_commune, tap

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HAMLETS = ["thon-hanh-thien", "thon-xuan-bac", "thon-xuan-trung", "thon-xuan-phong",
           "thon-xuan-dai", "thon-xuan-thuy"]


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    """A local time in Asia/Ho_Chi_Minh, as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ).astimezone(UTC)


TIMING = plan.Timing(date(2026, 11, 10), date(2026, 12, 5))  # commune 002 (Xuân Trường)


# ------------------------------------------------------------------ pure: the schedule


def test_schedule_of_a_whole_round_at_local_times():
    slots = plan.reminder_slots(TIMING, TZ)
    assert [(s.day.strftime("%d/%m"), s.kind) for s in slots] == [
        ("03/11", "before"), ("07/11", "before"), ("09/11", "before"), ("10/11", "day"),
        ("12/11", "after"), ("14/11", "after"), ("16/11", "after"), ("18/11", "after"),
        ("20/11", "after"), ("22/11", "after"), ("24/11", "after"), ("26/11", "after"),
        ("28/11", "after"), ("30/11", "after"), ("02/12", "after"), ("04/12", "after")]
    for s in slots:  # 09:00 in Vietnam is 02:00 UTC
        assert s.at.astimezone(TZ).strftime("%H:%M") == "09:00"
        assert s.at.tzinfo is not None and s.at.utcoffset() == timedelta(0)
        assert s.at.hour == 2 and s.key == f"remind:{s.day.isoformat()}"
    # a reminder before the deadline is useful until the next one, and never after the day
    assert slots[3].until == local(2026, 11, 11, 0)
    assert slots[-1].until == local(2026, 12, 6, 0)  # the consolidation day, inclusive
    digests = plan.digest_slots(TIMING, TZ)
    assert digests[0].day == date(2026, 11, 7) and digests[-1].day == date(2026, 12, 5)
    assert len(digests) == 29 and all(d.until == local(d.day.year, d.day.month, d.day.day + 0, 9)
                                      + timedelta(hours=15) for d in digests)
    # other settings: other days, another time, no reminders after the deadline
    other = plan.Timing(date(2026, 11, 20), date(2026, 12, 5), (5, 0, 5), "07:30", 0)
    got = plan.reminder_slots(other, TZ)
    assert [(s.day.day, s.at.astimezone(TZ).strftime("%H:%M")) for s in got] == [
        (15, "07:30"), (20, "07:30")]


def test_what_is_due_at_a_given_time():
    slots = plan.schedule(TIMING, TZ)
    assert plan.due(slots, local(2026, 11, 3, 8, 59)) == plan.Due()
    d = plan.due(slots, local(2026, 11, 3, 9, 0))
    assert [s.key for s in d.send] == ["remind:2026-11-03"] and d.stale == ()
    # the bot was down from the 3rd to the 8th: the reminder of the 7th is still current,
    # the one of the 3rd and yesterday's digest are stale; reminders go before the digest
    d = plan.due(slots, local(2026, 11, 8, 10), handled={"remind:2026-11-03"})
    assert [s.key for s in d.send] == ["remind:2026-11-07", "digest:2026-11-08"]
    assert [s.key for s in d.stale] == ["digest:2026-11-07"]
    # the day after the deadline, before the first late reminder: the deadline-day one is
    # stale (it was about "today is the deadline"), only the digest goes
    d = plan.due(slots, local(2026, 11, 11, 10), handled={s.key for s in slots
                                                          if s.at < local(2026, 11, 10, 12)})
    assert [s.key for s in d.send] == ["digest:2026-11-11"] and d.stale == ()
    assert plan.next_slot(slots, local(2026, 11, 11, 10)).key == "remind:2026-11-12"
    assert plan.next_slot(slots, local(2026, 12, 5, 10)) is None
    assert plan.manual_slot(local(2026, 11, 25, 9, 40), TZ) == "manual:2026-11-25T09"


def test_reminder_message_and_button_in_both_languages():
    gaps = [plan.Gap("Thôn Xuân Bắc", 7, (("8.1", "Tỷ lệ trẻ em có hoàn cảnh đặc biệt"),
                                         ("8.2", "Tỷ lệ được chăm sóc"), ("11", "Tai nạn"),
                                         ("13", "Sân chơi")))]
    reply = plan.reminder(5, 2026, date(2026, 11, 10), date(2026, 12, 5), date(2026, 11, 3),
                          gaps)
    text, rows = render_reply(reply, "vi")
    assert "hạn nộp là ngày 10/11/2026, còn 7 ngày" in text
    assert "Thôn Xuân Bắc còn 4/7 chỉ tiêu" in text and "8.1 – Tỷ lệ trẻ em" in text
    assert "… và 1 chỉ tiêu khác" in text and "13" not in text.split("khác")[0].split("11 –")[1]
    sheet = report_flow.Sheet(5, 2026, "x", date(2026, 11, 10), date(2026, 12, 5), ())
    assert rows == [[("Báo cáo ngay", report_flow.data(sheet, "go", "8.1"))]]
    assert rows[0][0][1] == "r5:go:8.1:"
    late = plan.reminder(5, 2026, date(2026, 11, 10), date(2026, 12, 5), date(2026, 11, 14),
                         [plan.Gap("Trạm Y tế", 10, ())], officer_name="Chị Hoa")
    text, rows = render_reply(late, "en")
    assert "A reminder from Chị Hoa" in text and "4 days past its deadline" in text
    assert "has not pressed «📨 Send the report»" in text and rows[0][0][1] == "r5:go::"


def test_digest_lists_late_units_and_unreachable_people():
    units = [plan.UnitLine("Thôn A", 7, (), True), plan.UnitLine("Thôn B", 7, ("8.1", "8.2",
                                                                            "11", "13"), False),
             plan.UnitLine("Trạm Y tế", 10, (), False)]
    reply = plan.digest("Xã Xuân Trường", 2026, date(2026, 11, 10), date(2026, 12, 5),
                        date(2026, 11, 12), units, [("Lan", "Thôn B")])
    text, _ = render_reply(reply, "vi")
    assert "1/3 đơn vị đã gửi" in text and "Trễ hạn (2 đơn vị)" in text
    assert "Thôn B: còn thiếu 4/7 chỉ tiêu (8.1, 8.2, 11…)" in text
    assert "Trạm Y tế: đã nhập đủ số liệu nhưng chưa bấm gửi" in text
    assert "chặn bot" in text and "Lan – Thôn B" in text and "Thôn A" not in text


async def test_pacer_keeps_both_limits():
    t = [0.0]

    async def sleep(s: float) -> None:
        t[0] += s

    pacer = Pacer(25, 1.0, clock=lambda: t[0], sleep=sleep)
    times = []
    for chat in [1, 2, 3, 1, 4, 1]:
        await pacer.acquire(chat)
        times.append((chat, round(t[0], 3)))
    assert [x for _, x in times[:3]] == [0.0, 0.04, 0.08]
    ones = [x for c, x in times if c == 1]
    assert ones[1] - ones[0] >= 1.0 and ones[2] - ones[1] >= 1.0
    pacer.pause(3)
    before = t[0]
    await pacer.acquire(9)
    assert t[0] - before >= 3


# ------------------------------------------------------------------ database helpers


def add_person(engine, unit_code: str, telegram_id: int, name: str,
               role: Role = Role.collaborator, language: str = "vi") -> int:
    with Session(engine) as s:
        unit = repo.find_unit(unit_code, session=s)
        p = Person(telegram_id=telegram_id, name=name, language=language)
        s.add(p)
        s.flush()
        s.add(Membership(person_id=p.id, unit_id=unit.id, role=role))
        s.commit()
        return p.id


def the_round(engine) -> Round:
    with Session(engine) as s:
        return s.exec(select(Round)).one()


def fill(engine, unit_code: str, codes: list[str] | None = None, submit: bool = False) -> None:
    """Give complete values for some (default: all) of a unit's indicators."""
    with Session(engine) as s:
        unit = repo.find_unit(unit_code, session=s)
        rnd = s.exec(select(Round)).one()
        for ind in repo.indicators_for(unit, rnd, session=s):
            if codes is not None and ind.code not in codes:
                continue
            kw = {"rate": dict(numerator=1, denominator=10), "task": dict(task_status="done")}
            repo.save_value(session=s, round_id=rnd.id, unit_id=unit.id, indicator_id=ind.id,
                            person_id=None, **kw.get(ind.kind, dict(value=1.0)))
        if submit:
            repo.submit(rnd.id, unit.id, person_id=None, session=s)
        s.commit()


def log_rows(engine) -> list[ReminderLog]:
    with Session(engine) as s:
        return list(s.exec(select(ReminderLog).order_by(ReminderLog.id)))


@pytest.fixture
async def api():
    server = LocalBotApi()
    await server.start()
    server.add_bot(TOKEN, username="ctvbot_test_bot")
    yield server
    await server.stop()


@pytest.fixture
async def tg(api):
    async with Bot(TOKEN, base_url=f"{api.url}/bot",
                   base_file_url=f"{api.url}/file/bot") as bot:
        yield TelegramMessenger(bot)


def people(api, engine, n: int, start: int = 10_000) -> dict[int, int]:
    """n collaborators spread over the six hamlets; telegram id -> person id."""
    out = {}
    for k in range(n):
        tid = start + k
        out[tid] = add_person(engine, HAMLETS[k % len(HAMLETS)], tid, f"CTV {k}")
        api.user(TOKEN, tid, f"CTV {k}", language_code="vi", started=True)
    return out


def received(api, tids) -> dict[int, int]:
    return {t: len(api.messages(TOKEN, t)) for t in tids}


# ------------------------------------------------------------------ who is missing what


def test_missing_per_unit_in_a_constant_number_of_queries(engine):
    setup_commune(engine)
    fill(engine, "thon-hanh-thien", submit=True)  # sent: gets nothing
    fill(engine, "thon-xuan-bac", codes=["8.1", "8.2"])  # part filled, not sent
    fill(engine, "tram-y-te")  # all filled, not sent: reminded to press "send"
    a = add_person(engine, "thon-hanh-thien", 1, "An")
    b = add_person(engine, "thon-xuan-bac", 2, "Bình", language="en")
    c = add_person(engine, "tram-y-te", 3, "Minh", role=Role.agency)
    gone = add_person(engine, "thon-xuan-trung", 4, "Hoa")
    add_person(engine, "xuan-truong", 5, "Chị Hoa", role=Role.officer)
    with Session(engine) as s:
        store.set_unreachable(gone, session=s)
        s.commit()
    rnd = the_round(engine)
    statements = []
    listen = lambda *args: args[2].startswith("BEGIN") or statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with Session(engine) as s:
            progress = store.round_progress(rnd, session=s)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(statements) == 3, statements  # indicators, units + submissions, grouped values
    by_code = {p.unit.code.split("/")[1]: p for p in progress}
    assert by_code["thon-hanh-thien"].submitted and not by_code["thon-hanh-thien"].missing
    assert [i.code for i in by_code["thon-xuan-bac"].missing] == ["10", "11.1", "11.2", "13",
                                                                   "20.2"]
    assert by_code["tram-y-te"].missing == () and by_code["tram-y-te"].pending
    # the same "missing" as the report flow's own sheet
    with Session(engine) as s:
        for p in progress:
            sheet, _ = build_sheet(p.unit, rnd, "vi", session=s, today=date(2026, 11, 2), tz=TZ)
            assert [i.code for i in sheet.missing()] == [i.code for i in p.missing]
        recipients = store.pending_recipients(rnd, session=s)
        unreachable = store.unreachable_people(rnd, session=s)
    assert {r.person.id for r in recipients} == {b, c}  # not a (sent), not gone (blocked)
    assert a not in {r.person.id for r in recipients}
    assert [(p.id, u.code) for p, u in unreachable] == [(gone, "xuan-truong/thon-xuan-trung")]


# ------------------------------------------------------------------ run_due and the fan-out


async def test_due_reminders_go_once_and_submitted_units_get_nothing(api, tg, engine):
    setup_commune(engine)
    ids = people(api, engine, 6)
    done_tid = 10_000  # the first person is of thon-hanh-thien
    fill(engine, "thon-hanh-thien", submit=True)
    rem = Reminders(engine, tg, tz=TZ, messages_per_second=25)
    assert (await rem.run_due(at=local(2026, 11, 3, 8, 59))).slots == {}
    report = await rem.run_due(at=local(2026, 11, 3, 9, 0))
    assert report.slots["remind:2026-11-03"].sent == 5
    again = await rem.run_due(at=local(2026, 11, 3, 15, 0))
    assert again.slots["remind:2026-11-03"].sent == 0
    got = received(api, ids)
    assert got.pop(done_tid) == 0 and set(got.values()) == {1}
    msg = api.messages(TOKEN, done_tid + 1)[0]
    assert "hạn nộp là ngày 10/11/2026, còn 7 ngày" in msg.content
    assert "Thôn Xuân Bắc còn 7/7 chỉ tiêu" in msg.content
    with Session(engine) as s:
        xuan_bac = repo.find_unit("thon-xuan-bac", session=s).id
    assert msg.button_data == [f"r{the_round(engine).id}:go:8.1:{xuan_bac}"]
    assert [r.outcome for r in log_rows(engine)] == ["sent"] * 5


async def test_restart_in_the_middle_of_a_batch_neither_repeats_nor_loses(api, db_url, engine):
    setup_commune(engine)
    ids = people(api, engine, 40)
    api.set_rate_limits(30, 1)
    at = local(2026, 11, 3, 9, 0)
    async with Bot(TOKEN, base_url=f"{api.url}/bot") as bot1:
        first = Reminders(engine, TelegramMessenger(bot1), tz=TZ, messages_per_second=20)
        task = asyncio.create_task(first.run_due(at=at))
        await api.wait_until(lambda: api.stats(TOKEN).sends >= 15, timeout=20)
        task.cancel()  # the process stops in the middle of the batch
        with pytest.raises(asyncio.CancelledError):
            await task
    halfway = api.stats(TOKEN).sends
    assert 15 <= halfway < 40
    rows = log_rows(engine)
    assert [r.outcome for r in rows] == ["sent"] * halfway  # nothing dangling
    # a new process: starting one takes more than the one-second window of Telegram's
    # overall limit, so the first process's last sends do not count against the second's
    await asyncio.sleep(1.1)
    engine2 = make_engine(db_url)
    try:
        async with Bot(TOKEN, base_url=f"{api.url}/bot") as bot2:
            second = Reminders(engine2, TelegramMessenger(bot2), tz=TZ, messages_per_second=20)
            report = await second.run_due(at=at + timedelta(minutes=5))
    finally:
        engine2.dispose()
    assert report.slots["remind:2026-11-03"].sent == 40 - halfway
    assert set(received(api, ids).values()) == {1}  # every one once: no repeat, no loss
    assert api.stats(TOKEN).too_many_requests == 0
    assert len(log_rows(engine)) == 40


async def test_two_processes_on_one_database_send_each_reminder_once(api, db_url, engine):
    setup_commune(engine)
    ids = people(api, engine, 30)
    at = local(2026, 11, 7, 9, 0)
    add_person(engine, "xuan-truong", 99, "Chị Hoa", role=Role.officer)
    api.user(TOKEN, 99, "Hoa", started=True)
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        async with Bot(TOKEN, base_url=f"{api.url}/bot") as b1, \
                Bot(TOKEN, base_url=f"{api.url}/bot") as b2:
            one = Reminders(engines[0], TelegramMessenger(b1), tz=TZ, messages_per_second=20)
            two = Reminders(engines[1], TelegramMessenger(b2), tz=TZ, messages_per_second=20)
            r1, r2 = await asyncio.gather(one.run_due(at=at), two.run_due(at=at))
    finally:
        for e in engines:
            e.dispose()
    key = "remind:2026-11-07"
    assert r1.slots[key].sent + r2.slots[key].sent == 30
    assert r1.slots[key].skipped + r2.slots[key].skipped <= 30
    assert set(received(api, ids).values()) == {1}
    assert len(api.messages(TOKEN, 99)) == 1  # the digest, once
    assert r1.slots["digest:2026-11-07"].sent + r2.slots["digest:2026-11-07"].sent == 1


async def test_a_claim_left_by_a_killed_process_is_sent_again(api, tg, engine):
    """SIGKILL between the claim and the send leaves a 'claimed' row: it is not lost."""
    setup_commune(engine)
    ids = people(api, engine, 3)
    victim = next(iter(ids.values()))
    at = local(2026, 11, 3, 9, 0)
    with Session(engine) as s:
        assert store.claim(session=s, person_id=victim, round_id=the_round(engine).id,
                           slot="remind:2026-11-03", now=at)
        s.commit()
    rem = Reminders(engine, tg, tz=TZ)
    report = await rem.run_due(at=at + timedelta(minutes=2))  # a live claim: left alone
    assert report.slots["remind:2026-11-03"].sent == 2
    report = await rem.run_due(at=at + timedelta(minutes=30))  # the process is long gone
    assert report.slots["remind:2026-11-03"].sent == 1
    assert set(received(api, ids).values()) == {1}
    assert {r.outcome for r in log_rows(engine)} == {"sent"}


class Timed(TelegramMessenger):
    """The Telegram messenger, noting when each text leaves for the Bot API."""

    def __init__(self, bot, sent_at: list[float]) -> None:  # noqa: ANN001
        super().__init__(bot)
        self.sent_at = sent_at

    async def send_text(self, chat_id, text, choices=()):  # noqa: ANN001
        self.sent_at.append(time.monotonic())
        return await super().send_text(chat_id, text, choices)


@pytest.mark.postgres
async def test_two_processes_together_stay_under_the_overall_limit(api, pg_database):
    """Each worker paces itself at 20/s; together (40/s) they must not go past Telegram's
    30/s. The pace is read where the messages leave the workers: a loaded machine that stalls
    the local server's loop delivers paced sends to it bunched, which says nothing about the
    two workers (a 429 then is waited out, and every reminder still arrives once)."""
    from sqlalchemy import text

    eng = make_engine(pg_database)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    from storage.db import upgrade
    upgrade(eng)
    setup_commune(eng)
    tids = list(range(50_000, 50_120))
    person_ids = [add_person(eng, HAMLETS[k % len(HAMLETS)], t, f"CTV {k}")
                  for k, t in enumerate(tids)]
    for k, t in enumerate(tids):
        api.user(TOKEN, t, f"CTV {k}", started=True)
    api.set_rate_limits(30, 1)
    rnd = the_round(eng)
    reply = plan.reminder(rnd.id, rnd.year, rnd.unit_deadline, rnd.consolidation_deadline,
                          date(2026, 11, 25), [plan.Gap("Thôn", 7, ())])
    batches = [[Delivery(p, t, rnd.id, f"manual:{n}", reply, "vi")
                for p, t in zip(person_ids[n::2], tids[n::2], strict=True)] for n in (0, 1)]
    engines = [make_engine(pg_database), make_engine(pg_database)]
    sent_at: list[float] = []
    try:
        async with Bot(TOKEN, base_url=f"{api.url}/bot") as b1, \
                Bot(TOKEN, base_url=f"{api.url}/bot") as b2:
            one = Reminders(engines[0], Timed(b1, sent_at), tz=TZ, messages_per_second=20)
            two = Reminders(engines[1], Timed(b2, sent_at), tz=TZ, messages_per_second=20)
            r1, r2 = await asyncio.gather(one.deliver(batches[0]), two.deliver(batches[1]))
    finally:
        for e in (*engines, eng):
            e.dispose()
    assert r1.sent + r2.sent == 120
    assert set(received(api, tids).values()) == {1}
    sent_at.sort()
    busiest = max(bisect.bisect_left(sent_at, t + 1.0) - i for i, t in enumerate(sent_at))
    assert busiest <= 30, f"{busiest} reminders left the two workers within one second"


async def test_429_is_waited_for_and_the_same_message_sent_again(api, tg, engine):
    setup_commune(engine)
    ids = people(api, engine, 8)
    api.set_rate_limits(30, 1)
    api.inject("sendMessage", 429, retry_after=1, times=3)
    report = await Reminders(engine, tg, tz=TZ).run_due(at=local(2026, 11, 3, 9))
    fan = report.slots["remind:2026-11-03"]
    assert fan.retries_429 == 3 and fan.sent == 8 and fan.failed == 0
    assert set(received(api, ids).values()) == {1}
    assert api.stats(TOKEN).too_many_requests == 3


async def test_blocked_person_is_marked_unreachable_and_the_digest_says_so(api, tg, engine):
    setup_commune(engine)
    ids = people(api, engine, 6)
    blocked_tid, blocked_pid = next(iter(ids.items()))
    api.block(blocked_tid, notify=False)
    add_person(engine, "xuan-truong", 99, "Chị Hoa", role=Role.officer)
    hoa = api.user(TOKEN, 99, "Hoa", started=True)
    rem = Reminders(engine, tg, tz=TZ)
    report = await rem.run_due(at=local(2026, 11, 7, 9))  # a reminder and the first digest
    assert report.slots["remind:2026-11-07"].blocked == 1
    assert report.slots["remind:2026-11-07"].sent == 5
    with Session(engine) as s:
        assert s.get(Person, blocked_pid).unreachable
        assert s.exec(select(ReminderLog.outcome).where(
            ReminderLog.person_id == blocked_pid,
            ReminderLog.slot == "remind:2026-11-07")).one() == "blocked"
    digest = hoa.messages()[-1].content
    assert "0/14 đơn vị đã gửi" in digest and "Chưa gửi báo cáo (14 đơn vị)" in digest
    assert "Không gửi được lời nhắc cho 1 người" in digest and "CTV 0 – Thôn Hành Thiện" in digest
    # the next reminder does not try again
    report = await rem.run_due(at=local(2026, 11, 9, 9))
    assert report.slots["remind:2026-11-09"].blocked == 0
    assert report.slots["remind:2026-11-09"].sent == 5


async def test_missed_slots_are_sent_if_still_useful_else_marked_stale(api, tg, engine):
    setup_commune(engine)
    ids = people(api, engine, 3)
    add_person(engine, "xuan-truong", 99, "Chị Hoa", role=Role.officer)
    api.user(TOKEN, 99, "Hoa", started=True)
    rem = Reminders(engine, tg, tz=TZ)
    # the bot was down from before the 3rd until the 8th, 10:00
    report = await rem.run_due(at=local(2026, 11, 8, 10))
    assert sorted(report.stale) == ["digest:2026-11-07", "remind:2026-11-03"]
    assert report.slots["remind:2026-11-07"].sent == 3
    assert report.slots["digest:2026-11-08"].sent == 1
    rows = log_rows(engine)
    stale = {(r.slot, r.outcome) for r in rows if r.outcome == "stale"}
    assert stale == {("remind:2026-11-03", "stale"), ("digest:2026-11-07", "stale")}
    assert set(received(api, ids).values()) == {1}
    # down again over the deadline day: on the 11th the deadline-day reminder is stale
    report = await rem.run_due(at=local(2026, 11, 11, 10))
    assert "remind:2026-11-10" in report.stale and "remind:2026-11-09" in report.stale
    assert set(report.slots) == {"digest:2026-11-11"}
    assert set(received(api, ids).values()) == {1}
    # a closed round sends nothing at all
    with Session(engine) as s:
        rnd = s.exec(select(Round)).one()
        rnd.closed_at = local(2026, 11, 11, 11)
        s.add(rnd)
        s.commit()
    assert (await rem.run_due(at=local(2026, 11, 12, 9))).slots == {}


# ------------------------------------------------------------------ officer commands (sync)


def env_for(engine, clock: Clock) -> Env:
    return Env(engine=engine, tz=TZ, bot_username="ctvbot_test_bot", now=clock)


class Updates:
    def __init__(self) -> None:
        self.n = 1000

    def __call__(self) -> int:
        self.n += 1
        return self.n


def officer(env: Env, update_id: int, user: TgUser, name: str, args=()) -> service.Outcome:
    """An officer's command, through the one dispatcher."""
    return service.handle(env, update_id, user, service.OfficerCmd(name, tuple(args)))


def press(env: Env, update_id: int, user: TgUser, data: str) -> service.Outcome:
    """A button, through the one dispatcher."""
    return service.handle(env, update_id, user, service.PressIn(data))


def texts(outcome: service.Outcome) -> str:
    return "\n".join(render_reply(r, outcome.locale)[0] for r in outcome.replies)


def test_deadline_refuses_bad_input_and_changes_nothing(engine):
    setup_commune(engine)
    add_person(engine, "xuan-truong", 99, "Chị Hoa", role=Role.officer)
    add_person(engine, "thon-xuan-bac", 5, "Lan")
    clock = Clock(local(2026, 11, 5, 10))
    env, upd = env_for(engine, clock), Updates()
    hoa, lan = TgUser(99, "Hoa"), TgUser(5, "Lan")
    before = the_round(engine)
    cases = [
        (["15/11/2026"], "Để đổi hạn"),
        (["31/02/2026", "05/12/2026"], "Chưa hiểu ngày «31/02/2026»"),
        (["mười lăm", "05/12/2026"], "Chưa hiểu"),
        (["01/11/2026", "05/12/2026"], "Ngày 01/11/2026 đã qua (hôm nay là 05/11/2026)"),
        (["20/11/2026", "15/11/2026"], "Hạn tổng hợp (15/11/2026) không được trước"),
        (["15/11/2026", "05/12/2026", "7,ba,1"], "Chưa hiểu các ngày nhắc"),
        (["15/11/2026", "05/12/2026", "90"], "Chưa hiểu các ngày nhắc"),
        (["thon-khong-co", "20/11/2026", "05/12/2026"], "Không có xã «thon-khong-co»"),
        (["20/11/2026", "05/12/2999"], "không thể muộn hơn ngày 31/12/2027"),
        (["20/11/25", "05/12/2026"], "Ngày 20/11/2025 đã qua"),
    ]
    for args, expected in cases:
        out = officer(env, upd(), hoa, "deadline", args)
        assert expected in texts(out), (args, texts(out))
        assert "Chưa thay đổi gì" in texts(out) or expected == "Để đổi hạn"
        assert not out.reschedule
        after = the_round(engine)
        assert (after.unit_deadline, after.consolidation_deadline,
                after.reminder_days_before) == (before.unit_deadline,
                                                before.consolidation_deadline,
                                                before.reminder_days_before)
    out = officer(env, upd(), lan, "deadline", ["15/11/2026", "05/12/2026"])
    assert "chỉ dành cho cán bộ" in texts(out) and the_round(engine).unit_deadline == \
        before.unit_deadline
    out = officer(env, upd(), hoa, "deadline", [])
    assert "hạn nộp của đơn vị 10/11/2026" in texts(out) and "7, 3, 1, 0" in texts(out)
    out = officer(env, upd(), hoa, "deadline", ["15/11/26", "5/12", "5,1,0"])  # short forms
    assert "✅ Đã đổi" in texts(out) and out.reschedule
    after = the_round(engine)
    assert (after.unit_deadline, after.reminder_days_before) == (date(2026, 11, 15), [5, 1, 0])
    # the same update delivered twice changes nothing more
    out = officer(env, upd.n, hoa, "deadline", ["16/11/2026", "05/12/2026"])
    assert out.duplicate and the_round(engine).unit_deadline == date(2026, 11, 15)
    # a closed round keeps its dates
    press(env, upd(), hoa, f"off:close:{after.id}")
    out = officer(env, upd(), hoa, "deadline", ["20/11/2026", "05/12/2026"])
    assert "đã chốt" in texts(out) and the_round(engine).unit_deadline == date(2026, 11, 15)


async def test_officer_nudge_at_most_once_an_hour_per_unit(api, tg, engine):
    setup_commune(engine)
    ids = people(api, engine, 6)
    fill(engine, "thon-hanh-thien", submit=True)
    add_person(engine, "xuan-truong", 99, "Chị Hoa", role=Role.officer)
    clock = Clock(local(2026, 11, 25, 9, 40))
    env, upd, hoa = env_for(engine, clock), Updates(), TgUser(99, "Hoa")
    rem = Reminders(engine, tg, tz=TZ, now=clock)
    out = officer(env, upd(), hoa, "remind")
    assert len(out.deliveries) == 5 and {d.slot for d in out.deliveries} == {
        "manual:2026-11-25T09"}
    assert "Đang gửi lời nhắc tới 5 người của 5 đơn vị" in texts(out)
    assert "Trạm Y tế" in texts(out)  # agencies with nobody in the bot are named
    assert (await rem.deliver(out.deliveries)).sent == 5
    first = api.messages(TOKEN, next(iter(ids)) + 1)[0].content
    assert "Lời nhắc từ Chị Hoa" in first and "quá hạn nộp (10/11/2026) 15 ngày" in first
    clock.now += timedelta(minutes=30)  # 10:10: another hour, but not an hour later
    out = officer(env, upd(), hoa, "remind")
    assert out.deliveries == [] and "Đã nhắc trong vòng một giờ qua" in texts(out)
    clock.now += timedelta(minutes=31)
    out = officer(env, upd(), hoa, "remind")
    assert len(out.deliveries) == 5
    assert (await rem.deliver(out.deliveries)).sent == 5
    assert set(received(api, ids).values()) - {0} == {2}
    clock.now = local(2026, 12, 10, 9)  # past the consolidation deadline (05/12): no nudge
    out = officer(env, upd(), hoa, "remind")
    assert out.deliveries == [] and "đã hết ngày 05/12/2026" in texts(out)


def test_close_round_with_confirmation_locks_the_values(engine):
    setup_commune(engine)
    add_person(engine, "xuan-truong", 99, "Chị Hoa", role=Role.officer)
    add_person(engine, "thon-xuan-bac", 5, "Lan")
    clock = Clock(local(2026, 11, 25, 9))
    env, upd, hoa = env_for(engine, clock), Updates(), TgUser(99, "Hoa")
    out = officer(env, upd(), hoa, "close")
    text, rows = render_reply(out.replies[0], "vi")
    rid = the_round(engine).id
    assert "Chốt số liệu đợt báo cáo năm 2026 của Xã Xuân Trường" in text
    assert [d for _, d in rows[0]] == [f"off:close:{rid}", f"off:keep:{rid}"]
    assert the_round(engine).closed_at is None
    assert "Chưa chốt" in texts(press(env, upd(), hoa, f"off:keep:{rid}"))
    assert "chỉ dành cho cán bộ" in texts(press(env, upd(), TgUser(5, "Lan"),
                                                         f"off:close:{rid}"))
    out = press(env, upd(), hoa, f"off:close:{rid}")
    assert "🔒 Đã chốt" in texts(out) and "25/11/2026" in texts(out) and out.reschedule
    assert "đã chốt từ ngày 25/11/2026" in texts(press(env, upd(), hoa,
                                                                f"off:close:{rid}"))
    with Session(engine) as s:
        unit = repo.find_unit("thon-xuan-bac", session=s)
        sheet, _ = build_sheet(unit, s.get(Round, rid), "vi", session=s,
                               today=date(2026, 11, 25), tz=TZ)
    assert sheet.locked and "Chị Hoa" in sheet.contact


# ------------------------------------------------------------------ end to end (real PTB app)


@pytest.fixture
def clock():
    return Clock(local(2026, 11, 2, 9))


@pytest.fixture
async def bot(api, db_url, engine, clock):
    setup_commune(engine)
    proc = await BotProcess(api, db_url, clock).start()
    yield proc
    await proc.stop()


async def test_reminder_arrives_and_report_now_opens_the_first_missing(api, bot, engine, clock):
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    fill(engine, "thon-hanh-thien", codes=["8.1"])
    rem: Reminders = bot.app.bot_data["reminders"]
    clock.now = local(2026, 11, 3, 9)
    report = await rem.run_due()
    assert report.slots["remind:2026-11-03"].sent == 1
    reminder = lan.messages()[-1]
    assert "Thôn Hành Thiện còn 6/7 chỉ tiêu" in reminder.content
    assert reminder.button_texts == ["Báo cáo ngay"]
    out = await tap(lan, reminder.button_data[0])
    assert any("(2/7) Chỉ tiêu 8.2" in o for o in out), out
    out = await say(lan, "12")
    assert any("(2/7)" in o or "12" in o for o in out)


async def test_report_now_opens_the_unit_it_names_for_someone_with_two_hamlets(
        api, bot, engine, clock):
    """The reminder is about Xuân Bắc; the conversation was last on Hành Thiện."""
    lan = api.user(TOKEN, 1002, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    fill(engine, "thon-hanh-thien", submit=True)
    fill(engine, "thon-xuan-bac", codes=["8.1"])
    out = await say(lan, "/baocao")
    out = await tap(lan, "Thôn Hành Thiện")  # the saved position now points at Hành Thiện
    assert any("Hành Thiện" in o for o in out)
    rem: Reminders = bot.app.bot_data["reminders"]
    clock.now = local(2026, 11, 3, 9)
    await rem.run_due()
    reminder = lan.messages()[-1]
    assert "Thôn Xuân Bắc còn 6/7 chỉ tiêu" in reminder.content
    assert "Hành Thiện" not in reminder.content
    out = await tap(lan, reminder.button_data[0])
    assert any("(2/7) Chỉ tiêu 8.2" in o for o in out), out
    out = await say(lan, "1")  # 8.1 said 1 child in special circumstances
    assert any("Đã hiểu: 1 trẻ" in o for o in out), out
    await say(lan, "1")
    with Session(engine) as s:
        ind = s.exec(select(Indicator).where(Indicator.code == "8.2")).first()
        rows = {repo.find_unit(c, session=s).id: c
                for c in ("thon-hanh-thien", "thon-xuan-bac")}
        saved = s.exec(select(ReportedValue).where(ReportedValue.indicator_id == ind.id)).all()
    assert {rows[v.unit_id]: (v.numerator, v.denominator) for v in saved} == {
        "thon-hanh-thien": (1, 10), "thon-xuan-bac": (1, 1)}


async def test_officer_progress_and_refusal_for_a_collaborator(api, bot, engine, clock):
    hoa = api.user(TOKEN, 7001, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer, name='Chị Hoa')}")
    lan = api.user(TOKEN, 7002, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    fill(engine, "thon-hanh-thien", submit=True)
    out = await say(hoa, "/tiendo")
    assert "1/14 đơn vị đã gửi" in out[0] and "Thôn Xuân Bắc: còn thiếu 7/7" in out[0]
    assert "còn 8 ngày" in out[0]
    out = await say(lan, "/tiendo")
    assert "chỉ dành cho cán bộ" in out[0]
    out = await say(lan, "/nhac")
    assert "chỉ dành cho cán bộ" in out[0]
    out = await say(hoa, "/progress")
    assert "1/14" in out[0]
    out = await say(hoa, "/nhac")
    assert "Đang gửi lời nhắc tới 1 người của 1 đơn vị: Thôn Xuân Bắc" in out[0]
    await api.wait_until(lambda: any("Lời nhắc từ Chị Hoa" in (m.content or "")
                                     for m in lan.messages()), timeout=10)
    out = await say(hoa, "/chot")
    assert "Chốt số liệu" in out[0]
    out = await tap(hoa, "🔒 Chốt số liệu")
    assert "🔒 Đã chốt" in out[-1]
    out = await say(lan, "/baocao")
    assert "đã được chốt" in out[0] and "Chị Hoa" in out[0]


async def test_jobs_are_rebuilt_from_the_database_and_follow_deadline_changes(
        api, bot, engine, clock):
    jq = bot.app.job_queue
    rid = the_round(engine).id
    job = next(j for j in jq.jobs() if j.name == f"reminders:round:{rid}")
    assert job.data["slot"] == "remind:2026-11-03"
    wait = (job.next_t - datetime.now(UTC)).total_seconds()
    assert abs(wait - timedelta(days=1).total_seconds()) < 60  # clock: 02/11 09:00 → 03/11 09:00
    assert any(j.name == "reminders:resync" for j in jq.jobs())
    hoa = api.user(TOKEN, 7001, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    out = await say(hoa, "/hanchot 20/11/2026 05/12/2026")
    assert "✅ Đã đổi" in out[0]
    job = next(j for j in jq.jobs() if j.name == f"reminders:round:{rid}")
    assert job.data["slot"] == "remind:2026-11-13"  # 7 days before the new deadline
    out = await say(hoa, "/hanchot 01/11/2026 05/12/2026")
    assert "đã qua" in out[0] and the_round(engine).unit_deadline == date(2026, 11, 20)
    # a brand-new process rebuilds the same job from the database
    other = await BotProcess(api, bot.db_url, clock).start()
    try:
        job2 = next(j for j in other.app.job_queue.jobs() if j.name == f"reminders:round:{rid}")
        assert job2.data["slot"] == "remind:2026-11-13"
    finally:
        await other.stop()


async def test_blocking_and_unblocking_the_bot_flips_unreachable(api, bot, engine):
    lan = api.user(TOKEN, 8001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")

    def unreachable() -> bool:
        with Session(engine) as s:
            return repo.person_by_telegram(8001, session=s).unreachable

    api.block(8001)
    await api.wait_until(unreachable, timeout=10)
    api.unblock(8001)
    await api.wait_until(lambda: not unreachable(), timeout=10)


def test_indicator_names_follow_the_persons_language(engine):
    setup_commune(engine)
    add_person(engine, "thon-xuan-bac", 2, "Jo", language="en")
    rnd = the_round(engine)
    with Session(engine) as s:
        recipients = store.pending_recipients(rnd, session=s)
        first = s.exec(select(Indicator).where(Indicator.code == "8.1")).first()
    from bot.reminders import reminder_deliveries

    (d,) = reminder_deliveries(rnd, recipients, "remind:2026-11-03", date(2026, 11, 3))
    assert isinstance(d, Delivery) and d.locale == "en"
    text, _ = render_reply(d.reply, d.locale)
    assert first.name_en in text and "7 days left" in text


async def test_a_round_job_fired_by_the_scheduler_sends_and_schedules_the_next(
        api, bot, engine, clock):
    lan = api.user(TOKEN, 9001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-xuan-dai')}")
    jq, rid = bot.app.job_queue, the_round(engine).id
    job = next(j for j in jq.jobs() if j.name == f"reminders:round:{rid}")
    clock.now = job.data["at"]  # the clock reaches the slot: the job fires
    await job.run(bot.app)
    await api.wait_until(lambda: len(lan.messages()) == 2, timeout=10)
    assert "hạn nộp là ngày 10/11/2026, còn 7 ngày" in lan.messages()[-1].content
    rem: Reminders = bot.app.bot_data["reminders"]
    await api.wait_until(lambda: not rem._tasks, timeout=10)
    job = next(j for j in jq.jobs() if j.name == f"reminders:round:{rid}")
    assert job.data["slot"] == "remind:2026-11-07"
    assert [r.outcome for r in log_rows(engine)] == ["sent"]


# ------------------------------------------------------------------ nobody is woken at night


def test_nothing_is_due_at_night_and_a_missed_slot_waits_for_the_morning():
    slots = plan.schedule(TIMING, TZ)
    night = local(2026, 11, 4, 2, 20)  # the bot was down at 09:00 on the 3rd, back at 02:20
    d = plan.due(slots, night, daytime=plan.DAYTIME, tz=TZ)
    assert d.send == () and d.stale == ()
    nxt = plan.next_slot(slots, night, daytime=plan.DAYTIME, tz=TZ)
    assert nxt.key == "remind:2026-11-03" and nxt.at == local(2026, 11, 4, 7, 0)
    d = plan.due(slots, local(2026, 11, 4, 7, 0), daytime=plan.DAYTIME, tz=TZ)
    assert [s.key for s in d.send] == ["remind:2026-11-03"]
    # already sent at its time: the morning brings nothing, the next slot is the 7th
    nxt = plan.next_slot(slots, night, daytime=plan.DAYTIME, tz=TZ,
                         handled={"remind:2026-11-03"})
    assert nxt.key == "remind:2026-11-07"
    # a reminder time set in the night goes out at the start of the same day
    late = plan.Timing(date(2026, 11, 10), date(2026, 12, 5), (7,), "22:30", 0)
    (slot,) = plan.reminder_slots(late, TZ)
    assert slot.at == local(2026, 11, 3, 7, 0)
    assert all(plan.DAYTIME.allows(s.at, TZ) for s in plan.schedule(late, TZ))
    # the deadline day's reminder missed until 21:00: useless by the morning, stale
    d = plan.due(slots, local(2026, 11, 10, 21), daytime=plan.DAYTIME, tz=TZ,
                 handled={s.key for s in slots if s.at < local(2026, 11, 10)})
    assert d.send == () and [s.key for s in d.stale] == ["remind:2026-11-10",
                                                          "digest:2026-11-10"]


def test_the_day_is_a_setting(monkeypatch):
    from bot.settings import Settings

    monkeypatch.setenv("CTVBOT_REMINDERS_FROM", "06:30")
    monkeypatch.setenv("CTVBOT_REMINDERS_UNTIL", "21:00")
    s = Settings(_env_file=None)
    assert s.daytime == plan.Daytime.parse("06:30", "21:00")
    assert Settings(_env_file=None, reminders_from="07:00", reminders_until="20:00").daytime \
        == plan.DAYTIME
    with pytest.raises(ValueError):
        Settings(_env_file=None, reminders_from="21:00", reminders_until="07:00")
    with pytest.raises(ValueError):
        Settings(_env_file=None, reminders_from="7h")


async def test_a_restart_at_night_wakes_nobody_and_the_missed_reminder_goes_once_at_seven(
        api, db_url, engine):
    setup_commune(engine)
    clock = Clock(local(2026, 11, 2, 10))
    lan = api.user(TOKEN, 12001, "Lan", language_code="vi")
    first = await BotProcess(api, db_url, clock).start()
    try:
        await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    finally:
        await first.stop()  # down over the 09:00 reminder of the 3rd
    joined = len(lan.messages())
    rid = the_round(engine).id
    for hh, mm in ((2, 20), (3, 5), (4, 40)):  # restarted three times in the night
        clock.now = local(2026, 11, 4, hh, mm)
        proc = await BotProcess(api, db_url, clock).start()
        try:
            rem: Reminders = proc.app.bot_data["reminders"]
            await api.wait_until(lambda rem=rem: not rem._tasks, timeout=10)  # the catch-up
            assert len(lan.messages()) == joined, lan.messages()[-1].content  # nobody woken
            job = next(j for j in proc.app.job_queue.jobs() if j.name == f"reminders:round:{rid}")
            assert job.data["slot"] == "remind:2026-11-03"
            assert job.data["at"] == local(2026, 11, 4, 7, 0)
        finally:
            await proc.stop()
        assert len(lan.messages()) == joined, lan.messages()[-1].content
    proc = await BotProcess(api, db_url, clock).start()
    try:
        rem = proc.app.bot_data["reminders"]
        await api.wait_until(lambda: not rem._tasks, timeout=10)
        job = next(j for j in proc.app.job_queue.jobs() if j.name == f"reminders:round:{rid}")
        clock.now = job.data["at"]  # seven in the morning: the job fires
        await job.run(proc.app)
        await api.wait_until(lambda: len(lan.messages()) == joined + 1, timeout=10)
        await api.wait_until(lambda: not rem._tasks, timeout=10)
        assert "Thôn Xuân Bắc còn 7/7 chỉ tiêu" in lan.messages()[-1].content
        job = next(j for j in proc.app.job_queue.jobs() if j.name == f"reminders:round:{rid}")
        assert job.data["slot"] == "remind:2026-11-07"
    finally:
        await proc.stop()
    clock.now = local(2026, 11, 4, 7, 30)  # and once more at 07:30: nothing again
    proc = await BotProcess(api, db_url, clock).start()
    try:
        rem = proc.app.bot_data["reminders"]
        await api.wait_until(lambda: not rem._tasks, timeout=10)
    finally:
        await proc.stop()
    assert len(lan.messages()) == joined + 1


# ------------------------------------------------------------------ missing, read when sent


async def test_a_reminder_never_lists_an_answer_committed_before_it_goes_out(
        api, bot, engine, clock):
    lan = api.user(TOKEN, 13001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    fill(engine, "thon-xuan-bac", codes=["8.1", "8.2", "11.1", "11.2", "13", "20.2"])
    rem: Reminders = bot.app.bot_data["reminders"]
    at = local(2026, 11, 3, 9)
    slot = next(s for s in plan.schedule(plan.Timing.of(the_round(engine)), TZ)
                if s.key == "remind:2026-11-03")
    batch = await asyncio.to_thread(rem.deliveries_for, the_round(engine).id, slot, at)
    assert len(batch) == 1  # the batch is ready: Lan lacks indicator 10 ...
    out = await say(lan, "/baocao")
    await say(lan, "450")
    out = await say(lan, "3")  # ... and answers it before her reminder's turn comes
    assert any("Đã ghi chỉ tiêu 10" in o for o in out), out
    result = await rem.deliver(batch)
    assert result.sent == 1
    reminder = lan.messages()[-1].content
    assert "Chỉ tiêu 10" not in reminder and "còn 1/7" not in reminder, reminder
    assert "đã nhập đủ 7 chỉ tiêu nhưng chưa bấm «Gửi báo cáo»" in reminder
    # sent meanwhile: the reminder is not sent at all
    await tap(lan, "📨 Gửi báo cáo")
    seen = len(lan.messages())
    with Session(engine) as s:
        s.exec(delete(ReminderLog))
        s.commit()
    result = await rem.deliver(batch)
    assert result.sent == 0 and result.skipped == 1 and len(lan.messages()) == seen


async def test_an_officer_nudge_at_night_wakes_nobody(api, bot, engine, clock):
    hoa = api.user(TOKEN, 14001, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    lan = api.user(TOKEN, 14002, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    seen = len(lan.messages())
    clock.now = local(2026, 11, 3, 22, 15)
    out = await say(hoa, "/nhac")
    assert "chỉ gửi lời nhắc trong ngày, từ 07:00 đến 20:00" in out[0], out
    await asyncio.sleep(0.3)
    assert len(lan.messages()) == seen
    clock.now = local(2026, 11, 4, 7, 5)
    out = await say(hoa, "/nhac")
    assert "Đang gửi lời nhắc tới 1 người" in out[0]
    await api.wait_until(lambda: len(lan.messages()) == seen + 1, timeout=10)
