"""Repository functions: flat, keyword-only, one session passed in, exact return types."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage import roundsums
from storage.kinds import Role, UnitKind
from storage.models import (
    Conversation,
    Indicator,
    Invitation,
    JoinAttempt,
    Membership,
    Milestone,
    Person,
    ProcessedMessage,
    ProcessedUpdate,
    ReportedValue,
    Round,
    RoundEvent,
    Submission,
    Unit,
    ValueChange,
    utcnow,
)


def _insert(dialect: str, table: Any) -> Any:
    """An INSERT with ON CONFLICT for the engine's dialect (only that dialect is imported)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


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


def children(unit_id: int, *, session: Session, retired: bool = False) -> list[Unit]:
    """The units directly under a unit, in their order (``retired``: those an officer
    retired too; they report nothing more)."""
    q = select(Unit).where(Unit.parent_id == unit_id)
    if not retired:
        q = q.where(col(Unit.retired_at).is_(None))
    return list(session.exec(q.order_by(Unit.position, Unit.code)))


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


def rounds_of(commune_id: int, *, session: Session) -> list[Round]:
    """A commune's rounds, latest first."""
    return list(session.exec(select(Round).where(Round.commune_id == commune_id)
                             .order_by(col(Round.year).desc())).all())


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


def invitation_link(code: str, username: str) -> str:
    """The deep link that opens the bot with an invitation code."""
    return f"https://t.me/{username.lstrip('@')}?start={code}"


def invite_units(commune: Unit, *, session: Session, days: int = 30,
                 keep_earlier: bool = False, created_by: int | None = None,
                 advance: Any = None, officers: bool = True,
                 ) -> tuple[list[tuple[Unit, Invitation, str]], int]:
    """One new invitation for the commune (unless not ``officers``: a sheet to print and hand
    out never carries an officer's invitation) and for each of its units (their default
    role), the earlier unused ones of the same units and roles revoked unless
    ``keep_earlier``: the rows (unit, invitation, plain code) and how many were revoked.
    ``advance(1)`` is told after each unit."""
    rows: list[tuple[Unit, Invitation, str]] = []
    revoked = 0
    assert commune.id is not None
    for u in [*([commune] if officers else []), *children(commune.id, session=session)]:
        role = default_role(u)
        if not keep_earlier:
            revoked += revoke_unused_invitations(u.id, role, session=session)
        inv, code = create_invitation(u, role=role, days=days, created_by=created_by,
                                      session=session)
        rows.append((u, inv, code))
        if advance is not None:
            advance(1)
    return rows, revoked


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


def _account(telegram_id: int | None, zalo_id: str | None) -> Any:
    """The condition naming one messenger account (Telegram's or Zalo's)."""
    if zalo_id is not None:
        return col(JoinAttempt.zalo_id) == zalo_id
    return col(JoinAttempt.telegram_id) == telegram_id


def failed_attempts(telegram_id: int | None = None, *, session: Session, now: datetime,
                    zalo_id: str | None = None) -> int:
    """Failed codes by this account (Telegram's, or Zalo's) in the last hour."""
    return session.exec(select(func.count()).select_from(JoinAttempt).where(
        _account(telegram_id, zalo_id),
        JoinAttempt.at > now - timedelta(hours=1))).one()


