"""The ``ctvbot`` command line."""

from __future__ import annotations

import csv
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from bot.cells import append_row, csv_row
from bot.cli_text import capped, open_database, progress, safe_output, said_text, set_language, tr
from bot.cli_text import fail as _fail
from bot.i18n import current_locale
from bot.settings import Settings
from storage import repo
from storage.db import session_scope
from storage.kinds import Role
from storage.models import Unit

app = typer.Typer(help="ctvbot: child-protection indicator reports over Telegram.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
plan_app = typer.Typer(help="Plans (kế hoạch).", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")

LangOption = Annotated[str | None, typer.Option(
    "--lang", help="Language of the messages and files: vi (default) or en")]


@app.callback()
def _everywhere(lang: Annotated[str, typer.Option(
        "--lang", envvar="CTVBOT_LANG",
        help="Language of the messages: vi (default) or en")] = "vi") -> None:
    """ctvbot: child-protection indicator reports over Telegram."""
    safe_output()
    _language(lang)


def _language(lang: str | None) -> None:
    """Speak ``lang`` (None keeps the language already chosen); anything else is refused."""
    if lang is None:
        return
    if lang not in ("vi", "en"):
        raise _fail(tr("cli.bad_lang", lang=lang))
    set_language(lang)


def _engine() -> Engine:
    return open_database()




@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    _engine()
    typer.echo(tr("cli.db.up_to_date"))


@plan_app.command("list")
def plan_list() -> None:
    """List the bundled plans."""
    from storage.plan_files import bundled_plan_paths, load_plan

    for path in bundled_plan_paths():
        spec = load_plan(path)
        n_crit = sum(len(g.criteria) for g in spec.goals)
        typer.echo(tr("cli.plan.line", code=spec.code, issuer=spec.issuer,
                      start=spec.period[0], end=spec.period[1], criteria=n_crit,
                      indicators=len(spec.indicators()), file=path.name))


@plan_app.command("check")
def plan_check(files: Annotated[list[Path] | None, typer.Argument()] = None) -> None:
    """Check plan files (all bundled plans when none is given)."""
    from storage.plan_files import bundled_plan_paths, check_plan
    from storage.yamlfiles import FileInvalid

    failed = False
    for path in files or bundled_plan_paths():
        try:
            spec, warnings = check_plan(path)
        except FileInvalid as exc:
            failed = True
            typer.echo("\n".join(_problems(exc)), err=True)
            continue
        for w in warnings:
            typer.echo(tr("cli.plan.warning", problem=_problem(w)), err=True)
        typer.echo(tr("cli.plan.ok", file=path, indicators=len(spec.indicators())))
    if failed:
        raise typer.Exit(code=1)


@app.command()
def setup(
    file: Path,
    move: Annotated[bool, typer.Option(
        "--move", help="Accept that the file moves an existing commune under another parent, "
        "changes its kind, or takes over a commune set up on another plan under another name "
        "(after an administrative reorganisation)")] = False,
    lang: LangOption = None,
) -> None:
    """Set up (or update) a commune from a commune file."""
    _language(lang)
    from storage.communes import SetupRefused, apply_commune, load_commune
    from storage.yamlfiles import FileInvalid

    try:
        spec = load_commune(file)
    except FileInvalid as exc:
        raise _fail("\n".join(capped(_problems(exc)))) from exc
    engine = _engine()
    try:
        with session_scope(engine) as session:
            changes = apply_commune(spec, session=session, allow_move=move,
                                    tz=Settings().tz)
    except SetupRefused as exc:
        lines = [tr("cli.setup.refused", file=file, commune=exc.commune)]
        lines += [f"  - {_said(p)}" for p in exc.problems]
        raise _fail("\n".join(lines)) from exc
    notes = [c for c in changes if c.note]  # kept or missing, not changed
    changes = [c for c in changes if not c.note]
    if changes:
        typer.echo(tr("cli.setup.changes", name=spec.name, count=len(changes)))
        for change in changes:
            typer.echo(f"  {_said(change)}")
    else:
        typer.echo(tr("cli.setup.unchanged", name=spec.name))
    for change in notes:
        typer.echo(f"  {_said(change)}")


def _problem(p: Any) -> str:
    """One mistake of a file as FILE:LINE: field: sentence, in the officer's language."""
    where = f"{p.path}:{p.line}:" + (f" {p.field}:" if p.field else "")
    return f"{where} {_said(p.message)}"


def _problems(exc: Any) -> list[str]:
    """Every mistake of a refused plan or commune file, one line each."""
    return [_problem(p) for p in exc.problems]


def _said(change: Any) -> str:
    """A setup change (storage.communes.Change) as a sentence in the command's language."""
    return said_text(change)


@app.command()
def units(lang: LangOption = None) -> None:
    """Show the units as a tree, their kinds as words in the officer's language."""
    _language(lang)
    from bot.documents import kind_word

    engine = _engine()
    with session_scope(engine) as session:
        rows = repo.list_units(session=session)
        by_parent: dict[int | None, list] = {}
        for u in rows:
            by_parent.setdefault(u.parent_id, []).append(u)

        def show(parent: int | None, depth: int) -> None:
            for u in by_parent.get(parent, []):
                typer.echo(f"{'  ' * depth}{u.code}  {u.name}  "
                           f"[{kind_word(u.kind, current_locale.get())}]")
                show(u.id, depth + 1)

        if not rows:
            typer.echo(tr("cli.units.none"))
        show(None, 0)


FALLBACK_BOT = "ctvbot"
NAME_MOST = 100  # a web-only reporter's name, in characters


def _bot_username(settings: Settings) -> str:
    """The bot's username for links; warns on stderr when CTVBOT_BOT_USERNAME is not set."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    typer.echo(tr("cli.invite.no_username", bot=FALLBACK_BOT), err=True)
    return FALLBACK_BOT


def _link(code: str, username: str) -> str:
    return repo.invitation_link(code, username)


def _find_unit(code: str, *, session) -> Unit:  # noqa: ANN001
    """A unit by code; an unknown or ambiguous code becomes a clear error (exit 1)."""
    try:
        return repo.find_unit(code, session=session)
    except repo.UnknownUnit as exc:
        matches = [k for k in exc.known if k.endswith("/" + code)]
        if len(matches) > 1 and len(matches) == len(exc.known):
            raise _fail(tr("cli.unit.ambiguous", code=code, matches=", ".join(matches))) \
                from exc
        raise _fail(tr("cli.unit.unknown", code=code,
                       known=", ".join(exc.known) or "—")) from exc


def _role_word(role: str) -> str:
    from bot.i18n import text_of

    return text_of(f"role.{role}")


@app.command()
def invite(
    unit: str,
    role: Annotated[Role | None, typer.Option(
        help="Role (default from the unit's kind): officer or admin for a commune (or upper "
        "level), collaborator for a hamlet, agency for an agency")] = None,
    name: Annotated[str | None, typer.Option(help="The person's name, for the greeting")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
    lang: LangOption = None,
) -> None:
    """Create a one-time invitation for a unit and print its deep link."""
    _language(lang)
    engine = _engine()
    settings = Settings()
    with session_scope(engine) as session:
        u = _find_unit(unit, session=session)
        try:
            inv, code = repo.create_invitation(u, role=role, person_name=name,
                                               days=settings.invitation_days, session=session)
        except repo.RoleNotAllowed as exc:
            from bot.documents import kind_word

            raise _fail(tr("cli.invite.role_not_allowed", unit=u.code, name=u.name,
                           kind=kind_word(u.kind, current_locale.get()),
                           allowed=tr("cli.or").join(f"--role {r}" for r in exc.allowed),
                           role=exc.role)) from exc
        username = _bot_username(settings)
        out = {"unit": u.code, "role": str(inv.role), "code": code,
               "link": _link(code, username)}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(tr("cli.invite.done", unit=out["unit"], role=_role_word(out["role"]),
                      link=out["link"], code=code))


@app.command("login-link")
def login_link(
    unit: str,
    name: Annotated[str | None, typer.Option(
        help="The reporter's name: a web-only reporter (no Telegram) of the unit with this "
        "name is created the first time; issuing again revokes their earlier link")] = None,
    telegram_id: Annotated[int | None, typer.Option(
        "--telegram-id", help="A member of the unit by their Telegram id")] = None,
    revoke_sessions: Annotated[bool, typer.Option(
        "--revoke-sessions", help="Also sign this person out of every browser")] = False,
) -> None:
    """Print a one-time sign-in link (15 minutes) to a unit's web form for one person."""
    from bot.documents import kind_word
    from storage import web as web_store

    settings = Settings()
    if not settings.public_url:
        raise _fail(tr("cli.login.no_public_url"))
    engine = _engine()
    with session_scope(engine) as session:
        u = _find_unit(unit, session=session)
        people = [(m, p) for m, p in web_store.members(u.id, session=session)
                  if m.role in (Role.collaborator, Role.agency)]
        created = False
        if telegram_id is not None:
            person = next((p for _, p in web_store.members(u.id, session=session)
                           if p.telegram_id == telegram_id), None)
            if person is None:
                raise _fail(tr("cli.login.no_member", unit=u.code, telegram_id=telegram_id))
        elif name is not None:
            role = repo.default_role(u)
            if role not in (Role.collaborator, Role.agency):
                raise _fail(tr("cli.login.not_reporting", unit=u.code,
                               kind=kind_word(u.kind, current_locale.get())))
            name = " ".join(name.split())
            if not name or len(name) > NAME_MOST:
                raise _fail(tr("cli.login.bad_name", most=NAME_MOST))
            person, created, revoked, token = web_store.issue_web_link(u, name, role,
                                                                       session=session)
        elif len(people) == 1:
            person = people[0][1]
        else:
            names = ", ".join(p.name for _, p in people) or tr("cli.login.nobody")
            raise _fail(tr("cli.login.choose", unit=u.code, count=len(people), names=names))
        assert person.id is not None
        if name is None or telegram_id is not None:
            revoked = web_store.revoke_links(person.id, session=session) \
                if person.telegram_id is None else 0
            token = web_store.create_link(person.id, session=session)
        signed_out = web_store.revoke_sessions(person.id, session=session) \
            if revoke_sessions else 0
        link = f"{settings.public_url.rstrip('/')}/login/{token}"
        who = person.name
    if created:
        typer.echo(tr("cli.login.created", who=who, unit=u.code))
    if revoked:
        typer.echo(tr("cli.login.revoked", count=revoked, who=who))
    if signed_out:
        typer.echo(tr("cli.login.signed_out", who=who, count=signed_out))
    typer.echo(tr("cli.login.link", who=who, unit=u.code, minutes=web_store.LINK_MINUTES,
                  link=link))


def _check_out_path(out: Path) -> None:
    """Refuse an output file that cannot be written, before anything is created."""
    if out.is_dir():
        raise _fail(tr("cli.out.is_folder", out=out))
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise _fail(tr("cli.out.csv_or_xlsx", out=out))
    folder = out.parent
    if not folder.is_dir():
        raise _fail(tr("cli.out.no_folder", out=out, folder=folder))
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise _fail(tr("cli.out.denied", out=out))


def _write_table(out: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write the rows to a temporary file next to ``out``, then put it in place (no cell can
    become a formula: names come from people)."""
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.",
                                    suffix=out.suffix.lower())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if out.suffix.lower() == ".xlsx":
            from openpyxl import Workbook

            wb = Workbook()
            ws = wb.active
            ws.title = tr("cli.invitations.sheet")
            append_row(ws, header)
            for r in rows:
                append_row(ws, r)
            ws.freeze_panes = "A2"
            wb.save(tmp)
        else:
            with tmp.open("w", newline="", encoding="utf-8-sig") as fh:
                w = csv.writer(fh)
                w.writerow(csv_row(header))
                w.writerows(csv_row(r) for r in rows)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


INVITATION_COLUMNS = ("cli.invitations.col.unit", "cli.invitations.col.name",
                      "cli.invitations.col.kind", "cli.invitations.col.role",
                      "cli.invitations.col.code", "cli.invitations.col.link",
                      "cli.invitations.col.expires")


@app.command()
def invitations(
    commune: str,
    out: Annotated[Path, typer.Option(help="A .csv or .xlsx file")] = Path("invitations.csv"),
    keep_earlier: Annotated[bool, typer.Option(
        "--keep-earlier", help="Keep the earlier unused invitations of these units valid "
        "(by default they are revoked, so that only the new codes work)")] = False,
    lang: LangOption = None,
) -> None:
    """Create invitations for every unit of a commune into a CSV or XLSX file.

    Earlier invitations of the same units and roles that nobody has used yet are revoked,
    unless --keep-earlier is given. The file's words (columns, kinds, roles) are in --lang.
    """
    from bot.documents import kind_word

    _language(lang)
    _check_out_path(out)
    engine = _engine()
    settings = Settings()
    words = current_locale.get()
    header = [tr(key) for key in INVITATION_COLUMNS]
    with session_scope(engine) as session:
        c = _find_unit(commune, session=session)
        username = _bot_username(settings)
        count = 1 + len(repo.children(c.id, session=session))
        with progress(tr("cli.invitations.progress"), count) as advance:
            made, revoked = repo.invite_units(c, days=settings.invitation_days,
                                              keep_earlier=keep_earlier, advance=advance,
                                              session=session)
        rows = [[u.code, u.name, kind_word(u.kind, words), _role_word(str(inv.role)), code,
                 _link(code, username), inv.expires_at.strftime("%d/%m/%Y")]
                for u, inv, code in made]
        try:  # written before the commit: a file that cannot be written creates nothing
            _write_table(out, header, rows)
        except OSError as exc:
            raise _fail(tr("cli.out.cannot_write", out=out,
                           reason=exc.strerror or exc)) from exc
    typer.echo(tr("cli.invitations.done", count=len(rows), out=out))
    if revoked:
        typer.echo(tr("cli.invitations.revoked", count=revoked))


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def main() -> None:  # pragma: no cover
    """Entry point for ``python -m bot.cli``."""
    app(sys.argv[1:])


@app.command()
def run(
    webhook: Annotated[bool, typer.Option(help="Receive updates by webhook (several workers "
                                          "behind a reverse proxy) instead of long polling")]
    = False,
    listen: Annotated[str, typer.Option(help="HOST:PORT this worker listens on")]
    = "127.0.0.1:8080",
    url: Annotated[str | None, typer.Option(help="The public HTTPS URL Telegram posts to")]
    = None,
) -> None:
    """Run the bot (long polling, or --webhook); Ctrl-C stops it cleanly."""
    import asyncio
    import logging
    import secrets as pysecrets
    from urllib.parse import urlsplit

    from telegram.error import InvalidToken

    from bot.app import build_application, build_zalo, install_log_redaction
    from bot.service import Env
    from bot.web.serve import bind, serve

    settings = Settings()
    if settings.token is None and settings.zalo_token is None:
        raise _fail(tr("cli.run.no_token"))
    if webhook and settings.token is None:
        raise _fail(tr("cli.run.webhook_is_telegram"))
    if webhook and not url:
        raise _fail(tr("cli.run.webhook_url"))
    if webhook and settings.webhook_secret is None:
        raise _fail(tr("cli.run.webhook_secret", example=pysecrets.token_urlsafe(24)))
    host, _, port = listen.rpartition(":")
    if webhook and not port.isdigit():
        raise _fail(tr("cli.run.bad_listen"))
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for secret in (settings.token, settings.webhook_secret, settings.zalo_token,
                   settings.zalo_webhook_secret):
        if secret is not None:
            install_log_redaction(secret.get_secret_value())
    engine = _engine()
    public = (settings.public_url or (_origin(url) if webhook and url else "")).rstrip("/")
    env = Env(engine=engine, tz=settings.tz, bot_username=settings.bot_username or "",
              invitation_days=settings.invitation_days, web_url=public,
              daytime=settings.daytime)
    log = logging.getLogger("ctvbot")
    zalo_bot = None
    zalo_hook: tuple[str, str] | None = None  # Zalo's webhook: (public URL, secret)
    zalo_routes: list[Any] = []
    if settings.zalo_token is not None:
        from bot.web.app import ZALO_WEBHOOK_PATH, WebConfig, build_web_app, zalo_webhook_route
        from bot.web.metrics import Metrics
        from bot.zalo import webhook_handler  # Zalo's client, only when Zalo is served

        zalo_bot = build_zalo(env, token=settings.zalo_token.get_secret_value(),
                              api_url=settings.zalo_api_url,
                              replies_per_second=settings.zalo_messages_per_second)
    if zalo_bot is not None and settings.zalo_webhook_secret is not None:
        zalo_secret = settings.zalo_webhook_secret.get_secret_value()
        if not 8 <= len(zalo_secret) <= 256:
            raise _fail(tr("cli.run.zalo_secret_length", example=pysecrets.token_urlsafe(24)))
        if not public:
            raise _fail(tr("cli.run.zalo_public_url", path=ZALO_WEBHOOK_PATH))
        zalo_hook = (public + ZALO_WEBHOOK_PATH, zalo_secret)
        zalo_routes = [zalo_webhook_route(webhook_handler(zalo_bot, zalo_secret),
                                          WebConfig(public_url=public))]
    if settings.token is None:
        assert zalo_bot is not None
        log.info("starting Zalo alone (%s, database: %s)",
                 f"webhook {ZALO_WEBHOOK_PATH}" if zalo_hook else "long polling",
                 engine.url.render_as_string(hide_password=True))
        web = None
        if zalo_hook is not None:
            web = build_web_app(env, WebConfig(public_url=public), metrics=Metrics(engine),
                                extra_routes=zalo_routes)
            try:
                sock = bind(settings.web_listen)
            except (OSError, ValueError) as exc:
                raise _fail(tr("cli.run.zalo_cannot_listen", where=repr(settings.web_listen),
                               reason=exc)) from exc
        _run_zalo_alone(zalo_bot, env, settings,
                        (web, sock, zalo_hook) if zalo_hook is not None else None)
        log.info("stopped")
        return
    token = settings.token.get_secret_value()
    application = build_application(env, token=token, base_url=settings.api_url,
                                     base_file_url=settings.base_file_url,
                                     replies_per_second=settings.replies_per_second,
                                     updater=not webhook,
                                     concurrent_updates=settings.concurrent_updates)
    application.bot_data["messages_per_second"] = settings.messages_per_second  # reminders
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    where = listen if webhook else settings.web_listen
    sock = None
    if where:
        try:
            sock = bind(where)
        except (OSError, ValueError) as exc:
            if webhook:
                raise _fail(tr("cli.run.cannot_listen", where=where, reason=exc)) from exc
            log.warning("the web pages are not served: cannot listen on %s (%s)", where, exc)
    if zalo_hook is not None and sock is None:
        raise _fail(tr("cli.run.zalo_needs_web"))
    web_app = None
    if sock is not None:  # the web face (pages, /metrics, webhooks) only when it is served
        from bot.web.app import WebConfig, build_web_app
        from bot.web.metrics import Metrics

        metrics = Metrics(engine)
        application.bot_data["shell"].metrics = metrics
        web_app = build_web_app(env, WebConfig(
            public_url=public, bot_token=token, webhook_secret=secret,
            webhook_path=urlsplit(url).path if webhook and url else None),
            application=application, metrics=metrics, extra_routes=zalo_routes)
    if zalo_bot is not None:
        _beside_telegram(application, zalo_bot, settings, zalo_hook)
    log.info("starting (%s%s, database: %s%s)", "webhook" if webhook else "long polling",
             " and Zalo" if zalo_bot is not None else "",
             engine.url.render_as_string(hide_password=True),
             f", web pages on {where}" if sock is not None else "")
    _settle()
    try:
        asyncio.run(serve(application, web_app, sock, webhook_url=url if webhook else None,
                          webhook_secret=secret))
    except InvalidToken:
        # the exception's text holds the token: say what happened without it
        raise _fail(tr("cli.run.telegram_token_refused")) from None
    log.info("stopped")


def _settle() -> None:
    """Before serving: free what start-up left behind, then set the objects that live as long
    as the process (modules, classes, the application) apart from the garbage collector, so
    that its full passes while updates are handled do not walk them again and again."""
    import gc

    gc.collect()
    gc.freeze()


def _beside_telegram(application: Any, zalo_bot: Any, settings: Settings,
                     hook: tuple[str, str] | None = None) -> None:
    """Zalo polls on the Telegram application's event loop (or, with ``hook``, its webhook is
    set and updates come to the web app's route); its people get their reminders from the
    same scheduler, through Zalo at Zalo's pace."""
    telegram_init, telegram_stop = application.post_init, application.post_stop

    async def post_init(app: Any) -> None:
        await telegram_init(app)
        shell = app.bot_data["shell"]
        zalo_bot.receive, zalo_bot.failed, zalo_bot.shell = shell.receive, shell.failed, shell
        reminders = app.bot_data.get("reminders")
        if reminders is not None:
            reminders.add_channel("zalo", zalo_bot.messenger,
                                  messages_per_second=settings.zalo_messages_per_second)
        if hook is not None:
            await zalo_bot.set_webhook(*hook)
        else:
            zalo_bot.start()

    async def post_stop(app: Any) -> None:
        await zalo_bot.stop()
        await telegram_stop(app)

    application.post_init, application.post_stop = post_init, post_stop


def _run_zalo_alone(zalo_bot: Any, env: Any, settings: Settings,
                    hook: tuple[Any, Any, tuple[str, str]] | None = None) -> None:
    """Zalo without Telegram: long polling (or, with ``hook`` = (web app, socket, (URL,
    secret)), the webhook served by the web app) and the reminders on one event loop until
    Ctrl-C or SIGTERM."""
    import asyncio
    import signal

    from bot.messenger import MessengerError
    from bot.reminders import Reminders
    from bot.web.serve import start_web
    from bot.zalo import LoopJobs

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        jobs = LoopJobs()
        reminders = Reminders(env.engine, zalo_bot.messenger, tz=env.tz, channel="zalo",
                              daytime=env.daytime,
                              messages_per_second=settings.zalo_messages_per_second or 1000)
        zalo_bot.shell.started(env, reminders)
        await reminders.start(jobs)
        server = None
        if hook is not None:
            web_app, sock, (url, secret) = hook
            web_app.state.kit.reminders = lambda: reminders  # an officer's Nhắc from a page
            server, poller = start_web(web_app, sock)
            try:
                await zalo_bot.set_webhook(url, secret)
            except MessengerError:  # the token refused, or the URL/secret
                server.should_exit = True
                await poller
                await zalo_bot.stop()
                raise
        else:
            poller = zalo_bot.start()
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({poller, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if server is not None:
            server.should_exit = True
            await poller
        jobs.stop()
        await reminders.stop()
        failed = poller.done() and not poller.cancelled() and poller.exception() is not None
        await zalo_bot.stop()
        if failed:
            raise _fail(tr("cli.run.zalo_failed"))

    _settle()
    try:
        asyncio.run(main())
    except MessengerError:
        raise _fail(tr("cli.run.zalo_token_refused")) from None


@app.command("backup")
def backup_cmd(file: Path) -> None:
    """Write the whole database to a file (gzipped JSON with a checksum, any engine)."""
    from storage.backup import backup

    if not file.parent.is_dir():
        raise _fail(tr("cli.out.no_folder", out=file, folder=file.parent))
    engine = _engine()
    try:
        counts = backup(engine, file)
    except OSError as exc:
        raise _fail(tr("cli.out.cannot_write", out=file, reason=exc.strerror or exc)) from exc
    typer.echo(tr("cli.backup.done", rows=sum(counts.values()), tables=len(counts),
                  file=file))


@app.command("restore")
def restore_cmd(file: Path) -> None:
    """Load a backup into an empty database (CTVBOT_DATABASE_URL), after checking it."""
    from storage.backup import RestoreRefused, restore

    engine = _engine()
    try:
        counts = restore(engine, file)
    except RestoreRefused as exc:
        raise _fail(tr(f"cli.{exc.key}", **exc.params)) from exc
    typer.echo(tr("cli.restore.done", rows=sum(counts.values()), tables=len(counts),
                  file=file))


@app.command()
def demo(
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
    out: Annotated[Path | None, typer.Option(help="Folder for the files")] = None,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Then keep serving the web form (the printed link) until Ctrl-C")]
    = False,
    listen: Annotated[str, typer.Option(help="HOST:PORT for --serve")] = "127.0.0.1:8080",
    channel: Annotated[str, typer.Option(help="telegram or zalo")] = "telegram",
) -> None:
    """Play a commune's reporting year through the real bot, locally (no Telegram or Zalo
    account)."""
    _language(lang)
    if channel not in ("telegram", "zalo"):
        raise _fail(tr("cli.demo.bad_channel"))
    if channel == "zalo":
        _sandbox("demo_zalo").main(out)
        return
    _sandbox("demo").main(lang, out, listen if serve else None)


@app.command()
def chat(
    member: Annotated[str, typer.Option("--as", help="The member: thon-hanh-thien, tram-y-te, "
                                        "thcs, cong-an, xuan-truong (the officer)…")]
    = "thon-hanh-thien",
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
) -> None:
    """Talk to the bot in the terminal as a member of the demo commune."""
    _language(lang)
    chat_face = _sandbox("chat")
    if member not in chat_face.MEMBERS:
        raise _fail(tr("cli.chat.unknown_member", member=member,
                       members=", ".join(chat_face.MEMBERS)))
    chat_face.main(member, lang)


@app.command("bench", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench_cmd(ctx: typer.Context) -> None:
    """Benchmarks on loopback: p1, load, memory (see BENCHMARKS.md)."""
    _sandbox("bench.cli").main(list(ctx.args))


def _sandbox(name: str) -> ModuleType:
    """A module of the sandbox (demo, chat, benchmarks), imported only by those commands."""
    try:
        return importlib.import_module(f"sandbox.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("sandbox", "aiohttp"):
            raise
        raise _fail(tr("cli.sandbox_missing")) from exc


def _register_subcommands() -> None:
    """Commands defined in their own modules: report, values."""
    from bot.report_cli import register as register_report

    register_report(app)


_register_subcommands()


if __name__ == "__main__":  # pragma: no cover
    main()
