"""Benchmarks on loopback: throughput against a bare echo bot (P1), a webhook load test on two
workers, and memory per member.

Everything runs on this machine: the local Telegram Bot API server (``bot.local_api``) and the
simulated people live in this process; the bot runs in its own process(es) exactly as deployed
(``python -m bot.cli run`` or ``run --webhook``). Each person waits for the bot's answer before
the next message, like a human. Benchmarks print figures and never pass or fail on speed;
every run is bounded in count and in time::

    uv run ctvbot bench p1 --people 100 --answers 12
    uv run ctvbot bench load --people 2000 --concurrency 200
    uv run ctvbot bench memory --people 5000

From Python (tests call these at tiny sizes): ``run_p1``, ``run_load`` and ``run_memory`` return
a dict of figures (``bench_p1``, ``bench_load``, ``bench_memory`` are the async versions).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
import os
import re
import secrets
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "700100:ctvbot-bench-token-not-secret"
ECHO_TOKEN = "700200:echo-bench-token-not-secret"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
HAMLETS_PER_COMMUNE = 100
USER_IDS = 50_000_000  # first Telegram id of the simulated people
BOT_COMMAND = (sys.executable, "-m", "bot.cli")  # the bot's command line, as deployed
_SENDS = frozenset({"sendmessage", "senddocument", "sendphoto"})


# ------------------------------------------------------------------ what people say


@dataclass(frozen=True)
class Step:
    """One message of a person: the text, how many messages the bot answers with, a fragment
    of the last of them, and how many values the step stores."""

    text: str
    replies: int
    last: str
    saves: int = 0


JOIN = Step("/start {code}", 1, "Xin chào")
REPORT = Step("/baocao", 2, "(1/7)")
# A hamlet of plan 002: 8.1, 8.2, 10, 11.1, 11.2 and 20.2 are rates (denominator, then
# numerator), 13 is a count; one message confirms each stored value and asks the next question.
ANSWERS = (
    Step("450", 1, "Đã hiểu: 450"),
    Step("12", 1, "(2/7)", 1),
    Step("12", 1, "Đã hiểu: 12"),
    Step("11", 1, "(3/7)", 1),
    Step("380", 1, "Đã hiểu: 380"),
    Step("3", 1, "(4/7)", 1),
    Step("450", 1, "Đã hiểu: 450"),
    Step("2", 1, "(5/7)", 1),
    Step("450", 1, "Đã hiểu: 450"),
    Step("0", 1, "(6/7)", 1),
    Step("1", 1, "(7/7)", 1),
    Step("4", 1, "Đã hiểu: 4"),
    Step("3", 1, "Báo cáo năm", 1),
)


@functools.cache
def try_again_text() -> str:
    """The bot's answer when an update failed (err.try_again, in Vietnamese)."""
    from bot.i18n import text_of

    return text_of("err.try_again", "vi")


def _failed(texts: list[str]) -> bool:
    marker = try_again_text()
    return any(marker in t for t in texts)


def echo_step(text: str) -> Step:
    """What the echo bot answers: the same text, once."""
    return Step(text, 1, text)


# ------------------------------------------------------------------ the people's side


