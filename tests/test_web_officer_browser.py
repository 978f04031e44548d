"""The officer's page in a real browser: Debian's Chromium driven by Playwright on a 360×740
phone screen, the web app served beside a real bot polling the local Bot API, a real
database. The reporter gets the officer's "Nhắc" in the chat."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from sqlmodel import Session, select

from bot import documents
from bot.context import Env
from bot.web import forms as store
from bot.web.app import WebConfig, build_web_app
from storage import aggregate, repo
from storage import web as web_store
from storage.kinds import Role
from storage.models import Round
from tests.harness import TOKEN, TZ, BotProcess, Clock, invite, say, setup_commune
from tests.test_web import _serve
from tests.test_web_browser import CHROMIUM, PHONE, browser  # noqa: F401 - the fixture
from tests.test_web_officer import second_commune

DOCS = Path(__file__).resolve().parents[1] / "docs"


def web_person(engine, unit: str, role: Role, name: str) -> int:  # noqa: ANN001
    with Session(engine) as s:
        p, _ = web_store.web_reporter(repo.find_unit(unit, session=s), name, role, session=s)
        s.commit()
        return p.id


def link(engine, base: str, person_id: int, clock: Clock) -> str:  # noqa: ANN001
    with Session(engine) as s:
        token = web_store.create_link(person_id, session=s, now=clock())
        s.commit()
    return f"{base}/login/{token}"


def docx_tables(data: bytes) -> list[list[str]]:
    doc = Document(io.BytesIO(data))
    return [[c.text for row in t.rows for c in row.cells] for t in doc.tables]


async def test_an_officer_follows_the_round_in_a_browser(api, db_url, engine, browser,  # noqa: F811
                                                         tmp_path):
    setup_commune(engine)
    second_commune(engine, tmp_path)
    # 11/11/2026 10:00 in Vietnam: the units' deadline (10/11) has passed
    clock = Clock(datetime(2026, 11, 11, 3, 0, tzinfo=UTC))
    bot = await BotProcess(api, db_url, clock).start()
    await asyncio.sleep(0.5)  # the reminders' catch-up at start: nobody to remind yet
    env = Env(engine=engine, tz=TZ, bot_username="b", now=clock, web_url="http://web.test")
    app = build_web_app(env, WebConfig(public_url="http://web.test", bot_token=TOKEN),
                        application=bot.app)
    base, server, task = await _serve(app)
    try:
        # Lan, the collaborator of Thôn Hành Thiện, joined in the chat; the health station
        # entered part of its figures in the form without sending
        lan = api.user(TOKEN, 7_501, "Lan", language_code="vi", started=True)
        await say(lan, f"/start {invite(engine, 'xuan-truong/thon-hanh-thien')}")
        station = web_person(engine, "xuan-truong/tram-y-te", Role.agency, "Chị Mai")
        with Session(engine) as s:
            station_id = repo.find_unit("xuan-truong/tram-y-te", session=s).id
        view = store.form_view(engine, station, station_id, "vi", today=env.today(), tz=TZ)
        rate = next(r.item for r in view.rows if r.item.kind == "rate")
        store.save(engine, station, station_id, "vi",
                   {rate.code: {"den": "120", "num": "114"}}, {}, today=env.today(), tz=TZ,
                   now=clock())
        officer = web_person(engine, "xuan-truong", Role.officer, "Chị Hoa")

        context = await browser.new_context(**PHONE, accept_downloads=True)
        page = await context.new_page()
        sizes: dict[str, int] = {}
        page.on("response", lambda r: sizes.__setitem__(r.url.split("/o/", 1)[-1],
                                                        int(r.headers.get("content-length", 0)))
                if "/o" in r.url and r.request.method == "GET" else None)
        # signs in by link and lands on the progress of the commune
        await page.goto(link(engine, base, officer, clock))
        await page.get_by_role("button").click()
        await page.wait_for_url("**/o/*")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        late = page.locator('tr[data-state="late"]', has_text="Thôn Hành Thiện")
        await late.wait_for()
        assert "Trễ hạn" in await late.inner_text()
        assert "Chị Mai" in await page.locator("#units").inner_text()
        shot = DOCS if os.environ.get("CTVBOT_SCREENSHOTS") else tmp_path
        await page.screenshot(path=shot / "officer-progress.png", full_page=False)

        # Nhắc for Thôn Hành Thiện: Lan gets it in the chat
        seen = len(lan.messages())
        await late.get_by_role("button", name="Nhắc").click()
        await page.get_by_text("Đang gửi lời nhắc").wait_for()
        await api.wait_until(lambda: len(lan.messages()) > seen, timeout=20,
                             what="the nudge to reach Lan")
        nudge = lan.messages()[-1].content
        assert "Thôn Hành Thiện" in nudge and "Chị Hoa" in nudge, nudge
        # a second press within the hour is not sent again
        await page.locator('tr[data-state="late"]', has_text="Thôn Hành Thiện").get_by_role(
            "button", name="Nhắc").click()
        await page.get_by_text("Đã nhắc trong vòng một giờ qua").wait_for()

        # changes a deadline
        await page.get_by_role("link", name="Đợt báo cáo").click()
        await page.locator("#unit_deadline").fill("20/11/2026")  # the units get more time
        await page.locator("#consolidation_deadline").fill("15/12/2026")
        await page.get_by_role("button", name="Lưu hạn chót").click()
        await page.get_by_text("Đã đổi hạn").wait_for()
        with Session(engine) as s:
            rnd = s.exec(select(Round).where(Round.commune_id == repo.find_unit(
                "xuan-truong", session=s).id)).one()
            assert str(rnd.consolidation_deadline) == "2026-12-15"

        # downloads the Word report: the figures of `ctvbot report`
        await page.get_by_role("link", name="Báo cáo", exact=True).click()
        await page.locator("#report").wait_for()
        assert "114/120" in await page.locator("#report").inner_text()
        await page.screenshot(path=shot / "officer-report.png", full_page=False)
        async with page.expect_download() as got:
            await page.locator("#get-docx").click()
        download = await got.value
        data = Path(await download.path()).read_bytes()
        with Session(engine) as s:
            rep = aggregate.build_report(rnd.commune_id, 2026, session=s, tz=TZ)
        expected = documents.report_docx(rep, include_sensitive=True, tz=TZ, lang="vi")
        assert docx_tables(data) == docx_tables(expected)
        assert any("114/120" in cell for t in docx_tables(data) for cell in t)

        # closes the round, with a confirmation and the reason
        await page.get_by_role("link", name="Đợt báo cáo").click()
        await page.locator("#close").click()
        await page.locator("#reason").fill("Đủ số liệu, gửi tỉnh")
        await page.get_by_role("button", name="Chốt số liệu").click()
        await page.get_by_text("Đã chốt đợt báo cáo").wait_for()
        assert "Đủ số liệu, gửi tỉnh" in await page.locator("#history").inner_text()
        with Session(engine) as s:
            assert s.get(Round, rnd.id).closed_at is not None
        await context.close()
        for path, size in sizes.items():
            assert size < 100_000, (path, size)
        print("officer pages, gzipped bytes:", sizes)

        # an upper-level officer sees the two communes side by side
        upper = web_person(engine, "ninh-binh", Role.officer, "Anh Sở")
        context = await browser.new_context(**PHONE)
        page = await context.new_page()
        await page.goto(link(engine, base, upper, clock))
        await page.get_by_role("button").click()
        await page.wait_for_url("**/o")
        rows = page.locator("table.area tbody tr")
        assert await rows.count() == 2
        text = await page.locator("table.area").inner_text()
        assert "Xã Xuân Trường" in text and "Xã Xuân Hồng" in text
        await page.locator("a.rollup").first.click()
        await page.locator("#report").wait_for()
        await context.close()
    finally:
        server.should_exit = True
        await task
        await bot.stop()
