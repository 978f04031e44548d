"""The reporter's web form: one indicator's fields checked as the chat checks an answer.

Pure: ``check_entry`` reads what was typed in an indicator's fields (the same Vietnamese
number reading as the chat), applies the same rules (whole numbers, numerator ≤ denominator,
the question when a figure moves far from last year's) and says what to save, what to refuse
and what to ask. The web face stores the result; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


# ------------------------------------------------------------------ shared populations

POPULATION = "@"  # a shared population's field in the form: "v:@special_hamlet:value"
SLOT_PART = {"den": "population", "num": "numerator_population"}


@dataclass(frozen=True)
class Shared:
    """A population of the plan that several of a unit's indicators count (docs/plan-format.md):
    the form asks it once, in one field, and every indicator using it takes its figure.

    ``users``: (indicator code, the field it fills: ``den`` or ``num``), in plan order.
    """

    key: str
    question: str
    unit: str | None
    users: tuple[tuple[str, str], ...]

    @property
    def code(self) -> str:
        """The population's name in the form's fields."""
        return POPULATION + self.key

    @property
    def codes(self) -> tuple[str, ...]:
        """The indicators that take its figure."""
        return tuple(code for code, _ in self.users)


def is_population(code: str) -> bool:
    """A form field's code names a shared population, not an indicator."""
    return code.startswith(POPULATION)


def shared_populations(items: Sequence[Item]) -> tuple[Shared, ...]:
    """The populations at least two of these indicators' fields count, in plan order."""
    found: dict[str, list[tuple[Item, str]]] = {}
    for item in items:
        if item.kind != "rate":
            continue
        for slot, part in SLOT_PART.items():
            key = getattr(item, part)
            if key is not None:
                found.setdefault(key, []).append((item, slot))
    out = []
    for key, uses in found.items():
        if len(uses) < 2:
            continue
        first, slot = uses[0]
        question = (first.denominator_q if slot == "den" else first.numerator_q) or key
        out.append(Shared(key, question, first.unit, tuple((i.code, s) for i, s in uses)))
    return tuple(out)


def shared_slots(item: Item, shared: Sequence[Shared]) -> dict[str, Shared]:
    """The fields of ``item`` a shared population fills (``den``/``num`` -> population)."""
    return {slot: s for s in shared for code, slot in s.users if code == item.code}


def _slot_value(value: Value | None, slot: str) -> int | None:
    if value is None:
        return None
    n = value.denominator if slot == "den" else value.numerator
    return None if n is None else int(n)


def population_figure(shared: Shared, values: Mapping[str, Value]) -> int | None:
    """The population's figure in this round, as the chat offers it again («Vẫn là …»): the
    one given for the first indicator (in plan order) that has it."""
    for code, slot in shared.users:
        n = _slot_value(values.get(code), slot)
        if n is not None:
            return n
    return None


def population_last(shared: Shared, items: Sequence[Item]) -> int | None:
    """Last year's figure of the population, when one of its indicators has it."""
    by_code = {i.code: i for i in items}
    for code, slot in shared.users:
        item = by_code.get(code)
        n = _slot_value(item.last if item else None, slot)
        if n is not None:
            return n
    return None


def population_item(shared: Shared, items: Sequence[Item]) -> Item:
    """The population's field, shown as an indicator asking one count."""
    last = population_last(shared, items)
    return Item(code=shared.code, kind="count", name=shared.question,
                question=shared.question, unit=shared.unit,
                last=None if last is None else Value(value=float(last)))


def check_form(items: Sequence[Item], values: Mapping[str, Value],
               typed: Mapping[str, Mapping[str, str]],
               confirmed: Mapping[str, frozenset[str]], year: int) -> dict[str, Entry]:
    """Check what was typed in the form (code -> field -> text), indicators and shared
    populations (``@key`` -> ``value``) together: every indicator using a population takes
    the population's figure; a population's figure another indicator refuses, or asks about,
    is held with all its indicators (a population has one figure). The entries by code:
    an indicator's entry says what to save; a population's is only its verdict."""
    shared = shared_populations(items)
    entries: dict[str, Entry] = {}
    pop_text: dict[str, str] = {}
    refused: set[str] = set()
    for s in shared:
        if s.code not in typed:
            continue
        text = (typed[s.code].get("value") or "").strip()
        parsed = _count(text)
        if isinstance(parsed, Msg):
            entries[s.code] = Entry(problems={"value": parsed})
            refused.add(s.key)
        else:
            pop_text[s.key] = text
    wanted = set(typed) | {c for s in shared if s.key in pop_text or s.key in refused
                           for c in s.codes}
    pop_problems: dict[str, list[Msg]] = {}
    pop_confirm: dict[str, list[Msg]] = {}
    users: dict[str, list[tuple[str, str]]] = {}
    for item in items:
        if item.code not in wanted:
            continue
        slots = shared_slots(item, shared)
        stored = values.get(item.code)
        own = {f: t for f, t in (typed.get(item.code) or typed_of(item, stored)).items()
               if f not in slots}
        fields = dict(own)
        held = next((slot for slot, s in slots.items() if s.key in refused), None)
        if held is not None:
            entries[item.code] = Entry(problems={held: msg("web.population_held")})
            continue
        for slot, s in slots.items():
            if s.key in pop_text:
                fields[slot] = pop_text[s.key]
            else:
                n = population_figure(s, values)
                fields[slot] = "" if n is None else str(n)
        if slots and stored is None and not fields.get("den") and \
                not any(v.strip() for v in own.values()):
            continue  # only a part of a whole not given yet: nothing to keep here yet
        ok = set(confirmed.get(item.code, frozenset()))
        ok |= {slot for slot, s in slots.items() if "value" in confirmed.get(s.code, ())}
        entry = check_entry(item, fields, year, frozenset(ok))
        for slot, s in slots.items():
            if s.key not in pop_text:
                continue
            users.setdefault(s.key, []).append((item.code, slot))
            if entry.problems and slot in entry.problems:
                pop_problems.setdefault(s.key, []).append(
                    msg("web.population_problem", code=item.code, problem=entry.problems[slot]))
            if entry.confirm and slot in entry.confirm:
                pop_confirm.setdefault(s.key, []).append(entry.confirm[slot])
        entries[item.code] = entry
    for s in shared:
        if s.key not in pop_text:
            continue
        problems, asks = pop_problems.get(s.key), pop_confirm.get(s.key)
        if not problems and not asks:
            entries[s.code] = Entry(cleared=not pop_text[s.key])
            continue
        entries[s.code] = Entry(problems={"value": problems[0]} if problems else None,
                                confirm={"value": asks[0]} if asks and not problems else None)
        for code, slot in users.get(s.key, []):  # one figure: none of its indicators moves
            e = entries[code]
            confirm = {k: v for k, v in (e.confirm or {}).items() if k != slot}
            entries[code] = Entry(problems={**(e.problems or {}),
                                            slot: msg("web.population_held")},
                                  confirm=confirm or None)
    return entries
