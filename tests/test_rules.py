"""The report's rules (flows.rules) on plain values: no database, no bot."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from flows.rules import (
    CHUA_DU,
    DAT,
    KHONG_DAT,
    R_BASELINE_YEAR,
    R_MISSING,
    R_NO_DATA,
    R_NO_REFERENCE,
    R_NOT_JUDGED,
    R_NOT_SUBMITTED,
    R_REFERENCE_INCOMPLETE,
    R_ZERO_DENOMINATOR,
    W_AGENCY_OVER_HAMLETS,
    W_SMALL_DENOMINATOR,
    W_ZERO_REFERENCE,
    Group,
    IndicatorRule,
    Scope,
    Target,
    brief,
    change_decimals,
    change_pct,
    compute,
    decimals_to_agree,
    meets,
    pooled_rate,
    shown_decimals,
    target_for,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class M:
    """A milestone as a plan gives it."""

    year: int
    direction: str = "at_least"
    value: float | None = 90
    value_max: float | None = None
    ref_year: int | None = None
    note: str | None = None


def ind(kind: str = "rate", *, factor: int | None = 100, reporters: tuple[str, ...] = ("hamlet",),
        milestones: tuple[M, ...] = (), min_denominator: int | None = None) -> IndicatorRule:
    """An indicator of a made-up plan."""
    return IndicatorRule(id=1, code="1", kind=kind, factor=factor, reporters=frozenset(reporters),
                         sensitive=False, min_denominator=min_denominator, name_vi="x",
                         name_en="x", unit_vi=None, unit_en=None, goal_code=1, goal_title_vi="",
                         goal_title_en="", criterion_number=1, milestones=milestones)


def g(year: int, kind: str = "hamlet", *, n: int = 1, num: int | None = None,
      den: int | None = None, val: float | None = None, yes: int = 0,
      submitted: bool = True) -> Group:
    """One grouped row (n units of one kind)."""
    return Group(None, year, 1, kind, n, n if submitted else 0, num, den, val, yes, n)


def scope(groups: list[Group], **kinds: int) -> Scope:
    """A scope holding the groups and the units there are of each kind."""
    sc = Scope()
    for gr in groups:
        sc.groups[(gr.year, gr.ind)].append(gr)
    sc.kind_counts.update(kinds)
    return sc


def target(direction: str, value: float | None = None, value_max: float | None = None,
           ref_year: int | None = None) -> Target:
    """A target of 2026 on its own milestone."""
    return Target(direction, value, value_max, ref_year, 2026, False)


# ------------------------------------------------------------------ pooling


units = st.lists(st.integers(1, 10_000).flatmap(lambda d: st.tuples(st.integers(0, d),
                                                                    st.just(d))),
                 min_size=2, max_size=12)


@given(units)
@example([(1, 2), (99, 100)])  # docs/report.md: 100/102 = 98.04%, not 74.5%
def test_a_rate_pools_numerators_and_denominators(pairs):
    """The commune's rate is Σ numerators ÷ Σ denominators, whatever the units' own rates."""
    groups = [g(2026, num=n, den=d) for n, d in pairs]
    c = compute(ind(), scope(groups, hamlet=len(pairs)), 2026, None)
    total_n, total_d = sum(n for n, _ in pairs), sum(d for _, d in pairs)
    assert (c.numerator, c.denominator) == (total_n, total_d)
    pooled = total_n / total_d * 100
    assert c.value == pooled
    averaged = sum(n / d * 100 for n, d in pairs) / len(pairs)
    if abs(pooled - averaged) > 1e-9:  # where they differ, the report is never the average
        assert abs(c.value - averaged) > 1e-9


def test_pooled_differs_from_averaged_on_the_documented_case():
    assert pooled_rate([(1, 2), (99, 100)], 100) == pytest.approx(98.0392, abs=1e-4)
    assert pooled_rate([(1, 2), (99, 100)], 100) != pytest.approx(74.5)  # the mean of rates
    assert pooled_rate([(3, 1000), (1, 1000)], 1000) == pytest.approx(2.0)  # ‰, not × 100
    assert pooled_rate([(0, 0)], 100) is None


@given(st.lists(st.booleans(), min_size=1, max_size=20), st.integers(0, 5))
def test_a_share_of_units_is_over_the_units_expected(answers, silent):
    """Units answering yes ÷ units expected (those that did not answer count as not yes)."""
    groups = [g(2026, "primary_school", val=float(a), yes=int(a)) for a in answers]
    expected = len(answers) + silent
    c = compute(ind("share_units", factor=None, reporters=("primary_school",)),
                scope(groups, primary_school=expected), 2026, target("yes"))
    assert (c.numerator, c.denominator) == (sum(answers), expected)
    assert c.value == pytest.approx(sum(answers) / expected * 100)
    if silent:
        assert (c.verdict, c.reason) == (CHUA_DU, R_MISSING)
    else:
        assert c.verdict == (DAT if all(answers) else KHONG_DAT)


def test_the_agency_figure_is_used_not_added_to_the_hamlets():
    i = ind("count", factor=None, reporters=("hamlet", "health_station"))
    both = compute(i, scope([g(2026, val=5, n=6), g(2026, "health_station", val=3)],
                            hamlet=6, health_station=1), 2026, None)
    assert (both.value, both.expected) == (3, 1)
    assert W_AGENCY_OVER_HAMLETS in both.warnings
    hamlets = compute(i, scope([g(2026, val=5, n=6)], hamlet=6, health_station=1), 2026, None)
    assert (hamlets.value, hamlets.expected, hamlets.warnings) == (5, 6, [])


def test_a_unit_kind_not_among_the_reporters_is_ignored():
    c = compute(ind(), scope([g(2026, num=1, den=2), g(2026, "police", num=50, den=50)],
                             hamlet=1, police=1), 2026, None)
    assert (c.numerator, c.denominator) == (1, 2)


# ------------------------------------------------------------------ boundaries by direction


@pytest.mark.parametrize(("direction", "value", "value_max", "x", "expected"), [
    ("at_least", 90, None, 90, True),
    ("at_least", 90, None, 89.999, False),
    ("at_most", 6, None, 6, True),
    ("at_most", 15, None, 15.004, False),
    ("below", 5, None, 5, False),
    ("below", 9.5, None, 9.496, True),
    ("above", 90, None, 90, False),
    ("above", 15, None, 15.004, True),
    ("range", 90, 95, 90, True),
    ("range", 90, 95, 95, True),
    ("range", 90, 95, 96, False),
    ("range", 90, 95, 89, False),
    ("at_least", 95, None, 23749 / 25000 * 100, False),  # 94.996% is short of ≥ 95%
    ("at_least", 57, None, 57 / 100 * 100, True),  # 56.99999999999999: float noise only
    ("below", 57, None, 57 / 100 * 100, False),
])
def test_boundaries_by_direction(direction, value, value_max, x, expected):
    assert meets(direction, x, value, value_max) is expected


def test_yes_maintain_and_none():
    assert meets("yes", 100, None, kind="share_units") is True
    assert meets("yes", 99.99, None, kind="share_units") is False
    assert meets("yes", 1, None, kind="yes_no") is True
    assert meets("yes", 0, None, kind="yes_no") is False
    assert meets("maintain", 58, None, ref=58) is True
    assert meets("maintain", 57, None, ref=58) is False
    assert meets("maintain", 57, None) is None
    assert meets("none", 57, 50) is None


bounds = st.integers(-1000, 100_000).map(lambda n: n / 100)  # targets as plans write them
offsets = st.integers(-2000, 2000).map(lambda n: n / 1000)


@given(st.sampled_from(["at_least", "at_most", "below", "above"]), bounds, offsets)
def test_a_bound_splits_values_as_its_direction_says(direction, bound, off):
    x = bound + off
    ok = meets(direction, x, bound)
    exact = round(x, 9)
    assert ok is {"at_least": exact >= bound, "at_most": exact <= bound,
                  "below": exact < bound, "above": exact > bound}[direction]
    if off == 0:  # on the boundary: "at least"/"at most" hold, "below"/"above" do not
        assert ok is (direction in ("at_least", "at_most"))


def _reduction(ref: float, now: float, direction: str = "reduce_per_year",
               value: float = 2, ref_year: int | None = None):
    i = ind("change", factor=None)
    ry = ref_year or 2025
    return compute(i, scope([g(ry, val=ref), g(2026, val=now)], hamlet=1), 2026,
                   target(direction, value, ref_year=ref_year))


@given(st.integers(1, 10_000), st.integers(0, 10_000), st.integers(0, 10))
def test_reduce_by_compares_the_fall_with_the_target(ref, now, pct):
    c = _reduction(ref, now, value=pct)
    fall = (ref - now) / ref * 100
    assert c.change_pct == pytest.approx(fall)
    assert c.verdict == (DAT if round(fall, 9) >= pct else KHONG_DAT)


def test_reductions_at_their_edges():
    assert _reduction(2505, 2455).verdict == KHONG_DAT  # down 1.996% against 2%/năm
    assert _reduction(2500, 2450).verdict == DAT  # down exactly 2%
    zero = _reduction(0, 0)
    assert (zero.verdict, zero.warnings) == (DAT, [W_ZERO_REFERENCE])
    assert _reduction(0, 1).verdict == KHONG_DAT
    c = compute(ind("change", factor=None), scope([g(2026, val=5)], hamlet=1), 2026,
                target("reduce_per_year", 2))
    assert (c.verdict, c.reason) == (CHUA_DU, R_NO_REFERENCE)
    c = compute(ind("change", factor=None), scope([g(2025, val=9), g(2026, val=5, n=2)],
                                                  hamlet=2), 2026, target("reduce_per_year", 2))
    assert (c.verdict, c.reason) == (CHUA_DU, R_REFERENCE_INCOMPLETE)
    vs = _reduction(140, 133, "reduce_vs_year", 5, ref_year=2020)
    assert (vs.verdict, vs.reference_year, vs.reference_value) == (DAT, 2020, 140)
    base = compute(ind("change", factor=None), scope([g(2020, val=140)], hamlet=1), 2020,
                   target("reduce_vs_year", 5, ref_year=2020))
    assert (base.verdict, base.reason) == (None, R_BASELINE_YEAR)
    assert change_pct(0, 5) is None and change_pct(None, 5) is None


# ------------------------------------------------------------------ reasons and warnings


def test_why_a_figure_is_not_judged_yet():
    t = target("at_least", 90)
    none = compute(ind(), scope([], hamlet=2), 2026, t)
    assert (none.verdict, none.reason) == (CHUA_DU, R_NO_DATA)
    one = compute(ind(), scope([g(2026, num=95, den=100)], hamlet=2), 2026, t)
    assert (one.verdict, one.provisional, one.reason) == (CHUA_DU, DAT, R_MISSING)
    draft = compute(ind(), scope([g(2026, num=95, den=100, submitted=False)], hamlet=1), 2026, t)
    assert (draft.verdict, draft.provisional, draft.reason) == (CHUA_DU, DAT, R_NOT_SUBMITTED)
    zero = compute(ind(), scope([g(2026, num=0, den=0)], hamlet=1), 2026, t)
    assert (zero.verdict, zero.reason, zero.value) == (None, R_ZERO_DENOMINATOR, None)
    listed = compute(ind(), scope([g(2026, num=5, den=10)], hamlet=1), 2026, target("none"))
    assert (listed.verdict, listed.reason) == (None, R_NOT_JUDGED)


def test_small_denominators_by_factor():
    def warned(factor: int, den: int, given: int | None = None) -> bool:
        c = compute(ind(factor=factor, min_denominator=given),
                    scope([g(2026, num=1, den=den)], hamlet=1), 2026, None)
        return W_SMALL_DENOMINATOR in c.warnings
    assert warned(1000, 99) and not warned(1000, 100)
    assert warned(100000, 999) and not warned(100000, 1000)
    assert not warned(100, 3)  # % rates have no default
    assert warned(100, 49, given=50) and not warned(100, 50, given=50)


# ------------------------------------------------------------------ targets


years = st.integers(2015, 2040)


@given(st.lists(years, min_size=1, max_size=6, unique=True), years)
def test_target_for_picks_the_right_milestone(milestone_years, year):
    ms = [M(y, value=float(y)) for y in milestone_years]
    t = target_for(ms, year)
    assert t is not None
    later = sorted(y for y in milestone_years if y >= year)
    expected = later[0] if later else max(milestone_years)
    assert (t.milestone_year, t.value) == (expected, float(expected))
    assert t.from_next_milestone is (expected != year)


def test_target_for_examples():
    ms = [M(2030, value=95), M(2026, value=90, note="n")]
    assert target_for([], 2026) is None
    assert target_for(ms, 2026) == Target("at_least", 90, None, None, 2026, False, "n")
    assert target_for(ms, 2027).milestone_year == 2030  # between: the next milestone
    assert target_for(ms, 2025).milestone_year == 2026  # before the first: the first
    assert target_for(ms, 2031).milestone_year == 2030  # after the last: the last


# ------------------------------------------------------------------ precision


def roundings(x: float, d: int) -> set[float]:
    """Every way a renderer may round ``x`` to ``d`` decimals."""
    text = Decimal(repr(x))
    step = Decimal(1).scaleb(-d)
    return {round(x, d)} | {float(text.quantize(step, rounding=m))
                            for m in (ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_HALF_DOWN)}


@given(st.sampled_from(["at_least", "at_most", "below", "above", "range"]),
       bounds, st.integers(-600, 600).map(lambda n: n / 1000), st.integers(0, 4),
       st.integers(0, 3))
@example("at_least", 95.0, -0.004, 2, 0)  # 94.996% against ≥ 95%
@example("below", 9.5, -0.004, 2, 0)  # 9.496‰ against < 9.5‰
def test_the_shown_precision_never_flips_a_verdict(direction, bound, off, usual, span):
    x = bound + off
    top = bound + span if direction == "range" else None
    d = max(usual, decimals_to_agree(x, direction, bound, top))
    verdict = meets(direction, x, bound, top)
    for shown in roundings(x, d):
        assert meets(direction, shown, bound, top) is verdict, (x, shown, d)


def test_precision_examples():
    t95 = target("at_least", 95)
    assert shown_decimals("rate", t95, 23749 / 25000 * 100) == 3  # 94,996%
    assert shown_decimals("rate", t95, 90.0) == 0
    assert shown_decimals("rate", target("below", 9.5), 2374 / 250000 * 1000) == 3
    assert shown_decimals("count", t95, 94.996) == 0
    assert shown_decimals("share_units", target("yes"), 99.999) == 3
    assert shown_decimals("rate", target("yes"), 99.999) == 0  # a rate is never judged ≥ 100
    assert change_decimals(1.996, target("reduce_per_year", 2)) == 3  # "giảm 1,996%"
    assert change_decimals(1.996, target("at_least", 2)) == 0


# ------------------------------------------------------------------ purity


def test_the_rules_import_nothing_of_storage_or_the_bot():
    tree = ast.parse((ROOT / "flows/rules.py").read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    roots = {n.split(".")[0] for n in names}
    assert roots <= {"__future__", "collections", "dataclasses", "decimal", "fractions",
                     "typing"}, roots


# ------------------------------------------------------------------ the road to a milestone


from dataclasses import replace  # noqa: E402

from flows.rules import (  # noqa: E402
    OFF_PATH,
    ON_PATH,
    P_NO_REFERENCE,
    path_target,
    project,
    projection,
    trajectory,
)


def between(direction: str, value: float | None, year: int = 2026,
            milestone: int = 2030) -> Target:
    """The target of a year between milestones: the next milestone's."""
    return Target(direction, value, None, None, milestone, year != milestone)


