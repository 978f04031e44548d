"""The reporter's form in a real browser: Debian's Chromium driven by Playwright, on a
360×740 phone screen, against the web app on loopback and a real database."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from sqlmodel import Session, select

from bot import service
from bot.context import command_event
from bot.i18n import render_reply
from bot.web import auth
from bot.web import forms as store
from storage.models import ReportedValue, Submission
from tests.harness import TZ, invite
from tests.test_web import _any_member, items, own_rate, web  # noqa: F401 - the web app fixture

CHROMIUM = "/usr/bin/chromium"
UPDATES = itertools.count(8_000_000)
DOCS = Path(__file__).resolve().parents[1] / "docs"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "vi-VN"}


@pytest.fixture
async def browser():
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        await b.close()


def join(web, telegram_id: int, unit: str = "thon-hanh-thien") -> service.TgUser:  # noqa: F811
    user = service.TgUser(telegram_id, "Lan", language_code="vi")
    service.handle(web.env, next(UPDATES), user, service.StartCmd(invite(web.engine, unit)))
    return user


def web_link(web, user: service.TgUser) -> str:  # noqa: F811
    out = service.handle(web.env, next(UPDATES), user, command_event("web"))
    return out.replies[0].lines[0].params["link"].replace("http://web.test", web.base)


def chat_text(web, user: service.TgUser, event) -> str:  # noqa: F811
    out = service.handle(web.env, next(UPDATES), user, event)
    return "\n".join(render_reply(r, out.locale)[0] for r in out.replies)


def page_rows(web, unit_id: int) -> list:  # noqa: F811
    """The form's rows as the page shows them: each shared population once (``@key``),
    before the first indicator using it, then the indicators."""
    person = _any_member(web, unit_id)
    view = store.form_view(web.engine, person, unit_id, "vi", today=web.env.today(), tz=TZ)
    return [row.item for row in view.rows]


async def fill(page, item, n: int) -> None:
    fs = page.locator(f'fieldset[data-code="{item.code}"]')
    if item.code.startswith("@"):  # a shared population: one field, a whole of every part
        await fs.locator("input").fill(str(1000 - n))
        await fs.locator("input").press("Tab")
    elif item.kind == "rate":
        for field, value in (("den", 100 + n), ("num", 90 + n)):
            box = fs.locator(f'input[name="v:{item.code}:{field}"]')
            if await box.count():  # not a field a shared population fills
                await box.fill(str(value))
                await box.press("Tab")
    elif item.kind in ("yes_no", "share_units"):
        await fs.locator('input[value="yes"]').check()
    elif item.kind == "task":
        await fs.locator("select").select_option("in_progress")
    else:
        await fs.locator(f'input[name="v:{item.code}:value"]').fill(str(n))
        await fs.locator(f'input[name="v:{item.code}:value"]').press("Tab")


async def wait_saved(web, unit_id: int, count: int, timeout: float = 60) -> None:  # noqa: F811
    deadline = time.monotonic() + timeout
    while True:
        with Session(web.engine) as s:
            rows = s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit_id)).all()
        done = [r for r in rows if r.value is not None or r.task_status is not None
                or (r.numerator is not None and r.denominator is not None)]
        if len(done) >= count:
            return
        assert time.monotonic() < deadline, f"{len(done)} of {count} saved"
        await asyncio.sleep(0.1)


async def test_a_reporter_fills_the_form_on_a_phone_through_a_lost_connection(web, browser,  # noqa: F811
                                                                              tmp_path):
    user = join(web, 7_301)
    unit = web.unit_id()
    its = items(web, unit)
    rows = page_rows(web, unit)
    assert len(rows) > len(its)  # the thôn's shared populations, each asked once
    half = len(rows) // 2
    first_half = sum(not r.code.startswith("@") for r in rows[:half])
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    sizes: list[int] = []
    page.on("response", lambda r: sizes.append(int(r.headers.get("content-length", "0")))
            if "/form/" in r.url and r.request.method == "GET" else None)
    await page.goto(web_link(web, user))
    await page.get_by_role("button").click()
    await page.wait_for_url("**/form/*")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways
    for n, item in enumerate(rows[:half]):
        await fill(page, item, n)
    await wait_saved(web, unit, first_half)
    await context.set_offline(True)  # the connection drops half-way
    for n, item in enumerate(rows[half:], half):
        await fill(page, item, n)
    await page.locator("fieldset .ok.bad").first.wait_for()  # "not saved yet"
    await context.set_offline(False)
    await page.reload()
    await wait_saved(web, unit, len(its))  # the figures kept in the phone are saved now
    await page.reload()
    for n, item in enumerate(rows):
        box = page.locator(f'input[name="v:{item.code}:num"]')
        if item.kind == "rate" and await box.count():
            assert await box.input_value() == str(90 + n)
    await page.evaluate("window.scrollTo(0, 0)")
    # CTVBOT_SCREENSHOTS=1 refreshes the picture in docs/
    shot = DOCS if os.environ.get("CTVBOT_SCREENSHOTS") else tmp_path
    await page.screenshot(path=shot / "web-form.png", full_page=False)
    assert (shot / "web-form.png").stat().st_size > 10_000
    await page.get_by_role("button", name="Gửi báo cáo").click()
    await page.wait_for_url("**sent=1")
    assert "Đã gửi báo cáo" in await page.locator("#notice").inner_text()
    await context.close()
    assert sizes and max(sizes) < 100_000, sizes  # the form page, as transferred
    with Session(web.engine) as s:
        assert s.exec(select(Submission).where(Submission.unit_id == unit)).one()
    status = chat_text(web, user, command_event("tinhtrang"))
    assert f"{len(its)}/{len(its)}" in status and "Báo cáo đã gửi" in status, status
    report = chat_text(web, user, command_event("baocao"))
    rate_n = next(n for n, i in enumerate(rows) if i.code == own_rate(web, unit).code)
    assert f"{90 + rate_n}/{100 + rate_n}" in report, report
    # 8.1 counts the two shared populations: the chat shows the figures typed once
    pops = [n for n, i in enumerate(rows) if i.code.startswith("@")]
    whole = f"{1000 - pops[0]:,}".replace(",", ".")  # as Vietnamese write 1.000
    assert f"{1000 - pops[1]}/{whole}" in report, report


async def test_the_browser_is_refused_what_it_may_not_do(web, browser):  # noqa: F811
    user = join(web, 7_302)
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    # a Mini App opened with forged data
    fields = {"auth_date": str(int(time.time())), "user": json.dumps({"id": 7_302})}
    forged = auth.sign_init_data(fields, "999:not-this-bot")
    await page.goto(f"{web.base}/app#tgWebAppData={forged}")
    await page.get_by_text("không xác nhận được").wait_for()
    assert "/form" not in page.url
    # an expired link
    late = web_link(web, user)
    web.clock.now = web.clock.now.replace(hour=web.clock.now.hour + 1)
    response = await page.goto(late)
    assert response.status == 410 and "hết hạn" in await page.content()
    # a link used twice
    link = web_link(web, user)
    await page.goto(link)
    await page.get_by_role("button").click()
    await page.wait_for_url("**/form/*")
    csrf = await page.locator('input[name="csrf"]').input_value()
    other = await context.new_page()
    response = await other.goto(link)
    assert response.status == 410 and "đã được dùng" in await other.content()
    # another unit's form
    response = await page.goto(f"{web.base}/form/{web.unit_id('xuan-truong/tram-y-te')}")
    assert response.status == 403 and "không có quyền" in await page.content()
    # a POST without its CSRF token, then with it
    unit = web.unit_id()
    code = own_rate(web, unit).code
    statuses = await page.evaluate("""async ([unit, code, csrf]) => {
        const post = async (b) => (await fetch("/form/" + unit + "/field",
            {method: "POST", body: new URLSearchParams(b)})).status;
        return [await post({["v:" + code + ":den"]: "10"}),
                await post({csrf: csrf, ["v:" + code + ":den"]: "10"})];
    }""", [unit, code, csrf])
    assert statuses == [403, 200]
    with Session(web.engine) as s:
        assert [r.denominator for r in s.exec(select(ReportedValue))] == [10]
    await context.close()
