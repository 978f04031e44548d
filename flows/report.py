"""The reporting conversation as a pure, table-driven state machine.

``step(state, event, sheet)`` returns the new state and the effects (replies, saves, a
submission). The state is a small JSON-able dict the shell stores in the database, so a
restart or another bot process continues at exactly the same question. See report.md for
the diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import StrEnum
from typing import Any

from flows.callbacks import ReportAction, ascii_int
from flows.effects import (
    Button,
    Count,
    Day,
    Effect,
    Msg,
    Ratio,
    Reply,
    Save,
    Status,
    SubmitReport,
    TargetText,
    YesNo,
    msg,
)
from flows.numbers import (
    Refusal,
    is_skip,
    normalise,
    parse_count,
    parse_task_status,
    parse_yes_no,
)

# ------------------------------------------------------------------ states


class Step(StrEnum):
    """Where the person is in the report."""

    idle = "idle"
    ask_denominator = "ask_denominator"
    ask_numerator = "ask_numerator"
    ask_yes_no = "ask_yes_no"
    ask_number = "ask_number"
    ask_task_status = "ask_task_status"
    ask_task_text = "ask_task_text"
    confirm_unusual = "confirm_unusual"
    review = "review"


IDLE = Step.idle
ASK_DENOMINATOR = Step.ask_denominator
ASK_NUMERATOR = Step.ask_numerator
ASK_YES_NO = Step.ask_yes_no
ASK_NUMBER = Step.ask_number
ASK_TASK_STATUS = Step.ask_task_status
ASK_TASK_TEXT = Step.ask_task_text
CONFIRM_UNUSUAL = Step.confirm_unusual
REVIEW = Step.review

QUESTION_STEPS = {ASK_DENOMINATOR, ASK_NUMERATOR, ASK_YES_NO, ASK_NUMBER, ASK_TASK_STATUS,
                  ASK_TASK_TEXT, CONFIRM_UNUSUAL}

STATE_VERSION = 2  # 1: the untyped dict of earlier versions (no "version" key)


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else \
        int(x) if isinstance(x, str) and x.isdigit() else None


def _step(x: Any) -> Step | None:
    return Step(x) if x in Step._value2member_map_ else None


@dataclass(frozen=True)
class ReportState:
    """The conversation state, stored as JSON between updates (see report.md).

    ``active``: in the report (the earlier ``"flow": "report"``); ``round``, ``step``,
    ``code``: the question open; ``den``: a rate's total typed before its numerator;
    ``back``: return to the review after this item; ``skipped``: items left empty for now;
    ``paused``: after /huy; ``pending``, ``asked``, ``against``, ``same``: a figure awaiting
    confirmation, the question it answers and what it was compared with; ``status``: a task's
    status before its note; ``held``: totals typed for rates left half-done; ``unit``: the
    unit reported for (set by the shell).
    """

    active: bool = False
    round: int | None = None
    step: Step = Step.idle
    code: str | None = None
    den: int | None = None
    back: bool = False
    skipped: tuple[str, ...] = ()
    paused: bool = False
    pending: int | None = None
    asked: Step | None = None
    against: int | None = None
    same: bool = False
    status: str | None = None
    held: tuple[tuple[str, int], ...] = ()
    unit: int | None = None
    version: int = STATE_VERSION

    @property
    def asking(self) -> bool:
        """A question is open."""
        return self.active and self.step in QUESTION_STEPS

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored (fields at their default left out; {} when idle)."""
        if self == ReportState():
            return {}
        out: dict[str, Any] = {"version": self.version}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "version" or v == f.default:
                continue
            out[f.name] = {c: d for c, d in v} if f.name == "held" else \
                list(v) if f.name == "skipped" else str(v) if isinstance(v, Step) else v
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReportState:
        """A stored state, of this version or the untyped dict of version 1; what cannot be
        read is dropped (the person starts the question again, nothing is lost)."""
        d = dict(data or {})
        if d.get("version") is None:  # version 1: {"flow": "report", "step": ..., ...}
            d["active"] = d.pop("flow", None) == "report"
        held = d.get("held") if isinstance(d.get("held"), Mapping) else {}
        skipped = d.get("skipped") if isinstance(d.get("skipped"), list | tuple) else []
        return cls(
            active=bool(d.get("active")), round=_int(d.get("round")),
            step=_step(d.get("step")) or Step.idle,
            code=str(d["code"]) if d.get("code") is not None else None,
            den=_int(d.get("den")), back=bool(d.get("back")),
            skipped=tuple(sorted({str(c) for c in skipped})), paused=bool(d.get("paused")),
            pending=_int(d.get("pending")), asked=_step(d.get("asked")),
            against=_int(d.get("against")), same=bool(d.get("same")),
            status=d.get("status") if isinstance(d.get("status"), str) else None,
            held=tuple(sorted((str(c), n) for c, v in held.items()
                              if (n := _int(v)) is not None)),
            unit=_int(d.get("unit")))

    def as_flow(self) -> dict[str, Any]:
        """The working form the handlers below read and write (version 1's keys)."""
        if not self.active:
            return {}
        out = {k: v for k, v in self.to_json().items() if k not in ("version", "active",
                                                                    "unit")}
        return {"flow": "report", **out}


