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
from flows.rules import OFF_PATH, ON_PATH, decimals_to_agree

MARKS = {"dat": "✅", "khong_dat": "❌", "chua_du": "⏳", None: "•"}
# a year between milestones is marked by its place on the road, not by the milestone
PATH_MARKS = {ON_PATH: "✅", OFF_PATH: "⚠️"}
PATH_VERDICTS = {ON_PATH: msg("summary.on_path"), OFF_PATH: msg("summary.off_path")}
MILESTONE_VERDICTS = {"dat": msg("summary.verdict.dat"),
                      "khong_dat": msg("summary.verdict.khong_dat"),
                      "chua_du": msg("summary.verdict.chua_du")}
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
    path_target: TargetText | None = None  # this year's point on the road (a bound)
    path_verdict: str | None = None
    path_year: int | None = None
    projection: float | None = None  # the trend at the next milestone
    projection_year: int | None = None
    projection_years: int = 0
    projection_verdict: str | None = None
    projection_small: bool = False
    projection_target: TargetText | None = None


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
    p = row.path_target
    if p is not None:  # nor against the path target
        decimals = max(decimals or 0, decimals_to_agree(row.value, p.direction, p.value))
    if row.kind == "rate":
        return msg("summary.value", value=Ratio(row.value, row.factor or 100, decimals))
    if row.kind == "share_units":
        return msg("summary.value", value=Ratio(row.value, 100, decimals))
    if row.kind == "yes_no":
        return msg("summary.value", value=YesNo(row.value >= 1))
    if row.kind == "task":
        return msg("summary.tasks_done", done=row.task_done, total=row.units_expected)
    return msg("summary.value", value=Count(round(row.value)))


def _projection(row: SummaryRow) -> Msg:
    """"dự kiến 2030: 98,4% — đạt nếu giữ nhịp hiện nay (2 năm số liệu)"."""
    assert row.projection is not None
    t = row.projection_target
    if row.kind in ("rate", "share_units"):
        factor = 100 if row.kind == "share_units" else (row.factor or 100)
        decimals = (decimals_to_agree(row.projection, t.direction, t.value, t.value_max)
                    if t is not None else None)
        value: object = Ratio(row.projection, factor, decimals)
    else:
        value = Count(round(row.projection))
    params = {"year": row.projection_year, "value": value, "years": row.projection_years,
              "small": msg("summary.projection_small") if row.projection_small else ""}
    if row.projection_verdict == "dat":
        return msg("summary.projection_dat", **params)
    if row.projection_verdict == "khong_dat":
        return msg("summary.projection_khong_dat", **params)
    return msg("summary.projection", **params)


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
        if row.path_verdict in PATH_MARKS:
            base["mark"] = PATH_MARKS[row.path_verdict]
        if row.target is not None and row.target.direction != "none":
            star = "*" if row.from_next_milestone else ""
            lines.append(msg("summary.line", **base, target=row.target,
                             target_year=row.target_year, star=star))
        else:
            lines.append(msg("summary.line_no_target", **base))
        if row.path_target is not None:
            lines.append(msg("summary.path", year=row.path_year, target=row.path_target,
                             verdict=PATH_VERDICTS.get(row.path_verdict or "",
                                                       msg("summary.path_pending")),
                             milestone_year=row.target_year,
                             milestone_verdict=MILESTONE_VERDICTS.get(
                                 row.verdict or "", msg("summary.verdict.none"))))
        if row.projection is not None:
            lines.append(_projection(row))
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
