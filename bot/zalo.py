"""Zalo (the Zalo Bot Platform's Bot API, docs/zalo.md) as a messenger.

A thin client on httpx: its updates become ``Inbound`` events for the same shell
(``bot.app.Shell``) and dispatcher as Telegram's, the shell's sends become Bot API calls, its
error codes the messenger's errors. Zalo has no buttons: every choice is written out as a
short list under the text and read back from the person's answer, by its number or by its
words (``Menu``). Updates come by long polling (``ZaloBot.poll``) or by a webhook
(``webhook_handler``, for a web app to mount).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.messenger import (
    Blocked,
    Busy,
    Choices,
    Command,
    Inbound,
    Limits,
    MaybeSent,
    MessengerError,
    NetworkDown,
    Other,
    Press,
    Refused,
    RetryLater,
    Text,
    User,
)
from flows import callbacks

log = logging.getLogger("ctvbot")

MAX_TEXT = 2000  # sendMessage: 1 to 2,000 characters
LIMITS = Limits(max_text=MAX_TEXT, max_choice_data=64, choices_per_row=1, documents=False,
                wording="zalo")
DEFAULT_API_URL = "https://bot-api.zaloplatforms.com"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_SECONDS = 30  # getUpdates' long poll
REPLY_RETRIES = 3  # a send that meets a 429 is sent again, up to 3 times
RETRY_429_SECONDS = 1.0  # no retry time is documented: 1 s, then 2 s, then 3 s
MAX_WEBHOOK_BODY = 64 * 1024
PER_CHAT_SECONDS = 1.0  # one message a second to one person
# choices whose question waits for a figure or a free text: a bare number there is the
# answer itself, never a choice, so these lists are not numbered
_TYPED_ANSWER_ACTIONS = frozenset({"skip", "use", "reden", "nonote", "fix", "ok", "re"})


class _PollTimeout(MessengerError):
    """getUpdates waited its time and nothing came (error 408)."""


class TokenRefused(MessengerError):
    """Zalo refused the bot token (401)."""


def _error(code: int, description: str) -> MessengerError:
    """A Zalo error code (docs/zalo.md) as the messenger's error."""
    if code == 429:
        return RetryLater(RETRY_429_SECONDS)
    if code == 408:
        return _PollTimeout(description)
    if code == 401:
        return TokenRefused(description)
    if code == 403:
        return Blocked(description)
    if code in (400, 404):
        return Refused(description)
    if code >= 500:
        return NetworkDown(description)
    return MessengerError(f"{code}: {description}")


class ZaloClient:
    """Calls ``POST {base}/bot{token}/{method}`` with a JSON body; the token never appears in
    an error."""

    def __init__(self, token: str, base_url: str = DEFAULT_API_URL, *,
                 http: httpx.AsyncClient | None = None, timeout: float = 15.0) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = http or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))

    async def call(self, method: str, body: Mapping[str, Any] | None = None, *,
                   timeout: float | None = None) -> Any:
        """The call's ``result``, or the messenger's error for what went wrong."""
        url = f"{self.base_url}/bot{self._token}/{method}"
        try:
            r = await self.http.post(url, json=dict(body or {}),
                                     timeout=timeout if timeout is not None else self.timeout)
        except httpx.PoolTimeout:
            raise Busy(f"{method}: no free connection") from None
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise NetworkDown(f"{method}: cannot connect") from None
        except httpx.TimeoutException:
            raise MaybeSent(f"{method}: no answer in time") from None
        except httpx.TransportError as exc:
            raise NetworkDown(f"{method}: {type(exc).__name__}") from None
        try:
            data = r.json()
        except ValueError:
            raise (NetworkDown if r.status_code >= 500 else MessengerError)(
                f"{method}: HTTP {r.status_code}, not JSON") from None
        if not isinstance(data, dict):
            raise MessengerError(f"{method}: unexpected answer")
        if data.get("ok"):
            return data.get("result")
        code = data.get("error_code") or r.status_code
        raise _error(int(code), f"{method}: {data.get('description') or ''}")

    async def close(self) -> None:
        """Close the connections."""
        await self.http.aclose()


# ------------------------------------------------------------------ choices as text


