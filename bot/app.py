"""The shell: every update of every person, from any messenger, goes through here.

A messenger (``bot.telegram`` for Telegram) turns its updates into ``Inbound`` events; the
shell keeps figures out of group chats, runs the one dispatcher (``service.handle``) off the
event loop, sends the outcome back through the messenger's ``Messenger`` interface and hands
an officer's nudges and rescheduling to the reminders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import OperationalError

from bot import service
from bot import telegram as tg
from bot.context import (
    Env,
    Incoming,
    Outcome,
    PressIn,
    SummaryCmd,
    TextIn,
    command_event,
    menu,
)
from bot.i18n import pick_language, render, render_reply
from bot.messenger import (
    Blocked,
    Command,
    Inbound,
    Messenger,
    MessengerError,
    Other,
    Press,
    Reachable,
    User,
    pieces,
)
from bot.reminders import Reminders, set_reachable
from flows.effects import Reply, msg

log = logging.getLogger("ctvbot")

REPLIES_PER_SECOND = 30  # Telegram: about 30 messages a second overall
SAVED_REMEMBERED = 4096  # updates applied lately: an error after them never says "not saved"


class RedactToken(logging.Filter):
    """Remove the bot token from every log record."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the token in the message, its arguments and its traceback."""
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "<token>")
            record.args = ()
        if record.exc_info and not record.exc_text:
            # formatted here once; the handler's formatter then uses this text as it is
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        if record.stack_info and self.token in record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, "<token>")
        return True


