"""``ctvbot report`` and ``ctvbot values import``: registered on bot.cli's Typer app."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.cli_text import (
    capped,
    open_database,
    progress,
    said_text,
    sentence,
    set_language,
    tr,
    working,
)
from bot.cli_text import fail as _fail
from bot.settings import Settings
from flows.callbacks import ascii_int
from storage.db import session_scope
from storage.models import Person, Round, Unit


class Lang(StrEnum):
    """Languages of the documents ``ctvbot report`` writes."""

    vi = "vi"
    en = "en"


class Format(StrEnum):
    """Output formats of ``ctvbot report``."""

    json = "json"
    docx = "docx"
    xlsx = "xlsx"
    png = "png"


def _engine() -> Engine:
    """The configured database, migrated (built when a command runs, never at import)."""
    return open_database()


def _default_unit(year: int, session: Session) -> str:
    """The only commune with a round in ``year`` (an error names them all otherwise)."""
    codes = sorted(set(session.exec(select(Unit.code).join(Round, col(Round.commune_id)
                                                           == Unit.id)
                                    .where(Round.year == year)).all()))
    if len(codes) == 1:
        return codes[0]
    if not codes:
        raise _fail(tr("cli.report.no_round", year=year))
    raise _fail(tr("cli.report.several", year=year, codes=", ".join(codes)))


def report(
    year: Annotated[int, typer.Option(help="The reporting year")],
    unit: Annotated[str | None, typer.Option(
        help="A commune, or an upper level (city, province) to add up its communes")] = None,
    fmt: Annotated[Format | None, typer.Option(
        "--format", help="json, docx, xlsx or png (default: from the --out file's extension, "
        "else json)")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output file (json: standard output when omitted)")] = None,
    place: Annotated[str | None, typer.Option(
        help="Place on the date line of the Word report (default: the commune's name)")]
    = None,
    sensitive: Annotated[bool, typer.Option(
        "--sensitive/--no-sensitive", help="Include sensitive indicators (abuse, HIV)")]
    = True,
    plan: Annotated[str | None, typer.Option(
        help="The plan code, when an upper level's communes use several plans")] = None,
    lang: Annotated[Lang, typer.Option(
        "--lang", help="Language of the Word, Excel and chart documents: vi or en")] = Lang.vi,
    number: Annotated[str | None, typer.Option(
        help="Word: the document number, \"15\" or \"15/BC-UBND\" (default: the commune "
             "file's report.number, else left to fill in by hand)")] = None,
    issued: Annotated[str | None, typer.Option(
        help="Word: the date of issue, YYYY-MM-DD or DD/MM/YYYY (default: today)")] = None,
    signer: Annotated[str | None, typer.Option(
        help="Word: the signer's name, under the signature")] = None,
    signer_title: Annotated[str | None, typer.Option(
        help="Word: the signer's title (default: CHỦ TỊCH)")] = None,
    on_behalf: Annotated[str | None, typer.Option(
        help="Word: the line above the title (default: TM. ỦY BAN NHÂN DÂN)")] = None,
    recipient: Annotated[list[str] | None, typer.Option(
        help="Word: a line of \"Nơi nhận\"; repeat it for each recipient (replaces the "
             "usual list)")] = None,
    template: Annotated[Path | None, typer.Option(
        help="Word: a province's own .docx template with placeholders (docs/report.md)",
        exists=True, dir_okay=False)] = None,
) -> None:
    """The annual report of a commune (or an upper level) as JSON, Word, Excel or a chart."""
    from bot import documents
    from storage import aggregate
    from storage.communes import parse_vn_date, report_settings, template_problems

    set_language(lang.value)
    fmt = _format(fmt, out)
    if out is not None:
        _check_out(out)
    try:
        issued_on = parse_vn_date(issued) if issued else None
    except ValueError as exc:
        raise _fail(tr("cli.report.bad_issued", issued=issued)) from exc
    if template is not None and (problems := template_problems(template)):
        raise _fail("\n".join(f"{template}: {said_text(p)}" for p in problems))
    given = documents.Issue(number=number, issued=issued_on, place=place, signer=signer,
                            signer_title=signer_title, on_behalf=on_behalf,
                            recipients=tuple(recipient or ()), template=template)
    engine = _engine()
    tz = Settings().tz
    with Session(engine, expire_on_commit=False) as session:
        code = unit or _default_unit(year, session)
        try:
            target = aggregate.resolve_unit(code, session)
            own = session.exec(select(Round.id).where(Round.commune_id == target.id,
                                                      Round.year == year)).first()
            if own is not None:
                rep = aggregate.build_report(target.id, year, session=session,
                                             include_sensitive=sensitive, tz=tz)
            else:
                with working(tr("cli.report.rollup", unit=target.name, year=year)):
                    rep = aggregate.build_rollup(target.id, year, session=session,
                                                 include_sensitive=sensitive, plan_code=plan,
                                                 tz=tz)
        except aggregate.ReportError as exc:
            raise _fail(said_text(exc)) from exc
        raw = (aggregate.raw_values(rep, session=session, limit=documents.EXCEL_MAX_ROWS - 1)
               if fmt is Format.xlsx else [])
        issue = documents.Issue(issued=_today()).merged(documents.Issue.from_settings(
            report_settings(rep.commune.id, session=session))).merged(given)
    if fmt is Format.json:
        text = json.dumps(aggregate.report_json(rep), ensure_ascii=False, indent=2)
        if out is None:
            typer.echo(text)
            return
        _write(out, (text + "\n").encode("utf-8"))
    else:
        out = out or Path(f"bao-cao-{rep.commune.code.replace('/', '-')}-{year}.{fmt.value}")
        if fmt is Format.docx:
            if issue.template is not None and not issue.template.is_file():
                raise _fail(tr("cli.report.no_template", template=issue.template))
            try:
                data = documents.report_docx(rep, include_sensitive=sensitive, tz=tz,
                                             lang=lang.value, issue=issue)
            except documents.TemplateError as exc:
                raise _fail(tr("cli.report.template_failed", template=exc.template,
                               reason=exc.reason)) from exc
        elif fmt is Format.xlsx:
            data = documents.report_xlsx(rep, raw, include_sensitive=sensitive, tz=tz,
                                         lang=lang.value)
        else:
            data = documents.report_png(rep, include_sensitive=sensitive, lang=lang.value)
        _write(out, data)
    counts = rep.counts()
    typer.echo(tr("cli.report.done", out=out, name=rep.commune.name, year=year,
                  dat=counts["dat"], khong_dat=counts["khong_dat"], chua_du=counts["chua_du"]))


def _format(fmt: Format | None, out: Path | None) -> Format:
    """The format asked for, else the one the --out file's extension names (else json); a
    format that contradicts the extension is refused."""
    ext = out.suffix.lower().lstrip(".") if out is not None else ""
    by_ext = Format(ext) if ext in Format.__members__ else None
    if fmt is None:
        if out is not None and by_ext is None:
            raise _fail(tr("cli.report.unknown_ext", out=out))
        return by_ext or Format.json
    if by_ext is not None and by_ext is not fmt:
        raise _fail(tr("cli.report.mismatch", out=out, fmt=fmt.value, ext=by_ext.value))
    return fmt


def _check_out(out: Path) -> None:
    """An output file whose folder exists and is not itself a folder."""
    if out.is_dir():
        raise _fail(tr("cli.report.out_is_folder", out=out))
    if not out.parent.is_dir():
        raise _fail(tr("cli.out.no_folder", out=out, folder=out.parent))


def _write(out: Path, data: bytes) -> None:
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise _fail(tr("cli.out.cannot_write", out=out, reason=exc.strerror or exc)) from exc


def values_import(
    file: Annotated[Path, typer.Argument(help="A .csv or .xlsx file", exists=True,
                                         dir_okay=False)],
    as_: Annotated[str | None, typer.Option(
        "--as", help="The officer making the import (person id or exact name)")] = None,
    submit: Annotated[bool, typer.Option(
        help="Also mark every unit of the file as having sent its report")] = False,
    allow_closed: Annotated[bool, typer.Option(
        "--allow-closed",
        help="Correct a round that is closed (chốt) or past its consolidation deadline: "
             "needs --as; the history records the officer, the round stays closed")] = False,
    lang: Annotated[Lang | None, typer.Option(
        "--lang", help="Language of the messages: vi or en (default: the command line's, "
                       "ctvbot --lang or CTVBOT_LANG, else vi)")] = None,
) -> None:
    """Import reported values (year, unit, indicator, numerator, denominator, value).

    Every row is checked first; if any row is wrong nothing is saved and each problem is
    printed as FILE:LINE: sentence, in the officer's language. Rounds closed by an officer
    or past their consolidation deadline are refused (as in the chat) unless --allow-closed
    --as OFFICER.
    """
    from storage.importer import ImportFailed, count_rows, import_values

    if lang is not None:
        set_language(lang.value)
    engine = _engine()
    today, tz = _today(), Settings().tz
    try:
        with session_scope(engine) as session, \
                progress(tr("cli.values.progress"), count_rows(file)) as advance:
            person_id = _person(as_, session) if as_ else None
            result = import_values(file, session=session, person_id=person_id,
                                   submit=submit, allow_closed=allow_closed, today=today,
                                   tz=tz, progress=advance)
    except ImportFailed as exc:
        lines = capped([_import_problem(exc.path, p) for p in exc.problems])
        if not allow_closed and any(p.key in LOCKED for p in exc.problems):
            lines.append(tr("cli.values.locked_hint"))
        raise _fail("\n".join([*lines, tr("cli.values.failed", count=len(exc.problems))])) \
            from exc
    typer.echo(tr("cli.values.done", file=file, rows=result.rows, saved=result.saved,
                  unchanged=result.unchanged, units=result.units)
               + (tr("cli.values.submitted", count=result.submitted) if submit else ""))


# problems of a locked round: the command line says how an officer corrects it
LOCKED = ("import.locked_closed", "import.locked_deadline", "import.submit_locked")
# the web page speaks to the signed-in officer ("you"); here --as names someone
CLI_WORDING = {"import.not_officer": "cli.values.not_officer"}


def _import_problem(path: str, problem: Any) -> str:
    """One wrong row of an imported file as FILE:LINE: sentence, in the command's language
    (the catalog sentences of the web's paper-report page)."""
    key = CLI_WORDING.get(problem.key, problem.key)
    return f"{path}:{problem.line}: {sentence(key, problem.params)}"


def _today() -> date:
    """Today in the communes' time zone (a round is locked after its consolidation day)."""
    return datetime.now(Settings().tz).date()


def _person(who: str, session: Session) -> int:
    """A person by id or exact name."""
    pid = ascii_int(who)  # "²" or an id past the database's integers is no id
    if pid is not None and session.get(Person, pid) is not None:
        return pid
    found = session.exec(select(Person).where(Person.name == who)).all()
    if len(found) == 1:
        assert found[0].id is not None
        return found[0].id
    raise _fail(tr("cli.values.person_ambiguous", who=who) if found
                else tr("cli.values.no_person", who=who))


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``values import`` to the ctvbot command line."""
    app.command("report")(report)
    values_app = typer.Typer(help="Reported values.", no_args_is_help=True)
    values_app.command("import")(values_import)
    app.add_typer(values_app, name="values")


if __name__ == "__main__":  # pragma: no cover
    _app = typer.Typer()
    register(_app)
    _app(sys.argv[1:])