@given(st.sampled_from(["at_least", "above", "at_most", "below"]),
       st.floats(0, 100), st.floats(0, 100), st.integers(2015, 2029), st.integers(1, 10))
def test_the_path_runs_straight_to_the_milestone_and_never_asks_more(direction, ref, goal,
                                                                     ref_year, span):
    milestone = ref_year + span
    points = [path_target(direction, ref_year, ref, milestone, goal, y)
              for y in range(ref_year + 1, milestone + 1)]
    assert points[-1] == pytest.approx(goal, abs=0.005)  # the milestone year: its target
    higher = direction in ("at_least", "above")
    for p in points:  # between the start and the target, never beyond the target
        assert min(ref, goal) - 0.005 <= p <= max(ref, goal) + 0.005
        assert (p <= goal) if higher else (p >= goal)
    steps = [b - a for a, b in zip(points, points[1:], strict=False)]
    if higher and ref < goal or not higher and ref > goal:  # moving towards the target
        assert all(s >= -0.01 for s in steps) if higher else all(s <= 0.01 for s in steps)


def test_the_documented_path_examples():
    # docs/report.md: 97% in 2024 towards ≥ 98% in 2030: 2026 must be at 97,33%
    assert path_target("at_least", 2024, 97.0, 2030, 98.0, 2026) == 97.33
    # a rate to lower falls along the path: 6‰ in 2024 towards < 4,8‰ in 2030 → 5,6‰ in 2026
    assert path_target("below", 2024, 6.0, 2030, 4.8, 2026) == 5.6
    # already beyond the milestone: the milestone's own target, no more
    assert path_target("at_least", 2024, 99.0, 2030, 98.0, 2026) == 98.0
    # the demo's 5.2: 97,56% in 2026 against ≥ 98% in 2030, from 97,2% in 2025
    p = trajectory("rate", between("at_least", 98), 2026, 97.56, (2025, 97.2))
    assert p is not None and p.target == 97.36 and p.verdict == ON_PATH
    slow = trajectory("rate", between("at_least", 98), 2026, 97.3, (2025, 97.2))
    assert slow is not None and slow.verdict == OFF_PATH


