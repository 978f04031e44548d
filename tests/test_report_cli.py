"""``ctvbot report`` and ``ctvbot values import`` through Typer's CliRunner."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from docx import Document
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.report_cli import register
from storage import repo
from storage.kinds import Role
from storage.models import (
    Membership,
    Person,
    ReportedValue,
    Round,
    Submission,
    ValueChange,
)
from tests.test_aggregate import HAMLETS, setup_commune

runner = CliRunner()
TODAY = date(2026, 11, 20)


@pytest.fixture
def app() -> typer.Typer:
    """A command line with the report commands (as bot.cli registers them), choosing its
    language as bot.cli does (--lang, CTVBOT_LANG, else Vietnamese)."""
    from bot.cli import _everywhere

    a = typer.Typer()
    a.callback()(_everywhere)
    register(a)

    @a.command("noop")
    def _noop() -> None:  # a second command keeps Typer from flattening the app
        """Nothing."""

    return a


@pytest.fixture
def db(db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Xuân Trường with some figures; the CLI pointed at the same database, on 20/11/2026
    (the 2026 round is open until its consolidation deadline, 05/12/2026)."""
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    monkeypatch.setattr("bot.report_cli._today", lambda: TODAY)
    with Session(engine, expire_on_commit=False) as s:
        xt = setup_commune(s)
        xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
        xt.save("thon-xuan-bac", "8.1", numerator=99, denominator=100)
        xt.save("ubnd", "1", value=1)
        s.commit()
    return engine


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_bot_cli_has_the_commands() -> None:
    from bot.cli import app as main_app

    names = {c.name for c in main_app.registered_commands}
    groups = {g.name for g in main_app.registered_groups}
    assert "report" in names and "values" in groups


