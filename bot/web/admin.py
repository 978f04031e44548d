"""The officer's administration pages: units, people and invitations, paper reports.

Every route is an officer's (or admin's) of the ``{commune}`` in its path, as in the chat;
every POST carries the session's CSRF token (the paper report's multipart form too). The
work is done by the same core as the command line: ``storage.communes`` (what ``ctvbot
setup`` applies), ``storage.repo.invite_units`` (``ctvbot invitations``),
``storage.web`` (``ctvbot login-link``) and ``storage.importer`` (``ctvbot values import``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.documents import kind_word
from bot.web import auth
from bot.web import forms as store
from bot.web.kit import BodyRefused, WebKit, read_body
from flows.effects import Msg, msg
from storage import repo
from storage import web as web_store
from storage.kinds import ADMIN_KINDS, Role, UnitKind
from storage.models import Unit

# storage.communes (YAML, plan files) and storage.importer (openpyxl) are imported when an
# officer first uses these pages: a worker that never serves them does not load them

PAPER_MAX = 2_000_000  # bytes of an uploaded paper report: a commune's year is a few dozen KB
PREVIEW_ROWS = 300  # rows shown before saving; the rest are checked all the same
NAME_MAX = 100
AGENCY_KINDS = [k.value for k in UnitKind if k not in ADMIN_KINDS]
FALLBACK_BOT = "ctvbot"


def said(change: Any) -> Msg:
    """A setup change (storage.communes.Change) as a catalog message."""
    from storage import communes

    def word(value: Any) -> Any:
        if isinstance(value, list):
            words = [word(v) for v in value]
            if all(isinstance(w, str) for w in words):
                return ", ".join(words)
            out = words[-1]
            for one in reversed(words[:-1]):
                out = Msg("web.admin.comma", {"one": one, "other": out})
            return out
        if isinstance(value, communes.Change):
            return said(value)
        return value

    return Msg(change.key, {k: word(v) for k, v in change.params.items()})


# ------------------------------------------------------------------ the store (sync)


class NameTaken(ValueError):
    """Another unit of the commune has this name."""


@dataclass
class UnitRow:
    """A unit of the commune on the units page."""

    unit: Unit
    kind: str
    short: str
    members: int


def _units(engine: Engine, commune: Unit, lang: str) -> tuple[list[UnitRow], list[UnitRow]]:
    """The commune's units (and those retired), with their members."""
    with Session(engine, expire_on_commit=False) as s:
        assert commune.id is not None
        rows = []
        for u in repo.children(commune.id, session=s, retired=True):
            rows.append(UnitRow(u, kind_word(u.kind, lang), u.code.rsplit("/", 1)[-1],
                                len(web_store.members(u.id, session=s))))
    return ([r for r in rows if r.unit.retired_at is None],
            [r for r in rows if r.unit.retired_at is not None])


def _edit_units(engine: Engine, commune: Unit, action: str, unit_id: int | None,
                name: str, kind: str, tz: tzinfo) -> list[Msg]:
    """Add, rename or retire a unit through the commune file's core; what changed (raises
    FileInvalid, SetupRefused, LookupError)."""
    from storage import communes

    with Session(engine, expire_on_commit=False) as s:
        data = communes.commune_data(commune, session=s)
        lists = [data["hamlets"], data["communes"], data["agencies"]]
        prefix = f"{commune.code}/"
        target = None
        if unit_id is not None:
            unit = s.get(Unit, unit_id)
            if unit is None or unit.parent_id != commune.id:
                raise LookupError(unit_id)
            short = unit.code[len(prefix):] if unit.code.startswith(prefix) else None
            target = next(((lst, u) for lst in lists for u in lst if u["code"] == short), None)
            if target is None:
                raise LookupError(unit_id)
        if action in ("add", "rename"):
            same = [u for lst in lists for u in lst if u["name"].casefold() == name.casefold()
                    and (target is None or u is not target[1])]
            if same:
                raise NameTaken(name)
        if action == "add":
            taken = {u.code[len(prefix):] for u in repo.children(commune.id, session=s,
                                                                 retired=True)}
            code = communes.unit_code_for(name, taken)
            key = "hamlets" if kind == UnitKind.hamlet.value else "agencies"
            data[key].append({"code": code, "name": name, "kind": kind})
        elif action == "rename" and target is not None:
            target[1]["name"] = name
        elif action == "retire" and target is not None:
            target[0].remove(target[1])
        changes = communes.apply_commune_data(data, session=s, tz=tz)
        s.commit()
    return [said(c) for c in changes if not c.note]


