"""The reminder scheduler and the rate-limited, exactly-once sender.

One scheduler: PTB's JobQueue (APScheduler 3). On start the jobs are rebuilt from the
database (the database is the truth): one job per open round at its next slot, and a resync
every ten minutes that picks up deadlines changed, rounds added or closed by another process.
A slot missed while the bot was down is sent on start if it is still current (see
``flows.reminders.due``) and marked stale otherwise.

Trigger times are computed from the database and the injectable clock (``Env.now``): a job
runs after ``slot.at - now``; tests call ``Reminders.run_due(at=T)`` directly.

Sending goes through the messenger interface (``bot.messenger``). Every message is claimed
in ReminderLog (INSERT, UNIQUE person/round/slot) right before it goes out, so a restart or a
second process never sends it twice. At most ``messages_per_second`` overall and one per
second per chat; "retry later" (Telegram's 429) waits and sends the same message again;
"blocked" (403) marks the person unreachable (the officers' digest names them). Stopping
(cancellation) lets a message in flight finish and be recorded, and gives back the claims
not yet sent, so the next run sends exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, select

from bot.i18n import render_reply
from bot.messenger import (
    Blocked,
    Busy,
    Choices,
    MaybeSent,
    Messenger,
    MessengerError,
    NetworkDown,
    Refused,
    RetryLater,
    pieces,
)
from bot.settings import local_date
from flows import reminders as plan
from flows.effects import Reply
from storage import reminders as store
from storage.models import Person, Round, Unit, address

log = logging.getLogger("ctvbot.reminders")

DEFAULT_RATE = 25.0  # messages per second overall (Telegram allows about 30)
PER_CHAT_SECONDS = 1.0  # at most one message per second to a chat
RESYNC_SECONDS = 600
RETRY_SECONDS = 60
ORPHANED_CLAIM = timedelta(minutes=15)  # a claim this old was left by a killed process
SEND_LOCK_KEY = 0x637476626F74  # PostgreSQL advisory lock: one sending batch at a time
NETWORK_RETRIES = 5


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ what goes out


@dataclass(frozen=True)
class Delivery:
    """One message to one person for one slot of a round."""

    person_id: int
    chat_id: int | str
    round_id: int
    slot: str
    reply: Reply
    locale: str
    channel: str = "telegram"  # the messenger that carries it
    # a reminder is written again right before it goes out, from what the person's units
    # lack then (``unit_ids``): an answer committed meanwhile is never listed as missing
    unit_ids: tuple[int, ...] = ()
    officer_name: str | None = None
    today: date | None = None
    seen: tuple = ()  # the units' ``store.fingerprint`` when the reminder was written

    @property
    def refreshed(self) -> bool:
        """A reminder, written again right before it goes out."""
        return bool(self.unit_ids)


@dataclass
class FanOut:
    """What became of a batch."""

    sent: int = 0
    skipped: int = 0  # already claimed or sent (by this or another process)
    blocked: int = 0  # 403: the person is marked unreachable
    failed: int = 0  # refused by Telegram for another reason, or the network never came back
    released: int = 0  # stopped before it went out: the claim was given back
    retries_429: int = 0

    def add(self, other: FanOut) -> FanOut:
        """Add another batch's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


@dataclass
class RunReport:
    """What ``run_due`` did: per slot key, and the slots marked stale."""

    slots: dict[str, FanOut] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)

    @property
    def total(self) -> FanOut:
        """All slots together."""
        out = FanOut()
        for f in self.slots.values():
            out.add(f)
        return out


# ------------------------------------------------------------------ building messages


def _tr(obj: Any, name: str, lang: str) -> str:
    return getattr(obj, f"{name}_{lang}", None) or getattr(obj, f"{name}_vi")


def reminder_deliveries(rnd: Round, recipients: Iterable[store.Recipient], slot: str,
                        today: date, *, officer_name: str | None = None) -> list[Delivery]:
    """The reminder of each recipient, in their language."""
    out = []
    for r in recipients:
        lang = r.person.language or "vi"
        gaps = [plan.Gap(u.unit.name, len(u.expected),
                         tuple((i.code, _tr(i, "name", lang)) for i in u.missing), u.unit.id)
                for u in r.units]
        reply = plan.reminder(rnd.id, rnd.year, rnd.unit_deadline, rnd.consolidation_deadline,
                              today, gaps, officer_name=officer_name)
        where = address(r.person)
        assert r.person.id is not None and where is not None
        out.append(Delivery(r.person.id, where[1], rnd.id, slot, reply, lang, where[0],
                            tuple(u.unit.id for u in r.units if u.unit.id is not None),
                            officer_name, today))
    return out


