"""A real python-telegram-bot 22 Application against the local Bot API server (no mocks)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
import struct
import time
import warnings
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from sandbox.botapi import ApiError, LocalBotApi, format_text

TOKEN = "123456:LOCAL-test-token"


# --------------------------------------------------------------------------- helpers


def tiny_png(width: int = 2, height: int = 1) -> bytes:
    """A valid RGB PNG made by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def retry_seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after is an int (deprecated) or a timedelta (PTB_TIMEDELTA=1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user and update.message
    await update.message.reply_text(f"Xin chào {update.effective_user.first_name}! {context.args}")


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Có", callback_data="yes"),
                InlineKeyboardButton("Không", callback_data="no"),
            ]
        ]
    )
    await update.message.reply_text("Bạn có đồng ý?", reply_markup=keyboard)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query
    context.bot_data.setdefault("chat_instances", []).append(query.chat_instance)
    await query.answer(f"Đã chọn {query.data}")
    await query.edit_message_text(f"Bạn chọn: {query.data}")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message and update.message.document
    file = await update.message.document.get_file()
    data = await file.download_as_bytearray()
    await update.message.reply_text(f"Đã nhận {update.message.document.file_name}: {len(data)} B")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message and update.message.text
    await update.message.reply_text(update.message.text)


async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("seen", []).append(update.update_id)


