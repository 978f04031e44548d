"""The server's records: bots, chats, messages, files, updates and request parameters."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import itertools
import json
from collections import Counter, deque
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from sandbox.botapi.limits import _OPT_IN_UPDATES, MAX_CAPTION, _bad
from sandbox.botapi.text import format_text

# --------------------------------------------------------------------------- data


@dataclass
class StoredFile:
    """A file the server holds (uploaded by the bot or by a person)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    filename: str | None
    mime_type: str | None
    kind: str
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass
class CallbackAnswer:
    """What the bot answered with answerCallbackQuery."""

    callback_query_id: str
    data: str | None
    message_id: int | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class Delivery:
    """One attempt to POST an update to the webhook."""

    update_id: int
    url: str
    attempt: int
    status: int | None
    error: str | None
    secret_token: str | None
    duplicate: bool
    at: float




@dataclass
class Stats:
    """Counters of one bot's calls."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    sends: int = 0
    too_many_requests: int = 0
    send_times: list[float] = field(default_factory=list)
    send_times_by_chat: dict[int, list[float]] = field(default_factory=dict)

    def max_per_window(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """Largest number of accepted sends within any ``window`` seconds."""
        times = self.send_times if chat_id is None else self.send_times_by_chat.get(chat_id, [])
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def reset(self) -> None:
        """Forget all counts."""
        self.calls.clear()
        self.errors.clear()
        self.sends = 0
        self.too_many_requests = 0
        self.send_times.clear()
        self.send_times_by_chat.clear()


@dataclass
class BotMessage:
    """A snapshot of one message of a chat as the person sees it (edits applied)."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None
    caption: str | None
    entities: list[dict[str, Any]]
    parse_mode: str | None
    source: str | None
    buttons: list[list[tuple[str, str | None]]]
    keyboard: list[list[str]] | None
    remove_keyboard: bool
    force_reply: bool
    document: StoredFile | None
    photo_file: StoredFile | None
    edited: int
    deleted: bool
    raw: dict[str, Any]

    @property
    def photo(self) -> bytes | None:
        """Bytes of the photo, if the message is a photo."""
        return self.photo_file.data if self.photo_file else None

    @property
    def content(self) -> str | None:
        """Text, or caption for media messages."""
        return self.text if self.text is not None else self.caption

    @property
    def button_data(self) -> list[str]:
        """Callback data of every inline button, row by row."""
        return [data for row in self.buttons for _, data in row if data is not None]

    @property
    def button_texts(self) -> list[str]:
        """Text of every inline button, row by row."""
        return [text for row in self.buttons for text, _ in row]



# --------------------------------------------------------------------------- state


