"""Menus per role, errors that tell the truth, a bot that stays up, odd input refused: people
talk to the real bot through the local Bot API server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys

import pytest
from sqlmodel import Session

from bot.i18n import text_of
from sandbox.botapi import LocalBotApi
from storage import repo
from storage.kinds import Role
from tests.harness import (
    TOKEN,
    BotProcess,
    invite,
    new_messages,
    newest,
    say,
    setup_commune,
    tap,
)
from tests.test_e2e_report import HAMLET_ANSWERS, values

NOT_SAVED = "chưa lưu được"
OFFICER_WORDS = {"moi", "tonghop", "tiendo", "nhac", "hanchot", "chot"}
EVERYONE_WORDS = {"baocao", "tinhtrang", "huy", "huongdan", "ngonngu", "web"}


@pytest.fixture
async def bot(api, db_url, engine, clock):
    setup_commune(engine)
    proc = await BotProcess(api, db_url, clock).start()
    yield proc
    await proc.stop()


def words(user) -> set[str]:
    return {w for w, _ in user.visible_commands()}


def everything_said(user) -> str:
    return "\n".join(m.content or "" for m in user.messages())


async def answer_all(user) -> None:
    """A collaborator answers the whole hamlet report (not yet sent)."""
    await say(user, "/baocao")
    for _, text, fragment in HAMLET_ANSWERS:
        out = await say(user, text)
        assert any(fragment in o for o in out), (text, out)


# ------------------------------------------------------------------ 10. menus per role


async def test_each_person_sees_the_commands_of_their_role(api, bot, engine):
    stranger = api.user(TOKEN, 8101, "Khách", language_code="vi")
    await say(stranger, "/start")
    assert words(stranger) == EVERYONE_WORDS  # the default menu: only what everyone may use
    lan = api.user(TOKEN, 8102, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    assert words(lan) == EVERYONE_WORDS
    out = await say(lan, "/tonghop")
    assert "chỉ dành cho cán bộ" in out[0]  # typed anyway: refused, as before
    hoa = api.user(TOKEN, 8103, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', Role.officer)}")
    assert words(hoa) == EVERYONE_WORDS | OFFICER_WORDS
    assert words(lan) == EVERYONE_WORDS  # one officer's menu is not everyone's
    # a role change: the collaborator becomes an officer too
    await say(lan, f"/start {invite(engine, 'xuan-truong', Role.officer)}")
    assert words(lan) == EVERYONE_WORDS | OFFICER_WORDS
    # the officer's menu follows the language she chooses
    await say(hoa, "/ngonngu")
    await tap(hoa, "lang:en")
    menu = dict(hoa.visible_commands())
    assert set(menu) == {"report", "status", "cancel", "help", "language", "invite", "summary",
                         "progress", "remind", "deadline", "close", "web"}
    assert menu["summary"] == text_of("cmd.summary", "en")


async def test_officers_who_joined_earlier_get_their_menu_at_start(api, db_url, engine, clock):
    setup_commune(engine)
    hoa = api.user(TOKEN, 8111, "Hoa", language_code="vi")
    lan = api.user(TOKEN, 8112, "Lan", language_code="vi")
    codes = [(hoa, invite(engine, "xuan-truong", Role.officer)),
             (lan, invite(engine, "thon-hanh-thien"))]
    with Session(engine) as s:  # joined while an older version ran
        for person, code in codes:
            repo.redeem_invitation(code, telegram_id=person.user_id,
                                   name=person.user["first_name"], language="vi", session=s)
        s.commit()
    proc = await BotProcess(api, db_url, clock).start()
    try:
        assert words(hoa) == EVERYONE_WORDS | OFFICER_WORDS
        assert words(lan) == EVERYONE_WORDS
    finally:
        await proc.stop()


# ------------------------------------------------------------------ 12. a late press counts


async def test_a_press_answered_too_late_is_still_applied(api, db_url, engine, clock):
    setup_commune(engine)
    api.callback_query_timeout = 0.3  # Telegram refuses an answer this long after the press
    lan = api.user(TOKEN, 8201, "Lan", language_code="vi")
    first = await BotProcess(api, db_url, clock).start()
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await answer_all(lan)
    await first.stop()  # a backlog: the press waits while the bot is down
    seen = newest(lan)
    update_id = await lan.press_text("📨 Gửi báo cáo")
    await asyncio.sleep(0.5)
    second = await BotProcess(api, db_url, clock).start()
    try:
        out = await new_messages(lan, seen, update_id)
    finally:
        await second.stop()
    assert api.stats(TOKEN).errors[400] >= 1  # answerCallbackQuery was refused
    assert lan.callback_answers() == []
    assert any("Đã gửi báo cáo" in o for o in out), out
    assert not any(NOT_SAVED in o for o in out)
    assert all(v.state == "submitted" for v in values(engine, "thon-hanh-thien").values())


# ------------------------------------------------------------------ 13. errors tell the truth


async def test_a_saved_answer_is_never_said_to_be_unsaved(api, bot, engine):
    lan = api.user(TOKEN, 8301, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, "/baocao")
    await say(lan, "450")
    api.inject("sendMessage", 500, description="Internal Server Error", chat_id=lan.chat_id)
    out = await say(lan, "12")  # saved, but its reply is refused once
    assert (values(engine, "thon-hanh-thien")["8.1"].numerator,
            values(engine, "thon-hanh-thien")["8.1"].denominator) == (12, 450)
    assert not any(NOT_SAVED in o for o in out), out
    assert out == [text_of("err.saved_not_shown", "vi")]
    out = await say(lan, "/baocao")  # the conversation goes on where it was
    assert any("(2/7)" in o for o in out), out


async def test_files_that_cannot_be_sent_are_said_so(api, bot, engine):
    hoa = api.user(TOKEN, 8302, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', Role.officer)}")
    api.inject("sendDocument", 500, description="Internal Server Error", chat_id=hoa.chat_id)
    out = await say(hoa, "/tonghop")
    assert "Báo cáo năm 2026 – Xã Xuân Trường" in out[0]
    assert text_of("err.files_not_sent", "vi") in out
    assert not any(NOT_SAVED in o for o in out), out


# ------------------------------------------------------------------ 14. start-up


async def test_menus_refused_at_start_are_set_later_and_the_bot_answers(api, db_url, engine,
                                                                        clock):
    setup_commune(engine)
    api.inject("setMyCommands", 500, description="Internal Server Error", times=2)
    proc = await BotProcess(api, db_url, clock).start()
    try:
        lan = api.user(TOKEN, 8401, "Lan", language_code="vi")
        out = await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
        assert "Xin chào Lan" in out[0]
        await api.wait_until(lambda: bool(api.commands(TOKEN)), 20, "the menus")
        assert set(dict(api.commands(TOKEN)[""])) == EVERYONE_WORDS
    finally:
        await proc.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_telegram_unreachable_at_start_is_waited_for(db_url, engine):
    setup_commune(engine)
    port = _free_port()
    env = {**os.environ, "CTVBOT_TOKEN": TOKEN, "CTVBOT_API_URL": f"http://127.0.0.1:{port}/bot",
           "CTVBOT_DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    api = LocalBotApi()
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        while sum("Telegram cannot be reached" in line for line in lines) < 2:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            assert line, f"the bot exited: {''.join(lines)}"  # nothing listens: it waits
            lines.append(line)
        assert proc.returncode is None
        await api.start(port=port)
        api.add_bot(TOKEN, username="ctvbot_test_bot")
        await api.wait_until(lambda: api.stats(TOKEN).calls["getUpdates"] > 0, 90, "polling")
        lan = api.user(TOKEN, 8402, "Lan", language_code="vi")
        await lan.send(f"/start {invite(engine, 'thon-hanh-thien')}")
        replies = await lan.wait_reply(timeout=20)
        assert "Xin chào Lan" in (replies[0].content or "")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        err = "".join(lines) + (await proc.stderr.read()).decode()
        await proc.wait()
        await api.stop()
    assert "Telegram cannot be reached" in err
    assert "Traceback" not in err and TOKEN not in err
    assert all(line[:4].isdigit() for line in err.splitlines()), err  # one line per record


# ------------------------------------------------------------------ 15. /tonghop at once


async def test_summary_text_comes_first_and_the_files_show_uploading(api, bot, engine):
    hoa = api.user(TOKEN, 8501, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', Role.officer)}")
    before = newest(hoa)
    await say(hoa, "/tonghop")
    sent = [m for m in hoa.messages() if m.message_id > before]
    text = next(m for m in sent if m.text and "Báo cáo năm 2026" in m.text)
    first_file = next(m for m in sent if m.document or m.photo)
    assert text.message_id < first_file.message_id
    timeline = [(a, latest) for a, latest in hoa.chat_action_timeline() if latest >= before]
    assert timeline[0] == ("typing", before)  # at once, before anything is read
    uploads = [latest for a, latest in timeline if a == "upload_document"]
    assert uploads and uploads[0] >= text.message_id  # the text is out while files are built
    assert uploads[0] < first_file.message_id


# ------------------------------------------------------------------ 16. odd input


@pytest.mark.parametrize("data", [
    "inv:²", "inv:٣٣", "inv:99999999999999999999", "u:99999999999999999999:report",
    "r99999999999999999999:go::", "r1:use:8.1:²", "off:close:99999999999999999999",
    "off:close:²", "lang:xx",
])
async def test_odd_button_data_is_refused_like_an_unknown_button(api, bot, engine, caplog,
                                                                 data):
    hoa = api.user(TOKEN, 8601, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', Role.officer)}")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        seen = newest(hoa)
        update_id = await hoa.press_data(data)
        out = await new_messages(hoa, seen, update_id)
    assert out, data
    assert not any(NOT_SAVED in o for o in out), out
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("command", ["/tonghop ²⁰²⁶", "/tonghop ٢٠٢٦", "/hanchot 2²/11",
                                     "/hanchot 20/11/2026 05/12/2026 ²,1", "/start ²"])
async def test_odd_digits_in_commands_are_refused_with_a_message(api, bot, engine, caplog,
                                                                 command):
    hoa = api.user(TOKEN, 8602, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', Role.officer)}")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        out = await say(hoa, command)
    assert out and not any(NOT_SAVED in o for o in out), out
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
