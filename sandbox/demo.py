"""`ctvbot demo`: a commune's reporting year played through the real bot on this machine.

A local Bot API server, a fresh SQLite database, the bundled seed 002 commune, and people who
join with their invitations and report — with typing mistakes, one who stops halfway and
resumes, one who never reports — then reminders on an accelerated clock and the officer's
/summary. The conversations are printed as a transcript and the files written to a folder.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from bot.app import build_application
from bot.i18n import text_of
from bot.service import Env
from bot.settings import Settings
from sandbox.botapi import BotMessage, LocalBotApi, LocalUser
from storage import repo
from storage.communes import apply_commune, load_commune
from storage.db import make_engine, upgrade
from storage.kinds import Role

ROOT = Path(__file__).resolve().parents[1]
COMMUNE_FILE = ROOT / "communes" / "002_xuan_truong.yaml"
TOKEN = "700000001:DEMO-local-only"


@dataclass
class DemoClock:
    """The demo's accelerated clock (aware UTC) and the time zone it is shown in."""

    now: datetime
    tz: tzinfo

    def __call__(self) -> datetime:
        return self.now

    def local(self) -> str:
        """The current local date and time, for the transcript."""
        return self.now.astimezone(self.tz).strftime("%d/%m/%Y %H:%M")


@dataclass
class Transcript:
    """Prints the conversations as they happen and keeps them for the docs."""

    echo: Callable[[str], None]
    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)
        self.echo(text)

    def person(self, who: str, text: str) -> None:
        self.add(f"👤 {who}: {text}")

    def bot(self, messages: list[BotMessage]) -> None:
        for m in messages:
            body = (m.content or "").replace("\n", "\n   ")
            if m.document is not None:
                body = f"📎 {m.document.filename} — {body}".rstrip(" —")
            elif m.photo is not None:
                body = f"🖼 {body or 'chart'}"
            self.add(f"🤖 {body}")
            for row in m.buttons:
                self.add("   " + "  ".join(f"[{label}]" for label, _ in row))