def redeem_invitation(code: str, *, telegram_id: int | None = None, name: str, language: str,
                      session: Session, now: datetime | None = None,
                      zalo_id: str | None = None) -> JoinResult:
    """Bind a Telegram (or Zalo) account to the invitation's unit and role, once; the person
    is reached from then on through the messenger they joined with."""
    now = now or utcnow()
    if (telegram_id is None) == (zalo_id is None):
        raise ValueError("one account: telegram_id or zalo_id")
    if failed_attempts(telegram_id, zalo_id=zalo_id, session=session,
                       now=now) >= MAX_FAILED_CODES_PER_HOUR:
        return JoinResult(JoinOutcome.rate_limited)
    inv = session.exec(select(Invitation).where(Invitation.code_hash == hash_code(code))
                       .with_for_update()).first()
    person = person_by_zalo(zalo_id, session=session) if zalo_id is not None else \
        person_by_telegram(telegram_id or 0, session=session)
    failed = JoinAttempt(telegram_id=telegram_id, zalo_id=zalo_id, at=now)
    if inv is None:
        session.add(failed)
        return JoinResult(JoinOutcome.unknown)
    unit = session.get(Unit, inv.unit_id)
    if inv.used_at is not None:
        if person is not None and inv.used_by == person.id:
            return JoinResult(JoinOutcome.already_member, person, unit, inv.role)
        session.add(failed)
        return JoinResult(JoinOutcome.used)
    if inv.expires_at < now:
        session.add(failed)
        return JoinResult(JoinOutcome.expired)
    if person is None:
        person = Person(telegram_id=telegram_id, zalo_id=zalo_id, name=inv.person_name or name,
                        language=language, channel="zalo" if zalo_id is not None else "telegram")
        session.add(person)
        session.flush()
    inv.used_at, inv.used_by = now, person.id
    session.add(inv)
    exists = session.exec(select(Membership).where(
        Membership.person_id == person.id, Membership.unit_id == inv.unit_id,
        Membership.role == inv.role)).first()
    if exists is None:
        session.add(Membership(person_id=person.id, unit_id=inv.unit_id, role=inv.role))
        if inv.role in (Role.officer, Role.admin):  # the reporters' sheets name the officers
            bump_rounds(session=session, commune_id=inv.unit_id)
    session.flush()
    return JoinResult(JoinOutcome.joined, person, unit, inv.role)


# ---------------------------------------------------------------- people


def person_by_telegram(telegram_id: int, *, session: Session) -> Person | None:
    """The person bound to a Telegram account."""
    return session.exec(select(Person).where(Person.telegram_id == telegram_id)).first()


def person_by_zalo(zalo_id: str, *, session: Session) -> Person | None:
    """The person bound to a Zalo account."""
    return session.exec(select(Person).where(Person.zalo_id == zalo_id)).first()


def memberships(person_id: int, *, session: Session) -> list[tuple[Membership, Unit]]:
    """A person's roles with their units."""
    rows = session.exec(select(Membership, Unit).join(Unit, Unit.id == Membership.unit_id)
                        .where(Membership.person_id == person_id)
                        .order_by(Unit.position, Unit.code)).all()
    return [(m, u) for m, u in rows]


@dataclass(frozen=True)
class Found:
    """A person and their conversation, with what a typed answer needs of the state's unit:
    the unit, its commune's current round, whether the person reports for it (``member``) or
    is an officer of its commune (``officer``), and whether the unit has sent its report."""

    person: Person
    state: dict
    unit: Unit | None = None
    round: Round | None = None
    member: bool = False
    officer: bool = False
    submitted: bool = False


COMMUNE_KINDS = tuple(str(k) for k in COMMUNE_LEVEL)


@functools.cache
def _person_and_state_stmt(dialect: str, channel: str = "telegram") -> Any:
    parent = aliased(Unit)
    unit_id = Conversation.state["unit"].as_integer()
    latest = (select(Round.id).where(Round.commune_id == Unit.parent_id)
              .order_by(col(Round.year).desc()).limit(1).correlate(Unit).scalar_subquery())
    member = select(Membership.id).where(
        Membership.person_id == Person.id, Membership.unit_id == Unit.id,
        col(Membership.role).in_([str(r) for r in (Role.collaborator, Role.agency)])).exists()
    officer = select(Membership.id).where(
        Membership.person_id == Person.id, Membership.unit_id == Unit.parent_id,
        col(Membership.role).in_([str(r) for r in (Role.officer, Role.admin)])).exists()
    submitted = select(Submission.id).where(Submission.round_id == Round.id,
                                            Submission.unit_id == Unit.id).exists()
    stmt = (select(Person, Conversation.state, Unit, Round, parent.kind, member, officer,
                   submitted)
            .outerjoin(Conversation, Conversation.person_id == Person.id)
            .outerjoin(Unit, Unit.id == unit_id)
            .outerjoin(parent, parent.id == Unit.parent_id)
            .outerjoin(Round, Round.id == latest)
            .where((col(Person.zalo_id) if channel == "zalo" else col(Person.telegram_id))
                   == bindparam("account")))
    if dialect == "postgresql":
        stmt = stmt.with_for_update(of=Person.__table__)
    return stmt


