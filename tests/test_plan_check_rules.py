"""`ctvbot plan check` refuses plans that cannot be right, naming file, line and field."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.harness import ROOT

runner = CliRunner()
PLAN_002 = (ROOT / "storage/plans/002_xuan_truong.yaml").read_text(encoding="utf-8")
PLAN_004 = (ROOT / "storage/plans/004_rach_gia.yaml").read_text(encoding="utf-8")


def check(tmp_path, text: str) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    out = runner.invoke(app, ["--lang", "en", "plan", "check", str(path)])
    assert out.exit_code == 1, out.output
    return out.output


@pytest.mark.parametrize(("plan", "old", "new", "expected"), [
    (PLAN_002, "milestones: [2026, 2030]", "milestones: [2026, 2031]",
     "milestones[1]: milestone 2031 is outside the plan period 2025-2030"),
    (PLAN_004, "{year: 2025, direction: reduce_vs_year, value: 5, ref_year: 2020}",
     "{year: 2025, direction: reduce_vs_year, value: 5, ref_year: 2026}",
     "ref_year: the reference year 2026 must be before the target's year 2025"),
    (PLAN_002, "{year: 2026, direction: at_least, value: 100}",
     "{year: 2026, direction: at_least, value: 160}",
     "value: 160 is not a possible percentage (0 to 100)"),
    (PLAN_002, "            kind: rate\n            factor: 100\n",
     "            kind: rate\n            factor: 100\n            question: {vi: Hỏi gì?, "
     "en: What?}\n", "question would never be asked"),
])
def test_impossible_plans_are_refused(tmp_path, plan, old, new, expected):
    assert old in plan
    out = check(tmp_path, plan.replace(old, new, 1))
    assert expected in out and "plan.yaml:" in out, out


def test_population_references_are_checked(tmp_path):
    plan = PLAN_002.replace("denominator: {population: children_hamlet}",
                            "denominator: {population: children_hamlett}", 1)
    out = check(tmp_path, plan)
    assert "denominator.population: there is no population children_hamlett (known: " in out
    assert "plan.yaml:" in out, out
    # a population nobody counts, and one named twice
    plan = PLAN_002.replace("populations:\n", "populations:\n  - key: nobody\n    name: "
                            "{vi: ai đó, en: someone}\n    question: {vi: Bao nhiêu?, en: How "
                            "many?}\n  - key: live_births\n    name: {vi: x, en: x}\n    question:"
                            " {vi: Bao nhiêu?, en: How many?}\n", 1)
    out = check(tmp_path, plan)
    assert "no indicator uses population nobody" in out, out
    assert "population live_births appears twice" in out, out


def test_the_bundled_plans_name_their_shared_populations_once():
    from storage.plan_files import bundled_plan_paths, load_plan

    shared = {}
    for path in bundled_plan_paths():
        spec = load_plan(path)
        uses: dict[str, list[str]] = {}
        for _g, _c, ind in spec.indicators():
            for part in ("numerator", "denominator"):
                if ind.population(part):
                    uses.setdefault(ind.population(part), []).append(f"{ind.code}.{part[0]}")
                    assert getattr(ind, part).vi == spec.population(ind.population(part)) \
                        .question.vi
        shared[spec.code] = uses
    # plan 001's children in special circumstances: 6.1 counts them, 6.2 takes them as total
    assert shared["001"]["special_hamlet"] == ["6.1.n", "6.2.d"]
    assert shared["002"]["children_hamlet"] == ["8.1.d", "11.1.d", "11.2.d"]
    assert shared["002"]["special_hamlet"] == ["8.1.n", "8.2.d"]
    assert set(shared["000"]) >= {"live_births", "special_quarter", "children_quarter"}
    assert set(shared["004"]) >= {"live_births", "special_commune", "children_commune"}
    assert shared["003"] == {}  # plan 003 has no rate: nothing to share
