"""The commune's annual figures: the queries behind a report, handed to the rules.

A roll-up's figures are sums per round, indicator and unit kind: the sums of numerators,
denominators and values and the number of units that reported (submitted, on time). The
database keeps them per round (``roundsum``, migration 0010, ``storage.roundsums``); a round
whose kept on-time counts were made against another cutoff than the end of its deadline day
in the report's time zone is summed from its values by the grouped query (``_grouped``, also
the reference the kept sums are tested against; ``sums=False`` reads every round so). The
totals are added up per unit kind, by SQL for the indicators that are not mixed, and each
commune gets its figure and verdict (``flows.rules.brief``) without the road it does not
show. A commune's report reads its own round's values one by one (they make the per-unit
detail) and its rounds' kept sums. Every rule (reporters, agency before hamlets, targets,
verdicts, changes) is in ``flows.rules``; they are documented in docs/report.md. Nothing
here writes to the database.
"""

from __future__ import annotations

import functools
import gc
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Text, and_, bindparam, case, cast, func, literal, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from flows.rules import (  # noqa: F401 - the rules' codes are the report's codes
    AREA_KINDS,
    CHUA_DU,
    DAT,
    KHONG_DAT,
    R_BASELINE_YEAR,
    R_MISSING,
    R_NO_DATA,
    R_NO_REFERENCE,
    R_NO_TARGET,
    R_NOT_JUDGED,
    R_NOT_SUBMITTED,
    R_REFERENCE_INCOMPLETE,
    R_ZERO_DENOMINATOR,
    REDUCTIONS,
    W_AGENCY_OVER_HAMLETS,
    W_SMALL_DENOMINATOR,
    W_ZERO_DENOMINATOR,
    W_ZERO_REFERENCE,
    Brief,
    Briefing,
    Computed,
    Group,
    IndicatorRule,
    Path,
    Projection,
    Scope,
    Target,
    brief,
    combine,
    compute,
    expected_units,
    has_value,
    reference_year,
    responsible_kinds,
    target_for,
    unit_value,
    years_needed,
)
from storage import repo
from storage.kinds import IndicatorKind
from storage.models import (
    Criterion,
    Goal,
    Indicator,
    Milestone,
    Person,
    Plan,
    ReportedValue,
    Round,
    RoundSum,
    Submission,
    Unit,
)

_P = ParamSpec("_P")
_T = TypeVar("_T")

UPPER_KINDS = ("province", "city", "district", "commune")


class ReportError(LookupError):
    """No report can be made (unknown unit, no round, several plans): the English text, and
    the catalog key ("aggregate.*") and values a face words it with."""

    def __init__(self, key: str, text: str, **params: Any) -> None:
        super().__init__(text)
        self.key, self.params = key, params


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
    path: Path | None = None  # a year between milestones: its point on the road
    projection: Projection | None = None  # the trend at the next milestone
    roles: tuple[tuple[str, str], ...] = ()  # (unit, lead | implement | coordinate)


class UnitValue(NamedTuple):
    """One unit's value for one indicator (for an upper level: one commune's figure); a
    tuple, as a province's report holds one per commune and indicator."""

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


_i = Indicator.__table__
_c = Criterion.__table__
_gl = Goal.__table__
_m = Milestone.__table__
_p = Plan.__table__


# the reporters and roles as their JSON text: a plan repeats a few of them, each decoded once
_IND_COLS = (_i.c.id, _i.c.code, _i.c.kind, _i.c.factor, cast(_i.c.reporters, Text),
             _i.c.sensitive,
             _i.c.min_denominator, _i.c.name_vi, _i.c.name_en, _i.c.unit_vi, _i.c.unit_en,
             _gl.c.code, _gl.c.title_vi, _gl.c.title_en, _c.c.number,
             cast(_i.c.roles, Text), _i.c.baseline_year, _i.c.baseline_value)
_N_IND = len(_IND_COLS)
_PLAN_INDICATORS = (
    sa_select(*_IND_COLS, _m.c.year, _m.c.direction, _m.c.value, _m.c.value_max,
              _m.c.ref_year, _m.c.note, _m.c.value_num, _m.c.value_den)
    .select_from(_i.join(_c, _c.c.id == _i.c.criterion_id)
                 .join(_gl, _gl.c.id == _c.c.goal_id)
                 .outerjoin(_m, _m.c.indicator_id == _i.c.id))
    .where(_i.c.plan_id == bindparam("plan_id"))
    .order_by(_i.c.position, _i.c.id, _m.c.year, _m.c.id))


class _Milestone(NamedTuple):
    """A milestone as the rules read it (a tuple: a plan's rows are made into them as
    they come, for every report)."""

    year: int
    direction: str
    value: float | None
    value_max: float | None
    ref_year: int | None
    note: str | None
    value_num: int | None = None
    value_den: int | None = None


_DECODED: dict[tuple[str, str | None], Any] = {}


def _reporters(text: str | None) -> frozenset[str]:
    """An indicator's reporter kinds from their JSON text (each text decoded once)."""
    key = ("reporters", text)
    found = _DECODED.get(key)
    if found is None:
        found = frozenset(json.loads(text) or ()) if text is not None else frozenset()
        _remember(key, found)
    return found  # type: ignore[no-any-return]


def _roles(text: str | None) -> tuple[tuple[str, str], ...]:
    """An indicator's (unit, role) pairs from their JSON text (each text decoded once)."""
    key = ("roles", text)
    found = _DECODED.get(key)
    if found is None:
        found = tuple((u, r) for u, r in json.loads(text) or ()) if text is not None else ()
        _remember(key, found)
    return found  # type: ignore[no-any-return]


def _remember(key: tuple[str, str | None], value: Any) -> None:
    if len(_DECODED) > 4096:  # plans repeat a few texts; never let it grow without bound
        _DECODED.clear()
    _DECODED[key] = value


