"""The one context of every update: the events the dispatcher knows, the command words that
name them, what an update may send back, and the context a handler works in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.i18n import pick_language, text_of
from bot.messenger import User as TgUser
from bot.reminders import Delivery
from flows.callbacks import ascii_int
from flows.effects import Msg, Reply
from flows.reminders import DAYTIME, Daytime
from storage.models import Person

__all__ = ["COMMANDS", "MENU_NAMES", "Ctx", "Env", "Incoming", "OfficerCmd", "OutFile",
           "Outcome", "PressIn", "ReportCmd", "SimpleCmd", "StartCmd", "SummaryCmd", "TextIn",
           "TgUser", "ascii_int", "command_event", "menu"]

# ------------------------------------------------------------------ incoming events


@dataclass(frozen=True)
class StartCmd:
    """/start [CODE]."""

    code: str | None = None


@dataclass(frozen=True)
class ReportCmd:
    """/report, /baocao, or "Báo cáo ngay" at an indicator."""

    code: str | None = None


@dataclass(frozen=True)
class TextIn:
    """A typed text."""

    text: str


@dataclass(frozen=True)
class PressIn:
    """A button press (callback data)."""

    data: str


@dataclass(frozen=True)
class SummaryCmd:
    """/summary [YEAR] (/tonghop)."""

    arg: str | None = None


@dataclass(frozen=True)
class SimpleCmd:
    """/status, /cancel, /help, /language, /invite, or "unknown" with the command typed."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class OfficerCmd:
    """/progress, /remind, /deadline ARGS, /close (officers only)."""

    name: str
    args: tuple[str, ...] = ()


Incoming = StartCmd | ReportCmd | TextIn | PressIn | SimpleCmd | SummaryCmd | OfficerCmd

# ------------------------------------------------------------------ the command words

COMMANDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    # command: (words that name it, menu description key; None: not in the menu)
    "start": (("start",), None),
    "report": (("report", "baocao"), "cmd.report"),
    "status": (("status", "tinhtrang"), "cmd.status"),
    "cancel": (("cancel", "huy"), "cmd.cancel"),
    "help": (("help", "huongdan"), "cmd.help"),
    "language": (("language", "ngonngu"), "cmd.language"),
    "invite": (("invite", "moi"), "cmd.invite"),
    "summary": (("summary", "tonghop"), "cmd.summary"),
    "progress": (("progress", "tiendo"), "cmd.progress"),
    "remind": (("remind", "nhac"), "cmd.remind"),
    "deadline": (("deadline", "hanchot"), "cmd.deadline"),
    "close": (("close", "chot"), "cmd.close"),
    "web": (("web", "web"), "cmd.web"),
}
MENU_NAMES = {lang: [words[index] for words, key in COMMANDS.values() if key]
              for lang, index in (("vi", 1), ("en", 0))}
OFFICER_COMMANDS = ("progress", "remind", "deadline", "close")
# what only officers (and admins) may use: shown in their own chat's menu, nobody else's
OFFICERS_ONLY = frozenset(("invite", "summary", *OFFICER_COMMANDS))
MENUS = ("everyone", "officer")


def menu(which: str, lang: str) -> list[tuple[str, str]]:
    """The command menu of ``which`` ("everyone" or "officer") in a language: (word,
    description), Vietnamese words for Vietnamese, English ones otherwise."""
    index = 1 if lang == "vi" else 0
    return [(words[index], text_of(key, lang)) for name, (words, key) in COMMANDS.items()
            if key and (which == "officer" or name not in OFFICERS_ONLY)]
_BY_WORD = {word: name for name, (words, _) in COMMANDS.items() for word in words}


def command_event(word: str, args: Sequence[str] = ()) -> Incoming:
    """The event a command word names (any alias, any case); an unknown word asks for help."""
    name = _BY_WORD.get(word.lower())
    first = args[0] if args else None
    if name is None:
        return SimpleCmd("unknown", f"/{word}"[:32])
    if name == "start":
        return StartCmd(first)
    if name == "report":
        return ReportCmd()
    if name == "summary":
        return SummaryCmd(first)
    if name in OFFICER_COMMANDS:
        return OfficerCmd(name, tuple(args))
    return SimpleCmd(name)


# ------------------------------------------------------------------ what goes back


@dataclass(frozen=True)
class OutFile:
    """A file to send: a document or a photo, with a caption from the catalog."""

    kind: str  # document | photo
    filename: str
    data: bytes
    caption: Msg
    make: Callable[[], bytes] | None = None  # builds ``data`` once the text is sent

    def content(self) -> bytes:
        """The file's bytes, built now if they were left for later."""
        return self.make() if self.make is not None else self.data


@dataclass
class Outcome:
    """What to send back, in which language; ``duplicate`` when the update was seen before.

    A join or a change of language sets the person's command menu (``menu``).
    An officer's command may also hand nudges to the reminder sender (``deliveries``) and ask
    for the reminders to be rescheduled (a round's dates changed, or it was closed).
    """

    locale: str
    replies: list[Reply] = field(default_factory=list)
    files: list[OutFile] = field(default_factory=list)
    duplicate: bool = False
    callback_text: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    reschedule: bool = False
    menu: str | None = None  # the person's command menu to set: "everyone" or "officer"


@dataclass(frozen=True)
class Env:
    """What the service needs from the outside world."""

    engine: Engine
    tz: Any
    bot_username: str
    invitation_days: int = 30
    now: Callable[[], datetime] | None = None
    web_url: str = ""  # the web pages' public address (sign-in links); "" when not served
    daytime: Daytime = DAYTIME  # reminders go out only in the day

    def utcnow(self) -> datetime:
        """Current time (aware, UTC), from the injected clock when there is one."""
        if self.now is not None:
            return self.now()
        from storage.models import utcnow

        return utcnow()

    def today(self) -> date:
        """Today's date in the commune's time zone."""
        return self.utcnow().astimezone(self.tz).date()


class Ctx:
    """One update being handled."""

    def __init__(self, env: Env, session: Session, user: TgUser, person: Person | None):
        self.env, self.session, self.user, self.person = env, session, user, person
        self.found: Any = None  # what the update's first query read (storage.repo.Found)
        self.out = Outcome(locale=person.language if person else pick_language(user.language_code))

    def say(self, reply: Reply) -> None:
        """Queue a reply."""
        self.out.replies.append(reply)
