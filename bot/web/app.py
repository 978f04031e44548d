"""The web application: the Telegram webhook, /healthz, /metrics, sign-in and the form.

``build_web_app`` makes one Starlette application; nothing is built at import time. A face
that needs its own route (another messenger's webhook) passes it in ``extra_routes``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.context import Env
from bot.i18n import pick_language, render
from bot.web import auth
from bot.web import forms as store
from bot.web.metrics import Metrics
from flows import form as form_flow
from flows.effects import Msg, msg
from flows.report import value_text
from storage.web import LinkState

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger("ctvbot.web")

COOKIE = "ctv_session"
MAX_BODY = 1_000_000  # a Telegram update is a few KB; the form a few KB too
BODY_SECONDS = 10.0  # the whole body within this time, or 408
SECRET_HEADER = "x-telegram-bot-api-secret-token"
ZALO_WEBHOOK_PATH = "/zalo/webhook"  # Zalo's webhook route, beside the pages
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class WebConfig:
    """How the web app is reached and what it checks.

    ``public_url``: the address people open (links are made with it; https makes the session
    cookie Secure); ``bot_token``: checks Mini App data; ``webhook_path`` and
    ``webhook_secret``: the Telegram webhook route, when updates come by webhook.
    """

    public_url: str = ""
    bot_token: str | None = None
    webhook_path: str | None = None
    webhook_secret: str | None = None
    max_body: int = MAX_BODY
    body_seconds: float = BODY_SECONDS

    @property
    def secure(self) -> bool:
        """Cookies only over HTTPS."""
        return self.public_url.startswith("https://")


class BodyRefused(Exception):
    """A request body too large or too slow."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The request's body, at most ``limit`` bytes within ``seconds`` (else BodyRefused):
    a bigger or slower body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyRefused(413)

    async def read() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyRefused(413)
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), seconds)
    except TimeoutError:
        raise BodyRefused(408) from None
    except ClientDisconnect:
        raise BodyRefused(400) from None


async def read_form(request: Request, config: WebConfig) -> dict[str, list[str]]:
    """A urlencoded form, bounded like every body."""
    from urllib.parse import parse_qs

    body = await read_body(request, config.max_body, config.body_seconds)
    try:
        return parse_qs(body.decode(), keep_blank_values=True, max_num_fields=2000)
    except (UnicodeDecodeError, ValueError):
        raise BodyRefused(400) from None


