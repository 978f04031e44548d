"""Where and what the bot listens to: private chats only, new text messages only.

Figures are sensitive even as counts, so a command typed in a group (an officer's /tonghop in
the commune's group chat) must not post them there; an edited message must not be applied as
a new answer; a photo or a voice note gets told what the bot reads.
"""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from sqlmodel import Session

from storage.kinds import Role
from storage.models import Round
from tests.harness import (
    TOKEN,
    BotProcess,
    Clock,
    handled,
    invite,
    new_messages,
    newest,
    say,
    setup_commune,
)
from tests.test_e2e_report import values

GROUP = -100123


def _png() -> bytes:
    """A 1×1 white PNG (a photo of a paper report, as far as the bot can tell)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


@pytest.fixture
async def bot(api, db_url, engine):
    setup_commune(engine)
    proc = await BotProcess(api, db_url, Clock()).start()
    yield proc
    await proc.stop()


async def _group_command(api, user: dict, text: str) -> list[str]:
    """``user`` sends ``text`` (a command) in a group; the bot's answers in the group."""
    chat = api.group(TOKEN, GROUP, "Cán bộ xã Xuân Trường")
    seen = len(api.messages(TOKEN, GROUP))
    word = text.split()[0]
    update_id = await api.push_update(TOKEN, {"message": {
        "message_id": 1000 + seen, "date": int(time.time()), "chat": chat, "from": user,
        "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(word)}]}})
    # every answer (figures, files) is sent inside the handler: done once it was handled
    await api.wait_until(lambda: update_id in handled(api), timeout=30,
                         what=f"{text!r} in the group to be handled")
    assert len(api.messages(TOKEN, GROUP)) > seen
    return [m.content or "" for m in api.messages(TOKEN, GROUP)[seen:]]


async def test_summary_in_a_group_is_refused_and_shows_no_figure(api, bot, engine):
    code = invite(engine, "xuan-truong", Role.officer, "Nguyễn Thị Hoa")
    hoa = api.user(TOKEN, 3001, "Hoa", language_code="vi")
    await say(hoa, f"/start {code}")
    out = await _group_command(api, {"id": 3001, "is_bot": False, "first_name": "Hoa"},
                               "/tonghop")
    assert len(out) == 1 and "tin nhắn riêng" in out[0], out
    assert "%" not in out[0]
    # nothing was uploaded into the group either
    assert all(not m.document and not m.photo for m in api.messages(TOKEN, GROUP))
    # in the private chat the same officer still gets the report
    out = await say(hoa, "/tonghop")
    assert any("2026" in o for o in out)


async def test_an_edited_answer_is_not_applied(api, bot, engine):
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    await say(lan, "/baocao")
    out = await say(lan, "450")
    assert "450" in out[0]
    own = max(m.message_id for m in lan.history() if not m.from_bot)  # the "450"
    seen = newest(lan)
    await lan.edit(own, "460")
    new = await new_messages(lan, seen)
    assert len(new) == 1 and "không đọc lại tin nhắn đã sửa" in new[0], new
    # the flow still waits for the numerator of 8.1, and nothing was stored for it
    out = await say(lan, "12")
    assert any("12/450" in o for o in out), out
    assert values(engine, "thon-hanh-thien")["8.1"].denominator == 450


async def test_a_photo_gets_told_what_the_bot_reads(api, bot, engine):
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    await say(lan, "/baocao")
    seen = newest(lan)
    await lan.send_photo(_png(), caption="bao cao giay")
    new = await new_messages(lan, seen)
    assert len(new) == 1 and "không đọc ảnh" in new[0], new
    assert values(engine, "thon-hanh-thien") == {}


async def test_buttons_cost_no_failed_api_call(api, bot, engine):
    """Pressing a question's button takes its keyboard away once: no 400 from Telegram."""
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    await say(lan, "/baocao")
    await say(lan, "450")
    api.stats(TOKEN).reset()
    from tests.harness import tap
    await tap(lan, "Chưa có số liệu")  # skip 8.1
    await tap(lan, "Chưa có số liệu")  # skip 8.2
    await say(lan, "380")
    await tap(lan, "✏️ Sửa tổng số 380")
    stats = api.stats(TOKEN)
    assert stats.calls["editMessageReplyMarkup"] == 3  # the three pressed keyboards, once each
    assert sum(stats.errors.values()) == 0, stats.errors


async def test_a_typed_answer_is_one_message_and_older_buttons_stay_harmless(api, bot, engine):
    """A typed answer costs one Bot API call, the next question with the answer said back;
    the earlier question keeps its buttons, and pressing one of them says it is old, asks
    the current question again and changes nothing."""
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    await say(lan, "/baocao")
    await say(lan, "450")  # 8.1's total: now its count is asked
    asked = lan.messages()[-1]
    assert "Chưa có số liệu" in asked.button_texts
    api.stats(TOKEN).reset()
    await say(lan, "12")
    calls = {k: v for k, v in api.stats(TOKEN).calls.items() if k != "getUpdates" and v}
    assert calls == {"sendMessage": 1}, calls
    reply = lan.messages()[-1]
    assert "12/450" in reply.text and "✏️ Sửa" in " ".join(reply.button_texts)
    old = next(m for m in lan.messages() if m.message_id == asked.message_id)
    assert old.button_texts == asked.button_texts  # untouched
    def stored():
        return {c: (v.numerator, v.denominator, v.version)
                for c, v in values(engine, "thon-hanh-thien").items()}
    before = stored()
    assert before == {"8.1": (12, 450, 1)}
    seen = newest(lan)
    update_id = await lan.press_text("Chưa có số liệu", message_id=asked.message_id)
    new = await new_messages(lan, seen, update_id)
    assert "câu hỏi cũ" in new[0] and reply.text.splitlines()[-1] in new[-1], new
    assert stored() == before


async def test_an_empty_report_cannot_be_sent_and_a_sent_report_still_missing_is_chased(
        api, bot, engine):
    from tests.harness import tap
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    out = await say(lan, "/baocao")
    for _ in range(7):
        out = await tap(lan, "Chưa có số liệu")
    assert any("chưa gửi được báo cáo" in o for o in out), out
    assert "📨 Gửi báo cáo" not in lan.messages()[-1].button_texts
    from storage.reminders import round_progress
    from tests.test_reminders import the_round
    with Session(engine) as s:
        rnd = s.get(Round, the_round(engine).id)
        hanh_thien = next(p for p in round_progress(rnd, session=s)
                          if p.unit.code.endswith("thon-hanh-thien"))
        assert not hanh_thien.submitted and hanh_thien.pending


async def test_a_reply_that_meets_a_429_is_sent_after_retry_after(api, bot, engine):
    """Telegram says "too many requests": the answer is kept and the reply still arrives."""
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    await say(lan, f"/start {code}")
    await say(lan, "/baocao")
    api.inject("sendMessage", 429, retry_after=1, times=2, chat_id=lan.chat_id)
    out = await say(lan, "450")
    assert any("Đã hiểu: 450 trẻ" in o for o in out), out
    assert not any("thử lại" in o for o in out)
    assert api.stats(TOKEN).too_many_requests == 2
