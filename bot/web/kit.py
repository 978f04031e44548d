"""What every page of the web face shares: its settings, bounded bodies, templates, the
signed-in person, refusals and checked POSTs (CSRF).

``WebKit`` is made once per app by ``bot.web.app.build_web_app`` and handed to each family of
routes (``bot.web.officer``, ``bot.web.admin``), so they all sign in, render and refuse alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response

from bot.context import Env
from bot.i18n import pick_language, render
from bot.web import auth
from bot.web import forms as store
from bot.web.metrics import Metrics
from flows.effects import Msg, msg

COOKIE = "ctv_session"
MAX_BODY = 1_000_000  # a Telegram update is a few KB; the form a few KB too
BODY_SECONDS = 10.0  # the whole body within this time, or 408
TEMPLATES = Path(__file__).parent / "templates"
Handler = Callable[[Request], Awaitable[Response]]


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


def _templates() -> Any:
    """The pages' templates. jinja2 is imported here, when the first page is shown: a bot
    whose web pages nobody opens does not hold it (about 4 MiB)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                       trim_blocks=True, lstrip_blocks=True)



class WebKit:
    """The shared helpers of one web app (one Env, one config)."""

    def __init__(self, env: Env, config: WebConfig, metrics: Metrics) -> None:
        self.env, self.config, self.metrics = env, config, metrics
        self._jinja: Any = None  # built by the first page shown
        # the reminder sender of the bot running in this process (bot.reminders.Reminders),
        # for an officer's nudges from a page; None when no bot runs here
        self.reminders: Callable[[], Any] = lambda: None

    def page(self, name: str, lang: str, status: int = 200, **params: Any) -> HTMLResponse:
        """A template rendered in ``lang``: ``t(key, **kw)`` and ``r(msg)`` translate."""

        def t(key: str, **kw: Any) -> str:
            return render(msg(key, **kw), lang)

        def r(m: Msg | None) -> str:
            return render(m, lang) if m is not None else ""

        if self._jinja is None:
            self._jinja = _templates()
        html = self._jinja.get_template(name).render(t=t, r=r, lang=lang, **params)
        return HTMLResponse(html, status_code=status,
                            headers={"Cache-Control": "no-store",
                                     "Content-Security-Policy":
                                         "frame-ancestors 'self' https://web.telegram.org",
                                     "Referrer-Policy": "no-referrer"})

    def lang_of(self, request: Request, person: Any = None) -> str:
        """The person's language, else the browser's."""
        if person is not None:
            return person.language
        return pick_language(request.headers.get("accept-language", "vi")[:2])

    async def signed_in(self, request: Request) -> tuple[Any, str | None]:
        """The signed-in person and their session token, or (None, None)."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None, None
        person = await asyncio.to_thread(store.person_of, self.env.engine, token,
                                         self.env.utcnow())
        return person, token if person is not None else None

    def set_cookie(self, response: Response, token: str, *, framed: bool = False) -> None:
        """The session cookie: HttpOnly, SameSite=Lax (None in Telegram's frame), Secure over
        HTTPS."""
        # a Mini App may run in a frame of web.telegram.org: its cookie must cross sites
        # there (SameSite=None needs Secure); every POST still needs its CSRF token
        response.set_cookie(COOKIE, token, max_age=30 * 24 * 3600, httponly=True,
                            samesite="none" if framed and self.config.secure else "lax",
                            secure=self.config.secure, path="/")

    def refused(self, lang: str, key: str, status: int) -> HTMLResponse:
        """A page saying why not."""
        return self.page("message.html", lang, status, title=msg("web.title"), text=msg(key))

    def attachment(self, body: bytes, media_type: str, name: str) -> Response:
        """A file to download (never cached)."""
        return Response(body, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    async def person(self, request: Request) -> tuple[Any, str | None, Response | None]:
        """The signed-in person and their token, or the refusal (401 not signed in)."""
        person, token = await self.signed_in(request)
        if person is None or token is None:
            return None, None, self.refused(self.lang_of(request), "web.sign_in_first", 401)
        return person, token, None

    async def commune_of(self, request: Request, person: Any) -> Any:
        """The commune of the ``{commune}`` path parameter when the person is its officer or
        admin (as in the chat), else None."""
        raw = str(request.path_params.get("commune", ""))
        if not (raw.isdigit() and len(raw) < 10):
            return None
        return await asyncio.to_thread(store.officer_commune, self.env.engine, person.id,
                                       int(raw))

    async def checked_post(self, request: Request) -> tuple[Any, str | None, Any,
                                                            Response | None]:
        """The signed-in person, their token and the form's fields, or the refusal (no
        session, a bad CSRF token, a body too big or too slow)."""
        person, token = await self.signed_in(request)
        try:
            fields = await read_form(request, self.config)
        except BodyRefused as exc:
            return None, None, None, Response(status_code=exc.status)
        if person is None or token is None:
            return None, None, None, self.refused(self.lang_of(request), "web.sign_in_first",
                                                  401)
        if not auth.csrf_ok(token, (fields.get("csrf") or [""])[0]):
            return None, None, None, self.refused(person.language, "web.refused", 403)
        return person, token, fields, None

    async def officer_commune(self, request: Request) -> tuple[Any, str | None, Any,
                                                               Response | None]:
        """For a GET of an officer's page: the signed-in person, their token and the commune
        of the ``{commune}`` path parameter when they are its officer or admin (as in the
        chat); else the refusal page (401 not signed in, 403 not theirs)."""
        person, token, refusal = await self.person(request)
        if refusal is not None:
            return None, None, None, refusal
        commune = await self.commune_of(request, person)
        if commune is None:
            return None, None, None, self.refused(person.language, "web.not_your_commune", 403)
        return person, token, commune, None

    async def officer_post(self, request: Request) -> tuple[Any, str | None, Any, Any,
                                                            Response | None]:
        """For a POST to an officer's page: the person, their token, the form's fields and
        the commune, or the refusal (as ``checked_post``, then 403 not theirs)."""
        person, token, fields, refusal = await self.checked_post(request)
        if refusal is not None:
            return None, None, None, None, refusal
        commune = await self.commune_of(request, person)
        if commune is None:
            return None, None, None, None, self.refused(person.language,
                                                        "web.not_your_commune", 403)
        return person, token, fields, commune, None

    # the handlers of an officer's pages: each is its step only, the kit signs the person
    # in, finds the commune and refuses

    def signed(self, step: Callable[..., Awaitable[Response]]) -> Handler:
        """A page for any signed-in person: ``step(request, person, token)``."""
        async def handler(request: Request) -> Response:
            person, token, refusal = await self.person(request)
            if refusal is not None:
                return refusal
            return await step(request, person, token)
        return handler

    def officer_get(self, step: Callable[..., Awaitable[Response]]) -> Handler:
        """A GET of a commune's page by its officer: ``step(request, person, token,
        commune)``."""
        async def handler(request: Request) -> Response:
            person, token, commune, refusal = await self.officer_commune(request)
            if refusal is not None:
                return refusal
            return await step(request, person, token, commune)
        return handler

    def officer_form(self, step: Callable[..., Awaitable[Response]]) -> Handler:
        """A checked POST (session, CSRF) to a commune's page by its officer:
        ``step(request, person, token, fields, commune)``."""
        async def handler(request: Request) -> Response:
            person, token, fields, commune, refusal = await self.officer_post(request)
            if refusal is not None:
                return refusal
            return await step(request, person, token, fields, commune)
        return handler
