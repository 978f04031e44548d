"""The local Zalo Bot API server (docs/zalo.md): bots, people, updates, sends and limits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

MAX_TEXT = 2000
SECRET_MIN, SECRET_MAX = 8, 256
SECRET_HEADER = "X-Bot-Api-Secret-Token"


class ApiError(Exception):
    """An error answer: Zalo's error code and its description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


@dataclass
class ZaloUserMessage:
    """A message the bot sent to a person (a text, a picture or "typing…")."""

    message_id: str
    kind: str  # text | photo | action
    text: str
    at: float


@dataclass
class _Bot:
    token: str
    bot_id: str
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_updated: int = 0
    sent_at: deque[float] = field(default_factory=deque)  # sends in the last second
    chat_sent_at: dict[str, deque[float]] = field(default_factory=dict)


class ZaloUser:
    """A person who writes to one bot and reads what it sends back."""

    def __init__(self, api: LocalZaloApi, token: str, user_id: str, name: str) -> None:
        self.api, self.token, self.user_id, self.name = api, token, user_id, name
        self.inbox: list[ZaloUserMessage] = []

    async def send(self, text: str) -> str:
        """Write a text to the bot; the update's key ("zalo:<message_id>")."""
        return await self.api.deliver(self.token, self._update("message.text.received",
                                                               text=text))

    async def send_sticker(self) -> str:
        """Send a sticker (not a text)."""
        return await self.api.deliver(self.token, self._update("message.sticker.received",
                                                               sticker="abc"))

    def _update(self, event: str, **content: Any) -> dict[str, Any]:
        self.api.known.add((self.token, self.user_id))
        return {"event_name": event, "message": {
            "message_id": secrets.token_hex(10), "date": int(time.time() * 1000),
            "from": {"id": self.user_id, "display_name": self.name},
            "chat": {"id": self.user_id, "chat_type": "PRIVATE"}, **content}}

    def messages(self) -> list[ZaloUserMessage]:
        """Everything the bot sent, oldest first."""
        return list(self.inbox)

    def texts(self) -> list[str]:
        """The texts the bot sent, oldest first."""
        return [m.text for m in self.inbox if m.kind == "text"]

    def block(self) -> None:
        """Block the bot: its sends to this person fail with 403."""
        self.api.blocked.add((self.token, self.user_id))


