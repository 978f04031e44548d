"""``ctvbot report`` and ``ctvbot values import``: registered on bot.cli's Typer app."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.settings import Settings
from flows.callbacks import ascii_int
from storage.db import make_engine, session_scope, upgrade
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
    engine = make_engine(Settings().database_url)
    upgrade(engine)
    return engine


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def _default_unit(year: int, session: Session) -> str:
    """The only commune with a round in ``year`` (an error names them all otherwise)."""
    codes = sorted(set(session.exec(select(Unit.code).join(Round, col(Round.commune_id)
                                                           == Unit.id)
                                    .where(Round.year == year)).all()))
    if len(codes) == 1:
        return codes[0]
    if not codes:
        raise _fail(f"no commune has a round for {year}")
    raise _fail(f"several communes have a round for {year}: {', '.join(codes)}; "
                "choose one with --unit")


def report(
    year: Annotated[int, typer.Option(help="The reporting year")],
    unit: Annotated[str | None, typer.Option(
        help="A commune, or an upper level (city, province) to add up its communes")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="json, docx, xlsx or png")]
    = Format.json,
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
) -> None:
    """The annual report of a commune (or an upper level) as JSON, Word, Excel or a chart."""
    from bot import documents
    from storage import aggregate

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
                rep = aggregate.build_rollup(target.id, year, session=session,
                                             include_sensitive=sensitive, plan_code=plan,
                                             tz=tz)
        except aggregate.ReportError as exc:
            raise _fail(str(exc)) from exc
        raw = (aggregate.raw_values(rep, session=session, limit=documents.EXCEL_MAX_ROWS - 1)
               if fmt is Format.xlsx else [])
    if fmt is Format.json:
        text = json.dumps(aggregate.report_json(rep), ensure_ascii=False, indent=2)
        if out is None:
            typer.echo(text)
            return
        out.write_text(text + "\n", encoding="utf-8")
    else:
        out = out or Path(f"bao-cao-{rep.commune.code.replace('/', '-')}-{year}.{fmt.value}")
        if fmt is Format.docx:
            data = documents.report_docx(rep, place=place, include_sensitive=sensitive, tz=tz,
                                         lang=lang.value)
        elif fmt is Format.xlsx:
            data = documents.report_xlsx(rep, raw, include_sensitive=sensitive, tz=tz,
                                         lang=lang.value)
        else:
            data = documents.report_png(rep, include_sensitive=sensitive, lang=lang.value)
        out.write_bytes(data)
    counts = rep.counts()
    typer.echo(f"{out}: {rep.commune.name} {year}: đạt {counts['dat']}, không đạt "
               f"{counts['khong_dat']}, chưa đủ {counts['chua_du']}")


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
) -> None:
    """Import reported values (year, unit, indicator, numerator, denominator, value).

    Every row is checked first; if any row is wrong nothing is saved and each problem is
    printed as FILE:LINE: message. Rounds closed by an officer or past their consolidation
    deadline are refused (as in the chat) unless --allow-closed --as OFFICER.
    """
    from storage.importer import ImportFailed, import_values

    engine = _engine()
    today, tz = _today(), Settings().tz
    try:
        with session_scope(engine) as session:
            person_id = _person(as_, session) if as_ else None
            result = import_values(file, session=session, person_id=person_id,
                                   submit=submit, allow_closed=allow_closed, today=today,
                                   tz=tz)
    except ImportFailed as exc:
        raise _fail(f"{exc}\n{len(exc.problems)} problem(s): nothing was saved") from exc
    typer.echo(f"{file}: {result.rows} row(s): {result.saved} saved, {result.unchanged} "
               f"unchanged, {result.units} unit(s)"
               + (f", {result.submitted} newly submitted" if submit else ""))


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
    raise _fail(f"no single person named {who!r}" if found else f"no person {who!r}")


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
