"""The commune's annual report as documents: Word (Nghị định 30/2020), Excel and a chart.

Everything here renders a ``storage.aggregate.CommuneReport``; nothing touches the database.
Numbers are written the Vietnamese way (decimal comma, thousands dot): 99,2%; 4,8‰;
550/100.000.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH as ALIGN
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from flows import rules
from storage.aggregate import (
    CHUA_DU,
    DAT,
    KHONG_DAT,
    R_BASELINE_YEAR,
    R_MISSING,
    R_NO_DATA,
    R_NO_REFERENCE,
    R_NO_TARGET,
    R_NOT_JUDGED,
    R_NOT_SUBMITTED,
    R_REFERENCE_INCOMPLETE,
    R_ZERO_DENOMINATOR,
    W_AGENCY_OVER_HAMLETS,
    W_SMALL_DENOMINATOR,
    W_ZERO_DENOMINATOR,
    W_ZERO_REFERENCE,
    CommuneReport,
    IndicatorRow,
    RawValue,
    Target,
    UnitRow,
    UnitValue,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FONT = "Times New Roman"
BODY_PT = 13
TITLE_PT = 14
EXCEL_MAX_ROWS = 1_048_575

VERDICT_VI = {DAT: "Đạt", KHONG_DAT: "Không đạt", CHUA_DU: "Chưa đủ số liệu", None: "—"}
REASON_VI = {
    R_NO_DATA: "chưa có đơn vị nào báo cáo",
    R_MISSING: "còn đơn vị chưa báo cáo",
    R_NOT_SUBMITTED: "còn đơn vị chưa gửi báo cáo",
    R_NO_REFERENCE: "năm so sánh không có số liệu",
    R_REFERENCE_INCOMPLETE: "năm so sánh thiếu số liệu của một số đơn vị, chưa so sánh được",
    R_ZERO_DENOMINATOR: "mẫu số bằng 0, không phát sinh",
    R_NO_TARGET: "kế hoạch không ghi chỉ tiêu",
    R_NOT_JUDGED: "không đánh giá (theo dõi)",
    R_BASELINE_YEAR: "năm gốc để so sánh, không đánh giá",
}
WARNING_VI = {
    W_SMALL_DENOMINATOR: "mẫu số nhỏ, tỷ lệ chỉ mang tính tham khảo",
    W_AGENCY_OVER_HAMLETS: "dùng số liệu của cơ quan chuyên môn, không cộng số liệu của thôn",
    W_ZERO_DENOMINATOR: "mẫu số bằng 0",
    W_ZERO_REFERENCE: "năm so sánh bằng 0, không tính được tỷ lệ giảm",
}
TASK_VI = {"not_started": "chưa thực hiện", "in_progress": "đang thực hiện",
           "done": "hoàn thành"}
ADMIN_PREFIXES = ("Thành phố", "Thị trấn", "Thị xã", "Phường", "Huyện", "Tỉnh", "Quận", "Xã")


# ------------------------------------------------------------------ numbers and words


def vn_number(value: float, decimals: int = 2) -> str:
    """A number written the Vietnamese way: 1.234,5."""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale="vi")


def with_unit(value: float, factor: int | None, decimals: int | None = None) -> str:
    """A rate with its sign: 99,2% / 4,8‰ / 550/100.000 (at least ``decimals`` decimals
    when given: see ``shown_decimals``)."""
    least = 1 if factor == 100000 else 2
    d = max(least, decimals or 0)
    if factor == 1000:
        return f"{vn_number(value, d)}‰"
    if factor == 100000:
        return f"{vn_number(value, d)}/100.000"
    return f"{vn_number(value, d)}%"


def _factor(row: IndicatorRow) -> int | None:
    return 100 if row.kind == "share_units" else row.factor


def shown_decimals(row: IndicatorRow, value: float | None) -> int:
    """Decimals a rate or share is written with so that it never contradicts its verdict
    (``flows.rules.shown_decimals``)."""
    return rules.shown_decimals(row.kind, row.target, value)


def fmt_value(row: IndicatorRow, value: float | None = None, *, detail: bool = True,
              sep: str = " ") -> str:
    """The result of an indicator as the report writes it (``sep`` before the counts)."""
    v = row.value if value is None else value
    if row.kind == "task":
        done = row.task_counts.get("done", 0)
        return f"{done}/{row.units_reported} hoàn thành" if row.units_reported else "—"
    if v is None:
        return "—"
    d = shown_decimals(row, v) if value is None else None  # this year's, judged value
    if row.kind == "rate":
        text = with_unit(v, row.factor, d)
        if detail and value is None and row.numerator is not None:
            text += f"{sep}({vn_number(row.numerator, 0)}/{vn_number(row.denominator or 0, 0)})"
        return text
    if row.kind == "share_units":
        text = with_unit(v, 100, d)
        if detail and value is None and row.denominator:
            text += f"{sep}({row.numerator}/{row.denominator} đơn vị)"
        return text
    if row.kind == "yes_no":
        return "Có" if v >= 1 else "Không"
    return vn_number(v, 0) + (f" {row.unit_vi}" if row.unit_vi and detail else "")


def fmt_target(t: Target | None, row: IndicatorRow, *, milestone: bool = True) -> str:
    """A target as the plan states it: ≥ 95%, < 5‰, giảm 2–3%/năm, ... (theo mốc 2030)."""
    if t is None:
        return "—"
    f = _factor(row)

    def num(v: float | None) -> str:
        if v is None:
            return "?"
        return with_unit(v, f) if row.kind in ("rate", "share_units") else vn_number(v, 2)

    d = t.direction
    text = {
        "at_least": lambda: f"≥ {num(t.value)}",
        "at_most": lambda: f"≤ {num(t.value)}",
        "below": lambda: f"< {num(t.value)}",
        "above": lambda: f"> {num(t.value)}",
        "range": lambda: f"{num(t.value)} – {num(t.value_max)}",
        "reduce_per_year": lambda: (
            f"Giảm {vn_number(t.value or 0)}–{vn_number(t.value_max)}%/năm"
            if t.value_max is not None else f"Giảm {vn_number(t.value or 0)}%/năm"),
        "reduce_vs_year": lambda: f"Giảm {vn_number(t.value or 0)}% so với năm {t.ref_year}",
        "yes": lambda: "Đạt chuẩn",
        "maintain": lambda: "Duy trì (không thấp hơn năm trước)",
        "none": lambda: "Theo dõi" + (f" ({t.note})" if t.note else ""),
    }.get(d, lambda: d)()
    if milestone and t.from_next_milestone:
        text += f" (theo mốc {t.milestone_year})"
    return text


def fmt_verdict(row: IndicatorRow) -> str:
    """Đạt / Không đạt / Chưa đủ số liệu, with the provisional result while incomplete."""
    text = VERDICT_VI.get(row.verdict, "—")
    if row.verdict == CHUA_DU and row.provisional_verdict:
        text += f" (tạm tính: {VERDICT_VI[row.provisional_verdict].lower()})"
    if row.verdict is None and row.reason == R_ZERO_DENOMINATOR:
        text = "Không phát sinh"
    if row.verdict is None and row.reason == R_BASELINE_YEAR:
        text = "Năm gốc"
    return text


def fmt_last_year(row: IndicatorRow) -> str:
    """Last year's figure (— when there was none)."""
    return "—" if row.last_year_value is None else fmt_value(row, row.last_year_value,
                                                            detail=False)


