"""Signing in to the web pages: one-time links, browser sessions, web-only reporters.

Every token is random (``secrets``) and only its SHA-256 is stored, like invitation codes:
a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, select

from storage.kinds import Role
from storage.models import Membership, Person, SignInLink, Unit, WebSession, utcnow

LINK_MINUTES = 15
SESSION_DAYS = 30


class LinkState(StrEnum):
    """What a sign-in link is worth now."""

    valid = "valid"
    unknown = "unknown"
    expired = "expired"
    used = "used"
    revoked = "revoked"


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create_link(person_id: int, *, session: Session, now: datetime | None = None,
                minutes: int = LINK_MINUTES) -> str:
    """A new one-time sign-in link's token for a person."""
    now = now or utcnow()
    token = secrets.token_urlsafe(24)
    session.add(SignInLink(token_hash=token_hash(token), person_id=person_id, created_at=now,
                           expires_at=now + timedelta(minutes=minutes)))
    session.flush()
    return token


def _link(token: str, *, session: Session) -> SignInLink | None:
    if not token or len(token) > 100:
        return None
    return session.exec(select(SignInLink).where(
        SignInLink.token_hash == token_hash(token))).first()


def link_state(token: str, *, session: Session, now: datetime | None = None) -> LinkState:
    """Whether a link would sign in now (nothing is used up)."""
    link = _link(token, session=session)
    if link is None:
        return LinkState.unknown
    if link.revoked_at is not None:
        return LinkState.revoked
    if link.used_at is not None:
        return LinkState.used
    if _aware(link.expires_at) <= (now or utcnow()):
        return LinkState.expired
    return LinkState.valid


def redeem_link(token: str, *, session: Session, now: datetime | None = None
                ) -> tuple[LinkState, str | None]:
    """Use a link up: a new session's token when it was valid. Two browsers using one link
    at once: one statement marks it used, only one of them gets a session."""
    now = now or utcnow()
    state = link_state(token, session=session, now=now)
    if state != LinkState.valid:
        return state, None
    claimed = session.connection().execute(
        update(SignInLink).where(SignInLink.token_hash == token_hash(token),
                                 SignInLink.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now)).rowcount
    if claimed != 1:
        return LinkState.used, None
    link = _link(token, session=session)
    assert link is not None
    return LinkState.valid, create_session(link.person_id, via="link", session=session, now=now)


def create_session(person_id: int, *, via: str, session: Session,
                   now: datetime | None = None) -> str:
    """A new browser session's token."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=token_hash(token), person_id=person_id, via=via,
                           created_at=now, expires_at=now + timedelta(days=SESSION_DAYS)))
    session.flush()
    return token


def session_person(token: str | None, *, session: Session,
                   now: datetime | None = None) -> Person | None:
    """The person a session cookie belongs to, if it is still valid."""
    if not token or len(token) > 100:
        return None
    row = session.exec(select(WebSession, Person).join(Person, Person.id == WebSession.person_id)
                       .where(WebSession.token_hash == token_hash(token))).first()
    if row is None:
        return None
    ws, person = row
    if ws.revoked_at is not None or _aware(ws.expires_at) <= (now or utcnow()):
        return None
    return person


def revoke_links(person_id: int, *, session: Session, now: datetime | None = None) -> int:
    """Revoke a person's sign-in links not used yet; how many."""
    return session.connection().execute(
        update(SignInLink).where(SignInLink.person_id == person_id,
                                 SignInLink.used_at.is_(None),  # type: ignore[union-attr]
                                 SignInLink.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=now or utcnow())).rowcount


def revoke_sessions(person_id: int, *, session: Session, now: datetime | None = None) -> int:
    """Sign a person out of every browser; how many sessions."""
    return session.connection().execute(
        update(WebSession).where(WebSession.person_id == person_id,
                                 WebSession.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=now or utcnow())).rowcount


def revoke_session(token: str, *, session: Session, now: datetime | None = None) -> None:
    """Sign one browser out."""
    session.connection().execute(
        update(WebSession).where(WebSession.token_hash == token_hash(token))
        .values(revoked_at=now or utcnow()))


def members(unit_id: int, *, session: Session) -> list[tuple[Membership, Person]]:
    """The people of a unit with their role."""
    return list(session.exec(select(Membership, Person)
                             .join(Person, Person.id == Membership.person_id)
                             .where(Membership.unit_id == unit_id).order_by(Person.id)))


def web_reporter(unit: Unit, name: str, role: Role | str, *,
                 session: Session) -> tuple[Person, bool]:
    """The web-only reporter (no Telegram) of a unit with this name, created if new; whether
    it was created."""
    for m, p in members(unit.id, session=session):
        if p.telegram_id is None and p.name == name and m.role == str(role):
            return p, False
    person = Person(name=name, telegram_id=None)
    session.add(person)
    session.flush()
    assert person.id is not None and unit.id is not None
    session.add(Membership(person_id=person.id, unit_id=unit.id, role=str(role)))
    session.flush()
    return person, True


def issue_web_link(unit: Unit, name: str, role: Role | str, *, session: Session,
                   now: datetime | None = None) -> tuple[Person, bool, int, str]:
    """A web-only reporter's sign-in link (``ctvbot login-link --name``, the officer's
    page): the reporter created if new, their earlier unused links revoked. Returns the
    person, whether they were created, how many links were revoked and the new token."""
    person, created = web_reporter(unit, name, role, session=session)
    assert person.id is not None
    revoked = revoke_links(person.id, session=session, now=now)
    return person, created, revoked, create_link(person.id, session=session, now=now)


def remove_member(membership_id: int, unit_ids: set[int], *, session: Session,
                  now: datetime | None = None) -> Membership | None:
    """Take a person out of a unit (one of ``unit_ids``): their membership goes, their
    figures stay; a web-only reporter left with no unit is signed out and their links
    revoked. None when the membership is not one of those units'."""
    m = session.get(Membership, membership_id)
    if m is None or m.unit_id not in unit_ids:
        return None
    session.delete(m)
    session.flush()
    left = session.exec(select(Membership.id).where(Membership.person_id == m.person_id)).first()
    if left is None:
        revoke_links(m.person_id, session=session, now=now)
        revoke_sessions(m.person_id, session=session, now=now)
    return m