def _commune_file(engine: Engine, commune: Unit) -> str:
    from storage import communes

    with Session(engine) as s:
        return communes.commune_yaml(communes.commune_data(commune, session=s))


@dataclass
class PersonRow:
    """A member of a unit on the people page."""

    membership_id: int
    name: str
    role: str
    channel: str
    web_only: bool
    me: bool


def _people(engine: Engine, commune: Unit, me: int) -> list[tuple[Unit, list[PersonRow]]]:
    with Session(engine, expire_on_commit=False) as s:
        assert commune.id is not None
        out = []
        for u in [commune, *repo.children(commune.id, session=s)]:
            rows = []
            for m, p in web_store.members(u.id, session=s):
                web_only = p.telegram_id is None and p.zalo_id is None
                channel = "web" if web_only else ("zalo" if p.channel == "zalo" else "telegram")
                assert m.id is not None
                rows.append(PersonRow(m.id, p.name, m.role, channel, web_only, p.id == me))
            out.append((u, rows))
    return out


def _remove(engine: Engine, commune: Unit, membership_id: int, me: int, now: Any) -> bool:
    with Session(engine) as s:
        assert commune.id is not None
        ids = {commune.id, *(u.id for u in repo.children(commune.id, session=s)
                             if u.id is not None)}
        own = {m.id for m, p in web_store.members(commune.id, session=s) if p.id == me}
        if membership_id in own:  # an officer does not lock themselves out
            return False
        done = web_store.remove_member(membership_id, ids, session=s, now=now) is not None
        s.commit()
    return done


def _reporter_link(engine: Engine, commune: Unit, unit_id: int, name: str,
                   now: Any) -> tuple[str, str, bool, int] | None:
    """A web-only reporter's new link token (and their name, created?, revoked)."""
    with Session(engine) as s:
        unit = s.get(Unit, unit_id)
        if unit is None or unit.parent_id != commune.id or unit.retired_at is not None:
            return None
        role = repo.default_role(unit)
        if role not in (Role.collaborator, Role.agency):
            return None
        person, created, revoked, token = web_store.issue_web_link(unit, name, role,
                                                                   session=s, now=now)
        who = person.name
        s.commit()
    return token, who, created, revoked


@dataclass
class Invite:
    """One invitation of the printed sheet."""

    unit: str
    kind: str
    role: str
    code: str
    link: str
    expires: str
    qr: str


def _invitations(engine: Engine, commune: Unit, me: int, days: int, username: str,
                 lang: str) -> tuple[list[Invite], int]:
    from bot.i18n import text_of

    with Session(engine) as s:
        c = s.get(Unit, commune.id)
        assert c is not None
        made, revoked = repo.invite_units(c, days=days, created_by=me, session=s,
                                          officers=False)
        out = []
        for u, inv, code in made:
            link = repo.invitation_link(code, username)
            out.append(Invite(u.name, kind_word(u.kind, lang),
                              text_of(f"role.{inv.role}", lang), code, link,
                              inv.expires_at.strftime("%d/%m/%Y"), qr_svg(link)))
        s.commit()
    return out, revoked


def qr_svg(link: str) -> str:
    """The QR code of a link as inline SVG (black modules, no XML declaration)."""
    import segno

    return segno.make(link, error="m").svg_inline(scale=3, border=2, omitsize=True)


