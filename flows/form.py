"""The reporter's web form: one indicator's fields checked as the chat checks an answer.

Pure: ``check_entry`` reads what was typed in an indicator's fields (the same Vietnamese
number reading as the chat), applies the same rules (whole numbers, numerator ≤ denominator,
the question when a figure moves far from last year's) and says what to save, what to refuse
and what to ask. The web face stores the result; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flows.effects import Count, Msg, msg
from flows.numbers import MAX_TEXT, Refusal, parse_count, parse_task_status, parse_yes_no
from flows.report import MAX_TASK_TEXT, REFUSAL_KEYS, UNUSUAL_CHANGE, Item, Value

TASK_STATUSES = ("not_started", "in_progress", "done")


def fields_of(item: Item) -> tuple[str, ...]:
    """The names of an indicator's fields in the form (``den``, ``num``, ``value``, ``note``)."""
    if item.kind == "rate":
        return ("den", "num")
    if item.kind == "task":
        return ("value", "note")
    return ("value",)


@dataclass(frozen=True)
class Entry:
    """What one indicator's fields say: the value to save (None: nothing to save), whether
    the fields were emptied (the saved value is cleared), the refusal or the question.

    ``problems``: field name -> message (a refusal: nothing of this indicator is saved);
    ``confirm``: field name -> the unusual-value question (saved only once confirmed).
    """

    value: Value | None = None
    cleared: bool = False
    problems: Mapping[str, Msg] | None = None
    confirm: Mapping[str, Msg] | None = None

    @property
    def ok(self) -> bool:
        """Nothing refused and nothing to confirm."""
        return not self.problems and not self.confirm


def _unusual(last: Value | None, field_name: str, n: int) -> int | None:
    """Last year's figure when ``n`` is more than ±50% away from it (the chat's rule)."""
    if last is None:
        return None
    before = getattr(last, field_name)
    if before is None or before == 0:
        return None
    before = int(before)
    return before if abs(n - before) / before > UNUSUAL_CHANGE else None


def _count(text: str) -> int | Msg | None:
    """A typed count, a refusal, or None when the field is empty."""
    if not text.strip():
        return None
    parsed = parse_count(text[:MAX_TEXT + 1])
    if isinstance(parsed, Refusal):
        return msg(REFUSAL_KEYS[parsed], text=text.strip()[:40])
    return parsed


def check_entry(item: Item, typed: Mapping[str, str], year: int,
                confirmed: frozenset[str] = frozenset()) -> Entry:
    """Check what was typed for ``item`` (field -> text); ``confirmed``: the fields whose
    unusual figure the person confirmed."""
    def get(name: str) -> str:
        return (typed.get(name) or "").strip()

    if item.kind == "rate":
        den, num = _count(get("den")), _count(get("num"))
        problems = {k: v for k, v in (("den", den), ("num", num)) if isinstance(v, Msg)}
        if problems:
            return Entry(problems=problems)
        assert not isinstance(den, Msg) and not isinstance(num, Msg)
        if den is None and num is None:
            return Entry(cleared=True)
        if num is not None and den is not None and num > den:
            return Entry(problems={"num": msg("err.numerator_above", numerator=Count(num),
                                              denominator=Count(den), unit=item.unit or "")})
        if num is not None and den is None:
            return Entry(problems={"den": msg("web.need_total")})
        return _with_confirm(item, year, confirmed, Value(numerator=num, denominator=den),
                             (("den", "denominator", den), ("num", "numerator", num)))
    if item.kind in ("yes_no", "share_units"):
        text = get("value")
        if not text:
            return Entry(cleared=True)
        yes = parse_yes_no(text)
        if yes is None:
            return Entry(problems={"value": msg("web.yes_no")})
        return Entry(value=Value(value=1.0 if yes else 0.0))
    if item.kind == "task":
        text = get("value")
        if not text:
            return Entry(cleared=True)
        status = text if text in TASK_STATUSES else parse_task_status(text)
        if status is None:
            return Entry(problems={"value": msg("web.task_status")})
        note = get("note")
        if len(note) > MAX_TASK_TEXT:
            return Entry(problems={"note": msg("web.note_too_long", limit=MAX_TASK_TEXT)})
        return Entry(value=Value(task_status=status, text=note or None))
    n = _count(get("value"))
    if isinstance(n, Msg):
        return Entry(problems={"value": n})
    if n is None:
        return Entry(cleared=True)
    return _with_confirm(item, year, confirmed, Value(value=float(n)),
                         (("value", "value", n),))


def _with_confirm(item: Item, year: int, confirmed: frozenset[str], value: Value,
                  checks: tuple[tuple[str, str, int | None], ...]) -> Entry:
    asks = {}
    for name, attr, n in checks:
        if n is None or name in confirmed:
            continue
        last = _unusual(item.last, attr, n)
        if last is not None:
            asks[name] = msg("web.confirm_unusual", value=Count(n), last=Count(last),
                             last_year=year - 1)
    return Entry(value=value, confirm=asks or None) if asks else Entry(value=value)


def typed_of(item: Item, value: Value | None) -> dict[str, str]:
    """A stored value as the form's fields show it (digits, as the person would type)."""
    if value is None:
        return {}
    if item.kind == "rate":
        return {k: str(v) for k, v in (("den", value.denominator), ("num", value.numerator))
                if v is not None}
    if item.kind in ("yes_no", "share_units"):
        return {} if value.value is None else {"value": "yes" if value.value else "no"}
    if item.kind == "task":
        return {k: v for k, v in (("value", value.task_status), ("note", value.text)) if v}
    return {} if value.value is None else {"value": str(int(value.value))}
