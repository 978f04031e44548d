"""Reminders as pure functions: the schedule of a round, what is due at a time, the messages.

A round reminds its reporting units 7, 3 and 1 days before the unit deadline and on the day
(``reminder_days_before``), at ``reminder_time`` local; then every ``every_days_after`` days
after the deadline until the consolidation deadline (inclusive). The officers get a daily
digest from three days before the unit deadline until the consolidation deadline.

Every slot has a key that names it in the ReminderLog (``remind:2026-11-03``,
``digest:2026-11-07``, ``manual:2026-11-25T09``): the key is made from the local date, so a
slot sent once is never sent again, even when the deadline is moved afterwards.

A slot is *current* from its time until the next slot of the same stream or the end of the
day it is useful for (the unit deadline day for reminders before the deadline, the
consolidation deadline day after it, its own day for a digest). Slots that were never handled
and are no longer current are *stale*: when the bot was down, only the current slot is sent
on start, the others are marked stale.

Nobody is woken at night: reminders and digests go out only in the day (``Daytime``, 07:00 to
20:00 local by default). A slot whose time falls outside it goes out at the day's start; a
current slot found at night (the bot restarted at 02:20) waits for the morning and is sent
then, once (its ReminderLog rows say who already has it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, cast

from flows.callbacks import ascii_int
from flows.effects import Button, Day, Msg, Reply, msg
from flows.report import Sheet, data

DIGEST_DAYS_BEFORE = 3  # the officers' daily digest starts three days before the unit deadline
FIRST_CODES = 3  # how many missing indicators a reminder names
DIGEST_CODES = 3  # how many missing codes the digest names per unit

REMIND = "remind"
DIGEST = "digest"
MANUAL = "manual"


# ------------------------------------------------------------------ the schedule


@dataclass(frozen=True)
class Timing:
    """What the schedule needs from a round."""

    unit_deadline: date
    consolidation_deadline: date
    days_before: tuple[int, ...] = (7, 3, 1, 0)
    time: str = "09:00"
    every_days_after: int = 2

    @classmethod
    def of(cls, rnd: Any) -> Timing:
        """The timing of a Round (any object with the Round's attributes)."""
        return cls(rnd.unit_deadline, rnd.consolidation_deadline,
                   tuple(rnd.reminder_days_before or ()), rnd.reminder_time or "09:00",
                   int(rnd.reminder_every_days_after or 0))


@dataclass(frozen=True)
class Slot:
    """One moment something goes out: reminders to the units, or the officers' digest."""

    key: str  # the ReminderLog slot
    kind: str  # before | day | after | digest
    day: date  # local date
    at: datetime  # aware, UTC
    until: datetime  # aware, UTC, exclusive: after this the slot is stale

    @property
    def stream(self) -> str:
        """``remind`` or ``digest``: slots of one stream replace each other."""
        return DIGEST if self.kind == DIGEST else REMIND


@dataclass(frozen=True)
class Daytime:
    """The hours messages may go out, local: from ``start`` (inclusive) to ``end``."""

    start: time = time(7, 0)
    end: time = time(20, 0)

    @classmethod
    def parse(cls, start: str, end: str) -> Daytime:
        """From "07:00" and "20:00"; ValueError unless start < end."""
        out = cls(parse_hhmm(start), parse_hhmm(end))
        if not out.start < out.end:
            raise ValueError(f"the day must start before it ends, not {start}–{end}")
        return out

    def allows(self, moment: datetime, tz: tzinfo) -> bool:
        """``moment`` (aware) falls in the day, local time."""
        t = moment.astimezone(tz).time()
        return self.start <= t < self.end

    def next_allowed(self, moment: datetime, tz: tzinfo) -> datetime:
        """``moment`` itself if it falls in the day, else the start of the next day (UTC)."""
        if self.allows(moment, tz):
            return moment
        local = moment.astimezone(tz)
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        return datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC)

    def clamp(self, hhmm: str) -> str:
        """A slot's time moved into the day: before it, at its start; after it, at its start
        too (the same day: the slot keeps its date, so its key)."""
        t = parse_hhmm(hhmm)
        return hhmm if self.start <= t < self.end else f"{self.start:%H:%M}"


DAYTIME = Daytime()


def parse_hhmm(text: str) -> time:
    """"09:00" as a time; ValueError for anything else."""
    hh, sep, mm = text.strip().partition(":")
    hour, minute = ascii_int(hh, max_digits=2), ascii_int(mm, max_digits=2)
    if not sep or hour is None or minute is None or len(mm) != 2:
        raise ValueError(f"expected a time as HH:MM, not {text!r}")
    return time(hour, minute)


def local_at(day: date, hhmm: str, tz: tzinfo) -> datetime:
    """The UTC instant of ``hhmm`` local time on ``day``."""
    return datetime.combine(day, parse_hhmm(hhmm), tzinfo=tz).astimezone(UTC)


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The UTC instant the local ``day`` ends (midnight after it)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def _key(stream: str, day: date) -> str:
    return f"{stream}:{day.isoformat()}"