def notes_for(row: IndicatorRow) -> list[str]:
    """Why a verdict is missing and what to be careful about, in Vietnamese."""
    out = []
    if row.verdict == CHUA_DU and row.reason:
        text = REASON_VI.get(row.reason, row.reason)
        if row.reason == R_NO_REFERENCE and row.reference_year:
            text = f"năm {row.reference_year} không có số liệu để so sánh"
        if row.reason == R_REFERENCE_INCOMPLETE and row.reference_year:
            text = (f"năm {row.reference_year} chưa đủ số liệu của các đơn vị, "
                    "chưa so sánh được")
        names = row.missing_units if row.reason in (R_MISSING, R_NO_DATA) else (
            row.unsubmitted_units or row.missing_units)
        if names and row.reason not in (R_NO_REFERENCE, R_REFERENCE_INCOMPLETE):
            text += ": " + ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        out.append(f"chưa đủ số liệu — {text}")
    for w in row.warnings:
        text = WARNING_VI.get(w, w)
        if w == W_SMALL_DENOMINATOR and row.denominator is not None:
            text = f"mẫu số nhỏ ({vn_number(row.denominator, 0)}), tỷ suất chỉ mang tính tham khảo"
        out.append(text)
    if row.change_pct is not None and row.reference_year:
        word = "giảm" if row.change_pct >= 0 else "tăng"
        t = row.target
        # down 1.996% against "giảm 2%/năm" is không đạt: never written "giảm 2%"
        d = rules.change_decimals(row.change_pct, t)
        if abs(row.change_pct) < 1e-9:
            out.append(f"không đổi so với năm {row.reference_year}")
        else:
            out.append(f"{word} {vn_number(abs(row.change_pct), max(2, d))}% so với năm "
                       f"{row.reference_year}")
    return out