class Inbox:
    """The bot's messages in one chat, with the time each arrived at the server."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.times: list[float] = []
        self._event = asyncio.Event()

    def add(self, text: str) -> None:
        """A message the bot just sent here."""
        self.texts.append(text)
        self.times.append(time.monotonic())
        self._event.set()

    async def wait(self, mark: int, count: int, deadline: float) -> list[str]:
        """The messages after ``mark`` once there are ``count`` (or an error answer, or the
        deadline passed)."""
        while True:
            got = self.texts[mark:]
            if len(got) >= count or _failed(got):
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)


def tap_bot_messages(api: Any) -> dict[tuple[str, int], Inbox]:
    """Record every message a bot sends, per chat, at the moment the server accepts it.

    Wraps the server's method dispatch (also used for webhook answers) instead of polling,
    so thousands of waiting people cost nothing while they wait.
    """
    boxes: dict[tuple[str, int], Inbox] = {}
    inner = api._dispatch

    async def dispatch(bot: Any, name: str, params: Any) -> Any:
        result = await inner(bot, name, params)
        if name in _SENDS and isinstance(result, dict):
            chat_id = (result.get("chat") or {}).get("id")
            box = boxes.get((bot.token, chat_id))
            if box is not None:
                box.add(result.get("text") or result.get("caption") or "")
        return result

    api._dispatch = dispatch
    return boxes


@dataclass
class Tally:
    """What happened to the messages of a group of people."""

    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    ok: int = 0
    timeouts: int = 0
    error_replies: int = 0
    unexpected: int = 0
    expected_saves: int = 0
    accepted_saves: int = 0
    extra_messages: int = 0
    people_done: int = 0
    people_failed: int = 0
    samples: list[str] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # update_id -> wall clock

    @property
    def errors(self) -> int:
        """Timeouts, error answers and unexpected answers."""
        return self.timeouts + self.error_replies + self.unexpected


class Person:
    """A simulated person in a private chat with one bot."""

    def __init__(self, api: Any, boxes: dict[tuple[str, int], Inbox], token: str,
                 user_id: int) -> None:
        self.user = api.user(token, user_id, f"Người {user_id - USER_IDS}", language_code="vi")
        self.box = boxes.setdefault((token, user_id), Inbox())
        self.expected_messages = 0

    async def step(self, step: Step, tally: Tally, timeout: float, text: str | None = None,
                   timed: bool = True) -> bool:
        """Send, wait for the whole answer; False when it is wrong, an error or late."""
        mark = len(self.box.texts)
        started = time.monotonic()
        update_id = await self.user.send(text or step.text)
        tally.sent += 1
        tally.sent_at[update_id] = time.time()
        tally.expected_saves += step.saves
        self.expected_messages += step.replies
        got = await self.box.wait(mark, step.replies, started + timeout)
        if got and timed:
            tally.latencies.append(self.box.times[mark] - started)
        problem = None
        if _failed(got):
            tally.error_replies += 1
            problem = "error answer"
        elif len(got) < step.replies:
            tally.timeouts += 1
            problem = f"{len(got)} of {step.replies} answers within {timeout:g}s"
        elif step.last not in got[-1]:
            tally.unexpected += 1
            problem = "unexpected answer"
        if problem is not None:
            if len(tally.samples) < 5:
                tally.samples.append(f"{problem} to {step.text!r}: {got[-1:]!r}"[:300])
            return False
        tally.ok += 1
        tally.accepted_saves += step.saves
        return True

    async def run(self, steps: list[tuple[Step, str | None]], tally: Tally, timeout: float,
                  timed: bool = True) -> bool:
        """Say each step in turn; stop at the first that goes wrong."""
        for step, text in steps:
            if not await self.step(step, tally, timeout, text, timed):
                tally.people_failed += 1
                return False
        tally.people_done += 1
        return True


async def run_people(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int,
                     timeout: float) -> int:
    """Run the jobs, at most ``concurrency`` at once; returns how many did not finish in time."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await job()

    tasks = [asyncio.ensure_future(one(job)) for job in jobs]
    if not tasks:
        return 0
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return len(pending)


def count_extra(people: list[Person]) -> int:
    """Messages beyond those expected (a reply sent twice shows here)."""
    return sum(max(0, len(p.box.texts) - p.expected_messages) for p in people)


# ------------------------------------------------------------------ figures


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _share(seconds: float, total: float) -> int:
    """``seconds`` of CPU as a percentage of the machine's ``total`` (all cores)."""
    return round(100 * seconds / total) if total > 0 else 0


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else math.nan


# ------------------------------------------------------------------ database and communes


