"""The Word, Excel and PNG reports, opened again and checked for content and format."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime

import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook
from sqlmodel import Session

from bot.documents import (
    fmt_target,
    fmt_value,
    place_of,
    report_docx,
    report_png,
    report_text,
    report_xlsx,
    vn_number,
    with_unit,
)
from storage.aggregate import (
    CHUA_DU,
    DAT,
    KHONG_DAT,
    CommuneReport,
    build_rollup,
    raw_values,
)
from tests.test_aggregate import HAMLETS, TZ, Commune, _target, row, setup_commune


@pytest.fixture
def filled(session: Session) -> tuple[Commune, CommuneReport]:
    """Xuân Trường with a few figures, one late agency and one hamlet missing."""
    xt = setup_commune(session)
    xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    xt.save("thon-xuan-bac", "8.1", numerator=99, denominator=100)
    xt.save("tram-y-te", "3.1", numerator=1, denominator=208)
    xt.save("tram-y-te", "2", numerator=1234, denominator=1244)
    for h in HAMLETS[:5]:
        xt.save(h, "11.1", numerator=1, denominator=200)
        xt.save(h, "13", value=2)
    xt.save("mam-non", "7", value=1)
    xt.save("tieu-hoc", "7", value=0)
    xt.save("ubnd", "1", value=1)
    xt.save("cong-an", "9", numerator=1, denominator=900)
    xt.submit("cong-an", at=datetime(2026, 11, 12, 2, 0, tzinfo=UTC))
    session.commit()
    return xt, xt.report()


def test_vietnamese_numbers() -> None:
    assert vn_number(1234.5) == "1.234,5"
    assert with_unit(99.2, 100) == "99,2%"
    assert with_unit(4.8, 1000) == "4,8‰"
    assert with_unit(550, 100000) == "550/100.000"


def test_texts(filled: tuple[Commune, CommuneReport]) -> None:
    _, rep = filled
    r = row(rep, "8.1")
    assert fmt_value(r) == "98,04% (100/102)"
    assert fmt_target(r.target, r) == "< 5%"
    assert fmt_target(row(rep, "13").target, row(rep, "13")) == "Giảm 2–3%/năm"
    assert place_of(rep) == "Xuân Trường"
    text = report_text(rep)
    assert "Báo cáo năm 2026 — Xã Xuân Trường" in text
    assert "xâm hại" not in text  # sensitive, left out of the chat by default


def _all_text(doc) -> str:  # noqa: ANN001
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for r in t.rows:
            parts += [c.text for c in r.cells]
    return "\n".join(parts)


def test_word_report_format_and_content(filled: tuple[Commune, CommuneReport]) -> None:
    _, rep = filled
    doc = Document(io.BytesIO(report_docx(rep, place="Xuân Trường", include_sensitive=False,
                                          tz=TZ)))
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)  # A4
    assert 20 <= round(sec.top_margin.mm, 1) <= 25 and 20 <= round(sec.bottom_margin.mm, 1) <= 25
    assert 30 <= round(sec.left_margin.mm, 1) <= 35 and 15 <= round(sec.right_margin.mm, 1) <= 20
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size.pt in (13, 14)
    fonts = normal.element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "Times New Roman"
    body_runs = [r for p in doc.paragraphs for r in p.runs if r.text.strip()]
    assert all(r.font.name == "Times New Roman" for r in body_runs)
    assert all(13 <= r.font.size.pt <= 14 for r in body_runs)

    head = doc.tables[0]
    (left, right), (number, when) = (r.cells for r in head.rows)
    assert "ỦY BAN NHÂN DÂN" in left.text and "XÃ XUÂN TRƯỜNG" in left.text
    assert number.text == "Số: …/BC-UBND"  # no number given: filled in by hand
    motto = [p for p in right.paragraphs if p.text]
    assert motto[0].text == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" and motto[0].runs[0].bold
    assert motto[1].text == "Độc lập - Tự do - Hạnh phúc"
    assert motto[1].runs[0].bold and motto[1].runs[0].underline
    # the date of issue (today, where the commune is), on the number's line
    today = datetime.now(TZ).date()
    month = f"{today.month:02d}" if today.month < 3 else str(today.month)
    assert when.text == f"Xuân Trường, ngày {today.day:02d} tháng {month} năm {today.year}"
    assert when.paragraphs[0].runs[0].italic
    # borderless header table
    assert head._tbl.tblPr.find(qn("w:tblBorders")) is not None

    titles = [p.text for p in doc.paragraphs if p.text]
    assert "BÁO CÁO" in titles
    assert ("Kết quả thực hiện Kế hoạch thực hiện Chương trình hành động quốc gia vì trẻ em "
            "xã Xuân Trường năm 2026") in titles  # the plan's own "đến năm 2030" left out

    table = doc.tables[1]
    assert [c.text for c in table.rows[0].cells] == ["STT", "Chỉ tiêu", "Kế hoạch",
                                                     "Thực hiện", "Năm trước", "Đánh giá"]
    texts = [[c.text for c in r.cells] for r in table.rows]
    assert any(t[0].startswith("Mục tiêu 1.") for t in texts)  # group rows
    r81 = next(t for t in texts if t[0] == "8.1")
    assert r81[2] == "< 5%" and r81[3] == "98,04%\n(100/102)"
    assert r81[5].startswith("Chưa đủ số liệu")
    assert next(t for t in texts if t[0] == "3.1")[3] == "4,81‰\n(1/208)"
    assert next(t for t in texts if t[0] == "2")[3] == "99,2%\n(1.234/1.244)"
    assert next(t for t in texts if t[0] == "11.1")[3].startswith("500/100.000")
    assert not any(t[0] == "9" for t in texts)  # sensitive, left out

    everything = _all_text(doc)
    assert "Số đơn vị đã gửi báo cáo:" in everything
    assert "Công an xã Xuân Trường" in everything  # late, named (not its figure)
    assert "Thôn Xuân Thủy" in everything  # missing, named
    assert "Nơi nhận:" in everything and "TM. ỦY BAN NHÂN DÂN" in everything
    assert "CHỦ TỊCH" in everything
    assert "PHỤ LỤC" in everything
    assert "Tỷ lệ trẻ em bị xâm hại" not in everything


def test_word_report_with_sensitive_indicators(filled: tuple[Commune, CommuneReport]) -> None:
    _, rep = filled
    doc = Document(io.BytesIO(report_docx(rep, include_sensitive=True, tz=TZ)))
    assert "Tỷ lệ trẻ em bị xâm hại" in _all_text(doc)


def test_excel_report(filled: tuple[Commune, CommuneReport], session: Session) -> None:
    _, rep = filled
    wb = load_workbook(io.BytesIO(report_xlsx(rep, raw_values(rep, session=session), tz=TZ)))
    assert wb.sheetnames == ["Tổng hợp", "Theo đơn vị", "Số liệu"]
    ws = wb["Tổng hợp"]
    assert ws.freeze_panes == "D2"
    head = [c.value for c in ws[1]]
    line = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "8.1")
    cells = dict(zip(head, line, strict=True))
    assert cells["Tử số"].value == 100 and cells["Mẫu số"].value == 102
    assert cells["Thực hiện"].data_type == "n"
    assert cells["Thực hiện"].value == pytest.approx(98.0392, abs=1e-4)
    assert cells["Thực hiện"].number_format == "0.00"
    assert cells["Tử số"].number_format == "#,##0"
    assert cells["Mức kế hoạch"].value == 5
    assert ws.column_dimensions["C"].width >= 30

    wu = wb["Theo đơn vị"]
    assert wu.freeze_panes == "C2"
    heads = [c.value for c in wu[1]]
    col = heads.index(next(h for h in heads if h and h.startswith("8.1 ")))
    hamlet = next(r for r in wu.iter_rows(min_row=2) if r[0].value.endswith("thon-xuan-bac"))
    assert hamlet[col].value == pytest.approx(99.0) and hamlet[col].number_format == "0.00"

    wr = wb["Số liệu"]
    assert wr.freeze_panes == "A2"
    assert [c.value for c in wr[1]][:10] == ["year", "unit", "indicator", "numerator",
                                             "denominator", "value", "reported_by",
                                             "reported_at", "state", "source"]
    raw = [[c.value for c in r] for r in wr.iter_rows(min_row=2)]
    first = next(r for r in raw if r[1] == "xuan-truong/thon-hanh-thien" and r[2] == "8.1")
    assert first[:6] == [2026, "xuan-truong/thon-hanh-thien", "8.1", 1, 2, None]
    assert isinstance(first[3], int)
    assert any(r[2] == "7" and r[5] == 1 for r in raw)


def test_png_chart(filled: tuple[Commune, CommuneReport]) -> None:
    _, rep = filled
    png = report_png(rep)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 600 and height > 300


def test_rollup_documents(filled: tuple[Commune, CommuneReport], session: Session) -> None:
    up = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    doc = Document(io.BytesIO(report_docx(up, include_sensitive=True, tz=TZ)))
    text = _all_text(doc)
    assert "TỈNH NINH BÌNH" in text and "Xã Xuân Trường" in text
    wb = load_workbook(io.BytesIO(report_xlsx(up, raw_values(up, session=session), tz=TZ)))
    assert wb["Theo đơn vị"].max_row == 2  # one commune
    assert report_png(up)[:4] == b"\x89PNG"


# ------------------------------------------------------------------ what an officer reads


def test_per_unit_sheet_shows_yes_no_answers_as_words(
        filled: tuple[Commune, CommuneReport], session: Session) -> None:
    """A school's "yes" (share of units) and the commune's "yes" read Có, not 1.00."""
    _, rep = filled
    wb = load_workbook(io.BytesIO(report_xlsx(rep, raw_values(rep, session=session), tz=TZ)))
    wu = wb["Theo đơn vị"]
    heads = [c.value for c in wu[1]]

    def cell(unit: str, code: str):  # noqa: ANN202
        col = heads.index(next(h for h in heads if h and h.startswith(f"{code} ")))
        return next(r for r in wu.iter_rows(min_row=2) if r[0].value.endswith(unit))[col]

    assert (cell("mam-non", "7").value, cell("mam-non", "7").data_type) == ("Có", "s")
    assert (cell("tieu-hoc", "7").value, cell("tieu-hoc", "7").data_type) == ("Không", "s")
    assert cell("ubnd", "1").value == "Có"
    assert cell("thcs", "7").value is None  # not answered: empty
    rate = cell("thon-xuan-bac", "8.1")  # numbers stay numbers
    assert rate.data_type == "n" and rate.value == pytest.approx(99.0)
    count = cell("thon-hanh-thien", "13")
    assert (count.value, count.data_type, count.number_format) == (2, "n", "#,##0")
    # the raw values keep 1/0, which the importer reads back
    raw = [[c.value for c in r] for r in wb["Số liệu"].iter_rows(min_row=2)]
    assert {(r[1].rsplit("/", 1)[1], r[5]) for r in raw if r[2] == "7"} == {
        ("mam-non", 1), ("tieu-hoc", 0)}


def test_rollup_per_commune_sheet_keeps_a_share_as_a_number(
        filled: tuple[Commune, CommuneReport], session: Session) -> None:
    up = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    wu = load_workbook(io.BytesIO(report_xlsx(up, raw_values(up, session=session), tz=TZ)))[
        "Theo đơn vị"]
    heads = [c.value for c in wu[1]]
    line = next(wu.iter_rows(min_row=2))
    share = line[heads.index(next(h for h in heads if h and h.startswith("7 ")))]
    assert share.data_type == "n" and share.value == pytest.approx(100 / 3, abs=1e-3)
    yes = line[heads.index(next(h for h in heads if h and h.startswith("1 ")))]
    assert yes.value == "Có"


def test_rollup_annex_counts_the_indicators_a_commune_did_not_report(
        filled: tuple[Commune, CommuneReport], session: Session) -> None:
    """The commune reported 10 of the plan's indicators: the rest are chưa đủ, as in its
    own report, not left out of the count."""
    _, rep = filled
    own = rep.counts()
    up = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    doc = Document(io.BytesIO(report_docx(up, include_sensitive=True, tz=TZ)))
    annex = doc.tables[-1]
    assert [c.text for c in annex.rows[0].cells] == ["STT", "Địa phương", "Đơn vị đã gửi",
                                                     "Đạt", "Không đạt", "Chưa đủ"]
    line = [c.text for c in annex.rows[1].cells]
    assert line[1] == "Xã Xuân Trường"
    assert line[3:] == [str(own[DAT]), str(own[KHONG_DAT]), str(own[CHUA_DU])]
    assert own[CHUA_DU] >= 20  # most of the plan has no figure yet


@pytest.fixture
def near(session: Session) -> CommuneReport:
    """Results a hair from their targets: 94.996% (≥ 95%), 9.496‰ (< 9.5‰), 15.004%
    (≤ 15%), down 1.996% (giảm 2-3%/năm)."""
    xt = setup_commune(session)
    _target(xt, "2", "at_least", 95)
    _target(xt, "3.2", "below", 9.5)
    xt.save("tram-y-te", "2", numerator=23749, denominator=25000)
    xt.save("tram-y-te", "3.2", numerator=2374, denominator=250000)
    xt.save("tram-y-te", "4.2", numerator=3751, denominator=25000)
    xt.save("tram-y-te", "3.1", numerator=1, denominator=208)  # 4,81‰: 2 decimals enough
    for h in HAMLETS:
        xt.save(h, "13", year=2025, value=2505 if h == HAMLETS[0] else 0)
        xt.save(h, "13", value=2455 if h == HAMLETS[0] else 0)
    session.commit()
    rep = xt.report()
    assert [row(rep, c).verdict for c in ("2", "3.2", "4.2", "13")] == [
        KHONG_DAT, DAT, KHONG_DAT, KHONG_DAT]
    return rep


def test_word_never_shows_a_value_that_reads_as_its_target(near: CommuneReport) -> None:
    doc = Document(io.BytesIO(report_docx(near, include_sensitive=True, tz=TZ)))
    texts = {r.cells[0].text: [c.text for c in r.cells] for r in doc.tables[1].rows}
    assert texts["2"][3].startswith("94,996%") and texts["2"][5] == "Không đạt"
    assert texts["3.2"][3].startswith("9,496‰") and texts["3.2"][5] == "Đạt"
    assert texts["4.2"][3].startswith("15,004%") and texts["4.2"][5] == "Không đạt"
    assert texts["3.1"][3].startswith("4,81‰")  # the usual 2 decimals otherwise
    everything = _all_text(doc)
    assert "giảm 1,996% so với năm 2025" in everything
    assert "94,996%" in everything  # the annex: the health station's own figure
    assert "95%" not in texts["2"][3] and "9,5‰" not in texts["3.2"][3]


def test_excel_shows_enough_decimals_at_the_boundary(near: CommuneReport,
                                                     session: Session) -> None:
    wb = load_workbook(io.BytesIO(report_xlsx(near, raw_values(near, session=session), tz=TZ)))
    ws = wb["Tổng hợp"]
    head = [c.value for c in ws[1]]
    cells = {r[1].value: dict(zip(head, r, strict=True)) for r in ws.iter_rows(min_row=2)}
    for code, value in (("2", 94.996), ("3.2", 9.496), ("4.2", 15.004)):
        c = cells[code]["Thực hiện"]
        assert c.data_type == "n" and c.value == pytest.approx(value, abs=1e-9)
        assert c.number_format == "0.000", code
    assert cells["3.1"]["Thực hiện"].number_format == "0.00"
    wu = wb["Theo đơn vị"]
    heads = [c.value for c in wu[1]]
    station = next(r for r in wu.iter_rows(min_row=2) if r[0].value.endswith("tram-y-te"))
    c = station[heads.index(next(h for h in heads if h and h.startswith("2 ")))]
    assert c.value == pytest.approx(94.996) and c.number_format == "0.000"


def test_chart_and_chat_text_never_read_as_the_target(near: CommuneReport) -> None:
    from bot.documents import chart_label

    assert chart_label(row(near, "2"), "✗ Không đạt").startswith("94,996%  (KH ≥ 95%)")
    assert chart_label(row(near, "3.2"), "✓ Đạt").startswith("9,496‰  (KH < 9,5‰)")
    assert chart_label(row(near, "3.1"), "✓ Đạt").startswith("4,81‰")
    text = report_text(near)
    assert "94,996% (KH ≥ 95%)" in text and "15,004% (KH ≤ 15%)" in text


def test_an_unchanged_count_reads_unchanged(session: Session) -> None:
    from bot.documents import notes_for

    xt = setup_commune(session)
    for h in HAMLETS:
        xt.save(h, "13", year=2025, value=1)
        xt.save(h, "13", value=1)
    session.commit()
    notes = notes_for(row(xt.report(), "13"))
    assert "không đổi so với năm 2025" in notes and not any("giảm 0" in n for n in notes)


def test_a_tasks_note_reaches_the_annex(filled: tuple[Commune, CommuneReport]) -> None:
    """A task's status and its short note (plan 003) both show in the per-unit annex."""
    from dataclasses import replace

    from bot.documents import _unit_cell, _unit_value_text
    from storage.aggregate import UnitValue

    _, rep = filled
    task_row = replace(row(rep, "13"), kind="task")
    v = UnitValue(None, None, None, "done", "Đã tổ chức diễn đàn ngày 1/6", "submitted")
    assert _unit_value_text(task_row, v) == "hoàn thành: Đã tổ chức diễn đàn ngày 1/6"
    assert _unit_cell(task_row, v, False)[0] == "hoàn thành: Đã tổ chức diễn đàn ngày 1/6"