def _templates() -> Environment:
    """The pages' templates. jinja2 is imported here, when the first page is shown: a bot
    whose web pages nobody opens does not hold it (about 4 MiB)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                       trim_blocks=True, lstrip_blocks=True)


def build_web_app(env: Env, config: WebConfig, *, application: Any = None,
                  metrics: Metrics | None = None,
                  extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The web application around one Env; ``application``: the PTB Application whose
    updates arrive by the webhook route (built with ``updater(None)``, started by whoever
    serves this app)."""
    jinja: list[Environment] = []  # built by the first page shown
    metrics = metrics or Metrics(env.engine)

    def page(name: str, lang: str, status: int = 200, **params: Any) -> HTMLResponse:
        def t(key: str, **kw: Any) -> str:
            return render(msg(key, **kw), lang)

        def r(m: Msg | None) -> str:
            return render(m, lang) if m is not None else ""

        if not jinja:
            jinja.append(_templates())
        html = jinja[0].get_template(name).render(t=t, r=r, lang=lang, **params)
        return HTMLResponse(html, status_code=status,
                            headers={"Cache-Control": "no-store",
                                     "Content-Security-Policy":
                                         "frame-ancestors 'self' https://web.telegram.org",
                                     "Referrer-Policy": "no-referrer"})

    def lang_of(request: Request, person: Any = None) -> str:
        if person is not None:
            return person.language
        return pick_language(request.headers.get("accept-language", "vi")[:2])

    async def signed_in(request: Request) -> tuple[Any, str | None]:
        token = request.cookies.get(COOKIE)
        if not token:
            return None, None
        person = await asyncio.to_thread(store.person_of, env.engine, token, env.utcnow())
        return person, token if person is not None else None

    def set_cookie(response: Response, token: str, *, framed: bool = False) -> None:
        # a Mini App may run in a frame of web.telegram.org: its cookie must cross sites
        # there (SameSite=None needs Secure); every POST still needs its CSRF token
        response.set_cookie(COOKIE, token, max_age=30 * 24 * 3600, httponly=True,
                            samesite="none" if framed and config.secure else "lax",
                            secure=config.secure, path="/")

    def refused(lang: str, key: str, status: int) -> HTMLResponse:
        return page("message.html", lang, status, title=msg("web.title"), text=msg(key))

    # ---------------------------------------------------------------- Telegram

    async def telegram_webhook(request: Request) -> Response:
        sent = request.headers.get(SECRET_HEADER, "")
        if not config.webhook_secret or not hmac.compare_digest(sent.encode(),
                                                                config.webhook_secret.encode()):
            return Response(status_code=403)  # before a byte of the body is read
        try:
            body = await read_body(request, config.max_body, config.body_seconds)
            data = json.loads(body)
        except BodyRefused as exc:
            return Response(status_code=exc.status)
        except ValueError:
            return Response(status_code=400)
        from telegram import Update

        if not isinstance(data, dict):
            return Response(status_code=400)
        await application.update_queue.put(Update.de_json(data, application.bot))
        return Response(status_code=200)

    # ---------------------------------------------------------------- operations

    def db_ok() -> bool:
        try:
            with env.engine.connect() as conn:
                conn.execute(text("select 1"))
        except SQLAlchemyError:
            return False
        return True

    async def healthz(request: Request) -> Response:
        ok = await asyncio.to_thread(db_ok)
        return JSONResponse({"database": "ok" if ok else "unreachable"},
                            status_code=200 if ok else 503)

    async def metrics_page(request: Request) -> Response:
        data = await asyncio.to_thread(generate_latest, metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    # ---------------------------------------------------------------- signing in

    async def login_page(request: Request) -> Response:
        token = request.path_params["token"]
        lang = lang_of(request)
        state = await asyncio.to_thread(store.link_state, env.engine, token, env.utcnow())
        if state != LinkState.valid:
            return refused(lang, f"web.link_{state.value}", 410 if state != "unknown" else 404)
        return page("login.html", lang, token=token)

    async def login(request: Request) -> Response:
        token = request.path_params["token"]
        lang = lang_of(request)
        try:
            await read_form(request, config)
        except BodyRefused as exc:
            return Response(status_code=exc.status)
        state, session_token = await asyncio.to_thread(store.redeem, env.engine, token,
                                                       env.utcnow())
        if session_token is None:
            return refused(lang, f"web.link_{state.value}", 410 if state != "unknown" else 404)
        response = RedirectResponse("/form", status_code=303)
        set_cookie(response, session_token)
        return response

    async def miniapp(request: Request) -> Response:
        return page("miniapp.html", lang_of(request))

    async def miniapp_session(request: Request) -> Response:
        try:
            fields = await read_form(request, config)
        except BodyRefused as exc:
            return Response(status_code=exc.status)
        init_data = (fields.get("init_data") or [""])[0]
        user = auth.verify_init_data(init_data, config.bot_token or "") \
            if config.bot_token else None
        if user is None:
            return JSONResponse({"ok": False}, status_code=403)
        person = await asyncio.to_thread(store.person_by_telegram, env.engine, user["id"])
        if person is None:
            return JSONResponse({"ok": False}, status_code=403)
        token = await asyncio.to_thread(store.open_session, env.engine, person.id, "miniapp",
                                        env.utcnow())
        response = JSONResponse({"ok": True, "next": "/form"})
        set_cookie(response, token, framed=True)
        return response

    async def logout(request: Request) -> Response:
        person, token = await signed_in(request)
        try:
            fields = await read_form(request, config)
        except BodyRefused as exc:
            return Response(status_code=exc.status)
        if token is None or not auth.csrf_ok(token, (fields.get("csrf") or [""])[0]):
            return refused(lang_of(request, person), "web.refused", 403)
        await asyncio.to_thread(store.sign_out, env.engine, token, env.utcnow())
        response = page("message.html", person.language, title=msg("web.title"),
                        text=msg("web.signed_out"))
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---------------------------------------------------------------- the form

    async def form_index(request: Request) -> Response:
        person, _ = await signed_in(request)
        if person is None:
            return refused(lang_of(request), "web.sign_in_first", 401)
        units = await asyncio.to_thread(store.units_of, env.engine, person.id)
        if len(units) == 1:
            return RedirectResponse(f"/form/{units[0][0]}", status_code=303)
        return page("units.html", person.language, units=units, person=person)

    def _unit_id(request: Request) -> int | None:
        raw = request.path_params["unit"]
        return int(raw) if raw.isdigit() and len(raw) < 10 else None

    def view_rows(view: store.FormView, lang: str) -> list[dict[str, Any]]:
        rows = []
        for row in view.rows:
            item = row.item
            last = None
            if item.last is not None and form_flow.typed_of(item, item.last) and \
                    (item.kind != "rate" or (item.last.numerator is not None
                                             and item.last.denominator is not None)):
                last = render(value_text(item, item.last, with_target=False), lang)
            rows.append({"row": row, "item": item, "last": last,
                         "fields": form_flow.fields_of(item)})
        return rows

    async def show_form(request: Request, person: Any, token: str, unit_id: int,
                        typed: dict[str, dict[str, str]] | None = None,
                        saved: store.Saved | None = None, status: int = 200,
                        notice: Msg | None = None) -> Response:
        lang = person.language
        try:
            view = await asyncio.to_thread(store.form_view, env.engine, person.id, unit_id,
                                           lang, today=env.today(), tz=env.tz)
        except store.NotAllowed:
            return refused(lang, "web.not_your_unit", 403)
        if saved is not None:
            for row in view.rows:
                entry = saved.entries.get(row.item.code)
                if entry is not None and not entry.ok:
                    row.problems = dict(entry.problems or {})
                    row.confirm = dict(entry.confirm or {})
                    row.typed = (typed or {}).get(row.item.code, row.typed)
        return page("form.html", lang, status, view=view, rows=view_rows(view, lang),
                    csrf=auth.csrf_token(token), person=person, notice=notice,
                    saved=saved)

    async def form_get(request: Request) -> Response:
        person, token = await signed_in(request)
        if person is None or token is None:
            return refused(lang_of(request), "web.sign_in_first", 401)
        unit_id = _unit_id(request)
        if unit_id is None:
            return refused(person.language, "web.not_your_unit", 403)
        notice = msg("web.sent") if request.query_params.get("sent") else None
        return await show_form(request, person, token, unit_id, notice=notice)

    def parse_fields(fields: dict[str, list[str]]) -> tuple[dict[str, dict[str, str]],
                                                             dict[str, frozenset[str]]]:
        typed: dict[str, dict[str, str]] = {}
        confirmed: dict[str, set[str]] = {}
        for name, values in fields.items():
            kind, _, rest = name.partition(":")
            code, _, field = rest.rpartition(":")
            if not code or field not in ("den", "num", "value", "note"):
                continue
            if kind == "v":
                typed.setdefault(code, {})[field] = values[-1][:600]
            elif kind == "ok" and values[-1]:
                confirmed.setdefault(code, set()).add(field)
        return typed, {k: frozenset(v) for k, v in confirmed.items()}

    async def checked_post(request: Request) -> tuple[Any, str | None, Any, Response | None]:
        """The signed-in person, their token and the form's fields, or the refusal."""
        person, token = await signed_in(request)
        try:
            fields = await read_form(request, config)
        except BodyRefused as exc:
            return None, None, None, Response(status_code=exc.status)
        if person is None or token is None:
            return None, None, None, refused(lang_of(request), "web.sign_in_first", 401)
        if not auth.csrf_ok(token, (fields.get("csrf") or [""])[0]):
            return None, None, None, refused(person.language, "web.refused", 403)
        return person, token, fields, None

    async def form_post(request: Request) -> Response:
        person, token, fields, refusal = await checked_post(request)
        if refusal is not None:
            return refusal
        unit_id = _unit_id(request)
        if unit_id is None:
            return refused(person.language, "web.not_your_unit", 403)
        typed, confirmed = parse_fields(fields)
        send = (fields.get("action") or [""])[0] == "send"
        try:
            saved = await asyncio.to_thread(
                partial(store.save, env.engine, person.id, unit_id, person.language, typed,
                        confirmed, today=env.today(), tz=env.tz, now=env.utcnow(), send=send))
        except store.NotAllowed:
            return refused(person.language, "web.not_your_unit", 403)
        metrics.web_saves.labels("form").inc()
        if saved.locked is not None:
            return page("message.html", person.language, 409, title=msg("web.title"),
                        text=saved.locked)
        if all(e.ok for e in saved.entries.values()):
            return RedirectResponse(f"/form/{unit_id}" + ("?sent=1" if saved.sent else ""),
                                    status_code=303)
        return await show_form(request, person, token, unit_id, typed, saved, status=200,
                               notice=msg("web.check_fields"))

    async def field_post(request: Request) -> Response:
        person, _, fields, refusal = await checked_post(request)
        if refusal is not None:
            return JSONResponse({"status": "refused"}, status_code=refusal.status_code)
        unit_id = _unit_id(request)
        typed, confirmed = parse_fields(fields)
        if unit_id is None or len(typed) != 1:
            return JSONResponse({"status": "refused"}, status_code=400)
        try:
            saved = await asyncio.to_thread(
                partial(store.save, env.engine, person.id, unit_id, person.language, typed,
                        confirmed, today=env.today(), tz=env.tz, now=env.utcnow()))
        except store.NotAllowed:
            return JSONResponse({"status": "refused"}, status_code=403)
        lang = person.language
        if saved.locked is not None:
            return JSONResponse({"status": "locked", "message": render(saved.locked, lang)},
                                status_code=409)
        code = next(iter(typed))
        entry = saved.entries.get(code)
        if entry is None:
            return JSONResponse({"status": "refused"}, status_code=400)
        metrics.web_saves.labels("field").inc()
        if entry.problems:
            return JSONResponse({"status": "problem", "messages": {
                k: render(v, lang) for k, v in entry.problems.items()}})
        if entry.confirm:
            return JSONResponse({"status": "confirm", "messages": {
                k: render(v, lang) for k, v in entry.confirm.items()},
                "label": render(msg("web.confirm_box"), lang)})
        return JSONResponse({"status": "saved", "message": render(msg("web.saved"), lang)})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_page),
        Route("/login/{token}", login_page, methods=["GET"]),
        Route("/login/{token}", login, methods=["POST"]),
        Route("/app", miniapp, methods=["GET"]),
        Route("/app/session", miniapp_session, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/form", form_index, methods=["GET"]),
        Route("/form/{unit}", form_get, methods=["GET"]),
        Route("/form/{unit}", form_post, methods=["POST"]),
        Route("/form/{unit}/field", field_post, methods=["POST"]),
    ]
    if application is not None and config.webhook_path:
        path = "/" + config.webhook_path.strip("/")
        routes.insert(0, Route(path, telegram_webhook, methods=["POST"]))
    app = Starlette(routes=[*routes, *extra_routes],
                    middleware=[Middleware(GZipMiddleware, minimum_size=1000)])
    app.state.env, app.state.config, app.state.metrics = env, config, metrics
    return app


def zalo_webhook_route(handle: Any, config: WebConfig,
                       path: str = ZALO_WEBHOOK_PATH) -> Route:
    """Zalo's webhook as a route of this app: ``handle(headers, receive_body) -> status``
    (``bot.zalo.webhook_handler``) checks the secret header first; the body is read with the
    same bound as every other body."""

    async def zalo_webhook(request: Request) -> Response:
        async def body() -> bytes:
            return await read_body(request, config.max_body, config.body_seconds)

        try:
            status = await handle(request.headers, body)
        except BodyRefused as exc:
            status = exc.status
        return Response(status_code=status)

    return Route(path, zalo_webhook, methods=["POST"])


def webhook_path(url: str) -> str:
    """The path part of the public webhook URL."""
    return urlsplit(url).path or "/"