def place_of(report: CommuneReport) -> str:
    """The place name for the date line: "Xã Xuân Trường" → "Xuân Trường"."""
    name = report.commune.name
    for prefix in ADMIN_PREFIXES:
        if name.startswith(prefix + " "):
            return name[len(prefix) + 1:]
    return name


def _rows(report: CommuneReport, include_sensitive: bool) -> list[IndicatorRow]:
    return [r for r in report.rows if include_sensitive or not r.sensitive]


def _local(dt: datetime | None) -> datetime | None:
    return dt.astimezone(TZ).replace(tzinfo=None) if dt else None


# ------------------------------------------------------------------ Word


class _Word:
    """A python-docx document with the few helpers the report needs."""

    def __init__(self) -> None:
        self.doc = Document()
        sec = self.doc.sections[0]
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
        sec.left_margin, sec.right_margin = Mm(30), Mm(15)
        sec.header_distance = Mm(10)
        normal = self.doc.styles["Normal"]
        normal.font.name, normal.font.size = FONT, Pt(BODY_PT)
        self.set_fonts(normal.element)
        pf = normal.paragraph_format
        pf.space_after, pf.space_before, pf.line_spacing = Pt(0), Pt(0), 1.1
        self.set_fonts(self.doc.styles["Table Grid"].element)

    @staticmethod
    def set_fonts(element: Any) -> None:
        """Times New Roman for every script, east-Asian and complex included."""
        rpr = element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.insert(0, fonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), FONT)

    def run(self, p: Any, text: str, *, bold: bool = False, italic: bool = False,
            underline: bool = False, size: float | None = None) -> Any:
        """A run in Times New Roman."""
        r = p.add_run(text)
        r.bold, r.italic, r.underline = bold or None, italic or None, underline or None
        r.font.name = FONT
        r.font.size = Pt(size or BODY_PT)
        self.set_fonts(r._element)
        return r

    def para(self, text: str = "", *, container: Any = None, bold: bool = False,
             italic: bool = False, underline: bool = False, size: float | None = None,
             align: Any = ALIGN.LEFT, before: float = 0, after: float = 0,
             indent: float | None = None) -> Any:
        """A paragraph (first-line indent in mm)."""
        p = (container or self.doc).add_paragraph()
        p.alignment = align
        pf = p.paragraph_format
        pf.space_before, pf.space_after = Pt(before), Pt(after)
        if indent is not None:
            pf.first_line_indent = Mm(indent)
        if text:
            self.run(p, text, bold=bold, italic=italic, underline=underline, size=size)
        return p

    def body(self, text: str, **kw: Any) -> Any:
        """A justified body paragraph with the usual first-line indent."""
        return self.para(text, align=ALIGN.JUSTIFY, indent=10, **kw)

    def short_line(self, width_mm: float, room_mm: float, container: Any = None) -> None:
        """A centred short rule: a bottom border on an indented empty paragraph."""
        p = (container or self.doc).add_paragraph()
        side = max((room_mm - width_mm) / 2, 0)
        p.paragraph_format.left_indent = p.paragraph_format.right_indent = Mm(side)
        p.paragraph_format.space_after = Pt(2)
        bdr = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for k, v in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"),
                     ("w:color", "000000")):
            bottom.set(qn(k), v)
        bdr.append(bottom)
        p._p.get_or_add_pPr().append(bdr)
        p.add_run("").font.size = Pt(2)

    def table(self, widths_mm: Sequence[float], *, grid: bool = True,
              heads: Sequence[str] = ()) -> Any:
        """A fixed-width table, with a shaded header row repeated on every page."""
        t = self.doc.add_table(rows=1, cols=len(widths_mm))
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        t.autofit = False
        tbl_pr = t._tbl.tblPr
        layout = OxmlElement("w:tblLayout")
        layout.set(qn("w:type"), "fixed")
        tbl_pr.append(layout)
        if grid:
            t.style = "Table Grid"
        else:
            borders = OxmlElement("w:tblBorders")
            for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
                e = OxmlElement(f"w:{edge}")
                e.set(qn("w:val"), "nil")
                borders.append(e)
            tbl_pr.append(borders)
        for col, w in zip(t.columns, widths_mm, strict=True):
            col.width = Mm(w)
        self._widths = list(widths_mm)
        if heads:
            for cell, text in zip(t.rows[0].cells, heads, strict=True):
                self.cell(cell, text, bold=True, align=ALIGN.CENTER)
                shd = OxmlElement("w:shd")
                for k, v in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", "E7E6E6")):
                    shd.set(qn(k), v)
                cell._tc.get_or_add_tcPr().append(shd)
            h = OxmlElement("w:tblHeader")
            h.set(qn("w:val"), "true")
            t.rows[0]._tr.get_or_add_trPr().append(h)
        self.fit(t, widths_mm)
        return t

    @staticmethod
    def fit(t: Any, widths_mm: Sequence[float]) -> None:
        """Set every cell's width (Word reads the cells, LibreOffice the grid)."""
        for row in t.rows:
            for cell, w in zip(row.cells, widths_mm, strict=False):
                cell.width = Mm(w)

    def cell(self, cell: Any, text: str, *, bold: bool = False, italic: bool = False,
             align: Any = ALIGN.LEFT, size: float | None = None) -> None:
        """Write into a cell's first paragraph."""
        p = cell.paragraphs[0]
        p.alignment = align
        self.run(p, text, bold=bold, italic=italic, size=size)

    def row(self, t: Any, texts: Sequence[str], aligns: Sequence[Any], *,
            bold_last: bool = False) -> None:
        """A table row of texts."""
        cells = t.add_row().cells
        for i, (cell, text, al) in enumerate(zip(cells, texts, aligns, strict=True)):
            self.cell(cell, text, align=al, bold=bold_last and i == len(texts) - 1)

    def group_row(self, t: Any, text: str) -> None:
        """A row spanning the whole table (a mục tiêu, a unit)."""
        cells = t.add_row().cells
        self.cell(cells[0].merge(cells[-1]), text, bold=True)

    def page_numbers(self) -> None:
        """Page number at the top centre, from the second page (Nghị định 30)."""
        sec = self.doc.sections[0]
        sec.different_first_page_header_footer = True
        hp = sec.header.paragraphs[0]
        hp.alignment = ALIGN.CENTER
        for kind in ("begin", "instr", "end"):
            r = hp.add_run()
            r.font.size = Pt(BODY_PT)
            if kind == "instr":
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = "PAGE"
            else:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            r._r.append(el)

    def page_break(self) -> None:
        """Start a new page."""
        self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def bytes(self) -> bytes:
        """The .docx file."""
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()