def _plan_indicators(plan_id: int, *, session: Session) -> list[IndicatorRule]:
    """The plan's indicators with goal, chỉ tiêu and milestones: one query, plain rows."""
    found: dict[int, tuple[Any, list[_Milestone]]] = {}
    for row in session.connection().execute(_PLAN_INDICATORS, {"plan_id": plan_id}).all():
        head = found.get(row[0])
        if head is None:
            head = found[row[0]] = (row[:_N_IND], [])
        if row[_N_IND] is not None:
            head[1].append(_new(_Milestone, row[_N_IND:]))
    return [IndicatorRule(id=iid, code=code, kind=kind, factor=factor,
                          reporters=_reporters(reporters), sensitive=sensitive,
                          min_denominator=min_den, name_vi=name_vi, name_en=name_en,
                          unit_vi=unit_vi, unit_en=unit_en, goal_code=gcode, goal_title_vi=gvi,
                          goal_title_en=gen, criterion_number=cnum, milestones=tuple(ms),
                          baseline=(b_year, b_value) if b_year is not None else None,
                          roles=_roles(roles))
            for (iid, code, kind, factor, reporters, sensitive, min_den, name_vi, name_en,
                 unit_vi, unit_en, gcode, gvi, gen, cnum, roles, b_year, b_value), ms
            in found.values()]


def _col_in(column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)``."""
    return col(column).in_(list(values))


def _plan_info(plan: Any) -> PlanInfo:
    return PlanInfo(plan.id, plan.code, plan.name_vi, plan.name_en, plan.issuer, plan.level)


def _unit_info(u: Any) -> UnitInfo:
    return UnitInfo(u.id, u.code, u.name, u.kind)


def deadline_cutoff(deadline: date, tz: ZoneInfo) -> datetime:
    """The first instant after the deadline day in ``tz`` (reports before it are on time)."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


# ------------------------------------------------------------------ the grouped query

_rv = ReportedValue.__table__
_u = Unit.__table__
_r = Round.__table__
_s = Submission.__table__


def _has_data(rv: Any, inds: Sequence[IndicatorRule]) -> Any:
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


def _cutoff_expr(deadlines: Iterable[date], tz: ZoneInfo, deadline: Any = None) -> Any:
    """Per round: the end of its unit deadline day, as a UTC instant (a CASE on the date,
    the round's ``unit_deadline`` unless another column is given)."""
    ds = sorted(set(deadlines))
    typed = UTCDateTime()
    if not ds:
        return literal(datetime(1970, 1, 1, tzinfo=UTC), typed)
    if len(ds) == 1:
        return literal(deadline_cutoff(ds[0], tz), typed)
    return case({d: literal(deadline_cutoff(d, tz), typed) for d in ds},
                value=_r.c.unit_deadline if deadline is None else deadline)


def _ids(column: Any, ids: Sequence[int]) -> Any:
    """``column IN (ids)`` with the ids written into the SQL (exact estimates, no limit on
    the number of parameters)."""
    return column.in_(bindparam("ids_" + column.name, list(ids) or [-1], expanding=True,
                                literal_execute=True))


def _grouped(session: Session, rounds: dict[int, tuple[int, int]],
             inds: Sequence[IndicatorRule], deadlines: Iterable[date],
             tz: ZoneInfo) -> list[Group]:
    """THE aggregate: sums per (round, indicator, unit kind) over ``rounds`` (id → commune,
    year). A round is one commune and one year, known here: the query needs no join to the
    round unless the rounds have several deadlines.
    """
    ds = sorted(set(deadlines))
    conn = session.connection()
    # through the round's key: SQLite then reads the values round by round
    in_rounds = _rv.c.round_id.in_(sa_select(_r.c.id).where(_ids(_r.c.id, list(rounds))))
    if conn.dialect.name == "sqlite":
        # SQLite joins in nested loops: look the unit (its kind) and its submission up once
        # per (round, unit) that has values, then read that unit's values by the unique
        # index (round, unit, indicator), instead of two look-ups per value
        pairs = sa_select(_rv.c.round_id, _rv.c.unit_id).where(in_rounds).distinct() \
            .subquery("pairs")
        pu = (sa_select(pairs.c.round_id, pairs.c.unit_id, _u.c.kind, _s.c.submitted_at)
              .select_from(pairs.join(_u, _u.c.id == pairs.c.unit_id)
                           .outerjoin(_s, and_(_s.c.round_id == pairs.c.round_id,
                                               _s.c.unit_id == pairs.c.unit_id)))
              .subquery("pu"))
        kind, submitted_at = pu.c.kind, pu.c.submitted_at
        joined = pu.join(_rv, and_(_rv.c.round_id == pu.c.round_id,
                                   _rv.c.unit_id == pu.c.unit_id))
        where = [_has_data(_rv, inds)]
    else:  # PostgreSQL hashes the units and the submissions once
        kind, submitted_at = _u.c.kind, _s.c.submitted_at
        joined = _rv.join(_u, _u.c.id == _rv.c.unit_id).outerjoin(
            _s, and_(_s.c.round_id == _rv.c.round_id, _s.c.unit_id == _rv.c.unit_id))
        where = [in_rounds, _has_data(_rv, inds)]
    if len(ds) > 1:
        joined = joined.join(_r, _r.c.id == _rv.c.round_id)
    # ReportedValue.state is "submitted" exactly when the unit has a Submission (repo keeps
    # them in step): a sum of the rows, not a key, so there is one group per unit kind
    keys: list[Any] = [_rv.c.round_id, _rv.c.indicator_id, kind]
    on_time = case((func.coalesce(submitted_at, _rv.c.updated_at)
                    < _cutoff_expr(ds, tz), 1), else_=0)
    stmt = (
        sa_select(*keys, func.count(), func.sum(case((_rv.c.state == "submitted", 1), else_=0)),
                  func.sum(_rv.c.numerator), func.sum(_rv.c.denominator),
                  func.sum(_rv.c.value), func.sum(case((_rv.c.value >= 0.5, 1), else_=0)),
                  func.sum(on_time))
        .select_from(joined).where(*where).group_by(*keys)
    )
    if len(rounds) > 100 and conn.dialect.name == "postgresql":
        # one group per round, indicator and kind: let PostgreSQL hash them in memory
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    # SQLite gives ints, PostgreSQL Decimal sums of bigints: made plain ints and floats
    plain = conn.dialect.name == "sqlite"
    out = []
    append = out.append
    for rid, ind, kind, n, sub, num, den, val, yes, ontime in conn.execute(stmt).all():
        cid, year = rounds[rid]
        if plain:
            append(Group(cid, year, ind, kind, n, sub, num, den, val, yes or 0, ontime or 0))
        else:
            append(Group(cid, year, ind, kind, int(n), int(sub), _int(num), _int(den),
                         None if val is None else float(val), int(yes or 0),
                         int(ontime or 0)))
    return out


