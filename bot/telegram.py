"""Telegram (python-telegram-bot 22) as a messenger: its updates become ``Inbound`` events for
the shell, the shell's sends become Bot API calls, its errors the messenger's errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MessageEntity,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot import service
from bot.context import Env, menu
from bot.i18n import LANGUAGES
from bot.messenger import (
    WEB_APP,
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
    Reachable,
    Refused,
    RetryLater,
    Text,
    User,
)
from bot.reminders import DEFAULT_RATE, Reminders

log = logging.getLogger("ctvbot")

LIMITS = Limits(max_text=4096, max_choice_data=64, choices_per_row=8)
REPLY_RETRIES = 3  # a reply that meets a 429 is sent again after retry_after, up to 3 times
FIRST_RETRY, LAST_RETRY = 1.0, 60.0  # seconds between tries to reach Telegram: 1, 2, 4 … 60

Receive = Callable[[Inbound, "TelegramMessenger"], Awaitable[None]]
Failed = Callable[[Inbound | None, BaseException | None, "TelegramMessenger"], Awaitable[None]]


def keyboard(rows: Choices) -> InlineKeyboardMarkup | None:
    """An inline keyboard from rows of (label, data)."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[button(t, d) for t, d in row] for row in rows])


def button(label: str, data: str) -> InlineKeyboardButton:
    """A callback button, or a Mini App button for ``WEB_APP`` + URL."""
    if data.startswith(WEB_APP):
        return InlineKeyboardButton(label, web_app=WebAppInfo(data[len(WEB_APP):]))
    return InlineKeyboardButton(label, callback_data=data)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@contextmanager
def _translated() -> Iterator[None]:
    """Telegram's errors as the messenger's."""
    try:
        yield
    except RetryAfter as exc:
        raise RetryLater(_retry_seconds(exc)) from exc
    except Forbidden as exc:
        raise Blocked(exc.message) from exc
    except TimedOut as exc:
        if "pool timeout" in exc.message.lower():  # never left this process
            raise Busy(exc.message) from exc
        raise MaybeSent(exc.message) from exc
    except BadRequest as exc:
        raise Refused(exc.message) from exc
    except NetworkError as exc:
        raise NetworkDown(exc.message) from exc
    except TelegramError as exc:
        raise MessengerError(exc.message) from exc


class TelegramMessenger:
    """The Bot API behind the ``Messenger`` interface."""

    limits = LIMITS

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str, choices: Choices = ()) -> int:
        """Send one text with its buttons; the message id."""
        with _translated():
            sent = await self.bot.send_message(chat_id, text, reply_markup=keyboard(choices))
        return sent.message_id

    async def remove_choices(self, chat_id: int, message_id: int) -> None:
        """Take the buttons off an earlier message."""
        with _translated():
            await self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        """Acknowledge a button; with a text, as an alert."""
        with _translated():
            await self.bot.answer_callback_query(press_id, text, show_alert=text is not None)

    async def send_document(self, chat_id: int, filename: str, data: bytes,
                            caption: str) -> None:
        """Upload a file."""
        with _translated():
            await self.bot.send_document(chat_id, InputFile(data, filename=filename),
                                         caption=caption)

    async def send_photo(self, chat_id: int, filename: str, data: bytes, caption: str) -> None:
        """Upload a picture."""
        with _translated():
            await self.bot.send_photo(chat_id, InputFile(data, filename=filename),
                                      caption=caption)

    async def send_typing(self, chat_id: int) -> None:
        """Show "typing…"."""
        with _translated():
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def send_uploading(self, chat_id: int) -> None:
        """Show "sending a file…"."""
        with _translated():
            await self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)

    async def set_menu(self, chat_id: int, commands: Sequence[tuple[str, str]]) -> None:
        """This chat's command menu (its own scope: other chats keep theirs)."""
        with _translated():
            await self.bot.set_my_commands([BotCommand(w, d) for w, d in commands],
                                           scope=BotCommandScopeChat(chat_id))


# ------------------------------------------------------------------ receiving


def inbound(update: Update) -> Inbound:
    """What an update means to the shell."""
    u = update.effective_user
    user = User(u.id, u.first_name, u.last_name, u.language_code) if u is not None else None
    chat = update.effective_chat
    event: Any = None
    if update.callback_query is not None:
        q = update.callback_query
        shown = q.message is not None and q.message.is_accessible
        event = Press(q.data or "", q.id, q.message.message_id if shown and q.message else None)
    elif update.my_chat_member is not None:
        status = update.my_chat_member.new_chat_member.status
        if status in ("kicked", "member"):
            event = Reachable(status == "member")
    elif update.message is not None:
        m = update.message
        entity = m.entities[0] if m.entities else None
        if m.text is None:
            event = Other()
        elif entity is not None and entity.type == MessageEntity.BOT_COMMAND and \
                entity.offset == 0:
            words = m.text.split()
            event = Command(words[0].lstrip("/").split("@")[0], tuple(words[1:]))
        else:
            event = Text(m.text)
    return Inbound(update.update_id, user, chat.id if chat is not None else None, event,
                   private=chat is None or chat.type == ChatType.PRIVATE,
                   edited=update.edited_message is not None)