class Person:
    """A demo participant: a name, a unit and a chat with the bot."""

    def __init__(self, demo: Demo, user: LocalUser, name: str, unit_label: str):
        self.demo, self.user, self.name, self.unit_label = demo, user, name, unit_label

    @property
    def who(self) -> str:
        return f"{self.name} ({self.unit_label})"

    def _newest(self) -> int:
        return max((m.message_id for m in self.user.messages()), default=0)

    async def _after(self, seen: int, files: int = 0) -> list[BotMessage]:
        """Wait for the bot's new messages (id above ``seen``), ``files`` of them files (the
        bot builds those after its text), and for it to go quiet."""
        deadline = time.monotonic() + 15 + 45 * bool(files)

        def files_in() -> int:
            return sum(1 for m in self.user.messages() if m.message_id > seen
                       and (m.document or m.photo_file))

        while self._newest() <= seen or files_in() < files:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not answer {self.name}")
            await asyncio.sleep(0.01)
        await self.user.wait_idle(timeout=15)
        self.seen = self._newest()
        return [m for m in self.user.messages() if m.message_id > seen]

    async def incoming(self) -> list[BotMessage]:
        """What the bot sent on its own (reminders, digests) since the person last looked."""
        await self.user.wait_idle(timeout=15)
        seen = getattr(self, "seen", 0)
        got = [m for m in self.user.messages() if m.message_id > seen]
        self.seen = self._newest()
        self.demo.transcript.bot(got)
        return got

    async def user_say(self, text: str, files: int = 0) -> list[BotMessage]:
        """Send a text; return the bot's new messages (nothing printed)."""
        seen = self._newest()
        await self.user.send(text)
        return await self._after(seen, files)

    async def user_press(self, label: str, message_id: int) -> list[BotMessage]:
        """Press a button; return the bot's new messages (nothing printed)."""
        seen = self._newest()
        await self.user.press_text(label, message_id=message_id)
        return await self._after(seen)

    async def say(self, text: str, files: int = 0) -> list[BotMessage]:
        """Send a text and print the bot's new messages (with ``files`` files among them)."""
        self.demo.transcript.person(self.who, text)
        got = await self.user_say(text, files)
        self.demo.transcript.bot(got)
        return got

    async def tap(self, label: str) -> list[BotMessage]:
        """Press the button with this label on the latest message that has it."""
        deadline = time.monotonic() + 30  # the message that has it may still be on its way
        while (last := next((m for m in reversed(self.user.messages())
                             if label in m.button_texts), None)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no button {label!r} for {self.name}")
            await asyncio.sleep(0.01)
        self.demo.transcript.person(self.who, f"[{label}]")
        got = await self.user_press(label, last.message_id)
        self.demo.transcript.bot(got)
        return got


class Demo:
    """One run of the demo."""

    def __init__(self, lang: str, out_dir: Path, echo: Callable[[str], None]):
        self.lang, self.out_dir = lang, out_dir
        self.transcript = Transcript(echo)
        self.files: list[Path] = []
        self.progress = echo
        self.clock = DemoClock(datetime(2026, 11, 2, 1, 30, tzinfo=UTC),  # 08:30 local
                               Settings().tz)
        self.api = LocalBotApi()
        self.engine: Engine | None = None
        self.app = None
        self.tmp = tempfile.TemporaryDirectory(prefix="ctvbot-demo-")
        self.web_url = "http://127.0.0.1:8080"
        self.env: Env | None = None

    def form_link(self, telegram_id: int = 9103) -> str:
        """A one-time sign-in link to the form of the hamlet that never reported (Tâm)."""
        from storage import web as web_store

        assert self.engine is not None
        with Session(self.engine) as session:
            person = repo.person_by_telegram(telegram_id, session=session)
            assert person is not None and person.id is not None
            token = web_store.create_link(person.id, session=session, now=self.clock())
            session.commit()
        return f"{self.web_url}/login/{token}"

    async def serve_web(self, sock: socket.socket) -> None:
        """Serve the web pages until Ctrl-C."""
        import signal

        from bot.web.app import WebConfig, build_web_app
        from bot.web.serve import web_server

        assert self.env is not None
        app = build_web_app(self.env, WebConfig(public_url=self.web_url, bot_token=TOKEN))
        server = web_server(app)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await stop.wait()
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            server.should_exit = True
            await task

    # ---------------------------------------------------------------- set-up

    async def start(self) -> None:
        self.engine = make_engine(f"sqlite:///{Path(self.tmp.name) / 'demo.db'}")
        upgrade(self.engine)
        with Session(self.engine) as session:
            apply_commune(load_commune(COMMUNE_FILE), session=session)
            session.commit()
        await self.api.start()
        self.api.add_bot(TOKEN, username="ctvbot_demo_bot", first_name="ctvbot")
        env = Env(engine=self.engine, tz=self.clock.tz, bot_username="", now=self.clock,
                  web_url=self.web_url)
        self.env = env
        self.app = build_application(env, token=TOKEN, base_url=f"{self.api.url}/bot",
                                     base_file_url=f"{self.api.url}/file/bot")
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.start()
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.updater.stop()
            await self.app.stop()
            await self.app.shutdown()
        await self.api.stop()
        if self.engine is not None:
            self.engine.dispose()
        self.tmp.cleanup()

    def invite(self, unit: str, role: Role | None = None, name: str | None = None) -> str:
        assert self.engine is not None
        with Session(self.engine) as session:
            u = repo.find_unit(unit, session=session)
            _, code = repo.create_invitation(u, role=role, person_name=name, session=session)
            session.commit()
        return code

    def person(self, user_id: int, name: str, unit_label: str) -> Person:
        user = self.api.user(TOKEN, user_id, name, language_code=self.lang)
        return Person(self, user, name, unit_label)

    def same(self, n: int) -> str:
        """The label of the "same figure as before" button."""
        from bot.i18n import render
        from flows.effects import Count, msg

        return render(msg("btn.use_same", value=Count(n)), self.lang)

    def section(self, title: str) -> None:
        self.transcript.add("")
        self.transcript.add(f"══ {title} — {self.clock.local()} ══")

    # ---------------------------------------------------------------- the year

    async def play(self) -> None:
        vi = self.lang == "vi"
        self.section("Cán bộ VHXH tham gia" if vi else "The officer joins")
        hoa = self.person(9001, "Hoa", "UBND xã Xuân Trường" if vi else "Xuan Truong commune")
        await hoa.say(f"/start {self.invite('xuan-truong', Role.officer, 'Nguyễn Thị Hoa')}")

        self.section("Thôn Hành Thiện báo cáo (gõ nhầm, bot bắt lỗi)" if vi else
                     "Hành Thiện hamlet reports (typing mistakes caught)")
        lan = self.person(9101, "Lan", "Thôn Hành Thiện")
        await lan.say(f"/start {self.invite('thon-hanh-thien')}")
        await lan.say("/baocao" if vi else "/report")
        for text in ["45o", "450", "12,5", "12", "12", "13", "11", "380", "3",
                     "1.450", "450", "2", "450", "0", "1", "4", "3"]:
            if text == "1.450":
                continue  # kept out: shown in the unusual-value scene below
            await lan.say(text)
        await lan.tap("📨 Gửi báo cáo" if vi else "📨 Send the report")

        self.section("Thôn Xuân Bắc dừng giữa chừng rồi làm tiếp" if vi else
                     "Xuân Bắc hamlet stops halfway and resumes")
        binh = self.person(9102, "Bình", "Thôn Xuân Bắc")
        await binh.say(f"/start {self.invite('thon-xuan-bac')}")
        await binh.say("/baocao" if vi else "/report")
        for text in ["320", "8", "8"]:
            await binh.say(text)
        await binh.say("/huy" if vi else "/cancel")
        self.clock.now += timedelta(days=1, hours=2)
        self.section("Hôm sau" if vi else "The next day")
        await binh.say("/baocao" if vi else "/report")
        await binh.say("7")
        await binh.say("310")
        await binh.say("1")
        await binh.tap(self.same(320))
        await binh.say("0")
        await binh.tap(self.same(320))
        await binh.say("0")
        await binh.say("0")
        await binh.say("2")
        await binh.say("2")
        await binh.tap("📨 Gửi báo cáo" if vi else "📨 Send the report")

        self.section("Trạm Y tế báo cáo" if vi else "The health station reports")
        minh = self.person(9201, "Minh", "Trạm Y tế")
        await minh.say(f"/start {self.invite('tram-y-te', name='Bác sĩ Trần Văn Minh')}")
        await minh.say("/baocao" if vi else "/report")
        await minh.say("1.420")
        await minh.say("1.300")
        await minh.say("1 250")
        await minh.say("4")
        await minh.tap(self.same(1250))
        await minh.say("6")
        await minh.tap(self.same(1250))
        await minh.say("9")
        await minh.say("980")
        await minh.say("61")
        await minh.tap(self.same(980))
        await minh.say("118")
        await minh.tap(self.same(980))
        await minh.say("31")
        await minh.say("236")
        await minh.say("231")
        await minh.say("1.190")
        await minh.say("1.161")
        await minh.tap("Chưa có số liệu" if vi else "No data yet")
        await minh.tap("📨 Gửi báo cáo" if vi else "📨 Send the report")

        self.section("Thôn Xuân Thủy không báo cáo" if vi else "Xuân Thủy hamlet never reports")
        tam = self.person(9103, "Tâm", "Thôn Xuân Thủy")
        await tam.say(f"/start {self.invite('thon-xuan-thuy')}")
        await tam.say("/tinhtrang" if vi else "/status")

        reminders = self.app.bot_data["reminders"]
        for day in (7, 10):
            self.clock.now = datetime(2026, 11, day, 2, 0, tzinfo=UTC)  # 09:00 local
            self.section("Bot tự nhắc những nơi còn thiếu" if vi else
                         "The bot reminds whoever is missing")
            self.progress(text_of("demo.reminders", self.lang).format(at=self.clock.local()))
            await reminders.run_due(at=self.clock.now)
            for who in (tam, hoa, lan):
                self.transcript.add(f"   ({who.who})")
                if not await who.incoming():
                    self.transcript.add("   —")

        self.clock.now = datetime(2026, 11, 12, 1, 30, tzinfo=UTC)
        self.section("Cán bộ xem tiến độ và báo cáo tổng hợp" if vi else
                     "The officer checks progress and asks for the report")
        await hoa.say("/tiendo" if vi else "/progress")
        got = await hoa.say("/tonghop" if vi else "/summary", files=3)
        for m in got:
            stored = m.document or m.photo_file
            if stored is not None:
                name = m.document.filename if m.document else "bieu-do-2026.png"
                (self.out_dir / name).write_bytes(stored.data)
                self.files.append(self.out_dir / name)


async def run_demo(lang: str = "vi", out_dir: Path | None = None,
                   echo: Callable[[str], None] = print, serve: str | None = None) -> Path:
    """Play the demo; return the folder with the report files. ``serve`` (HOST:PORT): keep
    serving the web form until Ctrl-C."""
    out = out_dir or Path.cwd() / f"ctvbot-demo-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    demo = Demo(lang, out, echo)
    sock = None
    if serve:
        from bot.web.serve import bind

        sock = bind(serve)
        host, port = sock.getsockname()[:2]
        demo.web_url = f"http://{host}:{port}"
    started = time.monotonic()
    await demo.start()
    vi = lang == "vi"
    try:
        await demo.play()
        link = demo.form_link()
        echo("")
        echo(("Biểu mẫu web của Thôn Xuân Thủy (link dùng một lần): " if vi else
              "The web form of Xuân Thủy hamlet (a one-time link): ") + link)
        if sock is not None:
            echo("Mở link trong trình duyệt; Ctrl-C để dừng." if vi else
                 "Open it in a browser; Ctrl-C stops.")
            await demo.serve_web(sock)
        else:
            echo("(chạy `ctvbot demo --serve` để mở được link này)" if vi else
                 "(run `ctvbot demo --serve` to open it)")
    finally:
        await demo.stop()
    (out / ("transcript.txt")).write_text("\n".join(demo.transcript.lines) + "\n",
                                          encoding="utf-8")
    echo("")
    for f in demo.files:
        echo(f"  {f.name}")
    echo(text_of("demo.done", lang).format(seconds=f"{time.monotonic() - started:.1f}",
                                           out=out))
    return out


def main(lang: str, out_dir: Path | None, serve: str | None = None) -> Path:
    """Entry point for the CLI."""
    return asyncio.run(run_demo(lang, out_dir, serve=serve))
