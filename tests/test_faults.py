"""Faults injected while people report: a killed worker, a restarted PostgreSQL, two people
changing the same value at once. Nothing accepted is lost, nothing is applied twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot import service
from sandbox.botapi import LocalBotApi
from storage import repo
from storage.models import Indicator, ReportedValue, ValueChange
from tests.harness import TOKEN, BotProcess, Clock, invite, say, setup_commune


def stored(engine, unit_code: str) -> dict[str, tuple[int | None, int | None]]:
    with Session(engine) as s:
        unit = repo.find_unit(unit_code, session=s)
        codes = {i.id: i.code for i in s.exec(select(Indicator)).all()}
        rows = s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit.id)).all()
        return {codes[v.indicator_id]: (v.numerator, v.denominator) for v in rows}


async def spawn(api: LocalBotApi, db_url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "CTVBOT_TOKEN": TOKEN, "CTVBOT_API_URL": f"{api.url}/bot",
           "CTVBOT_DATABASE_URL": db_url}
    before = api.stats(TOKEN).calls["getUpdates"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await api.wait_until(lambda: api.stats(TOKEN).calls["getUpdates"] > before, 30, "polling")
    return proc


async def test_worker_killed_mid_conversation_loses_nothing(api, db_url, engine):
    setup_commune(engine)
    people = [api.user(TOKEN, 7000 + n, f"P{n}", language_code="vi") for n in range(3)]
    hamlets = ["thon-hanh-thien", "thon-xuan-bac", "thon-xuan-trung"]
    proc = await spawn(api, db_url)
    for person, hamlet in zip(people, hamlets, strict=True):
        # the bot runs in another process: each step waits for the reply it must produce
        await say(person, f"/start {invite(engine, hamlet)}", expect="Xin chào")
        await say(person, "/baocao", expect="(1/7)")
        await say(person, "400", expect="Đã hiểu: 400")
        await say(person, "8", expect="8/400")
        await say(person, "8", expect="Đã hiểu: 8")  # each now at the numerator of 8.2
    # a burst of answers, then SIGKILL while they are being handled
    for person in people:
        await person.send("7")
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    proc = await spawn(api, db_url)
    try:
        for person, hamlet in zip(people, hamlets, strict=True):
            await person.wait_idle(timeout=15, idle=0.3)
            got = stored(engine, hamlet)
            assert got["8.1"] == (8, 400)
            if "8.2" not in got:  # the kill came before this answer was applied: resend it
                out = await say(person, "7", expect="7/8")
                assert any("7/8" in o for o in out), out
            assert stored(engine, hamlet)["8.2"] == (7, 8)
            out = await say(person, "/baocao", expect="(3/7)")  # on at the next question, 10
            assert any("(3/7)" in o for o in out), out
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    with Session(engine) as s:  # every accepted answer exactly once in the history
        assert len(s.exec(select(ValueChange)).all()) == 6


def test_two_members_change_the_same_value_at_once(engine):
    setup_commune(engine)
    env = service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                      now=lambda: datetime(2026, 11, 3, 2, tzinfo=UTC))
    a = service.TgUser(8101, "An")
    b = service.TgUser(8102, "Bình")
    ids = iter(range(10_000, 20_000))
    for user in (a, b):
        service.handle(env, next(ids), user, service.StartCmd(invite(engine, "thon-xuan-phong")))
        service.handle(env, next(ids), user, service.ReportCmd())
    service.handle(env, next(ids), a, service.TextIn("500"))
    service.handle(env, next(ids), b, service.TextIn("480"))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def answer(user, text, update_id):
        barrier.wait()
        try:
            service.handle(env, update_id, user, service.TextIn(text))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(a, "10", next(ids))),
               threading.Thread(target=answer, args=(b, "12", next(ids)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    final = stored(engine, "thon-xuan-phong")["8.1"]
    assert final in [(10, 500), (12, 480)]  # one person's whole answer, never a mix
    with Session(engine) as s:
        hist = [(h.numerator, h.denominator) for h in s.exec(select(ValueChange)).all()]
    assert sorted(hist) == [(10, 500), (12, 480)]


PG_CREATE = shutil.which("pg_createcluster")


class _OwnPostgres:
    """A PostgreSQL server of the test's own (a new cluster on a free port, dropped after):
    stopping it disturbs no other test running at the same time on the shared server."""

    def __init__(self, data: str) -> None:
        self.version = sorted(os.listdir("/etc/postgresql"))[0]
        self.name = f"ctvbot_{uuid.uuid4().hex[:8]}"
        self.port = _free_port()
        self.data = data
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name,
                        *args], check=True, timeout=60, stdout=subprocess.DEVNULL)

    def create(self) -> None:
        subprocess.run(["pg_createcluster", self.version, self.name, "-p", str(self.port),
                        "-d", self.data, "--start", "--", "--auth=trust", "--no-sync"],
                       check=True, timeout=120, stdout=subprocess.DEVNULL)
        self._ready()

    def _ready(self) -> None:
        subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "30"],
                       check=True, timeout=60, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl("start")
        self._ready()

    def drop(self) -> None:
        subprocess.run(["pg_dropcluster", self.version, self.name, "--stop"], timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.postgres
@pytest.mark.skipif(PG_CREATE is None or os.geteuid() != 0
                    or not os.path.isdir("/etc/postgresql"),
                    reason="needs pg_createcluster and root to start a PostgreSQL server")
async def test_postgresql_restart_while_reporting(api):
    data = tempfile.mkdtemp(prefix="ctvbot_pg_")  # /tmp: the postgres user must reach it
    os.chmod(data, 0o777)
    server = _OwnPostgres(os.path.join(data, "cluster"))
    try:
        await asyncio.to_thread(server.create)
        await _report_across_a_restart(api, server)
    finally:
        await asyncio.to_thread(server.drop)
        shutil.rmtree(data, ignore_errors=True)


async def _report_across_a_restart(api, server: _OwnPostgres) -> None:
    from storage.db import make_engine, upgrade

    engine = make_engine(server.url)
    upgrade(engine)
    setup_commune(engine)
    bot = await BotProcess(api, server.url, Clock()).start()
    lan = api.user(TOKEN, 9301, "Lan", language_code="vi")
    try:
        await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
        await say(lan, "/baocao")
        await say(lan, "450")
        await asyncio.to_thread(server.stop)
        try:
            out = await say(lan, "12")
            assert any("thử lại sau ít phút" in o for o in out), out
        finally:
            await asyncio.to_thread(server.start)
        out = await say(lan, "12")  # no restart of the bot: it recovers by itself
        assert any("12/450" in o for o in out), out
    finally:
        await bot.stop()
    assert stored(engine, "thon-hanh-thien")["8.1"] == (12, 450)
    engine.dispose()