# ------------------------------------------------------------------ the application


UPDATES_IN_HAND = 100_000  # PTB's own bound on updates in hand (never the one that limits)


def pool_size(concurrent_updates: int) -> int:
    """Connections of the HTTP pool replies and reminders share. httpcore looks at every open
    connection on each request, so the pool stays near what the chats answered at once use
    (up to three requests each: a press acknowledged, its keyboard taken away, the answer)."""
    return max(16, 4 * concurrent_updates)


class PerChatInOrder(BaseUpdateProcessor):
    """Different chats' updates at once, each chat's (and each person's) one at a time.

    Every update waits for the previous update of its chat and of its sender, in the order
    they were received, before it takes one of ``at_once`` slots: a person's answers are
    applied and answered in the order they were sent, while up to ``at_once`` chats are
    being answered. An update waiting for its chat's previous one holds no slot.
    """

    __slots__ = ("_last", "_slots", "at_once")

    def __init__(self, at_once: int) -> None:
        if at_once < 1:
            raise ValueError("at_once must be at least 1")
        # PTB awaits its own semaphore (first in, first out) before ``do_process_update``:
        # it never has to wait, so updates come here in the order they were received
        super().__init__(UPDATES_IN_HAND)
        self.at_once = at_once
        self._slots = asyncio.Semaphore(at_once)
        self._last: dict[tuple[str, int], asyncio.Event] = {}  # chat/person -> its last update

    @property
    def answering(self) -> int:
        """How many updates hold a slot now (being answered)."""
        return self.at_once - self._slots._value  # noqa: SLF001 - asyncio keeps no public count

    @staticmethod
    def _keys(update: object) -> list[tuple[str, int]]:
        if not isinstance(update, Update):
            return []
        keys = []
        if update.effective_chat is not None:
            keys.append(("chat", update.effective_chat.id))
        if update.effective_user is not None:
            keys.append(("user", update.effective_user.id))
        return keys

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's and the sender's previous updates, then for a slot, then run."""
        keys = self._keys(update)
        # no await before these lines: updates queue up here in the order they arrive
        before = [self._last[k] for k in keys if k in self._last]
        done = asyncio.Event()
        for k in keys:
            self._last[k] = done
        started = False
        try:
            for previous in before:
                await previous.wait()
            async with self._slots:
                started = True
                await coroutine
        finally:
            done.set()
            for k in keys:
                if self._last.get(k) is done:
                    del self._last[k]
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # stopped while waiting: never run, never warned about

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free (the application waits for the updates in hand when it stops)."""


def _reason(exc: TelegramError) -> str:
    """What went wrong, in one short line (never the token: PTB's messages do not hold it)."""
    return f"{type(exc).__name__}: {exc.message}"


def _backoff(delay: float) -> float:
    return min(delay * 2, LAST_RETRY)


class ResilientApplication(Application):
    """An Application that waits for Telegram at start instead of giving up.

    Connecting (``getMe``) is tried again with growing pauses while Telegram cannot be
    reached, with one log line per try; only a token Telegram refuses stops it.
    """

    async def initialize(self) -> None:
        """Connect, trying again (1, 2, 4 … 60 s apart) while Telegram is unreachable."""
        delay = FIRST_RETRY
        while True:
            try:
                await super().initialize()
                return
            except InvalidToken:
                raise
            except RetryAfter as exc:
                wait = max(_retry_seconds(exc), delay)
                log.warning("Telegram asks to wait (%s): connecting again in %.0f s",
                            _reason(exc), wait)
                await asyncio.sleep(wait)
            except NetworkError as exc:  # unreachable, timed out, a proxy's 502
                log.warning("Telegram cannot be reached (%s): trying again in %.0f s",
                            _reason(exc), delay)
                await asyncio.sleep(delay)
            delay = _backoff(delay)


async def set_commands(bot: Bot, officers: Sequence[tuple[int, str]]) -> None:
    """The menus: everyone's commands by default (Vietnamese, and per language), and each
    officer's chat its own with the officers' commands too."""
    for lang in LANGUAGES:
        await bot.set_my_commands([BotCommand(w, d) for w, d in menu("everyone", lang)],
                                  scope=BotCommandScopeDefault(),
                                  language_code=None if lang == "vi" else lang)
    for chat_id, lang in officers:
        try:
            await bot.set_my_commands([BotCommand(w, d) for w, d in menu("officer", lang)],
                                      scope=BotCommandScopeChat(chat_id))
        except (BadRequest, Forbidden) as exc:  # a chat gone, a person who blocked the bot
            log.info("officer menu of chat %s not set: %s", chat_id, _reason(exc))


