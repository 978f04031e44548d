"""Every bundled commune with complete data over two years, and its verdict table.

    uv run python -m sandbox.road_tables            # the tables, as Markdown
    uv run python -m sandbox.road_tables --docx DIR  # also each commune's Word report
    uv run python -m sandbox.road_tables --png DIR   # and its chart

Each commune file in communes/ is set up for its round's year and the year before; every unit
reports every indicator it reports, with seeded values near the plan's targets, and sends its
report on time. A few values sit on purpose where the plans are read exactly: "trên 98%"
met by exactly 98%, "trên 95%" by exactly 95%, "xuống 5/804" by 84/13.507 (621,8998 per
100.000). The table gives, per indicator of the round's year: the result, the milestone
target and verdict, the year's path target and verdict, and the projection to the next
milestone (the columns a version without them leaves empty).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from storage import repo
from storage.aggregate import build_report, report_json
from storage.communes import apply_commune, load_commune
from storage.db import make_engine, upgrade
from storage.models import Indicator, Milestone, Round

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# (commune, indicator) → (numerator, denominator) in the round's year: the boundaries
EXACT = {("tan-khai", "8.2"): (98, 100), ("huong-phu", "4"): (95, 100),
         ("huong-phu", "9.1"): (84, 13507)}


def _target(session: Session, ind: Indicator, year: int) -> tuple[str, float | None]:
    ms = session.exec(select(Milestone).where(Milestone.indicator_id == ind.id)).all()
    later = sorted((m for m in ms if m.year >= year), key=lambda m: m.year) or \
        sorted(ms, key=lambda m: -m.year)
    if not later:
        return "none", None
    return later[0].direction, later[0].value


def _value(rng: random.Random, session: Session, ind: Indicator, year: int,
           share: int) -> dict[str, Any]:
    """A plausible value: near the target, the later year a little nearer."""
    direction, t = _target(session, ind, year)
    step = 0.5 if share else 0.0
    if ind.kind == "rate":
        factor = ind.factor or 100
        if factor == 100:
            den = rng.randint(150, 600)
            if t is None:
                p = rng.uniform(75, 99)
            elif direction in ("at_least", "above"):
                p = min(100.0, rng.uniform(t - 5 + step * 4, t + 1.5))
            else:
                p = max(0.0, rng.uniform(t * 0.5, t * 1.4 - step * t * 0.3))
        else:
            den = rng.randint(300, 900) if factor == 1000 else rng.randint(1500, 5000)
            base = (t or 10 * factor / 1000) / factor
            p = base * rng.uniform(0.3, 1.5 - step * 0.3) * 100
        return {"numerator": min(den, round(den * p / 100)), "denominator": den}
    if ind.kind in ("share_units", "yes_no"):
        return {"value": float(rng.random() < 0.85)}
    if ind.kind == "task":
        return {"task_status": rng.choice(("in_progress", "done")), "text": None}
    return {"value": float(rng.randint(2, 30))}


def populate(session: Session) -> list[tuple[str, int]]:
    """Two complete years for every bundled commune; the (commune, year) of its round."""
    made = []
    for path in sorted((ROOT / "communes").glob("*.yaml")):
        spec = load_commune(path)
        rng = random.Random(f"road-{spec.code}")
        last = spec.round.year
        for share, year in enumerate((last - 1, last)):
            r = spec.round
            shift = year - r.year
            rnd_spec = r.model_copy(update={
                "year": year,
                "unit_deadline": r.unit_deadline.replace(year=r.unit_deadline.year + shift),
                "consolidation_deadline": r.consolidation_deadline.replace(
                    year=r.consolidation_deadline.year + shift)})
            apply_commune(spec.model_copy(update={"round": rnd_spec}), session=session)
            session.commit()
            commune = repo.find_unit(spec.code, session=session)
            rnd = session.exec(select(Round).where(Round.commune_id == commune.id,
                                                   Round.year == year)).one()
            inds = session.exec(select(Indicator).where(Indicator.plan_id == rnd.plan_id)
                                .order_by(Indicator.position)).all()
            when = datetime.combine(rnd.unit_deadline, time(9), tzinfo=UTC) - timedelta(days=3)
            for unit in repo.children(commune.id, session=session):
                mine = [i for i in inds if unit.kind in (i.reporters or ())]
                if not mine:
                    continue
                for ind in mine:
                    fields = _value(rng, session, ind, year, share)
                    exact = EXACT.get((spec.code, ind.code))
                    if exact and share:
                        fields = {"numerator": exact[0], "denominator": exact[1]}
                    repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                                    indicator_id=ind.id, person_id=None, source="import",
                                    now=when, **fields)
                repo.submit(rnd.id, unit.id, person_id=None, session=session, now=when)
            session.commit()
        made.append((spec.code, last))
    return made


def _num(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def table(data: dict[str, Any]) -> str:
    """The verdict table of one report, as Markdown."""
    lines = [f"### {data['unit']['name']} {data['year']} (plan {data['plan']['code']})", "",
             "| code | result | milestone target | verdict | path target | path verdict |"
             " projection (years) |", "|---|---|---|---|---|---|---|"]
    for i in data["indicators"]:
        t = i["target"] or {}
        goal = f"{t.get('direction', '')} {_num(t.get('value'))} ({t.get('milestone_year', '')})"
        if t.get("fraction"):
            goal = f"{t['direction']} {t['fraction'][0]}/{t['fraction'][1]} " \
                   f"({t['milestone_year']})"
        proj = ""
        if i.get("projection") is not None:
            proj = (f"{_num(i['projection'])} in {i['projection_year']} "
                    f"({i['projection_years']}): {i['projection_verdict'] or '—'}")
        path = _num(i.get("path_target")) or (i.get("path_reason") or "")
        lines.append(f"| {i['code']} | {_num(i['value'])} | {goal} | {i['verdict'] or '—'} | "
                     f"{path} | {i.get('path_verdict') or ''} | {proj} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docx", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/road.db")
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as s:
            for code, year in populate(s):
                rep = build_report(code, year, session=s, tz=TZ)
                print(table(report_json(rep)) + "\n")
                if args.docx:
                    from bot.documents import Issue, report_docx

                    args.docx.mkdir(parents=True, exist_ok=True)
                    signed = Issue(number="15", issued=date(year, 12, 4),
                                   signer="Nguyễn Văn An")
                    (args.docx / f"{code}-{year}.docx").write_bytes(
                        report_docx(rep, include_sensitive=True, tz=TZ, issue=signed))
                if args.png:
                    from bot.documents import report_png

                    args.png.mkdir(parents=True, exist_ok=True)
                    (args.png / f"{code}-{year}.png").write_bytes(report_png(rep))
        engine.dispose()


if __name__ == "__main__":
    main()
