"""The report's rules on plain values: targets, verdicts, pooling, changes, precision.

Every rule of the annual report (docs/report.md) lives here and nowhere else:
``target_for`` (which milestone applies to a year), ``meets`` (the verdict by direction on
the exact value), ``pooled_rate`` and ``share_of_units`` (how units add up), ``change_pct``
(against the reference year), ``judge`` and ``compute`` (verdict, reason, warnings of one
indicator in one scope; ``brief``: the same figure and verdict without the road) and
``decimals_to_agree`` / ``shown_decimals`` (the precision that never lets a shown figure
contradict its verdict). ``storage.aggregate`` queries and hands
rows over; the faces only render. Nothing here touches a database or the network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

# Verdicts (the JSON and the documents use these codes).
DAT = "dat"
KHONG_DAT = "khong_dat"
CHUA_DU = "chua_du"

# Why a verdict is chua_du or missing.
R_NO_DATA = "no_data"
R_NOT_SUBMITTED = "not_submitted"
R_MISSING = "missing_units"
R_NO_REFERENCE = "no_reference_data"
R_REFERENCE_INCOMPLETE = "reference_incomplete"  # fewer units then than expected now
R_BASELINE_YEAR = "baseline_year"  # the year a reduction is measured from: not judged
R_ZERO_DENOMINATOR = "zero_denominator"
R_NO_TARGET = "no_target"
R_NOT_JUDGED = "not_judged"

# Warnings.
W_SMALL_DENOMINATOR = "small_denominator"
W_AGENCY_OVER_HAMLETS = "agency_over_hamlets"
W_ZERO_DENOMINATOR = "zero_denominator"
W_ZERO_REFERENCE = "zero_reference"

# The road to the next milestone (docs/report.md, "Trajectory and projection").
ON_PATH = "dung_lo_trinh"  # đúng lộ trình: at or beyond the path target of the year
OFF_PATH = "cham_lo_trinh"  # chậm lộ trình
P_NO_REFERENCE = "no_reference"  # no baseline in the plan and no earlier reported year
PATH_DIRECTIONS = ("at_least", "above", "at_most", "below")

EXACT = 9  # verdicts compare values rounded to 9 decimals: float noise only (0.57*100)
# unit kinds that are areas (their figures add up), as storage.kinds.ADMIN_KINDS
AREA_KINDS = frozenset({"province", "city", "district", "commune", "hamlet"})
SUMMED_KINDS = frozenset({"rate", "count", "change"})
DEFAULT_MIN_DENOMINATOR = {1000: 100, 100000: 1000}
REDUCTIONS = ("reduce_per_year", "reduce_vs_year")
MEASURED = (*REDUCTIONS, "maintain")  # targets judged against a reference year


# ------------------------------------------------------------------ targets


class MilestoneLike(Protocol):
    """A plan's target for a milestone year (storage's Milestone, or any plain object)."""

    year: int
    direction: str
    value: float | None
    value_max: float | None
    ref_year: int | None
    note: str | None


@dataclass(frozen=True)
class Target:
    """The target used for the year: its own milestone, else the next (or the last) one."""

    direction: str
    value: float | None
    value_max: float | None
    ref_year: int | None
    milestone_year: int
    from_next_milestone: bool
    note: str | None = None
    fraction: tuple[int, int] | None = None  # "xuống 5/804": people over a population


def _fraction(m: Any) -> tuple[int, int] | None:
    num, den = getattr(m, "value_num", None), getattr(m, "value_den", None)
    return (int(num), int(den)) if num is not None and den else None


def milestone_for(milestones: Iterable[MilestoneLike], year: int) -> MilestoneLike | None:
    """The milestone whose target applies to ``year``: its own, else the next, else the last
    (on equal years the first given, and the last given for the last: as sorted by year)."""
    mine = last = None
    for m in milestones:  # one pass, no sorting: this runs for every indicator of a report
        y = m.year
        if y >= year and (mine is None or y < mine.year):
            mine = m
        if last is None or y >= last.year:
            last = m
    return mine if mine is not None else last


def target_for(milestones: Iterable[MilestoneLike], year: int) -> Target | None:
    """The milestone target for ``year``: its own, else the next one, else the last.

    ``from_next_milestone`` tells the report to say "(theo mốc 2030)".
    """
    m = milestone_for(milestones, year)
    if m is None:
        return None
    return Target(m.direction, m.value, m.value_max, m.ref_year, m.year, m.year != year,
                  getattr(m, "note", None), _fraction(m))


# ------------------------------------------------------------------ comparing


def compares(direction: str, x: float, target: float | None,
             target_max: float | None) -> bool | None:
    """``x`` against a bound target as written (None: the direction has no bound)."""
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


def meets(direction: str, value: float, target: float | None, target_max: float | None = None,
          *, kind: str = "rate", ref: float | None = None) -> bool | None:
    """Whether ``value`` meets the target (None: cannot be judged).

    Judged on the exact value: rounding to ``EXACT`` (9) decimals only absorbs float noise
    (57/100 × 100 = 56.99999999999999). 23,749/25,000 = 94.996% does not meet "≥ 95%".
    """
    v = round(value, EXACT)
    if direction == "yes":
        return v >= 100 if kind == "share_units" else v >= 1
    if direction == "maintain":
        return None if ref is None else v >= round(ref, EXACT)
    return compares(direction, v, target, target_max)


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
    exact = compares(direction, round(value, EXACT), target, target_max)
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
        if any(compares(direction, x, target, target_max) != exact for x in shown):
            fewest = d + 1
    return fewest


def shown_decimals(kind: str, target: Target | None, value: float | None) -> int:
    """Decimals a rate or share must be written with so that it never reads as its target
    when its verdict says otherwise: 94.996% against "≥ 95%" is 94,996%, not 95%.

    0 when the usual rounding is enough (renderers keep at least their usual decimals).
    """
    if target is None or value is None or kind not in ("rate", "share_units"):
        return 0
    if target.direction == "yes" and kind != "share_units":  # judged ≥ 1, never a rate
        return 0
    return decimals_to_agree(value, target.direction, target.value, target.value_max)


def written_decimals(value: float | None, most: int = 6) -> int:
    """The decimals a target is written with in the plan (621.9 → 1, 124.378 → 3), so
    that a face never prints a rounded target that contradicts its verdict ("≤ 622"
    for a target of 621,9)."""
    if value is None:
        return 0
    text = repr(round(float(value), most))
    return 0 if "e" in text or text.endswith(".0") else len(text.split(".")[1])


def change_decimals(change: float, target: Target | None) -> int:
    """Decimals a change must be written with: down 1.996% against "giảm 2%/năm" is không
    đạt, never written "giảm 2%"."""
    if target is None or target.direction not in REDUCTIONS:
        return 0
    return decimals_to_agree(change, "at_least", target.value)


# ------------------------------------------------------------------ adding units up


def pooled_rate(pairs: Iterable[tuple[int, int]], factor: int | None) -> float | None:
    """Σ numerators ÷ Σ denominators × factor — never the mean of the units' rates
    (1/2 and 99/100 give 100/102 = 98.04%, not 74.5%). None over a zero denominator."""
    num = den = 0
    for n, d in pairs:
        num += n
        den += d
    return num / den * (factor or 100) if den else None


def share_of_units(yes: int, expected: int) -> float | None:
    """Units answering yes over the units expected, in %."""
    return yes / expected * 100 if expected else None


def change_pct(reference: float | None, value: float | None) -> float | None:
    """The fall against the reference in % (positive = down); None without a reference."""
    if not reference or value is None:
        return None
    return (reference - value) / reference * 100


def unit_value(kind: str, factor: int | None, numerator: int | None, denominator: int | None,
               value: float | None) -> float | None:
    """A unit's own figure: its rate for a rate, else the value it reported."""
    if kind == "rate":
        if numerator is None or not denominator:
            return None
        return numerator / denominator * (factor or 100)
    return value