def person_and_state(account: int | str, *, session: Session,
                     channel: str = "telegram") -> Found | None:
    """One query: the person of a Telegram (or Zalo) account, locked for this update, their
    conversation state and the state's unit with its round, their roles there and its
    submission."""
    stmt = _person_and_state_stmt(session.get_bind().dialect.name, channel)
    row = session.execute(stmt, {"account": account}).first()
    if row is None:
        return None
    person, state, unit, rnd, parent_kind, is_member, is_officer, is_submitted = row
    if unit is not None and (unit.kind in COMMUNE_KINDS or parent_kind not in COMMUNE_KINDS):
        unit = rnd = None  # the round is the commune's: found by the longer way
    return Found(person, dict(state or {}), unit, rnd, bool(is_member), bool(is_officer),
                 bool(is_submitted))


def bump_rounds(*, session: Session, commune_id: int | None = None,
                plan_id: int | None = None) -> None:
    """Mark the rounds of a commune (or on a plan) changed: cached sheets are rebuilt."""
    cond = [c for c in (Round.commune_id == commune_id if commune_id is not None else None,
                        Round.plan_id == plan_id if plan_id is not None else None)
            if c is not None]
    if cond:
        session.execute(update(Round).where(or_(*cond)).values(version=Round.version + 1)
                        .execution_options(synchronize_session=False))


class Figures(NamedTuple):
    """What a unit reported for one indicator, as plain values."""

    numerator: int | None
    denominator: int | None
    value: float | None
    task_status: str | None
    text: str | None


_VALUES_TWO_YEARS = select(
    ReportedValue.indicator_id, Round.year, ReportedValue.numerator, ReportedValue.denominator,
    ReportedValue.value, ReportedValue.task_status, ReportedValue.text).join(
    Round, Round.id == ReportedValue.round_id).where(
    ReportedValue.unit_id == bindparam("unit_id"), Round.commune_id == bindparam("commune_id"),
    col(Round.year).in_([bindparam("year"), bindparam("last_year")]))


def values_with_last_year(round_: Round, unit_id: int, *,
                          session: Session) -> tuple[dict[int, Figures], dict[int, Figures]]:
    """One query: a unit's figures in a round and in its commune's round of the year before,
    by indicator id (plain rows: an answer reads them and loads no object)."""
    rows = session.connection().execute(_VALUES_TWO_YEARS, {
        "unit_id": unit_id, "commune_id": round_.commune_id, "year": round_.year,
        "last_year": round_.year - 1}).all()
    now: dict[int, Figures] = {}
    last: dict[int, Figures] = {}
    for indicator_id, year, *figures in rows:
        (now if year == round_.year else last)[indicator_id] = Figures(*figures)
    return now, last


def members_of(unit_id: int, *, session: Session) -> list[tuple[Membership, Person]]:
    """The people of a unit."""
    rows = session.exec(select(Membership, Person).join(Person, Person.id == Membership.person_id)
                        .where(Membership.unit_id == unit_id)).all()
    return [(m, p) for m, p in rows]


def officers_of(commune_id: int, *, session: Session) -> list[Person]:
    """The officers of a commune."""
    return [p for m, p in members_of(commune_id, session=session)
            if m.role in (Role.officer, Role.admin)]


def set_language(person: Person, language: str, *, session: Session,
                 chosen: bool = True) -> None:
    """Change the language the bot speaks to a person (``chosen``: by the person, /ngonngu;
    else it followed what they wrote, and may again)."""
    person.language = language
    person.language_chosen = person.language_chosen or chosen
    session.add(person)


