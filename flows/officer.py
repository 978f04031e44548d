"""The officer's conversations: closing a round (/chot, with confirmation) and changing its
deadlines (/hanchot ARGS). Pure: the round as the officer sees it and what they typed or
pressed go in; the round afterwards and the effects (replies, the change to make) come out.
The shell reads and writes the database; see officer.md for the diagrams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from flows.callbacks import ascii_int
from flows.effects import Button, Day, Msg, Reply, msg
from flows.numbers import parse_day

MAX_DAYS_BEFORE = 60  # a reminder at most this many days before the unit deadline
CLOSE, KEEP = "close", "keep"
PREFIX = "off"  # callback data of the /chot buttons: off:close:ROUND, off:keep:ROUND


@dataclass(frozen=True)
class RoundView:
    """A round as the officer's commands see it."""

    round_id: int
    year: int
    unit_deadline: date
    consolidation_deadline: date
    days_before: tuple[int, ...] = ()
    every_days_after: int | None = None
    closed_on: date | None = None
    submitted: int = 0  # units that sent their report
    expected: int = 0  # units expected to


@dataclass(frozen=True)
class Commune:
    """One commune of the officer, with its open round (None: no round open)."""

    code: str
    name: str
    round: RoundView | None


@dataclass(frozen=True)
class SetDeadlines:
    """Change a round's deadlines and reminder days."""

    round_id: int
    unit_deadline: date
    consolidation_deadline: date
    days_before: tuple[int, ...]


@dataclass(frozen=True)
class CloseRound:
    """Close ("chốt") a round: its values are locked from now on."""

    round_id: int
    reason: str = ""  # the officer's words, when given (the web page asks for them)


@dataclass(frozen=True)
class ReopenRound:
    """Open a closed round again, for the reason given."""

    round_id: int
    reason: str


Effect = Reply | SetDeadlines | CloseRound | ReopenRound


@dataclass(frozen=True)
class Result:
    """The round after the step (None: no round was concerned) and what to do."""

    state: RoundView | None
    effects: tuple[Effect, ...]


