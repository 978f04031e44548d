"""End to end on Zalo: people write to the real bot through the local Zalo Bot API over HTTP,
on SQLite and PostgreSQL; one commune's reporters on Telegram and Zalo side by side."""

from __future__ import annotations

from sqlmodel import Session, select

from storage import repo
from storage.kinds import Role
from storage.models import Person, ReminderLog, ValueChange
from tests.harness import TOKEN, TZ, BotProcess, invite, say, setup_commune, tap
from tests.test_e2e_report import values
from tests.zalo_harness import ZALO_TOKEN, ZaloProcess, zsay


def _texts(zapi, user_id):
    return [b["text"] for m, b in zapi.calls if m == "sendMessage" and b["chat_id"] == user_id]


async def test_a_collaborator_joins_and_reports_a_whole_hamlet_on_zalo(zapi, zbot, engine):
    code = invite(engine, "thon-xuan-trung")
    an = zapi.user(ZALO_TOKEN, "e4ea2cd5189df1c3a88c", "Nguyễn Văn An")
    sent = 0

    async def write(text):
        nonlocal sent
        sent += 1
        return await zsay(an, text)

    out = await write("xin chào")
    assert "hãy gõ mã mời" in out[0]  # Zalo's wording: a code typed, not a link
    out = await write(code)  # the code alone: Zalo has no start link
    assert "Xin chào Nguyễn Văn An" in out[0] and "Thôn Xuân Trung" in out[0]
    joined, sent = len(an.texts()), sent - 1
    out = await write("/baocao")
    assert "(1/7)" in out[-1] and "» Chưa có số liệu" in out[-1]  # a figure: no numbers
    await write("500")                   # 8.1 children
    out = await write("10")              # 8.1 in special circumstances
    assert "» Vẫn là 10 · Chưa có số liệu · ✏️ Sửa 8.1" in out[-1]
    await write("van la 10")             # 8.2: the words of the choice, without accents
    await write("9")
    await write("420")                   # 10
    await write("2")
    out = await write("500")             # 11.1: the figure itself, same as "Vẫn là 500"
    await write("1")
    await write("Vẫn là 500")            # 11.2
    await write("0")
    await write("0")                     # 13
    await write("3")                     # 20.2
    out = await write("3")
    review = "\n".join(out)
    assert "Báo cáo năm 2026 của Thôn Xuân Trung" in review
    assert "1 – Sửa 8.1 · 2 – Sửa 8.2" in review  # the review's choices are numbered
    assert "8 – 📨 Gửi báo cáo" in review
    out = await write("8")
    assert "Đã gửi" in out[-1]
    assert sent == 16  # 12 typed answers as on Telegram, and the 4 taps typed as text
    assert len(an.texts()) - joined == 16  # the bot's messages: as many as on Telegram
    vals = values(engine, "thon-xuan-trung")
    assert len(vals) == 7 and (vals["8.2"].numerator, vals["8.2"].denominator) == (9, 10)
    assert (vals["11.1"].numerator, vals["11.1"].denominator) == (1, 500)
    assert all(v.state == "submitted" for v in vals.values())
    with Session(engine) as s:
        person = s.exec(select(Person).where(Person.zalo_id == an.user_id)).one()
        assert person.channel == "zalo" and person.telegram_id is None
    assert all(1 <= len(t) <= 2000 for t in _texts(zapi, an.user_id))
    assert not any("bấm" in t for t in an.texts())  # nothing to press on Zalo: typed


async def test_status_its_choice_by_number_cancel_and_a_sticker(zapi, zbot, engine):
    code = invite(engine, "tram-y-te", name="Bác sĩ Minh")
    minh = zapi.user(ZALO_TOKEN, "b1", "Minh")
    await zsay(minh, f"/start {code}")
    out = await zsay(minh, "/baocao")
    assert "(1/10)" in out[-1]
    for text in ["1234", "1200", "1250", "3", "1250", "4"]:
        out = await zsay(minh, text)
    out = await zsay(minh, "chua co so lieu")  # 3.3: no data yet, typed without accents
    assert any("để trống" in o for o in out)
    assert "3.3" not in values(engine, "tram-y-te")
    out = await zsay(minh, "/tinhtrang")
    assert "đã có 3/10 chỉ tiêu" in out[0] and out[0].endswith("1 – Báo cáo ngay")
    out = await zsay(minh, "1")  # "Báo cáo ngay" by its number
    assert any("(4/10)" in o for o in out), out  # back to 3.3, left empty
    out = await zsay(minh, "/huy")
    assert out and "(4/10)" not in out[-1]
    out = await zsay(minh, "1")  # nothing listed any more is a typed text, not a choice
    assert out
    await minh.send_sticker()
    await zapi.wait_until(lambda: any("chữ" in t or "văn bản" in t for t in minh.texts()[-1:]),
                          timeout=10, what="the answer to a sticker")


