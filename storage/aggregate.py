"""The commune's annual figures: a pure computation over the reported values.

The figures are made in SQL: one grouped query over ``ReportedValue`` joined to its unit,
round, indicator and submission gives, per year, indicator and unit kind, the sums of
numerators, denominators and values and the number of units that reported (on time or
not). Python then applies the rules (reporters, agency before hamlets, targets, verdicts).
The rules are documented in docs/report.md. Nothing here writes to the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from flows.effects import EXACT
from storage import repo
from storage.kinds import ADMIN_KINDS, Direction, IndicatorKind
from storage.models import (
    Criterion,
    Goal,
    Indicator,
    Milestone,
    Person,
    Plan,
    ReportedValue,
    Round,
    Submission,
    Unit,
)

# Verdicts (the JSON and the documents use these codes).
DAT = "dat"
KHONG_DAT = "khong_dat"
CHUA_DU = "chua_du"

# Why a verdict is chua_du or missing (IndicatorRow.reason).
R_NO_DATA = "no_data"
R_NOT_SUBMITTED = "not_submitted"
R_MISSING = "missing_units"
R_NO_REFERENCE = "no_reference_data"
R_REFERENCE_INCOMPLETE = "reference_incomplete"  # fewer units then than expected now
R_BASELINE_YEAR = "baseline_year"  # the year a reduction is measured from: not judged
R_ZERO_DENOMINATOR = "zero_denominator"
R_NO_TARGET = "no_target"
R_NOT_JUDGED = "not_judged"

# Warnings (IndicatorRow.warnings).
W_SMALL_DENOMINATOR = "small_denominator"
W_AGENCY_OVER_HAMLETS = "agency_over_hamlets"
W_ZERO_DENOMINATOR = "zero_denominator"
W_ZERO_REFERENCE = "zero_reference"

AREA_KINDS = frozenset(k.value for k in ADMIN_KINDS)  # hamlet, commune, city... : summed areas
UPPER_KINDS = ("province", "city", "district", "commune")
SUMMED_KINDS = frozenset({IndicatorKind.rate, IndicatorKind.count, IndicatorKind.change})
DEFAULT_MIN_DENOMINATOR = {1000: 100, 100000: 1000}


class ReportError(LookupError):
    """No report can be made (unknown unit, no round, several plans)."""


# ------------------------------------------------------------------ the result


@dataclass(frozen=True)
class UnitInfo:
    """A unit as the report names it."""

    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class RoundInfo:
    """The reporting round a commune report is about."""

    id: int
    year: int
    unit_deadline: date
    consolidation_deadline: date
    closed_at: datetime | None


@dataclass(frozen=True)
class PlanInfo:
    """The plan (kế hoạch) the figures are judged against."""

    id: int
    code: str
    name_vi: str
    name_en: str
    issuer: str
    level: str


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


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator's figure for the commune (or the upper level) and its assessment."""

    code: str
    goal_code: int
    goal_title_vi: str
    goal_title_en: str
    criterion_number: int
    name_vi: str
    name_en: str
    kind: str
    factor: int | None
    unit_vi: str | None
    unit_en: str | None
    numerator: int | None
    denominator: int | None
    value: float | None
    target: Target | None
    verdict: str | None  # dat | khong_dat | chua_du | None (not judged)
    provisional_verdict: str | None  # the verdict on the data there is, while chua_du
    reason: str | None
    last_year_value: float | None
    reference_year: int | None
    reference_value: float | None
    change_pct: float | None  # reduction in % against the reference (positive = down)
    units_expected: int
    units_reported: int
    units_submitted: int
    units_on_time: int
    units_late: int
    missing_units: list[str]
    unsubmitted_units: list[str]
    warnings: list[str]
    sensitive: bool
    task_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitValue:
    """One unit's value for one indicator (for an upper level: one commune's figure)."""

    numerator: int | None
    denominator: int | None
    value: float | None
    task_status: str | None = None
    text: str | None = None
    state: str | None = None
    verdict: str | None = None


@dataclass(frozen=True)
class UnitRow:
    """Per-unit detail: a hamlet or agency of the commune (a commune of an upper level)."""

    id: int
    code: str
    name: str
    kind: str
    expected: list[str]  # indicator codes the unit must report
    submitted: bool
    submitted_at: datetime | None
    on_time: bool | None  # None while not submitted
    values: dict[str, UnitValue]
    units_expected: int = 1
    units_submitted: int = 0


@dataclass(frozen=True)
class Completeness:
    """Who reported: units expected, submitted, on time, late, and the names missing."""

    units_expected: int
    units_submitted: int
    units_on_time: int
    units_late: int
    late_units: list[str]
    missing_units: list[str]  # not submitted
    draft_units: list[str]  # values entered but not submitted


@dataclass(frozen=True)
class CommuneReport:
    """The annual report of a commune (or of an upper level adding up its communes)."""

    commune: UnitInfo
    round: RoundInfo | None  # None for a roll-up over several rounds
    plan: PlanInfo
    year: int
    rows: list[IndicatorRow]
    units: list[UnitRow]
    completeness: Completeness
    rollup: bool
    round_ids: tuple[int, ...]
    include_sensitive: bool
    generated_at: datetime
    parent: UnitInfo | None = None  # the level the report is sent to

    def counts(self) -> dict[str, int]:
        """How many indicators are dat / khong_dat / chua_du / not judged."""
        out = {DAT: 0, KHONG_DAT: 0, CHUA_DU: 0, "none": 0}
        for r in self.rows:
            out[r.verdict or "none"] += 1
        return out