def test_report_json(app: typer.Typer, db: Engine) -> None:
    res = runner.invoke(app, ["report", "--year", "2026", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["unit"]["code"] == "xuan-truong" and data["year"] == 2026
    ind = next(i for i in data["indicators"] if i["code"] == "8.1")
    assert (ind["numerator"], ind["denominator"]) == (100, 102)
    assert ind["value"] == pytest.approx(98.0392, abs=1e-4)
    assert ind["verdict"] == "chua_du"
    assert (ind["units_reported"], ind["units_expected"]) == (2, 6)
    assert next(i for i in data["indicators"] if i["code"] == "1")["verdict"] == "dat"


def test_report_rollup_and_files(app: typer.Typer, db: Engine, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["report", "--year", "2026", "--unit", "ninh-binh",
                              "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["rollup"] is True and data["unit"]["code"] == "ninh-binh"
    for fmt in ("docx", "xlsx", "png"):
        path = tmp_path / f"r.{fmt}"
        res = runner.invoke(app, ["report", "--year", "2026", "--unit", "xuan-truong",
                                  "--format", fmt, "--out", str(path), "--no-sensitive"])
        assert res.exit_code == 0, res.output
        assert path.stat().st_size > 1000
    doc = Document(str(tmp_path / "r.docx"))
    assert any(p.text == "BÁO CÁO" for p in doc.paragraphs)
    assert load_workbook(tmp_path / "r.xlsx").sheetnames[-1] == "Số liệu"
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_report_in_english(app: typer.Typer, db: Engine, tmp_path: Path) -> None:
    """--lang en writes the documents in English; an English workbook imports back."""
    for fmt in ("docx", "xlsx", "png"):
        res = runner.invoke(app, ["report", "--year", "2026", "--format", fmt, "--lang", "en",
                                  "--out", str(tmp_path / f"r.{fmt}")])
        assert res.exit_code == 0, res.output
    doc = Document(str(tmp_path / "r.docx"))
    texts = [p.text for p in doc.paragraphs]
    assert "REPORT" in texts and "BÁO CÁO" not in texts
    assert [c.text for c in doc.tables[1].rows[0].cells] == [
        "No.", "Indicator", "Target", "Result", "Last year", "Verdict"]
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Summary", "By unit", "Values"]
    res = runner.invoke(app, ["values", "import", str(tmp_path / "r.xlsx")])
    assert res.exit_code == 0 and "0 đã lưu, 3 không đổi" in res.output, res.output
    res = runner.invoke(app, ["report", "--year", "2026", "--format", "docx", "--lang", "fr",
                              "--out", str(tmp_path / "x.docx")])
    assert res.exit_code != 0 and not (tmp_path / "x.docx").exists()


def test_report_errors(app: typer.Typer, db: Engine) -> None:
    res = runner.invoke(app, ["report", "--year", "2019"])
    assert res.exit_code == 1 and "Không xã nào có đợt báo cáo năm 2019" in res.output
    res = runner.invoke(app, ["report", "--year", "2026", "--unit", "nowhere"])
    assert res.exit_code == 1 and "Không có đơn vị «nowhere». Các đơn vị hiện có:" in res.output
    res = runner.invoke(app, ["report", "--year", "2019", "--unit", "xuan-truong"])
    assert res.exit_code == 1
    assert "Không có đợt báo cáo năm 2019 nào thuộc xuan-truong." in res.output, res.output
    res = runner.invoke(app, ["report", "--year", "2019", "--unit", "xuan-truong",
                              "--lang", "en"])
    assert res.exit_code == 1 and "No round for 2019 under xuan-truong." in res.output


def _csv(tmp_path: Path, lines: list[str], name: str = "values.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_csv(app: typer.Typer, db: Engine, tmp_path: Path) -> None:
    path = _csv(tmp_path, [
        "year,unit,indicator,numerator,denominator,value,note",
        "2026,thon-xuan-trung,8.1,3,1.234,,typed the Vietnamese way",
        "2026,xuan-truong/thon-xuan-phong,13,,,2,",
        "2026,mam-non,7,,,có,",
        "2026,tieu-hoc,7,,,0,",
    ])
    before = _count(db, ValueChange)
    res = runner.invoke(app, ["values", "import", str(path), "--submit"])
    assert res.exit_code == 0, res.output
    assert "4 đã lưu" in res.output
    with Session(db) as s:
        rows = s.exec(select(ReportedValue).where(ReportedValue.source == "import")).all()
        got = [(r.numerator, r.denominator, r.value, r.state) for r in rows]
        assert sorted(got, key=str) == sorted(
            [(3, 1234, None, "submitted"), (None, None, 2.0, "submitted"),
             (None, None, 1.0, "submitted"), (None, None, 0.0, "submitted")], key=str)
        assert s.exec(select(func.count()).select_from(Submission)).one() == 4 + 3
    assert _count(db, ValueChange) == before + 4  # the history records the import
    again = runner.invoke(app, ["values", "import", str(path)])
    assert again.exit_code == 0 and "0 đã lưu, 4 không đổi" in again.output


def test_bad_file_saves_nothing_and_names_the_lines(app: typer.Typer, db: Engine,
                                                    tmp_path: Path) -> None:
    path = _csv(tmp_path, [
        "year,unit,indicator,numerator,denominator,value",
        "2026,thon-xuan-trung,8.1,3,100,",  # good
        "2026,thon-nowhere,8.1,3,100,",  # 3: unknown unit
        "2026,thon-xuan-trung,99,3,100,",  # 4: unknown indicator
        "2026,thon-xuan-trung,8.2,30,10,",  # 5: numerator > denominator
        "2026,thon-xuan-trung,8.1,3,100,",  # 6: twice
        "2026,thon-xuan-phong,13,,,2.5",  # 7: decimal for a count
        "2026,thon-xuan-phong,10,-1,100,",  # 8: negative
        "2026,thon-xuan-phong,11.1,,100,",  # 9: numerator missing
        "2019,thon-xuan-phong,10,1,100,",  # 10: no round
        "2026,thon-xuan-phong,9,1,100,",  # 11: a hamlet does not report 9
        "2026,mam-non,7,,,maybe",  # 12: not yes/no
    ])
    before = (_count(db, ReportedValue), _count(db, ValueChange))
    res = runner.invoke(app, ["values", "import", str(path)])
    assert res.exit_code == 1
    out = res.output
    for line, words in ((3, "Không có đơn vị thon-nowhere."),
                        (4, "Kế hoạch của đợt báo cáo năm 2026 không có chỉ số 99."),
                        (5, "Tử số 30 lớn hơn mẫu số 10."),
                        (6, "xuan-truong/thon-xuan-trung 8.1 2026 đã có ở dòng 2."),
                        (7, "Cột value: phải là số nguyên, không phải '2.5'."),
                        (8, "Cột numerator: không được là số âm ('-1')."),
                        (9, "Chỉ số 11.1 là tỉ lệ: cần điền numerator."),
                        (10, "xuan-truong/thon-xuan-phong không có đợt báo cáo năm 2019."),
                        (11, "xuan-truong/thon-xuan-phong không báo cáo chỉ số 9 (do"),
                        (12, "Cột value: cần có/không (1/0), không phải 'maybe'.")):
        assert f"values.csv:{line}: {words}" in out, (line, out)
    assert "values.csv:2:" not in out
    assert "không lưu gì cả" in out
    assert (_count(db, ReportedValue), _count(db, ValueChange)) == before


def test_missing_column(app: typer.Typer, db: Engine, tmp_path: Path) -> None:
    path = _csv(tmp_path, ["year;unit;indicator;value", "2026;ubnd;1;1"])
    res = runner.invoke(app, ["values", "import", str(path)])
    assert res.exit_code == 1
    assert ":1: Thiếu cột: numerator, denominator; cần các cột year, unit," in res.output


def test_export_edit_import_round_trip(app: typer.Typer, db: Engine, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    assert runner.invoke(app, ["report", "--year", "2026", "--format", "xlsx", "--out",
                               str(out)]).exit_code == 0
    res = runner.invoke(app, ["values", "import", str(out)])
    assert res.exit_code == 0, res.output
    assert "0 đã lưu, 3 không đổi" in res.output
    wb = load_workbook(out)
    ws = wb["Số liệu"]
    for r in ws.iter_rows(min_row=2):
        if r[1].value == "xuan-truong/thon-xuan-bac":
            r[3].value = 98  # 98 of 100
    ws.append([2026, "thon-xuan-trung", "8.1", 5, 200])
    wb.save(out)
    with Session(db) as s:
        officer = Person(name="Chị Hoa")
        s.add(officer)
        s.flush()
        s.add(Membership(person_id=officer.id, unit_id=repo.find_unit(
            "xuan-truong", session=s).id, role=Role.officer))
        s.commit()
        officer_id = officer.id
    res = runner.invoke(app, ["values", "import", str(out), "--as", "Chị Hoa"])
    assert res.exit_code == 0, res.output
    assert "2 đã lưu, 2 không đổi" in res.output
    data = json.loads(runner.invoke(app, ["report", "--year", "2026"]).stdout)
    ind = next(i for i in data["indicators"] if i["code"] == "8.1")
    assert (ind["numerator"], ind["denominator"]) == (1 + 98 + 5, 2 + 100 + 200)
    with Session(db) as s:
        changes = s.exec(select(ValueChange).where(ValueChange.source == "import")).all()
        assert {c.changed_by for c in changes} == {officer_id}


def test_import_as_someone_who_is_not_an_officer(app: typer.Typer, db: Engine,
                                                 tmp_path: Path) -> None:
    with Session(db) as s:
        s.add(Person(name="Anh Nam"))
        s.commit()
    path = _csv(tmp_path, ["year,unit,indicator,numerator,denominator,value",
                           "2026,ubnd,1,,,1"])
    res = runner.invoke(app, ["values", "import", str(path), "--as", "Anh Nam"])
    assert res.exit_code == 1 and "không phải cán bộ của xuan-truong." in res.output


def test_xlsx_with_numbers_as_text(app: typer.Typer, db: Engine, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["Year", "Unit", "Indicator", "Numerator", "Denominator", "Value"])
    for h in HAMLETS:
        ws.append([2026, h, "11.1", "1", "2.000"])  # 2.000 is two thousand
    path = tmp_path / "values.xlsx"
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())
    res = runner.invoke(app, ["values", "import", str(path)])
    assert res.exit_code == 0, res.output
    data = json.loads(runner.invoke(app, ["report", "--year", "2026"]).stdout)
    ind = next(i for i in data["indicators"] if i["code"] == "11.1")
    assert (ind["numerator"], ind["denominator"], ind["value"]) == (6, 12000, 50.0)


# ------------------------------------------------------------------ locked rounds


def _officer(engine: Engine, name: str = "Chị Hoa") -> int:
    with Session(engine) as s:
        officer = Person(name=name)
        s.add(officer)
        s.flush()
        s.add(Membership(person_id=officer.id, unit_id=repo.find_unit(
            "xuan-truong", session=s).id, role=Role.officer))
        s.commit()
        assert officer.id is not None
        return officer.id


def _close_2026(engine: Engine) -> None:
    """The officer pressed "chốt" on the 2026 round on 18/11/2026."""
    with Session(engine) as s:
        rnd = s.exec(select(Round).where(Round.year == 2026)).one()
        rnd.closed_at = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
        s.add(rnd)
        s.commit()


def _values(engine: Engine) -> list[tuple]:
    with Session(engine) as s:
        return sorted((v.round_id, v.unit_id, v.indicator_id, v.numerator, v.denominator,
                       v.value) for v in s.exec(select(ReportedValue)))


def test_import_into_a_closed_round_is_refused(app: typer.Typer, db: Engine,
                                               tmp_path: Path) -> None:
    _close_2026(db)
    path = _csv(tmp_path, [
        "year,unit,indicator,numerator,denominator,value",
        "2026,thon-xuan-trung,8.1,3,100,",  # 2: a new value in the closed round
        "2026,thon-xuan-bac,8.1,98,100,",  # 3: a changed value
        "2026,thon-hanh-thien,8.1,1,2,",  # 4: what is stored: changes nothing
    ])
    before = (_values(db), _count(db, ValueChange))
    res = runner.invoke(app, ["values", "import", str(path)])
    assert res.exit_code == 1
    for line in (2, 3):
        assert (f"values.csv:{line}: Đợt báo cáo 2026 của Xã Xuân Trường đã chốt ngày "
                f"18/11/2026: số liệu đã là cuối cùng.") in res.output, res.output
    assert "values.csv:4:" not in res.output
    assert "--allow-closed" in res.output and "không lưu gì cả" in res.output
    assert (_values(db), _count(db, ValueChange)) == before


def test_import_after_the_consolidation_deadline_is_refused(
        app: typer.Typer, db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(tmp_path, ["year,unit,indicator,numerator,denominator,value",
                           "2026,thon-xuan-trung,8.1,3,100,"])
    monkeypatch.setattr("bot.report_cli._today", lambda: date(2026, 12, 6))
    before = _values(db)
    res = runner.invoke(app, ["values", "import", str(path)])
    assert res.exit_code == 1
    assert ("values.csv:2: Đợt báo cáo 2026 của Xã Xuân Trường đã khoá: hạn tổng hợp "
            "05/12/2026 đã qua.") in res.output
    assert _values(db) == before
    monkeypatch.setattr("bot.report_cli._today", lambda: date(2026, 12, 5))  # its last day
    res = runner.invoke(app, ["values", "import", str(path)])
    assert res.exit_code == 0 and "1 đã lưu" in res.output, res.output


def test_submit_into_a_closed_round_is_refused(app: typer.Typer, db: Engine,
                                               tmp_path: Path) -> None:
    """Rows equal to what is stored, but --submit would mark a unit as having reported."""
    with Session(db) as s:  # a draft the hamlet never sent
        rnd = s.exec(select(Round).where(Round.year == 2026)).one()
        ind = next(v.indicator_id for v in s.exec(select(ReportedValue)) if v.numerator == 99)
        repo.save_value(session=s, round_id=rnd.id, unit_id=repo.find_unit(
            "xuan-truong/thon-xuan-trung", session=s).id, indicator_id=ind, person_id=None,
            numerator=3, denominator=100)
        s.commit()
    _close_2026(db)
    submissions = _count(db, Submission)
    path = _csv(tmp_path, ["year,unit,indicator,numerator,denominator,value",
                           "2026,thon-xuan-trung,8.1,3,100,"])
    res = runner.invoke(app, ["values", "import", str(path), "--submit"])
    assert res.exit_code == 1
    assert ("values.csv:2: Không thể ghi đơn vị là đã gửi báo cáo (--submit): Đợt báo cáo "
            "2026 của Xã Xuân Trường đã chốt") in res.output, res.output
    assert _count(db, Submission) == submissions
    res = runner.invoke(app, ["values", "import", str(path)])  # nothing changes: accepted
    assert res.exit_code == 0 and "0 đã lưu, 1 không đổi" in res.output


def test_officer_corrects_a_closed_round_explicitly(app: typer.Typer, db: Engine,
                                                    tmp_path: Path) -> None:
    _close_2026(db)
    officer_id = _officer(db)
    path = _csv(tmp_path, ["year,unit,indicator,numerator,denominator,value",
                           "2026,thon-xuan-bac,8.1,98,100,"])
    res = runner.invoke(app, ["values", "import", str(path), "--allow-closed"])
    assert res.exit_code == 1 and "values.csv:1: --allow-closed cần --as CÁN_BỘ" in res.output
    res = runner.invoke(app, ["values", "import", str(path), "--allow-closed", "--as",
                              "Chị Hoa"])
    assert res.exit_code == 0 and "1 đã lưu" in res.output, res.output
    with Session(db) as s:
        change = s.exec(select(ValueChange).where(ValueChange.numerator == 98)).one()
        assert (change.source, change.changed_by) == ("import", officer_id)
        assert s.exec(select(Round).where(Round.year == 2026)).one().closed_at is not None
    data = json.loads(runner.invoke(app, ["report", "--year", "2026"]).stdout)
    ind = next(i for i in data["indicators"] if i["code"] == "8.1")
    assert (ind["numerator"], ind["denominator"]) == (99, 102)


def test_export_of_yes_no_answers_imports_back(app: typer.Typer, db: Engine,
                                               tmp_path: Path) -> None:
    """Schools' yes/no (a share of units) and the commune's yes/no: 1/0 in "Số liệu"."""
    path = _csv(tmp_path, ["year,unit,indicator,numerator,denominator,value",
                           "2026,mam-non,7,,,có", "2026,tieu-hoc,7,,,không"])
    assert runner.invoke(app, ["values", "import", str(path)]).exit_code == 0
    out = tmp_path / "r.xlsx"
    assert runner.invoke(app, ["report", "--year", "2026", "--format", "xlsx", "--out",
                               str(out)]).exit_code == 0
    wb = load_workbook(out)
    raw = {(r[1].value.rsplit("/", 1)[1], r[2].value): r[5].value
           for r in wb["Số liệu"].iter_rows(min_row=2)}
    assert (raw[("mam-non", "7")], raw[("tieu-hoc", "7")], raw[("ubnd", "1")]) == (1, 0, 1)
    wu = wb["Theo đơn vị"]
    heads = [c.value for c in wu[1]]
    col = heads.index(next(h for h in heads if h and h.startswith("7 ")))
    words = {r[0].value.rsplit("/", 1)[1]: r[col].value for r in wu.iter_rows(min_row=2)}
    assert (words["mam-non"], words["tieu-hoc"]) == ("Có", "Không")
    res = runner.invoke(app, ["values", "import", str(out)])
    assert res.exit_code == 0 and "0 đã lưu, 5 không đổi" in res.output, res.output
    for r in wb["Số liệu"].iter_rows(min_row=2):
        if r[1].value.endswith("tieu-hoc"):
            r[5].value = 1  # the primary school now meets the standard
    wb.save(out)
    res = runner.invoke(app, ["values", "import", str(out)])
    assert res.exit_code == 0 and "1 đã lưu, 4 không đổi" in res.output, res.output
    data = json.loads(runner.invoke(app, ["report", "--year", "2026"]).stdout)
    ind = next(i for i in data["indicators"] if i["code"] == "7")
    assert (ind["numerator"], ind["denominator"]) == (2, 3)