def test_a_path_only_between_milestones_and_with_a_reference():
    # the milestone year itself is judged against its own target: no path
    assert trajectory("rate", between("at_least", 98, year=2030), 2030, 97.0,
                      (2025, 96.0)) is None
    # no reference before the year: the report says why
    first = trajectory("rate", between("at_least", 98), 2026, 97.0, None)
    assert first is not None and (first.target, first.reason) == (None, P_NO_REFERENCE)
    same = trajectory("rate", between("at_least", 98), 2026, 97.0, (2026, 97.0))
    assert same is not None and same.reason == P_NO_REFERENCE
    # a reduction, maintain or a range have no line to draw
    assert trajectory("change", between("reduce_per_year", 2), 2026, 5, (2024, 9)) is None
    # incomplete data: the path target is shown, no verdict
    p = trajectory("rate", between("at_least", 98), 2026, 97.9, (2024, 97.0), complete=False)
    assert p is not None and p.target == 97.33 and p.verdict is None
    # a share of units "all units" is a path to 100%
    share = trajectory("share_units", between("yes", None), 2026, 60.0, (2024, 40.0))
    assert share is not None and share.target == 60.0 and share.verdict == ON_PATH  # 40 + 60 × 2/6


def test_a_strict_target_stays_strict_on_the_path():
    # "trên 40%" from 40% in 2024: the path is 40%, and 40% is not above it
    p = trajectory("rate", between("above", 40), 2026, 40.0, (2024, 40.0))
    assert p is not None and p.target == 40.0 and p.verdict == OFF_PATH
    # "dưới 5‰" reached on the line: below it is on the path, on it is not
    assert trajectory("rate", between("below", 5.0), 2026, 5.59, (2024, 6.0)).verdict == ON_PATH
    assert trajectory("rate", between("below", 5.0), 2026, 5.7, (2024, 6.0)).verdict == OFF_PATH