# ------------------------------------------------------------------ plan and targets


@dataclass(frozen=True)
class _Ind:
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
    milestones: tuple[Milestone, ...]
    mixed: bool = field(init=False)  # reporters mix areas (thôn) and agencies, summed figure
    agencies: frozenset[str] = field(init=False)  # reporter kinds that are agencies

    def __post_init__(self) -> None:
        agencies = self.reporters - AREA_KINDS
        object.__setattr__(self, "agencies", agencies)
        object.__setattr__(self, "mixed", self.kind in SUMMED_KINDS and bool(agencies)
                           and bool(self.reporters & AREA_KINDS))


def target_for(milestones: Sequence[Milestone], year: int) -> Target | None:
    """The milestone target for ``year``: its own, else the next one, else the last.

    The same rule as ``bot.service.target_for``; ``from_next_milestone`` tells the report
    to say "(theo mốc 2030)".
    """
    if not milestones:
        return None
    ordered = sorted(milestones, key=lambda m: m.year)
    m = next((m for m in ordered if m.year >= year), ordered[-1])
    return Target(m.direction, m.value, m.value_max, m.ref_year, m.year, m.year != year, m.note)


def _plan_indicators(plan_id: int, *, session: Session) -> list[_Ind]:
    """The plan's indicators with goal, chỉ tiêu and milestones: two queries."""
    rows = session.exec(
        select(Indicator, Criterion.number, Goal.code, Goal.title_vi, Goal.title_en)
        .join(Criterion, Criterion.id == Indicator.criterion_id)
        .join(Goal, Goal.id == Criterion.goal_id)
        .where(Indicator.plan_id == plan_id).order_by(Indicator.position)).all()
    ms: dict[int, list[Milestone]] = defaultdict(list)
    for m in repo.milestones_for([r[0].id for r in rows], session=session):
        ms[m.indicator_id].append(m)
    return [_Ind(id=i.id, code=i.code, kind=i.kind, factor=i.factor,
                 reporters=frozenset(i.reporters or ()), sensitive=i.sensitive,
                 min_denominator=i.min_denominator, name_vi=i.name_vi, name_en=i.name_en,
                 unit_vi=i.unit_vi, unit_en=i.unit_en, goal_code=gcode, goal_title_vi=gvi,
                 goal_title_en=gen, criterion_number=cnum, milestones=tuple(ms[i.id]))
            for i, cnum, gcode, gvi, gen in rows]


def _col_in(column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)``."""
    return col(column).in_(list(values))


def _plan_info(plan: Plan) -> PlanInfo:
    return PlanInfo(plan.id, plan.code, plan.name_vi, plan.name_en, plan.issuer, plan.level)


def _unit_info(u: Unit) -> UnitInfo:
    return UnitInfo(u.id, u.code, u.name, u.kind)


def deadline_cutoff(deadline: date, tz: ZoneInfo) -> datetime:
    """The first instant after the deadline day in ``tz`` (reports before it are on time)."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


# ------------------------------------------------------------------ the grouped query

_rv = ReportedValue.__table__
_u = Unit.__table__
_r = Round.__table__
_s = Submission.__table__


def _has_data(rv: Any, inds: Sequence[_Ind]) -> Any:
    """A value counts when the fields its indicator's kind needs are filled.

    The kinds come from the plan (in Python), so the query needs no join to Indicator.
    """
    rates = [i.id for i in inds if i.kind == IndicatorKind.rate]
    tasks = [i.id for i in inds if i.kind == IndicatorKind.task]
    others = [i.id for i in inds if i.kind not in (IndicatorKind.rate, IndicatorKind.task)]
    return or_(
        and_(rv.c.indicator_id.in_(rates), rv.c.numerator.is_not(None),
             rv.c.denominator.is_not(None)),
        and_(rv.c.indicator_id.in_(tasks), rv.c.task_status.is_not(None)),
        and_(rv.c.indicator_id.in_(others), rv.c.value.is_not(None)),
    )


def _cutoff_expr(deadlines: Iterable[date], tz: ZoneInfo) -> Any:
    """Per round: the end of its unit deadline day, as a UTC instant (a CASE on the date)."""
    ds = sorted(set(deadlines))
    typed = UTCDateTime()
    if not ds:
        return literal(datetime(1970, 1, 1, tzinfo=UTC), typed)
    if len(ds) == 1:
        return literal(deadline_cutoff(ds[0], tz), typed)
    return case({d: literal(deadline_cutoff(d, tz), typed) for d in ds},
                value=_r.c.unit_deadline)


@dataclass(frozen=True)
class _G:
    """One row of the grouped query."""

    scope: int | None  # the round's commune when grouped per commune
    year: int
    ind: int
    kind: str
    submitted: bool
    agency_here: bool | None  # set per commune for mixed indicators in a roll-up
    n: int
    num: int | None
    den: int | None
    val: float | None
    yes: int
    on_time: int


