"""Rendering catalog messages in the person's language with Babel.

The locale lives in a ContextVar set per update; a missing or uncompiled catalog is an
error, never a silent fallback to the key.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from babel.support import Translations

import locales
from flows.effects import Count, Day, Msg, Ratio, Reply, Status, TargetText, YesNo
from flows.join import VIETNAMESE_LETTERS
from flows.rules import written_decimals

LOCALES_DIR = Path(locales.__file__).parent
DOMAIN = "ctvbot"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

_SPACES = re.compile(r"(?<=\S) {2,}")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,;])")

current_locale: ContextVar[str] = ContextVar("ctvbot_locale", default=DEFAULT_LANGUAGE)


class CatalogError(RuntimeError):
    """A catalog is missing, not compiled, or lacks a message."""


def pick_language(code: str | None) -> str:
    """Our language for a Telegram language_code (vi unless it is English)."""
    return "en" if (code or "").lower().startswith("en") else DEFAULT_LANGUAGE


# a letter with a Vietnamese accent (English has none), or a short answer
_VIETNAMESE_WORDS = frozenset({"có", "không", "chưa", "vâng", "dạ", "xong", "mã", "thôn"})


def looks_vietnamese(text: str) -> bool:
    """The text is written in Vietnamese (a letter or a word no other language uses)."""
    t = unicodedata.normalize("NFC", text)
    if VIETNAMESE_LETTERS.search(t):
        return True
    return any(w.strip(".,;!?") in _VIETNAMESE_WORDS for w in t.lower().split())


@cache
def translations(locale: str) -> Translations:
    """The compiled catalog of a locale."""
    mo = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.exists():
        raise CatalogError(f"catalog for {locale!r} is not compiled: {mo} is missing "
                           f"(run: pybabel compile -d locales -D {DOMAIN})")
    with mo.open("rb") as fh:
        return Translations(fh, domain=DOMAIN)


def text_of(key: str, locale: str | None = None) -> str:
    """The raw catalog sentence for a key."""
    loc = locale or current_locale.get()
    out = translations(loc).gettext(key)
    if out == key:
        raise CatalogError(f"no message {key!r} in the {loc!r} catalog")
    return out


@contextmanager
def use_locale(locale: str):
    """Render in ``locale`` inside the block."""
    token = current_locale.set(locale)
    try:
        yield
    finally:
        current_locale.reset(token)


@lru_cache(maxsize=4096)
def fmt_number(value: float, locale: str, decimals: int = 1) -> str:
    """A number with the locale's separators, up to ``decimals`` decimals (the same figures
    come back in every question and answer: they are formatted once)."""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=Locale.parse(locale))


def fmt_param(value: Any, locale: str) -> str:
    """One typed parameter as text."""
    if isinstance(value, Msg):
        return render(value, locale)
    if isinstance(value, Count):
        return fmt_number(value.n, locale, 0)
    if isinstance(value, Ratio):
        decimals = 0 if value.factor == 100000 else (2 if 0 < abs(value.value) < 1 else 1)
        decimals = max(decimals, value.decimals or 0)  # never reads as its target
        return text_of(f"ratio.{value.factor}", locale).format(
            value=fmt_number(value.value, locale, decimals))
    if isinstance(value, TargetText):
        return fmt_target(value, locale)
    if isinstance(value, Day):
        return format_date(value.d, text_of("format.date", locale), locale=Locale.parse(locale))
    if isinstance(value, YesNo | bool):
        yes = value.yes if isinstance(value, YesNo) else value
        return text_of("answer.yes", locale) if yes else text_of("answer.no", locale)
    if isinstance(value, Status):
        return text_of(f"task.{value.status}", locale)
    if isinstance(value, int):
        return str(value) if 1900 <= value <= 2100 else fmt_number(value, locale, 0)
    if isinstance(value, float):
        return fmt_number(value, locale, 2)
    return str(value)


def fmt_target(t: TargetText, locale: str) -> str:
    """A target as the plan states it, in the person's language."""
    direction = t.direction
    def num(v: float | None, with_unit: bool = True) -> str:
        if v is None:
            return ""
        if with_unit and t.factor:  # as written: 621,9/100.000, never 622
            return fmt_param(Ratio(v, t.factor, written_decimals(v)), locale)
        return fmt_number(v, locale, max(2, written_decimals(v)))
    if t.fraction is not None:  # "≤ 5/804", the exact target as the plan writes it
        return text_of(f"target.{direction}", locale).format(
            value=f"{fmt_number(t.fraction[0], locale, 0)}/{fmt_number(t.fraction[1], locale, 0)}",
            value_max="", ref_year="")
    if direction == "reduce_per_year" and t.value_max is not None:
        direction = "reduce_per_year_range"
    pct = direction.startswith("reduce")
    return text_of(f"target.{direction}", locale).format(
        value=num(t.value, not pct), value_max=num(t.value_max, not pct),
        ref_year=t.ref_year or "")


def render(m: Msg, locale: str | None = None) -> str:
    """A catalog message with its parameters, in ``locale`` (default: the current one)."""
    loc = locale or current_locale.get()
    params = {k: fmt_param(v, loc) for k, v in m.params.items()}
    text = text_of(m.key, loc).format_map(params)
    # an empty optional parameter (a unit label) must not leave "5 ." behind
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text))


def _has_key(key: str) -> bool:
    return translations("vi").gettext(key) != key


def worded(m: Msg, wording: str | None) -> Msg:
    """The message as a messenger words it: "{wording}.{key}" when the catalog has it (Zalo:
    a choice is typed, not pressed; an invitation is a code, not a link)."""
    if wording is None or not _has_key(f"{wording}.{m.key}"):
        return m
    return replace(m, key=f"{wording}.{m.key}")


def render_reply(reply: Reply, locale: str | None = None,
                 wording: str | None = None) -> tuple[str, list[list[tuple[str, str]]]]:
    """The text and the buttons (label, data) of a reply (``wording``: a messenger's own
    wording of some sentences, see ``worded``)."""
    loc = locale or current_locale.get()
    text = "\n".join(render(worded(line, wording), loc) for line in reply.lines)
    rows = [[(render(b.label, loc), b.data) for b in row] for row in reply.buttons]
    return text, rows
