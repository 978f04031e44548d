"""Setting up a commune from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Invitation, Round, Unit

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_setup_is_idempotent_and_reports_changes(cli, engine, tmp_path):
    file = tmp_path / "commune.yaml"
    shutil.copy(ROOT / "communes/002_xuan_truong.yaml", file)
    first = cli("setup", str(file))
    assert first.exit_code == 0 and "+ đơn vị xuan-truong/thon-hanh-thien" in first.output
    again = cli("setup", str(file))
    assert "Xã Xuân Trường: đã đúng như tệp, không có gì thay đổi" in again.output
    english = cli("setup", str(file), "--lang", "en")
    assert "Xã Xuân Trường: already up to date, nothing changed" in english.output
    file.write_text(file.read_text(encoding="utf-8")
                    .replace("Thôn Xuân Thủy", "Thôn Xuân Thuỷ Mới")
                    .replace("unit_deadline: 10/11/2026", "unit_deadline: 15/11/2026"),
                    encoding="utf-8")
    third = cli("setup", str(file))
    assert "~ đơn vị xuan-truong/thon-xuan-thuy: name" in third.output
    # dates as the officer wrote them, DD/MM/YYYY
    assert "~ đợt báo cáo 2026: unit_deadline 10/11/2026 -> 15/11/2026" in third.output
    with Session(engine) as s:
        assert len(s.exec(select(Unit)).all()) == 16  # province, commune, 6 hamlets, 8 agencies
        assert len(s.exec(select(Round)).all()) == 1


def test_bad_commune_file_names_line_and_field_and_writes_nothing(cli, engine, tmp_path):
    file = tmp_path / "bad.yaml"
    text = (ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
    file.write_text(text.replace("kind: health_station", "kind: hospital")
                    .replace("time: \"09:00\"", "time: \"9h\""), encoding="utf-8")
    result = runner.invoke(app, ["setup", str(file)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    n_agency = next(i for i, line in enumerate(text.splitlines(), 1) if "health_station" in line)
    n_time = next(i for i, line in enumerate(text.splitlines(), 1) if "time:" in line)
    assert any(f"bad.yaml:{n_agency}: agencies[0].kind:" in line for line in lines), lines
    assert any(f"bad.yaml:{n_time}: round.reminders.time:" in line for line in lines), lines
    file.write_text(text.replace("consolidation_deadline: 05/12/2026",
                                 "consolidation_deadline: 01/11/2026"), encoding="utf-8")
    result = runner.invoke(app, ["setup", str(file)])
    assert result.exit_code == 1
    assert "round.consolidation_deadline: hạn tổng hợp không được trước hạn nộp" \
        in result.output
    with Session(engine) as s:
        assert s.exec(select(Unit)).all() == []


def test_unknown_plan_lists_known_ones(cli, tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text((ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
                    .replace('plan: "002"', 'plan: "009"'), encoding="utf-8")
    result = runner.invoke(app, ["setup", str(file)])
    assert result.exit_code == 1 and "các kế hoạch có sẵn: 000_tan_khai" in result.output


def test_invite_units_and_bulk_invitations(cli, engine, tmp_path):
    cli("setup", str(ROOT / "communes/002_xuan_truong.yaml"))
    out = cli("invite", "thon-hanh-thien", "--json")
    data = json.loads(out.output)
    assert data["unit"] == "xuan-truong/thon-hanh-thien" and data["role"] == "collaborator"
    assert data["link"] == f"https://t.me/xuantruong_bot?start={data['code']}"
    officer = json.loads(cli("invite", "xuan-truong", "--role", "officer", "--json").output)
    assert officer["role"] == "officer"
    with Session(engine) as s:  # stored hashed, never in clear
        stored = [i.code_hash for i in s.exec(select(Invitation)).all()]
        assert data["code"] not in stored and len(stored) == 2
    bad = runner.invoke(app, ["invite", "thon-khong-co"])
    assert bad.exit_code == 1 and "các đơn vị hiện có:" in bad.output
    assert "thon-hanh-thien" in bad.output
    tree = cli("units").output.splitlines()
    assert tree[0].startswith("ninh-binh") and tree[1].startswith("  xuan-truong")
    assert any(line.startswith("    xuan-truong/tram-y-te") for line in tree)
    cli("invitations", "xuan-truong", "--out", str(tmp_path / "inv.csv"))
    with (tmp_path / "inv.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15
    assert {r["Vai trò"] for r in rows} == {"cán bộ", "cộng tác viên", "đầu mối báo cáo"}
    cli("invitations", "xuan-truong", "--out", str(tmp_path / "inv.xlsx"))
    ws = load_workbook(tmp_path / "inv.xlsx").active
    assert ws.max_row == 16 and ws.freeze_panes == "A2"


def test_plan_check_names_file_line_and_field(tmp_path):
    bad = tmp_path / "plan.yaml"
    text = (ROOT / "storage/plans/002_xuan_truong.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("factor: 1000", "factor: 10", 1), encoding="utf-8")
    line = next(i for i, t in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1)
                if "factor: 10" in t and "factor: 100" not in t)
    result = runner.invoke(app, ["plan", "check", str(bad)])
    assert result.exit_code == 1
    assert f"plan.yaml:{line}:" in result.output and "factor" in result.output
    ok = runner.invoke(app, ["plan", "check"])
    assert ok.exit_code == 0 and ok.output.count(": ok") == 5


def test_setup_says_its_changes_in_the_officers_language(cli, tmp_path):
    file = tmp_path / "commune.yaml"
    shutil.copy(ROOT / "communes/002_xuan_truong.yaml", file)
    first = cli("setup", str(file))
    assert first.exit_code == 0, first.output
    assert "+ đơn vị xuan-truong/thon-hanh-thien (Thôn Hành Thiện)" in first.output
    assert "+ đợt báo cáo 2026 theo kế hoạch 002 (đơn vị báo cáo trước 10/11/2026" in first.output
    assert "+ unit " not in first.output and "+ round " not in first.output
    file.write_text(file.read_text(encoding="utf-8")
                    .replace("Thôn Hành Thiện", "Thôn Hành Thiện Mới")
                    .replace("unit_deadline: 10/11/2026", "unit_deadline: 12/11/2026"),
                    encoding="utf-8")
    english = cli("setup", str(file), "--lang", "en")
    assert english.exit_code == 0, english.output
    assert ('~ unit xuan-truong/thon-hanh-thien: name "Thôn Hành Thiện" -> '
            '"Thôn Hành Thiện Mới"') in english.output
    assert "~ round 2026: unit_deadline 10/11/2026 -> 12/11/2026" in english.output
    assert "đơn vị" not in english.output and "đợt" not in english.output