def fresh_reminder(d: Delivery, *, session: Session) -> Delivery | None:
    """The reminder ``d`` as it must read now: itself when the person's units have nothing
    new since it was written (two queries), else written again; None when they lack
    nothing any more (or the round was closed)."""
    if store.fingerprint(d.round_id, d.unit_ids, session=session) == d.seen:
        return d
    rnd = session.get(Round, d.round_id)
    if rnd is None or rnd.closed_at is not None:
        return None
    r = store.recipient_now(rnd, d.person_id, d.unit_ids, session=session)
    if r is None:
        return None
    assert d.today is not None
    (fresh,) = reminder_deliveries(rnd, [r], d.slot, d.today, officer_name=d.officer_name)
    return replace(fresh, locale=d.locale, chat_id=d.chat_id)


def digest_reply(rnd: Round, commune: Unit, today: date, *, session: Session, tz: Any,
                 progress: Sequence[store.UnitProgress] | None = None) -> Reply:
    """The officers' view of a round: submitted / expected, late units, unreachable people."""
    progress = store.round_progress(rnd, session=session) if progress is None else progress
    units = [plan.UnitLine(p.unit.name, len(p.expected), tuple(i.code for i in p.missing),
                           p.submitted) for p in progress]
    unreachable = [(p.name, u.name)
                   for p, u in store.unreachable_people(rnd, session=session, progress=progress)]
    closed_on = local_date(rnd.closed_at, tz) if rnd.closed_at else None
    return plan.digest(commune.name, rnd.year, rnd.unit_deadline, rnd.consolidation_deadline,
                       today, units, unreachable, closed_on=closed_on)


# ------------------------------------------------------------------ pacing


