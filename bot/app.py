"""Telegram wiring: thin handlers that read the update, call the service, send the replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace

from sqlalchemy.exc import OperationalError
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import officer, reminders, service
from bot.i18n import LANGUAGES, pick_language, render, render_reply, text_of
from flows.effects import Reply, msg

log = logging.getLogger("ctvbot")

MAX_TEXT = 4096
REPLIES_PER_SECOND = 30  # Telegram: about 30 messages a second overall
REPLY_RETRIES = 3  # a reply that meets a 429 is sent again after retry_after, up to 3 times

COMMANDS = {
    # command: (aliases, menu description key, officers only)
    "report": (("report", "baocao"), "cmd.report"),
    "status": (("status", "tinhtrang"), "cmd.status"),
    "cancel": (("cancel", "huy"), "cmd.cancel"),
    "help": (("help", "huongdan"), "cmd.help"),
    "language": (("language", "ngonngu"), "cmd.language"),
    "invite": (("invite", "moi"), "cmd.invite"),
    "summary": (("summary", "tonghop"), "cmd.summary"),
    **officer.COMMANDS,  # progress, remind, deadline, close: handled by bot.officer
}
MENU_NAMES = {"vi": ["baocao", "tinhtrang", "huy", "huongdan", "ngonngu", "moi", "tonghop",
                     *officer.MENU_NAMES["vi"]],
              "en": ["report", "status", "cancel", "help", "language", "invite", "summary",
                     *officer.MENU_NAMES["en"]]}


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


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text at line breaks into pieces Telegram accepts."""
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


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """An inline keyboard from (label, data) rows."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row]
                                 for row in rows])


async def send_replies(context: ContextTypes.DEFAULT_TYPE, chat_id: int,
                       replies: list[Reply], locale: str) -> None:
    """Render and send replies in order; the previous question's buttons go away."""
    if not replies:
        return
    open_question = context.chat_data.pop("question_message", None) if context.chat_data \
        is not None else None
    if open_question is not None:
        with contextlib.suppress(BadRequest, Forbidden):
            await context.bot.edit_message_reply_markup(chat_id, open_question, reply_markup=None)
    for reply in replies:
        text, rows = render_reply(reply, locale)
        pieces = split_text(text)
        for n, piece in enumerate(pieces):
            markup = keyboard(rows) if n == len(pieces) - 1 else None
            sent = await context.bot.send_message(chat_id, piece, reply_markup=markup)
            if reply.transient and markup is not None and context.chat_data is not None:
                context.chat_data["question_message"] = sent.message_id


async def send_files(context: ContextTypes.DEFAULT_TYPE, chat_id: int,
                     files: list[service.OutFile], locale: str) -> None:
    """Upload the documents and pictures an update produced."""
    for f in files:
        caption = render(f.caption, locale)
        if f.kind == "photo":
            await context.bot.send_photo(chat_id, InputFile(f.data, filename=f.filename),
                                         caption=caption)
        else:
            await context.bot.send_document(chat_id, InputFile(f.data, filename=f.filename),
                                            caption=caption)


def _user(update: Update) -> service.TgUser:
    u = update.effective_user
    assert u is not None
    return service.TgUser(u.id, u.first_name, u.last_name, u.language_code)


async def _dispatch(update: Update, context: ContextTypes.DEFAULT_TYPE,
                    event: service.Incoming) -> service.Outcome | None:
    """Run the service off the event loop, send the replies, log one line."""
    env: service.Env = context.bot_data["env"]
    started = time.monotonic()
    user = _user(update)
    try:
        outcome = await asyncio.to_thread(service.handle, env, update.update_id, user, event)
    except OperationalError:
        log.warning("update %s: database unavailable", update.update_id)
        chat = update.effective_chat
        if chat is not None:
            await context.bot.send_message(chat.id, render(msg("err.try_again"),
                                                           pick_language(user.language_code)))
        return None
    if not outcome.duplicate and update.effective_chat is not None:
        await send_replies(context, update.effective_chat.id, outcome.replies, outcome.locale)
        await send_files(context, update.effective_chat.id, outcome.files, outcome.locale)
    log.info("update %s %s: %d repl%s%s in %.0f ms", update.update_id, type(event).__name__,
             len(outcome.replies), "y" if len(outcome.replies) == 1 else "ies",
             " (duplicate, ignored)" if outcome.duplicate else "",
             (time.monotonic() - started) * 1000)
    return outcome


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start [CODE]: join with an invitation or learn what the bot is."""
    code = context.args[0] if context.args else None
    await _dispatch(update, context, service.StartCmd(code))


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report (/baocao): start or resume the report."""
    await _dispatch(update, context, service.ReportCmd())


async def summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/summary (/tonghop) [YEAR]: the commune's report, for officers."""
    await _dispatch(update, context, service.SummaryCmd(context.args[0] if context.args else None))


