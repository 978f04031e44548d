"""The officer's page over real HTTP (uvicorn on loopback, a real database): who may open
what, completeness and Nhắc, the report with the figures of ``ctvbot report``, deadlines,
closing and reopening with a confirmation and a reason, upper levels side by side."""

from __future__ import annotations

import gzip
import json
import re
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import Session, select

from bot import documents, service
from bot.context import command_event
from bot.i18n import render_reply
from bot.messenger import WEB_APP
from bot.web import auth
from bot.web import forms as store
from storage import aggregate, repo
from storage import web as web_store
from storage.kinds import Role
from storage.models import Round, RoundEvent
from tests.harness import TOKEN, TZ, invite, setup_commune
from tests.test_web import client, web  # noqa: F401 - the web app fixture

ROOT = Path(__file__).resolve().parents[1]


def second_commune(engine, tmp: Path) -> None:  # noqa: ANN001
    """Xã Xuân Hồng: a second commune of Tỉnh Ninh Bình on the same plan."""
    text = (ROOT / "communes/002_xuan_truong.yaml").read_text(encoding="utf-8")
    text = text.replace("code: xuan-truong", "code: xuan-hong").replace(
        "Xã Xuân Trường", "Xã Xuân Hồng")
    (tmp / "xuan_hong.yaml").write_text(text, encoding="utf-8")
    setup_commune(engine, str(tmp / "xuan_hong.yaml"))


def person(web, unit: str, role: Role, name: str) -> int:  # noqa: F811, ANN001
    """A web-only person with a role in a unit."""
    with Session(web.engine) as s:
        u = repo.find_unit(unit, session=s)
        p, _ = web_store.web_reporter(u, name, role, session=s)
        s.commit()
        return p.id


def chat_reporter(web, telegram_id: int, unit: str = "thon-hanh-thien"):  # noqa: F811, ANN001
    user = service.TgUser(telegram_id, "Lan", language_code="vi")
    service.handle(web.env, 9_500_000 + telegram_id, user,
                   service.StartCmd(invite(web.engine, unit)))
    return user


def session_of(web, person_id: int) -> str:  # noqa: F811, ANN001
    return store.open_session(web.engine, person_id, "link", web.clock())


async def fetch(web, token: str | None, method: str, path: str,  # noqa: F811, ANN001
                data: dict | None = None) -> tuple[int, str, bytes]:
    async with client() as http:
        if token:
            http.cookie_jar.update_cookies({"ctv_session": token})
        async with http.request(method, web.base + path, data=data,
                                allow_redirects=False) as r:
            body = await r.read()
            return r.status, r.headers.get("location", ""), body


def csrf(token: str | None) -> str:
    return auth.csrf_token(token or "none")


