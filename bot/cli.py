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
from typing import Annotated

import typer
from sqlalchemy import Engine

from bot.settings import Settings
from storage import repo
from storage.db import make_engine, session_scope, upgrade
from storage.kinds import Role
from storage.models import Unit

app = typer.Typer(help="ctvbot: child-protection indicator reports over Telegram.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
plan_app = typer.Typer(help="Plans (kế hoạch).", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")


def _engine() -> Engine:
    settings = Settings()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    upgrade(engine)
    return engine


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    _engine()
    typer.echo("database is up to date")


@plan_app.command("list")
def plan_list() -> None:
    """List the bundled plans."""
    from storage.plan_files import bundled_plan_paths, load_plan

    for path in bundled_plan_paths():
        spec = load_plan(path)
        n_crit = sum(len(g.criteria) for g in spec.goals)
        typer.echo(f"{spec.code}  {spec.issuer}  {spec.period[0]}-{spec.period[1]}  "
                   f"{n_crit} chỉ tiêu, {len(spec.indicators())} indicators  ({path.name})")


@plan_app.command("check")
def plan_check(files: Annotated[list[Path] | None, typer.Argument()] = None) -> None:
    """Check plan files (all bundled plans when none is given)."""
    from storage.plan_files import bundled_plan_paths, load_plan
    from storage.yamlfiles import FileInvalid

    failed = False
    for path in files or bundled_plan_paths():
        try:
            spec = load_plan(path)
        except FileInvalid as exc:
            failed = True
            typer.echo(str(exc), err=True)
            continue
        typer.echo(f"{path}: ok ({len(spec.indicators())} indicators)")
    if failed:
        raise typer.Exit(code=1)


@app.command()
def setup(
    file: Path,
    move: Annotated[bool, typer.Option(
        "--move", help="Accept that the file moves an existing commune under another parent, "
        "changes its kind, or takes over a commune set up on another plan under another name "
        "(after an administrative reorganisation)")] = False,
) -> None:
    """Set up (or update) a commune from a commune file."""
    from storage.communes import SetupRefused, apply_commune, load_commune
    from storage.yamlfiles import FileInvalid

    try:
        spec = load_commune(file)
    except FileInvalid as exc:
        raise _fail(str(exc)) from exc
    engine = _engine()
    try:
        with session_scope(engine) as session:
            changes = apply_commune(spec, session=session, allow_move=move)
    except SetupRefused as exc:
        raise _fail(f"{file}: {exc}") from exc
    notes = [line for line in changes if line.startswith("!")]  # kept, not changed
    changes = [line for line in changes if not line.startswith("!")]
    if changes:
        typer.echo(f"{spec.name}: {len(changes)} change(s)")
        for line in changes:
            typer.echo(f"  {line}")
    else:
        typer.echo(f"{spec.name}: already up to date, nothing changed")
    for line in notes:
        typer.echo(f"  {line}")


@app.command()
def units() -> None:
    """Show the units as a tree."""
    engine = _engine()
    with session_scope(engine) as session:
        rows = repo.list_units(session=session)
        by_parent: dict[int | None, list] = {}
        for u in rows:
            by_parent.setdefault(u.parent_id, []).append(u)

        def show(parent: int | None, depth: int) -> None:
            for u in by_parent.get(parent, []):
                typer.echo(f"{'  ' * depth}{u.code}  {u.name}  [{u.kind}]")
                show(u.id, depth + 1)

        if not rows:
            typer.echo("no units yet: run `ctvbot setup COMMUNE_FILE` first")
        show(None, 0)


FALLBACK_BOT = "ctvbot"


def _bot_username(settings: Settings) -> str:
    """The bot's username for links; warns on stderr when CTVBOT_BOT_USERNAME is not set."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    typer.echo(f"warning: CTVBOT_BOT_USERNAME is not set, so the links below point to "
               f"https://t.me/{FALLBACK_BOT}, which may be someone else's bot. Set it to your "
               "bot's username (from @BotFather, without @) for working links; the code alone "
               "still works: send /start CODE to your bot.", err=True)
    return FALLBACK_BOT


def _link(code: str, username: str) -> str:
    return f"https://t.me/{username}?start={code}"


def _find_unit(code: str, *, session) -> Unit:  # noqa: ANN001
    """A unit by code; an unknown or ambiguous code becomes a clear error (exit 1)."""
    try:
        return repo.find_unit(code, session=session)
    except repo.UnknownUnit as exc:
        matches = [k for k in exc.known if k.endswith("/" + code)]
        if len(matches) > 1 and len(matches) == len(exc.known):
            raise _fail(f"unit code {code!r} is ambiguous: it matches {', '.join(matches)}; "
                        "give the full code") from exc
        raise _fail(str(exc)) from exc


@app.command()
def invite(
    unit: str,
    role: Annotated[Role | None, typer.Option(
        help="Role (default from the unit's kind): officer or admin for a commune (or upper "
        "level), collaborator for a hamlet, agency for an agency")] = None,
    name: Annotated[str | None, typer.Option(help="The person's name, for the greeting")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Create a one-time invitation for a unit and print its deep link."""
    engine = _engine()
    settings = Settings()
    with session_scope(engine) as session:
        u = _find_unit(unit, session=session)
        try:
            inv, code = repo.create_invitation(u, role=role, person_name=name,
                                               days=settings.invitation_days, session=session)
        except repo.RoleNotAllowed as exc:
            raise _fail(str(exc)) from exc
        username = _bot_username(settings)
        out = {"unit": u.code, "role": str(inv.role), "code": code,
               "link": _link(code, username)}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(f"{out['unit']} ({out['role']}): {out['link']}\ncode: {code}")


def _check_out_path(out: Path) -> None:
    """Refuse an output file that cannot be written, before anything is created."""
    if out.is_dir():
        raise _fail(f"--out {out}: this is a folder; give a file name ending in .csv or .xlsx")
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise _fail(f"--out {out}: the file must end in .csv or .xlsx")
    folder = out.parent
    if not folder.is_dir():
        raise _fail(f"--out {out}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise _fail(f"--out {out}: cannot write there (permission denied)")


def _write_table(out: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write the rows to a temporary file next to ``out``, then put it in place."""
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.",
                                    suffix=out.suffix.lower())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if out.suffix.lower() == ".xlsx":
            from openpyxl import Workbook

            wb = Workbook()
            ws = wb.active
            ws.title = "Invitations"
            ws.append(header)
            for r in rows:
                ws.append(r)
            ws.freeze_panes = "A2"
            wb.save(tmp)
        else:
            with tmp.open("w", newline="", encoding="utf-8-sig") as fh:
                w = csv.writer(fh)
                w.writerow(header)
                w.writerows(rows)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@app.command()
def invitations(
    commune: str,
    out: Annotated[Path, typer.Option(help="A .csv or .xlsx file")] = Path("invitations.csv"),
    keep_earlier: Annotated[bool, typer.Option(
        "--keep-earlier", help="Keep the earlier unused invitations of these units valid "
        "(by default they are revoked, so that only the new codes work)")] = False,
) -> None:
    """Create invitations for every unit of a commune into a CSV or XLSX file.

    Earlier invitations of the same units and roles that nobody has used yet are revoked,
    unless --keep-earlier is given.
    """
    _check_out_path(out)
    engine = _engine()
    settings = Settings()
    header = ["unit", "name", "role", "code", "link", "expires"]
    with session_scope(engine) as session:
        c = _find_unit(commune, session=session)
        username = _bot_username(settings)
        rows = []
        revoked = 0
        for u in [c, *repo.children(c.id, session=session)]:
            role = repo.default_role(u)
            if not keep_earlier:
                revoked += repo.revoke_unused_invitations(u.id, role, session=session)
            inv, code = repo.create_invitation(u, role=role, days=settings.invitation_days,
                                               session=session)
            rows.append([u.code, u.name, str(inv.role), code, _link(code, username),
                         inv.expires_at.strftime("%d/%m/%Y")])
        try:  # written before the commit: a file that cannot be written creates nothing
            _write_table(out, header, rows)
        except OSError as exc:
            raise _fail(f"--out {out}: cannot write the file: {exc.strerror or exc}") from exc
    typer.echo(f"{len(rows)} invitations written to {out}")
    if revoked:
        typer.echo(f"{revoked} earlier unused invitation(s) of these units were revoked: their "
                   "codes no longer work (use --keep-earlier to keep them)")


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
    import logging
    import secrets as pysecrets
    from urllib.parse import urlsplit

    from telegram import Update
    from telegram.error import InvalidToken

    from bot.app import build_application, install_log_redaction
    from bot.service import Env

    settings = Settings()
    if settings.token is None:
        raise _fail("CTVBOT_TOKEN is not set: put the bot token from @BotFather in it "
                    "(environment or .env file)")
    if webhook and not url:
        raise _fail("--webhook needs --url, the public URL the reverse proxy serves")
    if webhook and settings.webhook_secret is None:
        raise _fail("--webhook needs CTVBOT_WEBHOOK_SECRET (the same on every worker): "
                    f"for example {pysecrets.token_urlsafe(24)}")
    host, _, port = listen.rpartition(":")
    if webhook and not port.isdigit():
        raise _fail("--listen must be HOST:PORT, for example 127.0.0.1:8080")
    token = settings.token.get_secret_value()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction(token)
    if settings.webhook_secret is not None:
        install_log_redaction(settings.webhook_secret.get_secret_value())
    engine = _engine()
    env = Env(engine=engine, tz=settings.tz, bot_username=settings.bot_username or "",
              invitation_days=settings.invitation_days)
    application = build_application(env, token=token, base_url=settings.api_url,
                                     base_file_url=settings.base_file_url,
                                     replies_per_second=settings.replies_per_second)
    application.bot_data["messages_per_second"] = settings.messages_per_second  # reminders
    log = logging.getLogger("ctvbot")
    log.info("starting (%s, database: %s)", "webhook" if webhook else "long polling",
             engine.url.render_as_string(hide_password=True))
    try:
        if webhook:
            assert url is not None and settings.webhook_secret is not None
            application.run_webhook(
                listen=host or "127.0.0.1", port=int(port),
                url_path=urlsplit(url).path.lstrip("/"), webhook_url=url,
                secret_token=settings.webhook_secret.get_secret_value(),
                allowed_updates=Update.ALL_TYPES)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        # the exception's text holds the token: say what happened without it
        raise _fail("Telegram refused the bot token (CTVBOT_TOKEN): check it with "
                    "@BotFather, or CTVBOT_API_URL if you use your own Bot API server") from None
    log.info("stopped")


@app.command("backup")
def backup_cmd(file: Path) -> None:
    """Write the whole database to a file (gzipped JSON, any engine)."""
    from storage.backup import backup

    counts = backup(_engine(), file)
    typer.echo(f"{sum(counts.values())} rows from {len(counts)} tables written to {file}")


@app.command("restore")
def restore_cmd(file: Path) -> None:
    """Load a backup into an empty database (CTVBOT_DATABASE_URL)."""
    from storage.backup import RestoreRefused, restore

    try:
        counts = restore(_engine(), file)
    except RestoreRefused as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{sum(counts.values())} rows restored into {len(counts)} tables from {file}")


@app.command()
def demo(
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
    out: Annotated[Path | None, typer.Option(help="Folder for the files")] = None,
) -> None:
    """Play a commune's reporting year through the real bot, locally (no Telegram account)."""
    if lang not in ("vi", "en"):
        raise _fail("--lang must be vi or en")
    _sandbox("demo").main(lang, out)


@app.command()
def chat(
    member: Annotated[str, typer.Option("--as", help="The member: thon-hanh-thien, tram-y-te, "
                                        "thcs, cong-an, xuan-truong (the officer)…")]
    = "thon-hanh-thien",
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
) -> None:
    """Talk to the bot in the terminal as a member of the demo commune."""
    chat_face = _sandbox("chat")
    if member not in chat_face.MEMBERS:
        raise _fail(f"unknown member {member!r}; choose one of: {', '.join(chat_face.MEMBERS)}")
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
        raise _fail("this command runs from the project's checkout with its sandbox "
                    "(git clone, then uv sync)") from exc


def _register_subcommands() -> None:
    """Commands defined in their own modules: report, values."""
    from bot.report_cli import register as register_report

    register_report(app)


_register_subcommands()


if __name__ == "__main__":  # pragma: no cover
    main()