def _grouped(session: Session, rounds: Select, inds: Sequence[_Ind], deadlines: Iterable[date],
             tz: ZoneInfo, *, by_commune: bool) -> list[_G]:
    """THE aggregate: sums per (year, indicator, unit kind, submitted) over ``rounds``."""
    # ReportedValue.state is "submitted" exactly when the unit has a Submission (repo keeps
    # them in step); a plain column also lets PostgreSQL estimate the groups and hash them.
    keys: list[Any] = [_r.c.year, _rv.c.indicator_id, _u.c.kind, _rv.c.state]
    if by_commune:
        keys.insert(0, _r.c.commune_id)
    on_time = case((func.coalesce(_s.c.submitted_at, _rv.c.updated_at)
                    < _cutoff_expr(deadlines, tz), 1), else_=0)
    stmt = (
        sa_select(*keys, func.count(), func.sum(_rv.c.numerator), func.sum(_rv.c.denominator),
               func.sum(_rv.c.value), func.sum(case((_rv.c.value >= 0.5, 1), else_=0)),
               func.sum(on_time))
        .select_from(
            _rv.join(_r, _r.c.id == _rv.c.round_id)
            .join(_u, _u.c.id == _rv.c.unit_id)
            .outerjoin(_s, and_(_s.c.round_id == _rv.c.round_id,
                                _s.c.unit_id == _rv.c.unit_id)))
        .where(_rv.c.round_id.in_(rounds), _has_data(_rv, inds))
        .group_by(*keys)
    )
    out = []
    for row in session.connection().execute(stmt):
        vals = list(row)
        scope = vals.pop(0) if by_commune else None
        year, ind, kind, sub, n, num, den, val, yes, ontime = vals
        out.append(_G(scope, year, ind, kind, sub == "submitted", None, int(n),
                      None if num is None else int(num), None if den is None else int(den),
                      None if val is None else float(val), int(yes or 0), int(ontime or 0)))
    return out


# ------------------------------------------------------------------ figures and verdicts


@dataclass
class _Fig:
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

    def add(self, g: _G) -> None:
        """Add one group row."""
        self.n += g.n
        self.n_sub += g.n if g.submitted else 0
        self.on_time += g.on_time
        self.yes += g.yes
        self.kinds.add(g.kind)
        if g.num is not None:
            self.num = (self.num or 0) + g.num
        if g.den is not None:
            self.den = (self.den or 0) + g.den
        if g.val is not None:
            self.val = (self.val or 0.0) + g.val


def _combine(groups: Iterable[_G], ind: _Ind) -> _Fig:
    """Sum the groups of one indicator, keeping only reporter kinds; agency before hamlets."""
    reporters = ind.reporters
    mine = [g for g in groups if g.kind in reporters]
    fig = _Fig()
    if ind.mixed:
        if any(g.agency_here is not None for g in mine):  # several rounds: flagged per round
            keep = [g for g in mine if not g.agency_here]
        elif any(g.kind not in AREA_KINDS for g in mine):
            keep = [g for g in mine if g.kind not in AREA_KINDS]
        else:
            keep = mine
        fig.dropped_area = len(keep) < len(mine)
        mine = keep
    for g in mine:
        fig.add(g)
    return fig


def _value(ind: _Ind, fig: _Fig, expected: int) -> tuple[int | None, int | None, float | None]:
    """Numerator, denominator and value of a figure as the report shows them."""
    if fig.n == 0:
        return None, None, None
    if ind.kind == IndicatorKind.rate:
        value = fig.num / fig.den * (ind.factor or 100) if fig.den else None
        return fig.num, fig.den, value
    if ind.kind == IndicatorKind.share_units:
        return fig.yes, expected, (fig.yes / expected * 100 if expected else None)
    if ind.kind == IndicatorKind.yes_no:
        return fig.yes, fig.n, (1.0 if fig.yes == fig.n else 0.0)
    if ind.kind in (IndicatorKind.count, IndicatorKind.change):
        return None, None, fig.val
    return None, None, None  # task: listed


def _meets(direction: str, v: float, t: Target, ref: float | None, kind: str) -> bool | None:
    """Whether ``v`` meets the target (None: cannot be judged).

    Judged on the exact value: rounding to ``EXACT`` (9) decimals only absorbs float noise
    (57/100 × 100 = 56.99999999999999). 23,749/25,000 = 94.996% does not meet "≥ 95%"; the
    documents show enough decimals never to write it 95% (flows.effects.decimals_to_agree).
    """
    v = round(v, EXACT)
    tv = t.value
    if direction == Direction.at_least:
        return None if tv is None else v >= tv
    if direction == Direction.at_most:
        return None if tv is None else v <= tv
    if direction == Direction.below:
        return None if tv is None else v < tv
    if direction == Direction.above:
        return None if tv is None else v > tv
    if direction == Direction.range:
        return None if tv is None or t.value_max is None else tv <= v <= t.value_max
    if direction == Direction.yes:
        return v >= 100 if kind == IndicatorKind.share_units else v >= 1
    if direction == Direction.maintain:
        return None if ref is None else v >= round(ref, EXACT)
    return None


