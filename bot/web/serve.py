"""Serving the bot and the web app in one process: the PTB Application started by hand
(PTB's custom-webhook pattern), uvicorn serving the Starlette app, one clean stop on Ctrl-C
or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("ctvbot")


def web_server(web_app: Any) -> Any:
    """uvicorn serving ``web_app``, without its own signal handling (the process's stop is
    handled here); uvicorn is imported only when the web face is served."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _Server(uvicorn.Config(web_app, lifespan="off", log_level="warning",
                                  access_log=False, timeout_graceful_shutdown=5,
                                  server_header=False))


def bind(listen: str) -> socket.socket:
    """A listening socket for HOST:PORT (OSError when it is taken)."""
    host, _, port = listen.rpartition(":")
    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]") or "127.0.0.1", int(port)))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def start_web(web_app: Any, sock: socket.socket) -> tuple[Any, asyncio.Task[Any]]:
    """uvicorn serving ``web_app`` on ``sock`` in the background; stop it by setting the
    server's ``should_exit`` and awaiting the task."""
    server = web_server(web_app)
    return server, asyncio.create_task(server.serve(sockets=[sock]))


async def serve(application: Any, web_app: Any, sock: socket.socket | None, *,
                webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
    """Run until SIGINT/SIGTERM: the bot (by webhook when ``webhook_url`` is given, else long
    polling) and, on ``sock``, the web app."""
    from telegram import Update

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = None
    if sock is not None:
        server = web_server(web_app)
    await application.initialize()  # InvalidToken here
    try:
        if application.post_init is not None:
            await application.post_init(application)
        if webhook_url:
            await application.bot.set_webhook(webhook_url, secret_token=webhook_secret,
                                              allowed_updates=Update.ALL_TYPES)
        else:
            await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        await application.start()
        task = asyncio.create_task(server.serve(sockets=[sock])) if server else None
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([t for t in (task, waiter) if t is not None],
                           return_when=asyncio.FIRST_COMPLETED)
        if server is not None and task is not None:
            server.should_exit = True
            await task
        waiter.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
