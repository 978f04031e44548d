"""What a flow returns: messages as catalog keys with typed parameters, buttons, saves.

Flows never format text: they name a catalog key and give typed parameters; the shell
renders them in the person's language with Babel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any


def msg(key: str, **params: Any) -> Msg:
    """A catalog message; ``msg`` is also the keyword Babel extracts keys from."""
    return Msg(key, params)


@dataclass(frozen=True)
class Msg:
    """A sentence from the catalog and its named parameters."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    """An inline button: its label and the callback data it sends back."""

    label: Msg
    data: str


@dataclass(frozen=True)
class Reply:
    """A message to the person: one or more catalog lines and rows of buttons."""

    lines: tuple[Msg, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    transient: bool = False  # a question: its buttons go away once the conversation moves on


@dataclass(frozen=True)
class Save:
    """Store a unit's value for an indicator (the shell adds who and when)."""

    code: str
    numerator: int | None = None
    denominator: int | None = None
    value: float | None = None
    task_status: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SubmitReport:
    """Mark the unit's report as sent."""


Effect = Reply | Save | SubmitReport


# ------------------------------------------------------------------ typed parameters


@dataclass(frozen=True)
class Count:
    """A whole number, shown with the locale's grouping (1.234 in Vietnamese)."""

    n: int


@dataclass(frozen=True)
class Ratio:
    """A rate: value already multiplied by factor (99.2 for 99.2%, 4.8 for 4.8‰).

    ``decimals``: show at least this many (see ``decimals_to_agree``), so that 94.996%
    judged against "≥ 95%" is never written 95%.
    """

    value: float
    factor: int
    decimals: int | None = None


EXACT = 9  # verdicts compare values rounded to 9 decimals: float noise only (0.57*100)


def _compares(direction: str, x: float, target: float | None,
              target_max: float | None) -> bool | None:
    if target is None:
        return None
    if direction == "at_least":
        return x >= target
    if direction == "at_most":
        return x <= target
    if direction == "below":
        return x < target
    if direction == "above":
        return x > target
    if direction == "range":
        return None if target_max is None else target <= x <= target_max
    return None


def decimals_to_agree(value: float, direction: str | None, target: float | None,
                      target_max: float | None = None) -> int:
    """The fewest decimals from which on the rounded ``value`` meets the target exactly
    when ``value`` itself does (0 when any rounding agrees).

    A verdict is decided on the value itself; the documents show it rounded. 23,749 of
    25,000 is 94.996%: không đạt against "≥ 95%", so it must not read "95%" (this gives 3).
    Every rounding a renderer may use is checked (half-even, half-up, half-down on the
    decimal text, Python's on the binary value). ``direction`` "yes" is a share of units
    against 100%.
    """
    if direction == "yes":
        direction, target = "at_least", 100.0
    if direction is None:
        return 0
    exact = _compares(direction, round(value, EXACT), target, target_max)
    if exact is None:
        return 0
    bounds = [b for b in (target, target_max) if b is not None]
    if all(abs(value - b) > 0.5 for b in bounds):  # no rounding can reach a boundary
        return 0
    text = Decimal(repr(float(value)))
    fewest = 0
    for d in range(EXACT):
        step = Decimal(1).scaleb(-d)
        shown = {round(value, d)} | {float(text.quantize(step, rounding=mode))
                                     for mode in (ROUND_HALF_EVEN, ROUND_HALF_UP,
                                                  ROUND_HALF_DOWN)}
        if any(_compares(direction, x, target, target_max) != exact for x in shown):
            fewest = d + 1
    return fewest


@dataclass(frozen=True)
class TargetText:
    """A target as the plan states it, e.g. ≥ 98,5% or < 5‰ or giảm 2-3%/năm."""

    direction: str
    value: float | None
    value_max: float | None
    factor: int | None
    ref_year: int | None = None


@dataclass(frozen=True)
class Day:
    """A calendar date, shown as DD/MM/YYYY."""

    d: date


@dataclass(frozen=True)
class YesNo:
    """A yes/no answer."""

    yes: bool


@dataclass(frozen=True)
class Status:
    """A task status (not_started, in_progress, done)."""

    status: str