@given(st.integers(2015, 2028), st.floats(0, 100), st.floats(-5, 5), st.integers(1, 6))
def test_a_straight_trend_is_projected_on_its_line(first, start, slope, n):
    points = [(first + k, start + slope * k) for k in range(n + 1)]
    got = project(points, 2030)
    expected = start + slope * (2030 - first)
    assert got == pytest.approx(max(expected, 0.0), abs=1e-6)


def test_the_projection_rests_on_two_years_or_more():
    ms = (M(2026, value=95), M(2030, value=98))
    assert projection("rate", 100, ms, 2025, [(2025, 96.0)]) is None  # one year: none
    two = projection("rate", 100, ms, 2026, [(2025, 96.0), (2026, 96.6)])
    # 96,0 → 96,6: +0,6 a year, 2030 is 4 years on: 99,0% ≥ 98%: đạt if it keeps the pace
    assert (two.year, round(two.value, 6), two.years, two.verdict) == (2030, 99.0, 2, DAT)
    three = projection("rate", 100, ms, 2026, [(2024, 97.0), (2025, 96.0), (2026, 96.6)])
    # least squares: −0,2 a year from the mean 96,53 (2025): 95,53 in 2030
    assert three.years == 3 and three.verdict == KHONG_DAT
    assert three.value == pytest.approx(95.5 + 1 / 30, abs=1e-9)
    capped = projection("rate", 100, ms, 2026, [(2025, 90.0), (2026, 99.0)])
    assert capped.value == 100.0  # a percentage never projects beyond 100
    lower = projection("rate", 1000, (M(2030, "below", 5.0),), 2026, [(2025, 9.0), (2026, 8.0)])
    assert lower.value == 4.0 and lower.verdict == DAT  # a rate to lower: falls by 1‰ a year
    floor = projection("count", None, (M(2030, "none", None),), 2026, [(2025, 9.0), (2026, 5.0)])
    assert floor.value == 0.0 and floor.verdict is None  # a count never goes below 0
    assert projection("yes_no", None, ms, 2026, [(2025, 1.0), (2026, 1.0)]) is None
    assert projection("rate", 100, ms, 2030, [(2025, 1.0), (2026, 1.0)]) is None  # none ahead


