"""Telegram (python-telegram-bot 22) as a messenger: its updates become ``Inbound`` events for
the shell, the shell's sends become Bot API calls, its errors the messenger's errors."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.context import COMMANDS, MENU_NAMES, Env
from bot.i18n import LANGUAGES, text_of
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

Receive = Callable[[Inbound, "TelegramMessenger"], Awaitable[None]]
Failed = Callable[[Inbound | None, BaseException | None, "TelegramMessenger"], Awaitable[None]]


def keyboard(rows: Choices) -> InlineKeyboardMarkup | None:
    """An inline keyboard from rows of (label, data)."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row]
                                 for row in rows])


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


async def set_commands(application: Application) -> None:
    """Set the command menus per language (Vietnamese by default)."""
    for lang in LANGUAGES:
        cmds = []
        for name in MENU_NAMES[lang]:
            key = next(k for words, k in COMMANDS.values() if name in words)
            assert key is not None
            cmds.append(BotCommand(name, text_of(key, lang)))
        await application.bot.set_my_commands(
            cmds, scope=BotCommandScopeDefault(), language_code=None if lang == "vi" else lang)


async def start_reminders(application: Application) -> Reminders:
    """Build the process's Reminders (sending through this bot) and start its jobs."""
    env = application.bot_data["env"]
    rate = float(application.bot_data.get("messages_per_second", DEFAULT_RATE))
    reminders = Reminders(env.engine, TelegramMessenger(application.bot), tz=env.tz,
                          messages_per_second=rate, now=env.now)
    application.bot_data["reminders"] = reminders
    if application.job_queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): no reminders")
    else:
        await reminders.start(application.job_queue)
    return reminders


async def stop_reminders(application: Application) -> None:
    """post_stop / post_shutdown: stop the batches in progress."""
    reminders = application.bot_data.get("reminders")
    if reminders is not None:
        await reminders.stop()


def build_application(env: Env, receive: Receive, failed: Failed, *, token: str,
                      base_url: str, base_file_url: str, replies_per_second: float,
                      started: Callable[[Env, Reminders], None]) -> Application:
    """The PTB Application: every update goes to ``receive``; nothing is started.

    Every reply and reminder of the process stays under ``replies_per_second`` (Telegram's
    overall limit), and a 429 is waited out (retry_after) and sent again instead of losing
    the reply; 0 switches the limiter off (a local Bot API server, a benchmark). ``started``
    gets the Env (with the bot's username learnt) and the Reminders once running.
    """
    # PTB's two HTTP clients (getUpdates, everything else), with its default pool sizes, share
    # one TLS context: each would load the certificate authorities on its own (about 1 MiB)
    tls = {"verify": httpx.create_ssl_context()}
    builder = (ApplicationBuilder().token(token).base_url(base_url).base_file_url(base_file_url)
               .request(HTTPXRequest(connection_pool_size=256, httpx_kwargs=tls))
               .get_updates_request(HTTPXRequest(connection_pool_size=1, httpx_kwargs=tls)))
    if replies_per_second > 0:
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=replies_per_second,
                                                      max_retries=REPLY_RETRIES))

    async def post_init(application: Application) -> None:
        env_now = application.bot_data["env"]
        if not env_now.bot_username:
            application.bot_data["env"] = replace(env_now, bot_username=application.bot.username)
        await set_commands(application)
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