def commune_yaml(index: int, hamlets: int, today: date) -> str:
    """A commune file on plan 002 with ``hamlets`` hamlets and a round open for 60 days."""
    year = min(max(today.year, 2025), 2030)
    lines = [
        f"# Generated by ctvbot bench: {hamlets} hamlets.",
        f"code: bench-xa-{index:03d}",
        f"name: Xã Thử Nghiệm {index}",
        "parent: {code: bench-tinh, name: Tỉnh Thử Nghiệm, kind: province}",
        'plan: "002"',
        "hamlets:",
        *(f"  - {{code: thon-{h:04d}, name: Thôn Số {h}}}" for h in range(1, hamlets + 1)),
        "round:",
        f"  year: {year}",
        f"  unit_deadline: {today + timedelta(days=30):%d/%m/%Y}",
        f"  consolidation_deadline: {today + timedelta(days=60):%d/%m/%Y}",
        "  reminders: {days_before: [1], time: \"09:00\", every_days_after: 0}",
    ]
    return "\n".join(lines) + "\n"


def prepare_database(url: str, people: int, workdir: Path,
                     per_commune: int = HAMLETS_PER_COMMUNE) -> list[str]:
    """Migrate, set up one hamlet per person (communes of ``per_commune`` hamlets), and return
    one invitation code per person."""
    from sqlmodel import Session, col, select

    from storage import repo
    from storage.communes import apply_commune, load_commune
    from storage.db import make_engine, upgrade
    from storage.kinds import UnitKind
    from storage.models import ProcessedUpdate, Unit

    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            if session.exec(select(ProcessedUpdate)).first() is not None:
                raise RuntimeError(f"{_safe_url(url)} is not a fresh database")
            left, index = people, 0
            while left > 0:
                index += 1
                size = min(per_commune, left)
                path = workdir / f"bench_commune_{index:03d}.yaml"
                path.write_text(commune_yaml(index, size, date.today()), encoding="utf-8")
                apply_commune(load_commune(path), session=session)
                left -= size
            session.commit()
            hamlets = session.exec(select(Unit).where(Unit.kind == UnitKind.hamlet,
                                                      col(Unit.code).like("bench-xa-%"))
                                   .order_by(Unit.code)).all()
            codes = [repo.create_invitation(u, session=session, days=30)[1]
                     for u in hamlets[:people]]
            session.commit()
    finally:
        engine.dispose()
    return codes


def stored_values(url: str) -> dict[str, int]:
    """ValueChange rows, (unit, indicator) pairs stored more than once, and applied updates."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from storage.db import make_engine
    from storage.models import ProcessedUpdate, ValueChange

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            changes = session.exec(select(func.count()).select_from(ValueChange)).one()
            per_value = session.exec(
                select(ValueChange.unit_id, ValueChange.indicator_id, func.count())
                .group_by(ValueChange.unit_id, ValueChange.indicator_id)).all()
            applied = session.exec(select(func.count()).select_from(ProcessedUpdate)).one()
    finally:
        engine.dispose()
    return {"value_changes": changes,
            "values_stored_twice": sum(1 for *_k, n in per_value if n > 1),
            "updates_applied": applied}


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def postgres_available(admin_url: str = DEFAULT_POSTGRES) -> bool:
    """Whether a PostgreSQL server answers at ``admin_url``."""
    from sqlalchemy import text

    from storage.db import make_engine

    try:
        engine = make_engine(admin_url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


@contextlib.contextmanager
def scratch_postgres(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server of ``admin_url``, dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.db import make_engine

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def fresh_database(url: str | None, workdir: Path, prefix: str) -> Iterator[str]:
    """A fresh database: a SQLite file in ``workdir`` (None), a scratch database on the
    PostgreSQL server of a ``postgresql://`` URL, or the SQLite URL given (must be new)."""
    if url is None:
        yield f"sqlite:///{workdir / 'ctvbot-bench.db'}"
    elif url.startswith(("postgresql", "postgres:")):
        with scratch_postgres(url, prefix) as scratch:
            yield scratch
    else:
        yield url


def database_kind(url: str) -> str:
    """sqlite or postgresql."""
    return "postgresql" if url.startswith("postgres") else "sqlite"


# ------------------------------------------------------------------ processes


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
    env.update(CTVBOT_TOKEN=token, CTVBOT_API_URL=f"{api_url}/bot", CTVBOT_DATABASE_URL=db_url,
               CTVBOT_REPLIES_PER_SECOND="0", **extra)
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
    from bot.local_api import LocalBotApi

    return LocalBotApi(webhook_timeout=30.0)


# ------------------------------------------------------------------ P1


