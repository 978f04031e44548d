"""The bot as deployed, in its own processes: ports, CPU, RSS, a round-robin proxy."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import re
import signal
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.bench.people import (
    ROOT,
)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_port(port: int, timeout: float) -> None:
    """Wait until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of a process, in KiB (empty when it is gone)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return math.nan, math.nan
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(values[:8])
    idle = values[3] + values[4]  # idle, iowait
    return (total - idle) / tick, total / tick


def process_cpu() -> dict[int, tuple[str, float]]:
    """Every process of the machine: pid -> (short command line, CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            fields = text.rpartition(")")[2].split()
            name = text[text.index("(") + 1:text.rindex(")")]
            args = (stat.parent / "cmdline").read_bytes().split(b"\0")
            if name != "postgres" and args and args[0]:
                name = " ".join(Path(a.decode(errors="replace")).name for a in args[:3])[:48]
            out[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
             ours: set[int]) -> tuple[float, dict[str, float]]:
    """CPU seconds of postgres between two ``process_cpu`` snapshots, and of the other
    processes (not ``ours``) by command, busiest first (processes that ended are missed)."""
    postgres, others = 0.0, Counter[str]()
    for pid, (name, cpu) in after.items():
        old_name, old_cpu = before.get(pid, (name, 0.0))
        used = cpu - (old_cpu if old_name == name else 0.0)
        if name == "postgres":
            postgres += used
        elif pid not in ours:
            others[name] += used
    return postgres, {n: round(c, 1) for n, c in others.most_common(3) if c >= 0.5}


def bot_env(api_url: str, db_url: str, token: str, **extra: str) -> dict[str, str]:
    """The environment of a bot process: this one's, without any CTVBOT_ setting, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTVBOT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    # the benchmarks measure the bot's own work: Telegram's 30 messages a second, which the
    # bot keeps to by itself (CTVBOT_REPLIES_PER_SECOND), is lifted on the local Bot API
    # the web pages on a port of their own, as a deployed bot serves them (on the default
    # 127.0.0.1:8080 a run beside another bot would find it taken and measure a bot without)
    env.update(CTVBOT_TOKEN=token, CTVBOT_API_URL=f"{api_url}/bot", CTVBOT_DATABASE_URL=db_url,
               CTVBOT_REPLIES_PER_SECOND="0", CTVBOT_WEB_LISTEN=f"127.0.0.1:{free_port()}")
    env.update(extra)
    return env


class BotProcess:
    """A bot in its own process, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name, self.args, self.env, self.workdir = name, args, env, workdir
        self.log_path = workdir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> BotProcess:
        """Start it (in ``workdir``, so no .env file of the project is read)."""
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.args, env=self.env, cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=asyncio.subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        """Its process id."""
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        """Raise with the end of its log when it has exited."""
        if self.proc is not None and self.proc.returncode is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of its log."""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def log_problems(self) -> tuple[int, int, list[str]]:
        """Lines of its log at level ERROR (or CRITICAL, or tracebacks), at WARNING, and up to
        three distinct such messages (numbers masked)."""
        errors = warnings = 0
        samples: list[str] = []
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
                    errors += 1
                elif " WARNING " in line:
                    warnings += 1
                else:
                    continue
                message = f"{self.name} log: " + re.sub(r"\d+", "N", line.split(": ", 1)[-1])
                if message not in samples and len(samples) < 3:
                    samples.append(message[:200])
        return errors, warnings, samples

    async def stop(self, timeout: float = 30) -> int | None:
        """Ctrl-C, then kill after ``timeout`` s; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode


async def wait_polling(api: Any, token: str, procs: list[BotProcess], timeout: float = 60) -> None:
    """Wait until the bot process long-polls the local API."""
    deadline = time.monotonic() + timeout
    while api.stats(token).calls["getUpdates"] == 0:
        for proc in procs:
            proc.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot did not poll within {timeout}s")
        await asyncio.sleep(0.05)


class RoundRobinProxy:
    """A reverse proxy on loopback that passes each POST to the next worker in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = itertools.cycle(ports)
        self.hits: Counter[int] = Counter()
        self.errors = 0
        self.port = free_port()
        self._runner: Any = None
        self._client: Any = None

    async def handle(self, request: Any) -> Any:
        """Forward one request with the headers Telegram sends."""
        from aiohttp import ClientError, web

        port = next(self.ports)
        self.hits[port] += 1
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        try:
            async with self._client.post(f"http://127.0.0.1:{port}{request.path}", data=body,
                                         headers=headers) as resp:
                return web.Response(status=resp.status, body=await resp.read())
        except (ClientError, OSError):
            self.errors += 1
            return web.Response(status=502)

    async def start(self) -> None:
        """Listen on 127.0.0.1:port."""
        from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

        self._client = ClientSession(connector=TCPConnector(limit=100),
                                     timeout=ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()


def _new_api() -> Any:
    from sandbox.botapi import LocalBotApi

    return LocalBotApi(webhook_timeout=30.0)
