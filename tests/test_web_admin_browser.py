"""The officer's administration pages in a real browser (Debian's Chromium driven by
Playwright, a 360 px phone): sign in by link, add a hamlet, print its invitation (its QR
code holds the link that joins it), upload a paper report with a bad line (refused, nothing
saved) then a good one (saved; the chat shows it)."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from sqlmodel import Session, select

from bot import service
from bot.context import command_event
from bot.web.admin import qr_svg
from storage.models import ReportedValue, Unit
from tests.test_web import web as web  # noqa: F401 - the web app fixture
from tests.test_web_admin import hamlet_rows, paper
from tests.test_web_browser import DOCS, PHONE, chat_text, join, web_link
from tests.test_web_browser import browser as browser  # noqa: F401 - the browser fixture

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def svg_paths(svg: str) -> list[str]:
    """The drawing of a QR code: its path data, whatever the serialisation."""
    return re.findall(r'\sd="([^"]+)"', svg)


async def test_an_officer_adds_a_hamlet_prints_its_invitation_and_enters_a_paper_report(
        web, browser, tmp_path):  # noqa: F811
    officer = join(web, 7_401, "xuan-truong")
    lan = join(web, 7_402)  # the collaborator of Thôn Hành Thiện
    with Session(web.engine) as s:
        commune = s.exec(select(Unit).where(Unit.code == "xuan-truong")).one()
        hamlet = s.exec(select(Unit).where(Unit.code == "xuan-truong/thon-hanh-thien")).one()
    shot = DOCS if os.environ.get("CTVBOT_SCREENSHOTS") else tmp_path
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    sizes: dict[str, int] = {}

    def measure(response) -> None:  # noqa: ANN001
        path = urlsplit(response.url).path
        if path.startswith("/o/"):
            key = f"{response.request.method} {path}"
            sizes[key] = max(sizes.get(key, 0), int(response.headers.get("content-length",
                                                                          "0")))

    page.on("response", measure)
    await page.goto(web_link(web, officer))
    await page.get_by_role("button").click()
    await page.wait_for_url(f"**/o/{commune.id}")  # an officer lands on the progress page

    # units: add a hamlet
    await page.goto(f"{web.base}/o/{commune.id}/units")
    await page.fill("#add-name", "Thôn Mới")
    await page.select_option("#add-kind", "hamlet")
    await page.get_by_role("button", name="Thêm", exact=True).click()
    await page.locator('.u[data-code="thon-moi"]').wait_for()
    assert "xuan-truong/thon-moi (Thôn Mới)" in await page.locator(".notice").inner_text()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=shot / "officer-units.png")

    # invitations: a new sheet, one per unit; the new hamlet's QR code holds its link
    await page.goto(f"{web.base}/o/{commune.id}/invitations")
    await page.get_by_role("button", name="Tạo giấy mời mới").click()
    card = page.locator(".card", has_text="Thôn Mới")
    await card.wait_for()
    link = await card.get_attribute("data-link")
    assert link.startswith("https://t.me/b?start=")
    drawn = await card.locator("svg").evaluate("e => e.outerHTML")
    assert svg_paths(drawn) == svg_paths(qr_svg(link)) != []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=shot / "officer-invitations.png")
    await page.emulate_media(media="print")
    pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
    (tmp_path / "invitations.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", pdf)
    assert boxes and all(abs(float(w) - 595) < 2 and abs(float(h) - 842) < 2
                         for w, h in boxes), boxes  # A4, from the page's own CSS
    await page.emulate_media(media="screen")
    # the printed code joins the new hamlet in the chat
    hoa = service.TgUser(7_403, "Hoa", language_code="vi")
    service.handle(web.env, 8_400_001, hoa, service.StartCmd(link.rsplit("=", 1)[1]))
    assert "Thôn Mới" in chat_text(web, hoa, command_event("tinhtrang"))

    # a paper report: one bad line refuses the whole file, then the good one is saved
    await page.goto(f"{web.base}/o/{commune.id}/paper")
    await page.set_input_files("#file", files=[{
        "name": "bao-cao-giay.xlsx", "mimeType": XLSX,
        "buffer": paper(hamlet_rows(web, good=False))}])
    await page.get_by_role("button", name="Kiểm tra tệp").click()
    await page.locator("#problems").wait_for()
    assert "Dòng 3:" in await page.locator("#problems").inner_text()
    with Session(web.engine) as s:
        assert s.exec(select(ReportedValue).where(
            ReportedValue.unit_id == hamlet.id)).all() == []
    good = hamlet_rows(web)
    await page.set_input_files("#file", files=[{
        "name": "bao-cao-giay.xlsx", "mimeType": XLSX, "buffer": paper(good)}])
    await page.get_by_role("button", name="Kiểm tra tệp").click()
    await page.locator("#preview").wait_for()
    assert await page.locator("#preview tr").count() == len(good) + 1
    await page.get_by_role("button", name="Lưu tất cả").click()
    await page.get_by_text("ghi là do cán bộ nhập").wait_for()
    await context.close()
    with Session(web.engine) as s:
        saved = s.exec(select(ReportedValue).where(ReportedValue.unit_id == hamlet.id)).all()
    assert len(saved) == len(good) and {v.source for v in saved} == {"officer"}
    status = chat_text(web, lan, command_event("tinhtrang"))
    assert f"{len(good)}/{len(good)}" in status, status
    print("page sizes (bytes transferred):", sizes)
    assert sizes and max(sizes.values()) < 100_000, sizes
