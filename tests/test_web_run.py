"""`ctvbot run` serves the web pages as well: on CTVBOT_WEB_LISTEN in long polling, with
/healthz and /metrics counting the updates it handled."""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import ClientSession

from tests.harness import TOKEN, invite, say, setup_commune
from tests.test_cli_run import bot_said, interrupt
from tests.test_webhook_workers import free_port, wait_port


async def test_long_polling_also_serves_the_pages(api, db_url, engine):
    setup_commune(engine)
    port = free_port()
    env = {**os.environ, "CTVBOT_TOKEN": TOKEN, "CTVBOT_API_URL": f"{api.url}/bot",
           "CTVBOT_DATABASE_URL": db_url, "CTVBOT_WEB_LISTEN": f"127.0.0.1:{port}",
           "CTVBOT_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await wait_port(port)
        lan = api.user(TOKEN, 1001, "Lan", language_code="vi")
        await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}", expect="Xin chào")
        await say(lan, "/web")
        await bot_said(api, lan, f"http://127.0.0.1:{port}/login/")
        link = next(m.content for m in lan.messages() if "/login/" in (m.content or ""))
        link = next(w for w in link.split() if "/login/" in w)
        async with ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
            async with http.get(link) as r:
                assert r.status == 200
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                metrics = await r.text()
        assert 'ctvbot_updates_total{kind="command"} 2.0' in metrics, metrics
        assert "ctvbot_replies_total 2.0" in metrics
    finally:
        log = await interrupt(proc)
    assert f"web pages on 127.0.0.1:{port}" in log
    assert TOKEN not in log and "/login/" not in log
