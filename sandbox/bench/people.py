"""The simulated people of the benchmarks: what they say, their inboxes, the tallies."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
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
