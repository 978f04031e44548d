"""`ctvbot demo --channel zalo`: the reporting year on Zalo, played through the real bot on
this machine against the local Zalo Bot API (sandbox.zaloapi), without a Zalo account.

A fresh SQLite database, the bundled seed 002 commune, an officer and two collaborators who
join by typing their invitation codes, answer the choices by number or by words, one who
never reports gets a reminder, then /tiendo and /tonghop in text. The conversations are
printed as a transcript and written to a folder.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from bot.app import build_zalo
from bot.reminders import Reminders
from bot.service import Env
from bot.settings import Settings
from sandbox.demo import COMMUNE_FILE, DemoClock, Transcript
from sandbox.zaloapi import LocalZaloApi, ZaloUser
from storage import repo
from storage.communes import apply_commune, load_commune
from storage.db import make_engine, upgrade
from storage.kinds import Role

TOKEN = "7000000000000000001:DEMO-zalo-local-only"


class ZaloDemo:
    """The local Zalo server, the bot polling it, and the people."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.transcript = Transcript(echo)
        self.clock = DemoClock(datetime(2026, 11, 2, 1, 30, tzinfo=UTC), Settings().tz)
        self.api = LocalZaloApi()
        self.tmp = tempfile.TemporaryDirectory(prefix="ctvbot-demo-zalo-")
        self.handled: set[str] = set()
        self.engine = make_engine(f"sqlite:///{Path(self.tmp.name) / 'demo.db'}")
        self.bot = None
        self.reminders: Reminders | None = None
        self.messages = 0

    async def start(self) -> None:
        upgrade(self.engine)
        with Session(self.engine) as session:
            apply_commune(load_commune(COMMUNE_FILE), session=session)
            session.commit()
        await self.api.start()
        self.api.add_bot(TOKEN)
        env = Env(engine=self.engine, tz=self.clock.tz, bot_username="", now=self.clock)
        self.bot = build_zalo(env, token=TOKEN, api_url=self.api.url, replies_per_second=0,
                              handled=self.handled.add)
        self.reminders = Reminders(self.engine, self.bot.messenger, tz=self.clock.tz,
                                   now=self.clock, channel="zalo", messages_per_second=100)
        self.bot.shell.started(env, self.reminders)
        self.bot.start(timeout=1)

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
        if self.reminders is not None:
            await self.reminders.stop()
        await self.api.stop()
        self.engine.dispose()
        self.tmp.cleanup()

    def invite(self, unit: str, role: Role | None = None) -> str:
        with Session(self.engine) as session:
            _, code = repo.create_invitation(repo.find_unit(unit, session=session), role=role,
                                             session=session)
            session.commit()
        return code

    async def say(self, user: ZaloUser, text: str) -> list[str]:
        """A person writes; the transcript shows it and the bot's answers."""
        seen = len(user.texts())
        self.messages += 1
        self.transcript.add(f"{user.name}: {text}")
        key = await user.send(text)
        await self.api.wait_until(lambda: key in self.handled, timeout=30, what=text)
        return self._show(user, seen)

    def _show(self, user: ZaloUser, seen: int) -> list[str]:
        out = user.texts()[seen:]
        for t in out:
            self.transcript.add("  bot › " + t.replace("\n", "\n        "))
        return out

    def section(self, title: str) -> None:
        self.transcript.add("")
        self.transcript.add(f"══ {title} — {self.clock.local()} ══")

    async def play(self) -> None:
        self.section("Cán bộ VHXH tham gia trên Zalo")
        hoa = self.api.user(TOKEN, "9a01c0ffee", "Hoa")
        await self.say(hoa, self.invite("xuan-truong", Role.officer))
        self.section("Thôn Xuân Trung báo cáo trên Zalo")
        an = self.api.user(TOKEN, "9a02c0ffee", "An")
        await self.say(an, self.invite("thon-xuan-trung"))
        await self.say(an, "/baocao")
        for text in ["5oo", "500", "10", "van la 10", "9", "420", "2", "Vẫn là 500", "1",
                     "500", "0", "0", "3", "3"]:
            out = await self.say(an, text)
        review = out[-1]
        number = next(part.split(" – ")[0] for line in review.splitlines()
                      for part in line.split(" · ") if "Gửi báo cáo" in part)
        await self.say(an, number)
        self.section("Ngày 03/11, 9 giờ: nhắc những thôn chưa báo cáo")
        binh = self.api.user(TOKEN, "9a03c0ffee", "Bình")
        await self.say(binh, self.invite("thon-hanh-thien"))
        assert self.reminders is not None
        self.clock.now = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
        seen = len(binh.texts())
        report = await self.reminders.run_due()
        self.transcript.add(f"(đã gửi {report.total.sent} tin nhắc trên Zalo)")
        self._show(binh, seen)
        self.section("Cán bộ xem tiến độ và tổng hợp")
        await self.say(hoa, "/tiendo")
        await self.say(hoa, "/tonghop")


async def run_demo(out_dir: Path | None = None, echo: Callable[[str], None] = print) -> Path:
    """Play the Zalo demo; return the folder with its transcript."""
    out = out_dir or Path.cwd() / f"ctvbot-demo-zalo-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    demo = ZaloDemo(echo)
    started = time.monotonic()
    await demo.start()
    try:
        await demo.play()
    finally:
        await demo.stop()
    (out / "transcript.txt").write_text("\n".join(demo.transcript.lines) + "\n",
                                        encoding="utf-8")
    echo(f"✔ {time.monotonic() - started:.1f} s — transcript in {out}")
    return out


def main(out_dir: Path | None) -> Path:
    """Entry point for the CLI."""
    return asyncio.run(run_demo(out_dir))