class LocalZaloApi:
    """An in-memory Zalo Bot API server on loopback.

    ``max_per_second``: sends a bot may make in any second (more: 429); ``per_chat_per_second``
    the same to one person (None: no such limit). ``faults`` makes the next calls of a method
    fail with an error code (``fail_next``).
    """

    def __init__(self, *, max_per_second: int | None = 50,
                 per_chat_per_second: int | None = None,
                 webhook_timeout: float = 10.0) -> None:
        self.max_per_second, self.per_chat_per_second = max_per_second, per_chat_per_second
        self.webhook_timeout = webhook_timeout
        self.host, self.port = "127.0.0.1", 0
        self.bots: dict[str, _Bot] = {}
        self.users: dict[tuple[str, str], ZaloUser] = {}
        self.known: set[tuple[str, str]] = set()  # people who wrote to a bot
        self.blocked: set[tuple[str, str]] = set()
        self.faults: dict[str, deque[int]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every method called, in order
        self.webhook_answers: list[int] = []
        self.refused_429 = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle

    @property
    def url(self) -> str:
        """The base URL (as ``CTVBOT_ZALO_API_URL``)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> LocalZaloApi:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._route)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._session = ClientSession(timeout=ClientTimeout(total=self.webhook_timeout))
        return self

    async def stop(self) -> None:
        """Stop serving."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- bots and people

    def add_bot(self, token: str) -> None:
        """A bot this server knows (the token is ``{bot_id}:{secret}``)."""
        self.bots[token] = _Bot(token, token.split(":", 1)[0])

    def user(self, token: str, user_id: str, name: str) -> ZaloUser:
        """A person of one bot (the same object for the same id)."""
        key = (token, user_id)
        if key not in self.users:
            self.users[key] = ZaloUser(self, token, user_id, name)
        return self.users[key]

    def fail_next(self, method: str, code: int, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``code``."""
        self.faults.setdefault(method, deque()).extend([code] * times)

    async def deliver(self, token: str, update: dict[str, Any]) -> str:
        """Hand an update to the bot: to its webhook, or to getUpdates."""
        bot = self.bots[token]
        key = f"zalo:{update['message']['message_id']}"
        if bot.webhook_url:
            task = asyncio.create_task(self._post_webhook(bot, update))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            bot.queue.append(update)
            bot.arrived.set()
        return key

    async def _post_webhook(self, bot: _Bot, update: dict[str, Any]) -> None:
        assert self._session is not None
        for attempt in range(3):  # a failed delivery is tried again (assumed, docs/zalo.md)
            try:
                async with self._session.post(
                        bot.webhook_url, json=update,
                        headers={SECRET_HEADER: bot.webhook_secret}) as r:
                    self.webhook_answers.append(r.status)
                    if r.status < 500:
                        return
            except (TimeoutError, OSError):
                self.webhook_answers.append(0)
            await asyncio.sleep(0.2 * (attempt + 1))

    # -- HTTP

    async def _route(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        try:
            body = await request.json() if request.can_read_body else {}
        except (ValueError, UnicodeDecodeError):
            return self._error(ApiError(400, "Bad Request: body is not JSON"))
        if not isinstance(body, dict):
            return self._error(ApiError(400, "Bad Request: body is not an object"))
        bot = self.bots.get(token)
        if bot is None:
            return self._error(ApiError(401, "Unauthorized"))
        self.calls.append((method, body))
        faults = self.faults.get(method)
        if faults:
            code = faults.popleft()
            return self._error(ApiError(code, f"injected {code}"))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(ApiError(404, f"Not Found: method {method}"))
        try:
            if method == "getUpdates":
                result = await self._m_getUpdates(bot, body, request)
            else:
                result = await handler(bot, body)
        except ApiError as exc:
            return self._error(exc)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(exc: ApiError) -> web.Response:
        return web.json_response({"ok": False, "error_code": exc.code,
                                  "description": exc.description}, status=exc.code)

    # -- methods

    async def _m_getMe(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": bot.bot_id, "account_name": f"bot.{bot.bot_id[-6:]}",
                "account_type": "BASIC", "can_join_groups": False}

    async def _m_getUpdates(self, bot: _Bot, body: dict[str, Any],
                            request: web.Request | None = None) -> dict[str, Any]:
        if bot.webhook_url:
            raise ApiError(400, "Bad Request: a webhook is set, getUpdates does not work")
        try:
            timeout = float(body.get("timeout", 30))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: timeout") from None
        deadline = time.monotonic() + max(timeout, 0.0)
        while not bot.queue or self._gone(request):
            if self._gone(request):  # the poller went away: the update waits for the next
                raise ApiError(408, "Request timeout")
            bot.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApiError(408, "Request timeout")
            with contextlib.suppress(TimeoutError):  # a look every 0.2 s: is it still there?
                await asyncio.wait_for(bot.arrived.wait(), min(left, 0.2))
        return bot.queue.popleft()  # returned: confirmed, never given again

    @staticmethod
    def _gone(request: web.Request | None) -> bool:
        return request is not None and (request.transport is None
                                        or request.transport.is_closing())

    async def _m_setWebhook(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        url, secret = body.get("url"), body.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("https://", "http://127.0.0.1")):
            raise ApiError(400, "Bad Request: url must be HTTPS")
        if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
            raise ApiError(400, "Bad Request: secret_token must have 8 to 256 characters")
        bot.webhook_url, bot.webhook_secret = url, secret
        bot.webhook_updated = int(time.time() * 1000)
        while bot.queue:  # what waited goes to the webhook now
            await self.deliver(bot.token, bot.queue.popleft())
        return {"url": url, "updated_at": bot.webhook_updated}

    async def _m_deleteWebhook(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        bot.webhook_url, bot.webhook_secret = "", ""
        bot.webhook_updated = int(time.time() * 1000)
        return {"url": "", "updated_at": bot.webhook_updated}

    async def _m_getWebhookInfo(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        return {"url": bot.webhook_url, "updated_at": bot.webhook_updated}

    def _chat(self, bot: _Bot, body: dict[str, Any]) -> str:
        chat = body.get("chat_id")
        if not isinstance(chat, str) or not chat:
            raise ApiError(400, "Bad Request: chat_id must be a string")
        if (bot.token, chat) not in self.known:
            raise ApiError(403, "the user has not talked to the bot")
        if (bot.token, chat) in self.blocked:
            raise ApiError(403, "the user blocked the bot")
        return chat

    def _rate(self, bot: _Bot, chat: str) -> None:
        now = time.monotonic()
        for window, limit in ((bot.sent_at, self.max_per_second),
                              (bot.chat_sent_at.setdefault(chat, deque()),
                               self.per_chat_per_second)):
            while window and window[0] <= now - 1.0:
                window.popleft()
            if limit is not None and len(window) >= limit:
                self.refused_429 += 1
                raise ApiError(429, "Quota exceeded")
        bot.sent_at.append(now)
        bot.chat_sent_at[chat].append(now)

    def _store(self, bot: _Bot, chat: str, kind: str, text: str) -> dict[str, Any]:
        mid = f"{next(self._ids):020x}"
        user = self.users.get((bot.token, chat))
        if user is not None:
            user.inbox.append(ZaloUserMessage(mid, kind, text, time.monotonic()))
        return {"message_id": mid, "date": int(time.time() * 1000)}

    async def _m_sendMessage(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(bot, body)
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise ApiError(400, "Bad Request: text must have 1 to 2000 characters")
        self._rate(bot, chat)
        return self._store(bot, chat, "text", text)

    async def _m_sendPhoto(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(bot, body)
        photo, caption = body.get("photo"), body.get("caption", "")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: photo must be a URL")
        if not isinstance(caption, str) or len(caption) > MAX_TEXT:
            raise ApiError(400, "Bad Request: caption must have at most 2000 characters")
        self._rate(bot, chat)
        return self._store(bot, chat, "photo", caption)

    async def _m_sendChatAction(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(bot, body)
        if body.get("action") != "typing":
            raise ApiError(400, "Bad Request: action must be typing")
        self._store(bot, chat, "action", "typing")
        return {}

    # -- waiting

    async def wait_until(self, check: Callable[[], bool], *, timeout: float = 30,
                         what: str = "a condition") -> None:
        """Wait until ``check()`` holds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what}")
            await asyncio.sleep(0.01)


def dump(update: dict[str, Any]) -> bytes:
    """An update as the bytes a webhook receives."""
    return json.dumps(update).encode()