UNUSUAL_CHANGE = 0.5  # ask for confirmation when a count moves more than ±50% from last year
MAX_TASK_TEXT = 500

# ------------------------------------------------------------------ what the flow sees


@dataclass(frozen=True)
class Target:
    """The target that applies to the round's year."""

    year: int  # the milestone year whose target applies
    direction: str
    value: float | None = None
    value_max: float | None = None
    ref_year: int | None = None
    fraction: tuple[int, int] | None = None  # "xuống 5/804", as the plan writes it


@dataclass(frozen=True)
class Value:
    """A stored value."""

    numerator: int | None = None
    denominator: int | None = None
    value: float | None = None
    task_status: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Item:
    """An indicator the unit reports, with its texts in the person's language."""

    code: str
    kind: str
    name: str
    factor: int | None = None
    question: str | None = None
    numerator_q: str | None = None
    denominator_q: str | None = None
    unit: str | None = None
    target: Target | None = None
    last: Value | None = None
    population: str | None = None  # the plan's population the denominator counts
    numerator_population: str | None = None  # … and the numerator


@dataclass(frozen=True)
class Sheet:
    """Everything the flow needs to know about one unit's report in one round."""

    round_id: int
    year: int
    unit_name: str
    deadline: date
    consolidation_deadline: date
    items: tuple[Item, ...]
    values: Mapping[str, Value] = field(default_factory=dict)
    submitted: bool = False
    locked: bool = False
    closed_on: date | None = None
    contact: str | None = None
    unit_id: int | None = None

    def item(self, code: str) -> Item | None:
        """The item with this code."""
        return next((i for i in self.items if i.code == code), None)

    def position(self, code: str) -> int:
        """1-based position of an item."""
        return next(n for n, i in enumerate(self.items, 1) if i.code == code)

    def missing(self) -> list[Item]:
        """Items with no complete value."""
        return [i for i in self.items if not is_complete(i, self.values.get(i.code))]


def is_complete(item: Item, value: Value | None) -> bool:
    """A value that answers the indicator fully."""
    if value is None:
        return False
    if item.kind == "rate":
        return value.numerator is not None and value.denominator is not None
    if item.kind == "task":
        return value.task_status is not None
    return value.value is not None


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class Start:
    """/report, or "Báo cáo ngay": optionally at a given indicator."""

    code: str | None = None


@dataclass(frozen=True)
class Text:
    """A text the person typed."""

    text: str


@dataclass(frozen=True)
class Press:
    """A button: action and the indicator it was shown for."""

    action: str
    code: str = ""
    arg: str = ""


@dataclass(frozen=True)
class Cancel:
    """/cancel."""


Event = Start | Text | Press | Cancel


@dataclass(frozen=True)
class Result:
    """The new state and the effects to carry out, in order."""

    state: ReportState
    effects: tuple[Effect, ...] = ()


# ------------------------------------------------------------------ helpers


def data(sheet: Sheet, action: str, code: str = "", arg: str = "") -> str:
    """Callback data for a button of this round (see flows/callbacks.py)."""
    return ReportAction(sheet.round_id, action, code, arg).encode()


def _skip_button(sheet: Sheet, code: str) -> tuple[Button, ...]:
    return (Button(msg("btn.no_data"), data(sheet, "skip", code)),)


def _progress(sheet: Sheet, item: Item) -> dict[str, Any]:
    return {"pos": sheet.position(item.code), "total": len(sheet.items), "code": item.code,
            "name": item.name}


def _target_params(item: Item) -> dict[str, Any]:
    t = item.target
    if t is None:
        return {}
    factor = item.factor or (100 if item.kind == "share_units" else None)
    return {"target": TargetText(t.direction, t.value, t.value_max, factor, t.ref_year,
                                 t.fraction),
            "target_year": t.year}


def suggestion(sheet: Sheet, item: Item, values: Mapping[str, Value] | None) -> int | None:
    """A figure already given for the same question (the same child count asked again).

    The nearest earlier indicator in plan order wins (the latest answer as the person goes
    through the report), then the nearest later one.
    """
    if not values or not item.denominator_q:
        return None
    own = values.get(item.code)
    if own is not None and own.denominator is not None and own.numerator is None:
        return own.denominator  # this indicator's own total, typed before the person left it
    items = list(sheet.items)
    here = next((n for n, i in enumerate(items) if i.code == item.code), len(items))
    for other in [*reversed(items[:here]), *items[here + 1:]]:
        v = values.get(other.code)
        if v is None:
            continue
        if _same(other.population, other.denominator_q, item) and v.denominator is not None:
            return v.denominator
        if _same(other.numerator_population, other.numerator_q, item) and \
                v.numerator is not None:
            return v.numerator
    return None