C, L = ALIGN.CENTER, ALIGN.LEFT


def report_docx(report: CommuneReport, *, place: str | None = None,
                include_sensitive: bool) -> bytes:
    """The report as a .docx in the state administrative format (Nghị định 30/2020/NĐ-CP).

    A4, margins 20/20/30/15 mm, Times New Roman 13 pt; header block, title, the indicator
    table by mục tiêu, notes, who reported, "Nơi nhận" and the signature block left for
    the officer, then the annex with per-unit figures. Sensitive indicators only when
    ``include_sensitive``.
    """
    w = _Word()
    w.page_numbers()
    rows = _rows(report, include_sensitive)
    _docx_heading(w, report, place or place_of(report))
    _docx_results(w, report, rows)
    _docx_completeness(w, report)
    _docx_signature(w, report)
    _docx_annex(w, report, rows)
    return w.bytes()


def _docx_heading(w: _Word, report: CommuneReport, place: str) -> None:
    """Issuing body and number | national motto and date; then the title."""
    left, right = 68.0, 97.0
    head = w.table((left, right), grid=False)
    lc, rc = head.rows[0].cells
    lc.paragraphs[0].alignment = C
    w.run(lc.paragraphs[0], "ỦY BAN NHÂN DÂN", bold=True)
    w.para(report.commune.name.upper(), container=lc, bold=True, align=C)
    w.short_line(22, left, lc)
    w.para("Số: …/BC-UBND", container=lc, align=C, before=4)
    rc.paragraphs[0].alignment = C
    w.run(rc.paragraphs[0], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=12)
    w.para("Độc lập - Tự do - Hạnh phúc", container=rc, bold=True, underline=True, align=C)
    w.para(f"{place}, ngày … tháng … năm {report.year}", container=rc, italic=True,
           align=C, before=10)
    w.para("BÁO CÁO", bold=True, size=TITLE_PT, align=C, before=18)
    w.para(f"Kết quả thực hiện {_lower_first(report.plan.name_vi)} năm {report.year}",
           bold=True, size=TITLE_PT, align=C)
    w.short_line(30, 165)


