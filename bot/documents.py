"""The commune's annual report as documents: Word (Nghị định 30/2020), Excel and a chart.

Everything here renders a ``storage.aggregate.CommuneReport``; nothing touches the database.
Every word comes from the catalogs in the reader's language (``lang``, Vietnamese by
default) and numbers follow its conventions: 99,2%; 4,8‰; 550/100.000 in Vietnamese,
99.2%; 550/100,000 in English. python-docx, openpyxl and matplotlib are imported when a
document is first made, never when the bot starts.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from bot.cells import append_row
from bot.i18n import DEFAULT_LANGUAGE, fmt_number, text_of
from flows import rules
from flows.rules import OFF_PATH, ON_PATH, P_NO_REFERENCE, path_bound, written_decimals
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

FONT = "Times New Roman"
BODY_PT = 13
TITLE_PT = 14
GAP_PT = 6  # at least this much between two paragraphs of the text (Nghị định 30/2020)
EXCEL_MAX_ROWS = 1_048_575
VI = DEFAULT_LANGUAGE


def N_(key: str) -> str:
    """Mark a catalog key written outside a call (the i18n test collects them)."""
    return key


VERDICT_KEYS = {DAT: N_("doc.verdict.dat"), KHONG_DAT: N_("doc.verdict.khong_dat"),
                CHUA_DU: N_("doc.verdict.chua_du")}
REASON_KEYS = {
    R_NO_DATA: N_("doc.reason.no_data"),
    R_MISSING: N_("doc.reason.missing_units"),
    R_NOT_SUBMITTED: N_("doc.reason.not_submitted"),
    R_NO_REFERENCE: N_("doc.reason.no_reference_data"),
    R_REFERENCE_INCOMPLETE: N_("doc.reason.reference_incomplete"),
    R_ZERO_DENOMINATOR: N_("doc.reason.zero_denominator"),
    R_NO_TARGET: N_("doc.reason.no_target"),
    R_NOT_JUDGED: N_("doc.reason.not_judged"),
    R_BASELINE_YEAR: N_("doc.reason.baseline_year"),
}
WARNING_KEYS = {
    W_SMALL_DENOMINATOR: N_("doc.warning.small_denominator"),
    W_AGENCY_OVER_HAMLETS: N_("doc.warning.agency_over_hamlets"),
    W_ZERO_DENOMINATOR: N_("doc.warning.zero_denominator"),
    W_ZERO_REFERENCE: N_("doc.warning.zero_reference"),
}
ROLE_KEYS = {"lead": N_("doc.role.lead"), "implement": N_("doc.role.implement"),
             "coordinate": N_("doc.role.coordinate")}
PATH_KEYS = {ON_PATH: N_("doc.verdict.on_path"), OFF_PATH: N_("doc.verdict.off_path")}
PROJECTION_KEYS = {DAT: N_("doc.note.projection_dat"),
                   KHONG_DAT: N_("doc.note.projection_khong_dat"),
                   None: N_("doc.note.projection")}
TASK_KEYS = {"not_started": N_("doc.task.not_started"), "in_progress": N_("doc.task.in_progress"),
             "done": N_("doc.task.done")}
# unit kinds as words: a file an officer opens never shows ``hamlet`` or ``health_station``
KIND_KEYS = {
    "province": N_("kind.province"),
    "city": N_("kind.city"),
    "district": N_("kind.district"),
    "commune": N_("kind.commune"),
    "hamlet": N_("kind.hamlet"),
    "health_station": N_("kind.health_station"),
    "preschool": N_("kind.preschool"),
    "primary_school": N_("kind.primary_school"),
    "secondary_school": N_("kind.secondary_school"),
    "police": N_("kind.police"),
    "justice": N_("kind.justice"),
    "culture": N_("kind.culture"),
    "commune_office": N_("kind.commune_office"),
    "mass_org": N_("kind.mass_org"),
    "labour_dept": N_("kind.labour_dept"),
    "health_dept": N_("kind.health_dept"),
    "education_dept": N_("kind.education_dept"),
    "culture_dept": N_("kind.culture_dept"),
    "justice_dept": N_("kind.justice_dept"),
    "other_agency": N_("kind.other_agency"),
}
ADMIN_PREFIXES = ("Thành phố", "Thị trấn", "Thị xã", "Phường", "Huyện", "Tỉnh", "Quận", "Xã")


@dataclass(frozen=True)
class Issue:
    """How the Word report is issued and signed: from the commune file's ``report:`` block
    or ``ctvbot report`` options; what is left out takes its default (number left to fill
    in by hand, today's date, the commune's name as the place, "TM. ỦY BAN NHÂN DÂN" /
    "CHỦ TỊCH", the usual recipients, no name under the signature)."""

    number: str | None = None  # "15" or "15/BC-UBND"
    issued: date | None = None  # the date of issue (default: today in the commune's zone)
    place: str | None = None  # the place on the date line (default: ``place_of``)
    signer: str | None = None  # the signer's name, under the signature
    signer_title: str | None = None  # "CHỦ TỊCH", "PHÓ CHỦ TỊCH"
    on_behalf: str | None = None  # "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH"
    recipients: tuple[str, ...] = field(default_factory=tuple)  # "Nơi nhận", one a line
    template: Path | None = None  # a province's own .docx template (docxtpl placeholders)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Issue:
        """The commune file's ``report:`` block as setup stored it."""
        issued = settings.get("issued")
        template = settings.get("template")
        return cls(number=settings.get("number"), place=settings.get("place"),
                   issued=date.fromisoformat(issued) if issued else None,
                   signer=settings.get("signer"), signer_title=settings.get("signer_title"),
                   on_behalf=settings.get("on_behalf"),
                   recipients=tuple(settings.get("recipients") or ()),
                   template=Path(template) if template else None)

    def merged(self, over: Issue) -> Issue:
        """This issue with every field ``over`` gives replaced (options over the file)."""
        return Issue(**{k: (getattr(over, k) if getattr(over, k) not in (None, ())
                            else getattr(self, k)) for k in self.__dataclass_fields__})


# ------------------------------------------------------------------ numbers and words


def tr(key: str, lang: str, **params: Any) -> str:
    """A catalog sentence in ``lang`` with its named parameters filled in."""
    text = text_of(key, lang)
    return text.format(**params) if params else text


def vn_number(value: float, decimals: int = 2, lang: str = VI) -> str:
    """A number with the language's separators: 1.234,5 (vi), 1,234.5 (en)."""
    return fmt_number(value, lang, decimals)


def with_unit(value: float, factor: int | None, decimals: int | None = None,
              lang: str = VI) -> str:
    """A rate with its sign: 99,2% / 4,8‰ / 550/100.000 (at least ``decimals`` decimals
    when given: see ``shown_decimals``)."""
    least = 1 if factor == 100000 else 2
    d = max(least, decimals or 0)
    if factor == 1000:
        return f"{vn_number(value, d, lang)}‰"
    if factor == 100000:
        return f"{vn_number(value, d, lang)}/{vn_number(100000, 0, lang)}"
    return f"{vn_number(value, d, lang)}%"


def _factor(row: IndicatorRow) -> int | None:
    return 100 if row.kind == "share_units" else row.factor


def _name(row: IndicatorRow, lang: str) -> str:
    return (row.name_en if lang == "en" else None) or row.name_vi


def _goal_title(row: IndicatorRow, lang: str) -> str:
    return (row.goal_title_en if lang == "en" else None) or row.goal_title_vi


def _unit_word(row: IndicatorRow, lang: str) -> str | None:
    return (row.unit_en if lang == "en" else None) or row.unit_vi


def _plan_name(report: CommuneReport, lang: str) -> str:
    return (report.plan.name_en if lang == "en" else None) or report.plan.name_vi


def _in_sentence(name: str, lang: str) -> str:
    """A name inside a Vietnamese sentence starts in lower case (xã Xuân Trường)."""
    return _lower_first(name) if lang == VI else name


