"""A reduction against a baseline year before the plan (seed 004: abuse cases down 5% against
2020, in a plan for 2021-2030): the baseline gets a round of its own, its figures are entered
by an officer, and the later year is judged against them; the baseline year is not judged."""

from __future__ import annotations

import json

from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli import app
from storage import repo
from storage.kinds import Role
from storage.models import Membership, Person
from tests.harness import ROOT

runner = CliRunner()
WARDS = ("vinh-thanh-van", "vinh-thanh", "vinh-lac", "vinh-bao", "vinh-quang", "vinh-hiep",
         "vinh-loi", "vinh-thong", "an-hoa", "an-binh", "rach-soi", "phi-thong")


def test_baseline_round_is_set_up_entered_and_used(db_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    original = (ROOT / "communes/004_rach_gia.yaml").read_text(encoding="utf-8")
    out = runner.invoke(app, ["setup", str(ROOT / "communes/004_rach_gia.yaml")])
    assert out.exit_code == 0, out.output
    baseline = tmp_path / "rach_gia_2020.yaml"
    baseline.write_text(original.replace("year: 2025", "year: 2020")
                        .replace("20/11/2025", "20/11/2020").replace("10/12/2025", "10/12/2020"),
                        encoding="utf-8")
    out = runner.invoke(app, ["setup", str(baseline)])
    assert out.exit_code == 0 and "đợt báo cáo 2020" in out.output, out.output
    wrong = tmp_path / "rach_gia_2019.yaml"
    wrong.write_text(original.replace("year: 2025", "year: 2019")
                     .replace("20/11/2025", "20/11/2019").replace("10/12/2025", "10/12/2019"),
                     encoding="utf-8")
    out = runner.invoke(app, ["setup", str(wrong)])
    assert out.exit_code == 1 and "năm so sánh của kế hoạch: 2020" in out.output, out.output
    with Session(engine) as s:
        hoa = Person(name="Chị Lan")
        s.add(hoa)
        s.flush()
        s.add(Membership(person_id=hoa.id, unit_id=repo.find_unit("rach-gia", session=s).id,
                         role=Role.officer))
        s.commit()
    rows = ["year,unit,indicator,numerator,denominator,value"]
    rows += [f"2020,{w},9,,,20" for w in WARDS]  # 240 abused children in 2020
    rows += [f"2025,{w},9,,,19" for w in WARDS]  # 228 in 2025: down 5%
    csv = tmp_path / "values.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = runner.invoke(app, ["values", "import", str(csv), "--submit", "--allow-closed",
                              "--as", "Chị Lan"])
    assert out.exit_code == 0, out.output
    data = json.loads(runner.invoke(app, ["report", "--year", "2025", "--unit", "rach-gia",
                                          "--format", "json"]).stdout)
    nine = next(i for i in data["indicators"] if i["code"] == "9")
    assert (nine["value"], nine["verdict"]) == (228, "dat")
    data = json.loads(runner.invoke(app, ["report", "--year", "2020", "--unit", "rach-gia",
                                          "--format", "json"]).stdout)
    nine = next(i for i in data["indicators"] if i["code"] == "9")
    assert nine["value"] == 240 and nine["verdict"] is None
