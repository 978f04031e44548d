"""`ctvbot run` as a real process: long polling, one log line per update, no token in logs,
clean stop on Ctrl-C, and a conversation carried from one process to another."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

from sandbox.botapi import LocalBotApi
from tests.harness import TOKEN, invite, say, setup_commune


async def start_process(api: LocalBotApi, db_url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "CTVBOT_TOKEN": TOKEN, "CTVBOT_API_URL": f"{api.url}/bot",
           "CTVBOT_DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    await api.wait_until(lambda: api.stats(TOKEN).calls["getUpdates"] > 0, timeout=30,
                         what="the bot process to poll")
    return proc


async def bot_said(api: LocalBotApi, user, text: str) -> None:
    """Wait for the bot's answer containing ``text``: the process runs on the real clock, so
    a reminder due today may come first (the harness cannot see inside another process)."""
    await api.wait_until(lambda: any(text in (m.content or "") for m in user.messages()),
                         timeout=30, what=f"the bot to say {text!r}")


async def interrupt(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_two_processes_continue_one_conversation(api, db_url, engine):
    setup_commune(engine)
    code = invite(engine, "thon-hanh-thien")
    lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
    first = await start_process(api, db_url)
    try:
        await say(lan, f"/start {code}", expect="Xin chào")
        await say(lan, "/baocao", expect="(1/7)")
        await say(lan, "450")
        await bot_said(api, lan, "Đã hiểu: 450")
    finally:
        log1 = await interrupt(first)
    second = await start_process(api, db_url)
    try:
        await say(lan, "12")
        await bot_said(api, lan, "12/450")
    finally:
        log2 = await interrupt(second)
    for log in (log1, log2):
        assert TOKEN not in log and TOKEN.split(":")[1] not in log
        assert "Lan" not in log and code not in log  # no personal data
        # nor the figure (a log time such as 04:07:08,450 is not one)
        assert not re.search(r"(?<![,\d])450(?!\d)", log), log
    handled = [line for line in log1.splitlines() if " update " in line and " in " in line]
    assert len(handled) == 3, log1
    assert "stopped" in log2


async def test_a_refused_token_is_reported_without_the_token(api, db_url, engine):
    """A revoked or mistyped token: a clear message and exit 1, the token in no line."""
    wrong = "999999:REVOKED-token-must-not-be-printed"
    env = {**os.environ, "CTVBOT_TOKEN": wrong, "CTVBOT_API_URL": f"{api.url}/bot",
           "CTVBOT_DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = out.decode()
    assert proc.returncode == 1, text
    assert "Telegram từ chối mã bot (CTVBOT_TOKEN)" in text
    assert wrong not in text and wrong.split(":")[1] not in text, text