_new = tuple.__new__  # a NamedTuple of a row's values, without its Python __new__


def _lit_ids(column: Any, ids: Sequence[int], name: str) -> Any:
    """``column IN (ids)`` with the ids written into the SQL, under a parameter ``name``."""
    return column.in_(bindparam(name, list(ids) or [-1], expanding=True,
                                literal_execute=True))


def _kept_groups(conn: Any, all_rounds: Sequence[Any], in_plan: Sequence[Any], kept: Any,
                 year: int, inds: Sequence[IndicatorRule],
                 sums: dict[tuple[int, int], dict[tuple[str, bool | None], list[Any]]],
                 per: dict[int, Scope] | None) -> dict[int, tuple[int, int]]:
    """A roll-up's groups from the kept sums: the totals of the indicators that are not
    mixed added up by SQL per year, indicator and unit kind into ``sums``, and, when
    ``per`` is given, each commune's groups (this year's, the reference year's of a target
    measured against one, every year's of a mixed indicator). ``in_plan`` selects the
    rounds, ``kept`` those of this year whose sums were kept against the end of their
    deadline day (as ``all_rounds`` flags them); the other rounds of this year are returned
    (id → commune, year), to be read from their values. The earlier years need no on-time
    count: every earlier round is read from its sums.
    """
    live = {rid: (cid, y) for rid, cid, y, _deadline, exact in all_rounds
            if y == year and not exact}
    this_year = and_(_r.c.year == year, kept)
    plain = [i.id for i in inds if not i.mixed]
    joined = _rs.join(_r, _r.c.id == _rs.c.round_id)
    totals = (
        sa_select(_r.c.year, _rs.c.indicator_id, _rs.c.kind, func.sum(_rs.c.n),
                  func.sum(_rs.c.n_sub), func.sum(_rs.c.num), func.sum(_rs.c.den),
                  func.sum(_rs.c.val), func.sum(_rs.c.yes), func.sum(_rs.c.on_time))
        .select_from(joined)
        .where(*in_plan, or_(_r.c.year < year, this_year),
               _lit_ids(_rs.c.indicator_id, plain, "plain"))
        .group_by(_r.c.year, _rs.c.indicator_id, _rs.c.kind))
    for y, iid, kind, n, sub, num, den, val, yes, on_time in conn.execute(totals).all():
        _add_up(sums[(y, iid)], Group(None, y, iid, kind, int(n), int(sub), _int(num),
                                      _int(den), None if val is None else float(val),
                                      int(yes), int(on_time)))
    if per is None:
        return live
    measured = [(i.id, reference_year(t, year)) for i in inds
                if (t := target_for(i.milestones, year)) is not None
                and t.direction in (*REDUCTIONS, "maintain")]
    wanted = [this_year]
    if measured:
        wanted.append(and_(_lit_ids(_r.c.year, sorted({y for _i, y in measured}),
                                    "ref_years"),
                           _lit_ids(_rs.c.indicator_id, [i for i, _y in measured],
                                    "measured")))
    mixed = [i.id for i in inds if i.mixed]
    if mixed:
        wanted.append(and_(_r.c.year < year, _lit_ids(_rs.c.indicator_id, mixed, "mixed")))
    known = {i.id for i in inds}
    # the columns of a Group, made of each row as it is
    stmt = (sa_select(_r.c.commune_id, _r.c.year, _rs.c.indicator_id, _rs.c.kind, _rs.c.n,
                      _rs.c.n_sub, _rs.c.num, _rs.c.den, _rs.c.val, _rs.c.yes, _rs.c.on_time,
                      literal(None))
            .select_from(joined).where(*in_plan, or_(*wanted)))
    mine: dict[int, Any] = {}
    for row in conn.execute(stmt).all():
        iid = row[2]
        if iid in known:
            cid = row[0]
            groups = mine.get(cid)
            if groups is None:
                groups = mine[cid] = per[cid].groups
            groups[(row[1], iid)].append(_new(Group, row))
    return live


def _add_up(acc: dict[tuple[str, bool | None], list[Any]], g: Group) -> None:
    """Add a group to the sums of its year and indicator, per unit kind (and agency
    choice): ``combine`` makes the same figure of the sums as of the groups."""
    key = (g.kind, g.agency_here)
    a = acc.get(key)
    if a is None:
        acc[key] = [g.n, g.n_sub, g.num, g.den, g.val, g.yes, g.on_time]
        return
    a[0] += g.n
    a[1] += g.n_sub
    if g.num is not None:
        a[2] = g.num if a[2] is None else a[2] + g.num
    if g.den is not None:
        a[3] = g.den if a[3] is None else a[3] + g.den
    if g.val is not None:
        a[4] = g.val if a[4] is None else a[4] + g.val
    a[5] += g.yes
    a[6] += g.on_time


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


