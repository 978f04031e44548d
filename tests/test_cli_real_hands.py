# ruff: noqa: F811  (the tests take the imported fixtures `app` and `db` as arguments)
"""The command line and its files in an IT person's and an officer's hands: no formula in a
cell, honest one-line errors, checked restores, any console, progress, the officer's
language. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from docx import Document
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.i18n import text_of
from storage.db import make_engine, upgrade
from storage.models import Person, ReportedValue, Unit

# the fixtures of the report tests: `app` (the report commands), `db` (Xuân Trường's figures)
from tests.test_report_cli import app, db  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
HYPERLINK = '=HYPERLINK("http://evil.example","Tên")'


def formulas(path: Path) -> list[str]:
    """Every cell of a workbook that Excel would compute."""
    wb = load_workbook(path)
    return [f"{ws.title}!{c.coordinate}={c.value}" for ws in wb.worksheets
            for row in ws.iter_rows() for c in row if c.data_type == "f"]


def cells(path: Path) -> set[str]:
    wb = load_workbook(path)
    return {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None}


def one_line(result) -> str:
    """The whole output of a refused command: one line, exit code 1, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


# ------------------------------------------------------------------ 18. no formula in a cell


def test_report_excel_writes_people_s_text_as_text(app: typer.Typer, db: Engine,
                                                   tmp_path: Path) -> None:
    with Session(db) as s:
        lan = Person(telegram_id=77, name=HYPERLINK, created_at=datetime.now(UTC))
        s.add(lan)
        s.flush()
        for v in s.exec(select(ReportedValue)).all():
            v.reported_by, v.text = lan.id, "@SUM(1+1)"
            s.add(v)
        hamlet = s.exec(select(Unit).where(Unit.code == "xuan-truong/thon-hanh-thien")).one()
        hamlet.name = "+84 Thôn\tHành Thiện"
        s.add(hamlet)
        s.commit()
    out = tmp_path / "r.xlsx"
    res = runner.invoke(app, ["report", "--year", "2026", "--format", "xlsx", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert formulas(out) == []
    shown = cells(out)
    assert HYPERLINK in shown and "@SUM(1+1)" in shown and "+84 Thôn\tHành Thiện" in shown


def test_invitation_files_write_names_as_text(cli, tmp_path: Path) -> None:
    file = tmp_path / "xa.yaml"
    file.write_text((ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
                    .replace("name: Thôn Hành Thiện}", f'name: "{HYPERLINK}"}}'.replace(
                        'HYPERLINK("http://evil.example","Tên")',
                        "HYPERLINK('http://evil.example','Tên')")), encoding="utf-8")
    assert cli("setup", str(file)).exit_code == 0
    assert cli("invitations", "xuan-truong", "--out", "a.xlsx").exit_code == 0
    assert formulas(tmp_path / "a.xlsx") == []
    assert HYPERLINK.replace('"', "'") in cells(tmp_path / "a.xlsx")
    assert cli("invitations", "xuan-truong", "--out", "a.csv").exit_code == 0
    with (tmp_path / "a.csv").open(encoding="utf-8-sig") as fh:
        names = [r[1] for r in csv.reader(fh)]
    assert "'" + HYPERLINK.replace('"', "'") in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)


# ------------------------------------------------------------------ 19. values import


def _xlsx(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    wb.active.append(["year", "unit", "indicator", "numerator", "denominator", "value"])
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


def _values(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(ReportedValue)).one()


def test_number_cells_obey_the_caps_of_text(app: typer.Typer, db: Engine,
                                            tmp_path: Path) -> None:
    before = _values(db)
    f = _xlsx(tmp_path / "v.xlsx", [[2026, "thon-hanh-thien", "8.1", 1e15, 2e15, None],
                                    [2026, "thon-hanh-thien", "13", None, None, 5e18]])
    res = runner.invoke(app, ["values", "import", str(f)])
    assert res.exit_code == 1
    assert "v.xlsx:2: Cột numerator: số quá lớn (1e+15; tối đa" in res.output, res.output
    assert "v.xlsx:3: Cột value: số quá lớn (5e+18; tối đa" in res.output
    assert _values(db) == before


@pytest.mark.parametrize("content, message", [
    ("year,unit,indicator,numerator,denominator,value\n2026,thon-xuân,8.1,1,2,\n"
     .encode("cp1258"), "Tệp không phải văn bản UTF-8"),
    (b"this is a CSV, not a workbook\n", "Đây không phải tệp Excel .xlsx"),
])
def test_unreadable_files_get_one_clear_line(app: typer.Typer, db: Engine,
                                             tmp_path: Path, content: bytes,
                                             message: str) -> None:
    name = "v.xlsx" if b"workbook" in content else "v.csv"
    (tmp_path / name).write_bytes(content)
    res = runner.invoke(app, ["values", "import", str(tmp_path / name)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert message in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("cell, message", [
    ("1e309", "Cột numerator: inf không phải là số."),
    ("-1e309", "Cột numerator: -inf không phải là số."),
    ("NaN", "Một ô chứa thứ không phải số cũng không phải chữ"),
    ("INF", "Một ô chứa thứ không phải số cũng không phải chữ"),
])
def test_infinities_are_not_numbers(app: typer.Typer, db: Engine, tmp_path: Path,
                                    cell: str, message: str) -> None:
    """A number cell whose stored text is 1e309, NaN or INF (written by another program)."""
    import zipfile

    plain = _xlsx(tmp_path / "plain.xlsx", [[2026, "thon-hanh-thien", "8.1", 123456789, 10,
                                             None]])
    f = tmp_path / "v.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(f, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<v>123456789</v>", f"<v>{cell}</v>".encode())
            zout.writestr(item, data)
    res = runner.invoke(app, ["values", "import", str(f)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"v.xlsx:2: {message}" in res.output, res.output


def test_a_file_with_too_many_rows_is_refused_with_the_limit(app: typer.Typer,
                                                             db: Engine, tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setattr("storage.importer.MAX_ROWS", 100)
    f = tmp_path / "v.csv"
    f.write_text("year,unit,indicator,numerator,denominator,value\n"
                 + "2026,thon-hanh-thien,8.1,1,2,\n" * 500, encoding="utf-8")
    res = runner.invoke(app, ["values", "import", str(f)])
    assert res.exit_code == 1
    assert "Tệp có hơn 100 dòng: hãy chia thành các tệp nhỏ hơn." in res.output


@pytest.mark.parametrize("typed, message", [
    ("10%", "'10%' là tỉ lệ phần trăm, nhưng cột này nhận số đếm"),
    ("5 trở lên", "'5 trở lên' không phải một con số chắc chắn"),
    ("5 sai", "'5 sai' không phải một con số chắc chắn"),
])
def test_each_refusal_of_a_count_says_what_is_wrong(app: typer.Typer, db: Engine,
                                                    tmp_path: Path, typed: str,
                                                    message: str) -> None:
    f = tmp_path / "v.csv"
    f.write_text("year,unit,indicator,numerator,denominator,value\n"
                 f"2026,thon-hanh-thien,8.1,{typed},20,\n", encoding="utf-8")
    res = runner.invoke(app, ["values", "import", str(f)])
    assert res.exit_code == 1
    assert f"v.csv:2: Cột numerator: {message}" in res.output, res.output
    assert "không phải là số" not in res.output


# ------------------------------------------------------------------ 24. progress, capped errors


def test_values_import_shows_progress_and_the_first_50_problems(app: typer.Typer,
                                                                db: Engine,
                                                                tmp_path: Path) -> None:
    f = tmp_path / "v.csv"
    f.write_text("year,unit,indicator,numerator,denominator,value\n"
                 + "2026,thon-khong-co,8.1,1,2,\n" * 1200, encoding="utf-8")
    res = runner.invoke(app, ["values", "import", str(f)])
    assert res.exit_code == 1
    assert "Đọc các dòng" in res.output and "1200/" in res.output        # the progress bar
    problems = [line for line in res.output.splitlines() if "Không có đơn vị" in line]
    assert len(problems) == 50
    assert "chỉ hiện 50 lỗi đầu tiên; tổng cộng có 1200 lỗi" in res.output
    assert "1200 lỗi: không lưu gì cả." in res.output


def test_values_import_counts_its_rows_first_so_the_bar_has_a_total(app: typer.Typer,
                                                                    db: Engine,
                                                                    tmp_path: Path) -> None:
    from storage.importer import count_rows

    f = tmp_path / "v.csv"
    f.write_text("year,unit,indicator,numerator,denominator,value\n"
                 + "2026,thon-khong-co,8.1,1,2,\n" * 1200 + "\n,,,,,\n", encoding="utf-8")
    assert count_rows(f) == 1200  # blank rows are not figures
    x = _xlsx(tmp_path / "v.xlsx", [[2026, "thon-hanh-thien", "8.1", 1, 2, None]])
    assert count_rows(x) == 1
    res = runner.invoke(app, ["values", "import", str(f)])
    assert "1200/1200" in res.stderr and "/?" not in res.stderr, res.stderr
    res = runner.invoke(app, ["values", "import", str(x)])
    assert res.exit_code == 0 and "1/1" in res.stderr, res.output


def _stored(engine: Engine) -> set[tuple]:
    with Session(engine) as s:
        return {(v.unit_id, v.indicator_id, v.numerator, v.denominator, v.value)
                for v in s.exec(select(ReportedValue)).all()}


def test_values_import_explains_a_bad_line_in_the_officer_s_language(
        db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole ctvbot command line on a file with one good line and two bad ones: each bad
    line is a sentence of the catalogs (the web's paper-report page says the same), with its
    line number, in Vietnamese, or in English when the command line speaks English; the
    good line is not saved either."""
    f = tmp_path / "so-lieu.csv"
    f.write_text("year,unit,indicator,numerator,denominator,value\n"
                 "2026,thon-xuan-trung,8.1,3,100,\n"      # 2: right
                 "2026,thon-khong-co,8.1,1,2,\n"          # 3: no such unit
                 "2026,thon-xuan-bac,8.1,chưa có,100,\n",    # 4: not a number
                 encoding="utf-8")
    before = _stored(db)

    vi = runner.invoke(cli_app, ["values", "import", str(f)])
    assert vi.exit_code == 1 and isinstance(vi.exception, SystemExit), vi.output
    assert f"{f}:3: Không có đơn vị thon-khong-co." in vi.stderr, vi.stderr
    assert f"{f}:4: Cột numerator: 'chưa có' không phải là số." in vi.stderr
    assert f"{f}:2:" not in vi.stderr and "2 lỗi: không lưu gì cả." in vi.stderr
    assert "Unknown unit" not in vi.output and "Traceback" not in vi.output

    for how in (["--lang", "en", "values", "import", str(f)],
                ["values", "import", str(f), "--lang", "en"]):
        en = runner.invoke(cli_app, how)
        assert en.exit_code == 1, en.output
        assert f"{f}:3: Unknown unit thon-khong-co." in en.stderr, en.stderr
        assert f"{f}:4: Column numerator: 'chưa có' is not a number." in en.stderr
        assert "2 problem(s): nothing was saved." in en.stderr and "Cột" not in en.output
    monkeypatch.setenv("CTVBOT_LANG", "en")  # every command in English
    en = runner.invoke(cli_app, ["values", "import", str(f)])
    assert f"{f}:3: Unknown unit thon-khong-co." in en.stderr, en.stderr
    assert "Reading rows" in en.stderr
    assert _stored(db) == before  # all or nothing: the right line 2 is not saved either

    f.write_text("year,unit,indicator,numerator,denominator,value\n"
                 "2026,thon-xuan-trung,8.1,3,100,\n", encoding="utf-8")
    ok = runner.invoke(cli_app, ["values", "import", str(f)])
    assert ok.exit_code == 0 and "1 saved" in ok.output, ok.output
    assert len(_stored(db) - before) == 1


def test_a_province_roll_up_says_what_it_is_doing(app: typer.Typer, db: Engine,
                                                  tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", "--year", "2026", "--unit", "ninh-binh",
                              "--out", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "Đang cộng số liệu các xã của Tỉnh Ninh Bình năm 2026" in res.stderr


def test_invitations_show_progress(cli) -> None:
    cli("setup", str(ROOT / "communes/002_xuan_truong.yaml"))
    res = cli("invitations", "xuan-truong", "--out", "a.csv")
    assert res.exit_code == 0 and "Tạo lời mời" in res.stderr and "15/15" in res.stderr


# ------------------------------------------------------------------ 20. restore checks


def _source_backup(tmp_path: Path, monkeypatch) -> Path:
    from tests.test_backup import fill

    url = f"sqlite:///{tmp_path / 'src.db'}"
    source = make_engine(url)
    upgrade(source)
    fill(source)
    source.dispose()
    file = tmp_path / "b.json.gz"
    monkeypatch.setenv("CTVBOT_DATABASE_URL", url)
    assert runner.invoke(cli_app, ["backup", str(file)]).exit_code == 0
    return file


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t)).scalar_one()
                   for t in SQLModel.metadata.sorted_tables)


def _rewrite(file: Path, change, *, fix_checksum: bool) -> None:
    from storage.backup import _checksum

    payload = json.loads(gzip.decompress(file.read_bytes()))
    change(payload["tables"])
    if fix_checksum:
        payload["sha256"] = _checksum(payload["tables"])
    file.write_bytes(gzip.compress(json.dumps(payload).encode()))


def _too_many(tables: dict) -> None:
    tables["reportedvalue"][0].update(numerator=500, denominator=10)


def _negative(tables: dict) -> None:
    tables["reportedvalue"][0]["denominator"] = -3


def _no_column(tables: dict) -> None:
    del tables["person"][0]["name"]


@pytest.mark.parametrize("damage, fix, message", [
    (_too_many, False, "mã kiểm tra không khớp"),
    (_too_many, True, "tử số 500 lớn hơn mẫu số 10"),
    (_negative, True, "giá trị -3 không hợp lệ"),
    (_no_column, True, "cột không đúng (thiếu: name"),
])
def test_a_tampered_backup_is_refused_and_changes_nothing(engine, db_url, tmp_path,
                                                          monkeypatch, damage, fix,
                                                          message) -> None:
    file = _source_backup(tmp_path, monkeypatch)
    _rewrite(file, damage, fix_checksum=fix)
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    line = one_line(runner.invoke(cli_app, ["restore", str(file)]))
    assert message in line and "cơ sở dữ liệu không thay đổi" in line
    assert _rows(engine) == 0


def test_a_truncated_backup_is_refused(engine, db_url, tmp_path, monkeypatch) -> None:
    file = _source_backup(tmp_path, monkeypatch)
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    line = one_line(runner.invoke(cli_app, ["restore", str(file)]))
    assert "bị cắt cụt" in line
    assert _rows(engine) == 0


def test_a_gzip_bomb_is_not_unpacked(engine, db_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("storage.backup.MAX_UNPACKED", 2_000_000)
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b'{"format": 2, "tables": {"x": "' + b"0" * 20_000_000
                                   + b'"}}'))
    assert bomb.stat().st_size < 100_000
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    line = one_line(runner.invoke(cli_app, ["restore", str(bomb)]))
    assert "giải nén ra hơn 2 MB" in line
    assert _rows(engine) == 0


# ------------------------------------------------------------------ 21. setup refuses


def _commune(tmp_path: Path, **replace: str) -> Path:
    text = (ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    file = tmp_path / "xa.yaml"
    file.write_text(text, encoding="utf-8")
    return file


@pytest.mark.parametrize("make, message", [
    (lambda f: f.write_bytes(f.read_bytes().replace("Xuân".encode(), "Xuân".encode("cp1258"))),
     "tệp không phải văn bản UTF-8"),
    (lambda f: f.write_text("code: x\nname: " + "[" * 5000 + "]" * 5000, encoding="utf-8"),
     "tệp lồng nhau sâu hơn 12 cấp"),
    (lambda f: f.write_text(f.read_text(encoding="utf-8").replace(
        "Thôn Hành Thiện", "Thôn " + "Hành Thiện " * 60), encoding="utf-8"),
     "chữ quá dài: nhiều nhất 200 ký tự"),
    (lambda f: f.write_text(f.read_text(encoding="utf-8").replace(
        "name: Thôn Hành Thiện}", 'name: "Thôn Hành\\u0007Thiện"}'), encoding="utf-8"),
     "tên không được chứa ký tự điều khiển (có U+0007)"),
    (lambda f: f.write_bytes(b"code: x\nname: " + b"A" * 3_000_000), "tệp lớn hơn 2 MB"),
])
def test_setup_refuses_odd_files_in_one_line(cli, engine, tmp_path, make, message) -> None:
    file = _commune(tmp_path)
    make(file)
    line = one_line(runner.invoke(cli_app, ["setup", str(file)]))
    assert message in line, line
    with Session(engine) as s:
        assert s.exec(select(Unit)).all() == []


# ------------------------------------------------------------------ 22. report's file and errors


def test_report_format_follows_the_file_name(app: typer.Typer, db: Engine,
                                             tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["report", "--year", "2026", "--out", "bc.docx"])
    assert res.exit_code == 0, res.output
    assert any(p.text == "BÁO CÁO" for p in Document("bc.docx").paragraphs)
    res = runner.invoke(app, ["report", "--year", "2026", "--out", "bc.xlsx"])
    assert res.exit_code == 0 and load_workbook("bc.xlsx").sheetnames[-1] == "Số liệu"
    line = one_line(runner.invoke(app, ["report", "--year", "2026", "--format", "json",
                                        "--out", "x.docx"]))
    assert "--format json không khớp với tệp --out x.docx" in line
    assert not Path("x.docx").exists()
    line = one_line(runner.invoke(app, ["report", "--year", "2026", "--out",
                                        "khong-co/bc.docx"]))
    assert "thư mục khong-co không tồn tại" in line


@pytest.mark.parametrize("url, message", [
    ("mysql://u:secret@db.example/ctvbot", "không được hỗ trợ"),
    ("postgresql://u:secret@127.0.0.1:1/ctvbot", "Không kết nối được cơ sở dữ liệu"),
    ("sqlite:////khong-co-thu-muc/ctvbot.db", "thư mục /khong-co-thu-muc không tồn tại"),
])
def test_database_problems_get_one_line(app: typer.Typer, monkeypatch, url: str,
                                        message: str) -> None:
    monkeypatch.setenv("CTVBOT_DATABASE_URL", url)
    for command in (["report", "--year", "2026"], ["values", "import", __file__]):
        res = runner.invoke(app, command)
        line = one_line(res)
        assert message in line and "secret" not in line
    line = one_line(runner.invoke(cli_app, ["units"]))
    assert message in line


# ------------------------------------------------------------------ 23. any console


def test_units_redirected_to_a_windows_code_page(cli, db_url, tmp_path) -> None:
    assert cli("setup", str(ROOT / "communes/002_xuan_truong.yaml")).exit_code == 0
    env = {**os.environ, "PYTHONIOENCODING": "cp1258", "CTVBOT_DATABASE_URL": db_url}
    with (tmp_path / "f").open("wb") as out:
        proc = subprocess.run([sys.executable, "-m", "bot.cli", "units"], stdout=out,
                              stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    text = unicodedata.normalize("NFC", (tmp_path / "f").read_bytes().decode("cp1258"))
    assert "Xã Xuân Trường" in text and "Thôn Hành Thiện" in text


# ------------------------------------------------------------------ 25. the officer's language


def test_invitations_speak_the_officer_s_language(cli, tmp_path) -> None:
    first = cli("setup", str(ROOT / "communes/002_xuan_truong.yaml"))
    assert "Xã Xuân Trường: " in first.output and "thay đổi" in first.output
    assert cli("invitations", "xuan-truong", "--out", "vi.xlsx").exit_code == 0
    ws = load_workbook(tmp_path / "vi.xlsx").active
    assert ws.title == "Lời mời"
    assert [c.value for c in ws[1]][:4] == ["Mã đơn vị", "Tên đơn vị", "Loại đơn vị", "Vai trò"]
    kinds = {c.value for c in ws["C"][1:]}
    assert {"Thôn, tổ dân phố", "Trạm Y tế", "Xã, phường"} <= kinds
    assert not kinds & {"hamlet", "health_station", "commune"}
    english = cli("invitations", "xuan-truong", "--out", "en.csv", "--lang", "en")
    assert "15 invitations written to en.csv" in english.output
    with (tmp_path / "en.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {"Hamlet", "Health station"} <= {r["Kind of unit"] for r in rows}
    invite = cli("invite", "thon-hanh-thien")
    assert "Mã mời:" in invite.output and "cộng tác viên" in invite.output
    refused = cli("invite", "thon-hanh-thien", "--role", "officer")
    assert "là đơn vị loại «Thôn, tổ dân phố»" in refused.output


def test_report_excel_shows_unit_kinds_as_words(app: typer.Typer, db: Engine,
                                                tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    assert runner.invoke(app, ["report", "--year", "2026", "--out", str(out)]).exit_code == 0
    kinds = {c.value for c in load_workbook(out).worksheets[1]["C"][1:]}
    assert "Thôn, tổ dân phố" in kinds and not kinds & {"hamlet", "health_station"}


def test_restore_messages_are_in_both_catalogs() -> None:
    import re

    keys = set(re.findall(r'RestoreRefused\("(restore\.[a-z_]+)"',
                          (ROOT / "storage/backup.py").read_text(encoding="utf-8")))
    assert len(keys) >= 10
    for lang in ("vi", "en"):
        assert all(text_of(f"cli.{k}", lang) for k in keys)


def test_a_bad_commune_file_is_explained_in_the_officer_s_language(cli, engine,
                                                                  tmp_path) -> None:
    """Each mistake on its line, as a whole sentence of the catalogs: a value not among the
    choices, a wrong type, a missing field, an unknown field (pydantic's own English never
    shows), and the checks of storage itself."""
    text = (ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
    bad = (text.replace("kind: health_station", "kind: hospital")
           .replace("  year: 2026\n", "  year: hai nghìn\n")
           .replace("  unit_deadline: 10/11/2026", "  unit_dead_line: 10/11/2026")
           .replace("parent: {code: ninh-binh,", "parent: {code: xuan-truong,"))
    lines = bad.splitlines()

    def at(word: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if word in line)

    (tmp_path / "c.yaml").write_text(bad, encoding="utf-8")
    vi = runner.invoke(cli_app, ["setup", str(tmp_path / "c.yaml")])
    en = runner.invoke(cli_app, ["setup", str(tmp_path / "c.yaml"), "--lang", "en"])
    assert vi.exit_code == en.exit_code == 1
    assert f"c.yaml:{at('hospital')}: agencies[0].kind: “hospital” không dùng được ở đây; " \
        "hãy dùng một trong các giá trị: province, city, district, commune, hamlet" in vi.output
    assert f"c.yaml:{at('hai nghìn')}: round.year: ở đây cần một số nguyên, không phải " \
        "“hai nghìn”" in vi.output
    assert f"c.yaml:{at('round:')}: round.unit_deadline: thiếu trường này" in vi.output
    assert f"c.yaml:{at('unit_dead_line')}: round.unit_dead_line: trường này không có trong " \
        "định dạng (hãy kiểm tra chính tả theo docs/commune-format.md)" in vi.output
    assert f"c.yaml:{at('hospital')}: agencies[0].kind: “hospital” is not allowed here; use " \
        "one of: province" in en.output
    assert "round.year: expected a whole number here, not “hai nghìn”" in en.output
    assert "round.unit_deadline: this field is required" in en.output
    for out in (vi.output, en.output):
        assert "Input should be" not in out and "Value error" not in out
    (tmp_path / "c.yaml").write_text(text.replace("parent: {code: ninh-binh,",
                                                  "parent: {code: xuan-truong,"),
                                     encoding="utf-8")
    vi = runner.invoke(cli_app, ["setup", str(tmp_path / "c.yaml")])
    assert "parent.code: xuan-truong không thể là đơn vị cấp trên của chính nó" in vi.output
    assert "cannot be its own parent" not in vi.output


def test_every_sentence_of_the_file_checks_is_in_both_catalogs() -> None:
    """Storage words its refusals as catalog keys: each key it uses exists in Vietnamese and
    English, with the same named values."""
    import re
    import string

    keys: set[str] = set()
    for name in ("yamlfiles", "plan_files", "communes", "plans_db"):
        src = (ROOT / "storage" / f"{name}.py").read_text(encoding="utf-8")
        keys |= {k for k in re.findall(r'"((?:file|plan|commune)\.[a-z_.]+)"', src)
                 if not k.endswith((".yaml", ".yml"))}  # file names, not sentences
    assert len(keys) > 60, sorted(keys)
    for key in sorted(keys):
        fields = [{f for _, f, _, _ in string.Formatter().parse(text_of(key, lang)) if f}
                  for lang in ("vi", "en")]
        assert fields[0] == fields[1], key


def test_every_sentence_of_the_import_and_the_report_is_in_both_catalogs() -> None:
    """The importer's and the report's refusals are catalog keys the command line and the
    web's paper-report page word alike: each exists in Vietnamese and English, with the same
    named values."""
    import re
    import string

    from storage.importer import REFUSAL_KEYS

    keys = {f"import.{k}" for k in REFUSAL_KEYS.values()}
    for name, prefix in (("importer", "import"), ("aggregate", "aggregate")):
        src = (ROOT / "storage" / f"{name}.py").read_text(encoding="utf-8")
        keys |= set(re.findall(rf'"({prefix}\.[a-z_]+)"', src))
    assert len(keys) > 35, sorted(keys)
    for key in sorted(keys):
        fields = [{f for _, f, _, _ in string.Formatter().parse(text_of(key, lang)) if f}
                  for lang in ("vi", "en")]
        assert fields[0] == fields[1], key


def test_units_shows_kinds_as_words_in_the_officer_s_language(cli) -> None:
    cli("setup", str(ROOT / "communes/002_xuan_truong.yaml"))
    vi = cli("units").output
    assert "Thôn Hành Thiện  [Thôn, tổ dân phố]" in vi and "[Trạm Y tế]" in vi
    en = cli("units", "--lang", "en").output
    assert f"[{text_of('kind.health_station', 'en')}]" in en
    for raw in ("[hamlet]", "[health_station]", "[commune]"):
        assert raw not in vi and raw not in en


# ------------------------------------------------------------------ 26. the demo


def test_the_demo_folder_is_ignored_by_git() -> None:
    name = f"ctvbot-demo-{datetime.now():%Y%m%d-%H%M%S}/transcript.txt"
    proc = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, timeout=30)
    assert proc.returncode == 0, f"{name} would show as untracked"


@pytest.mark.xdist_group("demo")
def test_the_demo_ends_in_its_language(played_demo) -> None:
    for lang, done, other in (("vi", "giây — các tệp ở", "files in"),
                              ("en", "s — files in", "các tệp")):
        lines, _ = played_demo(lang)
        assert done in lines[-1] and other not in lines[-1]
        assert not any(line.endswith(": reminders") for line in lines) or lang == "en"