def _judge(ind: _Ind, value: float | None, fig: _Fig, target: Target | None,
           ref_value: float | None, ref_known: bool, incomplete: str | None,
           ref_complete: bool = True,
           ) -> tuple[str | None, str | None, str | None, float | None, list[str]]:
    """Verdict, provisional verdict, reason, change % and extra warnings.

    ``incomplete`` is the reason the data is not complete yet (None when it is);
    ``ref_complete`` says whether every unit expected now reported in the reference year
    (a sum over 3 hamlets then against 6 now is not a change).
    """
    warnings: list[str] = []
    change = None
    if ref_value and value is not None:
        change = (ref_value - value) / ref_value * 100
    if target is None:
        return None, None, R_NO_TARGET, change, warnings
    d = target.direction
    if d == Direction.none or ind.kind == IndicatorKind.task:
        return None, None, R_NOT_JUDGED, change, warnings
    if fig.n == 0:
        return CHUA_DU, None, R_NO_DATA, change, warnings
    if value is None:  # a rate over a zero denominator: nothing happened to judge
        return None, None, R_ZERO_DENOMINATOR, change, warnings
    ok: bool | None
    if d in (Direction.reduce_per_year, Direction.reduce_vs_year, Direction.maintain):
        if not ref_known or ref_value is None:
            return CHUA_DU, None, R_NO_REFERENCE, change, warnings
        if not ref_complete:
            return CHUA_DU, None, R_REFERENCE_INCOMPLETE, change, warnings
        if d == Direction.maintain:
            ok = _meets(d, value, target, ref_value, ind.kind)
        elif ref_value == 0:
            warnings.append(W_ZERO_REFERENCE)
            ok = value == 0
        else:
            ok = round(change or 0.0, EXACT) >= (target.value or 0.0)
    else:
        ok = _meets(d, value, target, None, ind.kind)
    if ok is None:
        return None, None, R_NOT_JUDGED, change, warnings
    verdict = DAT if ok else KHONG_DAT
    if incomplete:
        return CHUA_DU, verdict, incomplete, change, warnings
    return verdict, verdict, None, change, warnings


def _reference_year(ind: _Ind, target: Target | None, year: int) -> int:
    """The year a change is measured against: the baseline of reduce_vs_year, else year-1."""
    if target is not None and target.direction == Direction.reduce_vs_year and target.ref_year:
        return target.ref_year
    return year - 1


@dataclass
class _Scope:
    """The data of one scope: groups per (year, indicator) and expected units per kind."""

    groups: dict[tuple[int, int], list[_G]] = field(default_factory=lambda: defaultdict(list))
    kind_counts: dict[str, int] = field(default_factory=dict)
    # mixed indicators: expected units computed per round by the caller
    mixed_expected: dict[int, int] = field(default_factory=dict)


def _expected(ind: _Ind, scope: _Scope, fig: _Fig) -> int:
    """Units expected to report the indicator in the scope (agency-or-hamlet aware)."""
    if ind.mixed and ind.id in scope.mixed_expected:
        return scope.mixed_expected[ind.id]
    kinds = ind.reporters
    if ind.mixed:
        if fig.kinds & ind.agencies:
            kinds = ind.agencies
        elif fig.kinds:
            kinds = ind.reporters & AREA_KINDS
    return sum(scope.kind_counts.get(k, 0) for k in kinds)


@dataclass(frozen=True)
class _Computed:
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
    fig: _Fig
    warnings: list[str]


def _earlier_expected(ind: _Ind, fig: _Fig, expected: int) -> int:
    """The units a share of an earlier year is over: those that reported it then."""
    if ind.kind == IndicatorKind.share_units and fig.n:
        return fig.n
    return expected


def _compute(ind: _Ind, scope: _Scope, year: int, target: Target | None) -> _Computed:
    """Figure and verdict of one indicator in one scope, against the year's target."""
    fig = _combine(scope.groups.get((year, ind.id), ()), ind)
    expected = _expected(ind, scope, fig)
    num, den, value = _value(ind, fig, expected)
    last = _combine(scope.groups.get((year - 1, ind.id), ()), ind)
    # an earlier year's share of units is over the units that reported it then
    last_value = _value(ind, last, _earlier_expected(ind, last, expected))[2]
    ref_year = _reference_year(ind, target, year)
    ref = last if ref_year == year - 1 else _combine(scope.groups.get((ref_year, ind.id), ()),
                                                     ind)
    ref_value = _value(ind, ref, _earlier_expected(ind, ref, expected))[2]
    incomplete = (R_MISSING if fig.n < expected else
                  R_NOT_SUBMITTED if fig.n_sub < fig.n else None)
    if target is not None and target.direction == Direction.reduce_vs_year and \
            ref_year >= year:  # the baseline year itself: what later years are measured from
        verdict, provisional, reason, change, extra = None, None, R_BASELINE_YEAR, None, []
    else:
        verdict, provisional, reason, change, extra = _judge(
            ind, value, fig, target, ref_value, ref.n > 0, incomplete,
            ref_complete=ref.n >= expected)
    warnings = list(extra)
    if ind.kind == IndicatorKind.rate and fig.n and fig.den is not None:
        min_den = ind.min_denominator or DEFAULT_MIN_DENOMINATOR.get(ind.factor or 100)
        if fig.den == 0:
            warnings.append(W_ZERO_DENOMINATOR)
        elif min_den and fig.den < min_den:
            warnings.append(W_SMALL_DENOMINATOR)
    if fig.dropped_area:
        warnings.append(W_AGENCY_OVER_HAMLETS)
    show_ref = ind.kind in (IndicatorKind.change, IndicatorKind.count) or (
        target is not None and target.direction in (Direction.reduce_per_year,
                                                     Direction.reduce_vs_year,
                                                     Direction.maintain))
    return _Computed(num, den, value, target, verdict, provisional, reason, last_value,
                     ref_year if show_ref else None, ref_value if show_ref else None,
                     change, expected, fig, warnings)


