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
from storage.aggregate import CommuneReport, build_rollup, raw_values
from tests.test_aggregate import HAMLETS, Commune, row, setup_commune


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
    doc = Document(io.BytesIO(report_docx(rep, place="Xuân Trường", include_sensitive=False)))
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
    left, right = head.rows[0].cells
    assert "ỦY BAN NHÂN DÂN" in left.text and "XÃ XUÂN TRƯỜNG" in left.text
    assert "Số: …/BC-UBND" in left.text
    motto = [p for p in right.paragraphs if p.text]
    assert motto[0].text == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" and motto[0].runs[0].bold
    assert motto[1].text == "Độc lập - Tự do - Hạnh phúc"
    assert motto[1].runs[0].bold and motto[1].runs[0].underline
    assert motto[2].text == "Xuân Trường, ngày … tháng … năm 2026" and motto[2].runs[0].italic
    # borderless header table
    assert head._tbl.tblPr.find(qn("w:tblBorders")) is not None

    titles = [p.text for p in doc.paragraphs if p.text]
    assert "BÁO CÁO" in titles
    assert any(t.startswith("Kết quả thực hiện kế hoạch") and t.endswith("năm 2026")
               for t in titles)

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
    doc = Document(io.BytesIO(report_docx(rep, include_sensitive=True)))
    assert "Tỷ lệ trẻ em bị xâm hại" in _all_text(doc)


def test_excel_report(filled: tuple[Commune, CommuneReport], session: Session) -> None:
    _, rep = filled
    wb = load_workbook(io.BytesIO(report_xlsx(rep, raw_values(rep, session=session))))
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
    up = build_rollup("ninh-binh", 2026, session=session)
    doc = Document(io.BytesIO(report_docx(up, include_sensitive=True)))
    text = _all_text(doc)
    assert "TỈNH NINH BÌNH" in text and "Xã Xuân Trường" in text
    wb = load_workbook(io.BytesIO(report_xlsx(up, raw_values(up, session=session))))
    assert wb["Theo đơn vị"].max_row == 2  # one commune
    assert report_png(up)[:4] == b"\x89PNG"