def kind_word(kind: str, lang: str = VI) -> str:
    """A unit kind as a word ("Thôn", "Trạm Y tế"), never its code (``hamlet``)."""
    key = KIND_KEYS.get(str(kind))
    return tr(key, lang) if key else str(kind)  # a kind the catalogs lack is shown as stored


def _yes_no(yes: bool, lang: str) -> str:
    key = "doc.yes" if yes else "doc.no"
    return tr(key, lang)


def _verdict_word(verdict: str | None, lang: str) -> str:
    key = VERDICT_KEYS.get(verdict or "")
    return tr(key, lang) if key else "—"


def _task_word(status: str | None, lang: str) -> str | None:
    key = TASK_KEYS.get(status or "")
    return tr(key, lang) if key else None


def shown_decimals(row: IndicatorRow, value: float | None) -> int:
    """Decimals a rate or share is written with so that it never contradicts its verdict
    (``flows.rules.shown_decimals``), nor its verdict against the year's path target."""
    d = rules.shown_decimals(row.kind, row.target, value)
    bound = path_bound(row.kind, row.target)
    if row.path is not None and row.path.target is not None and value is not None and bound \
            and row.kind in ("rate", "share_units"):
        d = max(d, rules.decimals_to_agree(value, bound[0], row.path.target))
    return d


def fmt_value(row: IndicatorRow, value: float | None = None, *, detail: bool = True,
              sep: str = " ", lang: str = VI) -> str:
    """The result of an indicator as the report writes it (``sep`` before the counts)."""
    v = row.value if value is None else value
    if row.kind == "task":
        done = row.task_counts.get("done", 0)
        return (tr("doc.value.tasks_done", lang, done=done, units=row.units_reported)
                if row.units_reported else "—")
    if v is None:
        return "—"
    d = shown_decimals(row, v) if value is None else None  # this year's, judged value
    if row.kind == "rate":
        text = with_unit(v, row.factor, d, lang)
        if detail and value is None and row.numerator is not None:
            text += (f"{sep}({vn_number(row.numerator, 0, lang)}/"
                     f"{vn_number(row.denominator or 0, 0, lang)})")
        return text
    if row.kind == "share_units":
        text = with_unit(v, 100, d, lang)
        if detail and value is None and row.denominator:
            text += sep + tr("doc.value.share_units", lang, numerator=row.numerator,
                             denominator=row.denominator)
        return text
    if row.kind == "yes_no":
        return _yes_no(v >= 1, lang)
    unit = _unit_word(row, lang)
    return vn_number(v, 0, lang) + (f" {unit}" if unit and detail else "")


def fmt_target(t: Target | None, row: IndicatorRow, *, milestone: bool = True,
               lang: str = VI) -> str:
    """A target as the plan states it: ≥ 95%, < 5‰, giảm 2–3%/năm, ... (theo mốc 2030)."""
    if t is None:
        return "—"
    f = _factor(row)

    def num(v: float | None) -> str:
        if v is None:
            return "?"
        # as the plan writes it: 621,9/100.000 and 124,378/100.000, never 622 or 124,4
        return (with_unit(v, f, written_decimals(v), lang=lang)
                if row.kind in ("rate", "share_units")
                else vn_number(v, max(2, written_decimals(v)), lang))

    def pct(v: float | None) -> str:
        return vn_number(v or 0, 2, lang)

    d = t.direction
    if t.fraction is not None and d in ("at_least", "at_most", "below", "above"):
        sign = {"at_least": "≥", "at_most": "≤", "below": "<", "above": ">"}[d]
        n, den = t.fraction  # "≤ 5/804 (621,89/100.000)": the exact target, then its rate
        text = (f"{sign} {vn_number(n, 0, lang)}/{vn_number(den, 0, lang)} "
                f"({with_unit(t.value or 0.0, f, 2, lang)})")
        if milestone and t.from_next_milestone:
            text = tr("doc.target.milestone", lang, target=text, year=t.milestone_year)
        return text
    text = {
        "at_least": lambda: f"≥ {num(t.value)}",
        "at_most": lambda: f"≤ {num(t.value)}",
        "below": lambda: f"< {num(t.value)}",
        "above": lambda: f"> {num(t.value)}",
        "range": lambda: f"{num(t.value)} – {num(t.value_max)}",
        "reduce_per_year": lambda: (
            tr("doc.target.reduce_per_year_range", lang, value=pct(t.value),
               value_max=pct(t.value_max))
            if t.value_max is not None else
            tr("doc.target.reduce_per_year", lang, value=pct(t.value))),
        "reduce_vs_year": lambda: tr("doc.target.reduce_vs_year", lang, value=pct(t.value),
                                     ref_year=t.ref_year),
        "yes": lambda: tr("doc.target.yes", lang),
        "maintain": lambda: tr("doc.target.maintain", lang),
        "none": lambda: (tr("doc.target.none_note", lang, note=t.note) if t.note
                         else tr("doc.target.none", lang)),
    }.get(d, lambda: d)()
    if milestone and t.from_next_milestone:
        text = tr("doc.target.milestone", lang, target=text, year=t.milestone_year)
    return text


def fmt_verdict(row: IndicatorRow, lang: str = VI) -> str:
    """Đạt / Không đạt / Chưa đủ số liệu, with the provisional result while incomplete."""
    text = _verdict_word(row.verdict, lang)
    if row.verdict == CHUA_DU and row.provisional_verdict:
        text = tr("doc.verdict.provisional", lang, verdict=text,
                  provisional=_verdict_word(row.provisional_verdict, lang).lower())
    if row.verdict is None and row.reason == R_ZERO_DENOMINATOR:
        text = tr("doc.verdict.no_cases", lang)
    if row.verdict is None and row.reason == R_BASELINE_YEAR:
        text = tr("doc.verdict.baseline_year", lang)
    if row.path is not None and row.path.verdict in PATH_KEYS and row.target is not None:
        # a year between milestones: judged on the road, the milestone's verdict beside it
        text = tr("doc.verdict.with_milestone", lang,
                  path=tr(PATH_KEYS[row.path.verdict], lang), year=row.target.milestone_year,
                  verdict=text.lower() if lang == VI else text)
    return text


def fmt_roles(row: IndicatorRow, lang: str = VI) -> str:
    """Who the plan names for the indicator, as it writes it: "Chủ trì: Công an xã; Phối
    hợp: …" (empty when the plan names nobody)."""
    parts = []
    for role in ("lead", "implement", "coordinate"):
        units = list(dict.fromkeys(u for u, r in row.roles if r == role))
        if units:
            parts.append(tr(ROLE_KEYS[role], lang, units=", ".join(units)))
    return "; ".join(parts)


def fmt_path_target(row: IndicatorRow, lang: str = VI) -> str | None:
    """This year's point on the road to the milestone, as the plan would write a target."""
    p = row.path
    bound = path_bound(row.kind, row.target)
    if p is None or p.target is None or bound is None:
        return None
    fake = Target(bound[0], p.target, None, None, 0, False)
    return tr("doc.path.target", lang, year=p.year,
              target=fmt_target(fake, row, milestone=False, lang=lang))


def fmt_target_cell(row: IndicatorRow, lang: str = VI, sep: str = "\n") -> str:
    """The target column: the year's path target first when there is one, the milestone's
    own target beside it."""
    milestone = fmt_target(row.target, row, lang=lang)
    path = fmt_path_target(row, lang)
    return f"{path}{sep}{milestone}" if path else milestone


