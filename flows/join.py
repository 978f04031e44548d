"""Joining with an invitation, and the small commands around it: pure functions.

The shell redeems the code against the database and hands the outcome here; these
functions only decide what to say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flows.callbacks import Invite, Language, UnitChoice
from flows.effects import Button, Day, Reply, msg


@dataclass(frozen=True)
class Joined:
    """A successful join: who, which unit, which commune, which round."""

    person_name: str
    unit_name: str
    commune_name: str
    role: str
    year: int | None
    deadline: date | None
    officer: bool = False
    today: date | None = None


OUTCOME_KEYS = {
    "unknown": "join.unknown_code",
    "used": "join.used_code",
    "expired": "join.expired_code",
    "rate_limited": "join.too_many_attempts",
}


def on_join(outcome: str, joined: Joined | None, whole_commune: bool = False) -> Reply:
    """What to say after /start CODE."""
    if outcome in OUTCOME_KEYS:
        return Reply((msg(OUTCOME_KEYS[outcome]),))
    assert joined is not None
    if whole_commune:
        lines = [msg("join.welcome_commune", name=joined.person_name,
                     commune_name=joined.commune_name, role=joined.role)]
    else:
        lines = [msg("join.welcome", name=joined.person_name, unit_name=joined.unit_name,
                     commune_name=joined.commune_name, role=joined.role)]
    if joined.year is not None and joined.deadline is not None:
        if joined.today is not None and joined.today > joined.deadline:
            lines.append(msg("join.round_late", year=joined.year, deadline=Day(joined.deadline)))
        else:
            lines.append(msg("join.round", year=joined.year, deadline=Day(joined.deadline)))
        lines.append(msg("join.how_to_officer") if joined.officer else msg("join.how_to_report"))
    else:
        lines.append(msg("join.no_round"))
    if outcome == "already_member":
        lines.insert(0, msg("join.already_member"))
    return Reply(tuple(lines))


def on_start_without_code(known_name: str | None) -> Reply:
    """/start with no code: a stranger gets what the bot is and who to ask."""
    if known_name is None:
        return Reply((msg("start.stranger"),))
    return Reply((msg("start.member", name=known_name), msg("join.how_to_report")))


def choose_unit(units: Sequence[tuple[int, str]], then: str) -> Reply:
    """Ask which unit, for a person holding several."""
    rows = tuple((Button(msg("btn.unit", unit_name=name), UnitChoice(uid, then).encode()),)
                 for uid, name in units)
    return Reply((msg("report.choose_unit"),), rows)


def invite_menu(units: Sequence[tuple[int, str]]) -> Reply:
    """An officer picks the unit to invite someone for."""
    rows = tuple((Button(msg("btn.unit", unit_name=name), Invite(uid).encode()),)
                 for uid, name in units)
    return Reply((msg("invite.choose_unit"),), rows)


def invite_created(unit_name: str, role: str, link: str, code: str, expires: date) -> Reply:
    """The invitation an officer can forward."""
    return Reply((msg("invite.created", unit_name=unit_name, role=role, link=link, code=code,
                      expires=Day(expires)),))


def language_menu() -> Reply:
    """Choose the language."""
    return Reply((msg("language.choose"),),
                 ((Button(msg("btn.lang_vi"), Language("vi").encode()),
                   Button(msg("btn.lang_en"), Language("en").encode())),))


def help_text(roles: Sequence[str]) -> Reply:
    """What the person can do, by role."""
    lines = [msg("help.reporter")]
    if any(r in ("officer", "admin") for r in roles):
        lines.append(msg("help.officer"))
    if not roles:
        lines = [msg("start.stranger")]
    return Reply(tuple(lines))


_CODE_PREFIX = re.compile(r"^(mã mời|ma moi|mã tham gia|ma tham gia|mã|ma|code)"
                          r"(\s*[:：]\s*|\s+)", re.IGNORECASE)
# letters and digits; or 12 characters of the invitation alphabet (no i, l, o, 0, 1), which
# a code drawn at random may be without any digit
_CODE = re.compile(r"^(?:(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[a-z0-9]{8,20}"
                   r"|[a-hj-km-np-z2-9]{12})$")
_PUNCT = " .,;!?\"'«»“”"


def invitation_code(text: str) -> str | None:
    """An invitation code in what a person typed ("/start CODE." or "Mã: CODE"), if any.

    The text as it is comes first: a code may itself begin with "ma".
    """
    bare = text.strip().strip(_PUNCT).lower()
    if _CODE.match(bare):
        return bare
    t = _CODE_PREFIX.sub("", text.strip()).strip(_PUNCT).lower()
    return t if _CODE.match(t) else None


def not_a_member() -> Reply:
    """A command that needs membership, from a stranger."""
    return Reply((msg("start.stranger"),))


def officers_only() -> Reply:
    """A polite refusal of an officer command."""
    return Reply((msg("refuse.officers_only"),))
