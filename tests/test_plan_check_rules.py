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
    out = runner.invoke(app, ["plan", "check", str(path)])
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