async def test_every_officer_route_follows_the_chat_rules(web, tmp_path):  # noqa: F811
    setup_commune(web.engine, "communes/001_nam_dong.yaml")
    second_commune(web.engine, tmp_path)
    ids = {"c": web.unit_id("xuan-truong"), "area": web.unit_id("ninh-binh")}
    tokens = {
        "stranger": None,
        "collaborator": session_of(web, web.reporter()),
        "other_officer": session_of(web, person(web, "huong-phu", Role.officer, "Anh Tư")),
        "officer": session_of(web, person(web, "xuan-truong", Role.officer, "Chị Hoa")),
        "upper": session_of(web, person(web, "ninh-binh", Role.officer, "Anh Sở")),
    }
    c = ids["c"]
    routes = {  # (method, path): status per person (a POST carries its CSRF token)
        ("GET", "/o"): {"stranger": 401, "collaborator": 403, "other_officer": 303,
                        "officer": 303, "upper": 200},
        ("GET", f"/o/{c}"): {"stranger": 401, "collaborator": 403, "other_officer": 403,
                             "officer": 200, "upper": 403},
        ("GET", f"/o/{c}/report"): {"stranger": 401, "collaborator": 403,
                                    "other_officer": 403, "officer": 200, "upper": 403},
        ("GET", f"/o/{c}/report.docx"): {"stranger": 401, "collaborator": 403,
                                         "other_officer": 403, "officer": 200, "upper": 403},
        ("GET", f"/o/{c}/report.xlsx"): {"stranger": 401, "collaborator": 403,
                                         "other_officer": 403, "officer": 200, "upper": 403},
        ("GET", f"/o/{c}/report.png"): {"stranger": 401, "collaborator": 403,
                                        "other_officer": 403, "officer": 200, "upper": 403},
        ("GET", f"/o/{c}/round"): {"stranger": 401, "collaborator": 403,
                                   "other_officer": 403, "officer": 200, "upper": 403},
        ("POST", f"/o/{c}/round"): {"stranger": 401, "collaborator": 403,
                                    "other_officer": 403, "officer": 200, "upper": 403},
        ("POST", f"/o/{c}/remind"): {"stranger": 401, "collaborator": 403,
                                     "other_officer": 403, "officer": 200, "upper": 403},
        ("GET", f"/o/area/{ids['area']}"): {"stranger": 401, "collaborator": 403,
                                            "other_officer": 403, "officer": 403,
                                            "upper": 200},
        ("GET", f"/o/area/{ids['area']}/report"): {"stranger": 401, "collaborator": 403,
                                                   "other_officer": 403, "officer": 403,
                                                   "upper": 200},
        ("GET", f"/o/area/{ids['area']}/report.docx"): {"stranger": 401, "collaborator": 403,
                                                        "other_officer": 403, "officer": 403,
                                                        "upper": 200},
        ("GET", f"/o/area/{c}"): dict.fromkeys(tokens, 403) | {"stranger": 401},
    }
    failures = []
    for (method, path), expected in routes.items():
        for who, status in expected.items():
            token = tokens[who]
            data = {"csrf": csrf(token), "action": "close"} if method == "POST" else None
            got, _, _ = await fetch(web, token, method, path, data)
            if got != status:
                failures.append((method, path, who, got, status))
    # a POST without its CSRF token is refused, even to the commune's officer
    for path in (f"/o/{c}/round", f"/o/{c}/remind"):
        got, _, _ = await fetch(web, tokens["officer"], "POST", path,
                                {"action": "close", "confirmed": "1", "reason": "x"})
        if got != 403:
            failures.append(("POST no csrf", path, "officer", got, 403))
    assert failures == []
    with Session(web.engine) as s:  # nothing was closed by all these presses
        assert s.exec(select(Round).where(Round.commune_id == c)).one().closed_at is None


async def test_an_officer_signs_in_on_the_officers_page(web):  # noqa: F811
    officer = person(web, "xuan-truong", Role.officer, "Chị Hoa")
    async with client() as http, http.post(web.link(officer), data={"go": "1"}) as r:
        assert r.status == 200
        assert r.url.path == f"/o/{web.unit_id('xuan-truong')}"
        html = await r.text()
    assert "Tiến độ" in html and "Thôn Hành Thiện" in html
    # a reporter still lands on the form
    async with client() as http, http.post(web.link(web.reporter()), data={"go": "1"}) as r:
        assert r.url.path.startswith("/form/")


async def test_progress_shows_who_is_late_and_nhac_follows_the_chats_rules(web):  # noqa: F811
    c = web.unit_id("xuan-truong")
    officer = person(web, "xuan-truong", Role.officer, "Chị Hoa")
    token = session_of(web, officer)
    chat_reporter(web, 7_401)  # Thôn Hành Thiện, reachable in the chat
    web.reporter("xuan-truong/tram-y-te", "Chị Mai")  # web only: cannot be nudged
    web.clock.now = datetime(2026, 11, 12, 3, 0, tzinfo=UTC)  # after the units' deadline
    school = web.reporter("xuan-truong/mam-non", "Cô Thu")
    school_id = web.unit_id("xuan-truong/mam-non")
    store.save(web.engine, school, school_id, "vi", {}, {}, today=web.env.today(), tz=TZ,
               now=web.clock(), send=True)  # sent, two days late
    status, _, body = await fetch(web, token, "GET", f"/o/{c}")
    html = body.decode()
    assert status == 200
    row = re.search(r'<tr data-unit="(\d+)" data-state="(\w+)">\s*'
                    r'<td><b><a href="/form/\d+">Thôn Hành Thiện', html)
    assert row and row.group(2) == "late"
    assert "Trễ hạn" in html and "Chị Mai" in html and "Lan" in html
    sent = re.search(rf'<tr data-unit="{school_id}" data-state="(\w+)">(.*?)</tr>', html, re.S)
    assert sent.group(1) == "sent_late" and "Gửi muộn" in sent.group(2)
    assert "lúc 12/11 10:00" in sent.group(2)
    hamlet = row.group(1)
    # Nhắc for one unit: no bot runs beside this web app, so the officer is told
    status, _, body = await fetch(web, token, "POST", f"/o/{c}/remind",
                                  {"csrf": csrf(token), "unit": hamlet})
    assert status == 200 and "Bot không chạy cùng trang web này" in body.decode()
    # at night nobody is woken, even from the page
    web.clock.now = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)  # 22:00 in Vietnam
    status, _, body = await fetch(web, token, "POST", f"/o/{c}/remind",
                                  {"csrf": csrf(token)})
    assert "07:00" in body.decode() and "20:00" in body.decode()