def build_app(api: LocalBotApi, *, with_updater: bool = True) -> Application:
    builder = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api.url}/bot")
        .base_file_url(f"{api.url}/file/bot")
    )
    if not with_updater:
        builder = builder.updater(None)
    app = builder.build()
    app.add_handler(TypeHandler(Update, record), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    server = LocalBotApi()
    await server.start()
    server.add_bot(TOKEN, username="ctv_test_bot", first_name="CTV")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def app(api: LocalBotApi) -> AsyncIterator[Application]:
    application = build_app(api)
    await application.initialize()
    await application.start()
    assert application.updater
    await application.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@pytest.fixture
async def http(api: LocalBotApi) -> AsyncIterator[ClientSession]:
    async with ClientSession(base_url=api.url) as session:
        yield session


async def call(http: ClientSession, method: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(f"/bot{TOKEN}/{method}", **kwargs) as response:
        return response.status, await response.json()


# --------------------------------------------------------------------------- protocol


async def test_raw_protocol_shapes_and_errors(api: LocalBotApi, http: ClientSession) -> None:
    async with http.get(f"/bot{TOKEN}/getMe") as response:
        me = (await response.json())["result"]
    assert me["is_bot"] is True and me["id"] == 123456 and me["username"] == "ctv_test_bot"
    assert {"can_join_groups", "can_read_all_group_messages", "supports_inline_queries"} <= set(me)

    async with http.post("/bot999:nope/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    status, body = await call(http, "fooBar")
    assert (status, body["description"]) == (404, "Not Found")

    lan = api.user(TOKEN, 1001, "Lan", started=True)
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    # JSON body with a nested object.
    status, body = await call(
        http, "sendMessage", json={"chat_id": 1001, "text": "json", "reply_markup": keyboard}
    )
    assert status == 200 and body["result"]["reply_markup"] == keyboard
    # Form fields with nested values JSON-encoded, as PTB sends them.
    status, body = await call(
        http,
        "sendMessage",
        data={"chat_id": "1001", "text": "form", "reply_markup": '{"inline_keyboard": []}'},
    )
    assert status == 200 and "reply_markup" not in body["result"]
    # Query string.
    status, body = await call(http, "sendMessage", params={"chat_id": "1001", "text": "query"})
    message = body["result"]
    assert message["chat"] == {"id": 1001, "type": "private", "first_name": "Lan"}
    assert message["from"]["is_bot"] is True and message["from"]["id"] == 123456
    assert abs(message["date"] - time.time()) < 5  # seconds, not milliseconds
    assert [m.text for m in lan.messages()] == ["json", "form", "query"]
    assert [m.message_id for m in lan.messages()] == [1, 2, 3]

    status, body = await call(http, "sendMessage", json={"chat_id": 4242, "text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")

    api.inject("sendMessage", retry_after=9)
    status, body = await call(http, "sendMessage", json={"chat_id": 1001, "text": "x"})
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 9",
        "parameters": {"retry_after": 9},
    }


async def test_get_updates_offset_limit_timeout_and_conflicts(
    api: LocalBotApi, http: ClientSession
) -> None:
    lan = api.user(TOKEN, 1001, "Lan")
    ids = [await lan.send(f"tin {n}") for n in range(3)]
    _, body = await call(http, "getUpdates", json={"limit": 2})
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    assert body["result"][0]["message"]["text"] == "tin 0"
    _, body = await call(http, "getUpdates", json={"offset": ids[1]})
    assert [u["update_id"] for u in body["result"]] == ids[1:]  # ids[0] acknowledged
    _, body = await call(http, "getUpdates", json={"offset": ids[2] + 1})
    assert body["result"] == []

    # Long polling returns as soon as an update arrives.
    began = time.monotonic()
    poll = asyncio.create_task(call(http, "getUpdates", json={"offset": ids[2] + 1, "timeout": 5}))
    await asyncio.sleep(0.1)
    new_id = await lan.send("mới")
    _, body = await poll
    assert [u["update_id"] for u in body["result"]] == [new_id]
    assert time.monotonic() - began < 2

    # ... and honours the timeout when nothing comes.
    began = time.monotonic()
    _, body = await call(http, "getUpdates", json={"offset": new_id + 1, "timeout": 1})
    assert body["result"] == [] and 0.9 <= time.monotonic() - began < 3

    # A second poller terminates the first one, as on Telegram.
    first = asyncio.create_task(call(http, "getUpdates", json={"timeout": 5}))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(call(http, "getUpdates", json={"timeout": 0}))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    await second

    # A duplicate of an acknowledged update comes back with the same update_id.
    await api.deliver_again(ids[0])
    _, body = await call(http, "getUpdates", json={"offset": new_id + 1})
    assert [u["update_id"] for u in body["result"]] == [ids[0]]

    # allowed_updates filters what is queued afterwards.
    _, body = await call(http, "getUpdates", json={"offset": -1, "allowed_updates": ["x"]})
    await lan.send("bị lọc")
    _, body = await call(http, "getUpdates", json={"offset": ids[0] + 1})
    assert body["result"] == []
    await call(http, "getUpdates", json={"allowed_updates": []})

    # With a webhook set getUpdates is refused.
    status, _ = await call(http, "setWebhook", json={"url": "http://127.0.0.1:9/hook"})
    assert status == 200
    status, body = await call(http, "getUpdates")
    assert status == 409 and body["description"].startswith(
        "Conflict: can't use getUpdates method while webhook is active"
    )
    status, body = await call(http, "setWebhook", json={"url": "https://example.org/hook"})
    assert status == 400
    _, body = await call(http, "deleteWebhook", json={"drop_pending_updates": True})
    _, body = await call(http, "getWebhookInfo")
    assert body["result"] == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


# --------------------------------------------------------------------------- PTB, polling


async def test_commands_and_echo_with_polling(api: LocalBotApi, app: Application) -> None:
    lan = api.user(TOKEN, 1001, "Lan", username="lan_ctv", language_code="vi")
    await lan.send("/start abc")
    [reply] = await lan.wait_reply()
    assert reply.text == "Xin chào Lan! ['abc']"
    assert reply.raw["from"]["username"] == "ctv_test_bot"
    await lan.send("  xin chào  ")
    [echoed] = await lan.wait_reply()
    assert echoed.text == "xin chào"  # Telegram trims surrounding spaces
    assert lan.last_text() == "xin chào"
    assert [m.message_id for m in lan.history()] == [1, 2, 3, 4]
    assert [m.from_bot for m in lan.history()] == [False, True, False, True]
    assert api.stats(TOKEN).calls["getMe"] == 1
    assert api.stats(TOKEN).calls["deleteWebhook"] == 1  # start_polling's bootstrap


async def test_inline_keyboard_press_edit_and_answer(api: LocalBotApi, app: Application) -> None:
    lan = api.user(TOKEN, 1001, "Lan")
    await lan.send("/menu")
    [question] = await lan.wait_reply()
    assert question.buttons == [[("Có", "yes"), ("Không", "no")]]

    await lan.press("yes")
    [edited] = await lan.wait_reply()
    assert edited.message_id == question.message_id
    assert edited.text == "Bạn chọn: yes" and edited.edited == 1
    assert edited.buttons == []  # editing text without reply_markup drops the keyboard
    answer = await lan.wait_answer()
    assert answer.text == "Đã chọn yes" and answer.show_alert is False
    assert lan.callback_texts() == ["Đã chọn yes"]
    assert app.bot_data["chat_instances"][0]

    await lan.send("/menu")
    await lan.wait_reply()
    await lan.press_text("Không")
    [edited] = await lan.wait_reply()
    assert edited.text == "Bạn chọn: no"
    with pytest.raises(LookupError):
        await lan.press("yes")  # no keyboard is left


async def test_edit_delete_and_keyboards(api: LocalBotApi, app: Application) -> None:
    lan = api.user(TOKEN, 1002, "Minh", started=True)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    sent = await app.bot.send_message(lan.chat_id, "một", reply_markup=keyboard)
    assert sent.reply_markup == keyboard
    edited = await app.bot.edit_message_text(
        "hai", lan.chat_id, sent.message_id, reply_markup=keyboard
    )
    assert not isinstance(edited, bool) and edited.text == "hai" and edited.edit_date
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_text("hai", lan.chat_id, sent.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await app.bot.edit_message_text("ba", lan.chat_id, 999)
    cleared = await app.bot.edit_message_reply_markup(lan.chat_id, sent.message_id)
    assert not isinstance(cleared, bool) and cleared.reply_markup is None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_reply_markup(lan.chat_id, sent.message_id)
    assert lan.last() is not None and lan.last().edited == 2  # type: ignore[union-attr]

    assert await app.bot.delete_message(lan.chat_id, sent.message_id) is True
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await app.bot.delete_message(lan.chat_id, sent.message_id)
    assert lan.messages() == []

    await app.bot.send_message(
        lan.chat_id, "Chọn", reply_markup=ReplyKeyboardMarkup([["Có", "Không"]])
    )
    assert lan.keyboard() == [["Có", "Không"]]
    await app.bot.send_message(lan.chat_id, "Xong", reply_markup=ReplyKeyboardRemove())
    assert lan.keyboard() is None
    asked = await app.bot.send_message(lan.chat_id, "Số trẻ?", reply_markup=ForceReply())
    await lan.send("12")  # a ForceReply makes the answer a reply
    [echoed] = await lan.wait_reply()
    assert echoed.text == "12"
    assert lan.history()[-2].raw["reply_to_message"]["message_id"] == asked.message_id
    assert await app.bot.send_chat_action(lan.chat_id, "typing") is True
    assert lan.chat_actions() == ["typing"]


async def test_limits_and_parse_errors(api: LocalBotApi, app: Application) -> None:
    chat = api.user(TOKEN, 1003, "Hoa", started=True).chat_id
    bot = app.bot
    assert len((await bot.send_message(chat, "a" * 4096)).text or "") == 4096
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(chat, "a" * 4097)
    # The limit applies to the text after trimming, as Telegram does.
    assert len((await bot.send_message(chat, "  " + "a" * 4096 + "\n")).text or "") == 4096
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(chat, "")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(chat, " \n ")

    ok_data = "ệ" * 21 + "x"  # 64 bytes in UTF-8
    await bot.send_message(
        chat,
        "ok",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data=ok_data)]]),
    )
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(
            chat,
            "too long",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data=ok_data + "y")]]
            ),
        )
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_document(chat, b"x", filename="a.txt", caption="c" * 1025)
    # The bot sends plain text: markup it might start to send is refused, never half-parsed.
    with pytest.raises(BadRequest, match="(?i)parse_mode 'HTML' is not supported"):
        await bot.send_message(chat, "5 < 6", parse_mode=ParseMode.HTML)
    assert (await bot.send_message(chat, "5 < 6 *x*")).text == "5 < 6 *x*"


