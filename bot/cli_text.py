"""What the command line says: catalog sentences in the officer's language."""

from __future__ import annotations

import codecs
import itertools
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, current_locale, text_of

if TYPE_CHECKING:
    from sqlalchemy import Engine

MAX_SHOWN = 50  # problems listed before "… and N more"


def set_language(lang: str | None) -> str:
    """Speak ``lang`` (vi or en) for the rest of the command; Vietnamese by default."""
    chosen = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    current_locale.set(chosen)
    return chosen


def tr(key: str, **params: Any) -> str:
    """A catalog sentence in the command's language, with its named placeholders."""
    return text_of(key).format(**params)


_CODE_PAGE = {"name": "ascii"}  # the output's encoding (charmap codecs do not say theirs)


def _fits(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _without(marks: str, kept: tuple[str, ...]) -> list[str]:
    rest = list(marks)
    for m in kept:
        rest.remove(m)
    return rest


def _decompose(exc: UnicodeError) -> tuple[str, int]:
    """An encoding error handler: a letter the code page lacks ("ờ") is written as the longest
    composed start it has ("ơ") and the remaining combining marks (Windows-1258 has the tone
    marks), else "?"."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    encoding = _CODE_PAGE["name"] if exc.encoding == "charmap" else exc.encoding
    return "".join(_spell(ch, encoding) for ch in exc.object[exc.start:exc.end]), exc.end


def _spell(ch: str, encoding: str) -> str:
    """``ch`` as a composed letter the code page has plus combining marks it has, else "?"."""
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[:1], decomposed[1:]
    for k in range(len(marks), -1, -1):
        for kept in itertools.combinations(marks, k):
            head = unicodedata.normalize("NFC", base + "".join(kept))
            rest = _without(marks, kept)
            if _fits(head, encoding) and all(_fits(m, encoding) for m in rest):
                return head + "".join(rest)
    return "?"


codecs.register_error("ctvbot-decompose", _decompose)


def safe_output() -> None:
    """Never crash on a character the console or a redirected file cannot show (a Windows
    console, ``> file`` with PYTHONIOENCODING=cp1258): such characters are decomposed or
    replaced, the rest is written as it is."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if reconfigure is not None and encoding not in ("utf8", "utf8sig"):
            _CODE_PAGE["name"] = stream.encoding
            with suppress(ValueError, OSError):
                reconfigure(errors="ctvbot-decompose")


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error for a long job; yields ``advance(n)``.

    On a terminal it moves as the job goes; redirected, it is written once, when done.
    ``total`` may be an estimate (a sheet's declared size): once done, the bar ends full.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
        done = bar.tasks[0].completed
        if total is not None and done != total:
            bar.update(task, total=done)


def capped(lines: list[str], limit: int = MAX_SHOWN) -> list[str]:
    """The first ``limit`` problems, then how many there are in all."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], tr("cli.more_problems", shown=limit, total=len(lines))]


def fail(message: str) -> typer.Exit:
    """Say what went wrong on standard error; the command ends with exit code 1."""
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def open_database() -> Engine:
    """The configured database (CTVBOT_DATABASE_URL), migrated; a URL that is not supported
    or a database that cannot be reached ends the command with one clear line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from bot.settings import Settings
    from storage.db import make_engine, normalise_url, upgrade

    settings = Settings()
    url = settings.database_url
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise fail(tr("cli.db.bad_url")) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise fail(tr("cli.db.unsupported", url=shown, scheme=parsed.get_backend_name()))
    if parsed.get_backend_name() == "sqlite" and parsed.database and \
            parsed.database != ":memory:" and not Path(parsed.database).parent.is_dir():
        raise fail(tr("cli.db.no_folder", url=shown, folder=Path(parsed.database).parent))
    try:
        engine = make_engine(url, sqlite_synchronous=settings.sqlite_synchronous)
        upgrade(engine)
    except NoSuchModuleError:
        raise fail(tr("cli.db.unsupported", url=shown, scheme=parsed.get_backend_name())) \
            from None
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise fail(tr("cli.db.unreachable", url=shown,
                      reason=reason[0] if reason else type(exc).__name__)) from None
    return engine


@contextmanager
def working(description: str) -> Iterator[None]:
    """A spinner on standard error while a job that cannot count its steps runs (a roll-up);
    redirected, one line says what is being done."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        typer.echo(description + "…", err=True)
        yield
        return
    with console.status(description):
        yield


def said_text(change: Any) -> str:
    """A catalog sentence given as key and params (storage's Said or a setup Change), its
    values themselves sentences or lists, in the command's language."""
    return sentence(change.key, change.params)


def sentence(key: str, params: Mapping[str, Any]) -> str:
    """The catalog sentence ``key`` in the command's language, a value that is itself a
    sentence (anything with a key and params) or a list worded too."""
    def word(value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(word(v)) for v in value)
        if hasattr(value, "key") and hasattr(value, "params"):
            return said_text(value)
        return value

    return tr(key, **{k: word(v) for k, v in params.items()})
