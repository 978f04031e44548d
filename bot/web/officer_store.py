"""What the officer's pages read and write, synchronously (routes run it in a worker thread).

The same core as the chat: the round's progress (``storage.reminders``), /nhac's rules
(``bot.officer.nudge``), /hanchot and /chot's conversations (``flows.officer``, carried out
by ``bot.officer.apply``) and the report of ``ctvbot report`` (``storage.aggregate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot import officer as officer_shell
from bot.context import Env
from bot.documents import EXCEL_MAX_ROWS
from bot.reminders import Delivery
from bot.service import OFFICER_ROLES
from bot.settings import local_date
from flows import officer as flow
from flows.effects import Reply, msg
from storage import aggregate, repo
from storage import reminders as rstore
from storage.models import Person, Round, Unit, address

# a unit's state in the round, as the progress page shows it
SENT, SENT_LATE, DRAFT, LATE, NOT_STARTED = "sent", "sent_late", "draft", "late", "not_started"


def landing(engine: Engine, person_id: int) -> str:
    """Where a person lands after signing in: an officer's page, else the form."""
    with Session(engine) as session:
        officer = any(m.role in OFFICER_ROLES
                      for m, _ in repo.memberships(person_id, session=session))
    return "/o" if officer else "/form"


@dataclass
class Home:
    """An officer's communes and the upper levels they oversee."""

    communes: list[Unit]
    uppers: list[Unit]


def home(engine: Engine, person_id: int) -> Home:
    """The units a person is officer or admin of: communes, and upper levels."""
    with Session(engine, expire_on_commit=False) as session:
        units = [u for m, u in repo.memberships(person_id, session=session)
                 if m.role in OFFICER_ROLES]
    uppers = [u for u in units if u.kind in repo.UPPER_LEVELS]
    return Home([u for u in units if u not in uppers], uppers)


def upper_unit(engine: Engine, person_id: int, unit_id: int) -> Unit | None:
    """An upper level when this person is officer or admin of it or of a level above it."""
    with Session(engine, expire_on_commit=False) as session:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.kind not in repo.UPPER_LEVELS:
            return None
        mine = {u.id for m, u in repo.memberships(person_id, session=session)
                if m.role in OFFICER_ROLES}
        if any(a.id in mine for a in repo.ancestors(unit, session=session)):
            return unit
    return None


# ------------------------------------------------------------------ progress


@dataclass
class PersonLine:
    """A reporting person of a unit: reachable in a chat or not."""

    name: str
    channel: str
    reachable: bool  # has a chat account and has not blocked the bot


@dataclass
class UnitLine:
    """One unit of the round: its state, what it has and lacks, its people."""

    id: int
    name: str
    state: str
    have: int
    expected: int
    missing: list[tuple[str, str]]  # (code, name)
    submitted_at: datetime | None
    people: list[PersonLine]

    @property
    def pending(self) -> bool:
        """Gets reminders (not sent, or sent with indicators missing)."""
        return self.state not in (SENT, SENT_LATE) or bool(self.missing)

    @property
    def nudgeable(self) -> bool:
        """Someone of the unit can be nudged in a chat."""
        return self.pending and any(p.reachable for p in self.people)


@dataclass
class IndicatorLine:
    """One indicator: how many units expected to report it have a complete figure."""

    code: str
    name: str
    complete: int
    expected: int
    missing_units: list[str]


@dataclass
class Progress:
    """A round's completeness, as the officer's page shows it."""

    commune: Unit
    round: Round | None
    today: date
    units: list[UnitLine] = field(default_factory=list)
    indicators: list[IndicatorLine] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (person, unit)
    closed_on: date | None = None

    @property
    def submitted(self) -> int:
        """Units that sent their report."""
        return sum(u.state in (SENT, SENT_LATE) for u in self.units)

    @property
    def count(self) -> dict[str, int]:
        """Units per state."""
        out = {k: 0 for k in (SENT, SENT_LATE, DRAFT, LATE, NOT_STARTED)}
        for u in self.units:
            out[u.state] += 1
        return out

    @property
    def any_nudgeable(self) -> bool:
        """A "Nhắc" for all has someone to reach."""
        return any(u.nudgeable for u in self.units)


