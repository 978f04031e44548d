"""The web face: one ASGI application serving the Telegram webhook, the health and metrics
endpoints and the reporter's form (see ``bot.web.app.build_web_app``)."""