# ------------------------------------------------------------------ building the reports


def resolve_unit(code_or_id: str | int, session: Session) -> Unit:
    """A unit by id, full code or unambiguous last part of its code (else ReportError)."""
    if isinstance(code_or_id, int):
        unit = session.get(Unit, code_or_id)
        if unit is None:
            raise ReportError("aggregate.no_unit_id", f"no unit with id {code_or_id}",
                              id=code_or_id)
        return unit
    try:
        return repo.find_unit(code_or_id, session=session)
    except repo.UnknownUnit as exc:
        raise ReportError("aggregate.unknown_unit", str(exc), unit=exc.wanted,
                          known=", ".join(exc.known) or "—") from exc


def _sum_values(values: Sequence[Any], rounds: dict[int, tuple[int, int]],
                inds: Sequence[IndicatorRule], kind_of_unit: dict[int, str]) -> list[Group]:
    """The grouped query's rows made from the values themselves (a commune's round).

    Each value ends with whether it counts as on time (its unit's report sent before the
    deadline's cutoff, or, not sent, the value entered before it).
    """
    kind_of = {i.id: i.kind for i in inds}
    acc: dict[tuple[int, int, str], list[Any]] = {}
    for rid, uid, iid, num, den, val, status, _text, state, on_time in values:
        kind = kind_of.get(iid)
        if kind is None or not has_value(kind, num, den, val, status):
            continue
        key = (rid, iid, kind_of_unit[uid])
        a = acc.get(key)
        if a is None:
            a = acc[key] = [0, 0, None, None, None, 0, 0]
        a[0] += 1
        a[1] += state == "submitted"
        if num is not None:
            a[2] = (a[2] or 0) + num
        if den is not None:
            a[3] = (a[3] or 0) + den
        if val is not None:
            a[4] = (a[4] or 0.0) + val
            a[5] += val >= 0.5
        a[6] += on_time
    out = []
    for (rid, ind, kind), (n, sub, num, den, val, yes, on_time) in acc.items():
        cid, year = rounds[rid]
        out.append(Group(cid, year, ind, kind, n, int(sub), num, den,
                         None if val is None else float(val), int(yes), int(on_time)))
    return out


# A commune's report: every statement built once, here (building and caching a statement's
# key costs more than running it on a thousand rows), the rows fetched as plain tuples, and
# as few of them as can be: the unit, its parent and its rounds come in one statement.
_pu = Unit.__table__.alias("parent_unit")
_HEAD_COLS = (_u.c.id, _u.c.code, _u.c.name, _u.c.kind, _pu.c.id, _pu.c.code, _pu.c.name,
              _pu.c.kind, _r.c.id, _r.c.year, _r.c.plan_id, _r.c.unit_deadline,
              _r.c.consolidation_deadline, _r.c.closed_at, _p.c.code, _p.c.name_vi,
              _p.c.name_en, _p.c.issuer, _p.c.level, _r.c.cutoff_at)
_HEAD = (sa_select(*_HEAD_COLS)
         .select_from(_u.outerjoin(_pu, _pu.c.id == _u.c.parent_id)
                      .outerjoin(_r, _r.c.commune_id == _u.c.id)
                      .outerjoin(_p, _p.c.id == _r.c.plan_id))
         .order_by(_r.c.year))
_HEAD_BY_ID = _HEAD.where(_u.c.id == bindparam("key"))
_HEAD_BY_CODE = _HEAD.where(_u.c.code == bindparam("key"))
_CUTOFF = bindparam("cutoff", type_=UTCDateTime())
_ROUND_ID = bindparam("round_id")
# the report's own round: its values one by one (the units' detail is made of them), each
# with whether it counts as on time: its unit's report sent before the deadline's end, or,
# not sent, the value entered before it
_COMMUNE_VALUES = (
    sa_select(_rv.c.round_id, _rv.c.unit_id, _rv.c.indicator_id, _rv.c.numerator,
              _rv.c.denominator, _rv.c.value, _rv.c.task_status, _rv.c.text, _rv.c.state,
              case((_s.c.id.is_not(None), case((_s.c.submitted_at < _CUTOFF, 1), else_=0)),
                   (_rv.c.updated_at < _CUTOFF, 1), else_=0))
    .select_from(_rv.outerjoin(_s, and_(_s.c.round_id == _rv.c.round_id,
                                        _s.c.unit_id == _rv.c.unit_id)))
    .where(_rv.c.round_id == _ROUND_ID))
# the same values when the round's kept sums are read (nothing to count on time here)
_COMMUNE_VALUES_KEPT = (
    sa_select(_rv.c.round_id, _rv.c.unit_id, _rv.c.indicator_id, _rv.c.numerator,
              _rv.c.denominator, _rv.c.value, _rv.c.task_status, _rv.c.text, _rv.c.state)
    .where(_rv.c.round_id == _ROUND_ID))
# the commune's units and whether (and when) each sent its report of the round
_COMMUNE_UNITS = (
    sa_select(_u.c.id, _u.c.code, _u.c.name, _u.c.kind, _s.c.id, _s.c.submitted_at,
              case((_s.c.submitted_at < _CUTOFF, 1), else_=0))
    .select_from(_u.outerjoin(_s, and_(_s.c.round_id == _ROUND_ID, _s.c.unit_id == _u.c.id)))
    .where(_u.c.parent_id == bindparam("commune_id")).order_by(_u.c.position, _u.c.code))
_UNIT_KINDS = sa_select(_u.c.id, _u.c.kind).where(_u.c.id.in_(bindparam("unit_ids",
                                                                           expanding=True)))