async def test_deadlines_change_as_with_hanchot_and_closing_asks_for_a_reason(web):  # noqa: F811
    c = web.unit_id("xuan-truong")
    token = session_of(web, person(web, "xuan-truong", Role.officer, "Chị Hoa"))

    def rnd() -> Round:
        with Session(web.engine) as s:
            return s.exec(select(Round).where(Round.commune_id == c)).one()

    post = {"csrf": csrf(token), "action": "deadline"}
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round",
                             post | {"unit_deadline": "01/10/2026",
                                     "consolidation_deadline": "05/12/2026"})
    assert "đã qua" in body.decode() and rnd().unit_deadline == date(2026, 11, 10)
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round",
                             post | {"unit_deadline": "20/11/2026",
                                     "consolidation_deadline": "10/11/2026"})
    assert rnd().unit_deadline == date(2026, 11, 10)
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round",
                             post | {"unit_deadline": "20/11/2026",
                                     "consolidation_deadline": "10/12/2026",
                                     "days_before": "5, 2, 0"})
    assert "Đã đổi hạn" in body.decode()
    r = rnd()
    assert (r.unit_deadline, r.consolidation_deadline, r.reminder_days_before) == (
        date(2026, 11, 20), date(2026, 12, 10), [5, 2, 0])
    # close: the first press asks to confirm, with a reason
    close = {"csrf": csrf(token), "action": "close"}
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round", close)
    assert 'id="confirm"' in body.decode() and rnd().closed_at is None
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round",
                             close | {"confirmed": "1", "reason": "  "})
    assert "Hãy ghi lý do" in body.decode() and rnd().closed_at is None
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round",
                             close | {"confirmed": "1", "reason": "Đủ số liệu để gửi huyện"})
    assert "Đã chốt" in body.decode() and rnd().closed_at is not None
    # a closed round's deadlines no longer change
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round",
                             post | {"unit_deadline": "25/11/2026",
                                     "consolidation_deadline": "10/12/2026"})
    assert rnd().unit_deadline == date(2026, 11, 20)
    reopen = {"csrf": csrf(token), "action": "reopen", "confirmed": "1",
              "reason": "Trạm Y tế sửa số liệu"}
    _, _, body = await fetch(web, token, "POST", f"/o/{c}/round", reopen)
    assert "Đã mở lại" in body.decode() and rnd().closed_at is None
    with Session(web.engine) as s:
        events = [(e.action, e.reason) for e in s.exec(select(RoundEvent)
                                                       .order_by(RoundEvent.id))]
    assert events == [("close", "Đủ số liệu để gửi huyện"),
                      ("reopen", "Trạm Y tế sửa số liệu")]
    _, _, body = await fetch(web, token, "GET", f"/o/{c}/round")
    assert "Trạm Y tế sửa số liệu" in body.decode() and "Chị Hoa" in body.decode()


