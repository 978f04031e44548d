"""Commune files: a commune's units and reporting round, applied idempotently."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, select

from storage.kinds import ADMIN_KINDS, UnitKind
from storage.models import Plan, Round, Unit
from storage.plan_files import find_plan_path
from storage.plans_db import load_plan_file
from storage.yamlfiles import FileInvalid, problem, validate_file

CODE = r"^[a-z0-9][a-z0-9-]*$"


def parse_vn_date(text: str) -> date:
    """Read a date written DD/MM/YYYY (or ISO YYYY-MM-DD)."""
    text = str(text).strip()
    try:
        if "/" in text:
            d, m, y = (int(p) for p in text.split("/"))
            return date(y, m, d)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"expected a date as DD/MM/YYYY, for example 20/11/2026, not {text!r}") \
            from exc


class Strict(BaseModel):
    """Refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class UnitSpec(Strict):
    """A hamlet or an agency of the commune."""

    code: Annotated[str, Field(pattern=CODE)]
    name: Annotated[str, Field(min_length=1)]
    kind: UnitKind = UnitKind.hamlet


class SubCommuneSpec(UnitSpec):
    """A phường or xã under a city or district."""

    kind: UnitKind = UnitKind.commune


class ParentSpec(Strict):
    """The level above the commune (province, city, district)."""

    code: Annotated[str, Field(pattern=CODE)]
    name: Annotated[str, Field(min_length=1)]
    kind: UnitKind = UnitKind.province


class RemindersSpec(Strict):
    """When reminders go out."""

    days_before: list[Annotated[int, Field(ge=0, le=60)]] = [7, 3, 1, 0]
    time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "09:00"
    every_days_after: Annotated[int, Field(ge=0, le=30)] = 2


class RoundSpec(Strict):
    """The year's reporting round."""

    year: Annotated[int, Field(ge=2000, le=2100)]
    unit_deadline: date
    consolidation_deadline: date
    reminders: RemindersSpec = RemindersSpec()

    @field_validator("unit_deadline", "consolidation_deadline", mode="before")
    @classmethod
    def _date(cls, v: Any) -> date:
        return v if isinstance(v, date) else parse_vn_date(v)


class CommuneSpec(Strict):
    """A whole commune file."""

    code: Annotated[str, Field(pattern=CODE)]
    name: Annotated[str, Field(min_length=1)]
    kind: UnitKind = UnitKind.commune
    parent: ParentSpec | None = None
    plan: str
    hamlets: list[UnitSpec] = []
    communes: list[SubCommuneSpec] = []  # for a city or district: its phường / xã
    agencies: list[UnitSpec] = []
    round: RoundSpec


def load_commune(path: Path) -> CommuneSpec:
    """Read and check a commune file; raise FileInvalid naming every mistake."""
    spec, root = validate_file(CommuneSpec, path)
    problems = []
    seen: set[str] = set()
    for key in ("hamlets", "communes", "agencies"):
        for i, u in enumerate(getattr(spec, key)):
            if u.code in seen:
                problems.append(problem(path, root, [key, i, "code"], f"{u.code} appears twice"))
            seen.add(u.code)
            if key == "agencies" and u.kind in ADMIN_KINDS:
                problems.append(problem(path, root, [key, i, "kind"],
                                        f"{u.kind.value} is not an agency kind"))
            if key == "hamlets" and u.kind is not UnitKind.hamlet:
                problems.append(problem(path, root, [key, i, "kind"], "hamlets have kind hamlet"))
            if key == "communes" and u.kind is not UnitKind.commune:
                problems.append(problem(path, root, [key, i, "kind"],
                                        "communes have kind commune"))
    r = spec.round
    if r.consolidation_deadline < r.unit_deadline:
        problems.append(problem(path, root, ["round", "consolidation_deadline"],
                                "the consolidation deadline must not be before the unit deadline"))
    try:
        find_plan_path(spec.plan)
    except FileNotFoundError as exc:
        problems.append(problem(path, root, ["plan"], str(exc)))
    if problems:
        raise FileInvalid(problems)
    return spec


def _upsert_unit(code: str, name: str, kind: str, parent_id: int | None, position: int,
                 changes: list[str], *, session: Session) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        unit = Unit(code=code, name=name, kind=kind, parent_id=parent_id, position=position)
        changes.append(f"+ unit {code} ({name})")
    else:
        for attr, new in (("name", name), ("kind", kind), ("parent_id", parent_id)):
            old = getattr(unit, attr)
            if old != new:
                changes.append(f"~ unit {code}: {attr} {old!r} -> {new!r}")
                setattr(unit, attr, new)
        unit.position = position
    session.add(unit)
    session.flush()
    return unit


def apply_commune(spec: CommuneSpec, *, session: Session) -> list[str]:
    """Create or update the commune, its units and its round; return what changed."""
    changes: list[str] = []
    plan_path = find_plan_path(spec.plan)
    plan = load_plan_file(plan_path, session=session)
    parent_id = None
    if spec.parent:
        parent_id = _upsert_unit(spec.parent.code, spec.parent.name, spec.parent.kind.value,
                                 None, 0, changes, session=session).id
    commune = _upsert_unit(spec.code, spec.name, spec.kind.value, parent_id, 0, changes,
                           session=session)
    for pos, u in enumerate([*spec.hamlets, *spec.communes, *spec.agencies], start=1):
        _upsert_unit(f"{spec.code}/{u.code}", u.name, u.kind.value, commune.id, pos, changes,
                     session=session)
    r = spec.round
    rnd = session.exec(select(Round).where(Round.commune_id == commune.id,
                                           Round.year == r.year)).first()
    fields = dict(plan_id=plan.id, unit_deadline=r.unit_deadline,
                  consolidation_deadline=r.consolidation_deadline,
                  reminder_days_before=list(r.reminders.days_before),
                  reminder_time=r.reminders.time,
                  reminder_every_days_after=r.reminders.every_days_after)
    if rnd is None:
        rnd = Round(commune_id=commune.id, year=r.year, **fields)
        changes.append(f"+ round {r.year} (units by {r.unit_deadline:%d/%m/%Y}, "
                       f"consolidation by {r.consolidation_deadline:%d/%m/%Y})")
    else:
        for attr, new in fields.items():
            old = getattr(rnd, attr)
            if old != new:
                changes.append(f"~ round {r.year}: {attr} {old} -> {new}")
                setattr(rnd, attr, new)
    session.add(rnd)
    session.flush()
    return changes


def plan_of(rnd: Round, *, session: Session) -> Plan:
    """The plan a round reports on."""
    plan = session.get(Plan, rnd.plan_id)
    assert plan is not None
    return plan
