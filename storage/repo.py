"""Repository functions: flat, keyword-only, one session passed in, exact return types."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.kinds import Role, UnitKind
from storage.models import (
    Conversation,
    Indicator,
    Invitation,
    JoinAttempt,
    Membership,
    Milestone,
    Person,
    ProcessedUpdate,
    ReportedValue,
    Round,
    Submission,
    Unit,
    ValueChange,
    utcnow,
)

# ---------------------------------------------------------------- units


class UnknownUnit(LookupError):
    """No unit matches; ``known`` lists the codes there are."""

    def __init__(self, wanted: str, known: Sequence[str]) -> None:
        self.wanted, self.known = wanted, list(known)
        super().__init__(f"no unit {wanted!r}; known units: {', '.join(self.known) or '(none)'}")


def find_unit(code: str, *, session: Session) -> Unit:
    """A unit by full code ("commune/hamlet") or by an unambiguous last part."""
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit:
        return unit
    matches = session.exec(select(Unit).where(col(Unit.code).endswith("/" + code))).all()
    if len(matches) == 1:
        return matches[0]
    if matches:  # the short code is ambiguous: offer the full codes it could mean
        raise UnknownUnit(code, sorted(u.code for u in matches))
    known = session.exec(select(Unit.code).order_by(Unit.code)).all()
    raise UnknownUnit(code, known)


def list_units(*, session: Session) -> list[Unit]:
    """Every unit, parents before children."""
    return list(session.exec(select(Unit).order_by(Unit.parent_id.is_not(None), Unit.position,
                                                   Unit.code)))


def children(unit_id: int, *, session: Session) -> list[Unit]:
    """The units directly under a unit, in their order."""
    return list(session.exec(select(Unit).where(Unit.parent_id == unit_id)
                             .order_by(Unit.position, Unit.code)))


def commune_of(unit: Unit, *, session: Session) -> Unit:
    """The commune-level unit a unit belongs to (itself for a commune)."""
    node = unit
    while node.kind not in (UnitKind.commune, UnitKind.city, UnitKind.district,
                            UnitKind.province) and node.parent_id is not None:
        parent = session.get(Unit, node.parent_id)
        assert parent is not None
        node = parent
    return node


def open_round(commune_id: int, *, session: Session, today: date | None = None) -> Round | None:
    """The commune's current round: the latest one by year."""
    return session.exec(select(Round).where(Round.commune_id == commune_id)
                        .order_by(col(Round.year).desc())).first()


def round_for_year(commune_id: int, year: int, *, session: Session) -> Round | None:
    """The commune's round for a year."""
    return session.exec(select(Round).where(Round.commune_id == commune_id,
                                            Round.year == year)).first()


def indicators_for(unit: Unit, rnd: Round, *, session: Session) -> list[Indicator]:
    """The indicators this unit must report in a round, in plan order."""
    rows = session.exec(select(Indicator).where(Indicator.plan_id == rnd.plan_id)
                        .order_by(Indicator.position)).all()
    return [i for i in rows if unit.kind in (i.reporters or [])]


def milestones_for(indicator_ids: Sequence[int], *, session: Session) -> list[Milestone]:
    """Targets of the given indicators."""
    if not indicator_ids:
        return []
    return list(session.exec(select(Milestone).where(col(Milestone.indicator_id).in_(
        list(indicator_ids))).order_by(Milestone.year)))


# ---------------------------------------------------------------- invitations

INVITE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def hash_code(code: str) -> str:
    """The stored form of an invitation code."""
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()


def default_role(unit: Unit) -> Role:
    """Collaborator for a hamlet, agency reporter for an agency, officer for a commune."""
    if unit.kind == UnitKind.hamlet:
        return Role.collaborator
    if unit.kind in (UnitKind.commune, UnitKind.city, UnitKind.district, UnitKind.province):
        return Role.officer
    return Role.agency


COMMUNE_LEVEL = (UnitKind.commune, UnitKind.city, UnitKind.district, UnitKind.province)


def allowed_roles(unit: Unit) -> list[Role]:
    """The roles a unit can be joined with: officers and admins at commune level or above,
    collaborators in hamlets, agency reporters in agencies."""
    if unit.kind == UnitKind.hamlet:
        return [Role.collaborator]
    if unit.kind in COMMUNE_LEVEL:
        return [Role.officer, Role.admin]
    return [Role.agency]


class RoleNotAllowed(ValueError):
    """An invitation's role does not fit the unit's kind."""

    def __init__(self, unit: Unit, role: Role | str) -> None:
        self.unit, self.role, self.allowed = unit, str(role), allowed_roles(unit)
        super().__init__(
            f"{unit.code} ({unit.name}) is a {unit.kind}: invite it as "
            f"{' or '.join(str(r) for r in self.allowed)}, not {self.role}")


