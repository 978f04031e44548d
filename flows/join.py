"""Joining with an invitation, and the small commands around it: pure functions.

The shell redeems the code against the database and hands the outcome here; these
functions only decide what to say.
"""

from __future__ import annotations

import re
import unicodedata
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
    consolidation_deadline: date | None = None
    closed_on: date | None = None  # the day an officer closed the round
    contact: str | None = None  # the officers' names, for a closed round


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
        lines.extend(_round_lines(joined, joined.year, joined.deadline))
    else:
        lines.append(msg("join.no_round"))
    if outcome == "already_member":
        lines.insert(0, msg("join.already_member"))
    return Reply(tuple(lines))


def _round_lines(joined: Joined, year: int, deadline: date) -> list:
    """Where the round stands for someone who just joined, and what they can do now."""
    today = joined.today
    consolidation = joined.consolidation_deadline
    closed = joined.closed_on is not None or (
        today is not None and consolidation is not None and today > consolidation)
    if closed:
        on = joined.closed_on or consolidation
        if joined.officer:
            return [msg("join.round_closed_officer", year=year, closed_on=Day(on))]
        contact = joined.contact or msg("report.contact_officer")
        return [msg("join.round_closed", year=year, closed_on=Day(on), contact=contact)]
    late = today is not None and today > deadline
    if joined.officer:
        key = "join.round_late_officer" if late else "join.round"
        params = {"consolidation_deadline": Day(consolidation or deadline)} if late else {}
        return [msg(key, year=year, deadline=Day(deadline), **params),
                msg("join.how_to_officer")]
    line = msg("join.round_late", year=year, deadline=Day(deadline)) if late else \
        msg("join.round", year=year, deadline=Day(deadline))
    return [line, msg("join.how_to_report")]


def on_start_without_code(known_name: str | None) -> Reply:
    """/start with no code: a stranger gets what the bot is and who to ask."""
    if known_name is None:
        return Reply((msg("start.stranger"), msg("start.code_hint")))
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


# The commonest Vietnamese family names (họ): together they cover most of the population.
_FAMILY = (
    "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đào đinh trịnh "
    "lâm tô lương trương cao chu tạ quách thái tăng lưu đoàn vương kiều hứa thân triệu "
    "phùng lò lục nông hầu giang tống mạc âu doãn khổng châu")
FAMILY_NAMES = frozenset(_FAMILY.split())
# Vietnamese letters: đ and the vowels with their hats, horns and tone marks
VIETNAMESE_LETTERS = re.compile(
    "[đăâêôơưĐĂÂÊÔƠƯàáãèéêìíòóõùúýÀÁÃÈÉÌÍÒÓÕÙÚÝĩĨũŨ\u1ea0-\u1ef9]")


def _plain(word: str) -> str:
    """Without accents: "Nguyễn" and "Nguyen" (typed without them) are one name."""
    bare = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in bare if not unicodedata.combining(c))


_PLAIN_FAMILY_NAMES = frozenset(_plain(n) for n in FAMILY_NAMES)


def _is_family(word: str) -> bool:
    return word.lower() in FAMILY_NAMES or _plain(word) in _PLAIN_FAMILY_NAMES


def person_name(first_name: str, last_name: str | None, language: str | None = None) -> str:
    """A Telegram user's name as it is written in Vietnamese: family name first.

    Telegram asks for "first name" and "last name" in the Western order, and Vietnamese
    people mostly put their given name (tên) in the first and their family and middle
    names (họ, tên đệm) in the last: first "Lan", last "Hồ Thị" is Hồ Thị Lan. Some write it
    the other way round (first "Hồ Thị", last "Lan"), or the whole name in the first field.
    So: one field only is taken as written; when the first field begins with a family name
    and the last does not, the order is already Vietnamese; when the last field begins with
    a family name, or the name is Vietnamese in any other way (its letters, or the person's
    language), the last field goes first; a foreign name keeps its own order.
    """
    first = " ".join(first_name.split())
    last = " ".join((last_name or "").split())
    if not first or not last:
        return first or last
    first_family = _is_family(first.split()[0])
    last_family = _is_family(last.split()[0])
    if first_family and not last_family:
        return f"{first} {last}"
    vietnamese = last_family or bool(VIETNAMESE_LETTERS.search(first + last)) or \
        (language or "").lower().startswith("vi")
    return f"{last} {first}" if vietnamese else f"{first} {last}"