def _docx_results(w: _Word, report: CommuneReport, rows: list[IndicatorRow]) -> None:
    """Section I: the indicator table grouped by mục tiêu, and the notes."""
    w.body(f"Căn cứ {report.plan.name_vi}; căn cứ số liệu do các đơn vị báo cáo, Ủy ban nhân "
           f"dân {_lower_first(report.commune.name)} báo cáo kết quả thực hiện các chỉ tiêu "
           f"năm {report.year} như sau:", before=12, after=6)
    w.para("I. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU", bold=True, before=6, after=4)
    counts = {DAT: 0, KHONG_DAT: 0, CHUA_DU: 0, None: 0}
    for r in rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    judged = len(rows) - counts[None]
    tail = (f"; {counts[None]} chỉ tiêu theo dõi, không đánh giá." if counts[None] else ".")
    w.body(f"Trong {judged} chỉ tiêu được đánh giá: {counts[DAT]} chỉ tiêu đạt, "
           f"{counts[KHONG_DAT]} chỉ tiêu không đạt, {counts[CHUA_DU]} chỉ tiêu chưa đủ số "
           f"liệu{tail}", after=4)
    if any(r.target and r.target.from_next_milestone for r in rows):
        w.body("Năm không phải năm mốc của kế hoạch được đánh giá theo chỉ tiêu của mốc kế "
               "tiếp (ghi “theo mốc …”).", italic=True, after=4)
    t = w.table((13.5, 51.5, 27.0, 32.0, 20.0, 21.0),
                heads=("STT", "Chỉ tiêu", "Kế hoạch", "Thực hiện", "Năm trước", "Đánh giá"))
    goal = None
    for r in rows:
        if r.goal_code != goal:
            goal = r.goal_code
            w.group_row(t, f"Mục tiêu {r.goal_code}. {r.goal_title_vi}")
        w.row(t, (r.code, r.name_vi, fmt_target(r.target, r), fmt_value(r, sep="\n"),
                  fmt_last_year(r), fmt_verdict(r)), (C, L, C, C, C, C),
              bold_last=r.verdict == KHONG_DAT)
    w.fit(t, w._widths)
    noted = [(r, n) for r in rows if (n := notes_for(r))]
    if noted:
        w.para("Ghi chú:", bold=True, italic=True, before=6)
        for r, n in noted:
            w.body(f"- Chỉ tiêu {r.code}: " + "; ".join(n) + ".")


def _docx_completeness(w: _Word, report: CommuneReport) -> None:
    """Section II: units reported / expected, late and missing ones by name."""
    c = report.completeness
    w.para("II. TÌNH HÌNH BÁO CÁO CỦA CÁC ĐƠN VỊ", bold=True, before=10, after=4)
    deadline = f"; hạn gửi {report.round.unit_deadline:%d/%m/%Y}" if report.round else ""
    w.body(f"Số đơn vị đã gửi báo cáo: {c.units_submitted}/{c.units_expected} "
           f"({c.units_on_time} đúng hạn, {c.units_late} chậm hạn{deadline}).")
    label = "địa phương" if report.rollup else "đơn vị"
    if c.late_units:
        w.body(f"- Các {label} gửi chậm: {', '.join(c.late_units)}.")
    if c.missing_units:
        w.body(f"- Các {label} chưa gửi: {', '.join(c.missing_units)}.")
    if not c.late_units and not c.missing_units:
        w.body("- Tất cả các đơn vị đã gửi báo cáo đúng hạn.")


def _docx_signature(w: _Word, report: CommuneReport) -> None:
    """"Nơi nhận" on the left, the signature block on the right (left blank to sign)."""
    t = w.table((80.0, 85.0), grid=False)
    nl, sr = t.rows[0].cells
    p = nl.paragraphs[0]
    p.paragraph_format.space_before = Pt(12)
    w.run(p, "Nơi nhận:", bold=True, italic=True, size=12)
    upper = f"UBND {_lower_first(report.parent.name)}" if report.parent else "Cấp trên"
    for line in (f"- {upper} (để b/c);", "- Chủ tịch, các PCT UBND;",
                 "- Các ban, ngành, đoàn thể;", "- Lưu: VT, VHXH."):
        w.para(line, container=nl, size=11)
    p = sr.paragraphs[0]
    p.alignment = C
    p.paragraph_format.space_before = Pt(12)
    w.run(p, "TM. ỦY BAN NHÂN DÂN", bold=True)
    w.para("CHỦ TỊCH", container=sr, bold=True, align=C)
    for _ in range(6):  # room for the signature, the seal and the name
        w.para("", container=sr, align=C)