async def test_a_restart_in_the_middle_loses_nothing(zapi, db_url, engine, clock):
    setup_commune(engine)
    code = invite(engine, "thon-xuan-trung")
    hoa = zapi.user(ZALO_TOKEN, "c1", "Hoa")
    first = await ZaloProcess(zapi, db_url, clock).start()
    try:
        await zsay(hoa, code)
        await zsay(hoa, "/baocao")
        await zsay(hoa, "300")
        await zsay(hoa, "9")
        await zsay(hoa, "9")  # the denominator of 8.2; the numerator is still to come
    finally:
        await first.stop()
    key = await hoa.send("8")  # written while no process runs: kept by Zalo until polled
    second = await ZaloProcess(zapi, db_url, clock).start()
    try:
        await zapi.wait_until(lambda: any("8/9" in t for t in hoa.texts()), timeout=30,
                              what=f"{key} answered by the new process")
        out = await zsay(hoa, "/baocao")
        assert "(3/7)" in out[-1] or "Tiếp tục" in out[0]
    finally:
        await second.stop()
    vals = values(engine, "thon-xuan-trung")
    assert (vals["8.1"].numerator, vals["8.1"].denominator) == (9, 300)
    assert (vals["8.2"].numerator, vals["8.2"].denominator) == (8, 9)


async def test_the_same_message_delivered_twice_is_applied_once(zapi, zbot, engine):
    tu = zapi.user(ZALO_TOKEN, "d1", "Tú")
    await zsay(tu, invite(engine, "thon-xuan-phong"))
    await zsay(tu, "/baocao")
    update = tu._update("message.text.received", text="200")
    await zapi.deliver(ZALO_TOKEN, update)
    await zapi.deliver(ZALO_TOKEN, update)  # Zalo sends the same message again
    await zapi.wait_until(lambda: any("200" in t for t in tu.texts()[-1:]), timeout=10)
    out = await zsay(tu, "5")
    assert any("5/200" in o for o in out)
    with Session(engine) as s:
        assert len(s.exec(select(ValueChange)).all()) == 1


async def test_a_reminder_arrives_once_on_zalo(zapi, zbot, engine, clock):
    from datetime import UTC, datetime

    lan = zapi.user(ZALO_TOKEN, "e1", "Lan")
    await zsay(lan, invite(engine, "thon-hanh-thien"))
    before = len(lan.texts())
    at = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # 9:00 in Vietnam, three days after opening
    report = await zbot.reminders.run_due(at=at)
    again = await zbot.reminders.run_due(at=at)
    assert report.total.sent >= 1 and again.total.sent == 0
    reminders = lan.texts()[before:]
    assert len(reminders) == 1 and "Thôn Hành Thiện" in reminders[0]
    assert "1 – " in reminders[0]  # "Báo cáo ngay" as a numbered choice
    out = await zsay(lan, "1")
    assert any("(1/7)" in o for o in out)
    with Session(engine) as s:
        logs = s.exec(select(ReminderLog)).all()
        assert [(log.outcome) for log in logs if log.person_id is not None].count("sent") == 1