class Pacer:
    """At most ``per_second`` sends overall and one per ``per_chat`` seconds to a chat.

    Each caller reserves the next free instant and sleeps until it, without holding the lock;
    a sliding one-second window then makes sure a late wake-up of several callers never
    bursts above the limit. A 429 pauses everyone for ``retry_after``.
    """

    def __init__(self, per_second: float, per_chat: float = PER_CHAT_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        if per_second <= 0:
            raise ValueError("messages_per_second must be positive")
        self.interval = 1.0 / per_second
        self.cap = max(1, int(per_second))
        self._sent: deque[float] = deque()
        self.per_chat = per_chat
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, chat_id: int) -> None:
        """Wait for this chat's and everyone's turn."""
        while True:
            ahead = self._chat_next.get(chat_id, 0.0) - self._clock()
            if ahead > 0:
                await self._sleep(ahead)
                continue
            async with self._lock:
                now = self._clock()
                if self._chat_next.get(chat_id, 0.0) > now:
                    continue  # another message to this chat took the turn
                start = max(now, self._next, self._paused_until)
                self._next = start + self.interval
                self._chat_next[chat_id] = start + self.per_chat
            if start > now:
                await self._sleep(start - now)
            await self._window()
            return

    async def _window(self) -> None:
        """However late the loop woke up: never more than ``per_second`` in any second."""
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= 1.0:
                self._sent.popleft()
            if len(self._sent) < self.cap:
                self._sent.append(now)
                return
            await self._sleep(self._sent[0] + 1.0 - now)

    def pause(self, seconds: float) -> None:
        """Telegram said "retry after": nobody sends before then."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)


async def _wait_out(fut: asyncio.Future[Any]) -> Any:
    """Wait until ``fut`` is done whatever cancellations arrive meanwhile; its result."""
    while not fut.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(fut)
    return fut.result()


async def _finish(aw: Any) -> Any:
    """Await to completion even if cancelled meanwhile; the cancellation is re-raised after."""
    fut = asyncio.ensure_future(aw)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await _wait_out(fut)
        raise


# ------------------------------------------------------------------ the sender


class SendLock:
    """One sending batch at a time across every bot process on the database.

    Each process paces itself; with several webhook workers their batches would add up past
    Telegram's overall limit. On PostgreSQL a session-level advisory lock, held on its own
    connection for the batch, lets one batch go at a time (a killed process's connection
    closes and frees it). SQLite serves one process: nothing to share.
    """

    def __init__(self, engine: Engine, *, sleep: Callable[[float], Any] = asyncio.sleep,
                 poll: float = 0.2) -> None:
        self.engine, self._sleep, self.poll = engine, sleep, poll
        self._conn: Any = None

    async def __aenter__(self) -> SendLock:
        if self.engine.dialect.name != "postgresql":
            return self
        self._conn = await asyncio.to_thread(self.engine.connect)
        try:
            while not await asyncio.to_thread(self._try):
                await self._sleep(self.poll)
        except BaseException:
            await _finish(asyncio.to_thread(self._close, False))
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await _finish(asyncio.to_thread(self._close, True))

    def _try(self) -> bool:
        got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                 {"k": SEND_LOCK_KEY}).scalar()
        self._conn.commit()
        return bool(got)

    def _close(self, held: bool) -> None:
        conn, self._conn = self._conn, None
        try:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SEND_LOCK_KEY})
                conn.commit()
            conn.close()
        except Exception:  # noqa: BLE001 - the connection is gone: the lock went with it
            conn.invalidate()


class Sender:
    """Claims, sends and records deliveries, paced, with a few workers in flight."""

    def __init__(self, engine: Engine, messenger: Messenger, *,
                 messages_per_second: float = DEFAULT_RATE,
                 per_chat_seconds: float = PER_CHAT_SECONDS,
                 now: Callable[[], datetime] = _utcnow, workers: int | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.engine, self.messenger, self.now = engine, messenger, now
        self.pacer = Pacer(messages_per_second, per_chat_seconds, sleep=sleep)
        self.workers = workers or max(4, int(messages_per_second * 2))
        self._sleep = sleep

    async def deliver(self, deliveries: Sequence[Delivery]) -> FanOut:
        """Send every delivery once (skipping those someone already claimed), one batch at a
        time across processes."""
        if not deliveries:
            return FanOut()
        async with SendLock(self.engine):  # real time: it waits for other processes
            return await self._deliver(deliveries)

    async def _deliver(self, deliveries: Sequence[Delivery]) -> FanOut:
        report = FanOut()
        queue = deque(deliveries)

        async def worker() -> None:
            while queue:
                await self._one(queue.popleft(), report)

        tasks = [asyncio.create_task(worker()) for _ in range(min(self.workers, len(queue)))]
        try:
            await asyncio.gather(*tasks)
        except BaseException as exc:
            # stopped (gather cancelled the workers) or a worker failed (cancel the others):
            # wait until every worker has recorded or given back its message, since gather
            # returns at the first cancelled one
            if not isinstance(exc, asyncio.CancelledError):
                for task in tasks:
                    task.cancel()
            while not all(t.done() for t in tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait(tasks)
            raise
        return report

    # -- one message

    async def _one(self, d: Delivery, report: FanOut) -> None:
        await self.pacer.acquire(d.chat_id)
        claiming = asyncio.ensure_future(asyncio.to_thread(self._claim, d))
        try:
            claimed, fresh = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            if (await _wait_out(claiming))[0]:
                await _finish(asyncio.to_thread(self._settle, d, None))
            raise
        if not claimed:
            report.skipped += 1
            return
        if fresh is None:  # nothing missing any more: nothing to say
            await _finish(asyncio.to_thread(self._settle, d, store.STALE))
            report.skipped += 1
            return
        d = fresh
        text, rows = render_reply(d.reply, d.locale, self.messenger.limits.wording)
        parts = pieces(text, rows, self.messenger.limits)
        sent: list[int] = []
        try:
            outcome = await self._send(d, parts, sent, report)
        except asyncio.CancelledError:
            outcome = store.SENT if sent else None
            report.sent += bool(sent)
            report.released += not sent
            await _finish(asyncio.to_thread(self._settle, d, outcome))
            raise
        await _finish(asyncio.to_thread(self._settle, d, outcome))
        if outcome == store.SENT:
            report.sent += 1
        elif outcome == store.BLOCKED:
            report.blocked += 1
        elif outcome is None:
            report.released += 1
        else:
            report.failed += 1

    async def _send(self, d: Delivery, parts: list[tuple[str, Choices]], sent: list[int],
                    report: FanOut) -> str | None:
        """Send the pieces of a claimed message; the outcome (None: give the claim back)."""
        network_failures = 0
        n = 0
        paced = True  # the first attempt was paced by the caller, every other one is here
        while n < len(parts):
            if not paced:
                await self.pacer.acquire(d.chat_id)
            paced = False
            piece, choices = parts[n]
            call = asyncio.ensure_future(self.messenger.send_text(d.chat_id, piece, choices))
            try:
                message_id = await asyncio.shield(call)
            except asyncio.CancelledError:
                # the request is on its way: let it finish, so the log tells the truth
                with contextlib.suppress(Exception):
                    sent.append(await _wait_out(call))
                raise
            except RetryLater as exc:
                report.retries_429 += 1
                log.info("429 for chat %s: retrying the same message in %.0f s", d.chat_id,
                         exc.seconds)
                self.pacer.pause(exc.seconds)
                await self._sleep(exc.seconds)
                continue
            except Blocked as exc:
                log.info("person %s blocked the bot (%s)", d.person_id, exc)
                return store.BLOCKED
            except MaybeSent as exc:
                # the request may have arrived: sending it again could send it twice
                log.warning("reminder %s to person %s timed out: not resent (%s)",
                            d.slot, d.person_id, exc)
                return store.SENT if sent else store.FAILED
            except Refused as exc:
                log.warning("reminder %s to person %s refused: %s", d.slot, d.person_id, exc)
                return store.SENT if sent else store.FAILED
            except Busy:  # never left this process: again at once
                network_failures += 1
                if network_failures > NETWORK_RETRIES:
                    return store.SENT if sent else None
                continue
            except NetworkDown as exc:
                network_failures += 1
                if network_failures > NETWORK_RETRIES:
                    log.warning("reminder %s to person %s: network down, given back (%s)",
                                d.slot, d.person_id, exc)
                    return store.SENT if sent else None
                await self._sleep(min(2.0 ** network_failures, 30.0))
                continue
            except MessengerError as exc:
                log.warning("reminder %s to person %s failed: %s", d.slot, d.person_id, exc)
                return store.SENT if sent else store.FAILED
            sent.append(message_id)
            n += 1
        return store.SENT

    # -- the log (in worker threads)

    def _claim(self, d: Delivery) -> tuple[bool, Delivery | None]:
        """Claim the message; then, for a reminder, read what is missing now (after every
        answer committed so far): the message to send, None when nothing is missing."""
        with Session(self.engine, expire_on_commit=False) as session:
            ok = store.claim(session=session, person_id=d.person_id, round_id=d.round_id,
                             slot=d.slot, now=self.now())
            fresh = fresh_reminder(d, session=session) if ok and d.refreshed else d
            session.commit()
            return ok, fresh

    def _settle(self, d: Delivery, outcome: str | None) -> None:
        with Session(self.engine) as session:
            if outcome is None:
                store.release(session=session, person_id=d.person_id, round_id=d.round_id,
                              slot=d.slot)
            else:
                store.mark(session=session, person_id=d.person_id, round_id=d.round_id,
                           slot=d.slot, outcome=outcome, now=self.now())
                if outcome == store.BLOCKED:
                    store.set_unreachable(d.person_id, session=session)
            session.commit()


# ------------------------------------------------------------------ the scheduler


class Reminders:
    """Everything about reminders in one bot process: what is due, the sender, the jobs."""

    def __init__(self, engine: Engine, messenger: Messenger, *, tz: Any,
                 messages_per_second: float = DEFAULT_RATE,
                 now: Callable[[], datetime] | None = None, workers: int | None = None,
                 daytime: plan.Daytime = plan.DAYTIME, channel: str = "telegram") -> None:
        self.engine, self.tz, self.daytime = engine, tz, daytime
        self._now = now
        self.sender = Sender(engine, messenger, messages_per_second=messages_per_second,
                             now=self.utcnow, workers=workers)
        self.senders = {channel: self.sender}  # one per messenger, each at its own pace
        self.job_queue: Any = None
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rebuilding = asyncio.Lock()  # updates handled at once may each ask for it

    def utcnow(self) -> datetime:
        """Now (aware, UTC), from the injected clock when there is one."""
        return self._now() if self._now is not None else _utcnow()

    def today(self, at: datetime | None = None) -> date:
        """The local date."""
        return (at or self.utcnow()).astimezone(self.tz).date()

    # -- what is due (sync, worker threads)

    def _targets(self, rnd: Round, slot: plan.Slot, session: Session) -> list[int]:
        if slot.stream == plan.DIGEST:
            return [p.id for p in store.officers(rnd.commune_id, session=session) if p.id]
        return [r.person.id for r in store.pending_recipients(rnd, session=session)
                if r.person.id]

    def due_now(self, at: datetime, round_ids: Iterable[int] | None = None
                ) -> list[tuple[int, tuple[plan.Slot, ...], tuple[str, ...]]]:
        """Mark the missed slots stale; the current slots of every open round."""
        wanted = set(round_ids) if round_ids is not None else None
        out = []
        with Session(self.engine, expire_on_commit=False) as session:
            for rnd in store.active_rounds(session=session, today=self.today(at)):
                if wanted is not None and rnd.id not in wanted:
                    continue
                assert rnd.id is not None
                orphans = store.release_orphans(rnd.id, session=session,
                                                before=at - ORPHANED_CLAIM)
                if orphans:
                    log.warning("round %s: %d reminder(s) claimed by a process that stopped "
                                "before sending; given back to be sent again (%s)", rnd.id,
                                len(orphans), ", ".join(sorted({o.slot for o in orphans})))
                slots = plan.schedule(plan.Timing.of(rnd), self.tz, self.daytime)
                due = plan.due(slots, at, store.handled_slots(rnd.id, session=session),
                               daytime=self.daytime, tz=self.tz)
                targets: dict[str, list[int]] = {}  # per stream: who the slot was for
                for slot in due.stale:
                    if slot.stream not in targets:
                        targets[slot.stream] = self._targets(rnd, slot, session)
                    n = store.mark_stale(rnd.id, slot.key, targets[slot.stream],
                                         session=session, now=at)
                    log.info("round %s: slot %s was missed, marked stale for %d", rnd.id,
                             slot.key, n)
                session.commit()
                if due.send or due.stale:
                    out.append((rnd.id, due.send, tuple(s.key for s in due.stale)))
        return out

    def deliveries_for(self, round_id: int, slot: plan.Slot, at: datetime) -> list[Delivery]:
        """The messages of a slot still to send (people already logged are left out)."""
        with Session(self.engine, expire_on_commit=False) as session:
            rnd = session.get(Round, round_id)
            if rnd is None or rnd.closed_at is not None:
                return []
            done = store.logged_people(round_id, slot.key, session=session)
            progress = store.round_progress(rnd, session=session)
            if slot.stream == plan.REMIND:
                recipients = [r for r in store.pending_recipients(rnd, session=session,
                                                                  progress=progress)
                              if r.person.id not in done]
                out = reminder_deliveries(rnd, recipients, slot.key, self.today(at))
                seen = {u: (u, tuple(sorted(p.complete_all)), p.submitted)
                        for p in progress for u in [p.unit.id]}
                return [replace(d, seen=tuple(seen[u] for u in sorted(d.unit_ids)))
                        for d in out]
            commune = session.get(Unit, rnd.commune_id)
            assert commune is not None
            reply = digest_reply(rnd, commune, self.today(at), session=session,
                                 tz=self.tz, progress=progress)
            return [Delivery(p.id, where[1], round_id, slot.key, reply, p.language or "vi",
                             where[0])
                    for p in store.officers(rnd.commune_id, session=session)
                    if p.id not in done and p.id is not None
                    and (where := address(p)) is not None]

    def next_slots(self, at: datetime) -> dict[int, plan.Slot]:
        """The next slot of every open round after ``at``."""
        out = {}
        with Session(self.engine) as session:
            for rnd in store.active_rounds(session=session, today=self.today(at)):
                assert rnd.id is not None
                nxt = plan.next_slot(plan.schedule(plan.Timing.of(rnd), self.tz, self.daytime),
                                     at, daytime=self.daytime, tz=self.tz,
                                     handled=store.handled_slots(rnd.id, session=session))
                if nxt is not None and rnd.id is not None:
                    out[rnd.id] = nxt
        return out

    # -- running

    def _lock(self, round_id: int) -> asyncio.Lock:
        return self._locks.setdefault(round_id, asyncio.Lock())

    async def run_due(self, at: datetime | None = None,
                      round_ids: Iterable[int] | None = None) -> RunReport:
        """Send what is due at ``at`` (default: now) and mark what was missed stale."""
        at = at or self.utcnow()
        report = RunReport()
        for round_id, send, stale in await asyncio.to_thread(self.due_now, at, round_ids):
            report.stale.extend(stale)
            async with self._lock(round_id):
                for slot in send:
                    batch = await asyncio.to_thread(self.deliveries_for, round_id, slot, at)
                    result = await self.deliver(batch)
                    report.slots[slot.key] = report.slots.get(slot.key, FanOut()).add(result)
                    if batch:
                        log.info("round %s slot %s: %s", round_id, slot.key, result)
        return report

    def add_channel(self, channel: str, messenger: Messenger, *,
                    messages_per_second: float = DEFAULT_RATE) -> None:
        """Send the people of another channel through its messenger, at its own pace."""
        self.senders[channel] = Sender(self.engine, messenger,
                                       messages_per_second=messages_per_second, now=self.utcnow)

    async def deliver(self, deliveries: Sequence[Delivery]) -> FanOut:
        """Send prepared deliveries (a slot's batch, an officer's nudge), each through the
        messenger of the person's channel; the channels go out side by side."""
        groups: dict[str, list[Delivery]] = {}
        for d in deliveries:
            groups.setdefault(d.channel, []).append(d)
        report = FanOut()
        jobs = []
        for channel, group in groups.items():
            sender = self.senders.get(channel)
            if sender is None:
                log.warning("%d message(s) for %s, which this process does not run: not sent",
                            len(group), channel)
                report.skipped += len(group)
                continue
            jobs.append(sender.deliver(group))
        for result in await asyncio.gather(*jobs):
            report.add(result)
        return report

    def spawn(self, coro: Any, name: str = "reminders") -> asyncio.Task[Any]:
        """Run in the background; ``stop`` cancels it gracefully."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # -- the jobs (PTB's JobQueue: the one APScheduler)

    async def start(self, job_queue: Any) -> None:
        """Catch up on what was missed, schedule the next slots, resync every ten minutes."""
        self.job_queue = job_queue
        job_queue.run_repeating(self._resync_job, interval=RESYNC_SECONDS, first=RESYNC_SECONDS,
                                name="reminders:resync")
        await self.rebuild()
        self.spawn(self._catch_up(), "reminders:catch-up")

    async def _catch_up(self) -> None:
        report = await self.run_due()
        if report.slots or report.stale:
            log.info("catch-up: sent %s, stale %s", report.total, report.stale)

    async def rebuild(self) -> dict[int, datetime]:
        """Schedule one job per open round at its next slot (the database is the truth)."""
        if self.job_queue is None:
            return {}
        async with self._rebuilding:  # one after the other: the last read is the one scheduled
            now = self.utcnow()
            nexts = await asyncio.to_thread(self.next_slots, now)
            for job in self.job_queue.jobs(pattern=r"^reminders:round:"):
                job.schedule_removal()
            for round_id, slot in nexts.items():
                delay = max((slot.at - now).total_seconds(), 0.0)
                self.job_queue.run_once(self._round_job, when=delay,
                                        name=f"reminders:round:{round_id}",
                                        data={"round_id": round_id, "slot": slot.key,
                                              "at": slot.at})
        return {rid: s.at for rid, s in nexts.items()}

    async def _round_job(self, context: Any) -> None:
        round_id = context.job.data["round_id"]  # type: ignore[union-attr,index]
        self.spawn(self._run_round(round_id), f"reminders:round:{round_id}")

    async def _run_round(self, round_id: int) -> None:
        try:
            await self.run_due(round_ids=[round_id])
        except Exception:  # noqa: BLE001 - the database or the network is down: try again
            log.exception("round %s: reminders failed, retrying in %s s", round_id, RETRY_SECONDS)
            if self.job_queue is not None:
                self.job_queue.run_once(self._round_job, when=RETRY_SECONDS,
                                        name=f"reminders:retry:{round_id}",
                                        data={"round_id": round_id})
            return
        await self.rebuild()

    async def _resync_job(self, context: Any) -> None:
        await self.rebuild()

    async def stop(self) -> None:
        """Stop the jobs and the batches in progress (what is in flight is recorded)."""
        if self.job_queue is not None:
            for job in self.job_queue.jobs(pattern=r"^reminders:"):
                job.schedule_removal()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ------------------------------------------------------------------ reachability


def set_reachable(engine: Engine, telegram_id: int | str, reachable: bool) -> None:
    """The person blocked the bot (unreachable) or came back (reachable again)."""
    with Session(engine) as session:
        pid = session.exec(select(Person.id).where(Person.telegram_id == telegram_id)).first()
        if pid is not None:
            store.set_unreachable(pid, not reachable, session=session)
            session.commit()