def _plain(text: str) -> str:
    """Lower case, without accents or signs: how a typed answer is compared with a label."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@dataclass(frozen=True)
class Menu:
    """The choices written under the latest message to one person."""

    choices: tuple[tuple[str, str], ...]  # (label, data)
    numbered: bool

    @classmethod
    def of(cls, rows: Choices) -> Menu | None:
        """The menu of rows of choices; None without choices."""
        choices = tuple((label, data) for row in rows for label, data in row)
        if not choices:
            return None
        actions = [c.action if isinstance(c := callbacks.decode(data), callbacks.ReportAction)
                   else None for _, data in choices]
        typed = all(a in _TYPED_ANSWER_ACTIONS for a in actions)
        return cls(choices, numbered=not typed)

    def text(self) -> str:
        """"1 – Có · 2 – Không · 3 – Chưa có số liệu", or "» Vẫn là 450 · Chưa có số liệu"
        where a number typed is the answer itself."""
        if self.numbered:
            return " · ".join(f"{n} – {label}" for n, (label, _) in
                              enumerate(self.choices, start=1))
        return "» " + " · ".join(label for label, _ in self.choices)

    def read(self, typed: str) -> str | None:
        """The data of the choice a typed answer names (its number or its words), if any."""
        plain = _plain(typed)
        if not plain:
            return None
        if self.numbered and plain.isdigit() and 1 <= int(plain) <= len(self.choices):
            return self.choices[int(plain) - 1][1]
        return next((data for label, data in self.choices if _plain(label) == plain), None)


# ------------------------------------------------------------------ sending


class _Pace:
    """At most ``per_second`` calls a second overall (0: no limit)."""

    def __init__(self, per_second: float) -> None:
        self.gap = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.gap:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.gap
        if start > now:
            await asyncio.sleep(start - now)


class ZaloMessenger:
    """The Zalo Bot API behind the ``Messenger`` interface.

    It remembers the choices written under the latest message to each person (``menus``):
    the next text of that person is read against them first.
    """

    limits = LIMITS

    def __init__(self, client: ZaloClient, *, replies_per_second: float = 5.0,
                 retries: int = REPLY_RETRIES, sleep: Callable[[float], Awaitable[Any]]
                 = asyncio.sleep) -> None:
        self.client = client
        self.menus: dict[str, Menu] = {}
        self.retries = retries
        self._pace = _Pace(replies_per_second)
        self._sleep = sleep

    async def _send(self, method: str, body: dict[str, Any]) -> Any:
        for attempt in range(self.retries + 1):
            await self._pace.wait()
            try:
                return await self.client.call(method, body)
            except RetryLater as exc:
                if attempt == self.retries:
                    raise
                log.info("Zalo 429 on %s: the same message again in %.0f s", method,
                         exc.seconds * (attempt + 1))
                await self._sleep(exc.seconds * (attempt + 1))
        raise AssertionError("unreachable")

    async def send_text(self, chat_id: int | str, text: str, choices: Choices = ()) -> int:
        """Send a text with its choices written under it (in a second message when both
        would pass Zalo's 2,000 characters). Zalo's message ids are strings and nothing is
        edited later: 0."""
        chat = str(chat_id)
        menu = Menu.of(choices)
        if menu is None:
            self.menus.pop(chat, None)
            await self._send("sendMessage", {"chat_id": chat, "text": text[:MAX_TEXT]})
            return 0
        listed = menu.text()
        if len(text) + 2 + len(listed) <= MAX_TEXT:
            await self._send("sendMessage", {"chat_id": chat, "text": f"{text}\n\n{listed}"})
        else:
            await self._send("sendMessage", {"chat_id": chat, "text": text[:MAX_TEXT]})
            await self._send("sendMessage", {"chat_id": chat, "text": listed[:MAX_TEXT]})
        self.menus[chat] = menu
        return 0

    def read_choice(self, chat_id: int | str, typed: str) -> str | None:
        """The choice a typed answer names under the latest message to that person."""
        menu = self.menus.get(str(chat_id))
        return menu.read(typed) if menu is not None else None

    async def remove_choices(self, chat_id: int | str, message_id: int) -> None:
        """Nothing to take away: a written list stays, only the latest is read."""

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        """Nothing to acknowledge: an answer by number or words is a message."""

    async def send_document(self, chat_id: int | str, filename: str, data: bytes,
                            caption: str) -> None:
        """Zalo's Bot API carries no documents (the shell says where the files are)."""
        raise Refused("Zalo's Bot API sends no documents")

    async def send_photo(self, chat_id: int | str, filename: str, data: bytes,
                         caption: str) -> None:
        """Zalo's sendPhoto takes a public URL, not an upload."""
        raise Refused("Zalo's sendPhoto takes a URL, not an upload")

    async def send_typing(self, chat_id: int | str) -> None:
        """Show "typing…"."""
        await self._send("sendChatAction", {"chat_id": str(chat_id), "action": "typing"})

    async def send_uploading(self, chat_id: int | str) -> None:
        """Nothing: Zalo carries no documents, so no file is ever prepared for it."""

    async def set_menu(self, chat_id: int | str, commands: Sequence[tuple[str, str]]) -> None:
        """Nothing: Zalo's Bot API has no command menu (docs/zalo.md)."""


# ------------------------------------------------------------------ receiving


def update_key(update: Mapping[str, Any]) -> str:
    """The key an update is applied once by: its message id."""
    message = update.get("message") if isinstance(update.get("message"), dict) else {}
    mid = message.get("message_id") if message else None
    return f"zalo:{mid}" if mid else f"zalo:none:{uuid.uuid4().hex}"


def inbound(update: Mapping[str, Any], messenger: ZaloMessenger | None = None) -> Inbound:
    """What a Zalo update means to the shell; a text naming one of the choices listed under
    the latest message is that choice pressed."""
    key = update_key(update)
    message = update.get("message")
    if not isinstance(message, dict):
        return Inbound(key, None, None, None)
    frm = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    uid = str(frm["id"]) if frm.get("id") else None
    user = User(uid, str(frm.get("display_name") or frm.get("name") or ""),
                channel="zalo") if uid else None
    chat_id = str(chat["id"]) if chat.get("id") else uid
    private = str(chat.get("chat_type") or "PRIVATE").upper() == "PRIVATE"
    name = update.get("event_name")
    event: Any = None
    if name == "message.text.received" and isinstance(message.get("text"), str):
        text = message["text"]
        if text.startswith("/") and len(text) > 1:
            words = text.split()
            event = Command(words[0].lstrip("/").split("@")[0], tuple(words[1:]))
        else:
            data = messenger.read_choice(chat_id, text) if messenger and chat_id else None
            event = Press(data, "") if data is not None else Text(text)
    elif isinstance(name, str) and name.startswith("message."):
        event = Other()  # a picture, a sticker, anything but text
    return Inbound(key, user, chat_id, event, private=private)


Receive = Callable[[Inbound, Any], Awaitable[None]]
Failed = Callable[[Inbound | None, BaseException | None, Any], Awaitable[None]]


class ZaloBot:
    """One Zalo bot in one process: its updates go to the shell one person at a time, in
    order; many people at once."""

    def __init__(self, client: ZaloClient, messenger: ZaloMessenger, receive: Receive,
                 failed: Failed, *, concurrency: int = 16,
                 handled: Callable[[str], None] | None = None) -> None:
        self.client, self.messenger = client, messenger
        self.receive, self.failed = receive, failed
        self.handled = handled  # told each update's key once handled (tests)
        self._slots = asyncio.Semaphore(concurrency)
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[Any] | None = None
        self.shell: Any = None  # the shell it feeds (set by bot.app.build_zalo)

    async def handle(self, update: Mapping[str, Any]) -> None:
        """Apply one update: after that person's previous one, never beside it."""
        message = update.get("message") if isinstance(update.get("message"), dict) else {}
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        frm = message.get("from") if isinstance(message.get("from"), dict) else {}
        who = str(chat.get("id") or frm.get("id") or "")
        if len(self._locks) > 10_000:  # forget the people not being answered now
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        lock = self._locks.setdefault(who, asyncio.Lock())
        async with self._slots, lock:
            inb: Inbound | None = None
            try:
                inb = inbound(update, self.messenger)  # against the latest list sent
                await self.receive(inb, self.messenger)
            except Exception as exc:  # noqa: BLE001 - logged, and the person asked to retry
                await self.failed(inb, exc, self.messenger)
            finally:
                if self.handled is not None:
                    self.handled(update_key(update) if inb is None else str(inb.update_id))

    def _spawn(self, update: Mapping[str, Any]) -> None:
        task = asyncio.create_task(self.handle(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def poll(self, *, timeout: int = POLL_SECONDS) -> None:
        """Long polling until cancelled: the webhook goes first (the two exclude each other);
        each update is handed on as soon as it comes."""
        with contextlib.suppress(MessengerError):
            await self.client.call("deleteWebhook")
        backoff = 1.0
        while True:
            try:
                result = await self.client.call("getUpdates", {"timeout": str(timeout)},
                                                timeout=timeout + 10)
            except _PollTimeout:
                continue
            except TokenRefused:
                log.error("Zalo refused the bot token (CTVBOT_ZALO_TOKEN): polling stops")
                raise
            except MessengerError as exc:
                log.warning("Zalo getUpdates failed (%s): again in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            for update in result if isinstance(result, list) else [result]:
                if isinstance(update, dict) and update.get("event_name"):
                    self._spawn(update)

    async def set_webhook(self, url: str, secret: str) -> None:
        """Updates come to ``url`` with ``secret`` in their header from now on (and
        ``getUpdates`` stops working: the two exclude each other)."""
        await self.client.call("setWebhook", {"url": url, "secret_token": secret})

    def start(self, *, timeout: int = POLL_SECONDS) -> asyncio.Task[Any]:
        """Start polling in the background."""
        self._poller = asyncio.create_task(self.poll(timeout=timeout), name="zalo:poll")
        return self._poller

    async def stop(self) -> None:
        """Stop polling, let the updates in hand finish, close the connections."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, MessengerError):
                await self._poller
            self._poller = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.client.close()


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None and hasattr(headers, "items"):
        value = next((v for k, v in headers.items() if str(k).lower() == name.lower()), None)
    return value


Webhook = Callable[[Any, Callable[[], Awaitable[bytes]]], Awaitable[int]]


def webhook_handler(bot: ZaloBot, secret: str) -> Webhook:
    """``async def handle(headers, receive_body) -> int`` for any web framework: the secret
    header is checked before the body is read (401 without it, nothing read), then the update
    is applied before answering 200 (a failure answers 500: the update may come again and is
    applied once)."""
    if len(secret) < 8:
        raise ValueError("Zalo's webhook secret has 8 to 256 characters")
    expected = secret.encode()

    async def handle(headers: Any, receive_body: Callable[[], Awaitable[bytes]]) -> int:
        got = _header(headers, SECRET_HEADER)
        if not got or not hmac.compare_digest(got.encode(), expected):
            return 401
        body = await receive_body()
        if len(body) > MAX_WEBHOOK_BODY:
            return 413
        try:
            update = json.loads(body)
        except ValueError:
            return 400
        if isinstance(update, dict) and "event_name" not in update and \
                isinstance(update.get("result"), dict):
            update = update["result"]  # the getUpdates envelope, accepted too
        if not isinstance(update, dict):
            return 400
        try:
            await bot.handle(update)
        except Exception:  # noqa: BLE001 - answered 500: Zalo may deliver it again
            log.exception("Zalo webhook update failed")
            return 500
        return 200

    return handle


# ------------------------------------------------------------------ reminders without PTB


class _Job:
    def __init__(self, name: str, data: Any) -> None:
        self.name, self.data = name, data
        self.handle: asyncio.TimerHandle | None = None
        self.removed = False

    def schedule_removal(self) -> None:
        self.removed = True
        if self.handle is not None:
            self.handle.cancel()


@dataclass
class _Context:
    job: _Job


class LoopJobs:
    """The part of PTB's JobQueue the reminders use, on the running event loop: when Zalo
    runs without Telegram."""

    def __init__(self) -> None:
        self._jobs: list[_Job] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def _fire(self, job: _Job, callback: Callable[[Any], Awaitable[Any]],
              interval: float | None) -> None:
        if job.removed:
            return
        task = asyncio.create_task(callback(_Context(job)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if interval is None:
            job.removed = True
        else:
            job.handle = asyncio.get_running_loop().call_later(
                interval, self._fire, job, callback, interval)

    def _add(self, callback: Callable[[Any], Awaitable[Any]], when: float, name: str,
             data: Any, interval: float | None) -> _Job:
        self._jobs = [j for j in self._jobs if not j.removed]
        job = _Job(name, data)
        job.handle = asyncio.get_running_loop().call_later(
            max(float(when), 0.0), self._fire, job, callback, interval)
        self._jobs.append(job)
        return job

    def run_once(self, callback: Callable[[Any], Awaitable[Any]], when: float, *, name: str,
                 data: Any = None) -> _Job:
        """Run ``callback`` once after ``when`` seconds."""
        return self._add(callback, when, name, data, None)

    def run_repeating(self, callback: Callable[[Any], Awaitable[Any]], interval: float, *,
                      first: float, name: str) -> _Job:
        """Run ``callback`` after ``first`` seconds, then every ``interval``."""
        return self._add(callback, first, name, None, interval)

    def jobs(self, pattern: str) -> list[_Job]:
        """The jobs still to run whose name matches."""
        return [j for j in self._jobs if not j.removed and re.search(pattern, j.name)]

    def stop(self) -> None:
        """Cancel every job."""
        for job in self._jobs:
            job.schedule_removal()