def test_compute_gives_the_path_and_the_projection():
    i = replace(ind(milestones=(M(2030, value=98.0),)), code="5.2")
    sc = scope([g(2025, num=972, den=1000), g(2026, num=9756, den=10000)], hamlet=1)
    c = compute(i, sc, 2026, target_for(i.milestones, 2026))
    assert c.verdict == KHONG_DAT  # against the 2030 target itself
    assert c.path.target == 97.36 and c.path.verdict == ON_PATH  # but on the road to it
    assert c.path.reference_year == 2025 and c.path.reference_value == pytest.approx(97.2)
    # +0,36 a year: 99,0% in 2030
    assert c.projection.years == 2 and c.projection.value == pytest.approx(99.0, abs=1e-9)
    # the plan's baseline figure comes first
    based = compute(replace(i, baseline=(2020, 90.0)), sc, 2026, target_for(i.milestones, 2026))
    assert based.path.reference_year == 2020 and based.path.target == 94.8
    # a small denominator in any year is flagged on the projection
    tiny = scope([g(2025, num=1, den=50), g(2026, num=0, den=60)], hamlet=1)
    pm = compute(ind(factor=1000, milestones=(M(2030, "below", 5.0),)), tiny, 2026, None)
    assert pm.projection.small_denominator
    first = compute(i, scope([g(2026, num=9756, den=10000)], hamlet=1), 2026,
                    target_for(i.milestones, 2026))
    assert first.path.reason == P_NO_REFERENCE and first.projection is None


