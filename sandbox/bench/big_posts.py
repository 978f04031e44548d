"""Memory of one `ctvbot run --webhook` worker under four 90 MB posts at once, without and
then with the webhook secret (the worker must refuse them without reading them):

    uv run python -m sandbox.bench.big_posts
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator

from aiohttp import ClientSession

from sandbox.botapi import LocalBotApi

TOKEN = "123456:BIG-POSTS-bench"
SECRET = "big-posts-secret"
SIZE = 90 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


async def _chunks(total: int, size: int = 1 << 20) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size


async def _post(url: str, headers: dict[str, str]) -> int | str:
    async with ClientSession() as http:
        try:
            async with http.post(url, data=_chunks(SIZE), headers=headers) as r:
                return r.status
        except OSError as exc:  # the worker answered and closed while the body was sent
            return type(exc).__name__


async def _wait_port(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


async def main() -> None:
    """Start a local Bot API server and one worker, post, print the worker's memory."""
    api = LocalBotApi()
    await api.start()
    api.add_bot(TOKEN, username="big_posts_bot")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CTVBOT_TOKEN": TOKEN, "CTVBOT_API_URL": f"{api.url}/bot",
               "CTVBOT_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "CTVBOT_WEBHOOK_SECRET": SECRET}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--webhook", "--listen",
            f"127.0.0.1:{port}", "--url", url, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await _wait_port(port)
            await asyncio.sleep(1)
            for what, headers in (("without the secret", {}),
                                  ("with the secret", {"X-Telegram-Bot-Api-Secret-Token":
                                                       SECRET})):
                before = _rss_mb(proc.pid)
                statuses = await asyncio.gather(*(_post(url, headers) for _ in range(4)))
                print(f"4 x 90 MB {what}: {statuses}; worker RSS {before:.0f} MB -> "
                      f"{_rss_mb(proc.pid):.0f} MB")
        finally:
            proc.send_signal(2)
            await proc.wait()
            await api.stop()


if __name__ == "__main__":
    asyncio.run(main())