async def _p1_phase(api: Any, boxes: dict[tuple[str, int], Inbox], proc: BotProcess,
                    token: str, warmup: list[list[tuple[Step, str | None]]],
                    timed: list[tuple[Step, str | None]], people: int, timeout: float,
                    step_timeout: float) -> dict[str, Any]:
    await proc.start()
    try:
        await wait_polling(api, token, [proc])
        persons = [Person(api, boxes, token, USER_IDS + i) for i in range(people)]
        warm = Tally()
        await run_people([lambda p=p, s=s: p.run(s, warm, step_timeout, timed=False)
                          for p, s in zip(persons, warmup, strict=True)], people, timeout)
        if warm.errors:
            raise RuntimeError(f"joining failed: {warm.samples}")
        tally = Tally()
        cpu0, driver0, t0 = cpu_seconds(proc.pid), time.process_time(), time.monotonic()
        busy0, total0 = machine_cpu()
        procs0 = process_cpu()
        late = await run_people([lambda p=p: p.run(timed, tally, step_timeout)
                                 for p in persons], people, timeout)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        driver = time.process_time() - driver0
        busy1, total1 = machine_cpu()
        pg, others = cpu_used(procs0, process_cpu(), {proc.pid, os.getpid(), os.getppid()})
        await asyncio.sleep(0.2)
        extra = count_extra(persons)
    finally:
        code = await proc.stop()
    log_errors, log_warnings, log_samples = proc.log_problems()
    return {
        "updates": tally.sent, "seconds": round(wall, 2), "updates_per_s": _rate(tally.sent, wall),
        "p50_ms": _ms(percentile(tally.latencies, 50)),
        "p95_ms": _ms(percentile(tally.latencies, 95)),
        "cpu_ms_per_update": round(cpu * 1000 / max(tally.sent, 1), 2),
        "driver_cpu_ms_per_update": round(driver * 1000 / max(tally.sent, 1), 2),
        "machine_busy_pct": _share(busy1 - busy0, total1 - total0),
        "postgres_cpu_ms_per_update": round(pg * 1000 / max(tally.sent, 1), 2),
        "others_busy_pct": _share(busy1 - busy0 - cpu - driver - pg, total1 - total0),
        "other_processes_cpu_s": others,
        "errors": tally.errors + late, "timeouts": tally.timeouts,
        "error_replies": tally.error_replies, "unexpected": tally.unexpected,
        "extra_messages": extra, "accepted_saves": tally.accepted_saves,
        "expected_saves": tally.expected_saves, "log_errors": log_errors,
        "log_warnings": log_warnings, "exit_code": code, "samples": tally.samples + log_samples,
    }


async def bench_p1(people: int = 100, answers: int = 12, database_url: str | None = None,
                   timeout: float = 600, step_timeout: float = 60,
                   bot_command: tuple[str, ...] = BOT_COMMAND) -> dict[str, Any]:
    """Updates per second through the report flow vs a bare PTB echo bot (see module doc).

    ``bot_command`` runs the bot's command line (another build or settings can be compared).
    """
    answers = max(1, min(answers, len(ANSWERS)))
    steps = list(ANSWERS[:answers])
    with tempfile.TemporaryDirectory(prefix="ctvbot-bench-") as tmp, \
            fresh_database(database_url, Path(tmp), "ctvbot_p1") as url:
        workdir = Path(tmp)
        codes = prepare_database(url, people, workdir)
        api = _new_api()
        boxes = tap_bot_messages(api)
        await api.start()
        try:
            api.add_bot(TOKEN, username="ctvbot_bench_bot")
            api.add_bot(ECHO_TOKEN, username="echo_bench_bot")
            echo_proc = BotProcess("echo", [sys.executable, "-m", "bot.bench", "echo"],
                                   bot_env(api.url, url, ECHO_TOKEN), workdir)
            echo = await _p1_phase(
                api, boxes, echo_proc, ECHO_TOKEN, [[(echo_step("/start"), None)]] * people,
                [(echo_step(s.text), None) for s in steps], people, timeout, step_timeout)
            bot_proc = BotProcess("ctvbot", [*bot_command, "run"],
                                  bot_env(api.url, url, TOKEN), workdir)
            bot = await _p1_phase(
                api, boxes, bot_proc, TOKEN,
                [[(JOIN, JOIN.text.format(code=c)), (REPORT, None)] for c in codes],
                [(s, None) for s in steps], people, timeout, step_timeout)
        finally:
            await api.stop()
        db = stored_values(url)
    return {
        "benchmark": "p1", "people": people, "answers": answers,
        "database": database_kind(url), "ctvbot": bot, "echo": echo,
        "ratio": round(echo["updates_per_s"] / bot["updates_per_s"], 1)
        if bot["updates_per_s"] else math.nan,
        "value_changes": db["value_changes"], "values_stored_twice": db["values_stored_twice"],
        "expected_value_changes": people * sum(s.saves for s in steps),
    }


