"""End-to-end harness for Zalo: the real Zalo bot (bot.zalo) long-polling the local Zalo Bot
API (sandbox.zaloapi) over HTTP, beside the Telegram one in tests/harness.py."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.app import build_zalo
from bot.reminders import Reminders
from bot.service import Env
from sandbox.zaloapi import LocalZaloApi, ZaloUser
from storage.db import make_engine
from tests.harness import TZ, Clock

ZALO_TOKEN = "1459232241454765289:zalo-TEST-token-never-logged"

_HANDLED: dict[int, set[str]] = {}  # per local server: the update keys handled by its bots


class ZaloProcess:
    """One bot process on Zalo: its own engine, shell, reminders and poller."""

    def __init__(self, api: LocalZaloApi, db_url: str, clock: Clock, *,
                 replies_per_second: float = 0.0) -> None:
        self.api, self.db_url, self.clock = api, db_url, clock
        self.replies_per_second = replies_per_second
        self.engine: Engine | None = None
        self.bot = None
        self.reminders: Reminders | None = None

    async def start(self) -> ZaloProcess:
        self.engine = make_engine(self.db_url)
        env = Env(engine=self.engine, tz=TZ, bot_username="", now=self.clock)
        done = _HANDLED.setdefault(id(self.api), set())
        self.bot = build_zalo(env, token=ZALO_TOKEN, api_url=self.api.url,
                              replies_per_second=self.replies_per_second, handled=done.add)
        self.reminders = Reminders(self.engine, self.bot.messenger, tz=TZ, now=self.clock,
                                   channel="zalo", messages_per_second=50)
        self.bot.shell.started(env, self.reminders)
        self.bot.start(timeout=1)
        return self

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None
        if self.reminders is not None:
            await self.reminders.stop()
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None


async def zsay(user: ZaloUser, text: str) -> list[str]:
    """The person writes a text on Zalo; the bot's new texts once the update was handled."""
    seen = len(user.texts())
    key = await user.send(text)
    done = _HANDLED.setdefault(id(user.api), set())
    await user.api.wait_until(lambda: key in done, timeout=30, what=f"{text!r} to be handled")
    return user.texts()[seen:]