def _say(*lines: Msg, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return Reply(tuple(lines), buttons)


def no_round(commune_name: str) -> Reply:
    """The commune has no round open."""
    return _say(msg("officer.no_round", commune_name=commune_name))


# ------------------------------------------------------------------ /chot (/close)


def close_data(action: str, round_id: int) -> str:
    """The callback data of a /chot button."""
    return f"{PREFIX}:{action}:{round_id}"


def parse_close_data(data: str) -> tuple[str, int] | None:
    """(action, round id) of a /chot button; None when it is not one."""
    prefix, action, rid = (data.split(":") + ["", "", ""])[:3]
    round_id = ascii_int(rid)
    if prefix != PREFIX or action not in (CLOSE, KEEP) or round_id is None:
        return None
    return action, round_id


def ask_close(communes: Sequence[Commune]) -> Result:
    """/chot: for each commune, ask to confirm closing its round (or say why not)."""
    out: list[Effect] = []
    for c in communes:
        rnd = c.round
        if rnd is None:
            out.append(no_round(c.name))
        elif rnd.closed_on is not None:
            out.append(_say(msg("close.already", year=rnd.year, commune_name=c.name,
                                closed_on=Day(rnd.closed_on))))
        else:
            out.append(_say(msg("close.confirm", year=rnd.year, commune_name=c.name,
                                submitted=rnd.submitted, expected=rnd.expected),
                            buttons=((Button(msg("btn.close_confirm"),
                                             close_data(CLOSE, rnd.round_id)),
                                      Button(msg("btn.close_keep"),
                                             close_data(KEEP, rnd.round_id))),)))
    return Result(None, tuple(out))


def close_pressed(action: str | None, commune_name: str | None, rnd: RoundView | None,
                  today: date) -> Result:
    """A /chot button: close the round, or keep it open. ``rnd`` None: the round is gone or
    not one of the officer's communes (a stale or forged button)."""
    if action not in (CLOSE, KEEP) or rnd is None or commune_name is None:
        return Result(None, (_say(msg("report.stale_button")),))
    if rnd.closed_on is not None:
        return Result(rnd, (_say(msg("close.already", year=rnd.year, commune_name=commune_name,
                                     closed_on=Day(rnd.closed_on))),))
    if action == KEEP:
        return Result(rnd, (_say(msg("close.kept", year=rnd.year)),))
    return Result(replace(rnd, closed_on=today), (
        CloseRound(rnd.round_id),
        _say(msg("close.done", year=rnd.year, commune_name=commune_name,
                 closed_on=Day(today)))))


MAX_REASON = 300  # characters of the reason given for closing or reopening a round


def reason_of(text: str) -> str | None:
    """The reason an officer typed, on one line; None when empty or too long."""
    reason = " ".join(text.split())
    return reason if 0 < len(reason) <= MAX_REASON else None


def close_for(commune_name: str, rnd: RoundView | None, reason_typed: str,
              today: date) -> Result:
    """Close a round after the officer confirmed it and gave the reason (the web page)."""
    reason = reason_of(reason_typed)
    if rnd is not None and rnd.closed_on is None and reason is None:
        return Result(rnd, (_say(msg("close.reason_needed", limit=MAX_REASON)),))
    result = close_pressed(CLOSE, commune_name, rnd, today)
    return Result(result.state, tuple(CloseRound(e.round_id, reason or "")
                                      if isinstance(e, CloseRound) else e
                                      for e in result.effects))


def reopen(commune_name: str, rnd: RoundView | None, reason_typed: str,
           today: date) -> Result:
    """Open a closed round again, for a reason; figures can then change until the
    consolidation deadline."""
    if rnd is None:
        return Result(None, (_say(msg("report.stale_button")),))
    if rnd.closed_on is None:
        return Result(rnd, (_say(msg("reopen.not_closed", year=rnd.year,
                                     commune_name=commune_name)),))
    reason = reason_of(reason_typed)
    if reason is None:
        return Result(rnd, (_say(msg("close.reason_needed", limit=MAX_REASON)),))
    lines = [msg("reopen.done", year=rnd.year, commune_name=commune_name)]
    if today > rnd.consolidation_deadline:
        lines.append(msg("reopen.past_deadline",
                         consolidation_deadline=Day(rnd.consolidation_deadline)))
    return Result(replace(rnd, closed_on=None), (ReopenRound(rnd.round_id, reason),
                                                 _say(*lines)))


# ------------------------------------------------------------------ /hanchot (/deadline)


def _days_text(days: Sequence[int]) -> str:
    return ", ".join(str(d) for d in days)


def _looks_like_date(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def parse_days(text: str) -> tuple[int, ...] | None:
    """Reminder days before the deadline ("7,3,1,0"), largest first; None if unreadable."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    numbers = [ascii_int(p, max_digits=4) for p in parts]
    if not parts or None in numbers:
        return None
    days = sorted({n for n in numbers if n is not None}, reverse=True)
    return tuple(days) if days[0] <= MAX_DAYS_BEFORE else None


def _pick(communes: Sequence[Commune], args: list[str]) -> Commune | Reply:
    """The commune the command is about: the only one with a round, or the one named first
    (its code is then taken off ``args``); a reply when it cannot be told."""
    rounds = [c for c in communes if c.round is not None]
    if args and not _looks_like_date(args[0]):
        wanted = args[0].lower()
        match = [c for c in rounds
                 if c.code.lower() == wanted or c.code.lower().endswith("/" + wanted)]
        if len(match) == 1:
            args.pop(0)
            return match[0]
        if len(args) != 2:  # two words are two dates, one of them unreadable: said below
            return _say(msg("deadline.unknown_commune", text=args[0][:30],
                            codes=", ".join(c.code for c in rounds) or "—"))
    if not rounds:
        return no_round(communes[0].name)
    if len(rounds) > 1:
        return _say(msg("officer.which_commune", codes=", ".join(c.code for c in rounds)))
    return rounds[0]


def deadline(communes: Sequence[Commune], args: Sequence[str], today: date) -> Result:
    """/hanchot [COMMUNE] [UNIT_DEADLINE CONSOLIDATION_DEADLINE [DAYS]]: show or change.

    A date in the past, a consolidation deadline before the unit deadline, a date after the
    end of the next year, a closed round or anything unreadable is refused with the reason,
    and nothing changes.
    """
    rest = [a for a in args if a.strip()]
    picked = _pick(communes, rest)
    if isinstance(picked, Reply):
        return Result(None, (picked,))
    rnd = picked.round
    assert rnd is not None

    def refuse(*lines: Msg) -> Result:
        return Result(rnd, (_say(*lines),))

    if not rest:
        return refuse(msg("deadline.current", year=rnd.year, commune_name=picked.name,
                          deadline=Day(rnd.unit_deadline),
                          consolidation_deadline=Day(rnd.consolidation_deadline),
                          days_before=_days_text(rnd.days_before),
                          every=rnd.every_days_after),
                      msg("deadline.usage"))
    if len(rest) not in (2, 3):
        return refuse(msg("deadline.usage"))
    parsed: list[date] = []
    for text in rest[:2]:
        day = parse_day(text, rnd.year)
        if day is None:
            return refuse(msg("deadline.bad_date", text=text[:20]), msg("deadline.usage"))
        parsed.append(day)
    unit_deadline, consolidation = parsed
    latest = date(rnd.year + 1, 12, 31)  # a report on year Y is made by the end of Y+1
    if consolidation > latest or unit_deadline > latest:
        return refuse(msg("deadline.too_late", year=rnd.year, latest=Day(latest)))
    days = rnd.days_before
    if len(rest) == 3:
        new_days = parse_days(rest[2])
        if new_days is None:
            return refuse(msg("deadline.bad_days", text=rest[2][:30], limit=MAX_DAYS_BEFORE))
        days = new_days
    if rnd.closed_on is not None:
        return refuse(msg("deadline.closed", year=rnd.year, closed_on=Day(rnd.closed_on)))
    for d in (unit_deadline, consolidation):
        if d < today:
            return refuse(msg("deadline.past", deadline=Day(d), today=Day(today)))
    if consolidation < unit_deadline:
        return refuse(msg("deadline.order", deadline=Day(unit_deadline),
                          consolidation_deadline=Day(consolidation)))
    after = replace(rnd, unit_deadline=unit_deadline, consolidation_deadline=consolidation,
                    days_before=days)
    return Result(after, (
        SetDeadlines(rnd.round_id, unit_deadline, consolidation, days),
        _say(msg("deadline.changed", year=rnd.year, commune_name=picked.name,
                 deadline=Day(unit_deadline), consolidation_deadline=Day(consolidation),
                 days_before=_days_text(days)))))