async def test_documents_photos_and_downloads(api: LocalBotApi, app: Application) -> None:
    lan = api.user(TOKEN, 1004, "Tú", started=True)
    csv = "xã,số\nXuân Trường,12\n".encode()
    sent = await app.bot.send_document(lan.chat_id, csv, filename="bao-cao.csv", caption="Báo cáo")
    assert sent.document and sent.document.file_name == "bao-cao.csv"
    assert sent.document.mime_type == "text/csv" and sent.document.file_size == len(csv)
    seen = lan.last()
    assert seen and seen.document and seen.document.data == csv and seen.caption == "Báo cáo"
    file = await app.bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == csv
    again = await app.bot.send_document(lan.chat_id, sent.document.file_id)
    assert again.document and again.document.file_id == sent.document.file_id
    by_url = await app.bot.send_document(lan.chat_id, file.file_path or "")  # a loopback URL
    assert by_url.document and by_url.document.file_size == len(csv)
    with pytest.raises(BadRequest, match="(?i)failed to get http url content"):
        await app.bot.send_document(lan.chat_id, "https://example.org/a.pdf")  # never fetched

    png = tiny_png(3, 2)
    photo = await app.bot.send_photo(lan.chat_id, png, caption=" Ảnh /start ")
    assert photo.photo[-1].width == 3 and photo.photo[-1].height == 2
    assert photo.caption == "Ảnh /start" and photo.caption_entities[0].type == "bot_command"
    last = lan.last()
    assert last and last.photo == png
    downloaded = await (await photo.photo[-1].get_file()).download_as_bytearray()
    assert bytes(downloaded) == png
    with pytest.raises(BadRequest, match="(?i)image_process_failed"):
        await app.bot.send_photo(lan.chat_id, b"not an image")

    # A person uploads a document; the bot downloads it through getFile.
    await lan.send_document(b"12345", "so-lieu.txt")
    [reply] = await lan.wait_reply()
    assert reply.text == "Đã nhận so-lieu.txt: 5 B"