# ------------------------------------------------------------------ building the reports


def resolve_unit(code_or_id: str | int, session: Session) -> Unit:
    """A unit by id, full code or unambiguous last part of its code (else ReportError)."""
    if isinstance(code_or_id, int):
        unit = session.get(Unit, code_or_id)
        if unit is None:
            raise ReportError(f"no unit with id {code_or_id}")
        return unit
    try:
        return repo.find_unit(code_or_id, session=session)
    except repo.UnknownUnit as exc:
        raise ReportError(str(exc)) from exc


def _years_needed(inds: Sequence[_Ind], year: int) -> list[int]:
    years = {year, year - 1}
    for ind in inds:
        t = target_for(ind.milestones, year)
        if t is not None and t.direction == Direction.reduce_vs_year and t.ref_year:
            years.add(t.ref_year)
    return sorted(years)


def build_report(commune_code_or_id: str | int, year: int, *, session: Session,
                 include_sensitive: bool = True, tz: ZoneInfo) -> CommuneReport:
    """The annual report of a commune (or any unit with its own round) for ``year``."""
    commune = resolve_unit(commune_code_or_id, session)
    rnd = repo.round_for_year(commune.id, year, session=session)
    if rnd is None:
        years = session.exec(select(Round.year).where(Round.commune_id == commune.id)
                             .order_by(Round.year)).all()
        raise ReportError(f"{commune.code} has no round for {year}; rounds: "
                          f"{', '.join(str(y) for y in years) or '(none)'}")
    plan = session.get(Plan, rnd.plan_id)
    assert plan is not None
    inds = _plan_indicators(plan.id, session=session)
    round_ids = session.exec(select(Round.id).where(
        Round.commune_id == commune.id, Round.plan_id == plan.id,
        _col_in(Round.year, _years_needed(inds, year)))).all()
    rounds = sa_select(_r.c.id).where(_r.c.id.in_(list(round_ids)))  # a literal list: exact
    groups = _grouped(session, rounds, inds, [rnd.unit_deadline], tz, by_commune=False)
    units = repo.children(commune.id, session=session)
    scope = _Scope()
    for g in groups:
        scope.groups[(g.year, g.ind)].append(g)
    for u in units:
        scope.kind_counts[u.kind] = scope.kind_counts.get(u.kind, 0) + 1

    # per-unit detail: the round's raw values and submissions (two queries)
    values = session.exec(select(ReportedValue).where(ReportedValue.round_id == rnd.id)).all()
    subs = {s.unit_id: s for s in session.exec(select(Submission).where(
        Submission.round_id == rnd.id))}
    by_unit: dict[int, dict[int, ReportedValue]] = defaultdict(dict)
    for v in values:
        by_unit[v.unit_id][v.indicator_id] = v
    cutoff = deadline_cutoff(rnd.unit_deadline, tz)
    shown = [i for i in inds if include_sensitive or not i.sensitive]

    rows = []
    for ind in shown:
        c = _compute(ind, scope, year, target_for(ind.milestones, year))
        kinds = ind.reporters
        if ind.mixed and c.fig.kinds:
            agency = ind.agencies
            kinds = agency if c.fig.kinds & agency else ind.reporters & AREA_KINDS
        resp = [u for u in units if u.kind in kinds]
        mine = [(u, by_unit[u.id].get(ind.id)) for u in resp]
        missing = [u.name for u, v in mine if not _has_value(ind, v)]
        unsub = [u.name for u, v in mine if _has_value(ind, v) and v.state != "submitted"]
        rows.append(_row(ind, c, missing, unsub, by_unit_values=[v for _, v in mine]))

    reporter_kinds = set().union(*(i.reporters for i in inds)) if inds else set()
    unit_rows = []
    for u in units:
        if u.kind not in reporter_kinds:
            continue
        s = subs.get(u.id)
        vals = {}
        for ind in shown:
            v = by_unit[u.id].get(ind.id)
            if v is not None:
                vals[ind.code] = UnitValue(v.numerator, v.denominator, _unit_value(ind, v),
                                           v.task_status, v.text, v.state)
        unit_rows.append(UnitRow(
            id=u.id, code=u.code, name=u.name, kind=u.kind,
            expected=[i.code for i in shown if u.kind in i.reporters],
            submitted=s is not None, submitted_at=s.submitted_at if s else None,
            on_time=(s.submitted_at < cutoff) if s else None, values=vals,
            units_expected=1, units_submitted=1 if s else 0))
    completeness = Completeness(
        units_expected=len(unit_rows),
        units_submitted=sum(1 for r in unit_rows if r.submitted),
        units_on_time=sum(1 for r in unit_rows if r.on_time),
        units_late=sum(1 for r in unit_rows if r.submitted and not r.on_time),
        late_units=[r.name for r in unit_rows if r.submitted and not r.on_time],
        missing_units=[r.name for r in unit_rows if not r.submitted],
        draft_units=[r.name for r in unit_rows if not r.submitted and r.values],
    )
    return CommuneReport(
        commune=_unit_info(commune),
        round=RoundInfo(rnd.id, rnd.year, rnd.unit_deadline, rnd.consolidation_deadline,
                        rnd.closed_at),
        plan=_plan_info(plan), year=year, rows=rows, units=unit_rows,
        completeness=completeness, rollup=False, round_ids=(rnd.id,),
        include_sensitive=include_sensitive, generated_at=datetime.now(UTC),
        parent=_parent(commune, session))