# the earlier years (the year before, the reference years, the road): summed in SQL per
# round, indicator and unit kind, as a roll-up does, a value counting when the fields its
# indicator's kind needs are filled (the kinds come from the plan: three lists of ids)
_HAS_DATA = or_(
    and_(_rv.c.indicator_id.in_(bindparam("rate_ids", expanding=True)),
         _rv.c.numerator.is_not(None), _rv.c.denominator.is_not(None)),
    and_(_rv.c.indicator_id.in_(bindparam("task_ids", expanding=True)),
         _rv.c.task_status.is_not(None)),
    and_(_rv.c.indicator_id.in_(bindparam("other_ids", expanding=True)),
         _rv.c.value.is_not(None)))


def _earlier_stmt(kind: Any, joined: Any) -> Any:
    return (sa_select(_rv.c.round_id, _rv.c.indicator_id, kind, func.count(),
                      func.sum(case((_rv.c.state == "submitted", 1), else_=0)),
                      func.sum(_rv.c.numerator), func.sum(_rv.c.denominator),
                      func.sum(_rv.c.value), func.sum(case((_rv.c.value >= 0.5, 1), else_=0)))
            .select_from(joined)
            .where(_rv.c.round_id.in_(bindparam("earlier", expanding=True)), _HAS_DATA)
            .group_by(_rv.c.round_id, _rv.c.indicator_id, kind))


# SQLite looks each value's unit up by its key
_COMMUNE_EARLIER = _earlier_stmt(_u.c.kind, _rv.join(_u, _u.c.id == _rv.c.unit_id))
# PostgreSQL would hash the whole unit table: it joins the commune's own units (a few
# dozen) and looks a unit no longer under the commune up by its key
_ux = Unit.__table__.alias("moved_unit")
_OWN_KIND = func.coalesce(
    _u.c.kind, sa_select(_ux.c.kind).where(_ux.c.id == _rv.c.unit_id).scalar_subquery())
_COMMUNE_EARLIER_PG = _earlier_stmt(
    _OWN_KIND, _rv.outerjoin(_u, and_(_u.c.id == _rv.c.unit_id,
                                      _u.c.parent_id == bindparam("commune_id"))))


def _earlier_groups(conn: Any, commune_id: int, earlier: list[int],
                    rounds: dict[int, tuple[int, int]],
                    inds: Sequence[IndicatorRule]) -> list[Group]:
    """The grouped rows of a commune's earlier rounds (their on-time counts are not read:
    who was late is a fact of the report's own year)."""
    ids: dict[str, list[int]] = {"rate_ids": [], "task_ids": [], "other_ids": []}
    for i in inds:
        ids["rate_ids" if i.kind == IndicatorKind.rate else
            "task_ids" if i.kind == IndicatorKind.task else "other_ids"].append(i.id)
    out = []
    for rid, ind, kind, n, sub, num, den, val, yes in conn.execute(
            _COMMUNE_EARLIER if conn.dialect.name == "sqlite" else _COMMUNE_EARLIER_PG,
            {"commune_id": commune_id, "earlier": earlier, **ids}).all():
        cid, year = rounds[rid]
        out.append(Group(cid, year, ind, kind, int(n), int(sub), _int(num), _int(den),
                         None if val is None else float(val), int(yes or 0), 0))
    return out


# the sums kept per round, indicator and unit kind (migration 0010, storage.roundsums): the
# triggers keep them equal to what ``_grouped`` makes of the values, on time counted against
# ``round.cutoff_at``
_rs = RoundSum.__table__
_SUM_COLS = (_rs.c.round_id, _rs.c.indicator_id, _rs.c.kind, _rs.c.n, _rs.c.n_sub,
             _rs.c.num, _rs.c.den, _rs.c.val, _rs.c.yes, _rs.c.on_time)
# a commune's rounds: their sums as kept (the on-time counts are read only for the report's
# own round, whose kept cutoff is then the end of its deadline day)
_KEPT_SUMS = sa_select(*_SUM_COLS).where(
    _rs.c.round_id.in_(bindparam("rounds", expanding=True)))


def _kept_sums(conn: Any, round_ids: list[int], rounds: dict[int, tuple[int, int]],
               inds: Sequence[IndicatorRule]) -> list[Group]:
    """The kept sums of a commune's rounds, as ``_grouped`` makes them."""
    known = {i.id for i in inds}
    out = []
    append = out.append
    for rid, ind, kind, n, sub, num, den, val, yes, on_time in conn.execute(
            _KEPT_SUMS, {"rounds": round_ids}).all():
        if ind in known:
            cid, year = rounds[rid]
            append(_new(Group, (cid, year, ind, kind, n, sub, num, den, val, yes, on_time,
                                None)))
    return out


