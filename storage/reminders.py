"""Repository for reminders: who is missing what in a round, and the exactly-once log.

What a round's units lack is computed for the whole round at once (one grouped query over
the reported values, not a query per unit). A reminder is *claimed* by inserting its
ReminderLog row before it is sent: the UNIQUE (person, round, slot) constraint makes the
insert fail for everyone but the first, so two processes (or a restart) never send twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, and_, cast, delete, func, not_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.kinds import IndicatorKind, Role
from storage.models import (
    Indicator,
    Membership,
    Person,
    ReminderLog,
    ReportedValue,
    Round,
    Submission,
    Unit,
    address,
)

REPORTING_ROLES = (Role.collaborator.value, Role.agency.value)
OFFICER_ROLES = (Role.officer.value, Role.admin.value)

CLAIMED, SENT, BLOCKED, STALE, FAILED = "claimed", "sent", "blocked", "stale", "failed"


# ------------------------------------------------------------------ progress of a round


@dataclass(frozen=True)
class UnitProgress:
    """One unit of a round: what it must report, what it has, whether it sent it."""

    unit: Unit
    expected: tuple[Indicator, ...]  # plan order
    complete: frozenset[int]  # indicator ids with a complete value
    submitted: bool
    complete_all: frozenset[int] = frozenset()  # … including those not expected of it

    @property
    def missing(self) -> tuple[Indicator, ...]:
        """Expected indicators without a complete value, in plan order."""
        return tuple(i for i in self.expected if i.id not in self.complete)

    @property
    def pending(self) -> bool:
        """Not sent yet, or sent with indicators still missing: the unit gets reminders."""
        return not self.submitted or bool(self.missing)


def complete_value():  # noqa: ANN201 - a SQL expression
    """SQL: the reported value answers its indicator fully (the flow's ``is_complete``)."""
    rv = ReportedValue
    return or_(
        and_(Indicator.kind == IndicatorKind.rate.value, col(rv.numerator).is_not(None),
             col(rv.denominator).is_not(None)),
        and_(Indicator.kind == IndicatorKind.task.value, col(rv.task_status).is_not(None)),
        and_(col(Indicator.kind).not_in([IndicatorKind.rate.value, IndicatorKind.task.value]),
             col(rv.value).is_not(None)),
    )


def complete_by_unit(round_id: int, *, session: Session,
                     unit_ids: Sequence[int] | None = None) -> dict[int, frozenset[int]]:
    """For every unit of a round (or those of ``unit_ids``): the indicator ids it has
    complete values for.

    One grouped query: ``unit_id, count, string_agg(indicator_id)`` over the round.
    """
    ids = func.aggregate_strings(cast(ReportedValue.indicator_id, String), ",")
    q = (select(ReportedValue.unit_id, func.count(), ids)
         .join(Indicator, Indicator.id == ReportedValue.indicator_id)
         .where(ReportedValue.round_id == round_id, complete_value()))
    if unit_ids is not None:
        q = q.where(col(ReportedValue.unit_id).in_(list(unit_ids)))
    rows = session.exec(q.group_by(ReportedValue.unit_id)).all()
    return {unit_id: frozenset(int(x) for x in (joined or "").split(",") if x)
            for unit_id, _n, joined in rows}


def round_units(rnd: Round, *, session: Session,
                unit_ids: Sequence[int] | None = None) -> list[tuple[Unit, bool]]:
    """The units directly under the round's commune (or those of ``unit_ids`` among them),
    with "has submitted", in their order."""
    q = (select(Unit, Submission.id)
         .join(Submission, and_(Submission.unit_id == Unit.id, Submission.round_id == rnd.id),
               isouter=True)
         .where(Unit.parent_id == rnd.commune_id, col(Unit.retired_at).is_(None)))
    if unit_ids is not None:
        q = q.where(col(Unit.id).in_(list(unit_ids)))
    rows = session.exec(q.order_by(Unit.position, Unit.code)).all()
    return [(u, sid is not None) for u, sid in rows]


def round_progress(rnd: Round, *, session: Session,
                   unit_ids: Sequence[int] | None = None) -> list[UnitProgress]:
    """Every unit (or those of ``unit_ids``) that has something to report in the round
    (three queries in all)."""
    indicators = session.exec(select(Indicator).where(Indicator.plan_id == rnd.plan_id)
                              .order_by(Indicator.position)).all()
    by_kind: dict[str, tuple[Indicator, ...]] = {}
    complete = complete_by_unit(rnd.id, session=session, unit_ids=unit_ids)
    out = []
    for unit, submitted in round_units(rnd, session=session, unit_ids=unit_ids):
        if unit.kind not in by_kind:
            by_kind[unit.kind] = tuple(i for i in indicators if unit.kind in (i.reporters or []))
        expected = by_kind[unit.kind]
        if not expected:
            continue
        ids = {i.id for i in expected}
        have = complete.get(unit.id, frozenset())
        out.append(UnitProgress(unit, expected, have & ids, submitted, have))
    return out


# ------------------------------------------------------------------ who gets what


@dataclass(frozen=True)
class Recipient:
    """A reporting person and their units that have not sent the report."""

    person: Person
    units: tuple[UnitProgress, ...]


def _reporting_people(unit_ids: Sequence[int], *,
                      session: Session) -> list[tuple[Membership, Person]]:
    if not unit_ids:
        return []
    rows = session.exec(
        select(Membership, Person).join(Person, Person.id == Membership.person_id)
        .where(col(Membership.unit_id).in_(list(unit_ids)),
               col(Membership.role).in_(REPORTING_ROLES))
        .order_by(Person.id, Membership.id)
    ).all()
    return [(m, p) for m, p in rows]


def reporting_people(unit_ids: Sequence[int], *,
                     session: Session) -> list[tuple[Membership, Person]]:
    """The reporting people (collaborators, agency focal points) of some units."""
    return _reporting_people(unit_ids, session=session)


def pending_recipients(rnd: Round, *, session: Session,
                       progress: Sequence[UnitProgress] | None = None) -> list[Recipient]:
    """Reachable reporting people whose unit has not sent its report (submitted: nothing)."""
    progress = round_progress(rnd, session=session) if progress is None else progress
    pending = {p.unit.id: p for p in progress if p.pending}
    grouped: dict[int, tuple[Person, list[UnitProgress]]] = {}
    for m, person in _reporting_people(list(pending), session=session):
        if address(person) is None or person.unreachable:
            continue
        grouped.setdefault(person.id, (person, []))[1].append(pending[m.unit_id])
    return [Recipient(person, tuple(units)) for person, units in grouped.values()]


def fingerprint(round_id: int, unit_ids: Sequence[int], *,
                session: Session) -> tuple[tuple[int, tuple[int, ...], bool], ...]:
    """What the units have so far (the indicators with complete values, sent or not), to
    tell cheaply whether a reminder written earlier is still right (two queries)."""
    ids = sorted(set(unit_ids))
    if not ids:
        return ()
    complete = complete_by_unit(round_id, session=session, unit_ids=ids)
    sent = set(session.exec(select(Submission.unit_id).where(
        Submission.round_id == round_id, col(Submission.unit_id).in_(ids))).all())
    return tuple((u, tuple(sorted(complete.get(u, ()))), u in sent) for u in ids)


def recipient_now(rnd: Round, person_id: int, unit_ids: Sequence[int], *,
                  session: Session) -> Recipient | None:
    """What one person's units lack at this moment (read right before their reminder goes
    out, after whatever they answered meanwhile); None when nothing is pending any more."""
    person = session.get(Person, person_id)
    if person is None or person.unreachable or address(person) is None:
        return None
    mine = set(session.exec(select(Membership.unit_id).where(
        Membership.person_id == person_id, col(Membership.role).in_(REPORTING_ROLES),
        col(Membership.unit_id).in_(list(unit_ids)))).all())
    units = tuple(p for p in round_progress(rnd, session=session, unit_ids=sorted(mine))
                  if p.pending)
    return Recipient(person, units) if units else None


def unreachable_people(rnd: Round, *, session: Session,
                       progress: Sequence[UnitProgress] | None = None
                       ) -> list[tuple[Person, Unit]]:
    """Reporting people of the round's units the bot cannot write to (they blocked it)."""
    progress = round_progress(rnd, session=session) if progress is None else progress
    units = {p.unit.id: p.unit for p in progress}
    return [(person, units[m.unit_id])
            for m, person in _reporting_people(list(units), session=session)
            if person.unreachable]


def officers(commune_id: int, *, session: Session, reachable_only: bool = True) -> list[Person]:
    """The officers and admins of a commune (with a Telegram or Zalo account)."""
    rows = session.exec(
        select(Person).join(Membership, Membership.person_id == Person.id)
        .where(Membership.unit_id == commune_id, col(Membership.role).in_(OFFICER_ROLES),
               or_(col(Person.telegram_id).is_not(None),
                   col(Person.zalo_id).is_not(None)))
        .order_by(Person.id)
    ).all()
    seen: dict[int, Person] = {}
    for p in rows:
        if not (reachable_only and p.unreachable):
            seen.setdefault(p.id, p)
    return list(seen.values())


def officer_communes(person_id: int, *, session: Session) -> list[Unit]:
    """The units a person is officer or admin of."""
    rows = session.exec(
        select(Unit).join(Membership, Membership.unit_id == Unit.id)
        .where(Membership.person_id == person_id, col(Membership.role).in_(OFFICER_ROLES))
        .order_by(Unit.position, Unit.code)
    ).all()
    return list({u.id: u for u in rows}.values())


def active_rounds(*, session: Session, today: date) -> list[Round]:
    """Rounds still open (not closed, consolidation deadline not passed)."""
    return list(session.exec(select(Round).where(
        col(Round.closed_at).is_(None), Round.consolidation_deadline >= today)
        .order_by(Round.id)))


# ------------------------------------------------------------------ the log


def logged_people(round_id: int, slot: str, *, session: Session) -> set[int]:
    """People who already have a row (any outcome) for a slot."""
    return set(session.exec(select(ReminderLog.person_id).where(
        ReminderLog.round_id == round_id, ReminderLog.slot == slot)).all())


def handled_slots(round_id: int, *, session: Session) -> set[str]:
    """The slots of a round that have at least one row."""
    return set(session.exec(select(ReminderLog.slot).where(ReminderLog.round_id == round_id)
                            .group_by(ReminderLog.slot)).all())


def claim(*, session: Session, person_id: int, round_id: int, slot: str, now: datetime,
          outcome: str = CLAIMED) -> bool:
    """Insert the reminder's row; False when it already exists (someone else has it)."""
    try:
        with session.begin_nested():
            session.add(ReminderLog(person_id=person_id, round_id=round_id, slot=slot,
                                    claimed_at=now, outcome=outcome))
            session.flush()
    except IntegrityError:
        return False
    return True


def _row(person_id: int, round_id: int, slot: str):  # noqa: ANN202 - a where clause
    return and_(ReminderLog.person_id == person_id, ReminderLog.round_id == round_id,
                ReminderLog.slot == slot)


def mark(*, session: Session, person_id: int, round_id: int, slot: str, outcome: str,
         now: datetime) -> None:
    """Record what became of a claimed reminder (sent, blocked, failed)."""
    session.exec(update(ReminderLog).where(_row(person_id, round_id, slot)).values(
        outcome=outcome, sent_at=now if outcome == SENT else None))


def release(*, session: Session, person_id: int, round_id: int, slot: str) -> None:
    """Give back a claim that was never sent (stopped before it went out)."""
    session.exec(delete(ReminderLog).where(_row(person_id, round_id, slot),
                                           ReminderLog.outcome == CLAIMED))


def release_orphans(round_id: int, *, session: Session, before: datetime) -> list[ReminderLog]:
    """Give back claims older than ``before`` that were never settled: the process that
    claimed them was killed between the claim and the send (a graceful stop settles its
    claims). Returns the rows given back; the slot's next run sends them if still useful."""
    rows = list(session.exec(select(ReminderLog).where(
        ReminderLog.round_id == round_id, ReminderLog.outcome == CLAIMED,
        ReminderLog.claimed_at < before)))
    for row in rows:
        session.delete(row)
    return rows


def mark_stale(round_id: int, slot: str, person_ids: Iterable[int], *, session: Session,
               now: datetime) -> int:
    """Record a missed slot as stale for these people (one bulk INSERT … ON CONFLICT DO
    NOTHING); returns how many people it was recorded for."""
    done = logged_people(round_id, slot, session=session)
    new = sorted(set(person_ids) - done)
    if not new:
        return 0
    rows = [dict(person_id=pid, round_id=round_id, slot=slot, claimed_at=now, outcome=STALE)
            for pid in new]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # any other database: one savepoint per row
        return sum(claim(session=session, person_id=r["person_id"], round_id=round_id,
                         slot=slot, now=now, outcome=STALE) for r in rows)
    session.exec(insert(ReminderLog).on_conflict_do_nothing(), params=rows)
    return len(new)


def set_unreachable(person_id: int, unreachable: bool = True, *, session: Session) -> None:
    """Mark a person as (un)reachable: they blocked the bot, or came back."""
    session.exec(update(Person).where(Person.id == person_id).values(unreachable=unreachable))


def reminded_since(round_id: int, person_ids: Iterable[int], since: datetime, *,
                   session: Session) -> set[int]:
    """People who were sent (or are being sent) a reminder of this round since ``since``.

    Digests do not count: they go to officers.
    """
    ids = list(person_ids)
    if not ids:
        return set()
    return set(session.exec(select(ReminderLog.person_id).where(
        ReminderLog.round_id == round_id, col(ReminderLog.person_id).in_(ids),
        ReminderLog.claimed_at >= since, col(ReminderLog.outcome).in_([CLAIMED, SENT]),
        not_(col(ReminderLog.slot).startswith("digest:")))).all())


def outcomes(round_id: int, *, session: Session, slot: str | None = None) -> dict[str, int]:
    """How many rows per outcome (for tests, the benchmark and the logs)."""
    q = select(ReminderLog.outcome, func.count()).where(ReminderLog.round_id == round_id)
    if slot is not None:
        q = q.where(ReminderLog.slot == slot)
    return dict(session.exec(q.group_by(ReminderLog.outcome)).all())
