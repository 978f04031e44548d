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
from bot.web import forms as store
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

    async def post_commune(request: Request) -> tuple[Any, Any, Any, Response | None]:
        """A POST to a commune's page: the person, the form's fields (one value each) and
        the commune, or the refusal."""
        person, _, fields, refusal = await kit.checked_post(request)
        if refusal is not None:
            return None, None, None, refusal
        commune_id = _int(request.path_params.get("commune"))
        commune = None
        if commune_id is not None:
            commune = await asyncio.to_thread(store.officer_commune, env.engine, person.id,
                                              commune_id)
        if commune is None:
            return None, None, None, kit.refused(person.language, "web.not_your_commune", 403)
        return person, {k: v[-1][:600] for k, v in fields.items()}, commune, None

    # ---------------------------------------------------------------- home

    async def home(request: Request) -> Response:
        person, token = await kit.signed_in(request)
        if person is None or token is None:
            return kit.refused(kit.lang_of(request), "web.sign_in_first", 401)
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

    async def progress(request: Request) -> Response:
        person, token, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        return await show_progress(request, person, token, commune)

    async def remind(request: Request) -> Response:
        person, fields, commune, refusal = await post_commune(request)
        if refusal is not None:
            return refusal
        unit_id = _int(fields.get("unit"))
        replies, deliveries = await asyncio.to_thread(data.nudge, env.engine, env, person.id,
                                                      commune.id, unit_id)
        if deliveries:
            sender = reminders()
            if sender is None:
                replies = [Reply((msg("web.o.no_sender"),))]
            else:
                sender.spawn(sender.deliver(deliveries), "reminders:web")
        _, token = await kit.signed_in(request)
        return await show_progress(request, person, token, commune, replies)

    # ---------------------------------------------------------------- the report

    def year_of(request: Request) -> int | None:
        return _int(request.query_params.get("year"))

    async def report_page(request: Request) -> Response:
        person, _, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        rep, years, _ = await asyncio.to_thread(partial(
            data.report, env.engine, commune.id, year_of(request), tz=env.tz))
        return kit.page("officer_report.html", person.language, commune=commune,
                        nav="report", rep=rep, years=years, base=f"/o/{commune.id}/report",
                        **_report_params(rep, person.language, env.tz))

    async def report_file(request: Request) -> Response:
        person, _, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
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
        name = f"bao-cao-{rep.commune.code.replace('/', '-')}-{rep.year}.{fmt}"
        return Response(body, media_type=FILES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

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

    async def round_get(request: Request) -> Response:
        person, token, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        confirm = request.query_params.get("confirm")
        return await show_round(request, person, token, commune,
                                confirm=confirm if confirm in ("close", "reopen") else None)

    async def round_post(request: Request) -> Response:
        person, fields, commune, refusal = await post_commune(request)
        if refusal is not None:
            return refusal
        action = fields.get("action", "")
        if action not in ("deadline", "close", "reopen"):
            return kit.refused(person.language, "web.refused", 400)
        if action in ("close", "reopen") and fields.get("confirmed") != "1":
            # the first press asks to confirm, with the reason
            _, token = await kit.signed_in(request)
            return await show_round(request, person, token, commune, confirm=action)
        replies, changed = await asyncio.to_thread(data.change_round, env.engine, env,
                                                   person.id, commune.id, action, fields)
        if changed and reminders() is not None:
            await reminders().rebuild()
        _, token = await kit.signed_in(request)
        return await show_round(request, person, token, commune, replies,
                                confirm=None if changed or action == "deadline" else action,
                                typed=fields if not changed else None)

    # ---------------------------------------------------------------- upper levels

    async def area_of(request: Request) -> tuple[Any, Any, Response | None]:
        person, token = await kit.signed_in(request)
        if person is None or token is None:
            return None, None, kit.refused(kit.lang_of(request), "web.sign_in_first", 401)
        unit_id = _int(request.path_params.get("unit"))
        unit = None
        if unit_id is not None:
            unit = await asyncio.to_thread(data.upper_unit, env.engine, person.id, unit_id)
        if unit is None:
            return None, None, kit.refused(person.language, "web.not_your_commune", 403)
        return person, unit, None

    async def area(request: Request) -> Response:
        person, unit, refusal = await area_of(request)
        if refusal is not None:
            return refusal
        lines = await asyncio.to_thread(data.area, env.engine, unit.id, person.language,
                                        today=env.today(), tz=env.tz)
        return kit.page("officer_area.html", person.language, unit=unit, lines=lines)

    async def area_report(request: Request) -> Response:
        person, unit, refusal = await area_of(request)
        if refusal is not None:
            return refusal
        rep, years, _ = await asyncio.to_thread(partial(
            data.report, env.engine, unit.id, year_of(request), tz=env.tz, rollup=True))
        return kit.page("officer_area_report.html", person.language, unit=unit, rep=rep,
                        years=years, base=f"/o/area/{unit.id}/report",
                        **_report_params(rep, person.language, env.tz))

    async def area_file(request: Request) -> Response:
        person, unit, refusal = await area_of(request)
        if refusal is not None:
            return refusal
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