# ------------------------------------------------------------------ in the reader's language


def test_english_numbers_and_words(filled: tuple[Commune, CommuneReport]) -> None:
    from bot.documents import fmt_verdict, notes_for

    _, rep = filled
    assert vn_number(1234.5, lang="en") == "1,234.5"
    assert with_unit(550, 100000, lang="en") == "550/100,000"
    assert with_unit(97.56, 100, lang="vi") == "97,56%"
    assert with_unit(97.56, 100, lang="en") == "97.56%"
    r = row(rep, "8.1")
    assert fmt_value(r, lang="en") == "98.04% (100/102)"
    assert fmt_verdict(r, "en") == "Not enough data (provisionally: not met)"
    assert fmt_verdict(r) == "Chưa đủ số liệu (tạm tính: không đạt)"
    assert fmt_target(row(rep, "13").target, row(rep, "13"), lang="en") == "Down 2–3% a year"
    assert fmt_value(row(rep, "7"), lang="en") == "33.33% (1/3 units)"
    assert notes_for(r, "en")[0].startswith("not enough data — some units have not reported")


def test_english_word_and_excel(filled: tuple[Commune, CommuneReport],
                                session: Session) -> None:
    _, rep = filled
    doc = Document(io.BytesIO(report_docx(rep, include_sensitive=True, tz=TZ, lang="en")))
    texts = {r.cells[0].text: [c.text for c in r.cells] for r in doc.tables[1].rows}
    assert texts["No."] == ["No.", "Indicator", "Target", "Result", "Last year", "Verdict"]
    assert texts["2"][1:] == ["Children up to 8 with access to comprehensive development "
                              "care services\n(Lead: Phòng Văn hoá - Xã hội xã)", "≥ 90%",
                              "99.2%\n(1,234/1,244)", "—", "Met"]
    assert texts["1"][3:] == ["Yes", "—", "Met"]
    everything = _all_text(doc)
    assert "SOCIALIST REPUBLIC OF VIET NAM" in everything and "ANNEX" in everything
    assert "CHAIR" in everything and "Recipients:" in everything
    assert "Công an xã Xuân Trường — sent on 12 Nov 2026 (late)" in everything
    wb = load_workbook(io.BytesIO(report_xlsx(rep, raw_values(rep, session=session), tz=TZ,
                                              lang="en")))
    assert wb.sheetnames == ["Summary", "By unit", "Values"]
    ws = wb["Summary"]
    head = [c.value for c in ws[1]]
    assert head[head.index("Verdict") - 1] == "Last year" and head[-1] == "Notes"
    lines = {r[1].value: dict(zip(head, r, strict=True)) for r in ws.iter_rows(min_row=2)}
    assert lines["11.1"]["Unit of measure"].value == "/100,000"
    assert lines["8.1"]["Verdict"].value == "Not enough data (provisionally: not met)"
    wu = wb["By unit"]
    heads = [c.value for c in wu[1]]
    school = next(r for r in wu.iter_rows(min_row=2) if r[0].value.endswith("mam-non"))
    assert school[heads.index(next(h for h in heads if h.startswith("7 ")))].value == "Yes"
    assert school[3].value == "Yes"  # sent
    assert [c.value for c in wb["Values"][1]][:3] == ["year", "unit", "indicator"]