def _collector_paused(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    """``fn`` run with Python's cyclic garbage collector paused, and the objects it made
    looked at once when it ends (a young collection, which any later one would do anyway).

    A roll-up keeps some hundred thousand small objects (a row per commune, indicator and
    unit kind, a figure per commune and indicator): while they are made, the collector
    would walk every object of the process several times over, for no garbage (they are
    all kept). A commune's report makes some ten thousand (its values, its kept sums,
    its units' detail), enough for a dozen young collections and now and then a full one.
    Pausing it changes no figure. When the collector is already paused (by the
    caller, or another thread inside ``fn``) it is left as found.
    """

    @functools.wraps(fn)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()
            gc.collect(0)

    return paused


@_collector_paused
def build_report(commune_code_or_id: str | int, year: int, *, session: Session,
                 include_sensitive: bool = True, tz: ZoneInfo,
                 sums: bool = True) -> CommuneReport:
    """The annual report of a commune (or any unit with its own round) for ``year``.

    The earlier years come from the sums kept per round (``sums``), and so do the round's
    own when they were kept against the end of its deadline day in ``tz``; else from the
    values. The per-unit detail is made of the round's values.
    """
    head = _head(commune_code_or_id, session)
    commune = UnitInfo(*head[0][:4])
    parent = UnitInfo(*head[0][4:8]) if head[0][4] is not None else None
    rounds = [RoundRow(*h[8:]) for h in head if h[8] is not None]
    rnd = next((r for r in rounds if r.year == year), None)
    if rnd is None:
        years = ", ".join(str(r.year) for r in rounds)
        raise ReportError("aggregate.no_round", f"{commune.code} has no round for {year}; "
                          f"rounds: {years or '(none)'}", unit=commune.code, year=year,
                          years=years or "—")
    plan = PlanInfo(rnd.plan_id, rnd.code, rnd.name_vi, rnd.name_en, rnd.issuer, rnd.level)
    conn = session.connection()
    inds = _plan_indicators(plan.id, session=session)
    need = set(years_needed(inds, year))
    # and every earlier year on the plan: the path to the milestone and the trend start there
    mine = {r.id: (commune.id, r.year) for r in rounds
            if r.plan_id == plan.id and (r.year in need or r.year < year)}
    # this round's values (a few hundred rows), summed here as the grouped query of a
    # roll-up would; the units and who sent their report
    params = {"round_id": rnd.id, "cutoff": deadline_cutoff(rnd.unit_deadline, tz),
              "commune_id": commune.id}
    # the round's own sums kept against the end of its deadline day are read with the
    # earlier years' (whose on-time counts are not read)
    kept = sums and rnd.cutoff_at is not None and rnd.cutoff_at == params["cutoff"]
    values = conn.execute(_COMMUNE_VALUES_KEPT if kept else _COMMUNE_VALUES, params).all()
    units = conn.execute(_COMMUNE_UNITS, params).all()
    earlier = [rid for rid in mine if rid != rnd.id]
    groups = []
    if not kept:
        kind_of_unit = {u[0]: u[3] for u in units}
        others = {v[1] for v in values} - kind_of_unit.keys()
        if others:  # values of units no longer under the commune: counted by their kind
            kind_of_unit.update(conn.execute(_UNIT_KINDS,
                                             {"unit_ids": sorted(others)}).all())
        groups = _sum_values(values, {rnd.id: mine[rnd.id]}, inds, kind_of_unit)
    if sums and (earlier or kept):
        groups += _kept_sums(conn, [*earlier, rnd.id] if kept else earlier, mine, inds)
    elif earlier:
        groups += _earlier_groups(conn, commune.id, earlier, mine, inds)
    scope = Scope()
    by_key = scope.groups
    for g in groups:  # (year, indicator)
        by_key[g[1], g[2]].append(g)
    counts = scope.kind_counts
    for u in units:
        counts[u[3]] = counts.get(u[3], 0) + 1

    # per-unit detail: the round's raw values
    subs = {u[0]: (u[5], bool(u[6])) for u in units if u[4] is not None}
    unit_list = [u[:4] for u in units]
    by_unit: dict[int, dict[int, Any]] = {}
    for v in values:
        given = by_unit.get(v[1])
        if given is None:
            given = by_unit[v[1]] = {}
        given[v[2]] = v
    nothing: dict[int, Any] = {}
    shown = [i for i in inds if include_sensitive or not i.sensitive]

    rows = []
    of_kinds: dict[frozenset[str], list[tuple[dict[int, Any], str]]] = {}
    present = has_value
    for ind in shown:
        c = compute(ind, scope, year, target_for(ind.milestones, year))
        kinds = responsible_kinds(ind, c.fig)
        theirs = of_kinds.get(kinds)
        if theirs is None:  # the units expected to report, in their order
            theirs = of_kinds[kinds] = [(by_unit.get(uid, nothing), name)
                                        for uid, _code, name, kind in unit_list
                                        if kind in kinds]
        missing, unsub, vals = [], [], []
        iid, kind = ind.id, ind.kind
        for given, name in theirs:
            v = given.get(iid)
            vals.append(v)
            if v is None or not present(kind, v[3], v[4], v[5], v[6]):
                missing.append(name)
            elif v[8] != "submitted":
                unsub.append(name)
        rows.append(_row(ind, c, missing, unsub, by_unit_values=vals))

    reporter_kinds = set().union(*(i.reporters for i in inds)) if inds else set()
    cells = [(i.id, i.code, i.kind, i.factor) for i in shown]
    expected: dict[str, list[str]] = {}  # the codes a kind of unit reports
    unit_rows = []
    for uid, code, name, kind in unit_list:
        if kind not in reporter_kinds:
            continue
        at, in_time = subs.get(uid, (None, None))
        vals = {}
        given = by_unit.get(uid)
        if given:
            for iid, icode, ikind, factor in cells:
                v = given.get(iid)
                if v is not None:
                    num, den, value = v[3], v[4], v[5]
                    vals[icode] = _new(UnitValue, (
                        num, den, unit_value(ikind, factor, num, den, value), v[6], v[7],
                        v[8], None))
        codes = expected.get(kind)
        if codes is None:
            codes = expected[kind] = [i.code for i in shown if kind in i.reporters]
        unit_rows.append(UnitRow(
            id=uid, code=code, name=name, kind=kind, expected=list(codes),
            submitted=uid in subs, submitted_at=at, on_time=in_time, values=vals,
            units_expected=1, units_submitted=1 if uid in subs else 0))
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
        plan=plan, year=year, rows=rows, units=unit_rows,
        completeness=completeness, rollup=False, round_ids=(rnd.id,),
        include_sensitive=include_sensitive, generated_at=datetime.now(UTC),
        parent=parent)