def _name(obj: Any, lang: str) -> str:
    return getattr(obj, f"name_{lang}", None) or obj.name_vi


def progress_of(rnd: Round | None, commune: Unit, lang: str, *, session: Session,
                today: date, tz: Any) -> Progress:
    """A round's completeness per unit and per indicator."""
    out = Progress(commune, rnd, today)
    if rnd is None:
        return out
    assert rnd.id is not None
    out.closed_on = local_date(rnd.closed_at, tz) if rnd.closed_at else None
    units = rstore.round_progress(rnd, session=session)
    sent_at = repo.submitted_at(rnd.id, session=session)
    cutoff = aggregate.deadline_cutoff(rnd.unit_deadline, tz)
    people: dict[int, list[PersonLine]] = {}
    for m, p in rstore.reporting_people([u.unit.id for u in units], session=session):
        people.setdefault(m.unit_id, []).append(
            PersonLine(p.name, p.channel, address(p) is not None and not p.unreachable))
        if p.unreachable:
            out.unreachable.append((p.name, next(u.unit.name for u in units
                                                 if u.unit.id == m.unit_id)))
    indicators: dict[int, IndicatorLine] = {}
    for u in units:
        at = sent_at.get(u.unit.id)
        if u.submitted:
            state = SENT_LATE if at is not None and at >= cutoff else SENT
        elif u.complete_all:
            state = DRAFT
        elif today > rnd.unit_deadline:
            state = LATE
        else:
            state = NOT_STARTED
        if state == DRAFT and today > rnd.unit_deadline:
            state = LATE  # late, with a draft: said beside it
        out.units.append(UnitLine(u.unit.id, u.unit.name, state, len(u.complete),
                                  len(u.expected),
                                  [(i.code, _name(i, lang)) for i in u.missing], at,
                                  people.get(u.unit.id, [])))
        for i in u.expected:
            line = indicators.setdefault(i.id, IndicatorLine(i.code, _name(i, lang), 0, 0, []))
            line.expected += 1
            if i.id in u.complete:
                line.complete += 1
            else:
                line.missing_units.append(u.unit.name)
    out.indicators = list(indicators.values())
    return out


def progress(engine: Engine, commune_id: int, lang: str, *, today: date, tz: Any) -> Progress:
    """The commune's current round's completeness."""
    with Session(engine, expire_on_commit=False) as session:
        commune = session.get(Unit, commune_id)
        assert commune is not None
        rnd = repo.open_round(commune_id, session=session)
        return progress_of(rnd, commune, lang, session=session, today=today, tz=tz)


def drafts(p: Progress) -> set[int]:
    """Units with figures entered and not sent."""
    return {u.id for u in p.units if u.state in (DRAFT, LATE) and u.have}


def nudge(engine: Engine, env: Env, person_id: int, commune_id: int,
          unit_id: int | None) -> tuple[list[Reply], list[Delivery]]:
    """/nhac from the page: one unit, or every unit that has not sent."""
    with Session(engine, expire_on_commit=False) as session:
        person = session.get(Person, person_id)
        assert person is not None
        rnd = repo.open_round(commune_id, session=session)
        commune = session.get(Unit, commune_id)
        if rnd is None or commune is None:
            return [flow.no_round(commune.name if commune else "")], []
        return officer_shell.nudge(rnd, session=session, env=env, officer=person,
                                   unit_ids=None if unit_id is None else {unit_id})


# ------------------------------------------------------------------ the report