def _same(population: str | None, question: str | None, item: Item) -> bool:
    """Another indicator's figure counts what ``item``'s denominator counts: the same
    population of the plan, or (for a plan without populations) the same question."""
    if item.population is not None:
        return population == item.population
    return population is None and question == item.denominator_q


def ask(sheet: Sheet, item: Item, step: str,
        values: Mapping[str, Value] | None = None, den: int | None = None) -> Reply:
    """The question for a step of an item (``den``: the total just typed, for a rate)."""
    p = _progress(sheet, item)
    if step == ASK_DENOMINATOR:
        known = suggestion(sheet, item, values if values is not None else sheet.values)
        rows: tuple[tuple[Button, ...], ...] = (_skip_button(sheet, item.code),)
        if known is not None:
            rows = ((Button(msg("btn.use_same", value=Count(known)),
                            data(sheet, "use", item.code, str(known))),), *rows)
        return Reply((msg("report.ask", **p, question=item.denominator_q),), rows, True)
    if step == ASK_NUMERATOR:
        rows: tuple[tuple[Button, ...], ...] = (_skip_button(sheet, item.code),)
        if den is not None:
            rows = (*rows, (Button(msg("btn.fix_total", value=Count(den)),
                                   data(sheet, "reden", item.code)),))
        return Reply((msg("report.ask", **p, question=item.numerator_q),), rows, True)
    if step == ASK_YES_NO:
        return Reply((msg("report.ask", **p, question=item.question),),
                     ((Button(msg("btn.yes"), data(sheet, "yes", item.code)),
                       Button(msg("btn.no"), data(sheet, "no", item.code))),
                      _skip_button(sheet, item.code)), True)
    if step == ASK_TASK_STATUS:
        return Reply((msg("report.ask", **p, question=item.question),),
                     ((Button(msg("btn.task_not_started"), data(sheet, "ts", item.code, "n")),
                       Button(msg("btn.task_in_progress"), data(sheet, "ts", item.code, "p")),
                       Button(msg("btn.task_done"), data(sheet, "ts", item.code, "d"))),
                      _skip_button(sheet, item.code)), True)
    if step == ASK_TASK_TEXT:
        return Reply((msg("report.ask_task_text", code=item.code, limit=MAX_TASK_TEXT),),
                     ((Button(msg("btn.no_note"), data(sheet, "nonote", item.code)),),), True)
    return Reply((msg("report.ask", **p, question=item.question),),
                 (_skip_button(sheet, item.code),), True)


def first_step(item: Item) -> str:
    """Where an item's questions begin."""
    return {"rate": ASK_DENOMINATOR, "yes_no": ASK_YES_NO, "share_units": ASK_YES_NO,
            "task": ASK_TASK_STATUS}.get(item.kind, ASK_NUMBER)


def value_text(item: Item, v: Value, with_target: bool = True) -> Msg:
    """A stored value as the person reads it: "124/125 trẻ = 99,2% — kế hoạch 2026: ≥ 98,5%"."""
    unit = item.unit or ""
    if item.kind == "rate":
        assert v.numerator is not None and v.denominator is not None
        nums = {"numerator": Count(v.numerator), "denominator": Count(v.denominator), "unit": unit}
        if v.denominator == 0:
            return msg("value.rate_zero", **nums)
        rate = Ratio(v.numerator / v.denominator * (item.factor or 100), item.factor or 100)
        body = msg("value.rate", **nums, rate=rate)
    elif item.kind in ("yes_no", "share_units"):
        body = msg("value.yes_no", answer=YesNo(bool(v.value)))
    elif item.kind == "task":
        if v.text:
            return msg("value.task_note", status=Status(v.task_status or ""), note=v.text)
        return msg("value.task", status=Status(v.task_status or ""))
    else:
        body = msg("value.number", value=Count(int(v.value or 0)), unit=unit)
    tp = _target_params(item)
    if with_target and tp:
        return msg("value.with_target", value=body, **tp)
    return body


def saved_message(item: Item, v: Value) -> Msg:
    """What the bot says back once a value is stored."""
    return msg("report.saved", code=item.code, value=value_text(item, v))


def fix_buttons(sheet: Sheet, code: str) -> tuple[tuple[Button, ...], ...]:
    """The "fix" button under a confirmation."""
    return ((Button(msg("btn.fix"), data(sheet, "fix", code)),),)


