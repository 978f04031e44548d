"""A Word report an officer can sign: its title names the year once, and its number, date of
issue, recipients and signer come from the commune file or ``ctvbot report``'s options
(Nghị định 30/2020/NĐ-CP layout); a province's own template is filled in instead when given."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import typer
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot.documents import Issue, plan_in_title, report_docx, template_context
from bot.report_cli import register
from storage.communes import (
    REPORT_PLACEHOLDERS,
    apply_commune,
    load_commune,
    report_settings,
)
from storage.yamlfiles import FileInvalid
from tests.test_aggregate import TZ, Commune, setup_commune

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "report-template-example.docx"
runner = CliRunner()
TODAY = date(2026, 12, 3)


def _filled(session: Session) -> Commune:
    xt = setup_commune(session)
    xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    xt.save("thon-xuan-bac", "8.1", numerator=99, denominator=100)
    xt.save("ubnd", "1", value=1)
    session.commit()
    return xt


def _docx(data: bytes):  # noqa: ANN202
    return Document(io.BytesIO(data))


def _header(doc):  # noqa: ANN001, ANN202
    (left, right), (number, when) = (r.cells for r in doc.tables[0].rows)
    return left, right, number, when


def _signature(doc):  # noqa: ANN001, ANN202
    table = next(t for t in doc.tables if t.rows[0].cells[0].text.startswith(
        ("Nơi nhận:", "Recipients:")))
    return table.rows[0].cells


def test_the_title_names_the_report_year_once() -> None:
    plans = {
        "Kế hoạch thực hiện Chương trình hành động quốc gia vì trẻ em xã Xuân Trường đến năm "
        "2030": "Kết quả thực hiện Kế hoạch thực hiện Chương trình hành động quốc gia vì trẻ em "
                "xã Xuân Trường năm 2026",
        "Kế hoạch Hành động vì trẻ em trên địa bàn thành phố Rạch Giá, giai đoạn 2021 - 2030":
            "Kết quả thực hiện Kế hoạch Hành động vì trẻ em trên địa bàn thành phố Rạch Giá năm "
            "2026",
        "Kế hoạch tăng cường công tác bảo vệ, chăm sóc trẻ em trên địa bàn thị trấn Tân Khai "
        "giai đoạn 2021-2025, định hướng đến năm 2030":
            "Kết quả thực hiện Kế hoạch tăng cường công tác bảo vệ, chăm sóc trẻ em trên địa bàn "
            "thị trấn Tân Khai năm 2026",
    }
    for plan, title in plans.items():
        assert plan_in_title(plan, 2026) == title
    # a plan named for its year already says it
    assert plan_in_title("Kế hoạch thực hiện công tác trẻ em năm 2022 trên địa bàn huyện Trà "
                         "Cú", 2022) == ("Kết quả thực hiện Kế hoạch thực hiện công tác trẻ em "
                                         "năm 2022 trên địa bàn huyện Trà Cú")
    assert plan_in_title("Xuan Truong commune plan for the National Programme of Action for "
                         "Children to 2030", 2026, "en") == (
        "Results of the Xuan Truong commune plan for the National Programme of Action for "
        "Children in 2026")
    assert plan_in_title("Action Plan for Children of Rach Gia city, 2021-2030", 2026,
                         "en") == "Results of the Action Plan for Children of Rach Gia city in 2026"


def test_a_signed_report_reads_as_the_decree_lays_it_out(session: Session) -> None:
    rep = _filled(session).report()
    issue = Issue(number="15", issued=date(2027, 1, 5), signer="Nguyễn Văn An",
                  signer_title="PHÓ CHỦ TỊCH", on_behalf="KT. CHỦ TỊCH",
                  recipients=("UBND tỉnh Ninh Bình (để b/c)", "Phòng VHXH", "Lưu: VT."))
    doc = _docx(report_docx(rep, include_sensitive=True, tz=TZ, issue=issue))
    left, right, number, when = _header(doc)
    assert "XÃ XUÂN TRƯỜNG" in left.text and "Độc lập - Tự do - Hạnh phúc" in right.text
    assert number.text == "Số: 15/BC-UBND"
    # the date of issue, not the report's year; a day below 10 and January with a zero
    assert when.text == "Xuân Trường, ngày 05 tháng 01 năm 2027"
    texts = [p.text for p in doc.paragraphs]
    titles = [t for t in texts if t.startswith("Kết quả thực hiện")]
    assert titles == ["Kết quả thực hiện Kế hoạch thực hiện Chương trình hành động quốc gia vì "
                      "trẻ em xã Xuân Trường năm 2026"]
    assert texts.index("BÁO CÁO") + 1 == texts.index(titles[0])
    recipients, signer = _signature(doc)
    assert [p.text for p in recipients.paragraphs if p.text] == [
        "Nơi nhận:", "- UBND tỉnh Ninh Bình (để b/c);", "- Phòng VHXH;", "- Lưu: VT."]
    lines = [p for p in signer.paragraphs if p.text]
    assert [p.text for p in lines] == ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Nguyễn Văn An"]
    assert all(p.alignment == WD_ALIGN_PARAGRAPH.CENTER and p.runs[0].bold for p in lines)
    # room to sign between the title and the name
    assert len(signer.paragraphs) - len(lines) >= 4
    # at least 6 pt between the paragraphs of the text, Times New Roman 13-14
    body = [p for p in doc.paragraphs if p.text.strip()]
    assert body and all((p.paragraph_format.space_after or 0) >= 6 * 12700 for p in body), \
        [p.text for p in body if (p.paragraph_format.space_after or 0) < 6 * 12700]
    runs = [r for p in body for r in p.runs if r.text.strip()]
    assert all(r.font.name == "Times New Roman" and 13 <= r.font.size.pt <= 14 for r in runs)


def test_defaults_and_english(session: Session) -> None:
    rep = _filled(session).report()
    doc = _docx(report_docx(rep, include_sensitive=True, tz=TZ,
                            issue=Issue(issued=date(2026, 12, 9))))
    _, _, number, when = _header(doc)
    assert number.text == "Số: …/BC-UBND"
    assert when.text == "Xuân Trường, ngày 09 tháng 12 năm 2026"
    recipients, signer = _signature(doc)
    assert "- UBND tỉnh Ninh Bình (để b/c);" in recipients.text
    assert "- Lưu: VT, VHXH." in recipients.text
    assert [p.text for p in signer.paragraphs if p.text] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    en = _docx(report_docx(rep, include_sensitive=True, tz=TZ, lang="en",
                           issue=Issue(number="7/BC-UBND", issued=date(2026, 12, 9))))
    _, _, number, when = _header(en)
    assert number.text == "No.: 7/BC-UBND" and when.text == "Xuân Trường, 9 December 2026"
    titles = [p.text for p in en.paragraphs if p.text.startswith("Results of")]
    assert titles == ["Results of the Xuan Truong commune plan for the National Programme of "
                      "Action for Children in 2026"]


def test_the_example_template_is_filled_in(session: Session) -> None:
    rep = _filled(session).report()
    issue = Issue(number="21", issued=date(2026, 12, 4), signer="Trần Thị Bình",
                  recipients=("Hội LHPN & Đoàn TN", "Lưu: VT"), template=EXAMPLE)
    doc = _docx(report_docx(rep, include_sensitive=True, tz=TZ, issue=issue))
    text = "\n".join([p.text for p in doc.paragraphs] + [
        c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert "{{" not in text and "{%" not in text
    for shown in ("XÃ XUÂN TRƯỜNG", "Số: 21/BC-UBND", "Xuân Trường, ngày 04 tháng 12 năm 2026",
                  "Kết quả thực hiện Kế hoạch thực hiện Chương trình hành động quốc gia vì trẻ "
                  "em xã Xuân Trường năm 2026", "- Hội LHPN & Đoàn TN;", "- Lưu: VT.",
                  "Trần Thị Bình", "TM. ỦY BAN NHÂN DÂN"):
        assert shown in text, shown
    # the figures: one table row per indicator, 8.1's result and target as the report writes
    table = doc.tables[1]
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows[1:]}
    assert len(rows) == len(rep.rows)
    assert rows["8.1"][2:4] == ["< 5%", "98,04% (100/102)"]
    assert rows["8.1"][4].startswith("Chưa đủ số liệu")


def test_the_template_names_only_what_the_report_fills_in(session: Session) -> None:
    rep = _filled(session).report()
    assert set(template_context(rep, Issue(), include_sensitive=True)) == REPORT_PLACEHOLDERS


def _commune_file(tmp_path: Path, report: str) -> Path:
    text = (ROOT / "communes" / "002_xuan_truong.yaml").read_text(encoding="utf-8")
    path = tmp_path / "xt.yaml"
    path.write_text(text + "\n" + report, encoding="utf-8")
    return path


def test_setup_checks_the_report_block(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    Document().save(str(bad))
    d = Document(str(bad))
    d.add_paragraph("{{ chu_tich }}")
    d.save(str(bad))
    path = _commune_file(tmp_path, "report:\n  issued: 01/01/2020\n  template: bad.docx\n"
                                   "  signer_name: A\n")
    with pytest.raises(FileInvalid) as exc:
        load_commune(path)
    text = str(exc.value)
    assert "report.signer_name" in text  # a misspelt field is named
    path = _commune_file(tmp_path, "report:\n  issued: 01/01/2020\n  template: bad.docx\n")
    with pytest.raises(FileInvalid) as exc:
        load_commune(path)
    from bot.cli import _problems
    from bot.cli_text import set_language

    set_language("en")
    text = "\n".join(_problems(exc.value))
    assert "the date of issue 01/01/2020 is not in the round's year 2026" in text
    assert "unknown placeholder {{ chu_tich }}" in text
    set_language("vi")
    assert "chỗ điền lạ {{ chu_tich }}" in "\n".join(_problems(exc.value))
    path = _commune_file(tmp_path, "report:\n  template: missing.docx\n")
    with pytest.raises(FileInvalid, match="commune.template_missing"):
        load_commune(path)


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.command("noop")
    def _noop() -> None:
        """Nothing."""

    return a


def test_the_commune_file_and_the_options_sign_the_report(
        app: typer.Typer, db_url: str, engine: Engine, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    monkeypatch.setattr("bot.report_cli._today", lambda: TODAY)
    template = tmp_path / "tinh.docx"
    template.write_bytes(EXAMPLE.read_bytes())
    path = _commune_file(tmp_path, "\n".join([
        "report:", '  number: "88/BC-UBND"', "  signer: Phạm Văn Cường",
        "  recipients: [UBND tỉnh Ninh Bình (để b/c), Lưu VT]", ""]))
    with Session(engine, expire_on_commit=False) as s:
        changes = apply_commune(load_commune(path), session=s)
        s.commit()
        assert any(c.key == "cli.setup.report_changed" for c in changes)
        assert not any(c.key == "cli.setup.report_changed"  # the same file again: no change
                       for c in apply_commune(load_commune(path), session=s))
        unit_id = Commune(s, *_unit(s)).unit.id
        assert report_settings(unit_id, session=s)["signer"] == "Phạm Văn Cường"
        s.commit()
    out = tmp_path / "r.docx"
    res = runner.invoke(app, ["report", "--year", "2026", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = _docx(out.read_bytes())
    _, _, number, when = _header(doc)
    assert number.text == "Số: 88/BC-UBND"
    assert when.text == "Xuân Trường, ngày 03 tháng 12 năm 2026"  # today, where the commune is
    recipients, signer = _signature(doc)
    assert [p.text for p in recipients.paragraphs if p.text][1:] == [
        "- UBND tỉnh Ninh Bình (để b/c);", "- Lưu VT."]
    assert "Phạm Văn Cường" in signer.text
    # the options win over the file
    res = runner.invoke(app, ["report", "--year", "2026", "--out", str(out), "--number", "9",
                              "--issued", "2027-02-01", "--signer", "Lê Thị Dung",
                              "--signer-title", "PHÓ CHỦ TỊCH", "--on-behalf", "KT. CHỦ TỊCH",
                              "--recipient", "Huyện ủy", "--recipient", "Lưu: VT",
                              "--place", "Xã Xuân Trường"])
    assert res.exit_code == 0, res.output
    doc = _docx(out.read_bytes())
    _, _, number, when = _header(doc)
    assert number.text == "Số: 9/BC-UBND"
    assert when.text == "Xã Xuân Trường, ngày 01 tháng 02 năm 2027"
    recipients, signer = _signature(doc)
    assert [p.text for p in recipients.paragraphs if p.text][1:] == ["- Huyện ủy;",
                                                                      "- Lưu: VT."]
    assert [p.text for p in signer.paragraphs if p.text] == ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH",
                                                             "Lê Thị Dung"]
    # a province's template, from the command line
    res = runner.invoke(app, ["report", "--year", "2026", "--out", str(out), "--template",
                              str(template)])
    assert res.exit_code == 0, res.output
    assert "Số: 88/BC-UBND" in Document(str(out)).tables[0].rows[1].cells[0].text
    res = runner.invoke(app, ["report", "--year", "2026", "--out", str(out), "--issued",
                              "31/02/2027"])
    assert res.exit_code == 1 and "Ngày ban hành 31/02/2027 không đúng" in res.output


def _unit(s: Session) -> tuple:
    from storage import repo

    unit = repo.find_unit("xuan-truong", session=s)
    rnd = repo.round_for_year(unit.id, 2026, session=s)
    return unit, rnd.plan_id


def test_the_officers_summary_is_signed_as_the_commune_file_says(engine: Engine,
                                                                  tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot import service
    from storage.kinds import Role
    from tests.harness import invite

    path = _commune_file(tmp_path, "report:\n  number: \"31\"\n  signer: Đỗ Văn Em\n")
    with Session(engine) as s:
        apply_commune(load_commune(path), session=s)
        s.commit()
    env = service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                      now=lambda: datetime(2026, 12, 1, 18, tzinfo=UTC))  # 2 Dec in Vietnam
    hoa = service.TgUser(71_003, "Hoa", language_code="vi")
    service.handle(env, 1, hoa, service.StartCmd(invite(engine, "xuan-truong",
                                                        role=Role.officer)))
    out = service.handle(env, 2, hoa, service.SummaryCmd())
    word = next(f for f in out.files if f.filename.endswith(".docx"))
    doc = _docx(word.content())
    _, _, number, when = _header(doc)
    assert number.text == "Số: 31/BC-UBND"
    assert when.text == "Xuân Trường, ngày 02 tháng 12 năm 2026"
    assert "Đỗ Văn Em" in _signature(doc)[1].text