def _parent(unit: Unit, session: Session) -> UnitInfo | None:
    parent = session.get(Unit, unit.parent_id) if unit.parent_id else None
    return _unit_info(parent) if parent else None


def _has_value(ind: _Ind, v: ReportedValue | None) -> bool:
    """The value has what its kind needs (the Python twin of ``_has_data``)."""
    if v is None:
        return False
    if ind.kind == IndicatorKind.rate:
        return v.numerator is not None and v.denominator is not None
    if ind.kind == IndicatorKind.task:
        return v.task_status is not None
    return v.value is not None


def _unit_value(ind: _Ind, v: ReportedValue) -> float | None:
    """A unit's own figure: its rate for a rate, else the value it reported."""
    if ind.kind == IndicatorKind.rate:
        if v.numerator is None or not v.denominator:
            return None
        return v.numerator / v.denominator * (ind.factor or 100)
    return v.value


def _row(ind: _Ind, c: _Computed, missing: list[str], unsubmitted: list[str], *,
         by_unit_values: Sequence[ReportedValue | None] = ()) -> IndicatorRow:
    tasks: dict[str, int] = {}
    if ind.kind == IndicatorKind.task:
        for v in by_unit_values:
            if v is not None and v.task_status:
                tasks[v.task_status] = tasks.get(v.task_status, 0) + 1
    return IndicatorRow(
        code=ind.code, goal_code=ind.goal_code, goal_title_vi=ind.goal_title_vi,
        goal_title_en=ind.goal_title_en, criterion_number=ind.criterion_number,
        name_vi=ind.name_vi, name_en=ind.name_en, kind=ind.kind, factor=ind.factor,
        unit_vi=ind.unit_vi, unit_en=ind.unit_en, numerator=c.numerator,
        denominator=c.denominator, value=c.value, target=c.target, verdict=c.verdict,
        provisional_verdict=c.provisional, reason=c.reason, last_year_value=c.last_year_value,
        reference_year=c.reference_year, reference_value=c.reference_value,
        change_pct=c.change_pct, units_expected=c.expected, units_reported=c.fig.n,
        units_submitted=c.fig.n_sub, units_on_time=c.fig.on_time,
        units_late=c.fig.n - c.fig.on_time, missing_units=missing,
        unsubmitted_units=unsubmitted, warnings=c.warnings, sensitive=ind.sensitive,
        task_counts=tasks)