def review(sheet: Sheet, values: Mapping[str, Value]) -> Reply:
    """All values, what is still missing, and the submit button."""
    lines: list[Msg] = [msg("report.review_header", year=sheet.year, unit_name=sheet.unit_name)]
    for item in sheet.items:
        v = values.get(item.code)
        if is_complete(item, v):
            assert v is not None
            lines.append(msg("report.review_line", code=item.code, name=item.name,
                             value=value_text(item, v)))
        else:
            lines.append(msg("report.review_missing", code=item.code, name=item.name))
    missing = sum(1 for i in sheet.items if not is_complete(i, values.get(i.code)))
    if missing:
        lines.append(msg("report.review_missing_count", count=missing))
    if sheet.submitted:
        lines.append(msg("report.review_submitted", deadline=Day(sheet.consolidation_deadline)))
    fix_row = [Button(msg("btn.fix_code", code=i.code), data(sheet, "fix", i.code))
               for i in sheet.items]
    rows = [tuple(fix_row[n:n + 4]) for n in range(0, len(fix_row), 4)]
    if missing == len(sheet.items):  # nothing to send yet
        lines.append(msg("report.review_empty"))
        return Reply(tuple(lines), tuple(rows))
    label = msg("btn.resubmit") if sheet.submitted else msg("btn.submit")
    submit = Button(label, data(sheet, "submit"))
    return Reply(tuple(lines), (*rows, (submit,)))


# ------------------------------------------------------------------ the machine


@dataclass(frozen=True)
class Ctx:
    """One step's working data: the sheet, the values as they now stand, effects so far."""

    sheet: Sheet
    values: dict[str, Value]
    effects: list[Effect]

    def say(self, reply: Reply) -> None:
        """Queue a reply."""
        self.effects.append(reply)


def _state(sheet: Sheet, step: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"flow": "report", "round": sheet.round_id, "step": step}
    if code is not None:
        st["code"] = code
    st.update({k: v for k, v in extra.items() if v is not None})
    return st


def _goto_item(ctx: Ctx, item: Item, review_after: bool = False) -> dict[str, Any]:
    step = first_step(item)
    ctx.say(ask(ctx.sheet, item, step, ctx.values))
    return _state(ctx.sheet, step, item.code, back=True if review_after else None)


def _next(ctx: Ctx, after: str | None, state: Mapping[str, Any]) -> dict[str, Any]:
    """Go to the next item with no value after ``after`` (in plan order), else review."""
    skipped = set(state.get("skipped", []))
    if not state.get("back"):
        items = list(ctx.sheet.items)
        start = 0 if after is None else next(
            (n + 1 for n, i in enumerate(items) if i.code == after), len(items))
        for item in items[start:]:
            if item.code in skipped or is_complete(item, ctx.values.get(item.code)):
                continue
            new = _goto_item(ctx, item)
            if skipped:
                new["skipped"] = sorted(skipped)
            return new
    ctx.say(review(ctx.sheet, ctx.values))
    return _state(ctx.sheet, REVIEW)


def _accept(ctx: Ctx, item: Item, value: Value, state: Mapping[str, Any]) -> dict[str, Any]:
    ctx.effects.append(Save(item.code, value.numerator, value.denominator, value.value,
                            value.task_status, value.text))
    ctx.values[item.code] = value
    also = _share_population(ctx, item, value)
    skipped = [c for c in state.get("skipped", []) if c != item.code]
    before = len(ctx.effects)
    new = _next(ctx, item.code, {**state, "skipped": skipped})
    following = ctx.effects[before]
    assert isinstance(following, Reply)
    ctx.effects[before] = saved_with(ctx.sheet, item, value, following, also)
    return new


def _share_population(ctx: Ctx, item: Item, value: Value) -> tuple[str, ...]:
    """A population's figure changed: every other indicator already answered that counts
    the same population takes it (where it still fits: a part never above its whole).
    The codes changed."""
    figures = {p: n for p, n in ((item.population, value.denominator),
                                 (item.numerator_population, value.numerator))
               if p is not None and n is not None}
    changed = []
    for other in ctx.sheet.items:
        v = ctx.values.get(other.code)
        if other.code == item.code or other.kind != "rate" or not is_complete(other, v):
            continue
        assert v is not None and v.numerator is not None and v.denominator is not None
        num = figures.get(other.numerator_population or "", v.numerator)
        den = figures.get(other.population or "", v.denominator)
        if (num, den) == (v.numerator, v.denominator) or num > den:
            continue
        new = replace(v, numerator=num, denominator=den)
        ctx.effects.append(Save(other.code, num, den, None, None, None))
        ctx.values[other.code] = new
        changed.append(other.code)
    return tuple(changed)


