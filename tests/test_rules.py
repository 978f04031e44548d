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
    assert roots <= {"__future__", "collections", "dataclasses", "decimal", "typing"}, roots