async def test_commands_per_scope_and_language(api: LocalBotApi, app: Application) -> None:
    bot = app.bot
    await bot.set_my_commands(
        [BotCommand("start", "Bắt đầu"), BotCommand("help", "Trợ giúp")], language_code="vi"
    )
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands(
        [BotCommand("report", "Báo cáo")], scope=BotCommandScopeAllPrivateChats()
    )
    assert api.commands(TOKEN) == {
        "vi": [("start", "Bắt đầu"), ("help", "Trợ giúp")],
        "": [("start", "Start")],
    }
    assert api.commands(TOKEN, {"type": "all_private_chats"}) == {"": [("report", "Báo cáo")]}
    got = await bot.get_my_commands(language_code="vi")
    assert [c.command for c in got] == ["start", "help"]
    assert await bot.get_my_commands(language_code="en") == ()
    lan = api.user(TOKEN, 1005, "Lan", language_code="vi")
    assert lan.visible_commands() == [("report", "Báo cáo")]
    await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert lan.visible_commands() == [("start", "Bắt đầu"), ("help", "Trợ giúp")]
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "x")])
    # one chat's own menu comes before every other scope, for that chat only
    await bot.set_my_commands([BotCommand("summary", "Tổng hợp")],
                              scope=BotCommandScopeChat(lan.chat_id))
    assert lan.visible_commands() == [("summary", "Tổng hợp")]
    binh = api.user(TOKEN, 1006, "Bình", language_code="vi")
    assert binh.visible_commands() == [("start", "Bắt đầu"), ("help", "Trợ giúp")]
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.set_my_commands([BotCommand("x", "x")], scope=BotCommandScopeChat(424242))