async def test_an_officer_gets_the_summary_as_text_with_where_the_files_are(
        zapi, zbot, engine):
    hoa = zapi.user(ZALO_TOKEN, "f1", "Hoa")
    lan = zapi.user(ZALO_TOKEN, "f2", "Lan")
    await zsay(lan, invite(engine, "thon-hanh-thien"))
    assert "chỉ dành cho cán bộ" in (await zsay(lan, "/tonghop"))[0]
    await zsay(hoa, invite(engine, "xuan-truong", role=Role.officer))
    out = await zsay(hoa, "/tonghop")
    text = "\n".join(out)
    assert "Báo cáo năm 2026 – Xã Xuân Trường" in text and "Đơn vị đã gửi: 0/14" in text
    assert "Zalo không gửi được tệp" in out[-1] and "ctvbot report" in out[-1]
    assert "ở các tin nhắn dưới đây" not in text  # no promise of files that never come
    assert all(1 <= len(t) <= 2000 for t in out)
    assert not any(m == "sendPhoto" for m, _ in zapi.calls)
    assert ("sendChatAction", {"chat_id": "f1", "action": "typing"}) in zapi.calls
    out = await zsay(hoa, "/tiendo")
    assert out and "Thôn Hành Thiện" in "\n".join(out)


async def test_one_commune_with_a_telegram_and_a_zalo_reporter_adds_both(
        api, zapi, db_url, engine, clock):
    from storage.aggregate import build_report

    setup_commune(engine)
    tg = await BotProcess(api, db_url, clock).start()
    zl = await ZaloProcess(zapi, db_url, clock).start()
    try:
        lan = api.user(TOKEN, 7001, "Lan", language_code="vi")
        await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
        await say(lan, "/baocao")
        for text in ["450", "12", "12", "11", "380", "3", "450", "2", "450", "0", "1", "4", "3"]:
            await say(lan, text)
        await tap(lan, "📨 Gửi báo cáo")
        an = zapi.user(ZALO_TOKEN, "g1", "An")
        await zsay(an, invite(engine, "thon-xuan-trung"))
        await zsay(an, "/baocao")
        for text in ["500", "10", "10", "9", "420", "2", "500", "1", "500", "0", "0", "3", "3"]:
            out = await zsay(an, text)
        assert any("Báo cáo năm 2026 của Thôn Xuân Trung" in o for o in out)
        out = await zsay(an, "gui bao cao")  # the choice's words, without accents or emoji
        assert "Đã gửi" in out[-1]
    finally:
        await zl.stop()
        await tg.stop()
    with Session(engine) as s:
        commune = repo.find_unit("xuan-truong", session=s)
        report = build_report(commune.id, 2026, session=s, include_sensitive=True, tz=TZ)
    row = next(r for r in report.rows if r.code == "8.1")
    assert row.units_reported == 2
    assert report.completeness.units_submitted == 2
    assert round(row.value, 4) == round((12 + 10) / (450 + 500) * 100, 4)


async def test_an_officer_on_telegram_nudges_a_hamlet_on_zalo_once(
        api, zapi, db_url, engine, clock):
    setup_commune(engine)
    tg = await BotProcess(api, db_url, clock).start()
    zl = await ZaloProcess(zapi, db_url, clock).start()
    try:  # one process runs both, as `ctvbot run` with both tokens: one scheduler
        tg.app.bot_data["reminders"].add_channel("zalo", zl.bot.messenger,
                                                 messages_per_second=50)
        hoa = api.user(TOKEN, 7101, "Hoa", language_code="vi")
        await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer, name='Chị Hoa')}")
        binh = zapi.user(ZALO_TOKEN, "h1", "Bình")
        await zsay(binh, invite(engine, "thon-xuan-bac"))
        lan = api.user(TOKEN, 7102, "Lan", language_code="vi")
        await say(lan, f"/start {invite(engine, 'thon-xuan-dai')}")
        out = await say(hoa, "/nhac")
        assert "Đang gửi lời nhắc tới 2 người" in out[0]
        await zapi.wait_until(lambda: any("Lời nhắc từ Chị Hoa" in t for t in binh.texts()),
                              timeout=10, what="the nudge on Zalo")
        await api.wait_until(lambda: any("Lời nhắc từ Chị Hoa" in (m.content or "")
                                         for m in lan.messages()), timeout=10)
        out = await zsay(binh, "1")  # "Báo cáo ngay", by its number
        assert any("(1/7)" in o for o in out)
    finally:
        await zl.stop()
        await tg.stop()
    assert sum("Lời nhắc từ Chị Hoa" in t for t in binh.texts()) == 1
    assert not any("Lời nhắc" in (m.content or "") for m in hoa.messages())