class RoundRow(NamedTuple):
    """A round of the commune and its plan, as the head statement reads them."""

    id: int
    year: int
    plan_id: int
    unit_deadline: date
    consolidation_deadline: date
    closed_at: datetime | None
    code: str
    name_vi: str
    name_en: str
    issuer: str
    level: str
    cutoff_at: datetime | None


def _head(code_or_id: str | int, session: Session) -> list[Any]:
    """The unit (by id, full code or unambiguous last part), its parent and its rounds
    (one row per round, or one row without a round): one query."""
    by_id = isinstance(code_or_id, int)
    conn = session.connection()
    rows = conn.execute(_HEAD_BY_ID if by_id else _HEAD_BY_CODE, {"key": code_or_id}).all()
    if not rows:  # a last part of a code, or nothing: resolve_unit says which
        unit = resolve_unit(code_or_id, session)
        rows = conn.execute(_HEAD_BY_ID, {"key": unit.id}).all()
    return rows


def _parent(unit: Any, session: Session) -> UnitInfo | None:
    if not unit.parent_id:
        return None
    parent = session.connection().execute(
        sa_select(_u.c.id, _u.c.code, _u.c.name, _u.c.kind)
        .where(_u.c.id == unit.parent_id)).first()
    return _unit_info(parent) if parent else None


def _row(ind: IndicatorRule, c: Computed, missing: list[str], unsubmitted: list[str], *,
         by_unit_values: Sequence[Any] = ()) -> IndicatorRow:
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
        task_counts=tasks, path=c.path, projection=c.projection, roles=ind.roles)