def report(engine: Engine, unit_id: int, year: int | None, *, tz: Any, rollup: bool = False,
           raw: bool = False) -> tuple[aggregate.CommuneReport | None, list[int], list[Any]]:
    """The report ``ctvbot report`` makes (a commune's, or an upper level's roll-up), the
    years there are, and the raw values for Excel when asked."""
    with Session(engine, expire_on_commit=False) as session:
        if rollup:
            years = sorted({r.year for _, r in repo.rounds_under(unit_id, session=session)},
                           reverse=True)
        else:
            years = sorted({r.year for r in repo.rounds_of(unit_id, session=session)},
                           reverse=True)
        year = year if year in years else (years[0] if years else None)
        if year is None:
            return None, years, []
        try:
            if rollup:
                rep = aggregate.build_rollup(unit_id, year, session=session,
                                             include_sensitive=True, tz=tz)
            else:
                rep = aggregate.build_report(unit_id, year, session=session,
                                             include_sensitive=True, tz=tz)
        except aggregate.ReportError:
            return None, years, []
        rows = aggregate.raw_values(rep, session=session,
                                    limit=EXCEL_MAX_ROWS - 1) if raw else []
        return rep, years, rows


# ------------------------------------------------------------------ the round


@dataclass
class RoundPage:
    """The round's dates, state and history."""

    round: Round | None
    view: flow.RoundView | None
    events: list[tuple[str, str, datetime, str]]  # (action, reason, at, who)


def round_page(engine: Engine, commune_id: int, *, tz: Any) -> RoundPage:
    """The commune's current round as the round page shows it."""
    with Session(engine, expire_on_commit=False) as session:
        rnd = repo.open_round(commune_id, session=session)
        if rnd is None:
            return RoundPage(None, None, [])
        view = officer_shell.round_view(rnd, session=session, tz=tz, progress=True)
        events = [(e.action, e.reason, e.at, p.name if p else "")
                  for e, p in repo.round_events(rnd.id, session=session)]
        return RoundPage(rnd, view, events)


def change_round(engine: Engine, env: Env, person_id: int, commune_id: int, action: str,
                 fields: dict[str, str]) -> tuple[list[Reply], bool]:
    """Deadlines (as /hanchot), closing (as /chot, with its reason) or reopening: the
    replies to show and whether anything changed."""
    with Session(engine, expire_on_commit=False) as session:
        person = session.get(Person, person_id)
        commune = session.get(Unit, commune_id)
        assert person is not None and commune is not None
        rnd = repo.open_round(commune_id, session=session)
        if rnd is None:
            return [flow.no_round(commune.name)], False
        view = officer_shell.round_view(rnd, session=session, tz=env.tz)
        today = env.today()
        if action == "deadline":
            args = [fields.get(k, "").strip()
                    for k in ("unit_deadline", "consolidation_deadline", "days_before")]
            if not (args[0] and args[1]):
                return [Reply((msg("web.o.deadline_empty"),))], False
            result = flow.deadline([flow.Commune(commune.code, commune.name, view)],
                                   [a for a in args if a], today)
        elif action == "close":
            result = flow.close_for(commune.name, view, fields.get("reason", ""), today)
        else:
            result = flow.reopen(commune.name, view, fields.get("reason", ""), today)
        replies, changed = officer_shell.apply(result, session=session, person=person,
                                               now=env.utcnow(), tz=env.tz)
        session.commit()
        return replies, changed


# ------------------------------------------------------------------ upper levels


@dataclass
class AreaLine:
    """One commune under an upper level: its round's completeness."""

    commune: Unit
    year: int
    submitted: int
    expected: int
    late: int
    drafts: int
    closed_on: date | None


def area(engine: Engine, unit_id: int, lang: str, *, today: date, tz: Any) -> list[AreaLine]:
    """The communes under an upper level side by side."""
    out = []
    with Session(engine, expire_on_commit=False) as session:
        for commune, rnd in repo.rounds_under(unit_id, session=session):
            p = progress_of(rnd, commune, lang, session=session, today=today, tz=tz)
            c = p.count
            out.append(AreaLine(commune, rnd.year, p.submitted, len(p.units), c[LATE],
                                len(drafts(p)), p.closed_on))
    return out