async def simple_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status, /cancel, /help, /language, /invite and their Vietnamese aliases."""
    assert update.effective_message is not None and update.effective_message.text
    word = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
    name = next(n for n, (aliases, _) in COMMANDS.items() if word in aliases)
    await _dispatch(update, context, service.SimpleCmd(name))


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed answer to the current question."""
    assert update.effective_message is not None
    await _dispatch(update, context, service.TextIn(update.effective_message.text or ""))


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button: acknowledge it, take its keyboard away, apply it."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.message is not None and query.message.is_accessible:
        if context.chat_data is not None and \
                context.chat_data.get("question_message") == query.message.message_id:
            context.chat_data.pop("question_message")  # its buttons go now, not twice
        # already edited or too old to edit: the press still counts
        with contextlib.suppress(BadRequest, Forbidden):
            await query.edit_message_reply_markup(None)
    await _dispatch(update, context, service.PressIn(query.data or ""))


async def _language_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The sender's stored language, else the one their Telegram app uses."""
    user = update.effective_user
    if user is None:
        return "vi"
    stored = await asyncio.to_thread(service.person_language, context.bot_data["env"], user.id)
    return stored or pick_language(user.language_code)


async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Private chats and new messages only; anything else stops here."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        await not_private(update, context)
    if update.edited_message is not None:
        await edited(update, context)


async def not_private(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command or button outside a private chat: figures are only shown in private."""
    lang = await _language_of(update, context)
    text = render(msg("err.private_only"), lang)
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(text, show_alert=True)
    elif update.message is not None and (update.message.text or "").startswith("/"):
        with contextlib.suppress(Forbidden):  # the bot was removed from the group meanwhile
            await context.bot.send_message(update.message.chat_id, text)
    log.info("update %s: outside a private chat, ignored", update.update_id)
    raise ApplicationHandlerStop


async def _tell(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str, what: str) -> None:
    """Say one catalog sentence in the sender's language; log what was not applied."""
    lang = await _language_of(update, context)
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, render(msg(key), lang))
    log.info("update %s: %s", update.update_id, what)


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message is not read again: say how to change a figure."""
    await _tell(update, context, "err.edited", "edited message, not applied")
    raise ApplicationHandlerStop


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, sticker, voice note or file: the bot only reads typed answers."""
    await _tell(update, context, "err.not_text", "not a text message")


async def set_commands(application: Application) -> None:
    """Learn the bot's username; set command menus per language (Vietnamese by default)."""
    env: service.Env = application.bot_data["env"]
    if not env.bot_username:
        application.bot_data["env"] = replace(env, bot_username=application.bot.username)
    for lang in LANGUAGES:
        cmds = []
        for name in MENU_NAMES[lang]:
            key = next(k for _, (aliases, k) in COMMANDS.items() if name in aliases)
            cmds.append(BotCommand(name, text_of(key, lang)))
        await application.bot.set_my_commands(
            cmds, scope=BotCommandScopeDefault(), language_code=None if lang == "vi" else lang)


async def post_init(application: Application) -> None:
    """Set the command menus, then start the reminder scheduler."""
    await set_commands(application)
    await reminders.start_reminders(application)


def build_application(env: service.Env, *, token: str, base_url: str, base_file_url: str,
                      replies_per_second: float = REPLIES_PER_SECOND) -> Application:
    """The PTB Application with every handler; nothing is started.

    Every reply and reminder of the process stays under ``replies_per_second`` (Telegram's
    overall limit), and a 429 is waited out (retry_after) and sent again instead of losing
    the reply; 0 switches the limiter off (a local Bot API server, a benchmark).
    """
    builder = ApplicationBuilder().token(token).base_url(base_url).base_file_url(base_file_url)
    if replies_per_second > 0:
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=replies_per_second,
                                                      max_retries=REPLY_RETRIES))
    application = (
        builder.post_init(post_init).post_stop(reminders.stop_reminders)
        .post_shutdown(reminders.stop_reminders).build()
    )
    application.bot_data["env"] = env
    application.add_handler(TypeHandler(Update, guard), group=-3)  # ahead of everything
    officer.install(application)  # group -1: ahead of simple_command for the officer commands
    reminders.install(application)  # blocked / unblocked: marks people (un)reachable
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler(list(COMMANDS["report"][0]), report))
    application.add_handler(CommandHandler(list(COMMANDS["summary"][0]), summary))
    for name, (aliases, _) in COMMANDS.items():
        if name not in ("report", "summary"):
            application.add_handler(CommandHandler(list(aliases), simple_command))
    application.add_handler(CallbackQueryHandler(press))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, answer))
    application.add_handler(MessageHandler(filters.COMMAND, simple_unknown))
    application.add_handler(MessageHandler(~filters.TEXT & filters.UpdateType.MESSAGE, not_text))
    application.add_error_handler(on_error)
    return application


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log an unexpected error (never the token) and ask the person to try again."""
    log.error("update %s failed: %r", getattr(update, "update_id", "?"), context.error,
              exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        user = update.effective_user
        lang = pick_language(user.language_code if user else None)
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id,
                                           render(msg("err.try_again"), lang))


async def simple_unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown /command: say so and show the help."""
    assert update.effective_message is not None
    word = (update.effective_message.text or "/").split()[0].split("@")[0][:32]
    await _dispatch(update, context, service.SimpleCmd("unknown", word))