def _paper(engine: Engine, commune: Unit, me: int, path: Path, save: bool, today: Any,
           tz: Any) -> Any:
    """Check (and with ``save``, save) a paper report: the ImportResult, or ImportFailed
    raised; nothing is written unless ``save`` and every row is right."""
    from storage.importer import import_values

    with Session(engine) as s:
        result = import_values(path, session=s, person_id=me, today=today, tz=tz,
                               commune_id=commune.id, source="officer", skip_blank=True)
        if save:
            s.commit()
        else:
            s.rollback()
    return result


HINTS = {"rate": "web.admin.hint.rate", "share_units": "web.admin.hint.yes_no",
         "yes_no": "web.admin.hint.yes_no", "task": "web.admin.hint.task"}


def _template(engine: Engine, commune: Unit, lang: str) -> bytes:
    """The commune's paper-report file: a line per unit and indicator of its latest round,
    the figures already there filled in; the columns ``values import`` reads, then the
    unit's and indicator's names and how to fill it (columns the import ignores)."""
    import io

    from openpyxl import Workbook

    from bot.cells import append_row
    from bot.i18n import text_of
    from storage.importer import RAW_SHEET, REQUIRED, template_rows

    with Session(engine) as s:
        c = s.get(Unit, commune.id)
        assert c is not None
        rows = template_rows(c, session=s, lang=lang)
    wb = Workbook()
    ws = wb.active
    ws.title = RAW_SHEET
    append_row(ws, [*REQUIRED, "text", text_of("web.admin.col.unit_name", lang),
                    text_of("web.admin.col.indicator_name", lang),
                    text_of("web.admin.col.how", lang)])
    for r in rows:
        append_row(ws, [r.year, r.unit, r.indicator, r.numerator, r.denominator, r.value,
                        None, r.unit_name, r.indicator_name,
                        text_of(HINTS.get(r.kind, "web.admin.hint.count"), lang)])
    for col, width in zip("ABCDEFGHIJ", (6, 28, 10, 11, 12, 10, 16, 24, 50, 30),
                          strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _preview_rows(path: Path) -> list[tuple[int, list[str]]]:
    from storage.importer import ImportFailed, read_table

    cols = ("year", "unit", "indicator", "numerator", "denominator", "value")
    out = []
    try:
        for line, row in read_table(path):
            if "__header__" in row or all(
                    row.get(k) is None or not str(row.get(k)).strip()
                    for k in ("numerator", "denominator", "value", "text")):
                continue  # the header, and the blank form's empty lines (not saved)
            out.append((line, ["" if row.get(c) is None else str(row.get(c))[:40]
                               for c in cols]))
            if len(out) >= PREVIEW_ROWS:
                break
    except ImportFailed:
        return out
    return out


# ------------------------------------------------------------------ the routes


def routes(kit: WebKit) -> list[BaseRoute]:
    """The routes of these pages."""
    env = kit.env

    async def officer_post(request: Request) -> tuple[Any, str | None, Any, Any,
                                                      Response | None]:
        """A checked POST (session, CSRF) by an officer of the path's commune."""
        person, token, fields, refusal = await kit.checked_post(request)
        if refusal is not None:
            return None, None, None, None, refusal
        commune = await _commune_of(request, person)
        if commune is None:
            return None, None, None, None, kit.refused(person.language,
                                                       "web.not_your_commune", 403)
        return person, token, fields, commune, None

    async def _commune_of(request: Request, person: Any) -> Unit | None:
        raw = str(request.path_params.get("commune", ""))
        if not (raw.isdigit() and len(raw) < 10):
            return None
        return await asyncio.to_thread(store.officer_commune, env.engine, person.id, int(raw))

    def one(fields: dict[str, list[str]], key: str) -> str:
        return " ".join((fields.get(key) or [""])[0].split())

    def path_int(request: Request, key: str) -> int | None:
        raw = str(request.path_params.get(key, ""))
        return int(raw) if raw.isdigit() and len(raw) < 10 else None

    # ---------------------------------------------------------------- units

    async def units_page(request: Request, person: Any, token: str, commune: Unit,
                         notices: list[Msg] | None = None, problems: list[str] | None = None,
                         status: int = 200) -> Response:
        lang = person.language
        active, retired = await asyncio.to_thread(_units, env.engine, commune, lang)
        kinds = [(UnitKind.hamlet.value, kind_word(UnitKind.hamlet.value, lang))] + \
            [(k, kind_word(k, lang)) for k in AGENCY_KINDS]
        return kit.page("officer_units.html", lang, status, commune=commune, nav="units",
                        units=active, retired=retired, kinds=kinds,
                        csrf=auth.csrf_token(token), notices=notices or [],
                        problems=problems or [])

    async def units_get(request: Request) -> Response:
        person, token, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        return await units_page(request, person, token, commune)

    async def commune_file(request: Request) -> Response:
        from storage import communes

        person, _, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        try:
            text = await asyncio.to_thread(_commune_file, env.engine, commune)
        except communes.NoRound:
            return kit.refused(person.language, "web.admin.no_round", 409)
        name = commune.code.replace("/", "-") + ".yaml"
        return Response(text.encode("utf-8"), media_type="application/yaml; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    def units_action(action: str) -> Any:
        async def handler(request: Request) -> Response:
            from storage import communes
            from storage.yamlfiles import FileInvalid

            person, token, fields, commune, refusal = await officer_post(request)
            if refusal is not None:
                return refusal
            lang = person.language
            unit_id = path_int(request, "unit") if action != "add" else None
            name = one(fields, "name")
            kind = one(fields, "kind") or UnitKind.hamlet.value
            if action != "add" and unit_id is None:
                return kit.refused(lang, "web.not_your_commune", 403)
            if action in ("add", "rename") and not 0 < len(name) <= NAME_MAX:
                return await units_page(request, person, token, commune,
                                        [msg("web.admin.name_length", most=NAME_MAX)],
                                        status=400)
            if action == "add" and kind not in (UnitKind.hamlet.value, *AGENCY_KINDS):
                return await units_page(request, person, token, commune,
                                        [msg("web.admin.bad_kind")], status=400)
            try:
                changes = await asyncio.to_thread(_edit_units, env.engine, commune, action,
                                                  unit_id, name, kind, env.tz)
            except communes.NoRound:
                return kit.refused(lang, "web.admin.no_round", 409)
            except NameTaken:
                return await units_page(request, person, token, commune,
                                        [msg("web.admin.name_taken", name=name)], status=400)
            except LookupError:  # not a unit of this commune, or retired already
                return kit.refused(lang, "web.admin.unknown_unit", 404)
            except FileInvalid as exc:
                return await units_page(request, person, token, commune,
                                        [msg("web.admin.refused")],
                                        [p.message for p in exc.problems], status=400)
            except communes.SetupRefused as exc:
                return await units_page(request, person, token, commune,
                                        [msg("web.admin.refused"),
                                         *(said(p) for p in exc.problems)], status=400)
            return await units_page(request, person, token, commune,
                                    changes or [msg("web.admin.unchanged")])

        return handler

    # ---------------------------------------------------------------- people

    async def people_page(request: Request, person: Any, token: str, commune: Unit,
                          notices: list[Msg] | None = None, link: str | None = None,
                          status: int = 200) -> Response:
        lang = person.language
        groups = await asyncio.to_thread(_people, env.engine, commune, person.id)
        reporting = [(u.id, u.name) for u, _ in groups
                     if repo.default_role(u) in (Role.collaborator, Role.agency)]
        return kit.page("officer_people.html", lang, status, commune=commune, nav="people",
                        groups=groups, reporting=reporting, csrf=auth.csrf_token(token),
                        notices=notices or [], link=link, qr=qr_svg(link) if link else None,
                        minutes=web_store.LINK_MINUTES)

    async def people_get(request: Request) -> Response:
        person, token, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        return await people_page(request, person, token, commune)

    async def people_remove(request: Request) -> Response:
        person, token, fields, commune, refusal = await officer_post(request)
        if refusal is not None:
            return refusal
        mid = path_int(request, "membership")
        done = mid is not None and await asyncio.to_thread(
            _remove, env.engine, commune, mid, person.id, env.utcnow())
        if not done:
            return await people_page(request, person, token, commune,
                                     [msg("web.admin.not_removed")], status=400)
        return await people_page(request, person, token, commune, [msg("web.admin.removed")])

    async def people_link(request: Request) -> Response:
        person, token, fields, commune, refusal = await officer_post(request)
        if refusal is not None:
            return refusal
        name = one(fields, "name")
        unit = one(fields, "unit")
        if not 0 < len(name) <= NAME_MAX or not unit.isdigit() or len(unit) > 9:
            return await people_page(request, person, token, commune,
                                     [msg("web.admin.name_length", most=NAME_MAX)],
                                     status=400)
        got = await asyncio.to_thread(_reporter_link, env.engine, commune, int(unit), name,
                                      env.utcnow())
        if got is None:
            return await people_page(request, person, token, commune,
                                     [msg("web.admin.not_a_reporting_unit")], status=400)
        token_link, who, created, revoked = got
        base = (kit.config.public_url or env.web_url or str(request.base_url)).rstrip("/")
        notices = [msg("web.admin.link_made", name=who, minutes=web_store.LINK_MINUTES)]
        if created:
            notices.insert(0, msg("web.admin.reporter_created", name=who))
        if revoked:
            notices.append(msg("web.admin.links_revoked", count=revoked))
        return await people_page(request, person, token, commune, notices,
                                 link=f"{base}/login/{token_link}")

    # ---------------------------------------------------------------- invitations

    async def invitations_get(request: Request) -> Response:
        person, token, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        return kit.page("officer_invitations.html", person.language, commune=commune,
                        nav="people", csrf=auth.csrf_token(token), invites=None, revoked=0)

    async def invitations_post(request: Request) -> Response:
        person, token, _, commune, refusal = await officer_post(request)
        if refusal is not None:
            return refusal
        username = (env.bot_username or FALLBACK_BOT).lstrip("@")
        invites, revoked = await asyncio.to_thread(
            _invitations, env.engine, commune, person.id, env.invitation_days, username,
            person.language)
        return kit.page("officer_invitations.html", person.language, commune=commune,
                        nav="people", csrf=auth.csrf_token(token), invites=invites,
                        revoked=revoked)

    # ---------------------------------------------------------------- paper reports

    async def paper_get(request: Request) -> Response:
        person, token, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        return kit.page("officer_paper.html", person.language, commune=commune, nav="paper",
                        csrf=auth.csrf_token(token), most=PAPER_MAX // 1_000_000)

    async def paper_template(request: Request) -> Response:
        person, _, commune, refusal = await kit.officer_commune(request)
        if refusal is not None:
            return refusal
        data = await asyncio.to_thread(_template, env.engine, commune, person.language)
        name = "bao-cao-giay-" + commune.code.replace("/", "-") + ".xlsx"
        return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    async def paper_post(request: Request) -> Response:
        from storage.importer import ImportFailed

        person, token = await kit.signed_in(request)
        try:
            body = await read_body(request, PAPER_MAX + 20_000, kit.config.body_seconds * 3)
        except BodyRefused as exc:
            if exc.status == 413 and person is not None:
                return kit.refused(person.language, "web.admin.too_big", 413)
            return Response(status_code=exc.status)
        if person is None or token is None:
            return kit.refused(kit.lang_of(request), "web.sign_in_first", 401)
        lang = person.language
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        ctype = request.headers.get("content-type", "")
        data: bytes | None = None
        filename = ""
        try:
            if ctype.startswith("multipart/form-data"):
                form = await Request(request.scope, replay).form(
                    max_files=1, max_fields=10, max_part_size=PAPER_MAX)
                csrf = form.get("csrf")
                upload = form.get("file")
                if hasattr(upload, "read"):
                    data = await upload.read()  # type: ignore[union-attr]
                    filename = getattr(upload, "filename", "") or ""
            else:
                from urllib.parse import parse_qs

                fields = parse_qs(body.decode(), max_num_fields=10)
                csrf = (fields.get("csrf") or [""])[0]
                if fields.get("data"):
                    data = base64.b64decode(fields["data"][0], validate=True)
                    filename = (fields.get("filename") or [""])[0]
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return Response(status_code=400)
        if not auth.csrf_ok(token, csrf if isinstance(csrf, str) else ""):
            return kit.refused(lang, "web.refused", 403)
        commune = await _commune_of(request, person)
        if commune is None:
            return kit.refused(lang, "web.not_your_commune", 403)
        save = request.url.path.endswith("/save")
        suffix = ".csv" if filename.lower().endswith(".csv") else ".xlsx"
        params = dict(commune=commune, nav="paper", csrf=auth.csrf_token(token),
                      most=PAPER_MAX // 1_000_000, filename=filename[:100])
        if not data:
            return kit.page("officer_paper.html", lang, 400, notice=msg("web.admin.no_file"),
                            **params)
        with tempfile.TemporaryDirectory(prefix="ctvbot-paper-") as folder:
            path = Path(folder) / f"paper{suffix}"
            path.write_bytes(data)
            try:
                result = await asyncio.to_thread(partial(
                    _paper, env.engine, commune, person.id, path, save, env.today(),
                    env.tz))
            except ImportFailed as exc:
                return kit.page("officer_paper.html", lang, 422, problems=exc.problems,
                                notice=msg("web.admin.paper_refused",
                                           count=len(exc.problems)), **params)
            rows = [] if save else await asyncio.to_thread(_preview_rows, path)
        if save:
            kit.metrics.web_saves.labels("paper").inc()
            return kit.page("officer_paper.html", lang, notice=msg(
                "web.admin.paper_saved", rows=result.rows, saved=result.saved,
                units=result.units), saved=True, **params)
        return kit.page("officer_paper.html", lang, result=result, rows=rows,
                        shown=len(rows), data=base64.b64encode(data).decode(),
                        notice=msg("web.admin.paper_ready", rows=result.rows,
                                   saved=result.saved, unchanged=result.unchanged,
                                   units=result.units), **params)

    return [
        Route("/o/{commune}/units", units_get, methods=["GET"]),
        Route("/o/{commune}/units/commune.yaml", commune_file, methods=["GET"]),
        Route("/o/{commune}/units/add", units_action("add"), methods=["POST"]),
        Route("/o/{commune}/units/{unit}/rename", units_action("rename"), methods=["POST"]),
        Route("/o/{commune}/units/{unit}/retire", units_action("retire"), methods=["POST"]),
        Route("/o/{commune}/people", people_get, methods=["GET"]),
        Route("/o/{commune}/people/link", people_link, methods=["POST"]),
        Route("/o/{commune}/people/{membership}/remove", people_remove, methods=["POST"]),
        Route("/o/{commune}/invitations", invitations_get, methods=["GET"]),
        Route("/o/{commune}/invitations", invitations_post, methods=["POST"]),
        Route("/o/{commune}/paper", paper_get, methods=["GET"]),
        Route("/o/{commune}/paper", paper_post, methods=["POST"]),
        Route("/o/{commune}/paper/save", paper_post, methods=["POST"]),
        Route("/o/{commune}/paper/template.xlsx", paper_template, methods=["GET"]),
    ]