def saved_with(sheet: Sheet, item: Item, value: Value, following: Reply,
               also: tuple[str, ...] = ()) -> Reply:
    """One message: the value said back, then what follows (the next question with a
    "✏️ Sửa" of this answer beside its buttons, or the review, which has every "Sửa");
    ``also``: indicators that took the same population's new figure."""
    shared = (msg("report.population_shared", codes=", ".join(also)),) if also else ()
    lines = (saved_message(item, value), *shared, *following.lines)
    if not following.transient:  # the review: its rows already fix every indicator
        return Reply(lines, following.buttons)
    fix = Button(msg("btn.fix_answer", code=item.code), data(sheet, "fix", item.code))
    return Reply(lines, (*following.buttons, (fix,)), True)


def _unusual(item: Item, field_name: str, n: int) -> int | None:
    """Last year's figure when ``n`` is more than ±50% away from it, else None."""
    if item.last is None:
        return None
    last = getattr(item.last, field_name)
    if last is None or last == 0:
        return None
    last = int(last)
    return last if abs(n - last) / last > UNUSUAL_CHANGE else None


REFUSAL_KEYS = {  # why a typed figure was refused -> what the person is told
    Refusal.empty: "err.empty",
    Refusal.not_number: "err.not_number",
    Refusal.decimal: "err.decimal",
    Refusal.negative: "err.negative",
    Refusal.too_large: "err.too_large",
    Refusal.percent: "err.percent",
    Refusal.doubtful: "err.doubtful",
}


def _refuse(ctx: Ctx, item: Item, state: Mapping[str, Any], reason: Refusal,
            text: str) -> None:
    question = ask(ctx.sheet, item, state["step"], ctx.values, den=_int(state.get("den")))
    ctx.say(Reply((msg(REFUSAL_KEYS[reason], text=text[:40]), *question.lines),
                  question.buttons, True))


def _on_count(ctx: Ctx, item: Item, state: Mapping[str, Any], n: int,
              confirmed: bool = False) -> dict[str, Any]:
    step = state["step"]
    if step == ASK_DENOMINATOR:
        last = None if confirmed else _unusual(item, "denominator", n)
        if last is not None:
            return _confirm(ctx, item, state, n, last)
        known = None if confirmed else suggestion(ctx.sheet, item, ctx.values)
        if known is not None and n != known and (
                item.population is not None or (known and abs(n - known) / known > UNUSUAL_CHANGE)):
            # a population of the plan has one figure: another one is never taken silently
            return _confirm(ctx, item, state, n, known, same_question=True)
        if n == 0:  # none at all: "of them, how many…?" can only be 0, so it is not asked
            return _accept(ctx, item, Value(numerator=0, denominator=0), state)
        question = ask(ctx.sheet, item, ASK_NUMERATOR, den=n)
        ctx.say(Reply((msg("report.understood", value=Count(n), unit=item.unit or ""),
                       *question.lines), question.buttons, True))
        return {**_state(ctx.sheet, ASK_NUMERATOR, item.code, den=n, back=state.get("back")),
                "skipped": list(state.get("skipped", []))}
    if step == ASK_NUMERATOR:
        den = int(state["den"])
        if n > den:
            question = ask(ctx.sheet, item, ASK_NUMERATOR, den=den)
            ctx.say(Reply((msg("err.numerator_above", numerator=Count(n), denominator=Count(den),
                               unit=item.unit or ""), *question.lines), question.buttons, True))
            return dict(state)
        last = None if confirmed else _unusual(item, "numerator", n)
        if last is not None:
            return _confirm(ctx, item, state, n, last)
        return _accept(ctx, item, Value(numerator=n, denominator=den), state)
    last = None if confirmed else _unusual(item, "value", n)
    if last is not None:
        return _confirm(ctx, item, state, n, last)
    return _accept(ctx, item, Value(value=float(n)), state)


def _confirm_reply(sheet: Sheet, item: Item, n: int, last: int, same_question: bool) -> Reply:
    if same_question:
        line = msg("report.confirm_same_question", value=Count(n), earlier=Count(last))
    else:
        line = msg("report.confirm_unusual", value=Count(n), last=Count(last),
                   last_year=sheet.year - 1)
    return Reply((line,), ((Button(msg("btn.confirm"), data(sheet, "ok", item.code, str(n))),
                            Button(msg("btn.retype"), data(sheet, "re", item.code))),), True)


def _confirm(ctx: Ctx, item: Item, state: Mapping[str, Any], n: int,
             last: int, same_question: bool = False) -> dict[str, Any]:
    ctx.say(_confirm_reply(ctx.sheet, item, n, last, same_question))
    return {**dict(state), "step": CONFIRM_UNUSUAL, "pending": n, "asked": state["step"],
            "against": last, "same": True if same_question else None}


