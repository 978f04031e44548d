"""Every button's callback data: built and parsed here, and nowhere else.

One typed dataclass per kind of button, ``encode()`` to the wire and ``decode(data)`` back.
The wire formats are those of earlier versions, so a button in an old message still works:

- ``r{round}:{action}:{code}:{arg}``: an answer or step of the report (ReportAction)
- ``u:{unit}:{then}``: the unit to act for (UnitChoice)
- ``lang:{xx}``: the language (Language)
- ``inv:{unit}``: the unit an officer invites someone for (Invite)
- ``off:{action}:{round}``: an officer closes a round, or keeps it open (OfficerAction)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit on callback data
MAX_ID_DIGITS = 18  # every id of 18 digits fits a database integer (below 2**63)


def ascii_int(text: str | None, *, max_digits: int = MAX_ID_DIGITS) -> int | None:
    """A whole number written in ASCII digits only, at most ``max_digits`` of them; None for
    anything else (a sign, a superscript "²", another script's digits, an empty text).

    ``str.isdigit()`` alone accepts "²", which ``int()`` then refuses.
    """
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


class TooLong(ValueError):
    """Callback data over Telegram's 64 bytes."""


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise TooLong(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


@dataclass(frozen=True)
class ReportAction:
    """A button of the report: ``action`` on indicator ``code`` (``arg``: its detail)."""

    round_id: int
    action: str
    code: str = ""
    arg: str = ""

    def encode(self) -> str:
        """The wire form."""
        if not re.fullmatch(_WORD, self.action) or ":" in self.code:
            raise ValueError(f"not a report button: {self!r}")
        return _checked(f"r{self.round_id}:{self.action}:{self.code}:{self.arg}")


@dataclass(frozen=True)
class UnitChoice:
    """A unit chosen among several, then ``then`` (report or status)."""

    unit_id: int
    then: str

    def encode(self) -> str:
        """The wire form."""
        return _checked(f"u:{self.unit_id}:{self.then}")


@dataclass(frozen=True)
class Language:
    """The language the bot should speak."""

    lang: str

    def encode(self) -> str:
        """The wire form."""
        return _checked(f"lang:{self.lang}")


@dataclass(frozen=True)
class Invite:
    """The unit an officer creates an invitation for."""

    unit_id: int

    def encode(self) -> str:
        """The wire form."""
        return _checked(f"inv:{self.unit_id}")


@dataclass(frozen=True)
class OfficerAction:
    """An officer's answer to "close the round?": close or keep."""

    action: str
    round_id: int

    def encode(self) -> str:
        """The wire form."""
        return _checked(f"off:{self.action}:{self.round_id}")


Callback = ReportAction | UnitChoice | Language | Invite | OfficerAction

_WORD = r"[a-z]+"
_FIELD = r"[^:]*"  # indicator codes (4, 8.1, 20.2) and arguments hold no colon
_ID = rf"([0-9]{{1,{MAX_ID_DIGITS}}})"  # ASCII digits only, small enough for the database
_PATTERNS: tuple[tuple[re.Pattern[str], type], ...] = (
    (re.compile(rf"^r{_ID}:({_WORD}):({_FIELD}):(.*)$", re.ASCII), ReportAction),
    (re.compile(rf"^u:{_ID}:({_WORD})$", re.ASCII), UnitChoice),
    (re.compile(r"^lang:(vi|en)$"), Language),
    (re.compile(rf"^inv:{_ID}$", re.ASCII), Invite),
    (re.compile(rf"^off:({_WORD}):{_ID}$", re.ASCII), OfficerAction),
)


def decode(data: str | None) -> Callback | None:
    """The button behind callback data; None for anything this bot never built."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    for pattern, kind in _PATTERNS:
        m = pattern.match(data)
        if m is None:
            continue
        g = m.groups()
        if kind is ReportAction:
            return ReportAction(int(g[0]), g[1], g[2], g[3])
        if kind is UnitChoice:
            return UnitChoice(int(g[0]), g[1])
        if kind is Language:
            return Language(g[0])
        if kind is Invite:
            return Invite(int(g[0]))
        return OfficerAction(g[0], int(g[1]))
    return None