def create_invitation(unit: Unit, *, session: Session, role: Role | None = None,
                      days: int = 30, person_name: str | None = None,
                      created_by: int | None = None) -> tuple[Invitation, str]:
    """A new one-time invitation; returns the row and the plain code (shown once).

    Raises RoleNotAllowed when ``role`` does not fit the unit's kind (see allowed_roles).
    """
    role = role or default_role(unit)
    if role not in allowed_roles(unit):
        raise RoleNotAllowed(unit, role)
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(12))
    inv = Invitation(code_hash=hash_code(code), unit_id=unit.id, role=role,
                     person_name=person_name, expires_at=utcnow() + timedelta(days=days),
                     created_by=created_by)
    session.add(inv)
    session.flush()
    return inv, code


def revoke_unused_invitations(unit_id: int, role: Role | str, *, session: Session,
                              now: datetime | None = None) -> int:
    """Expire the unit's invitations for ``role`` that nobody has used yet; return how many."""
    now = now or utcnow()
    rows = session.exec(select(Invitation).where(
        Invitation.unit_id == unit_id, Invitation.role == str(role),
        col(Invitation.used_at).is_(None), Invitation.expires_at > now)).all()
    for inv in rows:
        inv.expires_at = now
        session.add(inv)
    session.flush()
    return len(rows)


class JoinOutcome(StrEnum):
    """What happened to an invitation code."""

    joined = "joined"
    unknown = "unknown"
    used = "used"
    expired = "expired"
    rate_limited = "rate_limited"
    already_member = "already_member"


@dataclass(frozen=True)
class JoinResult:
    """The outcome of /start CODE, with the person and unit when it worked."""

    outcome: JoinOutcome
    person: Person | None = None
    unit: Unit | None = None
    role: str | None = None


MAX_FAILED_CODES_PER_HOUR = 5


def failed_attempts(telegram_id: int, *, session: Session, now: datetime) -> int:
    """Failed codes by this account in the last hour."""
    return session.exec(select(func.count()).select_from(JoinAttempt).where(
        JoinAttempt.telegram_id == telegram_id,
        JoinAttempt.at > now - timedelta(hours=1))).one()


def redeem_invitation(code: str, *, telegram_id: int, name: str, language: str,
                      session: Session, now: datetime | None = None) -> JoinResult:
    """Bind a Telegram account to the invitation's unit and role, once."""
    now = now or utcnow()
    if failed_attempts(telegram_id, session=session, now=now) >= MAX_FAILED_CODES_PER_HOUR:
        return JoinResult(JoinOutcome.rate_limited)
    inv = session.exec(select(Invitation).where(Invitation.code_hash == hash_code(code))
                       .with_for_update()).first()
    person = person_by_telegram(telegram_id, session=session)
    if inv is None:
        session.add(JoinAttempt(telegram_id=telegram_id, at=now))
        return JoinResult(JoinOutcome.unknown)
    unit = session.get(Unit, inv.unit_id)
    if inv.used_at is not None:
        if person is not None and inv.used_by == person.id:
            return JoinResult(JoinOutcome.already_member, person, unit, inv.role)
        session.add(JoinAttempt(telegram_id=telegram_id, at=now))
        return JoinResult(JoinOutcome.used)
    if inv.expires_at < now:
        session.add(JoinAttempt(telegram_id=telegram_id, at=now))
        return JoinResult(JoinOutcome.expired)
    if person is None:
        person = Person(telegram_id=telegram_id, name=inv.person_name or name,
                        language=language)
        session.add(person)
        session.flush()
    inv.used_at, inv.used_by = now, person.id
    session.add(inv)
    exists = session.exec(select(Membership).where(
        Membership.person_id == person.id, Membership.unit_id == inv.unit_id,
        Membership.role == inv.role)).first()
    if exists is None:
        session.add(Membership(person_id=person.id, unit_id=inv.unit_id, role=inv.role))
    session.flush()
    return JoinResult(JoinOutcome.joined, person, unit, inv.role)


# ---------------------------------------------------------------- people


def person_by_telegram(telegram_id: int, *, session: Session) -> Person | None:
    """The person bound to a Telegram account."""
    return session.exec(select(Person).where(Person.telegram_id == telegram_id)).first()


def memberships(person_id: int, *, session: Session) -> list[tuple[Membership, Unit]]:
    """A person's roles with their units."""
    rows = session.exec(select(Membership, Unit).join(Unit, Unit.id == Membership.unit_id)
                        .where(Membership.person_id == person_id)
                        .order_by(Unit.position, Unit.code)).all()
    return [(m, u) for m, u in rows]


def members_of(unit_id: int, *, session: Session) -> list[tuple[Membership, Person]]:
    """The people of a unit."""
    rows = session.exec(select(Membership, Person).join(Person, Person.id == Membership.person_id)
                        .where(Membership.unit_id == unit_id)).all()
    return [(m, p) for m, p in rows]