async def test_the_report_page_has_the_figures_of_ctvbot_report(web):  # noqa: F811
    c = web.unit_id("xuan-truong")
    token = session_of(web, person(web, "xuan-truong", Role.officer, "Chị Hoa"))
    user = chat_reporter(web, 7_402, "xuan-truong/tram-y-te")
    service.handle(web.env, 9_600_001, user, command_event("baocao"))
    with Session(web.engine) as s:
        rep = aggregate.build_report(c, 2026, session=s, tz=TZ)
    status, _, body = await fetch(web, token, "GET", f"/o/{c}/report")
    html = body.decode()
    assert status == 200
    for row in rep.rows:
        cell = re.search(rf'<tr data-code="{re.escape(row.code)}" data-verdict="(\w+)">'
                         r'.*?<td class="value"[^>]*>(.*?)</td>', html, re.S)
        assert cell, row.code
        assert cell.group(1) == (row.verdict or "none")
        assert cell.group(2) == documents.fmt_value(row, lang="vi").replace(
            "&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    status, _, docx = await fetch(web, token, "GET", f"/o/{c}/report.docx")
    assert status == 200 and docx[:2] == b"PK"
    _, _, xlsx = await fetch(web, token, "GET", f"/o/{c}/report.xlsx")
    _, _, png = await fetch(web, token, "GET", f"/o/{c}/report.png")
    assert xlsx[:2] == b"PK" and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, _ = await fetch(web, token, "GET", f"/o/{c}/report.pdf")
    assert status == 404
    assert len(gzip.compress(body)) < 100_000


async def test_an_upper_level_officer_sees_its_communes_side_by_side(web, tmp_path):  # noqa: F811
    second_commune(web.engine, tmp_path)
    token = session_of(web, person(web, "ninh-binh", Role.officer, "Anh Sở"))
    status, _, body = await fetch(web, token, "GET", "/o")
    html = body.decode()
    assert status == 200 and "Xã Xuân Trường" in html and "Xã Xuân Hồng" in html
    area = web.unit_id("ninh-binh")
    status, _, body = await fetch(web, token, "GET", f"/o/area/{area}/report")
    html = body.decode()
    assert status == 200 and "Tỉnh Ninh Bình" in html and 'data-code="' in html
    with Session(web.engine) as s:
        rep = aggregate.build_rollup(area, 2026, session=s, tz=TZ)
    assert sorted(u.name for u in rep.units) == ["Xã Xuân Hồng", "Xã Xuân Trường"]


async def test_tiendo_and_tonghop_carry_the_officers_page(web):  # noqa: F811
    user = service.TgUser(7_403, "Hoa", language_code="vi")
    service.handle(web.env, 9_700_001, user,
                   service.StartCmd(invite(web.engine, "xuan-truong", Role.officer)))
    # pages served over plain HTTP: a one-time sign-in link that lands on the page
    out = service.handle(web.env, 9_700_002, user, command_event("tiendo"))
    text = "\n".join(render_reply(r, out.locale)[0] for r in out.replies)
    assert "Trang cán bộ" in text
    found = re.search(r"http://web\.test(/login/\S+)", text)
    async with client() as http, http.post(web.base + found.group(1), data={"go": "1"}) as r:
        assert r.url.path == f"/o/{web.unit_id('xuan-truong')}"
    # over HTTPS, in Telegram: a Mini App button, under /tiendo and /tonghop alike
    secure = replace(web.env, web_url="https://ctv.example.vn")
    for n, word in enumerate(("tiendo", "tonghop")):
        out = service.handle(secure, 9_700_010 + n, user, command_event(word))
        buttons = [b for r in out.replies for row in r.buttons for b in row]
        assert [b.data for b in buttons if b.label.key == "web.o.page_button"] == [
            f"{WEB_APP}https://ctv.example.vn/app"], word


async def test_the_mini_app_opens_the_officers_page_for_an_officer(web):  # noqa: F811
    user = service.TgUser(7_404, "Hoa", language_code="vi")
    service.handle(web.env, 9_800_001, user,
                   service.StartCmd(invite(web.engine, "xuan-truong", Role.officer)))
    signed = auth.sign_init_data({"auth_date": str(int(time.time())),
                                  "user": json.dumps({"id": 7_404, "first_name": "Hoa"})},
                                 TOKEN)
    async with client() as http:
        async with http.post(f"{web.base}/app/session", data={"init_data": signed}) as r:
            assert (await r.json())["next"] == "/o"
        async with http.get(f"{web.base}/o") as r:
            assert r.url.path == f"/o/{web.unit_id('xuan-truong')}"
