"""What the shell needs from a messenger: the events it receives, the sends it makes, its limits.

Telegram (``bot.telegram``) is the first implementation; another messenger plugs in by turning
its updates into ``Inbound`` and implementing ``Messenger``. Nothing here imports a messenger
library, the database or the flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Choice = tuple[str, str]  # (label, data given back when pressed)
ChatId = int | str  # Telegram: a number; Zalo: a string
Choices = Sequence[Sequence[Choice]]  # rows of choices


@dataclass(frozen=True)
class Limits:
    """What a messenger accepts in one message."""

    max_text: int  # characters of one text message
    max_choice_data: int  # bytes of the data a choice gives back
    choices_per_row: int  # 0: no buttons at all
    documents: bool = True  # files can be sent (Zalo: no)
    wording: str | None = None  # the catalog's variants for this messenger ("zalo.<key>")


# ------------------------------------------------------------------ receiving


@dataclass(frozen=True)
class User:
    """The sender of an update, as the messenger describes them."""

    id: int | str  # Telegram: a number; Zalo: a string
    first_name: str
    last_name: str | None = None
    language_code: str | None = None
    channel: str = "telegram"  # telegram | zalo

    @property
    def full_name(self) -> str:
        """First and last name."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Text:
    """A typed text that is not a command."""

    text: str


@dataclass(frozen=True)
class Command:
    """A command: its word as typed (without "/" or "@bot") and the words after it."""

    word: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Press:
    """A choice pressed: its data, the press to acknowledge, the message it belonged to."""

    data: str
    press_id: str
    message_id: int | None = None


@dataclass(frozen=True)
class Other:
    """A message that is not text: a photo, a sticker, a voice note, a file."""


@dataclass(frozen=True)
class Reachable:
    """The person blocked the bot (False) or came back (True)."""

    reachable: bool


Event = Text | Command | Press | Other | Reachable


@dataclass(frozen=True)
class Inbound:
    """One update from a messenger."""

    update_id: int | str  # Zalo: "zalo:<message_id>"
    user: User | None
    chat_id: int | str | None
    event: Event | None  # None: nothing the shell acts on
    private: bool = True
    edited: bool = False


# ------------------------------------------------------------------ sending


class MessengerError(Exception):
    """A send was refused or failed."""


class RetryLater(MessengerError):
    """Too many messages: send the same one again after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Blocked(MessengerError):
    """The person blocked the bot (or never started it)."""


class Refused(MessengerError):
    """The messenger refused this message (bad request, message too old to edit)."""


class NetworkDown(MessengerError):
    """The message never reached the messenger: it can be sent again."""


class Busy(NetworkDown):
    """The message never left this process (its connections were all busy): send it again."""


class MaybeSent(MessengerError):
    """No answer in time: the message may have arrived, sending it again may repeat it."""


class Messenger(Protocol):
    """The sends the shell and the reminder sender make."""

    limits: Limits

    async def send_text(self, chat_id: ChatId, text: str, choices: Choices = ()) -> int:
        """Send one text (at most ``limits.max_text``) with choices; its message id."""
        ...

    async def remove_choices(self, chat_id: ChatId, message_id: int) -> None:
        """Take the choices away from an earlier message."""
        ...

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        """Acknowledge a press; with a text, show it to the person as an alert."""
        ...

    async def send_document(self, chat_id: ChatId, filename: str, data: bytes,
                            caption: str) -> None:
        """Send a file."""
        ...

    async def send_photo(self, chat_id: ChatId, filename: str, data: bytes, caption: str) -> None:
        """Send a picture."""
        ...

    async def send_typing(self, chat_id: ChatId) -> None:
        """Show that an answer is being prepared."""
        ...

    async def send_uploading(self, chat_id: ChatId) -> None:
        """Show that a file is being prepared."""
        ...

    async def set_menu(self, chat_id: ChatId, commands: Sequence[tuple[str, str]]) -> None:
        """The commands (word, description) this chat's menu offers."""
        ...


def split_text(text: str, limit: int) -> list[str]:
    """Split a long text at line breaks into pieces of at most ``limit`` characters."""
    if len(text) <= limit:
        return [text]
    parts, current = [], ""
    for line in text.split("\n"):
        while len(line) > limit:
            parts.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return parts


WEB_APP = "webapp:"  # a choice whose data is this and a URL opens that page (a Mini App)


def pieces(text: str, choices: Choices, limits: Limits) -> list[tuple[str, Choices]]:
    """The messages one reply becomes: its text split, the choices on the last piece, laid
    out at most ``choices_per_row`` to a row."""
    parts = split_text(text, limits.max_text)
    rows = [list(row[i:i + limits.choices_per_row])
            for row in choices for i in range(0, len(row), limits.choices_per_row)] \
        if limits.choices_per_row > 0 else []
    for row in rows:
        for _, data in row:
            if len(data.encode()) > limits.max_choice_data and not data.startswith(WEB_APP):
                raise ValueError(f"choice data longer than {limits.max_choice_data} bytes: "
                                 f"{data!r}")
    return [(p, rows if n == len(parts) - 1 else []) for n, p in enumerate(parts)]
