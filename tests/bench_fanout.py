"""Fan-out benchmark: one reminder slot to N people through the local Bot API.

    uv run python -m tests.bench_fanout --people 5000 [--rate 25] [--db URL] [--no-restart]

The local Bot API enforces Telegram's limits (``set_rate_limits(30, 1)``: 30 sends in any
second, one per second per chat) and answers 429 beyond them. The commune gets N hamlets
with one collaborator each. A first sender process is stopped (cancelled) once N/2 messages
went out; a second process with its own engine and Bot starts and finishes the slot. Prints
recipients, achieved messages/second against the configured limit, the 429s seen, and the
duplicates and losses after the forced restart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select
from telegram import Bot

from bot.reminders import DEFAULT_RATE, Reminders
from bot.telegram import TelegramMessenger
from sandbox.botapi import LocalBotApi
from storage import reminders as store
from storage.db import make_engine, upgrade
from storage.kinds import Role, UnitKind
from storage.models import Membership, Person, Round, Unit
from tests.harness import TOKEN, setup_commune

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SLOT_TIME = datetime(2026, 11, 3, 9, 0, tzinfo=TZ).astimezone(UTC)  # remind:2026-11-03
FIRST_ID = 1_000_000


def populate(engine, n: int) -> list[int]:
    """N hamlets under Xã Xuân Trường, one collaborator each; their Telegram ids."""
    setup_commune(engine)
    with Session(engine) as s:
        commune = s.exec(select(Unit).where(Unit.code == "xuan-truong")).one()
        units = [Unit(code=f"xuan-truong/bench-{k}", name=f"Thôn thử {k}", kind=UnitKind.hamlet,
                      parent_id=commune.id, position=100 + k) for k in range(n)]
        people = [Person(telegram_id=FIRST_ID + k, name=f"CTV {k}", language="vi")
                  for k in range(n)]
        s.add_all(units + people)
        s.flush()
        s.add_all(Membership(person_id=p.id, unit_id=u.id, role=Role.collaborator)
                  for p, u in zip(people, units, strict=True))
        s.commit()
    return [FIRST_ID + k for k in range(n)]


async def run(n: int, rate: float, db_url: str, restart: bool) -> dict:
    engine = make_engine(db_url)
    upgrade(engine)
    t0 = time.monotonic()
    tids = populate(engine, n)
    print(f"set up {n} hamlets and collaborators in {time.monotonic() - t0:.1f} s")
    api = LocalBotApi()
    await api.start()
    api.add_bot(TOKEN, username="ctvbot_bench_bot")
    for tid in tids:
        api.user(TOKEN, tid, f"CTV {tid - FIRST_ID}", language_code="vi", started=True)
    api.set_rate_limits(30, 1)
    stats = api.stats(TOKEN)
    phases = []
    try:
        engine1 = make_engine(db_url)
        async with Bot(TOKEN, base_url=f"{api.url}/bot") as bot:
            first = Reminders(engine1, TelegramMessenger(bot), tz=TZ, messages_per_second=rate)
            t_prep = time.monotonic()
            with Session(engine1) as s:
                rnd = s.exec(select(Round)).one()
                store.pending_recipients(rnd, session=s)
            print(f"who is missing what for {n} units: {time.monotonic() - t_prep:.2f} s")
            started = time.monotonic()
            task = asyncio.create_task(first.run_due(at=SLOT_TIME))
            if restart:
                await api.wait_until(lambda: stats.sends >= n // 2 or task.done(),
                                     timeout=n / rate * 3 + 60)
                task.cancel()  # the process is stopped halfway
            with contextlib.suppress(asyncio.CancelledError):
                await task
            phases.append(("first process", stats.sends, time.monotonic() - started))
        engine1.dispose()
        if restart:
            engine2 = make_engine(db_url)
            before = stats.sends
            async with Bot(TOKEN, base_url=f"{api.url}/bot") as bot:
                second = Reminders(engine2, TelegramMessenger(bot), tz=TZ,
                                   messages_per_second=rate)
                started = time.monotonic()
                await second.run_due(at=SLOT_TIME.replace(minute=5))
                phases.append(("second process", stats.sends - before,
                               time.monotonic() - started))
            engine2.dispose()
        per_chat = Counter({tid: len(api.messages(TOKEN, tid)) for tid in tids})
        with Session(engine) as s:
            outcomes = store.outcomes(s.exec(select(Round)).one().id, session=s)
        busiest_second = stats.max_per_window(1.0)
        busiest_chat = max((stats.max_per_window(1.0, t) for t in tids), default=0)
    finally:
        await api.stop()
        engine.dispose()
    total_time = sum(p[2] for p in phases)
    return {
        "people": n, "rate": rate, "phases": phases, "total_time": total_time,
        "recipients": sum(1 for c in per_chat.values() if c >= 1),
        "duplicates": sum(1 for c in per_chat.values() if c > 1),
        "losses": sum(1 for c in per_chat.values() if c == 0),
        "sends": stats.sends, "too_many_requests": stats.too_many_requests,
        "busiest_second": busiest_second, "busiest_chat_second": busiest_chat,
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE,
                        help="messages_per_second of the sender (default 25)")
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    parser.add_argument("--no-restart", action="store_true", help="one process, no stop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        r = asyncio.run(run(args.people, args.rate, url, not args.no_restart))
    print()
    for name, sends, secs in r["phases"]:
        print(f"{name:15s} {sends:6d} messages in {secs:7.1f} s = {sends / secs:5.1f}/s")
    print(f"recipients       {r['recipients']} of {r['people']}")
    print(f"achieved         {r['sends'] / r['total_time']:.1f} messages/s "
          f"(configured {r['rate']:g}/s, Telegram limit 30/s)")
    print(f"busiest second   {r['busiest_second']} messages overall, "
          f"{r['busiest_chat_second']} to one chat")
    print(f"429s seen        {r['too_many_requests']}")
    print(f"duplicates       {r['duplicates']}")
    print(f"losses           {r['losses']}")
    print(f"reminder log     {dict(r['outcomes'])}")


if __name__ == "__main__":
    main()