async def try_setting_commands(application: Application, delay: float) -> bool:
    """Set the menus once; False (logged, with when it is tried again) if Telegram refused."""
    try:
        officers = await asyncio.to_thread(service.officer_chats, application.bot_data["env"])
        await set_commands(application.bot, officers)
    except TelegramError as exc:
        log.warning("command menus not set (%s): trying again in %.0f s", _reason(exc), delay)
        return False
    return True


async def keep_setting_commands(application: Application) -> None:
    """Try the menus again with growing pauses until Telegram accepts them."""
    delay = FIRST_RETRY
    while True:
        await asyncio.sleep(delay)
        delay = _backoff(delay)
        if await try_setting_commands(application, delay):
            log.info("command menus set")
            return


async def start_reminders(application: Application) -> Reminders:
    """Build the process's Reminders (sending through this bot) and start its jobs."""
    env = application.bot_data["env"]
    rate = float(application.bot_data.get("messages_per_second", DEFAULT_RATE))
    reminders = Reminders(env.engine, TelegramMessenger(application.bot), tz=env.tz,
                          messages_per_second=rate, now=env.now, daytime=env.daytime)
    application.bot_data["reminders"] = reminders
    if application.job_queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): no reminders")
    else:
        await reminders.start(application.job_queue)
    return reminders


async def stop_reminders(application: Application) -> None:
    """post_stop / post_shutdown: stop the batches in progress (and the menus' retries)."""
    menus = application.bot_data.pop("menus", None)
    if menus is not None and not menus.done():
        menus.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await menus
    reminders = application.bot_data.get("reminders")
    if reminders is not None:
        await reminders.stop()


def build_application(env: Env, receive: Receive, failed: Failed, *, token: str,
                      base_url: str, base_file_url: str, replies_per_second: float,
                      started: Callable[[Env, Reminders], None],
                      updater: bool = True, concurrent_updates: int = 1) -> Application:
    """The PTB Application: every update goes to ``receive``; nothing is started.

    Every reply and reminder of the process stays under ``replies_per_second`` (Telegram's
    overall limit), and a 429 is waited out (retry_after) and sent again instead of losing
    the reply; 0 switches the limiter off (a local Bot API server, a benchmark). ``started``
    gets the Env (with the bot's username learnt) and the Reminders once running.
    ``updater=False``: no updater of its own (the webhook route of ``bot.web`` feeds it).
    ``concurrent_updates``: how many chats are answered at once (``PerChatInOrder``); each
    chat's updates stay one at a time and in order; 1 handles every update after the other.
    """
    # PTB's two HTTP clients (getUpdates, everything else) share one TLS context: each would
    # load the certificate authorities on its own (about 1 MiB)
    tls = {"verify": httpx.create_ssl_context()}
    builder = (ApplicationBuilder().application_class(ResilientApplication).token(token)
               .base_url(base_url).base_file_url(base_file_url)
               .request(HTTPXRequest(connection_pool_size=pool_size(concurrent_updates),
                                     httpx_kwargs=tls))
               .get_updates_request(HTTPXRequest(connection_pool_size=1, httpx_kwargs=tls)))
    if concurrent_updates > 1:
        builder = builder.concurrent_updates(PerChatInOrder(concurrent_updates))
    if not updater:  # updates come from the web app's webhook route (bot.web.app)
        builder = builder.updater(None)
    if replies_per_second > 0:
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=replies_per_second,
                                                      max_retries=REPLY_RETRIES))

    async def post_init(application: Application) -> None:
        env_now = application.bot_data["env"]
        if not env_now.bot_username:
            application.bot_data["env"] = replace(env_now, bot_username=application.bot.username)
        # menus Telegram refuses now are tried again in the background: never fatal
        if not await try_setting_commands(application, FIRST_RETRY):
            application.bot_data["menus"] = asyncio.create_task(
                keep_setting_commands(application), name="ctvbot:menus")
        reminders = await start_reminders(application)
        started(application.bot_data["env"], reminders)

    application = (builder.post_init(post_init).post_stop(stop_reminders)
                   .post_shutdown(stop_reminders).build())
    application.bot_data["env"] = env
    messenger = TelegramMessenger(application.bot)

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await receive(inbound(update), messenger)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await failed(inbound(update) if isinstance(update, Update) else None, context.error,
                     messenger)

    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application