def officers_of(commune_id: int, *, session: Session) -> list[Person]:
    """The officers of a commune."""
    return [p for m, p in members_of(commune_id, session=session)
            if m.role in (Role.officer, Role.admin)]


def set_language(person: Person, language: str, *, session: Session) -> None:
    """Change the language the bot speaks to a person."""
    person.language = language
    session.add(person)


# ---------------------------------------------------------------- values


def values_of(round_id: int, unit_id: int, *, session: Session) -> dict[int, ReportedValue]:
    """A unit's current values in a round, by indicator id."""
    rows = session.exec(select(ReportedValue).where(ReportedValue.round_id == round_id,
                                                    ReportedValue.unit_id == unit_id)).all()
    return {v.indicator_id: v for v in rows}


def save_value(*, session: Session, round_id: int, unit_id: int, indicator_id: int,
               person_id: int | None, numerator: int | None = None,
               denominator: int | None = None, value: float | None = None,
               task_status: str | None = None, text: str | None = None,
               source: str = "chat", now: datetime | None = None) -> ReportedValue:
    """Set a unit's value for an indicator and record the change in the history."""
    row = session.exec(select(ReportedValue).where(
        ReportedValue.round_id == round_id, ReportedValue.unit_id == unit_id,
        ReportedValue.indicator_id == indicator_id).with_for_update()).first()
    submitted = session.exec(select(Submission.id).where(
        Submission.round_id == round_id, Submission.unit_id == unit_id)).first() is not None
    state = "submitted" if submitted else "draft"
    now = now or utcnow()
    if row is None:
        try:
            with session.begin_nested():  # another writer may insert the same value first
                row = ReportedValue(round_id=round_id, unit_id=unit_id,
                                    indicator_id=indicator_id, state=state)
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.exec(select(ReportedValue).where(
                ReportedValue.round_id == round_id, ReportedValue.unit_id == unit_id,
                ReportedValue.indicator_id == indicator_id).with_for_update()).one()
            row.version += 1
    else:
        row.version += 1
    row.numerator, row.denominator, row.value = numerator, denominator, value
    row.task_status, row.text, row.state = task_status, text, state
    row.reported_by, row.source, row.updated_at = person_id, source, now
    session.add(row)
    session.add(ValueChange(round_id=round_id, unit_id=unit_id, indicator_id=indicator_id,
                            numerator=numerator, denominator=denominator, value=value,
                            task_status=task_status, text=text, state=state,
                            changed_by=person_id, source=source, changed_at=now))
    session.flush()
    return row


def submit(round_id: int, unit_id: int, *, person_id: int | None, session: Session,
           now: datetime | None = None) -> bool:
    """Mark a unit's report as sent; True the first time."""
    values = session.exec(select(ReportedValue).where(ReportedValue.round_id == round_id,
                                                      ReportedValue.unit_id == unit_id)).all()
    for v in values:
        v.state = "submitted"
        session.add(v)
    existing = session.exec(select(Submission).where(Submission.round_id == round_id,
                                                     Submission.unit_id == unit_id)).first()
    if existing:
        return False
    try:
        with session.begin_nested():
            session.add(Submission(round_id=round_id, unit_id=unit_id, submitted_by=person_id,
                                   submitted_at=now or utcnow()))
    except IntegrityError:
        return False
    return True


def submission_of(round_id: int, unit_id: int, *, session: Session) -> Submission | None:
    """The unit's submission in a round, if any."""
    return session.exec(select(Submission).where(Submission.round_id == round_id,
                                                 Submission.unit_id == unit_id)).first()


def history_of(round_id: int, unit_id: int, indicator_id: int, *,
               session: Session) -> list[ValueChange]:
    """Every change of one value, oldest first."""
    return list(session.exec(select(ValueChange).where(
        ValueChange.round_id == round_id, ValueChange.unit_id == unit_id,
        ValueChange.indicator_id == indicator_id).order_by(ValueChange.id)))


# ---------------------------------------------------------------- conversations and updates


def claim_update(update_id: int, *, session: Session) -> bool:
    """Record an update as applied; False when it already was (a duplicate delivery)."""
    try:
        with session.begin_nested():
            session.add(ProcessedUpdate(update_id=update_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def load_state(person_id: int, *, session: Session) -> dict:
    """The person's conversation state ({} when idle), locked for this update."""
    conv = session.exec(select(Conversation).where(Conversation.person_id == person_id)
                        .with_for_update()).first()
    return dict(conv.state) if conv else {}


def save_state(person_id: int, state: dict, *, session: Session) -> None:
    """Store the person's conversation state."""
    conv = session.exec(select(Conversation).where(Conversation.person_id == person_id)).first()
    if conv is None:
        conv = Conversation(person_id=person_id, state=state)
    else:
        conv.state = state
        conv.updated_at = utcnow()
    session.add(conv)
