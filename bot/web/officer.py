"""The officer's page: completeness, Nhắc, the report and its files, the round, upper levels.

Who may open what follows the chat: a commune's officers and admins its pages; an upper
level's officers (district, city, province) its communes side by side and its roll-up.
Everything else is refused (401 not signed in, 403 not theirs); every POST checks CSRF.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web import auth
from bot.web import officer_store as data
from bot.web.kit import WebKit
from flows.effects import Reply, msg

FILES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
}


def _int(raw: Any) -> int | None:
    raw = str(raw or "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def routes(kit: WebKit) -> list[BaseRoute]:
    """The routes of these pages."""
    env = kit.env

    def reminders() -> Any:
        """The reminder sender of this process (None when no bot runs here)."""
        return kit.reminders()

    def one_each(fields: dict[str, list[str]]) -> dict[str, str]:
        """The form's fields, one value each (the last), at most 600 characters."""
        return {k: v[-1][:600] for k, v in fields.items()}

    # ---------------------------------------------------------------- home

    @kit.signed
    async def home(request: Request, person: Any, token: str) -> Response:
        mine = await asyncio.to_thread(data.home, env.engine, person.id)
        if not mine.communes and not mine.uppers:
            return kit.refused(person.language, "web.o.officers_only", 403)
        if len(mine.communes) == 1 and not mine.uppers:
            return RedirectResponse(f"/o/{mine.communes[0].id}", status_code=303)
        areas = []
        for upper in mine.uppers:
            lines = await asyncio.to_thread(data.area, env.engine, upper.id, person.language,
                                            today=env.today(), tz=env.tz)
            areas.append((upper, lines))
        return kit.page("officer_home.html", person.language, communes=mine.communes,
                        areas=areas, csrf=auth.csrf_token(token))

    # ---------------------------------------------------------------- progress

    async def show_progress(request: Request, person: Any, token: str, commune: Any,
                            notices: list[Reply] | None = None) -> Response:
        lang = person.language
        view = await asyncio.to_thread(data.progress, env.engine, commune.id, lang,
                                       today=env.today(), tz=env.tz)
        return kit.page("officer_progress.html", lang, commune=commune, nav="progress",
                        p=view, drafts=data.drafts(view), csrf=auth.csrf_token(token),
                        notices=notices or [], tz=env.tz)

    @kit.officer_get
    async def progress(request: Request, person: Any, token: str, commune: Any) -> Response:
        return await show_progress(request, person, token, commune)

    @kit.officer_form
    async def remind(request: Request, person: Any, token: str, fields: Any,
                     commune: Any) -> Response:
        unit_id = _int(one_each(fields).get("unit"))
        replies, deliveries = await asyncio.to_thread(data.nudge, env.engine, env, person.id,
                                                      commune.id, unit_id)
        if deliveries:
            sender = reminders()
            if sender is None:
                replies = [Reply((msg("web.o.no_sender"),))]
            else:
                sender.spawn(sender.deliver(deliveries), "reminders:web")
        return await show_progress(request, person, token, commune, replies)

    # ---------------------------------------------------------------- the report

    def year_of(request: Request) -> int | None:
        return _int(request.query_params.get("year"))

    @kit.officer_get
    async def report_page(request: Request, person: Any, token: str, commune: Any) -> Response:
        rep, years, _ = await asyncio.to_thread(partial(
            data.report, env.engine, commune.id, year_of(request), tz=env.tz))
        return kit.page("officer_report.html", person.language, commune=commune,
                        nav="report", rep=rep, years=years, base=f"/o/{commune.id}/report",
                        **_report_params(rep, person.language, env.tz))

    @kit.officer_get
    async def report_file(request: Request, person: Any, token: str, commune: Any) -> Response:
        return await _file(request, person, commune.id, rollup=False)

    async def _file(request: Request, person: Any, unit_id: int, *, rollup: bool) -> Response:
        fmt = str(request.path_params.get("fmt", ""))
        if fmt not in FILES:
            return Response(status_code=404)
        lang = person.language
        rep, _, raw = await asyncio.to_thread(partial(
            data.report, env.engine, unit_id, year_of(request), tz=env.tz, rollup=rollup,
            raw=fmt == "xlsx"))
        if rep is None:
            return kit.refused(lang, "web.o.no_report", 404)
        from bot import documents  # the document writers, with the first file asked for

        tz = env.tz
        if fmt == "docx":
            make = partial(documents.report_docx, rep, include_sensitive=True, tz=tz, lang=lang)
        elif fmt == "xlsx":
            make = partial(documents.report_xlsx, rep, raw, tz=tz, lang=lang)
        else:
            make = partial(documents.report_png, rep, lang=lang)
        body = await asyncio.to_thread(make)
        return kit.attachment(body, FILES[fmt],
                              f"bao-cao-{rep.commune.code.replace('/', '-')}-{rep.year}.{fmt}")

    # ---------------------------------------------------------------- the round

    async def show_round(request: Request, person: Any, token: str, commune: Any,
                         notices: list[Reply] | None = None, confirm: str | None = None,
                         typed: dict[str, str] | None = None, status: int = 200) -> Response:
        page = await asyncio.to_thread(partial(data.round_page, env.engine, commune.id,
                                               tz=env.tz))
        return kit.page("officer_round.html", person.language, status, commune=commune,
                        nav="round", rp=page, csrf=auth.csrf_token(token),
                        notices=notices or [], confirm=confirm, typed=typed or {},
                        tz=env.tz)

    @kit.officer_get
    async def round_get(request: Request, person: Any, token: str, commune: Any) -> Response:
        confirm = request.query_params.get("confirm")
        return await show_round(request, person, token, commune,
                                confirm=confirm if confirm in ("close", "reopen") else None)

    @kit.officer_form
    async def round_post(request: Request, person: Any, token: str, fields: Any,
                         commune: Any) -> Response:
        fields = one_each(fields)
        action = fields.get("action", "")
        if action not in ("deadline", "close", "reopen"):
            return kit.refused(person.language, "web.refused", 400)
        if action in ("close", "reopen") and fields.get("confirmed") != "1":
            # the first press asks to confirm, with the reason
            return await show_round(request, person, token, commune, confirm=action)
        replies, changed = await asyncio.to_thread(data.change_round, env.engine, env,
                                                   person.id, commune.id, action, fields)
        if changed and reminders() is not None:
            await reminders().rebuild()
        return await show_round(request, person, token, commune, replies,
                                confirm=None if changed or action == "deadline" else action,
                                typed=fields if not changed else None)

    # ---------------------------------------------------------------- upper levels

    def upper_get(step: Any) -> Any:
        """A GET of an upper level's page by its officer: ``step(request, person, unit)``."""
        @kit.signed
        async def handler(request: Request, person: Any, token: str) -> Response:
            unit_id = _int(request.path_params.get("unit"))
            unit = None
            if unit_id is not None:
                unit = await asyncio.to_thread(data.upper_unit, env.engine, person.id, unit_id)
            if unit is None:
                return kit.refused(person.language, "web.not_your_commune", 403)
            return await step(request, person, unit)
        return handler

    @upper_get
    async def area(request: Request, person: Any, unit: Any) -> Response:
        lines = await asyncio.to_thread(data.area, env.engine, unit.id, person.language,
                                        today=env.today(), tz=env.tz)
        return kit.page("officer_area.html", person.language, unit=unit, lines=lines)

    @upper_get
    async def area_report(request: Request, person: Any, unit: Any) -> Response:
        rep, years, _ = await asyncio.to_thread(partial(
            data.report, env.engine, unit.id, year_of(request), tz=env.tz, rollup=True))
        return kit.page("officer_area_report.html", person.language, unit=unit, rep=rep,
                        years=years, base=f"/o/area/{unit.id}/report",
                        **_report_params(rep, person.language, env.tz))

    @upper_get
    async def area_file(request: Request, person: Any, unit: Any) -> Response:
        return await _file(request, person, unit.id, rollup=True)

    return [
        Route("/o", home, methods=["GET"]),
        Route("/o/area/{unit}", area, methods=["GET"]),
        Route("/o/area/{unit}/report", area_report, methods=["GET"]),
        Route("/o/area/{unit}/report.{fmt}", area_file, methods=["GET"]),
        Route("/o/{commune}", progress, methods=["GET"]),
        Route("/o/{commune}/remind", remind, methods=["POST"]),
        Route("/o/{commune}/report", report_page, methods=["GET"]),
        Route("/o/{commune}/report.{fmt}", report_file, methods=["GET"]),
        Route("/o/{commune}/round", round_get, methods=["GET"]),
        Route("/o/{commune}/round", round_post, methods=["POST"]),
    ]


def _report_params(rep: Any, lang: str, tz: Any) -> dict[str, Any]:
    """The report's table as the documents write it (the same figures, the same words)."""
    if rep is None:
        return {"rows": [], "units": []}
    from bot import documents  # with the first report page

    rows = [{"code": r.code, "name": r.name_en if lang == "en" else r.name_vi,
             "target": documents.fmt_target_cell(r, lang, sep=" · "),
             "value": documents.fmt_value(r, lang=lang),
             "verdict": documents.fmt_verdict(r, lang), "key": r.verdict or "none",
             "reported": r.units_reported, "expected": r.units_expected,
             "notes": documents.notes_for(r, lang)} for r in rep.rows]
    units = []
    for u in rep.units:
        values = [(r.code, r.name_en if lang == "en" else r.name_vi,
                   documents.unit_value_text(r, u.values.get(r.code), lang))
                  for r in rep.rows if r.code in u.expected or r.code in u.values]
        units.append({"name": u.name, "status": documents.unit_status(u, tz, lang),
                      "cells": values, "submitted": u.submitted,
                      "count": f"{u.units_submitted}/{u.units_expected}"
                      if rep.rollup else None})
    return {"rows": rows, "units": units}