# ---------------------------------------------------------------- values


def values_of(round_id: int, unit_id: int, *, session: Session) -> dict[int, ReportedValue]:
    """A unit's current values in a round, by indicator id."""
    rows = session.exec(select(ReportedValue).where(ReportedValue.round_id == round_id,
                                                    ReportedValue.unit_id == unit_id)).all()
    return {v.indicator_id: v for v in rows}


_VALUE_FIELDS = ("numerator", "denominator", "value", "task_status", "text", "reported_by",
                 "source", "updated_at")


@functools.cache
def _save_value_stmt(dialect: str) -> Any:
    table = ReportedValue.__table__
    submitted = select(Submission.id).where(Submission.round_id == bindparam("round_id"),
                                            Submission.unit_id == bindparam("unit_id")).exists()
    insert = _insert(dialect, table)
    stmt = insert.values(
        round_id=bindparam("round_id"), unit_id=bindparam("unit_id"),
        indicator_id=bindparam("indicator_id"), version=1,
        state=case((submitted, "submitted"), else_="draft"),
        **{k: bindparam(k, type_=table.c[k].type) for k in _VALUE_FIELDS})
    return stmt.on_conflict_do_update(
        index_elements=["round_id", "unit_id", "indicator_id"],
        set_={**{k: stmt.excluded[k] for k in _VALUE_FIELDS}, "state": stmt.excluded.state,
              "version": table.c.version + 1})


def save_value(*, session: Session, round_id: int, unit_id: int, indicator_id: int,
               person_id: int | None, numerator: int | None = None,
               denominator: int | None = None, value: float | None = None,
               task_status: str | None = None, text: str | None = None,
               source: str = "chat", now: datetime | None = None) -> None:
    """Set a unit's value for an indicator; one statement (an upsert: two first saves of one
    value merge), whose history row the database writes (trigger of migration 0002)."""
    session.connection().execute(_save_value_stmt(session.get_bind().dialect.name), {
        "round_id": round_id, "unit_id": unit_id, "indicator_id": indicator_id,
        "numerator": numerator, "denominator": denominator, "value": value,
        "task_status": task_status, "text": text, "reported_by": person_id, "source": source,
        "updated_at": now or utcnow()})
    for obj in list(session.identity_map.values()):  # loaded copies are now out of date
        if isinstance(obj, ReportedValue) and (obj.round_id, obj.unit_id, obj.indicator_id) \
                == (round_id, unit_id, indicator_id):
            session.expire(obj)


def submit(round_id: int, unit_id: int, *, person_id: int | None, session: Session,
           now: datetime | None = None) -> bool:
    """Mark a unit's report as sent; True the first time."""
    roundsums.lock_rounds(session.connection(), [round_id])  # before any value's row
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


@functools.cache
def _claim_stmt(dialect: str) -> Any:
    table = ProcessedUpdate.__table__
    insert = _insert(dialect, table)
    return insert.values(update_id=bindparam("update_id"),
                         processed_at=bindparam("at", type_=table.c.processed_at.type)) \
        .on_conflict_do_nothing().returning(table.c.update_id)


@functools.cache
def _claim_key_stmt(dialect: str) -> Any:
    table = ProcessedMessage.__table__
    insert = _insert(dialect, table)
    return insert.values(key=bindparam("key"),
                         processed_at=bindparam("at", type_=table.c.processed_at.type)) \
        .on_conflict_do_nothing().returning(table.c.key)


def claim_update(update_id: int | str, *, session: Session) -> bool:
    """Record an update as applied; False when it already was (a duplicate delivery).
    A string is the key of a message of a messenger without update ids ("zalo:<id>")."""
    if isinstance(update_id, str):
        return session.connection().execute(
            _claim_key_stmt(session.get_bind().dialect.name),
            {"key": update_id, "at": utcnow()}).first() is not None
    stmt = _claim_stmt(session.get_bind().dialect.name)
    return session.connection().execute(
        stmt, {"update_id": update_id, "at": utcnow()}).first() is not None


