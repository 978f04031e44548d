"""The road to the next milestone in every face: a year between milestones is judged against
its point on the straight path (đúng / chậm lộ trình) with the milestone's own target beside
it, and each figure is projected to the next milestone along the commune's trend (JSON,
Word, Excel, chart, /tonghop)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import service
from bot.documents import notes_for, report_docx, report_png, report_text, report_xlsx
from bot.i18n import fmt_param, render_reply
from flows.effects import TargetText
from flows.rules import KHONG_DAT, OFF_PATH, ON_PATH, P_NO_REFERENCE
from storage import repo
from storage.aggregate import raw_values, report_json
from storage.kinds import Role
from storage.models import Indicator
from tests.harness import invite
from tests.harness import setup_commune as setup_for_chat
from tests.test_aggregate import TZ, Commune, row, setup_commune


def _two_years(xt: Commune, now: tuple[int, int] = (9756, 10000)) -> None:
    """Plan 002's 5.2 (≥ 98% in 2030, no 2026 target): 97,2% in 2025, then ``now``."""
    xt.save("tram-y-te", "5.2", year=2025, numerator=972, denominator=1000)
    xt.save("tram-y-te", "5.2", numerator=now[0], denominator=now[1])


def test_a_year_between_milestones_is_judged_on_the_road(session: Session) -> None:
    xt = setup_commune(session)
    _two_years(xt)
    r = row(xt.report(), "5.2")
    assert r.target.milestone_year == 2030 and r.verdict == KHONG_DAT  # 97,56% < 98%
    assert (r.path.target, r.path.verdict, r.path.reference_year) == (97.36, ON_PATH, 2025)
    assert r.projection.year == 2030 and r.projection.years == 2
    assert abs(r.projection.value - 99.0) < 1e-9  # +0,36 a year for 4 more years
    data = next(i for i in report_json(xt.report())["indicators"] if i["code"] == "5.2")
    assert (data["path_target"], data["path_verdict"]) == (97.36, "dung_lo_trinh")
    assert (data["projection"], data["projection_years"], data["projection_verdict"]) == \
        (99.0, 2, "dat")
    slow = setup_commune(session, code="xt-slow", name="Xã Chậm")
    _two_years(slow, now=(9730, 10000))  # 97,30% < 97,36%: behind
    assert row(slow.report(), "5.2").path.verdict == OFF_PATH


def test_the_first_year_says_why_there_is_no_path(session: Session) -> None:
    xt = setup_commune(session)
    xt.save("tram-y-te", "5.2", numerator=9756, denominator=10000)
    r = row(xt.report(), "5.2")
    assert r.path.reason == P_NO_REFERENCE and r.path.target is None
    assert r.projection is None  # one year is no trend
    notes = "; ".join(notes_for(r))
    assert "chưa có lộ trình" in notes and "dự kiến" not in notes
    assert "no path yet" in "; ".join(notes_for(r, "en"))


def test_word_excel_chart_and_text_show_the_path_and_the_projection(session: Session) -> None:
    xt = setup_commune(session)
    _two_years(xt)
    rep = xt.report()
    doc = Document(io.BytesIO(report_docx(rep, include_sensitive=True, tz=TZ)))
    cells = next([c.text for c in r.cells] for t in doc.tables for r in t.rows
                 if r.cells[0].text == "5.2")
    assert "Lộ trình 2026: ≥ 97,36%" in cells[2] and "≥ 98% (theo mốc 2030)" in cells[2]
    assert cells[5] == "Đúng lộ trình (mốc 2030: không đạt)"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "dự kiến 2030: 99% — đạt nếu giữ nhịp hiện nay (theo 2 năm số liệu)" in text

    wb = load_workbook(io.BytesIO(report_xlsx(rep, raw_values(rep, session=session), tz=TZ)))
    ws = wb["Tổng hợp"]
    head = [c.value for c in ws[1]]
    line = next(dict(zip(head, r, strict=True)) for r in ws.iter_rows(min_row=2)
                if r[1].value == "5.2")
    assert line["Lộ trình năm nay"].value == 97.36 and line["Lộ trình năm nay"].data_type == "n"
    assert line["Đánh giá lộ trình"].value == "Đúng lộ trình"
    assert line["Dự kiến tại mốc"].value == 99.0 and line["Số năm số liệu"].value == 2
    assert head[-1] == "Ghi chú"

    assert report_png(rep)[:8] == b"\x89PNG\r\n\x1a\n"
    en = report_text(rep, lang="en")
    assert "On track" in en or "projected 2030" in en


def test_the_chat_summary_marks_the_road(engine: Engine) -> None:
    setup_for_chat(engine)
    env = service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                      now=lambda: datetime(2026, 11, 20, 2, tzinfo=UTC))
    hoa = service.TgUser(71_002, "Hoa", language_code="vi")
    service.handle(env, 1, hoa, service.StartCmd(invite(engine, "xuan-truong",
                                                        role=Role.officer)))
    with Session(engine) as s:
        xt = repo.find_unit("xuan-truong", session=s)
        station = repo.find_unit("xuan-truong/tram-y-te", session=s)
        ind = s.exec(select(Indicator).where(Indicator.code == "5.2")).one()
        rnd = repo.open_round(xt.id, session=s)
        c = Commune(s, xt, rnd.plan_id)
        old = c.round(2025)
        for r, num, den in ((old, 972, 1000), (rnd, 9756, 10000)):
            repo.save_value(session=s, round_id=r.id, unit_id=station.id, indicator_id=ind.id,
                            person_id=None, numerator=num, denominator=den)
            repo.submit(r.id, station.id, person_id=None, session=s)
        s.commit()
    out = service.handle(env, 2, hoa, service.SummaryCmd())
    text, _ = render_reply(out.replies[0], "vi")
    lines = text.splitlines()
    at = next(n for n, ln in enumerate(lines) if ln.split()[1:2] == ["5.2"])
    assert lines[at].startswith("✅"), lines[at]  # on the road, though 2030 is not reached
    assert "lộ trình 2026: ≥ 97,36% — đúng lộ trình; mốc 2030: không đạt" in lines[at + 1]
    assert "dự kiến 2030: 99% — đạt nếu giữ nhịp hiện nay (2 năm số liệu)" in lines[at + 2]
    en, _ = render_reply(out.replies[0], "en")
    assert "path 2026: ≥ 97.36% — on track; 2030 milestone: not met" in en


def test_a_target_is_printed_as_written() -> None:
    # plan 001 chỉ tiêu 9: "≤ 621,9/100.000", never "≤ 622/100.000" beside a ❌
    shown = fmt_param(TargetText("at_most", 621.9, None, 100000), "vi")
    assert "621,9" in shown and "622" not in shown
    assert "124,378" in fmt_param(TargetText("below", 124.378, None, 100000), "vi")


def test_a_name_with_mathtext_characters_is_drawn_as_text(session: Session) -> None:
    xt = setup_commune(session, code="xa-frac", name="Xã $\\frac{1}$")
    _two_years(xt)
    assert report_png(xt.report())[:8] == b"\x89PNG\r\n\x1a\n"  # used to raise in mathtext