def has_value(kind: str, numerator: int | None, denominator: int | None, value: float | None,
              task_status: str | None) -> bool:
    """The value has what its kind needs: both parts of a rate, a task's status, else value."""
    if kind == "rate":
        return numerator is not None and denominator is not None
    if kind == "task":
        return task_status is not None
    return value is not None


def min_denominator(factor: int | None, given: int | None) -> int | None:
    """Below this summed denominator a rate is only indicative (100 for ‰, 1,000 per 10⁵)."""
    return given or DEFAULT_MIN_DENOMINATOR.get(factor or 100)


# ------------------------------------------------------------------ the road to a milestone


def path_bound(kind: str, target: Target | None) -> tuple[str, float] | None:
    """The direction and bound a path can be drawn to (a share "yes" is ≥ 100%)."""
    if target is None:
        return None
    if target.direction == "yes" and kind == "share_units":
        return "at_least", 100.0
    if target.direction in PATH_DIRECTIONS and target.value is not None:
        return target.direction, float(target.value)
    return None


def path_target(direction: str, ref_year: int, ref_value: float, milestone_year: int,
                goal: float, year: int) -> float:
    """The year's point on the straight line from the reference to the milestone's target,
    rounded to 2 decimals (what the report prints is what is judged), never stricter than
    the milestone itself (a commune already beyond it only has to stay beyond it).

    97 % in 2024 towards ≥ 98 % in 2030: 2026 is 97 + (98 − 97) × 2/6 = 97,33 %.
    A rate to lower falls along the path: 6‰ in 2024 towards < 4,8‰ in 2030 gives 5,6‰.
    """
    frac = (year - ref_year) / (milestone_year - ref_year)
    line = ref_value + (goal - ref_value) * frac
    line = float(Decimal(repr(line)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    if direction in ("at_least", "above"):
        return min(line, goal)
    return max(line, goal)


class Path(NamedTuple):
    """A year between milestones on the road to the next one (``target`` None: ``reason``)."""

    target: float | None
    verdict: str | None  # ON_PATH | OFF_PATH | None (data not complete, or no target)
    reference_year: int | None
    reference_value: float | None
    reason: str | None
    year: int | None = None  # the year judged on the path


def trajectory(kind: str, target: Target | None, year: int, value: float | None,
               reference: tuple[int, float] | None, complete: bool = True) -> Path | None:
    """The path target of a year that has no written target of its own, and whether the
    figure is on it; None when the year is a milestone (or past the last one) or the
    target has no bound to draw a line to (a reduction, yes/no, a range, maintain).

    ``reference`` is the plan's baseline figure, else the commune's first reported year;
    without one before ``year`` there is no path, and ``reason`` says so. The verdict is
    given only when the data are ``complete`` (the milestone verdict is đạt/không đạt).
    """
    if target is None or not target.from_next_milestone or target.milestone_year <= year:
        return None
    bound = path_bound(kind, target)
    if bound is None:
        return None
    if reference is None or reference[0] >= year:
        return Path(None, None, None, None, P_NO_REFERENCE, year)
    direction, goal = bound
    point = path_target(direction, reference[0], reference[1], target.milestone_year, goal,
                        year)
    verdict = None
    if complete and value is not None:
        ok = compares(direction, round(value, EXACT), point, None)
        verdict = ON_PATH if ok else OFF_PATH
    return Path(point, verdict, reference[0], reference[1], None, year)


def trend(points: Sequence[tuple[int, float]]) -> tuple[float, float] | None:
    """Slope and intercept of the least-squares line through (year, value); None for fewer
    than two years. Two years give the line through both."""
    if len(points) < 2:
        return None
    years, values = zip(*points, strict=True)
    if len(set(years)) < 2:
        return None
    n = len(points)
    # the built-in sum, in the points' order (no other summation: the same floats)
    mx = sum(years) / n
    my = sum(values) / n
    sxx = sum([(y - mx) ** 2 for y in years])
    sxy = sum([(y - mx) * (v - my) for y, v in points])
    slope = sxy / sxx
    return slope, my - slope * mx


class Projection(NamedTuple):
    """Where the commune's trend lands at the next milestone."""

    year: int  # the milestone projected to
    value: float
    years: int  # how many reported years the trend rests on
    verdict: str | None  # DAT | KHONG_DAT against the milestone's target, if it has a bound
    small_denominator: bool  # some year's rate rests on a small denominator
    milestone: Target | None = None  # the milestone's target projected to


def project(points: Sequence[tuple[int, float]], to_year: int, *,
            upper: float | None = None) -> float | None:
    """The trend's value at ``to_year``, kept between 0 and ``upper`` (100 for %)."""
    line = trend(points)
    if line is None:
        return None
    v = line[0] * to_year + line[1]
    v = max(v, 0.0)
    return min(v, upper) if upper is not None else v


def next_milestone(milestones: Iterable[MilestoneLike], year: int) -> Target | None:
    """The first milestone after ``year`` (what a projection aims at)."""
    m = None  # the earliest after ``year``; on equal years the first given
    for one in milestones:
        if one.year > year and (m is None or one.year < m.year):
            m = one
    if m is None:
        return None
    return Target(m.direction, m.value, m.value_max, m.ref_year, m.year, True,
                  getattr(m, "note", None), _fraction(m))


def projection(kind: str, factor: int | None, milestones: Iterable[MilestoneLike], year: int,
               points: Sequence[tuple[int, float]], small: bool = False) -> Projection | None:
    """Each rate, share and count projected to the next milestone along the commune's
    trend (least squares over its reported years up to ``year``); None with fewer than
    two years, for yes/no and tasks, or when no milestone is ahead."""
    if kind not in ("rate", "share_units", "count", "change"):
        return None
    ahead = next_milestone(milestones, year)
    if ahead is None:
        return None
    points = [(y, v) for y, v in points if y <= year]
    percent = kind == "share_units" or (kind == "rate" and (factor or 100) == 100)
    value = project(points, ahead.milestone_year, upper=100.0 if percent else None)
    if value is None:
        return None
    verdict = None
    bound = path_bound(kind, ahead)
    if bound is not None:
        ok = compares(bound[0], round(value, EXACT), bound[1], None)
        verdict = DAT if ok else KHONG_DAT
    return Projection(ahead.milestone_year, value, len({y for y, _ in points}), verdict, small,
                      ahead)


# ------------------------------------------------------------------ one indicator


@dataclass(frozen=True)
class IndicatorRule:
    """What the rules need of an indicator (``baseline``: the plan's figure of a year
    before, (year, value), the start of the path to the milestones)."""

    id: int
    code: str
    kind: str
    factor: int | None
    reporters: frozenset[str]
    sensitive: bool
    min_denominator: int | None
    name_vi: str
    name_en: str
    unit_vi: str | None
    unit_en: str | None
    goal_code: int
    goal_title_vi: str
    goal_title_en: str
    criterion_number: int
    milestones: tuple[Any, ...]
    baseline: tuple[int, float] | None = None
    # (unit, role) as the plan names them: lead (chủ trì), implement, coordinate (phối hợp)
    roles: tuple[tuple[str, str], ...] = ()
    mixed: bool = field(init=False)  # reporters mix areas (thôn) and agencies, summed figure
    agencies: frozenset[str] = field(init=False)  # reporter kinds that are agencies

    def __post_init__(self) -> None:
        agencies = self.reporters - AREA_KINDS
        object.__setattr__(self, "agencies", agencies)
        object.__setattr__(self, "mixed", self.kind in SUMMED_KINDS and bool(agencies)
                           and bool(self.reporters & AREA_KINDS))


class Group(NamedTuple):
    """Sums over the values of one year, indicator and unit kind (a query's row)."""

    scope: int | None  # the round's commune when grouped per commune
    year: int
    ind: int
    kind: str
    n: int  # values
    n_sub: int  # of which submitted
    num: int | None
    den: int | None
    val: float | None
    yes: int
    on_time: int
    agency_here: bool | None = None  # set per commune for mixed indicators in a roll-up


@dataclass(slots=True)
class Figure:
    """A figure for one indicator, one year and one scope (a commune or the whole report)."""

    n: int = 0
    n_sub: int = 0
    on_time: int = 0
    num: int | None = None
    den: int | None = None
    val: float | None = None
    yes: int = 0
    kinds: set[str] = field(default_factory=set)
    dropped_area: bool = False

    def add(self, g: Group) -> None:
        """Add one group row."""
        self.n += g.n
        self.n_sub += g.n_sub
        self.on_time += g.on_time
        self.yes += g.yes
        self.kinds.add(g.kind)
        if g.num is not None:
            self.num = (self.num or 0) + g.num
        if g.den is not None:
            self.den = (self.den or 0) + g.den
        if g.val is not None:
            self.val = (self.val or 0.0) + g.val


def combine(groups: Iterable[Group], ind: IndicatorRule) -> Figure:
    """Sum the groups of one indicator, keeping only reporter kinds; agency before hamlets.

    The sums are ``Figure.add``'s, group after group, written out: this runs for every
    year of every indicator of every report."""
    reporters = ind.reporters
    dropped = False
    if ind.mixed:
        mine = [g for g in groups if g.kind in reporters]
        if any(g.agency_here is not None for g in mine):  # several rounds: flagged per round
            keep = [g for g in mine if not g.agency_here]
        elif any(g.kind not in AREA_KINDS for g in mine):
            keep = [g for g in mine if g.kind not in AREA_KINDS]
        else:
            keep = mine
        dropped = len(keep) < len(mine)
        groups = keep
    n = n_sub = on_time = yes = 0
    num = den = val = None
    kinds: set[str] = set()
    for _scope, _year, _ind, kind, g_n, g_sub, g_num, g_den, g_val, g_yes, g_on_time, _a \
            in groups:
        if kind not in reporters:
            continue
        n += g_n
        n_sub += g_sub
        on_time += g_on_time
        yes += g_yes
        kinds.add(kind)
        if g_num is not None:
            num = (num or 0) + g_num
        if g_den is not None:
            den = (den or 0) + g_den
        if g_val is not None:
            val = (val or 0.0) + g_val
    return Figure(n, n_sub, on_time, num, den, val, yes, kinds, dropped)


def _summed(groups: Iterable[Group], reporters: frozenset[str] | set[str],
            ) -> tuple[int, int, int, int | None, int | None, float | None]:
    """n, n_sub, yes, num, den, val of the reporters' groups: ``combine``'s sums (the same
    sums in the same order) for an indicator that is not mixed, with no Figure made."""
    n = n_sub = yes = 0
    num = den = val = None
    for _scope, _year, _ind, kind, g_n, g_sub, g_num, g_den, g_val, g_yes, _on_time, _a \
            in groups:
        if kind not in reporters:
            continue
        n += g_n
        n_sub += g_sub
        yes += g_yes
        if g_num is not None:
            num = (num or 0) + g_num
        if g_den is not None:
            den = (den or 0) + g_den
        if g_val is not None:
            val = (val or 0.0) + g_val
    return n, n_sub, yes, num, den, val


def _valued(kind: str, factor: float, n: int, num: int | None, den: int | None,
            val: float | None, yes: int,
            expected: int) -> tuple[int | None, int | None, float | None]:
    """``figure_value`` of sums made by ``_summed``."""
    if n == 0:
        return None, None, None
    if kind == "rate":
        return num, den, (num or 0) / den * factor if den else None
    if kind == "share_units":
        return yes, expected, share_of_units(yes, expected)
    if kind == "yes_no":
        return yes, n, (1.0 if yes == n else 0.0)
    if kind in ("count", "change"):
        return None, None, val
    return None, None, None


def figure_value(ind: IndicatorRule, fig: Figure,
                 expected: int) -> tuple[int | None, int | None, float | None]:
    """Numerator, denominator and value of a figure as the report shows them."""
    if fig.n == 0:
        return None, None, None
    if ind.kind == "rate":  # pooled_rate of the one pair the sums are
        den = fig.den
        value = (fig.num or 0) / den * (ind.factor or 100) if den else None
        return fig.num, den, value
    if ind.kind == "share_units":
        return fig.yes, expected, share_of_units(fig.yes, expected)
    if ind.kind == "yes_no":
        return fig.yes, fig.n, (1.0 if fig.yes == fig.n else 0.0)
    if ind.kind in ("count", "change"):
        return None, None, fig.val
    return None, None, None  # task: listed


def judge(ind: IndicatorRule, value: float | None, fig: Figure, target: Target | None,
          ref_value: float | None, ref_known: bool, incomplete: str | None,
          ref_complete: bool = True,
          ) -> tuple[str | None, str | None, str | None, float | None, list[str]]:
    """Verdict, provisional verdict, reason, change % and extra warnings.

    ``incomplete`` is the reason the data is not complete yet (None when it is);
    ``ref_complete`` says whether every unit expected now reported in the reference year
    (a sum over 3 hamlets then against 6 now is not a change).
    """
    warnings: list[str] = []
    change = change_pct(ref_value, value) if ref_value else None  # None without one
    if target is None:
        return None, None, R_NO_TARGET, change, warnings
    d = target.direction
    if d == "none" or ind.kind == "task":
        return None, None, R_NOT_JUDGED, change, warnings
    if fig.n == 0:
        return CHUA_DU, None, R_NO_DATA, change, warnings
    if value is None:  # a rate over a zero denominator: nothing happened to judge
        return None, None, R_ZERO_DENOMINATOR, change, warnings
    ok: bool | None
    if d in MEASURED:
        if not ref_known or ref_value is None:
            return CHUA_DU, None, R_NO_REFERENCE, change, warnings
        if not ref_complete:
            return CHUA_DU, None, R_REFERENCE_INCOMPLETE, change, warnings
        if d != "maintain" and ref_value == 0:
            warnings.append(W_ZERO_REFERENCE)
        ok = against_reference(target, ind.kind, value, ref_value, change)
    elif target.fraction is not None and ind.kind == "rate" and fig.den:
        # "xuống 5/804": the rate against 5/804 exactly, never a rounded 621,9/100.000
        ok = compares(d, Fraction(fig.num or 0, fig.den), Fraction(*target.fraction), None)
    else:
        ok = meets(d, value, target.value, target.value_max, kind=ind.kind)
    if ok is None:
        return None, None, R_NOT_JUDGED, change, warnings
    verdict = DAT if ok else KHONG_DAT
    if incomplete:
        return CHUA_DU, verdict, incomplete, change, warnings
    return verdict, verdict, None, change, warnings


def against_reference(target: Target, kind: str, value: float, ref_value: float,
                      change: float | None) -> bool | None:
    """Whether ``value`` meets a target measured against the reference year's figure
    ``ref_value`` (``change``: ``change_pct`` of the two, None without a reference):
    maintained, or reduced by the target's % (from a zero reference: still zero)."""
    d = target.direction
    if d == "maintain":
        return meets(d, value, target.value, target.value_max, kind=kind, ref=ref_value)
    if ref_value == 0:
        return value == 0
    return round(change or 0.0, EXACT) >= (target.value or 0.0)


def reference_year(target: Target | None, year: int) -> int:
    """The year a change is measured against: the baseline of reduce_vs_year, else year-1."""
    if target is not None and target.direction == "reduce_vs_year" and target.ref_year:
        return target.ref_year
    return year - 1


def years_needed(inds: Sequence[IndicatorRule], year: int) -> list[int]:
    """The years a report of ``year`` reads: it, the year before and baseline years."""
    years = {year, year - 1}
    for ind in inds:
        m = milestone_for(ind.milestones, year)
        if m is not None and m.direction == "reduce_vs_year" and m.ref_year:
            years.add(m.ref_year)
    return sorted(years)


@dataclass
class Scope:
    """The data of one scope: groups per (year, indicator) and expected units per kind."""

    groups: dict[tuple[int, int], list[Group]] = field(
        default_factory=lambda: defaultdict(list))
    kind_counts: dict[str, int] = field(default_factory=dict)
    # mixed indicators: expected units computed per round by the caller
    mixed_expected: dict[int, int] = field(default_factory=dict)
    _years: tuple[int, ...] | None = None

    def years(self) -> tuple[int, ...]:
        """The years the scope has figures for (read once the groups are all in)."""
        if self._years is None:
            self._years = tuple(sorted({y for y, _i in self.groups}))
        return self._years


def expected_units(ind: IndicatorRule, scope: Scope, fig: Figure) -> int:
    """Units expected to report the indicator in the scope (agency-or-hamlet aware)."""
    if not ind.mixed:
        kinds = ind.reporters
    elif ind.id in scope.mixed_expected:
        return scope.mixed_expected[ind.id]
    else:
        kinds = responsible_kinds(ind, fig)
    counts = scope.kind_counts
    n = 0
    for k in kinds:
        n += counts.get(k, 0)
    return n


def responsible_kinds(ind: IndicatorRule, fig: Figure) -> frozenset[str]:
    """The unit kinds expected to report: the agencies when they reported a mixed one."""
    if ind.mixed and fig.kinds:
        return ind.agencies if fig.kinds & ind.agencies else ind.reporters & AREA_KINDS
    return ind.reporters


class Computed(NamedTuple):
    """An indicator computed for a scope, before names of units are attached."""

    numerator: int | None
    denominator: int | None
    value: float | None
    target: Target | None
    verdict: str | None
    provisional: str | None
    reason: str | None
    last_year_value: float | None
    reference_year: int | None
    reference_value: float | None
    change_pct: float | None
    expected: int
    fig: Figure
    warnings: list[str]
    path: Path | None = None
    projection: Projection | None = None


def _earlier_expected(ind: IndicatorRule, scope: Scope, fig: Figure, expected: int) -> int:
    """The units a share of an earlier year is over: those expected that year, as that
    year's own report gives them (the same units, as units are not versioned)."""
    if ind.kind == "share_units" and fig.n:
        return expected_units(ind, scope, fig)
    return expected


def history(ind: IndicatorRule, scope: Scope, year: int,
            expected: int) -> tuple[list[tuple[int, float]], bool]:
    """The scope's figure for every year up to ``year`` that has one, and whether a rate
    rests on a small denominator in any of them. A sum (count, change) of a year where
    some unit expected did not report is left out: it is not the commune's figure."""
    return _history(ind, scope, year, {})


def _history(ind: IndicatorRule, scope: Scope, year: int, figures: dict[int, Figure],
             ) -> tuple[list[tuple[int, float]], bool]:
    """``history``, keeping each year's figure in ``figures`` for the caller to reuse."""
    points: list[tuple[int, float]] = []
    small = False
    kind = ind.kind
    min_den = min_denominator(ind.factor, ind.min_denominator) if kind == "rate" else None
    summed = kind in ("count", "change")
    needs_expected = summed or kind == "share_units"  # else the value does not use it
    groups = scope.groups
    iid = ind.id
    if not ind.mixed:
        return _plain_history(ind, scope, year, figures, min_den, summed,
                              expected_units(ind, scope, _NO_FIGURE) if needs_expected else 0)
    for y in scope.years():
        if y > year:
            break
        mine = groups.get((y, iid))
        if not mine:  # nothing reported that year (another indicator was)
            continue
        fig = figures[y] = combine(mine, ind)
        if not fig.n:
            continue
        exp = expected_units(ind, scope, fig) if needs_expected else 0
        value = figure_value(ind, fig, exp)[2]
        if value is None:
            continue
        if summed and fig.n < exp:
            continue
        if min_den and fig.den is not None and fig.den < min_den:
            small = True
        points.append((y, value))
    return points, small


_NOTHING = (0, 0, 0, None, None, None)  # ``_summed`` of no group
_NO_FIGURE = Figure()  # what ``expected_units`` of an indicator that is not mixed is given


def _plain_history(ind: IndicatorRule, scope: Scope, year: int, figures: dict[int, Figure],
                   min_den: int | None, summed: bool, expected: int,
                   ) -> tuple[list[tuple[int, float]], bool]:
    """``_history`` of an indicator that is not mixed: its units expected are the same
    every year (``expected``), and a year's figure is summed here as ``combine`` sums it
    (the same sums in the same order) and valued as ``figure_value`` values it; only the
    year and the year before, which ``compute`` reads again, are kept whole in
    ``figures``."""
    points: list[tuple[int, float]] = []
    append = points.append
    small = False
    kind = ind.kind
    reporters = ind.reporters
    factor = ind.factor or 100
    groups = scope.groups
    iid = ind.id
    kept = year - 1
    for y in scope.years():
        if y > year:
            break
        mine = groups.get((y, iid))
        if not mine:  # nothing reported that year (another indicator was)
            continue
        if y >= kept:
            fig = figures[y] = combine(mine, ind)
            n, den = fig.n, fig.den
            if not n:
                continue
            value = figure_value(ind, fig, expected)[2]
        else:
            n, _n_sub, yes, num, den, val = _summed(mine, reporters)
            if not n:
                continue
            value = _valued(kind, factor, n, num, den, val, yes, expected)[2]
        if value is None:
            continue
        if summed and n < expected:
            continue
        if min_den and den is not None and den < min_den:
            small = True
        append((y, value))
    return points, small


def _figure(ind: IndicatorRule, scope: Scope, year: int, expected: int,
            figures: dict[int, Figure] | None = None) -> tuple[Figure, float | None]:
    """An earlier year's figure and value (a share over the units expected that year);
    ``figures``: the year's figure when ``_history`` has already made it."""
    fig = figures.get(year) if figures else None
    if fig is None:
        fig = combine(scope.groups.get((year, ind.id), ()), ind)
    return fig, figure_value(ind, fig, _earlier_expected(ind, scope, fig, expected))[2]


def _verdict(ind: IndicatorRule, fig: Figure, value: float | None, expected: int,
             target: Target | None, year: int, ref_year: int, ref: Figure | None,
             ref_value: float | None,
             ) -> tuple[str | None, str | None, str | None, float | None, list[str]]:
    """``judge`` of one indicator in one scope (the baseline year itself is not judged)."""
    incomplete = (R_MISSING if fig.n < expected else
                  R_NOT_SUBMITTED if fig.n_sub < fig.n else None)
    if target is not None and target.direction == "reduce_vs_year" and \
            ref_year >= year:  # the baseline year itself: what later years are measured from
        return None, None, R_BASELINE_YEAR, None, []
    return judge(ind, value, fig, target, ref_value, ref is not None and ref.n > 0,
                 incomplete, ref_complete=ref is None or ref.n >= expected)


class Brief(NamedTuple):
    """An indicator's figure and verdict in one scope, without its road and its change:
    what a roll-up shows of each commune (``compute`` gives the same figure and verdict)."""

    numerator: int | None
    denominator: int | None
    value: float | None
    verdict: str | None
    expected: int
    n: int  # units that reported
    n_sub: int  # of which submitted


def brief(ind: IndicatorRule, scope: Scope, year: int, target: Target | None) -> Brief:
    """The figure and verdict of ``compute``, reading the reference year only when the
    target is measured against it (a reduction, maintain)."""
    return Briefing(ind, year, target)(scope)


class Briefing:
    """``brief`` of one indicator, year and target, for scope after scope: what does not
    depend on the scope (the keys of the year's groups and of its reference year's, the
    reporters, the target) is worked out once, as a roll-up asks it of every commune.

    An indicator that is not mixed, with a target not written as a fraction, is summed
    and judged here as ``combine``, ``expected_units``, ``figure_value``, ``_verdict`` and
    ``judge`` do (the same sums in the same order, the same comparisons); a mixed one
    (agency before hamlets) goes the whole way (``_brief``).
    """

    __slots__ = ("_ind", "_year", "_target", "_key", "_ref_key", "_reporters", "_one_kind",
                 "_kind", "_factor", "_whole_way", "_judged", "_measured", "_direction",
                 "_value", "_value_max", "_bound", "_upward")

    def __init__(self, ind: IndicatorRule, year: int, target: Target | None) -> None:
        self._ind, self._year, self._target = ind, year, target
        self._key = (year, ind.id)
        ref_year = reference_year(target, year)
        self._ref_key = (ref_year, ind.id)
        self._reporters = ind.reporters
        self._one_kind = next(iter(ind.reporters)) if len(ind.reporters) == 1 else None
        self._kind = ind.kind
        self._factor = ind.factor or 100
        d = target.direction if target is not None else None
        self._whole_way = ind.mixed or (
            target is not None and target.fraction is not None and ind.kind == "rate")
        self._measured = d in MEASURED
        # no verdict without a target, for "none", for a task, nor in the baseline year
        # of a reduction (what later years are measured from)
        self._judged = target is not None and d != "none" and ind.kind != "task" and not (
            d == "reduce_vs_year" and ref_year >= year)
        self._direction = d
        self._value = target.value if target is not None else None
        self._value_max = target.value_max if target is not None else None
        # a bound compared as written (``compares``): a value far from it needs no rounding
        self._bound = self._value if d in ("at_least", "above", "at_most", "below") else None
        self._upward = d in ("at_least", "above")

    def __call__(self, scope: Scope) -> Brief:
        """The figure and verdict in ``scope``."""
        return self.over((scope,))[0]

    def over(self, scopes: Iterable[Scope]) -> list[Brief]:
        """The figure and verdict in each of ``scopes``, in their order."""
        if self._whole_way:
            return [_brief(self._ind, scope, self._year, self._target) for scope in scopes]
        key, reporters, one_kind = self._key, self._reporters, self._one_kind
        judged, measured, bound, upward = self._judged, self._measured, self._bound, \
            self._upward
        figure_value = self._figure_value
        kind_rate, factor = self._kind == "rate", self._factor
        out = []
        append = out.append
        for scope in scopes:
            # combine: the reporters' groups, summed one after the other
            groups = scope.groups.get(key)
            n, n_sub, yes, num, den, val = _summed(groups, reporters) if groups else _NOTHING
            # expected_units of an indicator that is not mixed
            counts = scope.kind_counts
            if one_kind is not None:
                expected = counts.get(one_kind, 0)
            else:
                expected = 0
                for k in reporters:
                    expected += counts.get(k, 0)
            # figure_value
            if n == 0:
                num = den = value = None
            elif kind_rate:
                value = (num or 0) / den * factor if den else None
            else:
                num, den, value = figure_value(n, num, den, val, yes, expected)
            # _verdict and judge
            verdict = None
            if judged:
                if n == 0:
                    verdict = CHUA_DU
                elif value is None:
                    pass
                elif measured:
                    verdict = self._measured_verdict(scope, value, expected, n, n_sub)
                else:
                    # meets rounds to EXACT (9) decimals, which moves a value by less than
                    # 1e-9 + |value|·2⁻⁵²: further than ``far`` from a bound, the value and
                    # its rounding are on the same side of it (NaN and ∞ go through meets)
                    far = 1e-6 * (value if value > 1.0 else -value if value < -1.0 else 1.0)
                    if bound is not None and (value - bound > far or bound - value > far):
                        ok = value > bound if upward else value < bound
                    else:
                        ok = meets(self._direction, value,  # type: ignore[arg-type]
                                   self._value, self._value_max, kind=self._kind)
                    if ok is not None:
                        verdict = CHUA_DU if n < expected or n_sub < n else \
                            DAT if ok else KHONG_DAT
            append(_new_tuple(Brief, (num, den, value, verdict, expected, n, n_sub)))
        return out

    def _figure_value(self, n: int, num: int | None, den: int | None, val: float | None,
                      yes: int, expected: int) -> tuple[int | None, int | None, float | None]:
        """``figure_value`` of the sums."""
        return _valued(self._kind, self._factor, n, num, den, val, yes, expected)

    def _measured_verdict(self, scope: Scope, value: float, expected: int, n: int,
                          n_sub: int) -> str | None:
        """The verdict against a target measured against the reference year: its figure
        (``_figure``, over the units expected now: the indicator is not mixed), then
        ``judge``."""
        groups = scope.groups.get(self._ref_key)
        ref_n, _sub, yes, num, den, val = _summed(groups, self._reporters) if groups \
            else _NOTHING
        ref_value = self._figure_value(ref_n, num, den, val, yes, expected)[2]
        if ref_n == 0 or ref_value is None or ref_n < expected:  # no reference, or not all
            return CHUA_DU
        change = change_pct(ref_value, value) if ref_value else None
        ok = against_reference(self._target, self._kind, value,  # type: ignore[arg-type]
                               ref_value, change)
        if ok is None:
            return None
        return CHUA_DU if n < expected or n_sub < n else DAT if ok else KHONG_DAT


_new_tuple = tuple.__new__  # a NamedTuple of its values, without its Python __new__


def _brief(ind: IndicatorRule, scope: Scope, year: int, target: Target | None) -> Brief:
    """``brief`` the whole way: ``combine``, ``figure_value``, the reference, ``_verdict``."""
    fig = combine(scope.groups.get((year, ind.id), ()), ind)
    expected = expected_units(ind, scope, fig)
    num, den, value = figure_value(ind, fig, expected)
    ref_year = reference_year(target, year)
    ref = ref_value = None
    if target is not None and target.direction in MEASURED:
        ref, ref_value = _figure(ind, scope, ref_year, expected)
    verdict = _verdict(ind, fig, value, expected, target, year, ref_year, ref, ref_value)[0]
    return Brief(num, den, value, verdict, expected, fig.n, fig.n_sub)


def compute(ind: IndicatorRule, scope: Scope, year: int, target: Target | None) -> Computed:
    """Figure and verdict of one indicator in one scope, against the year's target."""
    # every year's figure up to ``year`` once: the history, the year, its reference
    figures: dict[int, Figure] = {}
    points, small = _history(ind, scope, year, figures)
    fig = figures.get(year)
    if fig is None:
        fig = combine(scope.groups.get((year, ind.id), ()), ind)
    expected = expected_units(ind, scope, fig)
    num, den, value = figure_value(ind, fig, expected)
    # an earlier year's share of units is over the units expected that year
    last, last_value = _figure(ind, scope, year - 1, expected, figures)
    ref_year = reference_year(target, year)
    if ref_year == year - 1:
        ref, ref_value = last, last_value
    else:
        ref, ref_value = _figure(ind, scope, ref_year, expected, figures)
    verdict, provisional, reason, change, extra = _verdict(
        ind, fig, value, expected, target, year, ref_year, ref, ref_value)
    warnings = list(extra)
    if ind.kind == "rate" and fig.n and fig.den is not None:
        min_den = min_denominator(ind.factor, ind.min_denominator)
        if fig.den == 0:
            warnings.append(W_ZERO_DENOMINATOR)
        elif min_den and fig.den < min_den:
            warnings.append(W_SMALL_DENOMINATOR)
    if fig.dropped_area:
        warnings.append(W_AGENCY_OVER_HAMLETS)
    show_ref = ind.kind in ("change", "count") or (
        target is not None and target.direction in MEASURED)
    # points run in year order: the first is the earliest reported year
    start = (ind.baseline if ind.baseline is not None and ind.baseline[0] < year
             else points[0] if points and points[0][0] < year else None)
    path = trajectory(ind.kind, target, year, value, start,
                      complete=verdict in (DAT, KHONG_DAT))
    ahead = projection(ind.kind, ind.factor, ind.milestones, year, points, small)
    return Computed(num, den, value, target, verdict, provisional, reason, last_value,
                    ref_year if show_ref else None, ref_value if show_ref else None,
                    change, expected, fig, warnings, path, ahead)
