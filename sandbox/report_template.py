"""Write docs/report-template-example.docx: a province's own Word layout for the report,
with the placeholders ``ctvbot report --template`` fills in (docs/report.md lists them).

    uv run python -m sandbox.report_template [OUT.docx]

A province copies the file, changes the wording and the layout in Word, and keeps the
placeholders between ``{{ }}`` (and the ``{%tr %}`` / ``{%p %}`` lines that repeat a table
row or a paragraph).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

FONT = "Times New Roman"
OUT = Path(__file__).resolve().parent.parent / "docs" / "report-template-example.docx"


def _font(element: Any) -> None:
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _para(container: Any, text: str, *, bold: bool = False, italic: bool = False,
          center: bool = False, size: float = 13, after: float = 6) -> Any:
    p = container.add_paragraph() if container is not None else None
    assert p is not None
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.space_after = Pt(after)
    r = p.add_run(text)
    r.bold, r.italic = bold or None, italic or None
    r.font.size = Pt(size)
    _font(r._element)
    return p


def _no_borders(table: Any) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        e = OxmlElement(f"w:{edge}")
        e.set(qn("w:val"), "nil")
        borders.append(e)
    table._tbl.tblPr.append(borders)


def _cell(cell: Any, text: str, **kw: Any) -> None:
    cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)
    _para(cell, text, after=0, **kw)


def build(out: Path = OUT) -> Path:
    """Write the example template and return its path."""
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
    sec.left_margin, sec.right_margin = Mm(30), Mm(15)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(13)
    _font(normal.element)

    head = doc.add_table(rows=2, cols=2)
    _no_borders(head)
    (lc, rc), (nc, dc) = (r.cells for r in head.rows)
    _cell(lc, "{{ committee }}", bold=True, center=True)
    _para(lc, "{{ commune_upper }}", bold=True, center=True, after=0)
    _cell(rc, "{{ nation }}", bold=True, center=True)
    _para(rc, "{{ motto }}", bold=True, center=True, size=14, after=0)
    _cell(nc, "{{ number_line }}", center=True)
    _cell(dc, "{{ date_line }}", italic=True, center=True, size=14)

    _para(doc, "{{ report_title }}", bold=True, center=True, size=14, after=0)
    _para(doc, "{{ title }}", bold=True, center=True, size=14, after=12)
    _para(doc, "{{ commune }} báo cáo kết quả năm {{ year }} thực hiện {{ plan }} như sau:")
    _para(doc, "Trong {{ judged }} chỉ tiêu có đánh giá: {{ dat }} đạt, {{ khong_dat }} không "
               "đạt, {{ chua_du }} chưa đủ số liệu. Đã nhận báo cáo của {{ units_submitted }}"
               "/{{ units_expected }} đơn vị.")

    heads = ("Mã", "Chỉ tiêu", "Kế hoạch", "Thực hiện", "Đánh giá")
    t = doc.add_table(rows=4, cols=len(heads))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(t.rows[0].cells, heads, strict=True):
        _cell(cell, text, bold=True, center=True)
    _cell(t.rows[1].cells[0], "{%tr for r in rows %}")
    for cell, text in zip(t.rows[2].cells, ("{{ r.code }}", "{{ r.name }}", "{{ r.target }}",
                                            "{{ r.result }}", "{{ r.verdict }}"), strict=True):
        _cell(cell, text)
    _cell(t.rows[3].cells[0], "{%tr endfor %}")
    for row in t.rows:
        for cell, w in zip(row.cells, (14, 66, 30, 30, 25), strict=True):
            cell.width = Mm(w)

    _para(doc, "")
    sign = doc.add_table(rows=1, cols=2)
    _no_borders(sign)
    nl, sr = sign.rows[0].cells
    _cell(nl, "{{ recipients_title }}", bold=True, italic=True, size=12)
    _para(nl, "{%p for line in recipients %}", after=0)
    _para(nl, "{{ line }}", size=11, after=0)
    _para(nl, "{%p endfor %}", after=0)
    _cell(sr, "{{ on_behalf }}", bold=True, center=True)
    _para(sr, "{{ signer_title }}", bold=True, center=True, after=60)
    _para(sr, "{{ signer }}", bold=True, center=True, size=14, after=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


if __name__ == "__main__":  # pragma: no cover
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
