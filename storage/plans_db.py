"""Load a checked plan file into the database, updating rather than duplicating."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlmodel import Session, select

from storage.models import (
    Criterion,
    Goal,
    Indicator,
    Milestone,
    Plan,
    ReportedValue,
    Responsibility,
)
from storage.plan_files import PlanSpec, bundled_plan_paths, load_plan
from storage.yamlfiles import SaidError


def store_plan(spec: PlanSpec, *, source_text: str, session: Session) -> Plan:
    """Insert or update a plan and everything under it; return the Plan row."""
    digest = hashlib.sha256(source_text.encode()).hexdigest()
    plan = session.exec(select(Plan).where(Plan.code == spec.code)).first()
    if plan is not None and plan.content_hash == digest:
        return plan
    deadlines = spec.deadlines
    fields = dict(
        name_vi=spec.name.vi, name_en=spec.name.en, issuer=spec.issuer, level=spec.level.value,
        start_year=spec.period[0], end_year=spec.period[1], source=spec.source,
        unit_deadline=deadlines.unit if deadlines else None,
        consolidation_deadline=deadlines.consolidation if deadlines else None,
        content_hash=digest,
    )
    if plan is None:
        plan = Plan(code=spec.code, **fields)
    else:
        for k, v in fields.items():
            setattr(plan, k, v)
    session.add(plan)
    session.flush()
    assert plan.id is not None

    goals = {g.code: g for g in session.exec(select(Goal).where(Goal.plan_id == plan.id))}
    crits = {c.number: c for c in
             session.exec(select(Criterion).where(Criterion.plan_id == plan.id))}
    inds = {i.code: i for i in
            session.exec(select(Indicator).where(Indicator.plan_id == plan.id))}
    seen_inds: set[str] = set()
    position = 0
    for g in spec.goals:
        goal = goals.get(g.code) or Goal(plan_id=plan.id, code=g.code, title_vi="", title_en="")
        goal.title_vi, goal.title_en = g.title.vi, g.title.en
        session.add(goal)
        session.flush()
        for c in g.criteria:
            crit = crits.get(c.number) or Criterion(
                plan_id=plan.id, goal_id=goal.id, number=c.number, text=""
            )
            crit.goal_id, crit.text = goal.id, c.text
            session.add(crit)
            session.flush()
            for i in c.indicators:
                position += 1
                seen_inds.add(i.code)
                ind = inds.get(i.code) or Indicator(
                    plan_id=plan.id, criterion_id=crit.id, code=i.code, position=position,
                    name_vi="", name_en="", kind=i.kind.value,
                )
                _fill_indicator(ind, spec, c, i, crit.id, position)
                session.add(ind)
                session.flush()
                _store_targets(ind, i, session=session)
    for code, ind in inds.items():
        if code not in seen_inds:
            used = session.exec(select(ReportedValue.id).where(
                ReportedValue.indicator_id == ind.id)).first()
            if used is not None:
                raise SaidError("plan.removed_with_values", plan=spec.code, code=code)
            session.delete(ind)
    for r in session.exec(select(Responsibility).where(Responsibility.plan_id == plan.id)):
        session.delete(r)
    for r in spec.responsibilities:
        session.add(Responsibility(plan_id=plan.id, unit_kind=r.unit_kind.value, label=r.label,
                                   criteria=list(r.criteria)))
    session.flush()
    return plan


def _fill_indicator(ind: Indicator, spec: PlanSpec, c, i, criterion_id, position) -> None:
    def pair(t):
        return (t.vi, t.en) if t is not None else (None, None)

    ind.criterion_id, ind.position = criterion_id, position
    ind.name_vi, ind.name_en = i.name.vi, i.name.en
    ind.kind, ind.factor = i.kind.value, i.factor
    ind.numerator_vi, ind.numerator_en = pair(spec.question_of(i.numerator))
    ind.denominator_vi, ind.denominator_en = pair(spec.question_of(i.denominator))
    ind.numerator_population = i.population("numerator")
    ind.denominator_population = i.population("denominator")
    ind.question_vi, ind.question_en = pair(i.question)
    ind.unit_vi, ind.unit_en = pair(i.unit)
    ind.reporters = [k.value for k in spec.reporters_of(c, i)]
    ind.sensitive = i.sensitive
    ind.min_denominator = i.min_denominator
    ind.roles = spec.roles_of(c) or None
    ind.baseline_year = i.baseline.year if i.baseline else None
    ind.baseline_value = i.baseline.value if i.baseline else None


def _store_targets(ind: Indicator, i, *, session: Session) -> None:
    existing = {m.year: m for m in session.exec(select(Milestone).where(
        Milestone.indicator_id == ind.id))}
    years = set()
    for t in i.targets:
        years.add(t.year)
        m = existing.get(t.year) or Milestone(indicator_id=ind.id, year=t.year, direction="")
        m.direction, m.value, m.value_max = t.direction.value, t.value, t.value_max
        m.ref_year, m.note = t.ref_year, t.note
        m.value_num, m.value_den = t.fraction if t.fraction else (None, None)
        if t.fraction:  # 5/804 per 100,000 children: 621.89…, compared exactly as 5/804
            m.value = t.fraction[0] / t.fraction[1] * (ind.factor or 100)
        session.add(m)
    for year, m in existing.items():
        if year not in years:
            session.delete(m)


def load_plan_file(path: Path, *, session: Session) -> Plan:
    """Check a plan file and store it."""
    spec = load_plan(path)
    return store_plan(spec, source_text=path.read_text(encoding="utf-8"), session=session)


def load_bundled_plans(*, session: Session) -> list[Plan]:
    """Store every bundled plan (unchanged ones are left as they are)."""
    return [load_plan_file(p, session=session) for p in bundled_plan_paths()]
