"""What a flow returns: messages as catalog keys with typed parameters, buttons, saves.

Flows never format text: they name a catalog key and give typed parameters; the shell
renders them in the person's language with Babel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# the comparison and the precision are the report's rules (flows.rules); kept importable here
from flows.rules import EXACT, decimals_to_agree  # noqa: F401
from flows.rules import compares as _compares  # noqa: F401


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
    transient: bool = False  # a question (its buttons answer it only while it is the open one)


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


@dataclass(frozen=True)
class TargetText:
    """A target as the plan states it, e.g. ≥ 98,5% or < 5‰ or giảm 2-3%/năm."""

    direction: str
    value: float | None
    value_max: float | None
    factor: int | None
    ref_year: int | None = None
    fraction: tuple[int, int] | None = None  # "xuống 5/804": written as the plan does


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
