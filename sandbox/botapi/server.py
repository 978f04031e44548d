"""The local Telegram Bot API server: lifecycle, bots, people and waiting."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, web

from sandbox.botapi.limits import (
    _CHAT_SEND_METHODS,
    _LOG,
    _SEND_METHODS,
    MAX_UPLOAD,
    ApiError,
    Fault,
    Limits,
)
from sandbox.botapi.methods import Methods
from sandbox.botapi.model import (
    BotMessage,
    Delivery,
    Stats,
    StoredFile,
    _Bot,
    _Chat,
    _chat_id_or_none,
    _is_loopback,
    _Params,
    _Queued,
    _scope_key,
    _snapshot,
)
from sandbox.botapi.people import LocalUser
from sandbox.botapi.routes import Routes
from sandbox.botapi.updates import Updates


class LocalBotApi(Routes, Updates, Methods, Limits):
    """An in-memory Telegram Bot API server on loopback, with people who use its bots."""

    def __init__(self, *, idle_seconds: float = 0.05, webhook_timeout: float = 10.0,
                 callback_query_timeout: float | None = None) -> None:
        self.idle_seconds = idle_seconds
        self.webhook_timeout = webhook_timeout
        # answerCallbackQuery later than this after the press: "query is too old" (Telegram
        # allows some seconds); None: any time
        self.callback_query_timeout = callback_query_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self._bots: dict[str, _Bot] = {}
        self._people: dict[int, dict[str, Any]] = {}
        self._users: dict[tuple[str, int], LocalUser] = {}
        self._faults: list[Fault] = []
        self._blocked: set[tuple[str | None, int]] = set()
        self._rate_limits: dict[str | None, tuple[int | None, int | None]] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._query_ids = itertools.count(1)
        self._methods: dict[str, tuple[str, Callable[[_Bot, _Params], Awaitable[Any]]]] = {}
        for name in (
            "getMe",
            "close",
            "getUpdates",
            "setWebhook",
            "deleteWebhook",
            "getWebhookInfo",
            "sendMessage",
            "sendDocument",
            "sendPhoto",
            "sendChatAction",
            "editMessageText",
            "editMessageReplyMarkup",
            "deleteMessage",
            "answerCallbackQuery",
            "setMyCommands",
            "getMyCommands",
            "deleteMyCommands",
            "getFile",
        ):
            self._methods[name.lower()] = (name, getattr(self, f"_m_{name}"))

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._runner is None:
            raise RuntimeError("LocalBotApi is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on a loopback address; port 0 picks a free port (see ``url``)."""
        if not _is_loopback(host):
            raise ValueError(f"LocalBotApi listens on loopback only, not {host!r}")
        if self._runner is not None:
            raise RuntimeError("LocalBotApi is already started")
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_get("/", self._handle_root)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        self.host = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = ClientSession()
        self._stopping = False
        for bot in self._bots.values():
            self._start_delivery(bot)

    async def stop(self) -> None:
        """Stop serving; wakes long polls, cancels webhook deliveries, frees the port."""
        self._stopping = True
        for bot in self._bots.values():
            bot.signal.notify()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for bot in self._bots.values():
            bot.delivery_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOG.debug("background task %s ended with %r", task.get_name(), task.exception())

    # ------------------------------------------------------------------ bots and people

    def add_bot(
        self,
        token: str,
        username: str | None = None,
        first_name: str | None = None,
        *,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
    ) -> dict[str, Any]:
        """Register a bot token; returns what getMe answers."""
        if "/" in token or not token:
            raise ValueError("a bot token must be non-empty and have no '/'")
        if token in self._bots:
            raise ValueError(f"bot {token!r} already exists")
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + len(self._bots) + 1
        username = username or f"test{bot_id}_bot"
        info = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name or username,
            "username": username,
            "can_join_groups": can_join_groups,
            "can_read_all_group_messages": can_read_all_group_messages,
            "supports_inline_queries": supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        bot = _Bot(token, info)
        self._bots[token] = bot
        if self._runner is not None:
            self._start_delivery(bot)
        return dict(info)

    def bots(self) -> list[dict[str, Any]]:
        """getMe of every bot, with its token."""
        return [{"token": t, **b.info} for t, b in self._bots.items()]

    def _bot(self, token: str) -> _Bot:
        try:
            return self._bots[token]
        except KeyError:
            raise KeyError(f"unknown bot token {token!r}; call add_bot first") from None

    def user(
        self,
        token: str,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = False,
    ) -> LocalUser:
        """A person talking to the bot ``token`` in a private chat (same object on repeat).

        ``started=True`` lets the bot write first; otherwise Telegram refuses sends until the
        person has sent something ("Forbidden: bot can't initiate conversation with a user").
        """
        bot = self._bot(token)
        person = self._people.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        for key, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                person[key] = value
        chat = bot.chats.get(user_id)
        if chat is None:
            chat_dict = {"id": user_id, "type": "private"}
            digest = hashlib.sha256(f"{bot.id}:{user_id}".encode()).digest()
            instance = str(-int.from_bytes(digest[:8], "big") // 2)
            chat = _Chat(chat=chat_dict, user=person, chat_instance=instance)
            bot.chats[user_id] = chat
        for key in ("first_name", "last_name", "username"):
            if key in person:
                chat.chat[key] = person[key]
        chat.started = chat.started or started
        user_key = (token, user_id)
        if user_key not in self._users:
            self._users[user_key] = LocalUser(self, bot, chat)
        return self._users[user_key]

    def group(self, token: str, chat_id: int, title: str) -> dict[str, Any]:
        """A group chat the bot is a member of (for raw updates); its chat object."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        bot = self._bot(token)
        chat = bot.chats.get(chat_id)
        if chat is None:
            chat_dict = {"id": chat_id, "type": "group", "title": title}
            chat = _Chat(chat=chat_dict, user={}, chat_instance=str(chat_id * 7919),
                         started=True)
            bot.chats[chat_id] = chat
        return dict(chat.chat)

    def commands(
        self, token: str, scope: dict[str, Any] | None = None
    ) -> dict[str, list[tuple[str, str]]]:
        """What setMyCommands stored for a scope (default scope), keyed by language_code."""
        key = _scope_key(scope)
        return {
            lang: [(c["command"], c["description"]) for c in cmds]
            for (s, lang), cmds in self._bot(token).commands.items()
            if s == key
        }

    def messages(self, token: str, chat_id: int) -> list[BotMessage]:
        """The bot's messages in a chat, edits applied, deleted ones left out."""
        chat = self._bot(token).chats.get(chat_id)
        if chat is None:
            return []
        return [_snapshot(r) for r in chat.records.values() if r.from_bot and not r.deleted]

    def file(self, token: str, file_id: str) -> StoredFile:
        """A stored file by file_id."""
        return self._bot(token).files[file_id]

    def stats(self, token: str) -> Stats:
        """Live counters of a bot's calls."""
        return self._bot(token).stats

    def deliveries(self, token: str) -> list[Delivery]:
        """Every webhook delivery attempt for the bot, in order."""
        return list(self._bot(token).deliveries)

    def webhook_url(self, token: str) -> str | None:
        """The webhook currently set, if any."""
        hook = self._bot(token).webhook
        return hook.url if hook else None

    def pending_updates(self, token: str) -> list[dict[str, Any]]:
        """Updates not yet acknowledged (polling) or delivered (webhook)."""
        return [copy.deepcopy(q.update) for q in self._bot(token).queue]

    def set_delivery_secret(self, token: str, secret_token: str | None) -> None:
        """Deliver webhooks with this secret header instead of the one set (None: no header)."""
        self._bot(token).secret_override = (True, secret_token)

    def reset_delivery_secret(self, token: str) -> None:
        """Deliver webhooks with the secret_token given to setWebhook again."""
        bot = self._bot(token)
        bot.secret_override = (False, None)
        bot.signal.notify()

    async def push_update(self, token: str, update: dict[str, Any]) -> int:
        """Queue any raw update (its update_id is assigned); returns the update_id."""
        bot = self._bot(token)
        kinds = [k for k in update if k != "update_id"]
        if len(kinds) != 1:
            raise ValueError(f"an update holds exactly one object, not {kinds}")
        update_id = self._enqueue(bot, kinds[0], copy.deepcopy(update[kinds[0]]))
        await asyncio.sleep(0)
        return update_id

    async def deliver_again(self, update_id: int, token: str | None = None) -> None:
        """Queue an already created update once more with the same update_id (a duplicate)."""
        bots = [self._bot(token)] if token else list(self._bots.values())
        owners = [b for b in bots if update_id in b.history]
        if not owners:
            raise KeyError(f"no update {update_id}")
        if len(owners) > 1:
            raise ValueError(f"update {update_id} exists for several bots; pass token")
        bot = owners[0]
        bot.queue.append(_Queued(copy.deepcopy(bot.history[update_id]), redelivery=True))
        bot.signal.notify()
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ waiting

    def _quiet(self, bot: _Bot, idle: float) -> bool:
        return bot.in_flight == 0 and time.monotonic() - bot.last_call >= idle

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Poll ``predicate`` every 10 ms until true; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.01)

    async def wait_idle(
        self, token: str | None = None, timeout: float = 5.0, idle: float | None = None
    ) -> None:
        """Wait until every update was fetched/delivered and the bot made no call for ``idle``."""
        quiet = self.idle_seconds if idle is None else idle
        bots = [self._bot(token)] if token else list(self._bots.values())

        def done() -> bool:
            return all(
                not any(not q.fetched for q in b.queue) and self._quiet(b, quiet) for b in bots
            )

        await self.wait_until(done, timeout, "the bot to become idle")

    async def _dispatch(self, bot: _Bot, name: str, params: _Params) -> Any:
        canonical, func = self._methods[name]
        bot.stats.calls[canonical] += 1
        polling = name == "getupdates"
        if not polling:
            bot.in_flight += 1
            bot.last_call = time.monotonic()
        try:
            chat_id = _chat_id_or_none(params)
            fault = self._take_fault(bot, name, chat_id)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.error_code:
                    raise ApiError(fault.error_code, fault.description, fault.retry_after)
            if name in _CHAT_SEND_METHODS and isinstance(chat_id, int):
                chat = bot.chats.get(chat_id)
                if chat is not None and self._is_blocked(bot, chat_id):
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                if chat is not None and not chat.started:
                    raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            if name in _SEND_METHODS:
                self._check_rate(bot, chat_id)
            result = await func(bot, params)
            if name in _SEND_METHODS:
                self._count_send(bot, chat_id)
            return result
        except ApiError as exc:
            bot.stats.errors[exc.error_code] += 1
            if exc.error_code == 429:
                bot.stats.too_many_requests += 1
            raise
        finally:
            if not polling:
                bot.in_flight -= 1
                bot.last_call = time.monotonic()