def load_state(person_id: int, *, session: Session) -> dict:
    """The person's conversation state ({} when idle), locked for this update."""
    conv = session.exec(select(Conversation).where(Conversation.person_id == person_id)
                        .with_for_update()).first()
    return dict(conv.state) if conv else {}


@functools.cache
def _save_state_stmt(dialect: str) -> Any:
    table = Conversation.__table__
    insert = _insert(dialect, table)
    stmt = insert.values(person_id=bindparam("person_id"),
                         state=bindparam("state", type_=table.c.state.type),
                         updated_at=bindparam("at", type_=table.c.updated_at.type))
    return stmt.on_conflict_do_update(
        index_elements=["person_id"],
        set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at})


def save_state(person_id: int, state: dict, *, session: Session) -> None:
    """Store the person's conversation state (one upsert)."""
    session.connection().execute(_save_state_stmt(session.get_bind().dialect.name),
                                 {"person_id": person_id, "state": state, "at": utcnow()})
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Conversation) and obj.person_id == person_id:
            session.expire(obj)


def officer_chats(*, session: Session) -> list[tuple[int, str]]:
    """(Telegram id, language) of every person holding an officer or admin role."""
    rows = session.exec(
        select(Person.telegram_id, Person.language).join(
            Membership, col(Membership.person_id) == col(Person.id))
        .where(col(Membership.role).in_((Role.officer, Role.admin)),
               col(Person.telegram_id).is_not(None)).distinct()).all()
    return [(int(t), lang) for t, lang in rows if t is not None]


def record_round_event(round_id: int, action: str, *, person_id: int | None, reason: str,
                       session: Session, now: datetime) -> None:
    """Keep a round's closing or reopening, by whom and why."""
    session.add(RoundEvent(round_id=round_id, action=action, reason=reason[:500],
                           person_id=person_id, at=now))


def round_events(round_id: int, *, session: Session) -> list[tuple[RoundEvent, Person | None]]:
    """A round's closings and reopenings, oldest first, with who did them."""
    return list(session.exec(
        select(RoundEvent, Person).join(Person, Person.id == RoundEvent.person_id, isouter=True)
        .where(RoundEvent.round_id == round_id).order_by(RoundEvent.at, RoundEvent.id)).all())


def submitted_at(round_id: int, *, session: Session) -> dict[int, datetime]:
    """When each unit of a round sent its report."""
    rows = session.exec(select(Submission.unit_id, Submission.submitted_at)
                        .where(Submission.round_id == round_id)).all()
    return {unit_id: at for unit_id, at in rows}


UPPER_LEVELS = ("province", "city", "district")


def ancestors(unit: Unit, *, session: Session) -> list[Unit]:
    """The unit and the units above it, nearest first."""
    out, seen = [unit], {unit.id}
    while out[-1].parent_id is not None and out[-1].parent_id not in seen:
        parent = session.get(Unit, out[-1].parent_id)
        if parent is None:
            break
        out.append(parent)
        seen.add(parent.id)
    return out


def rounds_under(unit_id: int, *, session: Session) -> list[tuple[Unit, Round]]:
    """The latest round of every commune under an upper level (at any depth), in order."""
    tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Unit.id).join(tree, Unit.parent_id == tree.c.id)
                          .where(col(Unit.kind).in_([*UPPER_LEVELS, "commune"])))
    rows = session.exec(select(Unit, Round).join(Round, Round.commune_id == Unit.id)
                        .where(col(Unit.id).in_(select(tree.c.id)), Unit.id != unit_id)
                        .order_by(Unit.position, Unit.code, col(Round.year).desc())).all()
    out: dict[int, tuple[Unit, Round]] = {}
    for u, r in rows:
        out.setdefault(u.id, (u, r))
    return list(out.values())