@_collector_paused
def build_rollup(upper_unit: str | int, year: int, *, session: Session,
                 include_sensitive: bool = True, include_units: bool = True,
                 plan_code: str | None = None, tz: ZoneInfo,
                 sums: bool = True) -> CommuneReport:
    """The report of an upper level: every round of ``year`` under it added together.

    Numerators, denominators, counts and units expected are summed over all rounds of the
    upper unit and its descendant communes on the same plan. ``units`` holds one row per
    commune (its own figures) unless ``include_units`` is False. The figures come from the
    sums kept per round (``sums``): this year's of a round whose kept cutoff is the end of
    its deadline day in ``tz``, the other rounds' from their values (``_grouped``).
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
        raise ReportError("aggregate.no_round_under", f"no round for {year} under {upper.code}",
                          year=year, unit=upper.code)
    if len(plans) > 1:
        codes = ", ".join(p[1] for p in plans)
        raise ReportError("aggregate.several_plans", f"rounds of {year} under {upper.code} use "
                          f"several plans: {codes}; choose one", year=year, unit=upper.code,
                          plans=codes)
    conn = session.connection()
    plan = conn.execute(sa_select(_p.c.id, _p.c.code, _p.c.name_vi, _p.c.name_en,
                                  _p.c.issuer, _p.c.level).where(_p.c.id == plans[0][0])).one()
    inds = _plan_indicators(plan.id, session=session)
    years = years_needed(inds, year)
    # the rounds read (this year's and the years compared with): one query, then, of this
    # year's (known by their ids: the tree of units is not walked again), those whose sums
    # were kept against the end of their deadline day in ``tz`` (a CASE on the deadlines)
    in_plan = (_r.c.commune_id.in_(select(tree.c.id)), _r.c.plan_id == plan.id)
    found = conn.execute(
        sa_select(_r.c.id, _r.c.commune_id, _r.c.year, _r.c.unit_deadline)
        .where(*in_plan, or_(_r.c.year.in_(years), _r.c.year < year))).all()
    use_sums = sums
    rounds = {r.id: (r.commune_id, r.year) for r in found}
    current = sorted(r.id for r in found if r.year == year)
    deadlines = {r.unit_deadline for r in found if r.year == year}
    kept: Any = literal(False)
    exact: set[int] = set()
    if sums:
        kept = _r.c.cutoff_at == _cutoff_expr(deadlines, tz, _r.c.unit_deadline)
        exact = set(conn.scalars(sa_select(_r.c.id).where(_ids(_r.c.id, current), kept)))
    all_rounds = [(rid, cid, y, deadline, 1 if rid in exact else 0)
                  for rid, cid, y, deadline in found]
    mixed = [i.id for i in inds if i.mixed]
    reporter_kinds = sorted(set().union(*(i.reporters for i in inds))) if inds else []

    # units per kind and per commune (for units expected), and of them who submitted this
    # year's report, on time or not: one grouped query over this year's rounds (known by
    # their ids: the tree of units is not walked again)
    kind_rows = conn.execute(
        sa_select(_r.c.commune_id, _u.c.kind, func.count(), func.count(_s.c.id),
                  func.sum(case((_s.c.submitted_at < _cutoff_expr(deadlines, tz), 1),
                                else_=0)))
        .select_from(_r.join(_u, _u.c.parent_id == _r.c.commune_id)
                     .outerjoin(_s, and_(_s.c.round_id == _r.c.id, _s.c.unit_id == _u.c.id)))
        .where(_ids(_r.c.id, current)).group_by(_r.c.commune_id, _u.c.kind)).all()
    total = Scope()
    per: dict[int, Scope] = defaultdict(Scope)
    # per commune, over its units of the kinds that report: expected, submitted, on time
    reporting: dict[int, list[int]] = {}
    reporters = set(reporter_kinds)
    for cid, kind, n, n_sub, n_on_time in kind_rows:
        total.kind_counts[kind] = total.kind_counts.get(kind, 0) + int(n)
        per[cid].kind_counts[kind] = int(n)
        if kind in reporters:
            acc = reporting.get(cid)
            if acc is None:
                acc = reporting[cid] = [0, 0, 0]
            acc[0] += int(n)
            acc[1] += int(n_sub)
            acc[2] += int(n_on_time or 0)
    ind_by_id = {i.id: i for i in inds}
    mixed_ids = set(mixed)
    detail = include_units or bool(mixed)  # each commune's figures are needed
    # one scan grouped per round (a commune and a year); the totals are the sums of the
    # communes' groups, with the agency-before-hamlets choice made commune by commune
    sums: dict[tuple[int, int], dict[tuple[str, bool | None], list[Any]]] = defaultdict(dict)
    live = rounds
    if use_sums:
        live = _kept_groups(conn, all_rounds, in_plan, kept, year, inds, sums,
                            per if detail else None)
    for g in _grouped(session, live, inds, deadlines, tz) if live else ():
        if detail:
            per[g.scope].groups[(g.year, g.ind)].append(g)  # type: ignore[index]
        if g.ind not in mixed_ids:
            _add_up(sums[(g.year, g.ind)], g)
    if mixed:
        for sc in per.values():
            for key, groups in sc.groups.items():
                ind = ind_by_id.get(key[1])
                if ind is not None and ind.mixed:
                    agency = any(g.kind in ind.agencies for g in groups)
                    groups[:] = [g._replace(agency_here=agency and g.kind in AREA_KINDS)
                                 for g in groups]
                    for g in groups:
                        _add_up(sums[key], g)
    for (y, iid), acc in sums.items():
        total.groups[(y, iid)] = [
            Group(None, y, iid, kind, n, n_sub, num, den, val, yes, on_time, agency)
            for (kind, agency), (n, n_sub, num, den, val, yes, on_time) in acc.items()]
    if mixed:  # expected units of mixed indicators: decided commune by commune
        for sc in per.values():
            for iid in mixed:
                c = expected_units(ind_by_id[iid], sc, combine(sc.groups.get((year, iid), ()),
                                                                ind_by_id[iid]))
                total.mixed_expected[iid] = total.mixed_expected.get(iid, 0) + c
                sc.mixed_expected[iid] = c

    # who submitted, per commune (in the order of their ids)
    subs = {cid: (e, s, o) for cid, (e, s, o) in sorted(reporting.items())}
    communes = {u.id: u for u in conn.execute(
        sa_select(_u.c.id, _u.c.code, _u.c.name, _u.c.kind, _u.c.position)
        .where(_ids(_u.c.id, list(subs))))}

    shown = [i for i in inds if include_sensitive or not i.sensitive]
    targets = {i.id: target_for(i.milestones, year) for i in inds}
    names_of = {cid: u.name for cid, u in communes.items()}
    # each commune's figure and verdict (its road and change are not shown), indicator
    # after indicator: the communes not complete named, their values kept for the detail
    # the communes in the order of their ids, as the completeness lists name them (the
    # grouped queries hand them over in whatever order the database's plan gives)
    order = sorted(per) if detail else []
    scopes = [per[cid] for cid in order]
    values_of: dict[int, dict[str, UnitValue]] = {cid: {} for cid in order} \
        if include_units else {}
    # per commune: whether it has a round this year, its name, its values
    theirs = [(cid in names_of, names_of.get(cid), values_of.get(cid)) for cid in order]
    rows = []
    for ind in shown:
        target = targets[ind.id]
        c = compute(ind, total, year, target)
        incomplete = []
        if scopes:
            code = ind.code
            for (named, name, vals), (num, den, value, verdict, exp, n, n_sub) in zip(
                    theirs, Briefing(ind, year, target).over(scopes), strict=True):
                if exp and (n < exp or n_sub < n) and named:
                    incomplete.append(name)
                if vals is not None:
                    vals[code] = _new(UnitValue, (num, den, value, None, None, None, verdict))
        rows.append(_row(ind, c, incomplete, []))
    unit_rows = []
    expected: dict[frozenset[str], list[str]] = {}  # the codes expected of the kinds there
    if include_units:
        for cid, u in sorted(communes.items(), key=lambda kv: (kv[1].position, kv[1].code)):
            e, s, o = subs.get(cid, (0, 0, 0))
            sc = per.get(cid)
            present = {k for k, n in sc.kind_counts.items() if n} if sc else set()
            # every indicator of the plan, with data or not: a commune that reported 4 of
            # 34 has 30 chưa đủ, as its own build_report says (value None: no data)
            vals = values_of.get(cid) or {}
            kinds = frozenset(present)
            codes = expected.get(kinds)
            if codes is None:
                codes = expected[kinds] = [i.code for i in shown
                                           if not i.reporters.isdisjoint(kinds)]
            unit_rows.append(UnitRow(
                id=u.id, code=u.code, name=u.name, kind=u.kind, expected=list(codes),
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
    return CommuneReport(
        commune=_unit_info(upper), round=None, plan=_plan_info(plan), year=year, rows=rows,
        units=unit_rows, completeness=completeness, rollup=True, round_ids=tuple(current),
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
            "from_next_milestone": t.from_next_milestone, "note": t.note,
            "fraction": list(t.fraction) if t.fraction else None}


def _r2(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _road_json(r: IndicatorRow) -> dict[str, Any]:
    """The path target of a year between milestones and the projection to the next one."""
    p, pr = r.path, r.projection
    return {
        "path_target": p.target if p else None,
        "path_verdict": p.verdict if p else None,
        "path_reason": p.reason if p else None,
        "path_reference_year": p.reference_year if p else None,
        "path_reference_value": _r2(p.reference_value) if p else None,
        "projection": _r2(pr.value) if pr else None,
        "projection_year": pr.year if pr else None,
        "projection_years": pr.years if pr else None,
        "projection_verdict": pr.verdict if pr else None,
        "projection_small_denominator": pr.small_denominator if pr else None,
    }


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
            **_road_json(r),
            "lead": [u for u, role in r.roles if role == "lead"],
            "roles": [{"unit": u, "role": role} for u, role in r.roles],
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