def test_english_chart_label_and_png(near: CommuneReport) -> None:
    from bot.documents import chart_label

    assert chart_label(row(near, "2"), "✗ Not met", "en").startswith("94.996%  (target ≥ 95%)")
    assert report_png(near, lang="en")[:4] == b"\x89PNG"


def test_documents_show_local_dates(session: Session) -> None:
    """A report sent at 19:30 UTC on 11/11 was sent on 12/11 in Vietnam: the annex and the
    per-unit sheet say so."""
    xt = setup_commune(session)
    xt.save("cong-an", "9", numerator=1, denominator=900)
    xt.submit("cong-an", at=datetime(2026, 11, 11, 19, 30, tzinfo=UTC))
    session.commit()
    rep = xt.report()
    text = _all_text(Document(io.BytesIO(report_docx(rep, include_sensitive=True, tz=TZ))))
    assert "Công an xã Xuân Trường — đã gửi ngày 12/11/2026 (chậm hạn)" in text
    assert "11/11/2026" not in text
    wu = load_workbook(io.BytesIO(report_xlsx(rep, [], tz=TZ)))["Theo đơn vị"]
    police = next(r for r in wu.iter_rows(min_row=2) if r[0].value.endswith("cong-an"))
    assert police[4].value == datetime(2026, 11, 12, 2, 30)
