"""A bare python-telegram-bot echo bot, the yardstick of ``ctvbot bench p1``."""

from __future__ import annotations

import os


def echo_main() -> None:
    """A bare python-telegram-bot echo bot (CTVBOT_TOKEN, CTVBOT_API_URL), long polling."""
    import logging

    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await context.bot.send_message(message.chat_id, message.text)

    logging.basicConfig(level=logging.WARNING)
    api_url = os.environ["CTVBOT_API_URL"]
    root = api_url.rstrip("/").rpartition("/bot")[0]
    app = (ApplicationBuilder().token(os.environ["CTVBOT_TOKEN"]).base_url(api_url)
           .base_file_url(f"{root}/file/bot").build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling()



if __name__ == "__main__":  # pragma: no cover
    echo_main()
