"""End-to-end harness: a real PTB Application polling the local Bot API over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from bot.app import build_application
from bot.service import Env
from sandbox.botapi import LocalBotApi, LocalUser
from storage import repo
from storage.communes import apply_commune, load_commune
from storage.db import make_engine
from storage.kinds import Role

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:TEST-TOKEN-never-logged"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Clock:
    """A controllable clock (aware UTC)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


def setup_commune(engine: Engine, file: str = "communes/002_xuan_truong.yaml") -> None:
    """Set up a bundled example commune."""
    with Session(engine) as session:
        apply_commune(load_commune(ROOT / file), session=session)
        session.commit()


def invite(engine: Engine, unit_code: str, role: Role | None = None,
           name: str | None = None) -> str:
    """A fresh invitation code for a unit."""
    with Session(engine) as session:
        unit = repo.find_unit(unit_code, session=session)
        _, code = repo.create_invitation(unit, role=role, person_name=name, session=session)
        session.commit()
    return code


# Per local API server: the update ids its in-process bots have finished handling, and how
# many such bots are polling it now (say/tap wait for their update to be handled by one).
_PROCESSED: WeakKeyDictionary[LocalBotApi, set[int]] = WeakKeyDictionary()
_SERVING: WeakKeyDictionary[LocalBotApi, int] = WeakKeyDictionary()


class _Recording(BaseUpdateProcessor):
    """Handles updates like the processor it wraps, then notes their ids as processed."""

    def __init__(self, inner: BaseUpdateProcessor, done: set[int]) -> None:
        super().__init__(inner.max_concurrent_updates)
        self.inner, self.done = inner, done

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self.inner.do_process_update(update, coroutine)
        finally:
            if isinstance(update, Update):
                self.done.add(update.update_id)

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


class BotProcess:
    """One bot process: its own engine and PTB Application, polling the local API."""

    def __init__(self, api: LocalBotApi, db_url: str, clock: Clock,
                 concurrent_updates: int = 1):
        self.api, self.db_url, self.clock = api, db_url, clock
        self.concurrent_updates = concurrent_updates
        self.processor: BaseUpdateProcessor | None = None  # the application's own
        self.engine: Engine | None = None
        self.app: Application | None = None

    async def start(self) -> BotProcess:
        self.engine = make_engine(self.db_url)
        env = Env(engine=self.engine, tz=TZ, bot_username="", now=self.clock)
        self.app = build_application(env, token=TOKEN, base_url=f"{self.api.url}/bot",
                                     base_file_url=f"{self.api.url}/file/bot",
                                     concurrent_updates=self.concurrent_updates)
        done = _PROCESSED.setdefault(self.api, set())
        self.processor = self.app.update_processor
        self.app._update_processor = _Recording(self.processor, done)
        await self.app.initialize()
        await self.app.post_init(self.app)
        await self.app.start()
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)
        _SERVING[self.api] = _SERVING.get(self.api, 0) + 1
        return self

    async def stop(self) -> None:
        if self.app is not None:
            _SERVING[self.api] -= 1
            await self.app.updater.stop()
            await self.app.stop()
            await self.app.shutdown()
            self.app = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None


def handled(api: LocalBotApi) -> set[int]:
    """The update ids the in-process bots polling ``api`` have finished handling."""
    return _PROCESSED.setdefault(api, set())


def newest(user: LocalUser) -> int:
    return max((m.message_id for m in user.messages()), default=0)


async def new_messages(user: LocalUser, seen: int, update_id: int | None = None,
                       expect: str | None = None) -> list[str]:
    """The texts of the bot's messages to ``user`` newer than ``seen``, once ready.

    Ready means the update was handled to its end by an in-process bot (its replies are sent
    inside the handler); with bots in other processes only (the harness cannot see inside
    them), a new message holding ``expect`` came (the reply this step must produce), or,
    without ``expect``, the bot sent something new and went quiet.
    """
    api = user.api

    def texts() -> list[str]:
        return [m.content or "" for m in user.messages() if m.message_id > seen and m.content]

    if update_id is not None and _SERVING.get(api):
        done = _PROCESSED.setdefault(api, set())
        await api.wait_until(lambda: update_id in done, timeout=30,
                             what=f"update {update_id} of {user.user_id} to be handled")
    elif expect is not None:
        await api.wait_until(lambda: any(expect in t for t in texts()), timeout=30,
                             what=f"the bot to say {expect!r} to {user.user_id}")
    else:
        deadline = time.monotonic() + 30
        while newest(user) <= seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot sent nothing new to {user.user_id}")
            await asyncio.sleep(0.01)
        await user.wait_idle(timeout=10)
    return texts()


async def say(user: LocalUser, text: str, expect: str | None = None) -> list[str]:
    """The person sends a text; returns the texts of the bot's new messages in answer
    (``expect``: a fragment of the answer, to wait for when the bot runs in another
    process)."""
    seen = newest(user)
    update_id = await user.send(text)
    return await new_messages(user, seen, update_id, expect)


async def tap(user: LocalUser, data_or_text: str) -> list[str]:
    """The person presses a button by its callback data or its label."""
    last = next((m for m in reversed(user.messages()) if data_or_text in m.button_data
                 or data_or_text in m.button_texts), None)
    assert last is not None, "no message with buttons"
    seen = newest(user)
    if data_or_text in last.button_data:
        update_id = await user.press(data_or_text, message_id=last.message_id)
    else:
        update_id = await user.press_text(data_or_text, message_id=last.message_id)
    return await new_messages(user, seen, update_id)