async def test_a_press_answered_too_late_is_refused(api: LocalBotApi) -> None:
    api.callback_query_timeout = 0.2
    app = build_app(api, with_updater=False)  # the presses wait until fetched by hand
    await app.initialize()
    lan = api.user(TOKEN, 1007, "Lan")
    await lan.send("/start")
    await app.bot.send_message(lan.chat_id, "?", reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton("Có", callback_data="yes")]]))
    await lan.press("yes")
    *_, update = await app.bot.get_updates(offset=0, timeout=0)
    await asyncio.sleep(0.3)
    assert update.callback_query is not None
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await update.callback_query.answer()
    await lan.press("yes")
    *_, update = await app.bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert update.callback_query is not None and update.callback_query.message is not None
    await update.callback_query.answer()  # in time: accepted
    await app.bot.send_chat_action(lan.chat_id, "typing")
    assert lan.chat_action_timeline() == [("typing", update.callback_query.message.message_id)]
    await app.shutdown()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_faults_blocking_and_rate_limits(api: LocalBotApi, app: Application) -> None:
    bot = app.bot
    lan = api.user(TOKEN, 1006, "Lan", started=True)
    minh = api.user(TOKEN, 1007, "Minh", started=True)

    fault = api.inject("sendMessage", retry_after=7, times=1, chat_id=lan.chat_id)
    await bot.send_message(minh.chat_id, "khác chat")  # other chats are not affected
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(lan.chat_id, "x")
    assert retry_seconds(caught.value) == 7 and fault.hits == 1
    await bot.send_message(lan.chat_id, "lần 2")
    stats = api.stats(TOKEN)
    assert stats.too_many_requests == 1 and stats.sends == 2 and stats.calls["sendMessage"] == 3

    api.block(lan.user_id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(lan.chat_id, "x")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(lan.chat_id, "typing")
    api.unblock(lan.user_id)
    await bot.send_message(lan.chat_id, "lại được")
    stranger = api.user(TOKEN, 1008, "Lạ")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger.chat_id, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "x")

    api.inject("sendChatAction", error_code=None, delay=0.2)  # slow, then carried out
    began = time.monotonic()
    assert await bot.send_chat_action(lan.chat_id, "typing") is True
    assert time.monotonic() - began >= 0.2 and lan.chat_actions() == ["typing"]
    api.inject("getMe", error_code=500, description="Internal Server Error", times=1)
    with pytest.raises(Exception, match="Internal Server Error"):
        await bot.get_me()

    api.set_rate_limits(global_per_second=30, per_chat_per_second=1)
    await asyncio.sleep(1.0)
    stats.reset()
    await bot.send_message(lan.chat_id, "1")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(lan.chat_id, "2")
    assert retry_seconds(caught.value) == 1
    await bot.send_message(minh.chat_id, "khác chat")
    assert stats.max_per_window(chat_id=lan.chat_id) == 1
    assert stats.sends == 2 and stats.too_many_requests == 1 and stats.errors[429] == 1


# --------------------------------------------------------------------------- webhooks