def _docx_annex(w: _Word, report: CommuneReport, rows: list[IndicatorRow]) -> None:
    """Phụ lục: each unit's figures (each commune's results for a roll-up)."""
    w.page_break()
    w.para("PHỤ LỤC", bold=True, size=TITLE_PT, align=C)
    w.para("Số liệu chi tiết theo " + ("địa phương" if report.rollup else "đơn vị"),
           bold=True, align=C)
    w.para(f"(Kèm theo Báo cáo số …/BC-UBND ngày … tháng … năm {report.year} của Ủy ban "
           f"nhân dân {_lower_first(report.commune.name)})", italic=True, align=C, after=8)
    codes = {r.code for r in rows}
    by_code = {r.code: r for r in rows}
    if report.rollup:
        t = w.table((12.0, 63.0, 27.0, 20.0, 22.0, 21.0),
                    heads=("STT", "Địa phương", "Đơn vị đã gửi", "Đạt", "Không đạt",
                           "Chưa đủ"))
        for n, u in enumerate(report.units, start=1):
            vs = [v.verdict for k, v in u.values.items() if k in codes]
            w.row(t, (str(n), u.name, f"{u.units_submitted}/{u.units_expected}",
                      str(vs.count(DAT)), str(vs.count(KHONG_DAT)), str(vs.count(CHUA_DU))),
                  (C, L, C, C, C, C))
    else:
        t = w.table((14.0, 86.0, 38.0, 27.0),
                    heads=("STT", "Chỉ tiêu", "Số liệu", "Trạng thái"))
        for n, u in enumerate(report.units, start=1):
            w.group_row(t, f"{n}. {u.name} — {_unit_status(u)}")
            for code in u.expected:
                if code in codes:
                    v = u.values.get(code)
                    w.row(t, (code, by_code[code].name_vi, _unit_value_text(by_code[code], v),
                              _state_text(v)), (C, L, C, C))
    w.fit(t, w._widths)


def _unit_status(u: UnitRow) -> str:
    if not u.submitted:
        return "chưa gửi báo cáo"
    at = _local(u.submitted_at)
    when = f" ngày {at:%d/%m/%Y}" if at else ""
    return f"đã gửi{when}" + (" (đúng hạn)" if u.on_time else " (chậm hạn)")


def _unit_value_text(row: IndicatorRow, v: UnitValue | None) -> str:
    """One unit's value: 1/2 (50%) for a rate, Có/Không, a count, a task status."""
    if v is None:
        return "—"
    if row.kind == "rate":
        if v.numerator is None or v.denominator is None:
            return "—"
        rate = (f" ({with_unit(v.value, row.factor, shown_decimals(row, v.value))})"
                if v.value is not None else "")
        return f"{vn_number(v.numerator, 0)}/{vn_number(v.denominator, 0)}{rate}"
    if row.kind in ("share_units", "yes_no"):
        return "—" if v.value is None else ("Có" if v.value >= 0.5 else "Không")
    if row.kind == "task":
        status = TASK_VI.get(v.task_status or "", "—")
        return f"{status}: {v.text}" if v.text else status
    return "—" if v.value is None else vn_number(v.value, 0)


def _state_text(v: UnitValue | None) -> str:
    if v is None:
        return "chưa báo cáo"
    return {"submitted": "đã gửi", "draft": "chưa gửi"}.get(v.state or "", "")


# ------------------------------------------------------------------ Excel


def _excel_format(row: IndicatorRow, decimals: int = 0) -> str:
    """The number format; a rate gets more decimals when it must not read as its target."""
    if row.kind in ("rate", "share_units"):
        d = max(1 if row.factor == 100000 else 2, decimals)
        return "0." + "0" * d
    if row.kind == "yes_no":
        return '"Có";"Có";"Không"'
    return "#,##0"


def _excel_value(row: IndicatorRow, v: float | None) -> float | int | None:
    if v is None:
        return None
    if row.kind in ("count", "change", "yes_no"):
        return int(round(v))
    return round(v, max(4, shown_decimals(row, v)))


def _unit_cell(row: IndicatorRow, v: UnitValue | None, rollup: bool) -> tuple[Any, str]:
    """A unit's (a commune's) value on "Theo đơn vị" and its number format.

    A unit's yes/no answer (a share of units, a yes/no indicator) is the text Có / Không,
    not 1.00; in a roll-up a commune's share of units is a percentage, a number.
    """
    if row.kind == "task":
        if v is None:
            return None, "General"
        status = TASK_VI.get(v.task_status or "")
        return (f"{status}: {v.text}" if v.text and status else status), "General"
    value = v.value if v else None
    if row.kind == "yes_no" or (row.kind == "share_units" and not rollup):
        if value is None:
            return None, "General"
        return ("Có" if value >= 0.5 else "Không"), "General"
    return _excel_value(row, value), _excel_format(row, shown_decimals(row, value))


