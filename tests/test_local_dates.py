"""Dates are shown in the commune's time zone, and an officer's documents are in their
language: end to end through the local Bot API (and the documents opened again)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlmodel import Session

from bot.settings import Settings, local_date
from storage import repo
from storage.kinds import Role
from tests.harness import (
    TOKEN,
    TZ,
    BotProcess,
    Clock,
    invite,
    newest,
    say,
    setup_commune,
    tap,
)

CLOSED_AT = datetime(2026, 11, 30, 19, 29, tzinfo=UTC)  # 02:29 on 01/12 in Ho Chi Minh City


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))


@pytest.fixture
async def bot(api, db_url, engine, clock):
    setup_commune(engine)
    proc = await BotProcess(api, db_url, clock).start()
    yield proc
    await proc.stop()


def test_a_moment_falls_on_its_local_date() -> None:
    assert local_date(CLOSED_AT, TZ) == date(2026, 12, 1)
    assert CLOSED_AT.date() == date(2026, 11, 30)  # the UTC date the chat used to show
    assert Settings(timezone="UTC").tz.key == "UTC"
    assert local_date(CLOSED_AT, Settings(timezone="UTC").tz) == date(2026, 11, 30)


async def test_a_round_closed_after_midnight_shows_the_local_day(api, bot, engine, clock):
    """Closed at 02:29 on 01/12 local (19:29 UTC on 30/11): every message says 01/12."""
    hoa = api.user(TOKEN, 9601, "Hoa", language_code="vi")
    await say(hoa, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    lan = api.user(TOKEN, 9602, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    clock.now = CLOSED_AT
    await say(hoa, "/chot")
    out = await tap(hoa, "🔒 Chốt số liệu")
    assert "01/12/2026" in "\n".join(out)
    clock.now = CLOSED_AT + timedelta(days=1)
    out = "\n".join(await say(lan, "/baocao"))
    assert "đã được chốt ngày 01/12/2026" in out, out
    assert "30/11/2026" not in out
    assert "đã chốt từ ngày 01/12/2026" in "\n".join(await say(hoa, "/chot"))
    assert "đã chốt ngày 01/12/2026" in "\n".join(await say(hoa, "/tiendo"))
    with Session(engine) as s:  # stored in UTC
        rnd = repo.open_round(repo.find_unit("xuan-truong", session=s).id, session=s) or \
            repo.round_for_year(repo.find_unit("xuan-truong", session=s).id, 2026, session=s)
        assert rnd.closed_at.astimezone(UTC) == CLOSED_AT


def _docs(user) -> dict[str, bytes]:  # noqa: ANN001
    return {m.document.filename.rsplit(".", 1)[1]: m.document.data
            for m in user.messages() if m.document}


def _word_text(data: bytes) -> tuple[list[str], str]:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for r in t.rows:
            parts += [c.text for c in r.cells]
    return [c.text for c in doc.tables[1].rows[0].cells], "\n".join(parts)


SENT_AT = datetime(2026, 11, 4, 18, 0, tzinfo=UTC)  # 01:00 on 05/11 in Ho Chi Minh City


async def _report_and_summary(api, engine, clock, lan_id: int, officer_id: int,  # noqa: ANN001, ANN202
                              code: str):
    clock.now = SENT_AT
    lan = api.user(TOKEN, lan_id, "Lan", language_code="vi")
    await say(lan, f"/start {invite(engine, 'thon-hanh-thien')}")
    await say(lan, "/baocao")
    for text in ["450", "12", "12", "11", "380", "3", "450", "2", "450", "0", "1", "4", "3"]:
        await say(lan, text)
    await tap(lan, "📨 Gửi báo cáo")
    officer = api.user(TOKEN, officer_id, "Officer", language_code=code)
    await say(officer, f"/start {invite(engine, 'xuan-truong', role=Role.officer)}")
    seen = newest(officer)
    await officer.send("/tonghop" if code == "vi" else "/summary")
    deadline = time.monotonic() + 60  # the first documents load their libraries
    while len(_docs(officer)) < 2 or not any(m.photo for m in officer.messages()):
        assert time.monotonic() < deadline, "no documents"
        await asyncio.sleep(0.05)
    chat = "\n".join(m.content or "" for m in officer.messages() if m.message_id > seen)
    return chat, _docs(officer)


async def test_an_english_officer_gets_english_documents(api, bot, engine, clock):
    chat, docs = await _report_and_summary(api, engine, clock, 9701, 9702, "en")
    assert "Units that sent their report: 1/14" in chat
    heads, text = _word_text(docs["docx"])
    assert heads == ["No.", "Indicator", "Target", "Result", "Last year", "Verdict"]
    assert "PEOPLE'S COMMITTEE" in text and "REPORT" in text and "ANNEX" in text
    assert "Not enough data" in text and "Recipients:" in text
    assert "2.67%\n(12/450)" in text  # English numbers
    assert "sent on 5 Nov 2026 (on time)" in text  # the local date, English style
    for vietnamese in ("Chỉ tiêu", "Đánh giá", "Chưa đủ số liệu", "Nơi nhận", "ngày"):
        assert vietnamese not in text, vietnamese
    wb = load_workbook(io.BytesIO(docs["xlsx"]))
    assert wb.sheetnames == ["Summary", "By unit", "Values"]
    head = [c.value for c in wb["Summary"][1]]
    assert head[:4] == ["Goal", "Code", "Indicator", "Unit of measure"]
    verdicts = {r[head.index("Verdict")].value for r in wb["Summary"].iter_rows(min_row=2)}
    assert "Not enough data" in verdicts and not any("Chưa" in (v or "") for v in verdicts)
    assert [c.value for c in wb["By unit"][1]][:6] == [
        "Unit code", "Unit", "Type", "Sent", "Sent on", "On time"]


async def test_a_vietnamese_officer_gets_vietnamese_documents(api, bot, engine, clock):
    chat, docs = await _report_and_summary(api, engine, clock, 9801, 9802, "vi")
    assert "Đơn vị đã gửi: 1/14" in chat
    heads, text = _word_text(docs["docx"])
    assert heads == ["STT", "Chỉ tiêu", "Kế hoạch", "Thực hiện", "Năm trước", "Đánh giá"]
    assert "2,67%\n(12/450)" in text and "đã gửi ngày 05/11/2026 (đúng hạn)" in text
    assert "Not enough data" not in text
    wb = load_workbook(io.BytesIO(docs["xlsx"]))
    assert wb.sheetnames == ["Tổng hợp", "Theo đơn vị", "Số liệu"]


def test_starting_the_bot_loads_no_document_library() -> None:
    """matplotlib, python-docx and openpyxl are imported when a document is made."""
    code = ("import sys, bot.app, bot.cli, bot.documents, bot.report_cli; "
            "print(sorted(m for m in ('matplotlib', 'docx', 'openpyxl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