def build_rollup(upper_unit: str | int, year: int, *, session: Session,
                 include_sensitive: bool = True, include_units: bool = True,
                 plan_code: str | None = None, tz: ZoneInfo) -> CommuneReport:
    """The report of an upper level: every round of ``year`` under it added together.

    Numerators, denominators, counts and units expected are summed over all rounds of the
    upper unit and its descendant communes on the same plan. ``units`` holds one row per
    commune (its own figures) unless ``include_units`` is False.
    """
    upper = resolve_unit(upper_unit, session)
    tree = select(Unit.id).where(Unit.id == upper.id).cte("tree", recursive=True)
    tree = tree.union_all(select(Unit.id).join(tree, Unit.parent_id == tree.c.id)
                          .where(_col_in(Unit.kind, UPPER_KINDS)))
    in_tree = col(Round.commune_id).in_(select(tree.c.id))
    plans = session.exec(select(Plan.id, Plan.code, func.count(Round.id))
                         .join(Round, Round.plan_id == Plan.id)
                         .where(in_tree, Round.year == year)
                         .group_by(Plan.id, Plan.code)).all()
    if plan_code is not None:
        plans = [p for p in plans if p[1] == plan_code]
    if not plans:
        raise ReportError(f"no round for {year} under {upper.code}")
    if len(plans) > 1:
        raise ReportError(f"rounds of {year} under {upper.code} use several plans: "
                          f"{', '.join(p[1] for p in plans)}; choose one")
    plan = session.get(Plan, plans[0][0])
    assert plan is not None
    inds = _plan_indicators(plan.id, session=session)
    years = _years_needed(inds, year)
    rounds = select(Round.id).where(in_tree, Round.plan_id == plan.id, _col_in(Round.year, years))
    current = select(Round.id).where(in_tree, Round.plan_id == plan.id, Round.year == year)
    deadlines = session.exec(select(Round.unit_deadline).where(col(Round.id).in_(current))
                             .distinct()).all()
    mixed = [i.id for i in inds if i.mixed]
    reporter_kinds = sorted(set().union(*(i.reporters for i in inds))) if inds else []

    # units per kind and per commune (for units expected); one grouped query
    kind_rows = session.connection().execute(
        sa_select(_r.c.commune_id, _u.c.kind, func.count())
        .select_from(_r.join(_u, _u.c.parent_id == _r.c.commune_id))
        .where(_r.c.id.in_(current)).group_by(_r.c.commune_id, _u.c.kind)).all()
    total = _Scope()
    per: dict[int, _Scope] = defaultdict(_Scope)
    for cid, kind, n in kind_rows:
        total.kind_counts[kind] = total.kind_counts.get(kind, 0) + int(n)
        per[cid].kind_counts[kind] = int(n)
    ind_by_id = {i.id: i for i in inds}
    if include_units or mixed:
        # one scan grouped per commune; the totals are the sums of the communes' groups,
        # with the agency-before-hamlets choice made commune by commune
        for g in _grouped(session, rounds, inds, deadlines, tz, by_commune=True):
            per[g.scope].groups[(g.year, g.ind)].append(g)  # type: ignore[index]
        for sc in per.values():
            for key, groups in sc.groups.items():
                ind = ind_by_id.get(key[1])
                if ind is not None and ind.mixed:
                    agency = any(g.kind in ind.agencies for g in groups)
                    groups[:] = [replace(g, agency_here=agency and g.kind in AREA_KINDS)
                                 for g in groups]
                total.groups[key].extend(groups)
    else:
        for g in _grouped(session, rounds, inds, deadlines, tz, by_commune=False):
            total.groups[(g.year, g.ind)].append(g)
    if mixed:  # expected units of mixed indicators: decided commune by commune
        for sc in per.values():
            for iid in mixed:
                c = _expected(ind_by_id[iid], sc, _combine(sc.groups.get((year, iid), ()),
                                                            ind_by_id[iid]))
                total.mixed_expected[iid] = total.mixed_expected.get(iid, 0) + c
                sc.mixed_expected[iid] = c

    # who submitted, per commune: one grouped query
    cutoff = _cutoff_expr(deadlines, tz)
    sub_rows = session.connection().execute(
        sa_select(_r.c.commune_id, func.count(_u.c.id), func.count(_s.c.id),
               func.sum(case((_s.c.submitted_at < cutoff, 1), else_=0)))
        .select_from(_r.join(_u, _u.c.parent_id == _r.c.commune_id)
                     .outerjoin(_s, and_(_s.c.round_id == _r.c.id, _s.c.unit_id == _u.c.id)))
        .where(_r.c.id.in_(current), _u.c.kind.in_(reporter_kinds))
        .group_by(_r.c.commune_id)).all()
    communes = {u.id: u for u in session.exec(select(Unit).where(
        col(Unit.id).in_([r[0] for r in sub_rows] or [-1])))}
    subs = {cid: (int(e), int(s), int(o or 0)) for cid, e, s, o in sub_rows}

    shown = [i for i in inds if include_sensitive or not i.sensitive]
    targets = {i.id: target_for(i.milestones, year) for i in inds}
    per_computed: dict[int, dict[int, _Computed]] = {}
    if include_units or mixed:
        for cid, sc in per.items():
            per_computed[cid] = {i.id: _compute(i, sc, year, targets[i.id]) for i in shown}
    rows = []
    for ind in shown:
        c = _compute(ind, total, year, targets[ind.id])
        incomplete = [communes[cid].name for cid, cc in per_computed.items()
                      if cid in communes and cc[ind.id].expected
                      and (cc[ind.id].fig.n < cc[ind.id].expected
                           or cc[ind.id].fig.n_sub < cc[ind.id].fig.n)]
        rows.append(_row(ind, c, incomplete, []))
    unit_rows = []
    if include_units:
        for cid, u in sorted(communes.items(), key=lambda kv: (kv[1].position, kv[1].code)):
            e, s, o = subs.get(cid, (0, 0, 0))
            # every indicator of the plan, with data or not: a commune that reported 4 of
            # 34 has 30 chưa đủ, as its own build_report says (value None: no data)
            vals = {i.code: UnitValue(cc.numerator, cc.denominator, cc.value,
                                      verdict=cc.verdict)
                    for i in shown if (cc := per_computed.get(cid, {}).get(i.id))}
            unit_rows.append(UnitRow(
                id=u.id, code=u.code, name=u.name, kind=u.kind,
                expected=[i.code for i in shown if per.get(cid) and
                          any(per[cid].kind_counts.get(k) for k in i.reporters)],
                submitted=e > 0 and s >= e, submitted_at=None,
                on_time=(o >= e) if e and s >= e else None, values=vals,
                units_expected=e, units_submitted=s))
    tot_e = sum(v[0] for v in subs.values())
    tot_s = sum(v[1] for v in subs.values())
    tot_o = sum(v[2] for v in subs.values())
    names = {cid: communes[cid].name for cid in subs if cid in communes}
    completeness = Completeness(
        units_expected=tot_e, units_submitted=tot_s, units_on_time=tot_o,
        units_late=tot_s - tot_o,
        late_units=[names[c] for c, (e, s, o) in subs.items() if s > o],
        missing_units=[names[c] for c, (e, s, o) in subs.items() if s < e],
        draft_units=[])
    rids = session.exec(select(Round.id).where(col(Round.id).in_(current))).all()
    return CommuneReport(
        commune=_unit_info(upper), round=None, plan=_plan_info(plan), year=year, rows=rows,
        units=unit_rows, completeness=completeness, rollup=True, round_ids=tuple(sorted(rids)),
        include_sensitive=include_sensitive, generated_at=datetime.now(UTC),
        parent=_parent(upper, session))