def _target_number(t: Target | None) -> float | None:
    return None if t is None else t.value


def report_xlsx(report: CommuneReport, raw_rows: Sequence[RawValue],
                *, include_sensitive: bool = True) -> bytes:
    """The report as an .xlsx: "Tổng hợp", "Theo đơn vị" and "Số liệu" (numbers as numbers)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    if len(raw_rows) >= EXCEL_MAX_ROWS:
        raise ValueError(f"{len(raw_rows)} raw values do not fit in one sheet")
    rows = _rows(report, include_sensitive)
    codes = {r.code for r in rows}
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E7E6E6")
    wrap = Alignment(wrap_text=True, vertical="top")

    def header(ws, names: Sequence[str], widths_: Sequence[float], freeze: str) -> None:
        ws.append(list(names))
        for i, (cell, w) in enumerate(zip(ws[1], widths_, strict=True), start=1):
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = freeze

    wb = Workbook()
    ws = wb.active
    ws.title = "Tổng hợp"
    header(ws, ("Mục tiêu", "Mã", "Chỉ tiêu", "Đơn vị tính", "Tử số", "Mẫu số", "Thực hiện",
                "Kế hoạch", "Mức kế hoạch", "Mốc", "Năm trước", "Đánh giá",
                "Đơn vị đã báo cáo", "Đơn vị phải báo cáo", "Đúng hạn", "Chậm hạn", "Ghi chú"),
           (9, 7, 48, 11, 10, 11, 11, 22, 11, 7, 11, 22, 11, 11, 9, 9, 50), "D2")
    for r in rows:
        unit = {100: "%", 1000: "‰", 100000: "/100.000"}.get(_factor(r) or 0, "") \
            if r.kind in ("rate", "share_units") else (r.unit_vi or "")
        ws.append([
            r.goal_code, r.code, r.name_vi, unit, r.numerator, r.denominator,
            _excel_value(r, r.value), fmt_target(r.target, r, milestone=False),
            _target_number(r.target), r.target.milestone_year if r.target else None,
            _excel_value(r, r.last_year_value), fmt_verdict(r), r.units_reported,
            r.units_expected, r.units_on_time, r.units_late, "; ".join(notes_for(r)),
        ])
        line = ws[ws.max_row]
        for idx in (5, 6, 13, 14, 15, 16):
            line[idx - 1].number_format = "#,##0"
        line[6].number_format = _excel_format(r, shown_decimals(r, r.value))
        line[10].number_format = _excel_format(r)
        line[8].number_format = "0.00"
        line[9].number_format = "0"
        line[2].alignment = line[16].alignment = wrap

    wu = wb.create_sheet("Theo đơn vị")
    unit_names = ("Mã đơn vị", "Đơn vị", "Loại", "Đã gửi", "Ngày gửi", "Đúng hạn")
    ind_heads = [f"{r.code} {r.name_vi}" for r in rows]
    header(wu, (*unit_names, *ind_heads), (22, 30, 14, 8, 16, 9, *([14] * len(rows))), "C2")
    wu.row_dimensions[1].height = 90
    for u in report.units:
        line = [u.code, u.name, u.kind, "Có" if u.submitted else "Chưa",
                _local(u.submitted_at), None if u.on_time is None else
                ("Có" if u.on_time else "Không")]
        shown = [_unit_cell(r, u.values.get(r.code), report.rollup) for r in rows]
        wu.append(line + [value for value, _ in shown])
        cells = wu[wu.max_row]
        cells[4].number_format = "dd/mm/yyyy hh:mm"
        for i, (_, number_format) in enumerate(shown, start=len(unit_names)):
            cells[i].number_format = number_format

    wr = wb.create_sheet("Số liệu")
    header(wr, ("year", "unit", "indicator", "numerator", "denominator", "value",
                "reported_by", "reported_at", "state", "source", "text"),
           (7, 34, 10, 12, 12, 10, 22, 17, 10, 9, 30), "A2")
    for v in raw_rows:
        if v.indicator not in codes and not include_sensitive:
            continue
        wr.append([v.year, v.unit, v.indicator, v.numerator, v.denominator, v.value,
                   v.reported_by, _local(v.reported_at), v.state, v.source, v.text])
    for row in wr.iter_rows(min_row=2, min_col=4, max_col=8):
        row[0].number_format = row[1].number_format = "#,##0"
        row[2].number_format = "0.##"
        row[4].number_format = "dd/mm/yyyy hh:mm"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ------------------------------------------------------------------ chart


def _chartable(rows: Iterable[IndicatorRow]) -> list[IndicatorRow]:
    return [r for r in rows if r.kind in ("rate", "share_units") and r.value is not None
            and r.target is not None and r.target.value is not None
            and r.target.direction in ("at_least", "at_most", "below", "above", "range")]


def chart_label(row: IndicatorRow, verdict_label: str) -> str:
    """The text beside a bar: the result (never reading as the target when the verdict
    differs), the target and the verdict."""
    assert row.value is not None
    goal = fmt_target(row.target, row, milestone=False)
    value = with_unit(row.value, _factor(row), shown_decimals(row, row.value))
    return f"{value}  (KH {goal})  {verdict_label}"


def report_png(report: CommuneReport, *, include_sensitive: bool = True) -> bytes:
    """Result against target per numeric indicator, as a PNG.

    Each row has its own scale (its bar ends at the result, the black diamond marks the
    target). Đạt, không đạt and chưa đủ differ by colour, hatching and a written label.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = _chartable(_rows(report, include_sensitive))
    styles = {DAT: ("#2e7d32", "", "✓ Đạt"), KHONG_DAT: ("#c62828", "///", "✗ Không đạt"),
              CHUA_DU: ("#9e9e9e", "..", "? Chưa đủ số liệu"), None: ("#9e9e9e", "..", "—")}
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.42 * n), dpi=110)
    plt.rcParams["font.family"] = "DejaVu Sans"
    for y, r in enumerate(rows):
        t = r.target
        assert t is not None and t.value is not None and r.value is not None
        top = max(r.value, t.value_max or t.value, 1e-9) * 1.15
        color, hatch, label = styles.get(r.verdict, styles[None])
        ax.barh(y, r.value / top, color=color, hatch=hatch, edgecolor="black",
                linewidth=0.6, height=0.6)
        ax.plot([t.value / top], [y], marker="D", color="black", markersize=7)
        ax.vlines(t.value / top, y - 0.38, y + 0.38, colors="black", linewidth=1.5)
        ax.text(1.02, y, chart_label(r, label), va="center", fontsize=9)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(f"{r.code}. {r.name_vi}", 52) for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{report.commune.name} — kết quả năm {report.year} so với kế hoạch",
                 fontsize=12, loc="left")
    if not rows:
        ax.text(0.5, 0.5, "Chưa có chỉ tiêu nào có số liệu", ha="center", va="center")
    handles = [Patch(facecolor=styles[k][0], hatch=styles[k][1], edgecolor="black",
                     label=styles[k][2]) for k in (DAT, KHONG_DAT, CHUA_DU)]
    handles.append(plt.Line2D([], [], marker="D", color="black", linestyle="None",
                              label="Kế hoạch (mức chỉ tiêu)"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4,
              fontsize=9, frameon=False)
    fig.subplots_adjust(left=0.33, right=0.62, top=1 - 0.55 / (1.2 + 0.42 * n),
                        bottom=0.7 / (1.2 + 0.42 * n))
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# ------------------------------------------------------------------ chat


def report_text(report: CommuneReport, *, include_sensitive: bool = False,
                max_lines: int = 30) -> str:
    """A short Vietnamese summary for the chat (/summary): counts, then what needs care."""
    rows = _rows(report, include_sensitive)
    c = report.completeness
    counts = {DAT: 0, KHONG_DAT: 0, CHUA_DU: 0}
    for r in rows:
        if r.verdict in counts:
            counts[r.verdict] += 1
    lines = [f"Báo cáo năm {report.year} — {report.commune.name}",
             f"Đơn vị đã gửi: {c.units_submitted}/{c.units_expected} "
             f"({c.units_on_time} đúng hạn, {c.units_late} chậm)",
             f"Đạt {counts[DAT]} · Không đạt {counts[KHONG_DAT]} · "
             f"Chưa đủ số liệu {counts[CHUA_DU]}"]
    for verdict, title in ((KHONG_DAT, "Không đạt:"), (CHUA_DU, "Chưa đủ số liệu:")):
        chosen = [r for r in rows if r.verdict == verdict]
        if chosen:
            lines.append(title)
            lines += [f"• {r.code} {_short(r.name_vi, 60)}: {fmt_value(r, detail=False)} "
                      f"(KH {fmt_target(r.target, r)})" for r in chosen]
    if c.missing_units:
        lines.append("Chưa gửi: " + ", ".join(c.missing_units))
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + ["…"]
    return "\n".join(lines)
