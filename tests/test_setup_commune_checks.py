"""`ctvbot setup`: what it refuses, what it says about removed units, and how it reads plans.

Each test runs on SQLite and PostgreSQL and checks what the IT person sees and what is (not)
in the database afterwards.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from storage import repo
from storage.models import Membership, Person, Plan, Round, Unit

ROOT = Path(__file__).resolve().parents[1]
XT = (ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
HP = (ROOT / "communes/001_nam_dong.yaml").read_text(encoding="utf-8")
runner = CliRunner()


def write(tmp_path: Path, text: str, name: str = "commune.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def snapshot(engine) -> list[tuple]:
    with Session(engine) as s:
        units = sorted((u.code, u.name, u.kind, u.parent_id) for u in s.exec(select(Unit)))
        rounds = sorted((r.commune_id, r.year, r.plan_id, r.unit_deadline)
                        for r in s.exec(select(Round)))
        plans = sorted(p.code for p in s.exec(select(Plan)))
    return [units, rounds, plans]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ------------------------------------------------------------------ 1. other communes' units


def test_a_file_reusing_another_communes_code_is_refused(cli, engine, tmp_path):
    assert cli("setup", write(tmp_path, XT)).exit_code == 0
    before = snapshot(engine)
    # Hương Phú's file, but someone typed xuan-truong as its code
    file = write(tmp_path, HP.replace("code: huong-phu", "code: xuan-truong"))
    said = cli("setup", file)  # in Vietnamese by default
    assert said.exit_code == 1
    assert "xuan-truong: không thực hiện, không có gì thay đổi" in said.output
    assert "đơn vị xuan-truong (Xã Xuân Trường) đã có, là commune thuộc ninh-binh" in said.output
    assert "hãy đặt mã khác" in said.output and "refused" not in said.output
    result = cli("setup", file, "--lang", "en")
    assert result.exit_code == 1
    assert "refused, nothing was changed" in result.output
    assert "unit xuan-truong (Xã Xuân Trường) already exists" in result.output
    assert "move it from under ninh-binh (Tỉnh Ninh Bình) to under hue (Thành phố Huế)" \
        in result.output
    assert "give it another code" in result.output
    assert snapshot(engine) == before  # not renamed, not moved, no hamlet added, no plan 001
    with Session(engine) as s:
        assert s.exec(select(Unit).where(Unit.code == "xuan-truong/thon-1")).first() is None


def test_a_commune_of_another_plan_and_name_is_refused_even_under_the_same_parent(
        cli, engine, tmp_path):
    cli("setup", write(tmp_path, XT))
    before = snapshot(engine)
    other = (HP.replace("code: huong-phu", "code: xuan-truong")
             .replace("parent: {code: hue, name: Thành phố Huế, kind: province}",
                      "parent: {code: ninh-binh, name: Tỉnh Ninh Bình, kind: province}"))
    result = cli("setup", write(tmp_path, other), "--lang", "en")
    assert result.exit_code == 1
    assert "rename it 'Xã Hương Phú' and put it on plan 001 (it reports on plan 002)" \
        in result.output
    assert snapshot(engine) == before


def test_a_parent_that_is_an_existing_commune_is_refused(cli, engine, tmp_path):
    cli("setup", write(tmp_path, XT))
    before = snapshot(engine)
    bad = HP.replace("parent: {code: hue, name: Thành phố Huế, kind: province}",
                     "parent: {code: xuan-truong, name: Tỉnh Huế, kind: province}")
    result = cli("setup", write(tmp_path, bad), "--lang", "en")
    assert result.exit_code == 1
    assert ("parent xuan-truong (Xã Xuân Trường) is an existing commune; this file would make "
            "it a province") in result.output
    assert snapshot(engine) == before
    assert cli("units").output.splitlines()[1].startswith("  xuan-truong  Xã Xuân Trường")


def test_a_commune_cannot_be_its_own_parent(cli, engine, tmp_path):
    bad = XT.replace("parent: {code: ninh-binh,", "parent: {code: xuan-truong,")
    result = cli("setup", write(tmp_path, bad))
    assert result.exit_code == 1
    n = line_of(bad, "parent:")
    assert f"commune.yaml:{n}: parent.code: xuan-truong không thể là đơn vị cấp trên của chính nó" \
        in result.output
    assert snapshot(engine)[0] == []
    assert "Chưa có đơn vị nào" in cli("units").output


def test_moving_a_commune_needs_move_and_is_shown_with_codes(cli, engine, tmp_path):
    cli("setup", write(tmp_path, XT))
    moved = XT.replace("parent: {code: ninh-binh, name: Tỉnh Ninh Bình, kind: province}",
                       "parent: {code: ninh-binh-moi, name: Tỉnh Ninh Bình (mới), "
                       "kind: province}")
    file = write(tmp_path, moved)
    refused = cli("setup", file)
    assert refused.exit_code == 1 and "--move" in refused.output
    ok = cli("setup", file, "--move")
    assert ok.exit_code == 0, ok.output
    assert "~ đơn vị xuan-truong: parent ninh-binh -> ninh-binh-moi" in ok.output
    assert "parent_id" not in ok.output


# ------------------------------------------------------------------ 2. units removed from the file


def test_units_removed_from_the_file_are_removed_or_reported(cli, engine, tmp_path):
    file = write(tmp_path, XT)
    cli("setup", file)
    with Session(engine) as s:
        bac = repo.find_unit("thon-xuan-bac", session=s)
        rnd = repo.round_for_year(bac.parent_id, 2026, session=s)
        ind = repo.indicators_for(bac, rnd, session=s)[0]
        repo.save_value(session=s, round_id=rnd.id, unit_id=bac.id, indicator_id=ind.id,
                        person_id=None, value=1)
        dai = repo.find_unit("thon-xuan-dai", session=s)
        person = Person(telegram_id=77, name="Lan")
        s.add(person)
        s.flush()
        s.add(Membership(person_id=person.id, unit_id=dai.id, role="collaborator"))
        s.commit()
    shorter = "\n".join(line for line in XT.splitlines()
                        if not any(c in line for c in ("thon-xuan-thuy", "thon-xuan-bac",
                                                       "thon-xuan-dai"))) + "\n"
    write(tmp_path, shorter)
    out = cli("setup", file).output
    assert ("- đơn vị xuan-truong/thon-xuan-thuy (Thôn Xuân Thủy): không còn trong tệp, đã xoá"
            in out)
    assert ("! đơn vị xuan-truong/thon-xuan-bac (Thôn Xuân Bắc): không còn trong tệp nhưng vẫn "
            "được giữ vì đã có 1 số liệu đã báo cáo") in out
    assert ("! đơn vị xuan-truong/thon-xuan-dai (Thôn Xuân Đài): không còn trong tệp nhưng vẫn "
            "được giữ vì đã có 1 thành viên") in out
    with Session(engine) as s:
        codes = {u.code for u in s.exec(select(Unit))}
    assert "xuan-truong/thon-xuan-thuy" not in codes
    assert {"xuan-truong/thon-xuan-bac", "xuan-truong/thon-xuan-dai"} <= codes
    again = cli("setup", file).output  # still said every time, never silently
    assert "không có gì thay đổi" in again and "! đơn vị xuan-truong/thon-xuan-bac" in again


# ------------------------------------------------------------------ 3. round checks


def test_a_round_year_outside_the_plan_period_is_refused(cli, engine, tmp_path):
    bad = (XT.replace("year: 2026", "year: 2024").replace("/11/2026", "/11/2024")
           .replace("/12/2026", "/12/2024"))
    result = cli("setup", write(tmp_path, bad))
    assert result.exit_code == 1
    n = line_of(bad, "year: 2024")
    assert (f"commune.yaml:{n}: round.year: năm 2024 nằm ngoài giai đoạn của kế hoạch 002: "
            "2025-2030" in result.output)
    assert snapshot(engine)[0] == []


def test_a_deadline_before_the_round_year_is_refused(cli, engine, tmp_path):
    bad = XT.replace("unit_deadline: 10/11/2026", "unit_deadline: 10/11/2025")
    result = cli("setup", write(tmp_path, bad))
    assert result.exit_code == 1
    n = line_of(bad, "unit_deadline:")
    assert (f"commune.yaml:{n}: round.unit_deadline: 10/11/2025 trước năm 2026 của đợt báo cáo"
            in result.output)
    far = XT.replace("consolidation_deadline: 05/12/2026", "consolidation_deadline: 05/12/2028")
    result = cli("setup", write(tmp_path, far))
    assert result.exit_code == 1 and "muộn hơn năm 2026 của đợt báo cáo quá một năm" \
        in result.output
    assert snapshot(engine)[0] == []


def test_a_round_with_values_keeps_its_plan(cli, engine, tmp_path):
    file = write(tmp_path, XT)
    cli("setup", file)
    write(tmp_path, XT.replace('plan: "002"', 'plan: "000"'))
    # without values the switch is allowed, and said with plan codes
    switched = cli("setup", file)
    assert switched.exit_code == 0 and "~ đợt báo cáo 2026: plan 002 -> 000" in switched.output
    assert "plan_id" not in switched.output
    write(tmp_path, XT)
    cli("setup", file)
    with Session(engine) as s:
        hamlet = repo.find_unit("thon-hanh-thien", session=s)
        rnd = repo.round_for_year(hamlet.parent_id, 2026, session=s)
        ind = repo.indicators_for(hamlet, rnd, session=s)[0]
        repo.save_value(session=s, round_id=rnd.id, unit_id=hamlet.id, indicator_id=ind.id,
                        person_id=None, value=1)
        s.commit()
    write(tmp_path, XT.replace('plan: "002"', 'plan: "000"'))
    before = snapshot(engine)
    result = cli("setup", file, "--lang", "en")
    assert result.exit_code == 1
    assert ("round 2026 of xuan-truong reports on plan 002 and already has reported values: it "
            "cannot switch to plan 000") in result.output
    assert snapshot(engine) == before


# ------------------------------------------------------------------ 4. a readable summary


def test_the_change_summary_shows_codes_and_dates_as_written(cli, engine, tmp_path):
    file = write(tmp_path, XT)
    first = cli("setup", file, "--lang", "en").output
    assert "+ round 2026 on plan 002 (units by 10/11/2026, consolidation by 05/12/2026)" in first
    write(tmp_path, XT.replace("consolidation_deadline: 05/12/2026",
                               "consolidation_deadline: 10/12/2026")
          .replace("days_before: [7, 3, 1, 0]", "days_before: [5, 1]")
          .replace("kind: culture", "kind: mass_org"))
    out = cli("setup", file, "--lang", "en").output
    assert "~ round 2026: consolidation_deadline 05/12/2026 -> 10/12/2026" in out
    assert "~ round 2026: reminders.days_before [7, 3, 1, 0] -> [5, 1]" in out
    assert "~ unit xuan-truong/van-hoa: kind culture -> mass_org" in out
    assert "2026-12" not in out and "_id" not in out


# ------------------------------------------------------------------ 10. a plan file by path


def plan_copy(tmp_path: Path, code: str = "xt-local", factor: str = "factor: 1000") -> Path:
    text = (ROOT / "storage/plans/002_xuan_truong.yaml").read_text(encoding="utf-8")
    text = text.replace('code: "002"', f'code: "{code}"', 1).replace("factor: 1000", factor, 1)
    path = tmp_path / "plans" / "ke-hoach.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_plan_can_be_a_plan_file_next_to_the_commune_file(cli, engine, tmp_path):
    plan_copy(tmp_path)
    file = write(tmp_path, XT.replace('plan: "002"', "plan: ../plans/ke-hoach.yaml"),
                 "communes/xt.yaml")
    result = cli("setup", file)
    assert result.exit_code == 0, result.output
    assert "+ đợt báo cáo 2026 theo kế hoạch xt-local" in result.output
    with Session(engine) as s:
        rnd = s.exec(select(Round)).one()
        assert s.get(Plan, rnd.plan_id).code == "xt-local"


def test_a_plan_file_is_checked_like_plan_check(cli, engine, tmp_path):
    plan = plan_copy(tmp_path, factor="factor: 10")
    file = write(tmp_path, XT.replace('plan: "002"', "plan: ../plans/ke-hoach.yaml"),
                 "communes/xt.yaml")
    result = cli("setup", file)
    assert result.exit_code == 1
    n = next(i for i, t in enumerate(plan.read_text(encoding="utf-8").splitlines(), 1)
             if "factor: 10" in t and "factor: 100" not in t)
    assert f"plans/ke-hoach.yaml:{n}:" in result.output and "factor phải là một trong" \
        in result.output
    assert "/../" not in result.output
    missing = write(tmp_path, XT.replace('plan: "002"', "plan: ../plans/khong-co.yaml"),
                    "communes/xt.yaml")
    result = cli("setup", missing)
    assert result.exit_code == 1 and "không có tệp kế hoạch" in result.output
    assert snapshot(engine)[0] == []


def test_a_plan_file_cannot_take_a_bundled_plans_code(cli, engine, tmp_path):
    plan_copy(tmp_path, code="002")
    file = write(tmp_path, XT.replace('plan: "002"', "plan: ../plans/ke-hoach.yaml"),
                 "communes/xt.yaml")
    result = cli("setup", file)
    assert result.exit_code == 1
    assert "có mã '002', trùng mã của kế hoạch có sẵn 002_xuan_truong" in result.output
    assert snapshot(engine)[2] == []


# ------------------------------------------------------------------ 11. the right documentation


def test_an_unknown_field_points_to_the_commune_format(cli, tmp_path):
    bad = XT.replace("hamlets:", "hamlet:")
    result = cli("setup", write(tmp_path, bad))
    assert result.exit_code == 1
    assert (f"commune.yaml:{line_of(bad, 'hamlet:')}: hamlet: trường này không có trong định dạng "
            "(hãy kiểm tra chính tả theo docs/commune-format.md)") in result.output
    assert (ROOT / "docs/commune-format.md").is_file()
    assert "plan-format" not in result.output