def _unconfirm(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state of the question the confirmation interrupted."""
    asked = {k: v for k, v in state.items() if k not in ("pending", "asked", "against", "same")}
    asked["step"] = state["asked"]
    return asked


def _retype(ctx: Ctx, item: Item, state: Mapping[str, Any]) -> dict[str, Any]:
    asked = _unconfirm(state)
    ctx.say(ask(ctx.sheet, item, asked["step"], ctx.values, den=asked.get("den")))
    return asked


def _on_confirm_text(ctx: Ctx, item: Item, state: dict[str, Any], text: str) -> dict[str, Any]:
    """A typed answer to "is this figure right?": yes, no, or simply the right figure."""
    pending = int(state["pending"])
    t = normalise(text)
    if t in ("nhập lại", "nhap lai", "sửa", "sua", "gõ lại", "go lai") or (
            parse_yes_no(text) is False and parse_count(text) != pending):
        return _retype(ctx, item, state)
    if parse_yes_no(text) is True:
        return _on_count(ctx, item, _unconfirm(state), pending, confirmed=True)
    parsed = parse_count(text)
    if isinstance(parsed, int):
        # the same figure again is a yes; another figure is the new answer, checked again
        return _on_count(ctx, item, _unconfirm(state), parsed, confirmed=parsed == pending)
    ctx.say(Reply((msg("report.confirm_hint"),)))
    ctx.say(_confirm_reply(ctx.sheet, item, pending, int(state.get("against") or 0),
                           bool(state.get("same"))))
    return state


def _on_text(ctx: Ctx, state: dict[str, Any], text: str) -> dict[str, Any]:
    step = state.get("step", IDLE)
    item = ctx.sheet.item(state.get("code", ""))
    if state.get("paused"):
        ctx.say(Reply((msg("report.idle_hint"),)))
        return state
    if step == REVIEW:
        ctx.say(Reply((msg("report.review_hint"),)))
        return state
    if step not in QUESTION_STEPS or item is None:
        ctx.say(Reply((msg("report.idle_hint"),)))
        return state
    if step not in (CONFIRM_UNUSUAL, ASK_TASK_TEXT) and is_skip(text, yes_no=step == ASK_YES_NO):
        return _skip(ctx, item, state)
    return TEXT[step](ctx, item, state, text)


def _text_count(ctx: Ctx, item: Item, state: dict[str, Any], text: str) -> dict[str, Any]:
    parsed = parse_count(text)
    if isinstance(parsed, Refusal):
        _refuse(ctx, item, state, parsed, text)
        return state
    return _on_count(ctx, item, state, parsed)


def _text_yes_no(ctx: Ctx, item: Item, state: dict[str, Any], text: str) -> dict[str, Any]:
    yes = parse_yes_no(text)
    if yes is None:
        ctx.say(Reply((msg("err.yes_no", text=text[:40]),),
                      ask(ctx.sheet, item, ASK_YES_NO).buttons))
        return state
    return _accept(ctx, item, Value(value=1.0 if yes else 0.0), state)


def _text_task_status(ctx: Ctx, item: Item, state: dict[str, Any], text: str) -> dict[str, Any]:
    status = parse_task_status(text)
    if status is None:
        ctx.say(Reply((msg("err.task_status", text=text[:40]),),
                      ask(ctx.sheet, item, ASK_TASK_STATUS).buttons))
        return state
    return _task_status(ctx, item, state, status)


def _text_note(ctx: Ctx, item: Item, state: dict[str, Any], text: str) -> dict[str, Any]:
    note = text.strip()
    if len(note) > MAX_TASK_TEXT:
        ctx.say(Reply((msg("err.too_long", length=Count(len(note)), limit=MAX_TASK_TEXT),),
                      ask(ctx.sheet, item, ASK_TASK_TEXT).buttons, True))
        return state
    return _accept(ctx, item, Value(task_status=state["status"], text=note or None), state)


def _task_status(ctx: Ctx, item: Item, state: Mapping[str, Any], status: str) -> dict[str, Any]:
    ctx.say(ask(ctx.sheet, item, ASK_TASK_TEXT))
    return {**dict(state), "step": ASK_TASK_TEXT, "status": status}


def _skip(ctx: Ctx, item: Item, state: Mapping[str, Any]) -> dict[str, Any]:
    ctx.say(Reply((msg("report.skipped", code=item.code),)))
    skipped = sorted(set(state.get("skipped", [])) | {item.code})
    return _next(ctx, item.code, {**dict(state), "skipped": skipped})


TASK_CODES = {"n": "not_started", "p": "in_progress", "d": "done"}


def _on_press(ctx: Ctx, state: dict[str, Any], press: Press) -> dict[str, Any]:
    step = state.get("step", IDLE)
    sheet = ctx.sheet
    item = sheet.item(press.code) if press.code else None
    if press.action == "fix" and item is not None:
        if sheet.locked:
            return _locked(ctx, state)
        back = step == REVIEW or sheet.submitted or bool(state.get("back"))
        new = _goto_item(ctx, item, review_after=back)
        if state.get("skipped"):
            new["skipped"] = list(state["skipped"])
        return new
    if press.action == "submit":
        if step != REVIEW:
            return _stale(ctx, state)
        if not any(is_complete(i, ctx.values.get(i.code)) for i in sheet.items):
            ctx.say(review(sheet, ctx.values))  # says why it cannot be sent yet
            return state
        ctx.effects.append(SubmitReport())
        ctx.say(Reply((msg("report.submitted", year=sheet.year, unit_name=sheet.unit_name,
                           deadline=Day(sheet.consolidation_deadline)),)))
        return {}
    # every other button answers the current question of the current item
    if step not in QUESTION_STEPS or item is None or state.get("code") != item.code:
        return _stale(ctx, state)
    handler = PRESS.get((step, press.action))
    new = handler(ctx, item, state, press) if handler is not None else None
    return _stale(ctx, state) if new is None else new


def _press_skip(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict[str, Any]:
    return _skip(ctx, item, state)


def _press_use(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict | None:
    count = ascii_int(press.arg)
    if count is None or count != suggestion(ctx.sheet, item, ctx.values):
        return None
    return _on_count(ctx, item, state, count)


def _press_yes_no(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict[str, Any]:
    return _accept(ctx, item, Value(value=1.0 if press.action == "yes" else 0.0), state)


def _press_task_status(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict | None:
    if press.arg not in TASK_CODES:
        return None
    return _task_status(ctx, item, state, TASK_CODES[press.arg])


def _press_no_note(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict[str, Any]:
    return _accept(ctx, item, Value(task_status=state["status"]), state)


def _press_ok(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict[str, Any]:
    return _on_count(ctx, item, _unconfirm(state), int(state["pending"]), confirmed=True)


def _press_retype(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict[str, Any]:
    return _retype(ctx, item, state)


def _press_reden(ctx: Ctx, item: Item, state: dict[str, Any], press: Press) -> dict[str, Any]:
    ctx.say(ask(ctx.sheet, item, ASK_DENOMINATOR, ctx.values))
    return {k: v for k, v in {**state, "step": ASK_DENOMINATOR}.items() if k != "den"}


# The transitions, step × event: what a typed text does at each question, and which buttons
# each question takes (any other button is answered "this button no longer works"). Start,
# Cancel, "fix" and "submit" apply at any step (see _start, step, _on_press).
TEXT: dict[Step, Callable[[Ctx, Item, dict[str, Any], str], dict[str, Any]]] = {
    ASK_DENOMINATOR: _text_count,
    ASK_NUMERATOR: _text_count,
    ASK_NUMBER: _text_count,
    ASK_YES_NO: _text_yes_no,
    ASK_TASK_STATUS: _text_task_status,
    ASK_TASK_TEXT: _text_note,
    CONFIRM_UNUSUAL: _on_confirm_text,
}
PRESS: dict[tuple[Step, str], Callable[[Ctx, Item, dict[str, Any], Press], dict | None]] = {
    **{(s, "skip"): _press_skip for s in sorted(QUESTION_STEPS - {CONFIRM_UNUSUAL})},
    (ASK_DENOMINATOR, "use"): _press_use,
    (ASK_NUMERATOR, "reden"): _press_reden,
    (ASK_YES_NO, "yes"): _press_yes_no,
    (ASK_YES_NO, "no"): _press_yes_no,
    (ASK_TASK_STATUS, "ts"): _press_task_status,
    (ASK_TASK_TEXT, "nonote"): _press_no_note,
    (CONFIRM_UNUSUAL, "ok"): _press_ok,
    (CONFIRM_UNUSUAL, "re"): _press_retype,
}


def _stale(ctx: Ctx, state: dict[str, Any]) -> dict[str, Any]:
    """A button from an earlier question: say so and repeat where we are."""
    ctx.say(Reply((msg("report.stale_button"),)))
    step = state.get("step", IDLE)
    item = ctx.sheet.item(state.get("code", ""))
    if step == REVIEW:
        ctx.say(review(ctx.sheet, ctx.values))
    elif step == CONFIRM_UNUSUAL and item is not None:
        ctx.say(_confirm_reply(ctx.sheet, item, int(state["pending"]),
                               int(state.get("against") or 0), bool(state.get("same"))))
    elif step in QUESTION_STEPS and item is not None:
        ctx.say(ask(ctx.sheet, item, step, ctx.values, den=state.get("den")))
    return state


def _locked(ctx: Ctx, state: Mapping[str, Any]) -> dict[str, Any]:
    sheet = ctx.sheet
    contact = sheet.contact or msg("report.contact_officer")
    if sheet.closed_on is not None:
        line = msg("report.locked", year=sheet.year, closed_on=Day(sheet.closed_on),
                   contact=contact)
    else:
        line = msg("report.locked_deadline", year=sheet.year,
                   deadline=Day(sheet.consolidation_deadline), contact=contact)
    ctx.say(Reply((line,)))
    return {}


def _start(ctx: Ctx, state: dict[str, Any], start: Start) -> dict[str, Any]:
    sheet = ctx.sheet
    if sheet.locked:
        return _locked(ctx, state)
    if not sheet.items:
        ctx.say(Reply((msg("report.nothing_to_report", unit_name=sheet.unit_name),)))
        return {}
    state = {k: v for k, v in state.items() if k != "paused"}
    same_round = state.get("round") == sheet.round_id
    if same_round and state.get("step") in QUESTION_STEPS and start.code is None:
        item = sheet.item(state.get("code", ""))
        if item is not None:
            ctx.say(Reply((msg("report.resume", pos=sheet.position(item.code),
                               total=len(sheet.items)),)))
            if state["step"] == CONFIRM_UNUSUAL:
                state = _unconfirm(state)
            ctx.say(ask(sheet, item, state["step"], ctx.values, den=state.get("den")))
            return state
    if start.code is not None and sheet.item(start.code) is not None:
        item = sheet.item(start.code)
        assert item is not None
        return _goto_item(ctx, item)
    missing = sheet.missing()
    if not missing:
        ctx.say(review(sheet, ctx.values))
        return _state(sheet, REVIEW)
    typed = any(first_step(i) in (ASK_DENOMINATOR, ASK_NUMBER) for i in missing)
    p = {"year": sheet.year, "unit_name": sheet.unit_name, "total": len(sheet.items),
         "missing": len(missing), "deadline": Day(sheet.deadline)}
    ctx.say(Reply((msg("report.intro", **p) if typed else msg("report.intro_buttons", **p),)))
    return _goto_item(ctx, missing[0])


HANDLERS: dict[type, Callable[[Ctx, dict[str, Any], Any], dict[str, Any]]] = {
    Start: _start,
    Text: lambda ctx, st, ev: _on_text(ctx, st, ev.text),
    Press: _on_press,
}


def _held(sheet: Sheet, st: Mapping[str, Any]) -> dict[str, int]:
    """Totals typed for rates whose second figure is still to come, by indicator code."""
    out = {}
    for code, den in dict(st.get("held") or {}).items():
        item = sheet.item(code)
        if item is not None and item.kind == "rate" and \
                not is_complete(item, sheet.values.get(code)):
            out[code] = int(den)
    return out


def _keep_held(ctx: Ctx, old: Mapping[str, Any], new: dict[str, Any],
               held: dict[str, int]) -> dict[str, Any]:
    """A total typed, then the person went elsewhere (another indicator, «Báo cáo ngay»):
    keep it, so coming back offers it instead of asking again."""
    asked = old.get("asked") if old.get("step") == CONFIRM_UNUSUAL else old.get("step")
    code, den = old.get("code"), old.get("den")
    if asked == ASK_NUMERATOR and code and den is not None and new.get("code") != code:
        held[str(code)] = int(den)
    keep = {c: d for c, d in held.items()
            if (item := ctx.sheet.item(c)) is not None
            and not is_complete(item, ctx.values.get(c))}
    if new and new.get("flow") == "report":
        new = {k: v for k, v in new.items() if k != "held"}
        if keep:
            new["held"] = keep
    return new


def step(state: ReportState | Mapping[str, Any], event: Event, sheet: Sheet) -> Result:
    """Advance the reporting conversation by one event."""
    typed = state if isinstance(state, ReportState) else ReportState.from_json(state)
    st = typed.as_flow()
    if st and st.get("round") != sheet.round_id:
        st = {}
    held = _held(sheet, st)
    values = dict(sheet.values)
    values.update({c: Value(denominator=d) for c, d in held.items()})  # offered back, not saved
    ctx = Ctx(sheet, values, [])
    if isinstance(event, Cancel):
        ctx.say(Reply((msg("report.cancelled"),)))
        keep = st.get("step") in QUESTION_STEPS
        return Result(ReportState.from_json({**st, "paused": True} if keep else {}),
                      tuple(ctx.effects))
    if isinstance(event, Press):
        st.pop("paused", None)
    if sheet.locked and not isinstance(event, Start):
        return Result(ReportState.from_json(_locked(ctx, st)), tuple(ctx.effects))
    new = HANDLERS[type(event)](ctx, st, event)
    return Result(ReportState.from_json(_keep_held(ctx, st, new, held)), tuple(ctx.effects))


def with_values(sheet: Sheet, values: Mapping[str, Value]) -> Sheet:
    """The same sheet with other stored values (for tests and the shell)."""
    return replace(sheet, values=dict(values))