def install_log_redaction(secret: str) -> None:
    """Keep a secret (the token) out of logs: quiet httpx's URL lines, redact everywhere."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redact = RedactToken(secret)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


class FileNotBuilt(Exception):
    """A file of an outcome could not be made."""


class Shell:
    """Receives a messenger's events, dispatches them, sends what comes back."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.reminders: Reminders | None = None
        self.metrics: Any = None  # bot.web.metrics.Metrics, when the web app serves /metrics
        self._saved: OrderedDict[int | str, None] = OrderedDict()  # updates committed lately

    def started(self, env: Env, reminders: Reminders | None) -> None:
        """The messenger is connected: its Env (the bot's username learnt), the reminders."""
        self.env, self.reminders = env, reminders

    async def receive(self, inb: Inbound, messenger: Messenger) -> None:
        """One update: private chats and new messages only, then the dispatcher."""
        ev = inb.event
        if self.metrics is not None:
            self.metrics.updates.labels(type(ev).__name__.lower() if ev else "other").inc()
        if not inb.private:
            await self._not_private(inb, messenger)
            return
        if inb.edited:
            await self._tell(inb, messenger, "err.edited", "edited message, not applied")
            return
        if ev is None or inb.user is None:
            return
        if isinstance(ev, Reachable):
            await asyncio.to_thread(set_reachable, self.env.engine, inb.user.id, ev.reachable)
            return
        if isinstance(ev, Other):
            await self._tell(inb, messenger, "err.not_text", "not a text message")
            return
        event: Incoming
        if isinstance(ev, Press):
            try:  # a press answered too late ("query is too old") still counts
                await messenger.answer_press(ev.press_id)
            except MessengerError as exc:
                log.info("update %s: press not acknowledged (%s), applied all the same",
                         inb.update_id, exc)
            if ev.message_id is not None and inb.chat_id is not None:
                # the pressed keyboard goes: the tap is seen taken, and not made twice;
                # already edited or too old to edit, the press still counts
                with contextlib.suppress(MessengerError):
                    await messenger.remove_choices(inb.chat_id, ev.message_id)
            event = PressIn(ev.data)
        elif isinstance(ev, Command):
            event = command_event(ev.word, ev.args)
        else:
            event = TextIn(ev.text)
        await self.dispatch(inb, messenger, event)

    async def dispatch(self, inb: Inbound, messenger: Messenger,
                       event: Incoming) -> Outcome | None:
        """Run the dispatcher off the event loop, send the outcome, log one line."""
        assert inb.user is not None
        started = time.monotonic()
        chat = inb.chat_id
        if isinstance(event, SummaryCmd) and chat is not None:  # documents take a moment
            with contextlib.suppress(MessengerError):
                await messenger.send_typing(chat)
        try:
            outcome = await asyncio.to_thread(service.handle, self.env, inb.update_id, inb.user,
                                              event)
        except OperationalError:
            log.warning("update %s: database unavailable", inb.update_id)
            if chat is not None:
                await messenger.send_text(chat, render(msg("err.try_again"),
                                                       pick_language(inb.user.language_code)))
            return None
        if not outcome.duplicate:
            self._saved[inb.update_id] = None
            while len(self._saved) > SAVED_REMEMBERED:
                self._saved.popitem(last=False)
            if chat is not None:
                await self.deliver(messenger, chat, inb.update_id, outcome)
                if self.metrics is not None:
                    self.metrics.replies.inc(len(outcome.replies))
            if self.reminders is not None and outcome.deliveries:
                self.reminders.spawn(self.reminders.deliver(outcome.deliveries),
                                     "reminders:manual")
            if self.reminders is not None and outcome.reschedule:
                await self.reminders.rebuild()
        log.info("update %s %s: %d repl%s%s%s in %.0f ms", inb.update_id, type(event).__name__,
                 len(outcome.replies), "y" if len(outcome.replies) == 1 else "ies",
                 f", {len(outcome.deliveries)} nudges" if outcome.deliveries else "",
                 " (duplicate, ignored)" if outcome.duplicate else "",
                 (time.monotonic() - started) * 1000)
        return outcome

    async def deliver(self, messenger: Messenger, chat_id: int | str, update_id: int | str,
                      outcome: Outcome) -> None:
        """Send what an applied update produced: its replies, then its files, then the
        person's menu. It is saved already: a failure here says so, never "not saved"."""
        try:
            await self.send_replies(messenger, chat_id, outcome.replies, outcome.locale)
        except MessengerError as exc:
            log.warning("update %s: applied, but its reply was not sent (%s)", update_id, exc)
            await self._say_quietly(messenger, chat_id, "err.saved_not_shown", outcome.locale)
        if outcome.files:
            try:
                await self.send_files(messenger, chat_id, outcome)
            except (MessengerError, FileNotBuilt) as exc:
                log.warning("update %s: files not sent (%r)", update_id, exc,
                            exc_info=isinstance(exc, FileNotBuilt))
                await self._say_quietly(messenger, chat_id, "err.files_not_sent", outcome.locale)
        if outcome.menu is not None:
            try:
                await messenger.set_menu(chat_id, menu(outcome.menu, outcome.locale))
            except MessengerError as exc:
                log.warning("update %s: menu of chat %s not set (%s)", update_id, chat_id, exc)

    async def _say_quietly(self, messenger: Messenger, chat_id: int | str, key: str,
                           locale: str) -> None:
        """One catalog sentence, if the messenger takes it now (logged when it does not)."""
        try:
            await messenger.send_text(chat_id, render(msg(key), locale))
        except MessengerError as exc:
            log.warning("chat %s: %s not said either (%s)", chat_id, key, exc)

    async def send_replies(self, messenger: Messenger, chat_id: int | str, replies: list[Reply],
                           locale: str) -> None:
        """Render and send replies in order, one message each (longer ones split).

        A typed answer costs one message: an earlier question keeps its buttons (its "✏️ Sửa"
        stays at hand; any other of its buttons, pressed, says it is old and asks again)."""
        for reply in replies:
            if not messenger.limits.documents:  # the files are not coming (Zalo)
                reply = replace(reply, lines=tuple(line for line in reply.lines
                                                   if line.key != "summary.files"))
            text, rows = render_reply(reply, locale, messenger.limits.wording)
            for piece, choices in pieces(text, rows, messenger.limits):
                await messenger.send_text(chat_id, piece, choices)

    async def send_files(self, messenger: Messenger, chat_id: int | str, outcome: Outcome) -> None:
        """Build (off the event loop, "sending a file…" shown meanwhile) and upload the
        documents and pictures an update produced; a messenger without files (Zalo) says
        where they are instead."""
        if outcome.files and not messenger.limits.documents:
            await messenger.send_text(chat_id, render(msg("summary.files_elsewhere"),
                                                      outcome.locale))
            return
        for f in outcome.files:
            caption = render(f.caption, outcome.locale)
            if f.make is not None:
                await messenger.send_uploading(chat_id)
            try:
                data = await asyncio.to_thread(f.content)
            except Exception as exc:  # whatever stopped it, the person hears the files failed
                raise FileNotBuilt(f.filename) from exc
            if f.kind == "photo":
                await messenger.send_photo(chat_id, f.filename, data, caption)
            else:
                await messenger.send_document(chat_id, f.filename, data, caption)

    async def _language_of(self, user: User | None) -> str:
        """The sender's stored language, else the one their messenger app uses."""
        if user is None:
            return "vi"
        stored = await asyncio.to_thread(service.person_language, self.env, user.id,
                                         user.channel)
        return stored or pick_language(user.language_code)

    async def _not_private(self, inb: Inbound, messenger: Messenger) -> None:
        """A command or button outside a private chat: figures are only shown in private."""
        text = render(msg("err.private_only"), await self._language_of(inb.user))
        if isinstance(inb.event, Press):
            with contextlib.suppress(MessengerError):
                await messenger.answer_press(inb.event.press_id, text)
        elif isinstance(inb.event, Command) and not inb.edited and inb.chat_id is not None:
            with contextlib.suppress(Blocked):  # the bot was removed from the group meanwhile
                await messenger.send_text(inb.chat_id, text)
        log.info("update %s: outside a private chat, ignored", inb.update_id)

    async def _tell(self, inb: Inbound, messenger: Messenger, key: str, what: str) -> None:
        """Say one catalog sentence in the sender's language; log what was not applied."""
        lang = await self._language_of(inb.user)
        assert inb.chat_id is not None
        await messenger.send_text(inb.chat_id, render(msg(key), lang))
        log.info("update %s: %s", inb.update_id, what)

    async def failed(self, inb: Inbound | None, error: BaseException | None,
                     messenger: Messenger) -> None:
        """Log an unexpected error (never the token) and ask the person to try again."""
        log.error("update %s failed: %r", inb.update_id if inb else "?", error, exc_info=error)
        if self.metrics is not None:
            self.metrics.errors.inc()
        if inb is not None and inb.chat_id is not None:
            lang = pick_language(inb.user.language_code if inb.user else None)
            # "not saved" only when it was not: an update applied before the error says so
            key = "err.saved_not_shown" if inb.update_id in self._saved else "err.try_again"
            with contextlib.suppress(MessengerError):
                await messenger.send_text(inb.chat_id, render(msg(key), lang))


