"""Deterministic data for every bundled commune, and the JSON reports made from it.

    uv run python -m tests.golden_reports   # rewrite tests/data/golden/*.json

Every bundled commune (communes/*.yaml) is set up with its round, the year before (when the
plan's period has it) and the reference years of its "reduce against year Y" targets. Every
unit reports every indicator it reports, with seeded random values, except: some units
report nothing (missing), some values are left out, some units never send their report
(drafts) and some send it late. tests/test_report_golden.py checks the reports still equal
the files.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from storage import repo
from storage.aggregate import build_report, build_rollup, report_json
from storage.communes import CommuneSpec, apply_commune, load_commune
from storage.models import Indicator, Round, Unit

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
STATUSES = ("not_started", "in_progress", "done")


def _years(spec: CommuneSpec) -> list[int]:
    """The round's year, the year before (inside the plan's period) and reference years."""
    plan = spec.plan_spec()
    start, end = plan.period
    year = spec.round.year
    out = {year}
    if start <= year - 1 <= end:
        out.add(year - 1)
    for _g, _c, ind in plan.indicators():
        for t in ind.targets:
            if t.ref_year is not None and t.ref_year < year:
                out.add(t.ref_year)
    return sorted(out)


def _for_year(spec: CommuneSpec, year: int) -> CommuneSpec:
    """The same commune file with its round moved to ``year`` (deadlines moved as well)."""
    r = spec.round
    shift = year - r.year
    rnd = r.model_copy(update={
        "year": year,
        "unit_deadline": r.unit_deadline.replace(year=r.unit_deadline.year + shift),
        "consolidation_deadline": r.consolidation_deadline.replace(
            year=r.consolidation_deadline.year + shift)})
    return spec.model_copy(update={"round": rnd})


def _values(rng: random.Random, ind: Indicator) -> dict[str, Any]:
    """A random value of the indicator's kind."""
    if ind.kind == "rate":
        den = rng.choice((0, 3, 40, 120, 250, 900, 2400)) if rng.random() < 0.15 \
            else rng.randint(20, 600)
        num = round(den * rng.uniform(0.0, 0.02)) if (ind.factor or 100) > 100 \
            else round(den * rng.uniform(0.75, 1.0))
        return {"numerator": min(num, den), "denominator": den}
    if ind.kind in ("share_units", "yes_no"):
        return {"value": float(rng.random() < 0.8)}
    if ind.kind == "task":
        return {"task_status": rng.choice(STATUSES), "text": rng.choice((None, "Đã họp"))}
    return {"value": float(rng.randint(0, 40))}


def _specs() -> list[CommuneSpec]:
    """The bundled communes, and a second commune beside xuan-truong (a roll-up of two)."""
    specs = [load_commune(p) for p in sorted((ROOT / "communes").glob("*.yaml"))]
    twin = next(s for s in specs if s.code == "xuan-truong")
    specs.append(twin.model_copy(update={"code": "xuan-truong-b", "name": "Xã Xuân Trường B"}))
    return specs


def populate(session: Session) -> list[tuple[str, int]]:
    """Set up every bundled commune with its rounds and values; the (unit, year) reported."""
    made: list[tuple[str, int]] = []
    for spec in _specs():
        rng = random.Random(f"golden-{spec.code}")
        for year in _years(spec):
            apply_commune(_for_year(spec, year), session=session)
            session.commit()
            commune = repo.find_unit(spec.code, session=session)
            rnd = session.exec(select(Round).where(Round.commune_id == commune.id,
                                                   Round.year == year)).one()
            inds = session.exec(select(Indicator).where(Indicator.plan_id == rnd.plan_id)
                                .order_by(Indicator.position)).all()
            units = repo.children(commune.id, session=session)
            deadline = datetime.combine(rnd.unit_deadline, time(9), tzinfo=UTC)
            missing_rate = 0.15 if year < spec.round.year else 0.08
            for unit in units:
                mine = [i for i in inds if unit.kind in (i.reporters or ())]
                if not mine or rng.random() < missing_rate:
                    continue  # this unit reports nothing
                when = deadline - timedelta(days=rng.randint(1, 20))
                for ind in mine:
                    if rng.random() < 0.04:
                        continue  # one value left out
                    repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                                    indicator_id=ind.id, person_id=None, source="import",
                                    now=when, **_values(rng, ind))
                fate = rng.random()
                if fate < 0.8:
                    repo.submit(rnd.id, unit.id, person_id=None, session=session, now=when)
                elif fate < 0.9:  # late: after the end of the deadline day
                    repo.submit(rnd.id, unit.id, person_id=None, session=session,
                                now=deadline + timedelta(days=rng.randint(1, 5)))
                # else: a draft, never sent
            session.commit()
            made.append((spec.code, year))
    return made


def _uppers(session: Session, made: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The parents of the communes (provinces, cities) and the commune's year: roll-ups."""
    out = set()
    for code, year in made:
        unit = repo.find_unit(code, session=session)
        if unit.parent_id is not None:
            parent = session.get(Unit, unit.parent_id)
            assert parent is not None
            out.add((parent.code, year))
    return sorted(out)


TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # the communes' zone: on time is judged by its days


def reports(session: Session) -> dict[str, dict[str, Any]]:
    """Every report of the golden data set as JSON, by file name."""
    made = populate(session)
    out = {}
    for code, year in made:
        out[f"report_{code}_{year}.json"] = report_json(build_report(code, year,
                                                                     session=session, tz=TZ))
        out[f"report_{code}_{year}_nosensitive.json"] = report_json(
            build_report(code, year, session=session, include_sensitive=False, tz=TZ))
    for code, year in _uppers(session, made):
        out[f"rollup_{code}_{year}.json"] = report_json(build_rollup(code, year,
                                                                     session=session, tz=TZ))
        out[f"rollup_{code}_{year}_totals.json"] = report_json(
            build_rollup(code, year, session=session, include_units=False, tz=TZ))
    return out


def dumps(data: dict[str, Any]) -> str:
    """The JSON text a golden file holds."""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> None:
    """Write the golden files from a fresh SQLite database."""
    import tempfile

    from storage.db import make_engine, upgrade

    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/golden.db")
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as s:
            data = reports(s)
        engine.dispose()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.glob("*.json"):
        old.unlink()
    for name, content in data.items():
        (GOLDEN / name).write_text(dumps(content), encoding="utf-8")
    print(f"{len(data)} files in {GOLDEN}")


if __name__ == "__main__":
    main()