def reminder_days(t: Timing) -> list[tuple[date, str]]:
    """The local dates reminders go out on, with their kind, in order."""
    out: dict[date, str] = {}
    for n in sorted({d for d in t.days_before if d >= 0}, reverse=True):
        out[t.unit_deadline - timedelta(days=n)] = "day" if n == 0 else "before"
    if t.every_days_after > 0:
        day = t.unit_deadline + timedelta(days=t.every_days_after)
        while day <= t.consolidation_deadline:
            out[day] = "after"
            day += timedelta(days=t.every_days_after)
    return sorted(out.items())


def reminder_slots(t: Timing, tz: tzinfo, daytime: Daytime = DAYTIME) -> list[Slot]:
    """The reminder slots of a round, in time order."""
    t = replace(t, time=daytime.clamp(t.time))
    days = reminder_days(t)
    slots = []
    for n, (day, kind) in enumerate(days):
        last_day = t.unit_deadline if kind in ("before", "day") else t.consolidation_deadline
        until = end_of_day(last_day, tz)
        if n + 1 < len(days):
            until = min(until, local_at(days[n + 1][0], t.time, tz))
        slots.append(Slot(_key(REMIND, day), kind, day, local_at(day, t.time, tz), until))
    return slots


def digest_slots(t: Timing, tz: tzinfo, daytime: Daytime = DAYTIME) -> list[Slot]:
    """The officers' daily digest: from three days before the unit deadline."""
    t = replace(t, time=daytime.clamp(t.time))
    day = t.unit_deadline - timedelta(days=DIGEST_DAYS_BEFORE)
    slots = []
    while day <= t.consolidation_deadline:
        slots.append(Slot(_key(DIGEST, day), DIGEST, day, local_at(day, t.time, tz),
                          end_of_day(day, tz)))
        day += timedelta(days=1)
    return slots


def schedule(t: Timing, tz: tzinfo, daytime: Daytime = DAYTIME) -> list[Slot]:
    """Every slot of a round (reminders and digests), in time order."""
    return sorted([*reminder_slots(t, tz, daytime), *digest_slots(t, tz, daytime)],
                  key=lambda s: (s.at, s.kind))


@dataclass(frozen=True)
class Due:
    """What to do at a moment: the slots to send now and the missed ones to mark stale."""

    send: tuple[Slot, ...] = ()
    stale: tuple[Slot, ...] = ()


def due(slots: Iterable[Slot], now: datetime, handled: Iterable[str] = (), *,
        daytime: Daytime | None = None, tz: tzinfo | None = None) -> Due:
    """The current slot of each stream (reminders first), and the missed, unhandled ones.

    ``handled`` are the keys that already have ReminderLog rows; the current slot is sent
    even when handled, to finish a batch a restart interrupted (the log skips whoever has it).
    With a ``daytime`` (and the ``tz`` it is read in), nothing is sent at night: a current
    slot waits for the morning (``next_run`` says when), unless it is no longer useful by
    then, when it is stale.
    """
    done = set(handled)
    night = daytime is not None and tz is not None and not daytime.allows(now, tz)
    send, stale = [], []
    for s in sorted(slots, key=lambda s: (s.at, s.stream != REMIND)):
        if s.at > now:
            continue
        if now < s.until:
            if not night:
                send.append(s)
            elif s.key not in done and daytime is not None and tz is not None and \
                    daytime.next_allowed(now, tz) >= s.until:
                stale.append(s)  # over before the morning: never sent
        elif s.key not in done:
            stale.append(s)
    send.sort(key=lambda s: s.stream != REMIND)  # reminders before the digest: it reports them
    return Due(tuple(send), tuple(stale))


def next_slot(slots: Iterable[Slot], now: datetime, *, daytime: Daytime | None = None,
              tz: tzinfo | None = None, handled: Iterable[str] = ()) -> Slot | None:
    """The first slot after ``now``; with a ``daytime``, a current slot never handled (the
    bot was down at its time) waiting for the morning comes first, its ``at`` moved to the
    morning."""
    slots, done = list(slots), set(handled)
    if daytime is not None and tz is not None and not daytime.allows(now, tz):
        morning = daytime.next_allowed(now, tz)
        waiting = [s for s in slots if s.at <= now < s.until and morning < s.until
                   and s.key not in done]
        if waiting:
            return replace(min(waiting, key=lambda s: s.at), at=morning)
    future = [s for s in slots if s.at > now]
    return min(future, key=lambda s: s.at) if future else None


def manual_slot(now: datetime, tz: tzinfo) -> str:
    """The ReminderLog slot of an officer's nudge: one per local hour."""
    return f"{MANUAL}:{now.astimezone(tz):%Y-%m-%dT%H}"


# ------------------------------------------------------------------ the messages


@dataclass(frozen=True)
class Gap:
    """What one unit still lacks, in the reader's language."""

    unit_name: str
    total: int
    missing: tuple[tuple[str, str], ...]  # (code, name), plan order
    unit_id: int | None = None  # the unit "Báo cáo ngay" opens


