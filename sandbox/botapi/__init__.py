"""A local Telegram Bot API server, and people who talk to its bots, for tests and the demo.

The server speaks the real Bot API over HTTP (``/bot<token>/<method>`` and
``/file/bot<token>/<file_path>``), so an unmodified python-telegram-bot ``Application``
works against it in polling or webhook mode::

    api = LocalBotApi()
    await api.start()                                   # 127.0.0.1, a free port
    api.add_bot("123:ABC", username="ctv_test_bot")
    app = (ApplicationBuilder().token("123:ABC").base_url(f"{api.url}/bot")
           .base_file_url(f"{api.url}/file/bot").build())
    lan = api.user("123:ABC", 1001, "Lan", language_code="vi")
    await lan.send("/start")
    replies = await lan.wait_reply()
    await lan.press("yes")
    await api.stop()

Modules: ``server`` (lifecycle, bots, people, waiting), ``routes`` (HTTP), ``updates``
(getUpdates and webhooks), ``methods`` (the Bot API methods), ``people`` (LocalUser),
``limits`` (sizes, errors, 429s, faults, blocks), ``model`` (records), ``text`` (entities).
"""

from sandbox.botapi.limits import ApiError, Fault
from sandbox.botapi.model import BotMessage, CallbackAnswer, Delivery, Stats, StoredFile
from sandbox.botapi.people import LocalUser
from sandbox.botapi.server import LocalBotApi
from sandbox.botapi.text import format_text

__all__ = [
    "ApiError",
    "BotMessage",
    "CallbackAnswer",
    "Delivery",
    "Fault",
    "LocalBotApi",
    "LocalUser",
    "Stats",
    "StoredFile",
    "format_text",
]