def test_an_earlier_share_is_over_the_units_expected_that_year():
    # 2 of 5 khu phố met the standard last year, 1 did not answer: 40%, as the 2025 report
    # itself said, not 2 of the 4 that answered
    i = ind("share_units", factor=None, reporters=("hamlet",))
    sc = scope([g(2025, n=4, val=2.0, yes=2), g(2026, n=5, val=3.0, yes=3)], hamlet=5)
    c = compute(i, sc, 2026, target("at_least", 50))
    own = compute(i, sc, 2025, target("at_least", 50))
    assert c.last_year_value == own.value == 40.0


# ------------------------------------------------------------------ a roll-up's communes


kinds_of = st.sampled_from(["hamlet", "health_station", "police"])
one_group = st.tuples(st.sampled_from([2020, 2024, 2025, 2026]), kinds_of, st.integers(1, 4),
                      st.integers(0, 300), st.integers(0, 300), st.integers(0, 30),
                      st.booleans(), st.sampled_from([None, True, False]))
milestone = st.tuples(st.sampled_from([2025, 2026, 2030]),
                      st.sampled_from(["at_least", "at_most", "below", "above", "range", "yes",
                                       "maintain", "reduce_per_year", "reduce_vs_year",
                                       "none"]),
                      st.integers(0, 120), st.sampled_from([None, 2020, 2024]))


@given(st.sampled_from(["rate", "share_units", "count", "change", "yes_no", "task"]),
       st.sampled_from([("hamlet",), ("hamlet", "health_station"), ("police",)]),
       st.lists(one_group, max_size=8), st.lists(milestone, max_size=2),
       st.integers(0, 4), st.integers(0, 2), st.integers(2024, 2027))
def test_a_communes_brief_gives_the_figure_and_verdict_of_its_full_computation(
        kind, reporters, groups, milestones, hamlets, agencies, year):
    """A roll-up shows each commune's figure and verdict without its road: the same as the
    full computation gives, whatever the data and the target."""
    rule = ind(kind, reporters=reporters,
               milestones=tuple(M(y, d, float(v), float(v) + 5, ref)
                                for y, d, v, ref in milestones))
    rows = []
    for y, k, n, a, b, v, sent, agency in groups:
        gr = Group(None, y, 1, k, n, n if sent else 0, min(a, b), max(a, b), float(v),
                   min(v, n), n)
        rows.append(gr._replace(agency_here=agency and k == "hamlet")
                    if agency is not None and rule.mixed else gr)
    sc = scope(rows, hamlet=hamlets, health_station=agencies, police=agencies)
    t = target_for(rule.milestones, year)
    full, short = compute(rule, sc, year, t), brief(rule, sc, year, t)
    assert (short.numerator, short.denominator, short.value, short.verdict) == \
        (full.numerator, full.denominator, full.value, full.verdict)
    assert (short.expected, short.n, short.n_sub) == (full.expected, full.fig.n, full.fig.n_sub)