@dataclass(frozen=True)
class _RoundRef:
    round_id: int


def go_data(round_id: int, code: str = "", unit_id: int | None = None) -> str:
    """The "Báo cáo ngay" callback data: the report flow's own ``go`` button, for one unit."""
    return data(cast(Sheet, _RoundRef(round_id)), "go", code,
                "" if unit_id is None else str(unit_id))


def _timing_line(year: int, deadline: date, consolidation: date, today: date) -> Msg:
    days = (deadline - today).days
    if days > 0:
        return msg("remind.header_before", year=year, deadline=Day(deadline), days=days)
    if days == 0:
        return msg("remind.header_today", year=year, deadline=Day(deadline))
    return msg("remind.header_late", year=year, deadline=Day(deadline), days=-days,
               consolidation_deadline=Day(consolidation))


def reminder(round_id: int, year: int, deadline: date, consolidation_deadline: date,
             today: date, gaps: Sequence[Gap], *, officer_name: str | None = None,
             first: int = FIRST_CODES) -> Reply:
    """The reminder to one person: what their unit(s) lack, the deadline, "Báo cáo ngay"."""
    lines: list[Msg] = []
    if officer_name:
        lines.append(msg("remind.manual", officer_name=officer_name))
    lines.append(_timing_line(year, deadline, consolidation_deadline, today))
    for gap in gaps:
        if not gap.missing:
            lines.append(msg("remind.unit_unsent", unit_name=gap.unit_name, total=gap.total))
            continue
        lines.append(msg("remind.unit_missing", unit_name=gap.unit_name,
                         missing=len(gap.missing), total=gap.total))
        lines.extend(msg("remind.missing_line", code=code, name=name)
                     for code, name in gap.missing[:first])
        if len(gap.missing) > first:
            lines.append(msg("remind.more", count=len(gap.missing) - first))
    lines.append(msg("remind.action"))
    if len(gaps) == 1:
        gap = gaps[0]
        code = gap.missing[0][0] if gap.missing else ""
        return Reply(tuple(lines), ((Button(msg("btn.report_now"),
                                            go_data(round_id, code, gap.unit_id)),),))
    # one person, several units: one button each, so the figures go where they belong
    rows = tuple((Button(msg("btn.report_now_unit", unit_name=g.unit_name),
                         go_data(round_id, g.missing[0][0] if g.missing else "", g.unit_id)),)
                 for g in gaps)
    return Reply(tuple(lines), rows)


@dataclass(frozen=True)
class UnitLine:
    """One unit in the officers' digest."""

    unit_name: str
    total: int
    missing_codes: tuple[str, ...]
    submitted: bool


def _codes(codes: Sequence[str], first: int = DIGEST_CODES) -> str:
    shown = ", ".join(codes[:first])
    return shown + ("…" if len(codes) > first else "")


def digest(commune_name: str, year: int, deadline: date, consolidation_deadline: date,
           today: date, units: Sequence[UnitLine],
           unreachable: Sequence[tuple[str, str]] = (), *,
           closed_on: date | None = None) -> Reply:
    """Progress for the officers: submitted / expected, who is late and what they lack."""
    submitted = sum(1 for u in units if u.submitted)
    lines: list[Msg] = [msg("digest.header", year=year, commune_name=commune_name,
                            submitted=submitted, expected=len(units))]
    days = (deadline - today).days
    if closed_on is not None:
        lines.append(msg("digest.closed", closed_on=Day(closed_on)))
    elif days > 0:
        lines.append(msg("digest.deadline_future", deadline=Day(deadline), days=days))
    elif days == 0:
        lines.append(msg("digest.deadline_today", deadline=Day(deadline)))
    else:
        lines.append(msg("digest.deadline_past", deadline=Day(deadline), days=-days,
                         consolidation_deadline=Day(consolidation_deadline)))
    pending = [u for u in units if not u.submitted or u.missing_codes]
    if pending:
        key = "digest.late_header" if days < 0 else "digest.pending_header"
        lines.append(msg(key, count=len(pending)))
        for u in pending:
            if u.missing_codes and u.submitted:  # sent early, still to complete
                lines.append(msg("digest.unit_sent_missing", unit_name=u.unit_name,
                                 missing=len(u.missing_codes), total=u.total,
                                 codes=_codes(u.missing_codes)))
            elif u.missing_codes:
                lines.append(msg("digest.unit_missing", unit_name=u.unit_name,
                                 missing=len(u.missing_codes), total=u.total,
                                 codes=_codes(u.missing_codes)))
            else:
                lines.append(msg("digest.unit_unsent", unit_name=u.unit_name))
    elif units:
        lines.append(msg("digest.all_submitted"))
    if unreachable:
        lines.append(msg("digest.unreachable_header", count=len(unreachable)))
        lines.extend(msg("digest.unreachable_line", person_name=p, unit_name=u)
                     for p, u in unreachable)
    if closed_on is None:
        lines.append(msg("digest.hint"))
    return Reply(tuple(lines))