async def test_webhook_push_secret_retry_and_duplicates(api: LocalBotApi) -> None:
    """PTB's documented custom-webhook setup: our own receiver feeds app.update_queue."""
    application = build_app(api, with_updater=False)
    received: list[tuple[int, str | None]] = []
    fail_next = {"count": 0}

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        data = await request.json()
        received.append((data["update_id"], secret))
        if secret != "s3cret":
            return web.Response(status=403)
        if fail_next["count"]:
            fail_next["count"] -= 1
            return web.Response(status=500)
        message = data.get("message") or {}
        if message.get("text") == "trả lời qua webhook":
            # Telegram also runs a method given in the webhook's answer.
            reply = {"method": "sendMessage", "chat_id": message["chat"]["id"], "text": "ừ"}
            return web.json_response(reply)
        await application.update_queue.put(Update.de_json(data, application.bot))
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await application.initialize()
    await application.start()
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await application.bot.set_webhook(url, secret_token="s3cret")
        info = await application.bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        with pytest.raises(Conflict):
            await application.bot.get_updates()

        lan = api.user(TOKEN, 1010, "Lan")
        first = await lan.send("/start")
        [reply] = await lan.wait_reply()
        assert reply.text == "Xin chào Lan! []"
        assert received == [(first, "s3cret")]

        # Without the secret header the receiver refuses; the server keeps retrying in order.
        api.set_delivery_secret(TOKEN, None)
        refused = await lan.send("một")
        after = await lan.send("hai")
        await api.wait_until(lambda: len(received) >= 3)
        api.reset_delivery_secret(TOKEN)
        await api.wait_until(lambda: lan.last_text() == "hai")
        await api.wait_idle(TOKEN)
        statuses = [(d.update_id, d.status) for d in api.deliveries(TOKEN)]
        assert (refused, 403) in statuses and statuses[-2:] == [(refused, 200), (after, 200)]
        assert [d.secret_token for d in api.deliveries(TOKEN) if d.status == 403][0] is None
        assert [m.text for m in lan.messages()][-2:] == ["một", "hai"]

        # A 500 is retried; a duplicate delivery carries the same update_id.
        fail_next["count"] = 1
        third = await lan.send("ba")
        await lan.wait_reply()
        assert [d.status for d in api.deliveries(TOKEN) if d.update_id == third] == [500, 200]
        await api.deliver_again(third)
        await api.wait_until(lambda: application.bot_data["seen"].count(third) == 2)
        assert api.deliveries(TOKEN)[-1].duplicate is True
        info = await application.bot.get_webhook_info()
        assert info.last_error_message and info.pending_update_count == 0

        await lan.send("trả lời qua webhook")
        [answer] = await lan.wait_reply()
        assert answer.text == "ừ"
    finally:
        await application.stop()
        await application.shutdown()
        await runner.cleanup()


# --------------------------------------------------------------------------- text and lifecycle


def test_format_text_entities_and_errors() -> None:
    text, entities = format_text("  👍 /start@ctv_test_bot x #tin https://x.vn/a. ")
    assert text == "👍 /start@ctv_test_bot x #tin https://x.vn/a."
    assert entities == [  # the emoji is 2 UTF-16 units; the final dot is not in the URL
        {"type": "bot_command", "offset": 3, "length": 19},
        {"type": "hashtag", "offset": 25, "length": 4},
        {"type": "url", "offset": 30, "length": 14},
    ]
    given = [{"type": "bold", "offset": 1, "length": 3}]
    assert format_text(" đậm", entities=given) == ("đậm", [{**given[0], "offset": 0}])
    for mode in ("HTML", "MarkdownV2", "Markdown"):
        with pytest.raises(ApiError) as caught:
            format_text("x", mode)
        assert caught.value.error_code == 400


async def test_stop_ends_long_polls_and_frees_the_port() -> None:
    api = LocalBotApi()
    await api.start()
    api.add_bot(TOKEN)
    port = api.port
    async with ClientSession() as http:
        poll = asyncio.create_task(
            http.post(f"{api.url}/bot{TOKEN}/getUpdates", json={"timeout": 30})
        )
        await asyncio.sleep(0.1)
        began = time.monotonic()
        await api.stop()
        assert time.monotonic() - began < 3
        response = await poll
        assert (await response.json())["result"] == []
        response.release()
    with socket.socket() as sock:
        # No listener is left (SO_REUSEADDR only tolerates closed connections in TIME_WAIT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    with pytest.raises(ValueError):
        await LocalBotApi().start(host="0.0.0.0")