class _Signal:
    """Wakes every waiter when something changed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


@dataclass
class _Upload:
    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class _Record:
    message: dict[str, Any]
    from_bot: bool
    source: str | None = None
    parse_mode: str | None = None
    markup: dict[str, Any] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    edits: int = 0
    deleted: bool = False


@dataclass
class _Chat:
    chat: dict[str, Any]
    user: dict[str, Any]
    chat_instance: str
    records: dict[int, _Record] = field(default_factory=dict)
    next_message_id: int = 1
    seq: int = 0
    events: list[tuple[int, int]] = field(default_factory=list)
    cursor: int = 0
    last_update_id: int | None = None
    last_query_id: str | None = None
    reply_keyboard: dict[str, Any] | None = None
    force_reply_to: int | None = None
    actions: list[str] = field(default_factory=list)
    # (action, id of the bot's latest message then): what was shown between which messages
    action_log: list[tuple[str, int]] = field(default_factory=list)
    started: bool = False

    def touch(self, message_id: int) -> None:
        self.seq += 1
        self.events.append((self.seq, message_id))


@dataclass
class _Queued:
    update: dict[str, Any]
    fetched: bool = False
    redelivery: bool = False
    attempts: int = 0


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


class _Bot:
    """Everything the server knows about one bot."""

    def __init__(self, token: str, info: dict[str, Any]) -> None:
        self.token = token
        self.info = info
        self.id: int = info["id"]
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.queue: list[_Queued] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.webhook: _Webhook | None = None
        self.secret_override: tuple[bool, str | None] = (False, None)
        self.deliveries: list[Delivery] = []
        self.chats: dict[int, _Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.file_paths: dict[str, StoredFile] = {}
        self.queries: dict[str, tuple[int, int | None, str | None]] = {}
        self.answered: set[str] = set()
        self.query_times: dict[str, float] = {}  # when each button was pressed (monotonic)
        self.callback_answers: list[CallbackAnswer] = []
        self.stats = Stats()
        self.in_flight = 0
        self.last_call = 0.0
        self.poll_generation = 0
        self.signal = _Signal()
        self.delivery_task: asyncio.Task[None] | None = None
        self.window: deque[float] = deque()
        self.chat_windows: dict[int, deque[float]] = {}
        self.file_counter = itertools.count(1)

    @property
    def sender(self) -> dict[str, Any]:
        """The bot as the ``from`` of its messages."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.info["first_name"],
            "username": self.info["username"],
        }

    def allows(self, kind: str) -> bool:
        """Whether an update of this kind is wanted under the current allowed_updates."""
        allowed = self.webhook.allowed_updates if self.webhook else self.allowed_updates
        if allowed:
            return kind in allowed
        return kind not in _OPT_IN_UPDATES

    def unconsumed(self, update_id: int) -> bool:
        """Whether the update still waits to be fetched or delivered."""
        return any(q.update["update_id"] == update_id and not q.fetched for q in self.queue)


# --------------------------------------------------------------------------- params


class _Params:
    """Request parameters from the query string, a form, JSON or multipart."""

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return name in self.values or name in self.files

    def str_(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise _bad(f"field {name} must be of type String")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def int_(self, name: str, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _bad(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise _bad(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def bool_(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json_(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name} JSON object") from None
        return value

    def chat_id(self) -> int | str:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None

    def input_file(self, name: str) -> _Upload | str | None:
        if name in self.files:
            return self.files[name]
        value = self.str_(name)
        if value and value.startswith("attach://"):
            upload = self.files.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f"there is no {name} in the request")
            return upload
        return value or None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or None when it is not one (needs Pillow)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return (0, 0)
    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------- the server


def _document(stored: StoredFile) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.filename:
        doc["file_name"] = stored.filename
    if stored.mime_type:
        doc["mime_type"] = stored.mime_type
    return doc


def _photo_size(stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "width": stored.width,
        "height": stored.height,
    }


def _user_caption(caption: str | None) -> dict[str, Any]:
    if not caption:
        return {}
    plain, entities = format_text(caption)
    if len(plain) > MAX_CAPTION:
        raise ValueError(f"a caption has at most {MAX_CAPTION} characters")
    return {"caption": plain, **({"caption_entities": entities} if entities else {})}


def _snapshot(record: _Record) -> BotMessage:
    message = copy.deepcopy(record.message)
    markup = record.markup or {}
    inline = message.get("reply_markup", {}).get("inline_keyboard", [])
    buttons = [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in inline]
    keyboard = None
    if "keyboard" in markup:
        keyboard = [[b["text"] for b in row] for row in markup["keyboard"]]
    return BotMessage(
        message_id=message["message_id"],
        chat_id=message["chat"]["id"],
        from_bot=record.from_bot,
        date=message["date"],
        text=message.get("text"),
        caption=message.get("caption"),
        entities=message.get("entities") or message.get("caption_entities") or [],
        parse_mode=record.parse_mode,
        source=record.source,
        buttons=buttons,
        keyboard=keyboard,
        remove_keyboard=bool(markup.get("remove_keyboard")),
        force_reply=bool(markup.get("force_reply")),
        document=record.document,
        photo_file=record.photo,
        edited=record.edits,
        deleted=record.deleted,
        raw=message,
    )


def _chat_id_or_none(params: _Params) -> int | str | None:
    value = params.values.get("chat_id")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _scope_key(scope: dict[str, Any] | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)