# ------------------------------------------------------------------ the same figures, once


from flows.rules import Figure, combine, history, next_milestone  # noqa: E402


@given(st.sampled_from([("hamlet",), ("health_station",), ("health_station", "police")]),
       st.lists(st.tuples(kinds_of, st.integers(0, 4), st.integers(0, 4),
                          st.one_of(st.none(), st.integers(0, 300)),
                          st.one_of(st.none(), st.integers(0, 300)),
                          st.one_of(st.none(), st.floats(-1e6, 1e6)), st.integers(0, 4)),
                max_size=6))
@example(("hamlet",), [("hamlet", 1, 1, None, None, -0.0, 0)] * 2)  # no sum starts at −0
def test_a_figure_adds_its_groups_one_after_the_other(reporters, groups):
    """``combine`` gives the sums of ``Figure.add``, group after group, in their order (the
    same floats), of the reporters' kinds only (no mix of thôn and agencies here)."""
    rule = ind("count", reporters=reporters)
    rows = [Group(None, 2026, 1, k, n, sub, num, den, val, yes, n)
            for k, n, sub, num, den, val, yes in groups]
    added = Figure()
    for gr in rows:
        if gr.kind in rule.reporters:
            added.add(gr)
    got = combine(rows, rule)
    assert got == added
    assert repr(got.val) == repr(added.val)  # to the last bit and the sign of a zero


@given(st.lists(st.tuples(st.sampled_from([2024, 2025, 2026, 2030]),
                          st.sampled_from(["at_least", "below", "reduce_vs_year"])),
                max_size=5),
       st.integers(2023, 2031))
def test_a_year_takes_its_own_milestone_else_the_next_else_the_last(given_ms, year):
    """Milestones of the same year: the first written is the target, the last written the
    last one (as they come out of a stable sort by year)."""
    ms = [M(y, d, float(k)) for k, (y, d) in enumerate(given_ms)]
    ordered = sorted(ms, key=lambda m: m.year)
    t = target_for(ms, year)
    if not ms:
        assert t is None
    else:
        m = next((m for m in ordered if m.year >= year), ordered[-1])
        assert (t.direction, t.value, t.milestone_year) == (m.direction, m.value, m.year)
    after = [m for m in ordered if m.year > year]
    ahead = next_milestone(ms, year)
    assert (ahead is None) if not after else \
        (ahead.value, ahead.milestone_year) == (after[0].value, after[0].year)


@given(st.sampled_from(["rate", "share_units", "count", "change", "yes_no"]),
       st.sampled_from([("hamlet",), ("hamlet", "health_station"), ("police",)]),
       st.lists(one_group, max_size=10), st.lists(milestone, max_size=2),
       st.integers(0, 4), st.integers(0, 2), st.integers(2024, 2027))
def test_a_report_reads_each_year_as_that_years_own_report(
        kind, reporters, groups, milestones, hamlets, agencies, year):
    """Last year's figure is last year's report's; the projection is drawn through the
    history of the scope, whatever the data, as the rules give them one by one."""
    rule = ind(kind, reporters=reporters,
               milestones=tuple(M(y, d, float(v), float(v) + 5, ref)
                                for y, d, v, ref in milestones))
    rows = [Group(None, y, 1, k, n, n if sent else 0, min(a, b), max(a, b), float(v),
                  min(v, n), n) for y, k, n, a, b, v, sent, _agency in groups]
    sc = scope(rows, hamlet=hamlets, health_station=agencies, police=agencies)
    c = compute(rule, sc, year, target_for(rule.milestones, year))
    last = compute(rule, sc, year - 1, target_for(rule.milestones, year - 1))
    assert repr(c.last_year_value) == repr(last.value)
    points, small = history(rule, sc, year, c.expected)
    assert c.projection == projection(kind, rule.factor, rule.milestones, year, points, small)
