"""Webhook mode: two `ctvbot run --webhook` workers behind a round-robin proxy serve one bot
from one database; any worker continues any conversation; updates without the secret are
refused; an update delivered twice is applied once."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys

import pytest
from aiohttp import ClientSession, web
from sqlmodel import Session, select

from sandbox.botapi import LocalBotApi
from storage.models import ValueChange
from tests.harness import TOKEN, invite, newest, say, setup_commune

SECRET = "s3cret-for-tests-only"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RoundRobinProxy:
    """A reverse proxy that sends each POST to the next worker in turn."""

    def __init__(self, ports: list[int]):
        self.ports = itertools.cycle(ports)
        self.hits: list[int] = []
        self.runner: web.AppRunner | None = None
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        port = next(self.ports)
        self.hits.append(port)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        async with ClientSession() as client, client.post(
                f"http://127.0.0.1:{port}{request.path}", data=body, headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read())

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def wait_port(port: int, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def worker(api: LocalBotApi, db_url: str, port: int, public: str):
    env = {**os.environ, "CTVBOT_TOKEN": TOKEN, "CTVBOT_API_URL": f"{api.url}/bot",
           "CTVBOT_DATABASE_URL": db_url, "CTVBOT_WEBHOOK_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--webhook", "--listen", f"127.0.0.1:{port}",
        "--url", public, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    await wait_port(port)
    return proc


async def test_two_webhook_workers_share_conversations(db_url, engine):
    setup_commune(engine)
    api = LocalBotApi()
    await api.start()
    api.add_bot(TOKEN, username="ctvbot_test_bot")
    ports = [free_port(), free_port()]
    proxy = RoundRobinProxy(ports)
    await proxy.start()
    public = f"http://127.0.0.1:{proxy.port}/telegram"
    procs = [await worker(api, db_url, p, public) for p in ports]
    try:
        await api.wait_until(lambda: api.webhook_url(TOKEN) == public, 30, "setWebhook")
        lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
        await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}", expect="Xin chào")
        await say(lan, "/baocao", expect="(1/7)")
        for text, expected in [("450", "Đã hiểu: 450"), ("12", "12/450"), ("12", "Đã hiểu: 12"),
                               ("11", "11/12")]:
            # wait for the answer this step must produce, not for silence: under load a
            # worker may pause between the two messages of the previous answer
            seen = newest(lan)
            await lan.send(text)
            await api.wait_until(lambda seen=seen, expected=expected: any(
                expected in (m.content or "") for m in lan.messages() if m.message_id > seen),
                30, f"the answer to {text}")
        assert set(proxy.hits) == set(ports)  # both workers took part
        # the same update delivered again (to the other worker) changes nothing
        update_id = await lan.send("380")
        await lan.wait_idle(timeout=10, idle=0.3)
        shown = len(lan.messages())
        await api.deliver_again(update_id, TOKEN)
        await asyncio.sleep(0.5)
        await lan.wait_idle(timeout=10, idle=0.3)
        assert len(lan.messages()) == shown
        # an update without the right secret is refused and changes nothing
        api.set_delivery_secret(TOKEN, "wrong")
        await lan.send("3")
        await api.wait_until(lambda: any(d.status == 403 for d in api.deliveries(TOKEN)), 10,
                             "a refused delivery")
        assert not any("3/380" in (m.content or "") for m in lan.messages())
        api.reset_delivery_secret(TOKEN)  # the server retries it, now with the secret
        await api.wait_until(lambda: any("3/380" in (m.content or "") for m in lan.messages()),
                             15, "the retried update to be answered")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        logs = [(await asyncio.wait_for(p.communicate(), 30))[0].decode() for p in procs]
        await proxy.stop()
        await api.stop()
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, log
        assert TOKEN not in log and SECRET not in log
    with Session(engine) as s:
        assert len(s.exec(select(ValueChange)).all()) == 3  # 8.1, 8.2, 10: each once


@pytest.mark.parametrize("args, message", [
    (["run", "--webhook"], "--webhook cần --url"),
])
def test_webhook_needs_url_and_secret(args, message, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("CTVBOT_TOKEN", TOKEN)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and message in result.output
    monkeypatch.delenv("CTVBOT_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(app, ["run", "--webhook", "--url", "https://x.example/hook"])
    assert result.exit_code == 1 and "CTVBOT_WEBHOOK_SECRET" in result.output
