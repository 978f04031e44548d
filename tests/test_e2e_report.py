"""End to end: people talk to the real bot through the local Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from storage import repo
from storage.kinds import Role
from storage.models import Invitation, ReportedValue, Submission, ValueChange
from tests.harness import TOKEN, BotProcess, invite, say, setup_commune, tap


@pytest.fixture
async def bot(api, db_url, engine, clock):
    setup_commune(engine)
    proc = await BotProcess(api, db_url, clock).start()
    yield proc
    await proc.stop()


def values(engine, unit_code):
    with Session(engine) as s:
        unit = repo.find_unit(unit_code, session=s)
        rows = s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit.id)).all()
        from storage.models import Indicator
        codes = {i.id: i.code for i in s.exec(select(Indicator)).all()}
        return {codes[v.indicator_id]: v for v in rows}


HAMLET_ANSWERS = [  # (what the collaborator does, expected fragment of the bot's answer)
    ("say", "450", "(1/7)"), ("say", "12", "12/450"),
    ("say", "12", "(2/7)"), ("say", "11", "11/12"),
    ("say", "380", "(3/7)"), ("say", "3", "3/380"),
    ("say", "450", "(4/7)"), ("say", "2", "2/450"),
    ("say", "450", "(5/7)"), ("say", "0", "0/450"),
    ("say", "1", "1 cuộc"),
    ("say", "4", "(7/7)"), ("say", "3", "3/4"),
]


async def test_full_hamlet_report_in_vietnamese(api, bot, engine):
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    out = await say(lan, f"/start {code}")
    assert "Xin chào Lan" in out[0] and "Thôn Hành Thiện" in out[0] and "10/11/2026" in out[0]
    out = await say(lan, "/baocao")
    assert "7 chỉ tiêu" in out[0] and "(1/7)" in out[-1]
    # the collaborator makes typing mistakes the bot catches, then corrects them
    out = await say(lan, "45o")
    assert "Chưa hiểu" in out[0]
    out = await say(lan, "450,5")
    assert "số nguyên" in out[0]
    for _, text, fragment in HAMLET_ANSWERS[:3]:
        out = await say(lan, text)
        assert any(fragment in o for o in out), (text, out)
    out = await say(lan, "13")  # 13 cared for out of 12: refused
    assert "lớn hơn" in out[0]
    for _, text, fragment in HAMLET_ANSWERS[3:]:
        out = await say(lan, text)
        assert any(fragment in o for o in out), (text, out)
    assert any("Báo cáo năm 2026 của Thôn Hành Thiện" in o for o in out)
    out = await tap(lan, "📨 Gửi báo cáo")
    assert "Đã gửi báo cáo" in out[-1]
    vals = values(engine, "thon-hanh-thien")
    assert (vals["8.1"].numerator, vals["8.1"].denominator) == (12, 450)
    assert (vals["8.2"].numerator, vals["8.2"].denominator) == (11, 12)
    assert vals["13"].value == 1 and vals["20.2"].numerator == 3
    assert all(v.state == "submitted" for v in vals.values())
    assert "2,7%" in "\n".join(m.content or "" for m in lan.messages())  # 12/450 = 2,7%


async def test_health_station_report_with_yes_no_skip_and_fix(api, bot, engine):
    code = invite(engine, "tram-y-te", name="Bác sĩ Minh")
    minh = api.user(TOKEN, 2002, "Minh", language_code="vi")
    await say(minh, f"/start {code}")
    out = await say(minh, "/report")
    assert "(1/10)" in out[-1]
    answers = [("1.234", "1.234"), ("1.200", "1.200/1.234"), ("1 250", "(2/10)"),
               ("3", "3/1.250")]
    for text, fragment in answers:
        out = await say(minh, text)
        assert any(fragment in o for o in out), (text, out)
    # one message says 3.1 back and asks the next question, with a fix of 3.1 beside it
    assert len(out) == 1 and "(3/10)" in out[0]
    fix = next(d for m in minh.messages() for d in m.button_data if d.endswith(":fix:3.1:"))
    out = await tap(minh, fix)
    assert any("(2/10)" in o for o in out)
    await say(minh, "1250")
    out = await say(minh, "2")
    assert any("2/1.250" in o for o in out)
    for text, fragment in [("1250", "(3/10)"), ("4", "4/1.250")]:
        out = await say(minh, text)
        assert any(fragment in o for o in out), (text, out)
    out = await tap(minh, "Chưa có số liệu")  # 3.3 has no data yet
    assert any("để trống" in o for o in out)
    vals = values(engine, "tram-y-te")
    assert (vals["3.1"].numerator, vals["3.1"].denominator) == (2, 1250)
    assert "3.3" not in vals
    with Session(engine) as s:
        hist = s.exec(select(ValueChange).where(
            ValueChange.indicator_id == vals["3.1"].indicator_id)).all()
        assert [h.numerator for h in hist] == [3, 2]


async def test_joining_with_good_used_expired_and_guessed_codes(api, bot, engine, clock):
    code = invite(engine, "thon-xuan-bac")
    a = api.user(TOKEN, 3001, "An", language_code="vi")
    b = api.user(TOKEN, 3002, "Bình", language_code="vi")
    assert "Xin chào An" in (await say(a, f"/start {code}"))[0]
    assert "đã được dùng" in (await say(b, f"/start {code}"))[0]
    expired = invite(engine, "thon-xuan-bac")
    with Session(engine) as s:
        for inv in s.exec(select(Invitation).where(Invitation.used_at.is_(None))).all():
            inv.expires_at = clock.now - timedelta(days=1)
            s.add(inv)
        s.commit()
    assert "hết hạn" in (await say(b, f"/start {expired}"))[0]
    stranger = api.user(TOKEN, 3003, "Khách", language_code="vi")
    assert "link mời" in (await say(stranger, "/start"))[0]
    good = invite(engine, "thon-xuan-bac")
    for n in range(5):
        assert "không đúng" in (await say(stranger, f"/start wrongcode{n}"))[0]
    assert "quá nhiều lần" in (await say(stranger, f"/start {good}"))[0]
    clock.now += timedelta(hours=1, minutes=1)
    assert "Xin chào" in (await say(stranger, f"/start {good}"))[0]


async def test_stop_halfway_and_resume_after_restart(api, db_url, engine, clock):
    setup_commune(engine)
    code = invite(engine, "thon-xuan-trung")
    first = await BotProcess(api, db_url, clock).start()
    hoa = api.user(TOKEN, 4001, "Hoa", language_code="vi")
    try:
        await say(hoa, f"/start {code}")
        await say(hoa, "/baocao")
        await say(hoa, "300")
        await say(hoa, "9")
        await say(hoa, "9")  # the denominator of 8.2; the numerator is still to come
    finally:
        await first.stop()
    second = await BotProcess(api, db_url, clock).start()
    try:
        out = await say(hoa, "8")  # answered to the new process: the same question goes on
        assert any("8/9" in o for o in out), out
        out = await say(hoa, "/baocao")
        assert "Tiếp tục" in out[0] or "(3/7)" in out[-1]
    finally:
        await second.stop()
    vals = values(engine, "thon-xuan-trung")
    assert (vals["8.1"].numerator, vals["8.1"].denominator) == (9, 300)
    assert (vals["8.2"].numerator, vals["8.2"].denominator) == (8, 9)


async def test_same_update_delivered_twice_changes_nothing(api, bot, engine):
    code = invite(engine, "thon-xuan-phong")
    tu = api.user(TOKEN, 5001, "Tú", language_code="vi")
    await say(tu, f"/start {code}")
    await say(tu, "/baocao")
    update_id = await tu.send("200")
    await tu.wait_reply(timeout=10)
    before = len(tu.messages())
    await api.deliver_again(update_id, TOKEN)
    await tu.wait_idle(timeout=5, idle=0.3)
    assert len(tu.messages()) == before
    out = await say(tu, "5")
    assert any("5/200" in o for o in out)
    with Session(engine) as s:
        assert len(s.exec(select(ValueChange)).all()) == 1


async def test_english_and_language_switch(api, bot, engine):
    code = invite(engine, "thon-xuan-dai")
    jo = api.user(TOKEN, 6001, "Jo", language_code="en")
    out = await say(jo, f"/start {code}")
    assert "Hello Jo" in out[0]
    out = await say(jo, "/report")
    assert "(1/7)" in out[-1] and "Indicator" in out[-1]
    await say(jo, "/language")
    out = await tap(jo, "lang:vi")
    assert "tiếng Việt" in out[0]
    assert "(1/7) Chỉ tiêu 8.1" in out[-1]  # the open question again, now in Vietnamese
    out = await say(jo, "/tinhtrang")
    assert "Hạn nộp" in out[0] or "Còn thiếu" in "\n".join(out)


async def test_command_menus_are_set_per_language(api, bot):
    menus = api.commands(TOKEN)
    assert menus, "setMyCommands was not called"
    text = str(menus)
    assert "baocao" in text and "report" in text


async def test_officer_invites_from_chat(api, bot, engine):
    code = invite(engine, "xuan-truong", role=Role.officer, name="Chị Hoa")
    hoa = api.user(TOKEN, 7001, "Hoa", language_code="vi")
    await say(hoa, f"/start {code}")
    out = await say(hoa, "/moi")
    assert "đơn vị nào" in out[0]
    out = await tap(hoa, "Thôn Xuân Thủy")
    assert "https://t.me/ctvbot_test_bot?start=" in out[-1]
    link_code = out[-1].split("start=")[1].split()[0]
    new = api.user(TOKEN, 7002, "Nam", language_code="vi")
    assert "Thôn Xuân Thủy" in (await say(new, f"/start {link_code}"))[0]
    lan = api.user(TOKEN, 7003, "Lan", language_code="vi")
    c2 = invite(engine, "thon-xuan-thuy")
    await say(lan, f"/start {c2}")
    assert "chỉ dành cho cán bộ" in (await say(lan, "/moi"))[0]


async def test_submitted_report_can_be_changed_until_consolidation_then_locked(
        api, bot, engine, clock):
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 8001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    await say(lan, "/baocao")
    for text in ["450", "12", "12", "11", "380", "3", "450", "2", "450", "0", "1", "4", "3"]:
        await say(lan, text)
    await tap(lan, "📨 Gửi báo cáo")
    with Session(engine) as s:
        assert len(s.exec(select(Submission)).all()) == 1
    out = await say(lan, "/baocao")
    assert any("vẫn sửa được" in o for o in out)
    clock.now += timedelta(days=40)  # past the consolidation deadline (05/12/2026)
    out = await say(lan, "/baocao")
    assert "hết hạn sửa" in out[0] and "05/12/2026" in out[0]


async def test_a_clean_hamlet_report_takes_12_messages_and_4_taps(api, bot, engine):
    code = invite(engine, "thon-xuan-trung")
    an = api.user(TOKEN, 9001, "An", language_code="vi")
    typed, taps = 0, 0

    async def typing(text):
        nonlocal typed
        typed += 1
        return await say(an, text)

    async def tapping(label):
        nonlocal taps
        taps += 1
        return await tap(an, label)

    await typing(f"/start {code}")
    await typing("/baocao")
    await typing("500")                 # 8.1 children
    await typing("10")                  # 8.1 in special circumstances
    await tapping("Vẫn là 10")          # 8.2 denominator: the same children
    await typing("9")
    await typing("420")                 # 10
    await typing("2")
    await tapping("Vẫn là 500")         # 11.1
    await typing("1")
    await tapping("Vẫn là 500")         # 11.2
    await typing("0")
    await typing("0")                   # 13
    await typing("3")                   # 20.2
    out = await typing("3")
    assert any("Báo cáo năm 2026 của Thôn Xuân Trung" in o for o in out)
    out = await tapping("📨 Gửi báo cáo")
    assert "Đã gửi" in out[-1]
    assert (typed, taps) == (12, 4)
    vals = values(engine, "thon-xuan-trung")
    assert len(vals) == 7 and (vals["8.2"].numerator, vals["8.2"].denominator) == (9, 10)


async def test_one_person_for_two_hamlets_is_asked_which(api, bot, engine):
    lan = api.user(TOKEN, 9101, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-xuan-dai')}")
    out = await say(lan, f"/start {invite(engine, 'thon-xuan-thuy')}")
    assert "Thôn Xuân Thủy" in out[0]
    out = await say(lan, "/baocao")
    assert "đơn vị nào" in out[0]
    out = await tap(lan, "Thôn Xuân Thủy")
    assert "Báo cáo năm 2026 của Thôn Xuân Thủy" in out[0]
    await say(lan, "200")
    await say(lan, "4")
    assert values(engine, "thon-xuan-thuy")["8.1"].numerator == 4
    assert values(engine, "thon-xuan-dai") == {}
    out = await say(lan, "/tinhtrang")  # still on Xuân Thủy's report: its status
    assert "Thôn Xuân Thủy" in out[0]


async def test_value_far_from_last_year_asks_for_confirmation(api, bot, engine):
    from storage.models import Round
    with Session(engine) as s:  # last year's report of this hamlet
        commune = repo.find_unit("xuan-truong", session=s)
        cur = repo.open_round(commune.id, session=s)
        last = Round(commune_id=commune.id, plan_id=cur.plan_id, year=2025,
                     unit_deadline=cur.unit_deadline.replace(year=2025),
                     consolidation_deadline=cur.consolidation_deadline.replace(year=2025))
        s.add(last)
        s.flush()
        unit = repo.find_unit("thon-hanh-thien", session=s)
        ind = next(i for i in repo.indicators_for(unit, cur, session=s) if i.code == "8.1")
        repo.save_value(session=s, round_id=last.id, unit_id=unit.id, indicator_id=ind.id,
                        person_id=None, numerator=10, denominator=440, source="import")
        s.commit()
    lan = api.user(TOKEN, 9201, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, "/baocao")
    out = await say(lan, "4.500")  # one zero too many
    assert "Năm 2025 là 440" in out[0] and "4.500" in out[0]
    out = await tap(lan, "Nhập lại")
    assert "(1/7)" in out[-1]
    out = await say(lan, "450")
    assert "Đã hiểu: 450" in out[0]


async def test_officer_enters_a_paper_report_on_behalf_of_a_hamlet(api, bot, engine):
    hoa = api.user(TOKEN, 9401, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer, name='Hoa')}")
    out = await say(hoa, "/baocao")
    assert "đơn vị nào" in out[0]
    out = await tap(hoa, "Thôn Xuân Đài")
    assert "Báo cáo năm 2026 của Thôn Xuân Đài" in out[0]
    await say(hoa, "210")
    await say(hoa, "6")
    with Session(engine) as s:
        unit = repo.find_unit("thon-xuan-dai", session=s)
        row = s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit.id)).one()
        hist = s.exec(select(ValueChange).where(ValueChange.unit_id == unit.id)).one()
        officer = repo.person_by_telegram(9401, session=s)
    assert (row.numerator, row.denominator, row.source) == (6, 210, "officer")
    assert hist.changed_by == officer.id and hist.source == "officer"
    # /huy, then /baocao asks again which unit; the same one resumes where it stopped
    await say(hoa, "/huy")
    out = await say(hoa, "/baocao")
    assert "đơn vị nào" in out[0]
    out = await tap(hoa, "Thôn Xuân Đài")
    assert any("(2/7)" in o for o in out)


async def test_summary_for_officers_with_word_excel_and_chart(api, bot, engine):
    lan = api.user(TOKEN, 9501, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, "/baocao")
    for text in ["450", "12", "12", "11", "380", "3", "450", "2", "450", "0", "1", "4", "3"]:
        await say(lan, text)
    await tap(lan, "📨 Gửi báo cáo")
    assert "chỉ dành cho cán bộ" in (await say(lan, "/tonghop"))[0]  # a collaborator: refused
    assert not any(m.document for m in lan.messages())
    hoa = api.user(TOKEN, 9502, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    out = await say(hoa, "/tonghop")
    text = "\n".join(out)
    assert "Báo cáo năm 2026 – Xã Xuân Trường" in text
    assert "Đơn vị đã gửi: 1/14" in text
    assert "8.1" in text and "2,7%" in text and "9 " in text  # 12/450, and the abuse row (9)
    assert "Chưa gửi báo cáo:" in text and "Thôn Xuân Bắc" in text
    docs = [m.document for m in hoa.messages() if m.document]
    assert {d.filename.rsplit(".", 1)[1] for d in docs} == {"docx", "xlsx"}
    assert any(m.photo for m in hoa.messages())
    assert docs[0].data[:2] == b"PK"
    out = await say(hoa, "/tonghop 2019")
    assert "Chưa có đợt báo cáo năm 2019" in out[0] and "2026" in out[0]
    out = await say(hoa, "/tonghop abc")
    assert "/tonghop 2025" in out[0]