def fmt_projection(row: IndicatorRow, lang: str = VI) -> str | None:
    """"dự kiến 2030: 98,4% — đạt nếu giữ nhịp hiện nay (2 năm số liệu)"."""
    pr = row.projection
    if pr is None:
        return None
    bound = path_bound(row.kind, pr.milestone)
    if row.kind in ("rate", "share_units"):
        d = rules.decimals_to_agree(pr.value, bound[0], bound[1]) if bound else 0
        value = with_unit(pr.value, _factor(row), d, lang)
    else:
        unit = _unit_word(row, lang)
        value = vn_number(pr.value, 1, lang) + (f" {unit}" if unit else "")
    text = tr(PROJECTION_KEYS.get(pr.verdict, PROJECTION_KEYS[None]), lang, year=pr.year,
              value=value, years=pr.years)
    if pr.small_denominator:
        text += "; " + tr("doc.note.projection_small", lang)
    return text


def fmt_last_year(row: IndicatorRow, lang: str = VI) -> str:
    """Last year's figure (— when there was none)."""
    return "—" if row.last_year_value is None else fmt_value(row, row.last_year_value,
                                                            detail=False, lang=lang)


def notes_for(row: IndicatorRow, lang: str = VI) -> list[str]:
    """Why a verdict is missing and what to be careful about."""
    out = []
    if row.verdict == CHUA_DU and row.reason:
        key = REASON_KEYS.get(row.reason)
        text = tr(key, lang) if key else row.reason
        if row.reason == R_NO_REFERENCE and row.reference_year:
            text = tr("doc.reason.no_reference_year", lang, year=row.reference_year)
        if row.reason == R_REFERENCE_INCOMPLETE and row.reference_year:
            text = tr("doc.reason.reference_incomplete_year", lang, year=row.reference_year)
        names = row.missing_units if row.reason in (R_MISSING, R_NO_DATA) else (
            row.unsubmitted_units or row.missing_units)
        if names and row.reason not in (R_NO_REFERENCE, R_REFERENCE_INCOMPLETE):
            text += ": " + ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        out.append(tr("doc.note.not_enough_data", lang, reason=text))
    for w in row.warnings:
        key = WARNING_KEYS.get(w)
        text = tr(key, lang) if key else w
        if w == W_SMALL_DENOMINATOR and row.denominator is not None:
            text = tr("doc.warning.small_denominator_n", lang,
                      denominator=vn_number(row.denominator, 0, lang))
        out.append(text)
    if row.change_pct is not None and row.reference_year:
        t = row.target
        # down 1.996% against "giảm 2%/năm" is không đạt: never written "giảm 2%"
        d = rules.change_decimals(row.change_pct, t)
        if abs(row.change_pct) < 1e-9:
            out.append(tr("doc.note.unchanged", lang, year=row.reference_year))
        else:
            key = "doc.note.down" if row.change_pct >= 0 else "doc.note.up"
            out.append(tr(key, lang,
                          pct=vn_number(abs(row.change_pct), max(2, d), lang),
                          year=row.reference_year))
    p = row.path
    if p is not None and p.reason == P_NO_REFERENCE:
        out.append(tr("doc.note.no_path", lang))
    elif p is not None and p.target is not None and p.reference_value is not None:
        out.append(tr("doc.note.path", lang, ref_year=p.reference_year,
                      ref_value=fmt_value(row, p.reference_value, detail=False, lang=lang),
                      year=row.target.milestone_year if row.target else "",
                      target=fmt_path_target(row, lang) or ""))
    projected = fmt_projection(row, lang)
    if projected:
        out.append(projected)
    return out


def place_of(report: CommuneReport) -> str:
    """The place name for the date line: "Xã Xuân Trường" → "Xuân Trường"."""
    name = report.commune.name
    for prefix in ADMIN_PREFIXES:
        if name.startswith(prefix + " "):
            return name[len(prefix) + 1:]
    return name


_YEARS = r"\d{4}(?:\s*[-–]\s*\d{4})?"


def _horizon(lang: str) -> re.Pattern[str]:
    """The horizon a plan's name ends with: "đến năm 2030", "giai đoạn 2021 - 2030",
    "giai đoạn 2021-2025, định hướng đến năm 2030", "2021-2025, towards 2030" (the words
    before the years are the catalog's ``doc.title.horizon_words``, separated by "|")."""
    words = "|".join(re.escape(w.strip()) for w in tr("doc.title.horizon_words", lang).split("|")
                     if w.strip())
    return re.compile(rf"(?:[,;]?\s*(?:(?:{words})\s+)?{_YEARS})+\s*$", re.IGNORECASE)


def plan_in_title(name: str, year: int, lang: str = VI) -> str:
    """The title's line under "BÁO CÁO": "Kết quả thực hiện Kế hoạch … năm 2026".

    The plan's own horizon ("… đến năm 2030", "giai đoạn 2021 - 2025") is left out so that
    the title names one year, the report's; a plan named for the report's very year ("Kế
    hoạch … năm 2022 trên địa bàn …") already says it and gets no second one.
    """
    plan = name.strip()
    plan = _horizon(lang).sub("", plan).rstrip(" ,;") or plan
    said = re.search(rf"{re.escape(tr('doc.title.year_word', lang))}\s+{year}\b", plan,
                     re.IGNORECASE)
    key = "doc.word.subtitle_plain" if said else "doc.word.subtitle"
    return tr(key, lang, plan=plan, year=year)


def number_text(issue: Issue, lang: str = VI) -> str:
    """"Số: 15/BC-UBND" ("Số: …/BC-UBND", to fill in by hand, when no number is given)."""
    number = (issue.number or "").strip()
    if not number:
        return tr("doc.word.number", lang)
    if "/" not in number:
        number = f"{number}/BC-UBND"
    return tr("doc.word.number_of", lang, number=number)


def date_line(place: str, day: date, lang: str = VI) -> str:
    """"Xuân Trường, ngày 05 tháng 02 năm 2027": a day below 10 and the months 1 and 2 with
    a leading zero (Nghị định 30/2020/NĐ-CP); "Xuan Truong, 5 February 2027" in English."""
    from babel.dates import format_date

    if lang == VI:
        d, month = f"{day.day:02d}", f"{day.month:02d}" if day.month < 3 else str(day.month)
    else:
        d, month = str(day.day), format_date(day, "MMMM", locale=lang)
    return tr("doc.word.place_date_on", lang, place=place, day=d, month=month, year=day.year)


def recipient_lines(report: CommuneReport, issue: Issue, lang: str = VI) -> list[str]:
    """The "Nơi nhận" lines: the ones given (each "- …;", the last "- ….") or the usual
    four (the level above, the chair, the departments, the archive)."""
    if not issue.recipients:
        upper = (tr("doc.word.to_parent", lang,
                    parent=_in_sentence(report.parent.name, lang))
                 if report.parent else tr("doc.word.to_upper_level", lang))
        return [upper, tr("doc.word.to_chair", lang), tr("doc.word.to_departments", lang),
                tr("doc.word.to_archive", lang)]
    out = []
    given = [r.strip() for r in issue.recipients if r.strip()]
    for i, line in enumerate(given):
        line = line if line.startswith(("-", "–", "+")) else f"- {line}"
        if line[-1] not in ".;:,":
            line += "." if i == len(given) - 1 else ";"
        out.append(line)
    return out


def _rows(report: CommuneReport, include_sensitive: bool) -> list[IndicatorRow]:
    return [r for r in report.rows if include_sensitive or not r.sensitive]


def _local(dt: datetime | None, tz: tzinfo) -> datetime | None:
    """A stored (UTC) time as the local wall time of ``tz`` (Excel has no zones)."""
    return dt.astimezone(tz).replace(tzinfo=None) if dt else None


# ------------------------------------------------------------------ Word


