"""Plan files: the YAML format of a kế hoạch, its validator and the bundled plans.

The format is documented in docs/plan-format.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from storage.kinds import Direction, IndicatorKind, UnitKind
from storage.yamlfiles import (
    FileInvalid,
    FileProblem,
    Loc,
    Said,
    SaidError,
    problem,
    validate_file,
)

PLANS_DIR = Path(__file__).parent / "plans"

FACTORS = (100, 1000, 100000)


class Strict(BaseModel):
    """Refuse unknown fields so a misspelt key is named, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Text(Strict):
    """A sentence in Vietnamese and English."""

    vi: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]


class PopulationRef(Strict):
    """A rate's numerator or denominator that is a population the plan names once."""

    population: Annotated[str, Field(min_length=1)]


class PopulationSpec(Strict):
    """A group of people several indicators count, asked once per round: "trẻ em dưới 16
    tuổi của thôn". Indicators refer to it by ``key``."""

    key: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
    name: Text
    question: Text


class TargetSpec(Strict):
    """The target of one indicator for one milestone year."""

    year: int
    direction: Direction
    value: float | None = None
    value_max: float | None = None
    ref_year: int | None = None
    note: str | None = None
    # a target written as people over a population ("xuống 5/804"): [5, 804], kept exact;
    # value is then left out (it is 5/804 × factor)
    fraction: tuple[int, int] | None = None


class BaselineSpec(Strict):
    """The plan's own figure of a year before its targets (where the path starts)."""

    year: int
    value: float


class IndicatorSpec(Strict):
    """A measurable indicator (one chỉ tiêu can hold several)."""

    code: Annotated[str, Field(min_length=1, pattern=r"^[0-9]+(\.[0-9]+)?[a-z]?$")]
    name: Text
    kind: IndicatorKind
    factor: int | None = None
    numerator: Text | PopulationRef | None = None
    denominator: Text | PopulationRef | None = None
    question: Text | None = None
    unit: Text | None = None
    reporters: list[UnitKind] | None = None
    sensitive: bool = False
    min_denominator: int | None = None
    baseline: BaselineSpec | None = None
    targets: list[TargetSpec] = []
    _populations: dict[str, str] = PrivateAttr(default_factory=dict)  # resolved references

    def population(self, part: str) -> str | None:
        """The population the ``numerator`` or ``denominator`` counts, if it is one."""
        ref = getattr(self, part)
        return ref.population if isinstance(ref, PopulationRef) else self._populations.get(part)

    @field_validator("factor")
    @classmethod
    def _factor(cls, v: int | None) -> int | None:
        if v is not None and v not in FACTORS:
            raise SaidError("plan.factor_one_of", factors=", ".join(map(str, FACTORS)))
        return v


class CriterionSpec(Strict):
    """A numbered chỉ tiêu as the plan writes it."""

    number: int
    text: Annotated[str, Field(min_length=1)]
    indicators: Annotated[list[IndicatorSpec], Field(min_length=1)]


class GoalSpec(Strict):
    """A mục tiêu: a group of chỉ tiêu."""

    code: int
    title: Text
    criteria: Annotated[list[CriterionSpec], Field(min_length=1)]


class ResponsibilitySpec(Strict):
    """Which unit kind carries which chỉ tiêu numbers (Tổ chức thực hiện)."""

    unit_kind: UnitKind
    label: Annotated[str, Field(min_length=1)]
    criteria: list[int]


class RoleSpec(Strict):
    """Who leads (chủ trì) or coordinates (phối hợp) which chỉ tiêu, as the plan writes it."""

    unit: Annotated[str, Field(min_length=1)]  # as the plan names it: "Trạm Y tế"
    role: Literal["lead", "implement", "coordinate"]
    criteria: Annotated[list[int], Field(min_length=1)]
    text: str | None = None  # the plan's words: "Phối hợp, hướng dẫn triển khai, thực hiện …"