def build_zalo(env: Env, *, token: str, api_url: str, replies_per_second: float = 5.0,
               shell: Shell | None = None, handled: Any = None) -> Any:
    """The Zalo bot around a shell (the Telegram application's, when both run): nothing is
    started (``ZaloBot.start`` polls; ``bot.zalo.webhook_handler`` for a web app)."""
    from bot import zalo

    shell = shell or Shell(env)
    client = zalo.ZaloClient(token, api_url)
    messenger = zalo.ZaloMessenger(client, replies_per_second=replies_per_second)
    bot = zalo.ZaloBot(client, messenger, shell.receive, shell.failed, handled=handled)
    bot.shell = shell
    return bot


def build_application(env: Env, *, token: str, base_url: str, base_file_url: str,
                      replies_per_second: float = REPLIES_PER_SECOND,
                      updater: bool = True, concurrent_updates: int = 1) -> tg.Application:
    """The Telegram application around one shell; nothing is started (see bot.telegram).
    ``concurrent_updates``: chats answered at once, each chat's updates in order."""
    shell = Shell(env)
    application = tg.build_application(env, shell.receive, shell.failed, token=token,
                                       base_url=base_url, base_file_url=base_file_url,
                                       replies_per_second=replies_per_second,
                                       started=shell.started, updater=updater,
                                       concurrent_updates=concurrent_updates)
    application.bot_data["shell"] = shell
    return application