def _align(name: str) -> Any:
    """python-docx's paragraph alignment for "left", "center" or "justify"."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    return {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
            "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}[name]


C, L, J = "center", "left", "justify"


class _Word:
    """A python-docx document with the few helpers the report needs."""

    def __init__(self) -> None:
        from docx import Document
        from docx.shared import Mm, Pt

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
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

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
        from docx.shared import Pt

        r = p.add_run(text)
        r.bold, r.italic, r.underline = bold or None, italic or None, underline or None
        r.font.name = FONT
        r.font.size = Pt(size or BODY_PT)
        self.set_fonts(r._element)
        return r

    def para(self, text: str = "", *, container: Any = None, bold: bool = False,
             italic: bool = False, underline: bool = False, size: float | None = None,
             align: str = L, before: float = 0, after: float = 0,
             indent: float | None = None) -> Any:
        """A paragraph (first-line indent in mm)."""
        from docx.shared import Mm, Pt

        p = (container or self.doc).add_paragraph()
        p.alignment = _align(align)
        if container is None and text:
            after = max(after, GAP_PT)
        pf = p.paragraph_format
        pf.space_before, pf.space_after = Pt(before), Pt(after)
        if indent is not None:
            pf.first_line_indent = Mm(indent)
        if text:
            self.run(p, text, bold=bold, italic=italic, underline=underline, size=size)
        return p

    def body(self, text: str, **kw: Any) -> Any:
        """A justified body paragraph with the usual first-line indent."""
        return self.para(text, align=J, indent=10, **kw)

    def short_line(self, width_mm: float, room_mm: float, container: Any = None) -> None:
        """A centred short rule: a bottom border on an indented empty paragraph."""
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Mm, Pt

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
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Mm

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
                self.cell(cell, text, bold=True, align=C)
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
        from docx.shared import Mm

        for row in t.rows:
            for cell, w in zip(row.cells, widths_mm, strict=False):
                cell.width = Mm(w)

    def cell(self, cell: Any, text: str, *, bold: bool = False, italic: bool = False,
             align: str = L, size: float | None = None) -> None:
        """Write into a cell's first paragraph."""
        p = cell.paragraphs[0]
        p.alignment = _align(align)
        self.run(p, text, bold=bold, italic=italic, size=size)

    def row(self, t: Any, texts: Sequence[str], aligns: Sequence[str], *,
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
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Pt

        sec = self.doc.sections[0]
        sec.different_first_page_header_footer = True
        hp = sec.header.paragraphs[0]
        hp.alignment = _align(C)
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
        from docx.enum.text import WD_BREAK

        self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def bytes(self) -> bytes:
        """The .docx file."""
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()


def report_docx(report: CommuneReport, *, place: str | None = None,
                include_sensitive: bool, tz: tzinfo, lang: str = VI,
                issue: Issue | None = None) -> bytes:
    """The report as a .docx in the state administrative format (Nghị định 30/2020/NĐ-CP).

    A4, margins 20/20/30/15 mm, Times New Roman 13 pt, at least 6 pt between paragraphs;
    the header block (issuing body and number at left, national motto, place and date of
    issue at right), title, the indicator table by mục tiêu, notes, who reported, "Nơi
    nhận" at bottom left and the signature block at bottom right, then the annex with
    per-unit figures. ``issue`` gives the number, date, signer and recipients (defaults:
    see ``Issue``), or a province's own template, which is then filled in instead
    (``report_from_template``). Sensitive indicators only when ``include_sensitive``; dates
    in the time zone ``tz``, words in ``lang``.
    """
    issue = _issued(report, issue or Issue(), place, tz)
    if issue.template is not None:
        return report_from_template(report, issue.template, issue=issue,
                                    include_sensitive=include_sensitive, tz=tz, lang=lang)
    w = _Word()
    w.page_numbers()
    rows = _rows(report, include_sensitive)
    _docx_heading(w, report, issue, lang)
    _docx_results(w, report, rows, lang)
    _docx_completeness(w, report, lang)
    _docx_signature(w, report, issue, lang)
    _docx_annex(w, report, rows, tz, lang)
    return w.bytes()


def _issued(report: CommuneReport, issue: Issue, place: str | None, tz: tzinfo) -> Issue:
    """``issue`` with its place and date of issue filled in (today in ``tz``)."""
    return Issue(**{**issue.__dict__, "place": place or issue.place or place_of(report),
                    "issued": issue.issued or datetime.now(tz).date()})


def _docx_heading(w: _Word, report: CommuneReport, issue: Issue, lang: str) -> None:
    """Issuing body | national motto; number | place and date of issue (one line, as
    Nghị định 30 lays them out); then the title."""
    assert issue.place is not None and issue.issued is not None
    left, right = 68.0, 97.0
    head = w.table((left, right), grid=False)
    lc, rc = head.rows[0].cells
    lc.paragraphs[0].alignment = _align(C)
    w.run(lc.paragraphs[0], tr("doc.word.committee", lang), bold=True, size=BODY_PT)
    w.para(report.commune.name.upper(), container=lc, bold=True, align=C)
    w.short_line(22, left, lc)
    rc.paragraphs[0].alignment = _align(C)
    w.run(rc.paragraphs[0], tr("doc.word.nation", lang), bold=True, size=12)  # on one line
    w.para(tr("doc.word.motto", lang), container=rc, bold=True, underline=True, align=C,
           size=TITLE_PT)
    nc, dc = head.add_row().cells
    nc.paragraphs[0].alignment = _align(C)
    w.run(nc.paragraphs[0], number_text(issue, lang))
    dc.paragraphs[0].alignment = _align(C)
    w.run(dc.paragraphs[0], date_line(issue.place, issue.issued, lang), italic=True,
          size=TITLE_PT)
    for cell in (nc, dc):
        cell.paragraphs[0].paragraph_format.space_before = _pt(GAP_PT)
    w.fit(head, (left, right))
    w.para(tr("doc.word.title", lang), bold=True, size=TITLE_PT, align=C, before=18, after=0)
    w.para(plan_in_title(_plan_name(report, lang), report.year, lang),
           bold=True, size=TITLE_PT, align=C)
    w.short_line(30, 165)


def _pt(value: float) -> Any:
    from docx.shared import Pt

    return Pt(value)


# ------------------------------------------------------------------ a province's template


def template_context(report: CommuneReport, issue: Issue, *, include_sensitive: bool,
                     lang: str = VI) -> dict[str, Any]:
    """What a province's .docx template may name: ``{{ title }}``, ``{{ number_line }}``,
    ``{{ date_line }}``, ``{% for r in rows %}``… (the list is in docs/report.md)."""
    issue_place = issue.place or place_of(report)
    issued = issue.issued or date.today()
    rows = _rows(report, include_sensitive)
    counts = {DAT: 0, KHONG_DAT: 0, CHUA_DU: 0}
    for r in rows:
        if r.verdict in counts:
            counts[r.verdict] += 1
    c = report.completeness
    line = number_text(issue, lang)
    return {
        "committee": tr("doc.word.committee", lang),
        "commune": report.commune.name,
        "commune_upper": report.commune.name.upper(),
        "parent": report.parent.name if report.parent else "",
        "nation": tr("doc.word.nation", lang),
        "motto": tr("doc.word.motto", lang),
        "number_line": line,
        "number": line.split(":", 1)[-1].strip(),
        "place": issue_place,
        "date_line": date_line(issue_place, issued, lang),
        "issued": _date_text(issued, lang),
        "report_title": tr("doc.word.title", lang),
        "title": plan_in_title(_plan_name(report, lang), report.year, lang),
        "plan": _plan_name(report, lang),
        "year": report.year,
        "dat": counts[DAT], "khong_dat": counts[KHONG_DAT], "chua_du": counts[CHUA_DU],
        "judged": sum(counts.values()),
        "units_submitted": c.units_submitted, "units_expected": c.units_expected,
        "units_on_time": c.units_on_time, "units_late": c.units_late,
        "late_units": ", ".join(c.late_units), "missing_units": ", ".join(c.missing_units),
        "rows": [{"code": r.code, "goal": r.goal_code, "goal_title": _goal_title(r, lang),
                  "name": _name(r, lang), "roles": fmt_roles(r, lang),
                  "target": fmt_target_cell(r, lang, sep="; "),
                  "result": fmt_value(r, lang=lang), "last_year": fmt_last_year(r, lang),
                  "verdict": fmt_verdict(r, lang), "notes": "; ".join(notes_for(r, lang))}
                 for r in rows],
        "recipients_title": tr("doc.word.recipients", lang),
        "recipients": recipient_lines(report, issue, lang),
        "on_behalf": issue.on_behalf or tr("doc.word.on_behalf", lang),
        "signer_title": issue.signer_title or tr("doc.word.chair", lang),
        "signer": issue.signer or "",
    }


class TemplateError(ValueError):
    """A province's template that cannot be filled in, and why (the library's words)."""

    def __init__(self, template: Path | str, reason: object) -> None:
        super().__init__(f"{template}: {reason}")
        self.template, self.reason = str(template), str(reason)


def report_from_template(report: CommuneReport, template: Path, *, issue: Issue,
                         include_sensitive: bool, tz: tzinfo, lang: str = VI) -> bytes:
    """A province's own .docx filled in with docxtpl (Jinja placeholders, see
    ``template_context``); names are escaped, so "Hội LHPN & Đoàn TN" stays text."""
    from docxtpl import DocxTemplate
    from jinja2 import TemplateError as JinjaError

    issue = _issued(report, issue, None, tz)
    try:
        tpl = DocxTemplate(str(template))
        tpl.render(template_context(report, issue, include_sensitive=include_sensitive,
                                    lang=lang), autoescape=True)
    except (OSError, KeyError, ValueError, JinjaError) as exc:  # no file, not a .docx, bad tag
        raise TemplateError(template, exc) from exc
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def _docx_results(w: _Word, report: CommuneReport, rows: list[IndicatorRow],
                  lang: str) -> None:
    """Section I: the indicator table grouped by mục tiêu, and the notes."""
    w.body(tr("doc.word.intro", lang, plan=_plan_name(report, lang),
              commune=_in_sentence(report.commune.name, lang), year=report.year),
           before=12, after=6)
    w.para(tr("doc.word.section_results", lang), bold=True, before=6, after=4)
    counts = {DAT: 0, KHONG_DAT: 0, CHUA_DU: 0, None: 0}
    for r in rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    judged = len(rows) - counts[None]
    numbers = {"judged": judged, "dat": counts[DAT], "khong_dat": counts[KHONG_DAT],
               "chua_du": counts[CHUA_DU]}
    if counts[None]:
        w.body(tr("doc.word.counts_monitored", lang, monitored=counts[None], **numbers),
               after=4)
    else:
        w.body(tr("doc.word.counts", lang, **numbers), after=4)
    if any(r.target and r.target.from_next_milestone for r in rows):
        w.body(tr("doc.word.milestone_note", lang), italic=True, after=4)
    t = w.table((13.5, 51.5, 27.0, 32.0, 20.0, 21.0),
                heads=(tr("doc.col.no", lang), tr("doc.col.indicator", lang),
                       tr("doc.col.target", lang), tr("doc.col.result", lang),
                       tr("doc.col.last_year", lang), tr("doc.col.verdict", lang)))
    goal = None
    for r in rows:
        if r.goal_code != goal:
            goal = r.goal_code
            w.group_row(t, tr("doc.word.goal", lang, code=r.goal_code,
                              title=_goal_title(r, lang)))
        roles = fmt_roles(r, lang)
        w.row(t, (r.code, _name(r, lang) + (f"\n({roles})" if roles else ""),
                  fmt_target_cell(r, lang),
                  fmt_value(r, sep="\n", lang=lang), fmt_last_year(r, lang),
                  fmt_verdict(r, lang)), (C, L, C, C, C, C),
              bold_last=(r.path.verdict == OFF_PATH if r.path is not None and r.path.verdict
                         else r.verdict == KHONG_DAT))
    w.fit(t, w._widths)
    noted = [(r, n) for r in rows if (n := notes_for(r, lang))]
    if noted:
        w.para(tr("doc.word.notes", lang), bold=True, italic=True, before=6)
        for r, n in noted:
            w.body(tr("doc.word.note_line", lang, code=r.code, notes="; ".join(n)))


def _docx_completeness(w: _Word, report: CommuneReport, lang: str) -> None:
    """Section II: units reported / expected, late and missing ones by name."""
    c = report.completeness
    w.para(tr("doc.word.section_units", lang), bold=True, before=10, after=4)
    numbers = {"submitted": c.units_submitted, "expected": c.units_expected,
               "on_time": c.units_on_time, "late": c.units_late}
    if report.round:
        w.body(tr("doc.word.units_sent_deadline", lang, **numbers,
                  deadline=_date_text(report.round.unit_deadline, lang)))
    else:
        w.body(tr("doc.word.units_sent", lang, **numbers))
    late, missing = (("doc.word.late_places", "doc.word.missing_places") if report.rollup
                     else ("doc.word.late_units", "doc.word.missing_units"))
    if c.late_units:
        w.body(tr(late, lang, names=", ".join(c.late_units)))
    if c.missing_units:
        w.body(tr(missing, lang, names=", ".join(c.missing_units)))
    if not c.late_units and not c.missing_units:
        w.body(tr("doc.word.all_on_time", lang))


def _date_text(day: Any, lang: str) -> str:
    """A calendar date the language's way (dd/MM/yyyy in Vietnamese)."""
    from babel.dates import format_date

    return format_date(day, text_of("format.date", lang), locale=lang)


def _docx_signature(w: _Word, report: CommuneReport, issue: Issue, lang: str) -> None:
    """"Nơi nhận" at the bottom left, the signature block at the bottom right: on whose
    behalf, the signer's title, room for the signature and the seal, the signer's name."""
    t = w.table((80.0, 85.0), grid=False)
    nl, sr = t.rows[0].cells
    p = nl.paragraphs[0]
    p.paragraph_format.space_before = _pt(12)
    w.run(p, tr("doc.word.recipients", lang), bold=True, italic=True, size=12)
    for line in recipient_lines(report, issue, lang):
        w.para(line, container=nl, size=11)
    p = sr.paragraphs[0]
    p.alignment = _align(C)
    p.paragraph_format.space_before = _pt(12)
    w.run(p, issue.on_behalf or tr("doc.word.on_behalf", lang), bold=True, size=BODY_PT)
    w.para(issue.signer_title or tr("doc.word.chair", lang), container=sr, bold=True,
           align=C, size=BODY_PT)
    for _ in range(5):  # room for the signature and the seal
        w.para("", container=sr, align=C)
    w.para(issue.signer or "", container=sr, bold=True, align=C, size=TITLE_PT)
    w.fit(t, (80.0, 85.0))


def _docx_annex(w: _Word, report: CommuneReport, rows: list[IndicatorRow], tz: tzinfo,
                lang: str) -> None:
    """Phụ lục: each unit's figures (each commune's results for a roll-up)."""
    w.page_break()
    w.para(tr("doc.word.annex", lang), bold=True, size=TITLE_PT, align=C)
    by = "doc.word.annex_places" if report.rollup else "doc.word.annex_units"
    w.para(tr(by, lang), bold=True, align=C)
    w.para(tr("doc.word.annex_attached", lang, year=report.year,
              commune=_in_sentence(report.commune.name, lang)), italic=True, align=C, after=8)
    codes = {r.code for r in rows}
    by_code = {r.code: r for r in rows}
    if report.rollup:
        t = w.table((12.0, 63.0, 27.0, 20.0, 22.0, 21.0),
                    heads=(tr("doc.col.no", lang), tr("doc.col.place", lang),
                           tr("doc.col.units_sent", lang), tr("doc.col.dat", lang),
                           tr("doc.col.khong_dat", lang), tr("doc.col.chua_du", lang)))
        for n, u in enumerate(report.units, start=1):
            vs = [v.verdict for k, v in u.values.items() if k in codes]
            w.row(t, (str(n), u.name, f"{u.units_submitted}/{u.units_expected}",
                      str(vs.count(DAT)), str(vs.count(KHONG_DAT)), str(vs.count(CHUA_DU))),
                  (C, L, C, C, C, C))
    else:
        t = w.table((14.0, 86.0, 38.0, 27.0),
                    heads=(tr("doc.col.no", lang), tr("doc.col.indicator", lang),
                           tr("doc.col.figures", lang), tr("doc.col.state", lang)))
        for n, u in enumerate(report.units, start=1):
            w.group_row(t, f"{n}. {u.name} — {_unit_status(u, tz, lang)}")
            for code in u.expected:
                if code in codes:
                    v = u.values.get(code)
                    w.row(t, (code, _name(by_code[code], lang),
                              _unit_value_text(by_code[code], v, lang),
                              _state_text(v, lang)), (C, L, C, C))
    w.fit(t, w._widths)


def _unit_status(u: UnitRow, tz: tzinfo, lang: str = VI) -> str:
    if not u.submitted:
        return tr("doc.unit.not_sent", lang)
    if u.submitted_at is None:
        key = "doc.unit.sent_on_time" if u.on_time else "doc.unit.sent_late"
        return tr(key, lang)
    key = "doc.unit.sent_on_time_on" if u.on_time else "doc.unit.sent_late_on"
    return tr(key, lang,
              date=_date_text(u.submitted_at.astimezone(tz).date(), lang))


def _unit_value_text(row: IndicatorRow, v: UnitValue | None, lang: str = VI) -> str:
    """One unit's value: 1/2 (50%) for a rate, Có/Không, a count, a task status."""
    if v is None:
        return "—"
    if row.kind == "rate":
        if v.numerator is None or v.denominator is None:
            return "—"
        rate = (f" ({with_unit(v.value, row.factor, shown_decimals(row, v.value), lang)})"
                if v.value is not None else "")
        return f"{vn_number(v.numerator, 0, lang)}/{vn_number(v.denominator, 0, lang)}{rate}"
    if row.kind in ("share_units", "yes_no"):
        return "—" if v.value is None else _yes_no(v.value >= 0.5, lang)
    if row.kind == "task":
        status = _task_word(v.task_status, lang) or "—"
        return f"{status}: {v.text}" if v.text else status
    return "—" if v.value is None else vn_number(v.value, 0, lang)


def unit_status(u: UnitRow, tz: tzinfo, lang: str = VI) -> str:
    """A unit's line in the annex: not sent, sent on time or late (on its date)."""
    return _unit_status(u, tz, lang)


def unit_value_text(row: IndicatorRow, v: UnitValue | None, lang: str = VI) -> str:
    """One unit's value as the annex writes it."""
    return _unit_value_text(row, v, lang)


def _state_text(v: UnitValue | None, lang: str = VI) -> str:
    if v is None:
        return tr("doc.state.not_reported", lang)
    key = {"submitted": "doc.state.submitted", "draft": "doc.state.draft"}.get(v.state or "")
    return tr(key, lang) if key else ""


# ------------------------------------------------------------------ Excel


def _excel_format(row: IndicatorRow, decimals: int = 0, lang: str = VI) -> str:
    """The number format; a rate gets more decimals when it must not read as its target."""
    if row.kind in ("rate", "share_units"):
        d = max(1 if row.factor == 100000 else 2, decimals)
        return "0." + "0" * d
    if row.kind == "yes_no":
        yes, no = _yes_no(True, lang), _yes_no(False, lang)
        return f'"{yes}";"{yes}";"{no}"'
    return "#,##0"


def _excel_value(row: IndicatorRow, v: float | None) -> float | int | None:
    if v is None:
        return None
    if row.kind in ("count", "change", "yes_no"):
        return int(round(v))
    return round(v, max(4, shown_decimals(row, v)))


def _unit_cell(row: IndicatorRow, v: UnitValue | None, rollup: bool,
               lang: str = VI) -> tuple[Any, str]:
    """A unit's (a commune's) value on "Theo đơn vị" and its number format.

    A unit's yes/no answer (a share of units, a yes/no indicator) is the text Có / Không,
    not 1.00; in a roll-up a commune's share of units is a percentage, a number.
    """
    if row.kind == "task":
        if v is None:
            return None, "General"
        status = _task_word(v.task_status, lang)
        return (f"{status}: {v.text}" if v.text and status else status), "General"
    value = v.value if v else None
    if row.kind == "yes_no" or (row.kind == "share_units" and not rollup):
        if value is None:
            return None, "General"
        return _yes_no(value >= 0.5, lang), "General"
    return _excel_value(row, value), _excel_format(row, shown_decimals(row, value), lang)


def _target_number(t: Target | None) -> float | None:
    return None if t is None else t.value


def report_xlsx(report: CommuneReport, raw_rows: Sequence[RawValue],
                *, include_sensitive: bool = True, tz: tzinfo, lang: str = VI) -> bytes:
    """The report as an .xlsx: "Tổng hợp", "Theo đơn vị" and "Số liệu" (numbers as numbers;
    times are the local wall time of ``tz``, words in ``lang``)."""
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
        append_row(ws, names)
        for i, (cell, w) in enumerate(zip(ws[1], widths_, strict=True), start=1):
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = freeze

    wb = Workbook()
    ws = wb.active
    ws.title = tr("doc.sheet.summary", lang)
    header(ws, [tr(k, lang) for k in (
        "doc.col.goal", "doc.col.code", "doc.col.indicator", "doc.col.unit",
        "doc.col.numerator", "doc.col.denominator", "doc.col.result", "doc.col.target",
        "doc.col.target_value", "doc.col.milestone", "doc.col.last_year", "doc.col.verdict",
        "doc.col.units_reported", "doc.col.units_expected", "doc.col.on_time",
        "doc.col.late", "doc.col.path_target", "doc.col.path_verdict", "doc.col.projection",
        "doc.col.projection_year", "doc.col.projection_years", "doc.col.roles",
        "doc.col.notes")],
           (9, 7, 48, 11, 10, 11, 11, 22, 11, 7, 11, 22, 11, 11, 9, 9, 11, 16, 11, 8, 9, 30,
            50),
           "D2")
    per_100000 = "/" + vn_number(100000, 0, lang)
    for r in rows:
        unit = {100: "%", 1000: "‰", 100000: per_100000}.get(_factor(r) or 0, "") \
            if r.kind in ("rate", "share_units") else (_unit_word(r, lang) or "")
        append_row(ws, [
            r.goal_code, r.code, _name(r, lang), unit, r.numerator, r.denominator,
            _excel_value(r, r.value), fmt_target(r.target, r, milestone=False, lang=lang),
            _target_number(r.target), r.target.milestone_year if r.target else None,
            _excel_value(r, r.last_year_value), fmt_verdict(r, lang), r.units_reported,
            r.units_expected, r.units_on_time, r.units_late,
            r.path.target if r.path else None,
            tr(PATH_KEYS[r.path.verdict], lang) if r.path and r.path.verdict else None,
            r.projection.value if r.projection else None,
            r.projection.year if r.projection else None,
            r.projection.years if r.projection else None, fmt_roles(r, lang) or None,
            "; ".join(notes_for(r, lang)),
        ])
        line = ws[ws.max_row]
        line[16].number_format = line[18].number_format = _excel_format(r, 2, lang)
        for idx in (5, 6, 13, 14, 15, 16):
            line[idx - 1].number_format = "#,##0"
        line[6].number_format = _excel_format(r, shown_decimals(r, r.value), lang)
        line[10].number_format = _excel_format(r, lang=lang)
        line[8].number_format = "0.00"
        line[9].number_format = "0"
        line[2].alignment = line[21].alignment = line[22].alignment = wrap

    wu = wb.create_sheet(tr("doc.sheet.units", lang))
    unit_names = [tr(k, lang) for k in ("doc.col.unit_code", "doc.col.unit_name",
                                        "doc.col.unit_kind", "doc.col.sent",
                                        "doc.col.sent_at", "doc.col.on_time")]
    ind_heads = [f"{r.code} {_name(r, lang)}" for r in rows]
    header(wu, (*unit_names, *ind_heads), (22, 30, 14, 8, 16, 9, *([14] * len(rows))), "C2")
    wu.row_dimensions[1].height = 90
    for u in report.units:
        line = [u.code, u.name, kind_word(u.kind, lang),
                _yes_no(True, lang) if u.submitted else tr("doc.not_yet", lang),
                _local(u.submitted_at, tz), None if u.on_time is None else
                _yes_no(u.on_time, lang)]
        shown = [_unit_cell(r, u.values.get(r.code), report.rollup, lang) for r in rows]
        append_row(wu, line + [value for value, _ in shown])
        cells = wu[wu.max_row]
        cells[4].number_format = "dd/mm/yyyy hh:mm"
        for i, (_, number_format) in enumerate(shown, start=len(unit_names)):
            cells[i].number_format = number_format

    wr = wb.create_sheet(tr("doc.sheet.values", lang))
    header(wr, ("year", "unit", "indicator", "numerator", "denominator", "value",
                "reported_by", "reported_at", "state", "source", "text"),
           (7, 34, 10, 12, 12, 10, 22, 17, 10, 9, 30), "A2")
    for v in raw_rows:
        if v.indicator not in codes and not include_sensitive:
            continue
        append_row(wr, [v.year, v.unit, v.indicator, v.numerator, v.denominator, v.value,
                   v.reported_by, _local(v.reported_at, tz), v.state, v.source, v.text])
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


def chart_label(row: IndicatorRow, verdict_label: str, lang: str = VI) -> str:
    """The text beside a bar: the result (never reading as the target when the verdict
    differs), the target and the verdict."""
    assert row.value is not None
    goal = fmt_target(row.target, row, milestone=False, lang=lang)
    value = with_unit(row.value, _factor(row), shown_decimals(row, row.value), lang)
    path = fmt_path_target(row, lang)
    if path and row.path is not None and row.path.verdict in PATH_KEYS:
        # a year between milestones is judged on its path first, the milestone beside it
        mark = "✓ " if row.path.verdict == ON_PATH else "✗ "
        milestone = _verdict_word(row.verdict, lang)
        return tr("doc.chart.label_road", lang, value=value, path=path,
                  verdict=mark + tr(PATH_KEYS[row.path.verdict], lang),
                  year=row.target.milestone_year if row.target else "", milestone=goal,
                  milestone_verdict=milestone.lower() if lang == VI else milestone)
    return tr("doc.chart.label", lang, value=value, target=goal, verdict=verdict_label)


def chart_verdict(row: IndicatorRow) -> str | None:
    """The verdict a bar is coloured by: its path's when the year is between milestones
    (on the path reads as met, behind it as not met), else its own."""
    if row.path is not None and row.path.verdict == ON_PATH:
        return DAT
    if row.path is not None and row.path.verdict == OFF_PATH:
        return KHONG_DAT
    return row.verdict


HIGHER, LOWER, WITHIN = "higher", "lower", "within"
BETTER = {"at_least": HIGHER, "above": HIGHER, "at_most": LOWER, "below": LOWER,
          "range": WITHIN}
BETTER_KEYS = {HIGHER: N_("doc.chart.higher"), LOWER: N_("doc.chart.lower"),
               WITHIN: N_("doc.chart.within")}
AXIS_KEYS = {100: N_("doc.chart.axis_percent"), 1000: N_("doc.chart.axis_per_mille"),
             100000: N_("doc.chart.axis_per_100000")}
LABEL_WIDTH, LABEL_LINES, TEXT_WIDTH = 42, 4, 46


@dataclass(frozen=True)
class ChartBar:
    """One indicator on the chart: what is drawn and what is written beside it."""

    code: str
    label: str  # the indicator's code and name, wrapped ("\n" between lines)
    value: float
    target: float  # the bound (the lower end of a range)
    target_max: float | None  # the upper end of a range target
    path_target: float | None  # this year's point on the road to the milestone
    verdict: str | None
    text: str  # the result, the target and the verdict, wrapped


@dataclass(frozen=True)
class ChartPanel:
    """Indicators judged the same way (higher, lower is better, within a range) and
    measured in the same unit, on one axis."""

    better: str  # HIGHER | LOWER | WITHIN
    factor: int  # 100 (%), 1000 (‰), 100000 (per 100,000)
    title: str
    axis: str  # the axis's words, with its unit
    top: float  # the axis's right end
    bars: list[ChartBar]


def _wrap(text: str, width: int, lines: int) -> list[str]:
    out = textwrap.wrap(text, width) or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = _short(out[-1] + " …", width)
    return out


def _axis_top(factor: int, highest: float) -> float:
    """The axis's right end: 100% when a share is near it, else a round step above the
    highest value or target (never 0, so that a row of zeros still has an axis)."""
    if factor == 100 and highest >= 50:
        return 100.0 if highest <= 100 else highest * 1.05
    if highest <= 0:
        return 1.0
    room = highest * 1.15
    step = 10 ** math.floor(math.log10(room))
    for m in (1, 2, 2.5, 5, 10):
        if room <= m * step:
            return m * step
    return room


def chart_panels(report: CommuneReport, *, include_sensitive: bool = True,
                 lang: str = VI) -> list[ChartPanel]:
    """What the chart draws, panel by panel: higher-is-better indicators apart from
    lower-is-better ones (and from those with a range), one panel per unit (%, ‰, per
    100,000), each bar labelled by its code and full name wrapped on up to four lines."""
    rows = _chartable(_rows(report, include_sensitive))
    groups: dict[tuple[str, int], list[IndicatorRow]] = {}
    for r in rows:
        assert r.target is not None
        groups.setdefault((BETTER[r.target.direction], _factor(r) or 100), []).append(r)
    styles = {DAT: "✓ ", KHONG_DAT: "✗ ", CHUA_DU: "? "}
    panels = []
    order = {HIGHER: 0, LOWER: 1, WITHIN: 2}
    for (better, factor), members in sorted(groups.items(),
                                            key=lambda kv: (order[kv[0][0]], kv[0][1])):
        bars = []
        for r in members:
            t = r.target
            assert t is not None and t.value is not None and r.value is not None
            verdict = styles.get(r.verdict or "", "") + _verdict_word(r.verdict, lang)
            label = "\n".join(_wrap(f"{r.code}. {_name(r, lang)}", LABEL_WIDTH, LABEL_LINES))
            bars.append(ChartBar(
                code=r.code, label=label, value=r.value, target=t.value,
                target_max=t.value_max if t.direction == "range" else None,
                path_target=r.path.target if r.path is not None else None,
                verdict=chart_verdict(r),
                text="\n".join(_wrap(chart_label(r, verdict, lang), TEXT_WIDTH, 3))))
        highest = max(max(b.value, b.target, b.target_max or 0, b.path_target or 0)
                      for b in bars)
        panels.append(ChartPanel(
            better=better, factor=factor, title=tr(BETTER_KEYS[better], lang),
            axis=tr(AXIS_KEYS.get(factor, AXIS_KEYS[100]), lang),
            top=_axis_top(factor, highest), bars=bars))
    labels = [b.label for p in panels for b in p.bars]
    if len(set(labels)) < len(labels):  # two names cut alike: write them in full
        names = {r.code: _name(r, lang) for r in rows}
        panels = [ChartPanel(p.better, p.factor, p.title, p.axis, p.top, [
            ChartBar(b.code, "\n".join(textwrap.wrap(f"{b.code}. {names[b.code]}",
                                                     LABEL_WIDTH)),
                     b.value, b.target, b.target_max, b.path_target, b.verdict, b.text)
            for b in p.bars]) for p in panels]
    return panels


def report_png(report: CommuneReport, *, include_sensitive: bool = True,
               lang: str = VI) -> bytes:
    """Result against target per numeric indicator, as a PNG (``chart_figure``)."""
    import matplotlib.pyplot as plt

    fig = chart_figure(report, include_sensitive=include_sensitive, lang=lang)
    out = io.BytesIO()
    try:
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out.getvalue()


def chart_figure(report: CommuneReport, *, include_sensitive: bool = True,
                 lang: str = VI) -> Any:
    """The chart as a matplotlib figure (the caller closes it), drawn from ``chart_panels``.

    Higher-is-better and lower-is-better indicators in separate panels, one per unit, each
    with its axis and unit. The bar is the result and ends in a dot (so a 0 shows), the
    black diamond and line the target, a shaded band a target range, the blue triangle the
    year's point on the road to the milestone. Đạt, không đạt and chưa đủ differ by colour,
    hatching and a written label.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    panels = chart_panels(report, include_sensitive=include_sensitive, lang=lang)
    colours = {DAT: ("#2e7d32", ""), KHONG_DAT: ("#c62828", "///"), CHUA_DU: ("#9e9e9e", ".."),
               None: ("#9e9e9e", "..")}
    # inches: each panel's rows are as tall as its longest label needs, plus its title and
    # its axis; the figure's title above, the legend below
    head, axis, gap, top_room, legend_room = 0.35, 0.55, 0.3, 0.55, 0.5
    rows_in = [max(0.36, 0.16 * max(max(b.label.count("\n"), b.text.count("\n")) + 1
                                   for b in p.bars) + 0.1) for p in panels]
    blocks = [head + len(p.bars) * h + axis for p, h in zip(panels, rows_in, strict=True)]
    total = top_room + sum(blocks) + gap * max(len(blocks) - 1, 0) + legend_room + \
        (0 if panels else 1.0)
    rc = {"font.family": "DejaVu Sans", "text.parse_math": False}  # "Xã $\frac{1}$" is a name
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(13, total), dpi=110)
        fig.text(0.02, 1 - 0.3 / total, tr("doc.chart.title", lang,
                                           commune=report.commune.name, year=report.year),
                 fontsize=12, va="center")
        if not panels:
            fig.text(0.5, 0.5, tr("doc.chart.empty", lang), ha="center", va="center")
        y = total - top_room
        for p, block in zip(panels, blocks, strict=True):
            plot = block - head - axis
            ax = fig.add_axes((0.31, (y - head - plot) / total, 0.35, plot / total))
            _draw_panel(ax, p, colours, Rectangle)
            y -= block + gap
        road = any(b.path_target is not None for p in panels for b in p.bars)
        words = {DAT: tr("doc.chart.legend_dat_path", lang) if road else _verdict_word(DAT, lang),
                 KHONG_DAT: (tr("doc.chart.legend_khong_dat_path", lang) if road
                             else _verdict_word(KHONG_DAT, lang)),
                 CHUA_DU: _verdict_word(CHUA_DU, lang)}
        handles = [Patch(facecolor=colours[k][0], hatch=colours[k][1], edgecolor="black",
                         label=words[k]) for k in (DAT, KHONG_DAT, CHUA_DU)]
        handles.append(plt.Line2D([], [], marker="D", color="black", linestyle="None",
                                  label=tr("doc.chart.target", lang)))
        if any(b.target_max is not None for p in panels for b in p.bars):
            handles.append(Patch(facecolor="#1565c0", alpha=0.18, edgecolor="#1565c0",
                                 label=tr("doc.chart.range", lang)))
        if road:
            handles.append(plt.Line2D([], [], marker="v", color="#1565c0", linestyle="None",
                                      label=tr("doc.chart.path", lang)))
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9,
                   frameon=False, bbox_to_anchor=(0.5, 0.05 / total))
    return fig


def _draw_panel(ax: Any, p: ChartPanel, colours: dict, rectangle: Any) -> None:
    """One panel: bars, dots, targets, ranges and path marks on an axis with its unit (each
    mark named ``bar:CODE``, ``value:CODE``, ``target:CODE``, ``range:CODE``, ``path:CODE``)."""
    for y, b in enumerate(p.bars):
        colour, hatch = colours.get(b.verdict, colours[None])
        ax.barh(y, b.value, color=colour, hatch=hatch, edgecolor="black", linewidth=0.6,
                height=0.55)[0].set_gid(f"bar:{b.code}")
        # the result's own dot: a 0 is a dot on the axis, not nothing
        ax.plot([b.value], [y], marker="o", markersize=6, color=colour, linestyle="None",
                markeredgecolor="black", zorder=4, clip_on=False, gid=f"value:{b.code}")
        if b.target_max is not None:  # a range: the band between its two ends
            ax.add_patch(rectangle((b.target, y - 0.4), b.target_max - b.target, 0.8,
                                   facecolor="#1565c0", alpha=0.18, edgecolor="#1565c0",
                                   zorder=1, gid=f"range:{b.code}"))
        ax.vlines([b.target, *([b.target_max] if b.target_max is not None else [])],
                  y - 0.4, y + 0.4, colors="black", linewidth=1.5, zorder=5)
        ax.plot([b.target], [y], marker="D", color="black", markersize=6, zorder=5,
                linestyle="None", clip_on=False, gid=f"target:{b.code}")
        if b.path_target is not None:
            ax.plot([b.path_target], [y - 0.42], marker="v", color="#1565c0", markersize=9,
                    linestyle="None", zorder=6, clip_on=False, gid=f"path:{b.code}")
        ax.text(1.02, y, b.text, va="center", fontsize=8.5, transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(p.bars)))
    ax.set_yticklabels([b.label for b in p.bars], fontsize=8.5)
    ax.set_ylim(len(p.bars) - 0.5, -0.6)
    ax.set_xlim(0, p.top)
    ax.set_xlabel(p.axis, fontsize=9)
    ax.set_title(f"{p.title} — {p.axis}", fontsize=10.5, loc="left", fontweight="bold")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# ------------------------------------------------------------------ chat


def report_text(report: CommuneReport, *, include_sensitive: bool = False,
                max_lines: int = 30, lang: str = VI) -> str:
    """A short summary for the chat: counts, then what needs care."""
    rows = _rows(report, include_sensitive)
    c = report.completeness
    counts = {DAT: 0, KHONG_DAT: 0, CHUA_DU: 0}
    for r in rows:
        if r.verdict in counts:
            counts[r.verdict] += 1
    lines = [tr("doc.text.header", lang, year=report.year, commune=report.commune.name),
             tr("doc.text.units", lang, submitted=c.units_submitted,
                expected=c.units_expected, on_time=c.units_on_time, late=c.units_late),
             tr("doc.text.counts", lang, dat=counts[DAT], khong_dat=counts[KHONG_DAT],
                chua_du=counts[CHUA_DU])]
    for verdict in (KHONG_DAT, CHUA_DU):
        chosen = [r for r in rows if r.verdict == verdict]
        if chosen:
            lines.append(tr("doc.text.group", lang, verdict=_verdict_word(verdict, lang)))
            for r in chosen:
                lines.append(tr("doc.text.line", lang, code=r.code,
                                name=_short(_name(r, lang), 60),
                                value=fmt_value(r, detail=False, lang=lang),
                                target=fmt_target_cell(r, lang, sep="; ")))
                if r.path is not None and r.path.verdict in PATH_KEYS:
                    lines.append("   " + tr(PATH_KEYS[r.path.verdict], lang))
                projected = fmt_projection(r, lang)
                if projected:
                    lines.append("   " + projected)
    if c.missing_units:
        lines.append(tr("doc.text.missing", lang, names=", ".join(c.missing_units)))
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + ["…"]
    return "\n".join(lines)
