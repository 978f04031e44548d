"""The conversation as a new person finds it, end to end through the local Bot API, on SQLite
and PostgreSQL: joining a closed round, a total of 0, buttons after refusals, Vietnamese
typed on an English phone, names family name first, a bare /start."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from flows.join import person_name
from storage import repo
from storage.kinds import Role
from storage.models import Indicator, Person, ReportedValue, Round
from tests.harness import TOKEN, BotProcess, Clock, invite, say, setup_commune, tap


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))


@pytest.fixture
async def bot(api, db_url, engine, clock):
    setup_commune(engine)
    proc = await BotProcess(api, db_url, clock).start()
    yield proc
    await proc.stop()


def saved(engine, unit_code: str, code: str) -> ReportedValue | None:
    with Session(engine) as s:
        unit = repo.find_unit(unit_code, session=s)
        ind = s.exec(select(Indicator).where(Indicator.code == code)).first()
        return s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit.id,
                                                  ReportedValue.indicator_id == ind.id)).first()


def close_round(engine, at: datetime) -> None:
    with Session(engine) as s:
        rnd = s.exec(select(Round)).one()
        rnd.closed_at = at
        s.add(rnd)
        s.commit()


# ------------------------------------------------------------------ 3: a closed round


async def test_joining_a_closed_round_says_it_is_closed_and_what_can_still_be_done(
        api, bot, engine, clock):
    close_round(engine, datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    clock.now = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    lan = api.user(TOKEN, 3101, "Lan", language_code="vi")
    out = await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    text = "\n".join(out)
    assert "đã chốt ngày 20/11/2026" in text and "/tinhtrang" in text, text
    assert "đang mở" not in text and "xin gửi sớm" not in text
    hoa = api.user(TOKEN, 3102, "Hoa", language_code="vi")
    out = await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    text = "\n".join(out)
    assert "đã chốt ngày 20/11/2026" in text and "/tonghop" in text, text
    assert "xin gửi sớm" not in text


async def test_an_officer_joining_after_the_unit_deadline_is_not_told_to_send_soon(
        api, bot, engine, clock):
    clock.now = datetime(2026, 11, 12, 3, 0, tzinfo=UTC)  # after 10/11, before 05/12
    hoa = api.user(TOKEN, 3201, "Hoa", language_code="vi")
    out = await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    text = "\n".join(out)
    assert "xin gửi sớm" not in text
    assert "hạn nộp của các đơn vị (10/11/2026) đã qua" in text and "05/12/2026" in text, text
    lan = api.user(TOKEN, 3202, "Lan", language_code="vi")
    out = await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    assert "đã qua" in "\n".join(out)  # a collaborator is still asked to send soon


# ------------------------------------------------------------------ 5: a total of 0


async def test_a_total_of_zero_does_not_ask_of_them_how_many(api, bot, engine):
    lan = api.user(TOKEN, 5001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, "/baocao")
    out = await say(lan, "0")  # 8.1: a hamlet with no children at all
    text = "\n".join(out)
    assert "(2/7)" in text and "(1/7)" not in text, text
    v = saved(engine, "thon-hanh-thien", "8.1")
    assert v is not None and (v.numerator, v.denominator) == (0, 0)
    out = await say(lan, "0")  # 8.2: no child in special circumstances: "of them" skipped
    text = "\n".join(out)
    assert "(3/7)" in text and "Trong số đó" not in text, text
    v = saved(engine, "thon-hanh-thien", "8.2")
    assert v is not None and (v.numerator, v.denominator) == (0, 0)


# ------------------------------------------------------------------ 11: buttons stay


async def test_fix_total_button_stays_after_a_refused_answer(api, bot, engine):
    lan = api.user(TOKEN, 11001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, "/baocao")
    await say(lan, "450")
    assert "✏️ Sửa tổng số 450" in lan.messages()[-1].button_texts
    for bad in ("abc", "12,5", "-3"):
        await say(lan, bad)
        last = lan.messages()[-1]
        assert "✏️ Sửa tổng số 450" in last.button_texts, (bad, last.content)
        assert "Chưa có số liệu" in last.button_texts
    out = await tap(lan, "✏️ Sửa tổng số 450")
    assert any("(1/7)" in o for o in out)


async def test_a_bare_start_says_the_code_alone_also_works(api, bot, engine):
    stranger = api.user(TOKEN, 11002, "An", language_code="vi")
    out = await say(stranger, "/start")
    assert "chỉ cần gõ riêng mã đó" in "\n".join(out), out
    out = await say(stranger, invite(engine, "thon-xuan-bac"))
    assert "Xin chào An" in out[0]


# ------------------------------------------------------------------ 8: Vietnamese written


async def test_vietnamese_typed_on_an_english_phone_is_answered_in_vietnamese(api, bot, engine):
    lan = api.user(TOKEN, 8101, "Lan", language_code="en")
    out = await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    assert "Hello Lan" in out[0] or "Welcome" in out[0] or "joined" in out[0], out
    out = await say(lan, "chào bạn, tôi muốn báo cáo")
    assert "/baocao" in "\n".join(out), out  # the idle hint, in Vietnamese
    out = await say(lan, "/baocao")
    assert "chỉ tiêu" in "\n".join(out), out  # stays Vietnamese
    with Session(engine) as s:
        assert repo.person_by_telegram(8101, session=s).language == "vi"
    # the person chooses English: Vietnamese typed no longer switches
    await say(lan, "/ngonngu")
    await tap(lan, "English")
    out = await say(lan, "không biết")
    assert "Vietnamese" not in out[0] and any(
        w in "\n".join(out) for w in ("Not understood", "number", "Type")), out
    with Session(engine) as s:
        assert repo.person_by_telegram(8101, session=s).language == "en"


async def test_a_stranger_typing_vietnamese_on_an_english_phone_is_answered_in_vietnamese(
        api, bot, engine):
    an = api.user(TOKEN, 8102, "An", language_code="en")
    out = await say(an, "xin chào")
    assert "Đây là bot" in out[0], out


# ------------------------------------------------------------------ 9: names


def test_telegram_names_in_vietnamese_order():
    assert person_name("Lan", "Hồ Thị", "en") == "Hồ Thị Lan"
    assert person_name("Lan", "Hồ Thị", "vi") == "Hồ Thị Lan"
    assert person_name("Hồ Thị", "Lan", "vi") == "Hồ Thị Lan"  # already family name first
    assert person_name("Hồ Thị Lan", None, "vi") == "Hồ Thị Lan"
    assert person_name("Minh", "Nguyen Van", "en") == "Nguyen Van Minh"
    assert person_name("John", "Smith", "en") == "John Smith"
    assert person_name("  Lan ", " Hồ  Thị ", None) == "Hồ Thị Lan"


async def test_names_are_shown_family_name_first(api, bot, engine):
    lan = api.user(TOKEN, 9101, "Lan", last_name="Hồ Thị", language_code="vi")
    out = await say(lan, f"/start {invite(engine, 'thon-xuan-bac')}")
    assert "Xin chào Hồ Thị Lan" in out[0], out
    api.user(TOKEN, 9101).user  # noqa: B018 - the same person
    with Session(engine) as s:
        assert s.exec(select(Person.name).where(Person.telegram_id == 9101)).one() == \
            "Hồ Thị Lan"
    hoa = api.user(TOKEN, 9102, "Hoa", last_name="Nguyễn Thị", language_code="en")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    out = await say(lan, "/baocao")
    await say(hoa, "/nhac")
    await api.wait_until(lambda: any("Nguyễn Thị Hoa" in (m.content or "")
                                     for m in lan.messages()), timeout=10)
    assert not any("Hoa Nguyễn Thị" in (m.content or "") for m in lan.messages())


# ------------------------------------------------------------------ 4: shared populations


@pytest.fixture
async def bot_001(api, db_url, engine, clock):
    setup_commune(engine, "communes/001_nam_dong.yaml")
    clock.now = datetime(2025, 11, 2, 2, 0, tzinfo=UTC)  # plan 001's round is 2025's
    proc = await BotProcess(api, db_url, clock).start()
    yield proc
    await proc.stop()


async def test_a_population_is_asked_once_and_every_indicator_counting_it_takes_it(
        api, bot_001, engine):
    """Plan 001: 6.1 counts the children in special circumstances of the hamlet, 6.2 takes
    them as its total. Once answered, 6.2 offers «Vẫn là 5», a different figure is never
    taken silently, and a change reaches 6.1 too."""
    lan = api.user(TOKEN, 4001, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-1')}")
    out = await say(lan, "/baocao")
    while not any("Chỉ tiêu 6.1" in o for o in out):  # the hamlet's items before 6.1
        out = await tap(lan, "Chưa có số liệu")
    await say(lan, "300")
    out = await say(lan, "5")  # 6.1: 5 of 300 children are in special circumstances
    assert any("Chỉ tiêu 6.2" in o for o in out), out
    assert "Vẫn là 5" in lan.messages()[-1].button_texts
    out = await say(lan, "6")  # another figure for the same children: asked, not taken
    assert any("Câu hỏi này bạn vừa trả lời là 5" in o for o in out), out
    out = await tap(lan, "Nhập lại")
    out = await tap(lan, "Vẫn là 5")
    out = await say(lan, "4")
    assert (saved(engine, "thon-1", "6.2").numerator, saved(engine, "thon-1", "6.2")
            .denominator) == (4, 5)
    # a recount: 6 children in special circumstances, confirmed; 6.1 takes it
    fix = next(d for m in lan.messages() for d in m.button_data if d.endswith(":fix:6.2:"))
    await tap(lan, fix)
    await say(lan, "6")
    out = await tap(lan, "Đúng")
    await say(lan, "4")
    six_one = saved(engine, "thon-1", "6.1")
    assert (six_one.numerator, six_one.denominator) == (6, 300)
    assert any("cũng được dùng cho chỉ tiêu 6.1" in (m.content or "")
               for m in lan.messages()), [m.content for m in lan.messages()[-3:]]