# ------------------------------------------------------------------ raw values and JSON


@dataclass(frozen=True)
class RawValue:
    """One reported value as the "Số liệu" sheet shows it (and the importer reads back)."""

    year: int
    unit: str
    indicator: str
    numerator: int | None
    denominator: int | None
    value: float | str | None  # a task's status goes in value
    reported_by: str | None
    reported_at: datetime
    state: str
    source: str
    text: str | None = None


def raw_values(report: CommuneReport, *, session: Session,
               limit: int | None = None) -> list[RawValue]:
    """The reported values behind a report (one query), in unit and plan order."""
    stmt = (select(Round.year, Unit.code, Indicator.code, Indicator.kind, Indicator.sensitive,
                   ReportedValue.numerator, ReportedValue.denominator, ReportedValue.value,
                   ReportedValue.task_status, ReportedValue.text, Person.name,
                   ReportedValue.updated_at, ReportedValue.state, ReportedValue.source)
            .join(Round, Round.id == ReportedValue.round_id)
            .join(Unit, Unit.id == ReportedValue.unit_id)
            .join(Indicator, Indicator.id == ReportedValue.indicator_id)
            .outerjoin(Person, Person.id == ReportedValue.reported_by)
            .where(col(ReportedValue.round_id).in_(list(report.round_ids)))
            .order_by(Unit.code, Indicator.position))
    if not report.include_sensitive:
        stmt = stmt.where(col(Indicator.sensitive).is_(False))
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    for (yr, ucode, icode, kind, _sens, num, den, val, status, text, who, at, state,
         source) in session.exec(stmt):
        value: float | str | None = status if kind == IndicatorKind.task else val
        out.append(RawValue(yr, ucode, icode, num, den, value, who, at, state, source, text))
    return out


def _target_json(t: Target | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"direction": t.direction, "value": t.value, "value_max": t.value_max,
            "ref_year": t.ref_year, "milestone_year": t.milestone_year,
            "from_next_milestone": t.from_next_milestone, "note": t.note}


def _r2(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def report_json(report: CommuneReport) -> dict[str, Any]:
    """The report as plain JSON-ready data (codes, not sentences)."""
    c = report.completeness
    return {
        "unit": {"code": report.commune.code, "name": report.commune.name,
                 "kind": report.commune.kind},
        "year": report.year,
        "rollup": report.rollup,
        "rounds": len(report.round_ids),
        "plan": {"code": report.plan.code, "name": report.plan.name_vi},
        "unit_deadline": report.round.unit_deadline.isoformat() if report.round else None,
        "counts": report.counts(),
        "completeness": {"units_expected": c.units_expected,
                         "units_submitted": c.units_submitted,
                         "units_on_time": c.units_on_time, "units_late": c.units_late,
                         "late_units": c.late_units, "missing_units": c.missing_units,
                         "draft_units": c.draft_units},
        "indicators": [{
            "code": r.code, "goal": r.goal_code, "criterion": r.criterion_number,
            "name": r.name_vi, "name_en": r.name_en, "kind": r.kind, "factor": r.factor,
            "numerator": r.numerator, "denominator": r.denominator, "value": _r2(r.value),
            "target": _target_json(r.target), "verdict": r.verdict,
            "provisional_verdict": r.provisional_verdict, "reason": r.reason,
            "last_year_value": _r2(r.last_year_value), "reference_year": r.reference_year,
            "reference_value": _r2(r.reference_value), "change_pct": _r2(r.change_pct),
            "units_expected": r.units_expected, "units_reported": r.units_reported,
            "units_submitted": r.units_submitted, "units_on_time": r.units_on_time,
            "units_late": r.units_late, "missing_units": r.missing_units,
            "unsubmitted_units": r.unsubmitted_units, "warnings": r.warnings,
            "sensitive": r.sensitive, "task_counts": r.task_counts,
        } for r in report.rows],
        "units": [{
            "code": u.code, "name": u.name, "kind": u.kind, "submitted": u.submitted,
            "submitted_at": u.submitted_at.isoformat() if u.submitted_at else None,
            "on_time": u.on_time, "units_expected": u.units_expected,
            "units_submitted": u.units_submitted,
            "values": {k: {"numerator": v.numerator, "denominator": v.denominator,
                           "value": _r2(v.value), "task_status": v.task_status,
                           "state": v.state, "verdict": v.verdict}
                       for k, v in u.values.items()},
        } for u in report.units],
    }