# ------------------------------------------------------------------ load test


async def _sample_pending(api: Any, token: str, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(len(api.pending_updates(token)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def bench_load(people: int = 2000, concurrency: int = 200,
                     postgres_url: str = DEFAULT_POSTGRES, workers: int = 2,
                     per_commune: int = HAMLETS_PER_COMMUNE, timeout: float = 900,
                     step_timeout: float = 60,
                     bot_command: tuple[str, ...] = BOT_COMMAND) -> dict[str, Any]:
    """Many people at once through webhook workers behind a round-robin proxy, on PostgreSQL.

    Each person: /start CODE, /baocao, then 4 to 6 answers. Afterwards the database must hold
    every accepted answer exactly once.
    """
    secret = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="ctvbot-load-") as tmp, \
            fresh_database(postgres_url, Path(tmp), "ctvbot_load") as url:
        workdir = Path(tmp)
        t_setup = time.monotonic()
        codes = prepare_database(url, people, workdir, per_commune)
        setup_s = time.monotonic() - t_setup
        api = _new_api()
        boxes = tap_bot_messages(api)
        await api.start()
        ports = [free_port() for _ in range(workers)]
        proxy = RoundRobinProxy(ports)
        procs: list[BotProcess] = []
        try:
            api.add_bot(TOKEN, username="ctvbot_bench_bot")
            await proxy.start()
            public = f"http://127.0.0.1:{proxy.port}/telegram"
            env = bot_env(api.url, url, TOKEN, CTVBOT_WEBHOOK_SECRET=secret)
            for n, port in enumerate(ports, start=1):
                procs.append(await BotProcess(
                    f"worker{n}", [*bot_command, "run", "--webhook",
                                   "--listen", f"127.0.0.1:{port}", "--url", public],
                    env, workdir).start())
            deadline = time.monotonic() + 60
            while api.stats(TOKEN).calls["setWebhook"] < workers:
                for proc in procs:
                    proc.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError("the workers did not set the webhook within 60s")
                await asyncio.sleep(0.05)
            for port in ports:
                await wait_port(port, 30)
            persons = [Person(api, boxes, TOKEN, USER_IDS + i) for i in range(people)]
            plans = [[(JOIN, JOIN.text.format(code=codes[i])), (REPORT, None),
                      *((s, None) for s in ANSWERS[:4 + i % 3])] for i in range(people)]
            tally = Tally()
            pending: list[int] = []
            stop_sampling = asyncio.Event()
            sampler = asyncio.ensure_future(_sample_pending(api, TOKEN, pending, stop_sampling))
            cpu0 = {p.name: cpu_seconds(p.pid) for p in procs}
            procs0, (busy0, total0) = process_cpu(), machine_cpu()
            driver0, t0 = time.process_time(), time.monotonic()
            late = await run_people([lambda p=p, s=s: p.run(s, tally, step_timeout)
                                     for p, s in zip(persons, plans, strict=True)],
                                    concurrency, timeout)
            wall = time.monotonic() - t0
            driver_cpu = time.process_time() - driver0
            cpu = {p.name: round(cpu_seconds(p.pid) - cpu0[p.name], 1) for p in procs}
            ours = {p.pid for p in procs} | {os.getpid(), os.getppid()}
            (pg_cpu, others), (busy1, total1) = cpu_used(procs0, process_cpu(), ours), \
                machine_cpu()
            stop_sampling.set()
            await sampler
            await asyncio.sleep(0.5)  # anything sent late (a duplicate) shows up now
            extra = count_extra(persons)
            deliveries = api.deliveries(TOKEN)
        finally:
            codes_out = [await p.stop() for p in procs]
            await proxy.stop()
            await api.stop()
        logs = [p.log_problems() for p in procs]
        delivered = Counter(d.update_id for d in deliveries
                            if d.status is not None and 200 <= d.status < 300)
        first_ok: dict[int, float] = {}
        for d in deliveries:
            if d.status is not None and 200 <= d.status < 300:
                first_ok.setdefault(d.update_id, d.at)
        lags = [first_ok[u] - t for u, t in tally.sent_at.items() if u in first_ok]
        db = stored_values(url)
    return {
        "benchmark": "load", "people": people, "concurrency": concurrency, "workers": workers,
        "database": "postgresql", "setup_seconds": round(setup_s, 1),
        "updates": tally.sent, "seconds": round(wall, 2),
        "updates_per_s": _rate(tally.sent, wall),
        "p50_ms": _ms(percentile(tally.latencies, 50)),
        "p95_ms": _ms(percentile(tally.latencies, 95)),
        "p99_ms": _ms(percentile(tally.latencies, 99)),
        "max_ms": _ms(max(tally.latencies, default=math.nan)),
        "delivery_lag_p50_ms": _ms(percentile(lags, 50)),
        "delivery_lag_p95_ms": _ms(percentile(lags, 95)),
        "pending_updates_max": max(pending, default=0),
        "pending_updates_mean": round(sum(pending) / len(pending), 1) if pending else 0,
        "errors": tally.errors + late, "timeouts": tally.timeouts,
        "error_replies": tally.error_replies, "unexpected": tally.unexpected,
        "people_unfinished": late, "people_failed": tally.people_failed,
        "duplicate_deliveries": sum(n - 1 for n in delivered.values() if n > 1),
        "failed_deliveries": sum(1 for d in deliveries
                                 if d.status is None or not 200 <= d.status < 300),
        "duplicate_messages": extra, "proxy_errors": proxy.errors,
        "proxy_hits": dict(proxy.hits),
        "accepted_saves": tally.accepted_saves, "expected_saves": tally.expected_saves,
        "value_changes": db["value_changes"], "values_stored_twice": db["values_stored_twice"],
        "updates_applied": db["updates_applied"],
        "stored_exactly_once": db["value_changes"] == tally.accepted_saves
        and db["values_stored_twice"] == 0,
        "worker_cpu_s": cpu,
        "worker_cpu_ms_per_update": round(sum(cpu.values()) * 1000 / max(tally.sent, 1), 2),
        "postgres_cpu_s": round(pg_cpu, 1), "driver_cpu_s": round(driver_cpu, 1),
        "machine_busy_pct": _share(busy1 - busy0, total1 - total0),
        "others_busy_pct": _share(busy1 - busy0 - sum(cpu.values()) - pg_cpu - driver_cpu,
                                  total1 - total0),
        "other_processes_cpu_s": others,
        "log_errors": sum(e for e, _w, _s in logs), "log_warnings": sum(w for _e, w, _s in logs),
        "exit_codes": codes_out, "samples": tally.samples + [m for *_n, s in logs for m in s],
    }


# ------------------------------------------------------------------ memory


async def bench_memory(people: int = 5000, database_url: str | None = None,
                       concurrency: int = 200, timeout: float = 1800,
                       step_timeout: float = 60, idle_seconds: float = 2.0,
                       warm: int = 100,
                       bot_command: tuple[str, ...] = BOT_COMMAND) -> dict[str, Any]:
    """Peak RSS (VmHWM) of a long-polling bot process after ``people`` members joined and each
    sent a few messages (/start CODE, /baocao, one answer), against the same process idle with
    0 members; also the growth after the first ``warm`` members (code paths and caches warm)."""
    warm = max(0, min(warm, people // 10))
    with tempfile.TemporaryDirectory(prefix="ctvbot-mem-") as tmp, \
            fresh_database(database_url, Path(tmp), "ctvbot_mem") as url:
        workdir = Path(tmp)
        codes = prepare_database(url, people, workdir)
        api = _new_api()
        boxes = tap_bot_messages(api)
        await api.start()
        proc = BotProcess("ctvbot", [*bot_command, "run"],
                          bot_env(api.url, url, TOKEN), workdir)
        try:
            api.add_bot(TOKEN, username="ctvbot_bench_bot")
            await proc.start()
            await wait_polling(api, TOKEN, [proc])
            await asyncio.sleep(idle_seconds)
            idle = proc_status(proc.pid)
            persons = [Person(api, boxes, TOKEN, USER_IDS + i) for i in range(people)]
            jobs = [lambda p=p, c=c: p.run([(JOIN, JOIN.text.format(code=c)), (REPORT, None),
                                            (ANSWERS[0], None)], tally, step_timeout)
                    for p, c in zip(persons, codes, strict=True)]
            tally = Tally()
            t0 = time.monotonic()
            late = await run_people(jobs[:warm], concurrency, timeout)
            warmed = proc_status(proc.pid)
            late += await run_people(jobs[warm:], concurrency, timeout)
            wall = time.monotonic() - t0
            after = proc_status(proc.pid)
        finally:
            code = await proc.stop()
            await api.stop()
        log_errors, log_warnings, log_samples = proc.log_problems()
    idle_mib, peak_mib = idle.get("VmHWM", 0) / 1024, after.get("VmHWM", 0) / 1024
    warm_mib = warmed.get("VmHWM", 0) / 1024
    return {
        "benchmark": "memory", "people": people, "database": database_kind(url),
        "updates": tally.sent, "seconds": round(wall, 1), "members": tally.people_done,
        "idle_peak_mib": round(idle_mib, 1), "warm_members": warm,
        "warm_peak_mib": round(warm_mib, 1), "peak_mib": round(peak_mib, 1),
        "rss_end_mib": round(after.get("VmRSS", 0) / 1024, 1),
        "mib_per_1000_members": round((peak_mib - idle_mib) * 1000 / people, 2),
        "mib_per_1000_after_warm": round((peak_mib - warm_mib) * 1000 / (people - warm), 2)
        if people > warm else math.nan,
        "errors": tally.errors + late, "log_errors": log_errors, "log_warnings": log_warnings,
        "exit_code": code, "samples": tally.samples + log_samples,
    }


# ------------------------------------------------------------------ sync entry points


def run_p1(**options: Any) -> dict[str, Any]:
    """``bench_p1`` from synchronous code."""
    return asyncio.run(bench_p1(**options))


def run_load(**options: Any) -> dict[str, Any]:
    """``bench_load`` from synchronous code."""
    return asyncio.run(bench_load(**options))


def run_memory(**options: Any) -> dict[str, Any]:
    """``bench_memory`` from synchronous code."""
    return asyncio.run(bench_memory(**options))


# ------------------------------------------------------------------ printing and the CLI


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def format_table(rows: list[tuple[str, Any]]) -> str:
    """Two aligned columns."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"  {k.ljust(width)}  {_fmt(v)}" for k, v in rows)


def format_p1(f: dict[str, Any]) -> str:
    """The P1 figures as a short table."""
    cols = (("updates/s", "updates_per_s"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"),
            ("CPU ms/upd", "cpu_ms_per_update"), ("errors", "errors"),
            ("machine %", "machine_busy_pct"), ("others %", "others_busy_pct"))
    lines = [f"P1: {f['people']} people x {f['answers']} answers "
             f"({f['ctvbot']['updates']} updates for each bot), {f['database']}",
             f"  {'':8}" + "".join(f"{h:>12}" for h, _ in cols)]
    for name in ("ctvbot", "echo"):
        lines.append(f"  {name:8}" + "".join(f"{_fmt(f[name][k]):>12}" for _, k in cols))
    lines.append(f"  echo / ctvbot: {_fmt(f['ratio'])}x;  values stored: {f['value_changes']} "
                 f"(expected {f['expected_value_changes']}, stored twice: "
                 f"{f['values_stored_twice']})")
    for sample in f["ctvbot"]["samples"] + f["echo"]["samples"]:
        lines.append(f"  ! {sample}")
    return "\n".join(lines)


def format_figures(title: str, f: dict[str, Any]) -> str:
    """Any figures dict as a titled table (problem samples last)."""
    rows = [(k, v) for k, v in f.items() if k not in ("benchmark", "samples")]
    return "\n".join([title, format_table(rows), *(f"  ! {s}" for s in f.get("samples", []))])


def register(app: typer.Typer) -> None:
    """Add ``ctvbot bench p1|load|memory`` to the command line."""
    bench = typer.Typer(help="Benchmarks on loopback (they print figures, never fail on speed).",
                        no_args_is_help=True)

    @bench.command("p1")
    def p1_cmd(
        people: Annotated[int, typer.Option(min=1, max=10_000, help="Simulated people")] = 100,
        answers: Annotated[int, typer.Option(min=1, max=len(ANSWERS),
                                             help="Answers per person (timed)")] = 12,
        database_url: Annotated[str | None, typer.Option(
            help="postgresql://… server (a scratch database is made and dropped); "
                 "default: a temporary SQLite file")] = None,
        timeout: Annotated[float, typer.Option(help="Seconds at most per phase")] = 600,
    ) -> None:
        """Updates/s through the report flow vs a bare python-telegram-bot echo bot."""
        typer.echo(format_p1(run_p1(people=people, answers=answers, database_url=database_url,
                                    timeout=timeout)))

    @bench.command("load")
    def load_cmd(
        people: Annotated[int, typer.Option(min=1, max=20_000, help="Simulated people")] = 2000,
        concurrency: Annotated[int, typer.Option(min=1, max=2000,
                                                 help="People in flight at once")] = 200,
        postgres_url: Annotated[str, typer.Option(
            help="PostgreSQL server (a scratch database is made and dropped)")]
        = DEFAULT_POSTGRES,
        workers: Annotated[int, typer.Option(min=1, max=8, help="Webhook workers")] = 2,
        timeout: Annotated[float, typer.Option(help="Seconds at most for all people")] = 900,
    ) -> None:
        """Thousands of people reporting at once through webhook workers on PostgreSQL."""
        f = run_load(people=people, concurrency=concurrency, postgres_url=postgres_url,
                     workers=workers, timeout=timeout)
        typer.echo(format_figures(f"Load: {people} people, {workers} webhook workers, "
                                  "PostgreSQL", f))

    @bench.command("memory")
    def memory_cmd(
        people: Annotated[int, typer.Option(min=1, max=50_000, help="Members")] = 5000,
        database_url: Annotated[str | None, typer.Option(
            help="postgresql://… server (scratch database); default: temporary SQLite")]
        = None,
        concurrency: Annotated[int, typer.Option(min=1, max=2000)] = 200,
        timeout: Annotated[float, typer.Option(help="Seconds at most for all people")] = 1800,
    ) -> None:
        """Peak RSS of a long-polling bot with N members vs the same bot idle."""
        f = run_memory(people=people, database_url=database_url, concurrency=concurrency,
                       timeout=timeout)
        typer.echo(format_figures(f"Memory: {people} members, long polling", f))

    app.add_typer(bench, name="bench")


# ------------------------------------------------------------------ the echo bot


def echo_main() -> None:
    """A bare python-telegram-bot echo bot (CTVBOT_TOKEN, CTVBOT_API_URL), long polling."""
    import logging

    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await context.bot.send_message(message.chat_id, message.text)

    logging.basicConfig(level=logging.WARNING)
    api_url = os.environ["CTVBOT_API_URL"]
    root = api_url.rstrip("/").rpartition("/bot")[0]
    app = (ApplicationBuilder().token(os.environ["CTVBOT_TOKEN"]).base_url(api_url)
           .base_file_url(f"{root}/file/bot").build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling()


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["echo"]:
        echo_main()
    else:
        sys.exit("usage: python -m bot.bench echo   (or: ctvbot bench p1|load|memory)")