class DeadlineSpec(Strict):
    """Yearly deadlines written in the plan, as DD/MM."""

    unit: str | None = None
    consolidation: str | None = None
    report_to_commune: str | None = None

    @field_validator("unit", "consolidation", "report_to_commune")
    @classmethod
    def _ddmm(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = v.split("/")
        ok = len(parts) == 2 and all(p.isdigit() for p in parts)
        if not ok or not (1 <= int(parts[0]) <= 31 and 1 <= int(parts[1]) <= 12):
            raise SaidError("plan.ddmm")
        return v


class PlanSpec(Strict):
    """A whole plan file."""

    format: int = 1
    code: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Text
    issuer: Annotated[str, Field(min_length=1)]
    level: UnitKind
    period: tuple[int, int]
    milestones: list[int] = []
    source: str | None = None
    deadlines: DeadlineSpec | None = None
    responsibilities: list[ResponsibilitySpec] = []
    roles: list[RoleSpec] = []
    populations: list[PopulationSpec] = []
    goals: Annotated[list[GoalSpec], Field(min_length=1)]

    def population(self, key: str) -> PopulationSpec | None:
        """The population named ``key``."""
        return next((p for p in self.populations if p.key == key), None)

    def question_of(self, part: Text | PopulationRef | None) -> Text | None:
        """A numerator's or denominator's question: its own words or its population's."""
        if isinstance(part, PopulationRef):
            pop = self.population(part.population)
            return pop.question if pop is not None else None
        return part

    @staticmethod
    def population_of(part: Text | PopulationRef | None) -> str | None:
        """The population a numerator or denominator refers to, if any."""
        return part.population if isinstance(part, PopulationRef) else None

    def resolve_populations(self) -> None:
        """Put each population's question in the numerators and denominators that refer to
        it (the indicator still knows the population: ``IndicatorSpec.population``)."""
        for _g, _c, ind in self.indicators():
            for part in ("numerator", "denominator"):
                ref = getattr(ind, part)
                if isinstance(ref, PopulationRef) and self.population(ref.population):
                    ind._populations[part] = ref.population
                    setattr(ind, part, self.question_of(ref))

    def indicators(self) -> list[tuple[GoalSpec, CriterionSpec, IndicatorSpec]]:
        """Every indicator in plan order with its goal and criterion."""
        return [(g, c, i) for g in self.goals for c in g.criteria for i in c.indicators]

    def reporters_of(self, criterion: CriterionSpec, indicator: IndicatorSpec) -> list[UnitKind]:
        """Who reports an indicator: its own list, else the plan's responsibilities."""
        if indicator.reporters:
            return list(indicator.reporters)
        return [r.unit_kind for r in self.responsibilities if criterion.number in r.criteria]

    def roles_of(self, criterion: CriterionSpec) -> list[list[str]]:
        """The units named for a chỉ tiêu with their role, as the plan writes them: lead
        first, then implement, then coordinate."""
        order = {"lead": 0, "implement": 1, "coordinate": 2}
        named = [(order[r.role], n, r.unit, r.role) for n, r in enumerate(self.roles)
                 if criterion.number in r.criteria]
        return [[unit, role] for _o, _n, unit, role in sorted(named)]


def _semantic_problems(spec: PlanSpec, path: Path, root: Any) -> list[FileProblem]:
    out: list[FileProblem] = []

    def bad(loc: Loc, said: str, /, **params: Any) -> None:
        out.append(problem(path, root, loc, Said(said, params)))

    start, end = spec.period
    if start > end:
        bad(["period"], "plan.period_order")
    for mi, year in enumerate(spec.milestones):
        if not (start <= year <= end):
            bad(["milestones", mi], "plan.milestone_outside", year=year, start=start, end=end)
    keys: set[str] = set()
    for pi, pop in enumerate(spec.populations):
        if pop.key in keys:
            bad(["populations", pi, "key"], "plan.population_twice", population=pop.key)
        keys.add(pop.key)
    used: set[str] = set()
    numbers: set[int] = set()
    codes: set[str] = set()
    for gi, goal in enumerate(spec.goals):
        for ci, crit in enumerate(goal.criteria):
            cloc: list[str | int] = ["goals", gi, "criteria", ci]
            if crit.number in numbers:
                bad([*cloc, "number"], "plan.criterion_twice", number=crit.number)
            numbers.add(crit.number)
            for ii, ind in enumerate(crit.indicators):
                iloc = [*cloc, "indicators", ii]
                if ind.code in codes:
                    bad([*iloc, "code"], "plan.code_twice", code=ind.code)
                codes.add(ind.code)
                out.extend(_indicator_problems(spec, crit, ind, iloc, path, root))
                for part in ("numerator", "denominator"):
                    key = spec.population_of(getattr(ind, part))
                    if key is None:
                        continue
                    used.add(key)
                    if key not in keys:
                        if keys:
                            bad([*iloc, part, "population"], "plan.no_population", population=key,
                                known=", ".join(sorted(keys)))
                        else:
                            bad([*iloc, part, "population"], "plan.no_populations", population=key)
                if spec.population_of(ind.numerator) is not None and \
                        spec.population_of(ind.numerator) == spec.population_of(ind.denominator):
                    bad([*iloc, "numerator", "population"], "plan.same_population")
    for pi, pop in enumerate(spec.populations):
        if pop.key not in used:
            bad(["populations", pi, "key"], "plan.population_unused", population=pop.key)
    for ri, resp in enumerate(spec.responsibilities):
        for ni, n in enumerate(resp.criteria):
            if n not in numbers:
                bad(["responsibilities", ri, "criteria", ni], "plan.no_criterion", number=n)
    for ri, role in enumerate(spec.roles):
        for ni, n in enumerate(role.criteria):
            if n not in numbers:
                bad(["roles", ri, "criteria", ni], "plan.no_criterion", number=n)
    return out


def _indicator_problems(
    spec: PlanSpec, crit: CriterionSpec, ind: IndicatorSpec, loc: list[str | int], path, root
) -> list[FileProblem]:
    out: list[FileProblem] = []

    def bad(sub: Loc, said: str, /, **params: Any) -> None:
        out.append(problem(path, root, [*loc, *sub], Said(said, params)))

    if ind.kind is IndicatorKind.rate:
        if ind.factor is None:
            bad(["factor"], "plan.rate_factor")
        if ind.numerator is None or ind.denominator is None:
            bad(["kind"], "plan.rate_questions")
        if ind.question is not None:
            bad(["question"], "plan.rate_question")
    else:
        if ind.factor is not None:
            bad(["factor"], "plan.factor_not_rate", kind=ind.kind.value)
        if ind.question is None:
            bad(["kind"], "plan.needs_question", kind=ind.kind.value)
    if ind.baseline is not None and ind.targets and \
            ind.baseline.year >= min(t.year for t in ind.targets):
        bad(["baseline", "year"], "plan.baseline_year")
    if ind.kind is not IndicatorKind.task and not spec.reporters_of(crit, ind):
        bad(["reporters"], "plan.no_reporters")
    start, end = spec.period
    years: set[int] = set()
    for ti, t in enumerate(ind.targets):
        tloc: list[str | int] = ["targets", ti]
        if t.year in years:
            bad([*tloc, "year"], "plan.two_targets", year=t.year)
        years.add(t.year)
        if not (start <= t.year <= end):
            bad([*tloc, "year"], "plan.target_outside", year=t.year, start=start, end=end)
        needs_value = t.direction not in (Direction.yes, Direction.maintain, Direction.none)
        if t.fraction is not None:
            n, d = t.fraction
            if ind.kind is not IndicatorKind.rate or d <= 0 or n < 0 or t.value is not None \
                    or t.direction not in (Direction.at_most, Direction.below,
                                           Direction.at_least, Direction.above):
                bad([*tloc, "fraction"], "plan.fraction")
        elif needs_value and t.value is None:
            bad([*tloc, "value"], "plan.needs_value", direction=t.direction.value)
        if t.direction is Direction.range and (t.value_max is None or t.value is None or
                                               t.value_max < t.value):
            bad([*tloc, "value_max"], "plan.range")
        if t.direction is Direction.reduce_vs_year and t.ref_year is None:
            bad([*tloc, "ref_year"], "plan.needs_ref_year")
        if t.ref_year is not None and t.ref_year >= t.year:
            bad([*tloc, "ref_year"], "plan.ref_year_order", ref_year=t.ref_year, year=t.year)
        percent = ind.kind is IndicatorKind.share_units or (
            ind.kind is IndicatorKind.rate and ind.factor == 100)
        reduction_pct = t.direction in (Direction.reduce_per_year, Direction.reduce_vs_year)
        for field_name in ("value", "value_max"):
            v = getattr(t, field_name)
            if v is not None and (v < 0 or ((percent or reduction_pct) and v > 100)):
                bad([*tloc, field_name], "plan.percentage", value=f"{v:g}")
        if t.direction is Direction.yes and ind.kind not in (
            IndicatorKind.yes_no, IndicatorKind.share_units
        ):
            bad([*tloc, "direction"], "plan.direction_yes")
        reduction = t.direction in (Direction.reduce_per_year, Direction.reduce_vs_year)
        if reduction and ind.kind not in (IndicatorKind.change, IndicatorKind.rate,
                                          IndicatorKind.count):
            bad([*tloc, "direction"], "plan.reduction_kind")
    return out


# "trên 95%" in a chỉ tiêu's text: strictly above (not "per 1.000", which has no %)
_ABOVE = re.compile(r"\btrên\s+(\d+(?:[,.]\d+)?)\s*%", re.IGNORECASE)


def plan_warnings(spec: PlanSpec, path: Path, root: Any) -> list[FileProblem]:
    """What is probably misread, though possible: a chỉ tiêu whose text says "trên X%"
    (strictly above) with no target of direction ``above`` and value X. "trên 100%" is
    impossible and read as 100% (at least)."""
    out: list[FileProblem] = []
    for gi, goal in enumerate(spec.goals):
        for ci, crit in enumerate(goal.criteria):
            targets = [t for ind in crit.indicators for t in ind.targets]
            for m in _ABOVE.finditer(crit.text):
                x = float(m.group(1).replace(",", "."))
                if x >= 100:
                    continue
                if any(t.direction is Direction.above and t.value == x for t in targets):
                    continue
                given = sorted({t.direction.value for t in targets if t.value == x}) or ["none"]
                out.append(problem(path, root, ["goals", gi, "criteria", ci, "text"],
                                   Said("plan.warn_above", {
                                       "number": crit.number, "words": m.group(0),
                                       "value": m.group(1), "given": ", ".join(given)})))
    return out


def check_plan(path: Path) -> tuple[PlanSpec, list[FileProblem]]:
    """Read and check a plan file (FileInvalid on a mistake); also return its warnings."""
    spec, root = validate_file(PlanSpec, path, doc="docs/plan-format.md")
    problems = _semantic_problems(spec, path, root)
    if problems:
        raise FileInvalid(problems)
    return spec, plan_warnings(spec, path, root)


def load_plan(path: Path) -> PlanSpec:
    """Read and check a plan file; raise FileInvalid naming every mistake."""
    spec, root = validate_file(PlanSpec, path, doc="docs/plan-format.md")
    problems = _semantic_problems(spec, path, root)
    if problems:
        raise FileInvalid(problems)
    spec.resolve_populations()
    return spec


def bundled_plan_paths() -> list[Path]:
    """The plan files shipped with ctvbot, in code order."""
    return sorted(PLANS_DIR.glob("*.yaml"))


def is_plan_file_ref(ref: str) -> bool:
    """True when a commune file's ``plan:`` names a file rather than a bundled plan code."""
    return ref.lower().endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref


class PlanNotFound(FileNotFoundError):
    """No plan file or bundled plan by that name; ``said``: the sentence for the officer."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(f"{key}: {params}")
        self.said = Said(key, params)


def resolve_plan(ref: str, base_dir: Path | None = None) -> Path:
    """The plan file a commune file's ``plan:`` means: a bundled plan code ("002") or a path
    to a plan YAML file, relative to ``base_dir`` (the commune file's folder).

    Raises FileNotFoundError naming what is missing (and the known bundled plans).
    """
    if not is_plan_file_ref(ref):
        return find_plan_path(ref)
    path = Path(ref).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(os.path.normpath(base_dir / path))
    if not path.is_file():
        raise PlanNotFound("plan.no_file", path=str(path))
    return path


def find_plan_path(code: str) -> Path:
    """The bundled plan file for a code, or a FileNotFoundError listing the known codes."""
    for p in bundled_plan_paths():
        if p.stem == code or p.stem.split("_", 1)[0] == code:
            return p
    known = ", ".join(p.stem for p in bundled_plan_paths())
    raise PlanNotFound("plan.no_bundled", code=code, known=known)
