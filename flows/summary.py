"""/summary: the commune's report in the chat, as catalog lines (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flows.effects import (
    Count,
    Msg,
    Ratio,
    Reply,
    TargetText,
    YesNo,
    msg,
)
from flows.rules import decimals_to_agree

MARKS = {"dat": "✅", "khong_dat": "❌", "chua_du": "⏳", None: "•"}
MAX_NAME = 60


@dataclass(frozen=True)
class SummaryRow:
    """One indicator's line: its figure, target and verdict."""

    code: str
    name: str
    kind: str
    factor: int | None
    value: float | None
    target: TargetText | None
    target_year: int | None
    from_next_milestone: bool
    verdict: str | None
    units_reported: int
    units_expected: int
    task_done: int = 0


@dataclass(frozen=True)
class SummaryView:
    """The report as the chat shows it."""

    commune_name: str
    year: int
    rows: Sequence[SummaryRow]
    units_expected: int
    units_submitted: int
    units_on_time: int
    units_late: int
    missing_units: Sequence[str]


def _value(row: SummaryRow) -> Msg:
    if row.value is None:
        return msg("summary.no_value")
    t = row.target
    # 94.996% judged against "≥ 95%" is shown 94,996%, never 95%
    decimals = (decimals_to_agree(row.value, t.direction, t.value, t.value_max)
                if t is not None else None)
    if row.kind == "rate":
        return msg("summary.value", value=Ratio(row.value, row.factor or 100, decimals))
    if row.kind == "share_units":
        return msg("summary.value", value=Ratio(row.value, 100, decimals))
    if row.kind == "yes_no":
        return msg("summary.value", value=YesNo(row.value >= 1))
    if row.kind == "task":
        return msg("summary.tasks_done", done=row.task_done, total=row.units_expected)
    return msg("summary.value", value=Count(round(row.value)))


def _short(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1].rstrip() + "…"


def summary(view: SummaryView) -> Reply:
    """Verdict per indicator, completeness and what is missing."""
    counts = {k: sum(1 for r in view.rows if r.verdict == k)
              for k in ("dat", "khong_dat", "chua_du")}
    lines = [
        msg("summary.header", year=view.year, commune_name=view.commune_name),
        msg("summary.completeness", submitted=view.units_submitted,
            expected=view.units_expected, on_time=view.units_on_time, late=view.units_late),
        msg("summary.counts", dat=counts["dat"], khong_dat=counts["khong_dat"],
            chua_du=counts["chua_du"]),
    ]
    for row in view.rows:
        base = {"mark": MARKS.get(row.verdict, "•"), "code": row.code, "name": _short(row.name),
                "value": _value(row)}
        if row.target is not None and row.target.direction != "none":
            star = "*" if row.from_next_milestone else ""
            lines.append(msg("summary.line", **base, target=row.target,
                             target_year=row.target_year, star=star))
        else:
            lines.append(msg("summary.line_no_target", **base))
    if any(r.from_next_milestone for r in view.rows):
        lines.append(msg("summary.next_milestone", year=view.year))
    if view.missing_units:
        lines.append(msg("summary.missing_units", units=", ".join(view.missing_units)))
    lines.append(msg("summary.files"))
    return Reply(tuple(lines))


def no_round(year: int, years: Sequence[int]) -> Reply:
    """No round for the year asked."""
    return Reply((msg("summary.no_round", year=year,
                      years=", ".join(str(y) for y in years) or "—"),))


def usage() -> Reply:
    """/summary with an argument that is not a year."""
    return Reply((msg("summary.usage"),))
