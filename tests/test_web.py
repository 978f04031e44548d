"""The web face over real HTTP (uvicorn on loopback, a real database): sign-in links, the
reporter's form with the chat's checks, who may open what, CSRF, the Mini App's initData,
the webhook route's limits, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, CookieJar
from sqlmodel import Session, select

from bot import service
from bot.context import Env, SimpleCmd, command_event
from bot.web import auth
from bot.web import forms as store
from bot.web.app import WebConfig, build_web_app
from bot.web.serve import bind, web_server
from storage import repo
from storage import web as web_store
from storage.models import ReportedValue, Round, Submission, ValueChange
from tests.harness import TOKEN, TZ, Clock, invite, setup_commune

SECRET = "web-test-secret"
HAMLET = "xuan-truong/thon-hanh-thien"


@dataclass
class Web:
    base: str
    env: Env
    clock: Clock
    engine: object
    app: object

    def link(self, person_id: int) -> str:
        with Session(self.engine) as s:
            token = web_store.create_link(person_id, session=s, now=self.clock())
            s.commit()
        return f"{self.base}/login/{token}"

    def unit_id(self, code: str = HAMLET) -> int:
        with Session(self.engine) as s:
            return repo.find_unit(code, session=s).id

    def reporter(self, code: str = HAMLET, name: str = "Chị Lan") -> int:
        with Session(self.engine) as s:
            u = repo.find_unit(code, session=s)
            person, _ = web_store.web_reporter(u, name, repo.default_role(u), session=s)
            s.commit()
            return person.id


class _Queue:
    def __init__(self) -> None:
        self.items: list = []

    async def put(self, item) -> None:  # noqa: ANN001
        self.items.append(item)


class _FakeApplication:
    """Only the update queue and the bot the webhook route hands updates to."""

    def __init__(self) -> None:
        from telegram import Bot

        self.update_queue = _Queue()
        self.bot = Bot(TOKEN)


async def _serve(app) -> tuple[str, Any, asyncio.Task]:  # noqa: ANN001
    sock = bind("127.0.0.1:0")
    port = sock.getsockname()[1]
    server = web_server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, task


@pytest.fixture
async def web(engine):
    setup_commune(engine)
    clock = Clock()
    env = Env(engine=engine, tz=TZ, bot_username="b", now=clock, web_url="http://web.test")
    fake = _FakeApplication()
    app = build_web_app(env, WebConfig(public_url="http://web.test", bot_token=TOKEN,
                                       webhook_path="/telegram", webhook_secret=SECRET,
                                       body_seconds=2.0),
                        application=fake)
    base, server, task = await _serve(app)
    app.state.fake = fake
    yield Web(base, env, clock, engine, app)
    server.should_exit = True
    await task


def client() -> ClientSession:
    return ClientSession(cookie_jar=CookieJar(unsafe=True), timeout=ClientTimeout(total=30))


async def sign_in(http: ClientSession, link: str) -> str:
    """Open a sign-in link and press its button; the form page's HTML."""
    async with http.get(link) as r:
        assert r.status == 200
    async with http.post(link, data={"go": "1"}) as r:
        assert r.status == 200, await r.text()
        assert r.url.path.startswith("/form/")
        return await r.text()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def items(web: Web, unit_id: int):
    view = store.form_view(web.engine, _any_member(web, unit_id), unit_id, "vi",
                           today=web.env.today(), tz=TZ)
    return [row.item for row in view.rows if row.population is None]


def own_rate(web: Web, unit_id: int):
    """A rate that counts no shared population: both its fields are its own."""
    return next(i for i in items(web, unit_id) if i.kind == "rate" and i.population is None
                and i.numerator_population is None)


def _any_member(web: Web, unit_id: int) -> int:
    with Session(web.engine) as s:
        return web_store.members(unit_id, session=s)[0][1].id


async def test_a_sign_in_link_opens_the_form_once_and_expires(web):
    person = web.reporter()
    link = web.link(person)
    async with client() as http:
        html = await sign_in(http, link)
        assert "Thôn Hành Thiện" in html and "Năm 2025" not in html
        cookie = next(c for c in http.cookie_jar if c.key == "ctv_session")
        assert cookie["httponly"] and cookie["samesite"].lower() == "lax"
        assert not cookie["secure"]  # the public URL is http here; https makes it Secure
    async with client() as other:  # the same link again, in another browser
        async with other.get(link) as r:
            assert r.status == 410 and "đã được dùng" in await r.text()
        async with other.post(link, data={"go": "1"}) as r:
            assert r.status == 410
        async with other.get(f"{web.base}/form/{web.unit_id()}") as r:
            assert r.status == 401
    late = web.link(person)
    web.clock.now += timedelta(minutes=16)
    async with client() as http:
        async with http.get(late) as r:
            assert r.status == 410 and "hết hạn" in await r.text()
        async with http.post(late, data={"go": "1"}) as r:
            assert r.status == 410
        async with http.get(f"{web.base}/login/not-a-real-token") as r:
            assert r.status == 404


async def test_the_form_checks_like_the_chat_and_saves_as_the_web(web):
    person = web.reporter()
    unit = web.unit_id()
    rate = own_rate(web, unit)
    # last year's figure, for the unusual-value question
    with Session(web.engine) as s:
        cur = repo.open_round(repo.find_unit("xuan-truong", session=s).id, session=s)
        old = Round(commune_id=cur.commune_id, plan_id=cur.plan_id, year=cur.year - 1,
                    unit_deadline=date(cur.year - 1, 11, 10),
                    consolidation_deadline=date(cur.year - 1, 12, 5))
        s.add(old)
        s.commit()
        cur_id = cur.id
        ind = next(i for i in repo.indicators_for(repo.find_unit(HAMLET, session=s), cur,
                                                   session=s) if i.code == rate.code)
        repo.save_value(session=s, round_id=old.id, unit_id=unit, indicator_id=ind.id,
                        person_id=None, numerator=400, denominator=410)
        s.commit()
    async with client() as http:
        html = await sign_in(http, web.link(person))
        assert "Năm 2025: 400/410" in html  # last year's figure beside the field
        token = csrf_of(html)
        url = f"{web.base}/form/{unit}/field"

        async def field(**fields) -> dict:
            data = {"csrf": token, **{f"{k.split('__')[0]}:{rate.code}:{k.split('__')[1]}": v
                                      for k, v in fields.items()}}
            async with http.post(url, data=data) as r:
                assert r.status == 200
                return await r.json()

        out = await field(v__den="1.234")  # the Vietnamese thousands dot
        assert out["status"] == "confirm" and "410" in out["messages"]["den"]
        out = await field(v__den="450", v__num="451")
        assert out["status"] == "problem" and "451" in out["messages"]["num"]
        out = await field(v__den="450", v__num="12,5")
        assert out["status"] == "problem"
        assert await field(v__den="450", v__num="401") == {"status": "saved",
                                                           "message": "✓ Đã lưu"}
        out = await field(v__den="1.234", v__num="401", ok__den="1")  # confirmed
        assert out["status"] == "saved"
    with Session(web.engine) as s:
        v = s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit,
                                               ReportedValue.round_id == cur_id)).one()
        assert (v.numerator, v.denominator, v.source) == (401, 1234, "web")
        history = s.exec(select(ValueChange).where(ValueChange.round_id == cur_id)).all()
        assert [h.source for h in history] == ["web", "web"]


async def test_without_javascript_the_form_saves_and_sends(web):
    person = web.reporter()
    unit = web.unit_id()
    its = items(web, unit)
    async with client() as http:
        html = await sign_in(http, web.link(person))
        data = {"csrf": csrf_of(html), "action": "send"}
        for i in its:
            if i.kind == "rate":
                data[f"v:{i.code}:den"], data[f"v:{i.code}:num"] = "100", "90"
            elif i.kind in ("yes_no", "share_units"):
                data[f"v:{i.code}:value"] = "yes"
            elif i.kind == "task":
                data[f"v:{i.code}:value"] = "done"
            else:
                data[f"v:{i.code}:value"] = "3"
        # the thôn's shared populations, once each (8.1, 8.2, 11.1, 11.2 take them)
        data["v:@children_hamlet:value"], data["v:@special_hamlet:value"] = "100", "90"
        bad = {**data, "v:@special_hamlet:value": "abc"}
        async with http.post(f"{web.base}/form/{unit}", data=bad) as r:
            page = await r.text()
            assert r.status == 200 and "abc" in page and "cần xem lại" in page
        with Session(web.engine) as s:
            assert s.exec(select(Submission)).first() is None  # a refusal sends nothing
        async with http.post(f"{web.base}/form/{unit}", data=data) as r:
            page = await r.text()
            assert r.status == 200 and r.url.query.get("sent") == "1", page
            assert "Đã gửi báo cáo" in page
    with Session(web.engine) as s:
        assert s.exec(select(Submission).where(Submission.unit_id == unit)).one()
    # the chat now says the report was sent
    user = service.TgUser(71_001, "Lan", language_code="vi")
    service.handle(web.env, 9_000_001, user,
                   service.StartCmd(invite(web.engine, "thon-hanh-thien")))
    out = service.handle(web.env, 9_000_002, user, service.ReportCmd())
    keys = [line.key for reply in out.replies for line in reply.lines]
    assert any("submitted" in k or "sent" in k for k in keys), keys


async def test_refusals_change_nothing(web):
    person = web.reporter()
    unit = web.unit_id()
    other = web.unit_id("xuan-truong/tram-y-te")
    rate = next(i for i in items(web, unit) if i.kind == "rate")
    async with client() as http:
        html = await sign_in(http, web.link(person))
        token = csrf_of(html)
        # another unit's form
        async with http.get(f"{web.base}/form/{other}") as r:
            assert r.status == 403 and "không có quyền" in await r.text()
        async with http.post(f"{web.base}/form/{other}/field",
                             data={"csrf": token, "v:1.1:value": "3"}) as r:
            assert r.status == 403
        # a POST without its CSRF token, or with another session's
        async with http.post(f"{web.base}/form/{unit}",
                             data={f"v:{rate.code}:den": "10", "action": "send"}) as r:
            assert r.status == 403
        async with http.post(f"{web.base}/form/{unit}/field",
                             data={"csrf": auth.csrf_token("another-session"),
                                   f"v:{rate.code}:den": "10"}) as r:
            assert r.status == 403
    async with client() as stranger, stranger.post(f"{web.base}/form/{unit}/field",
                             data={"csrf": token, f"v:{rate.code}:den": "10"}) as r:
        assert r.status == 401
    with Session(web.engine) as s:
        assert s.exec(select(ReportedValue)).first() is None
        assert s.exec(select(Submission)).first() is None


async def test_a_closed_round_is_read_only_with_the_reason(web):
    person = web.reporter()
    unit = web.unit_id()
    rate = next(i for i in items(web, unit) if i.kind == "rate")
    async with client() as http:
        html = await sign_in(http, web.link(person))
        with Session(web.engine) as s:
            rnd = repo.open_round(repo.find_unit("xuan-truong", session=s).id, session=s)
            rnd.closed_at = web.clock()
            rnd.version += 1
            s.add(rnd)
            s.commit()
        async with http.get(f"{web.base}/form/{unit}") as r:
            page = await r.text()
            assert "đã được chốt" in page and "<fieldset" in page and " disabled" in page
            assert 'value="send"' not in page
        async with http.post(f"{web.base}/form/{unit}/field",
                             data={"csrf": csrf_of(html), f"v:{rate.code}:den": "10"}) as r:
            assert r.status == 409 and "chốt" in (await r.json())["message"]
    with Session(web.engine) as s:
        assert s.exec(select(ReportedValue)).first() is None


async def test_the_chat_sends_a_sign_in_link_with_web(web):
    user = service.TgUser(71_002, "Lan", language_code="vi")
    service.handle(web.env, 9_100_001, user,
                   service.StartCmd(invite(web.engine, "thon-hanh-thien")))
    out = service.handle(web.env, 9_100_002, user, command_event("web"))
    line = out.replies[0].lines[0]
    assert line.key == "web.link"
    link = line.params["link"].replace("http://web.test", web.base)
    async with client() as http:
        html = await sign_in(http, link)
        assert "Thôn Hành Thiện" in html
    stranger = service.TgUser(71_003, "X", language_code="vi")
    out = service.handle(web.env, 9_100_003, stranger, SimpleCmd("web"))
    assert [ln.key for r in out.replies for ln in r.lines] == ["start.stranger"]


async def test_mini_app_init_data_is_checked(web):
    user = service.TgUser(71_004, "Lan", language_code="vi")
    service.handle(web.env, 9_200_001, user,
                   service.StartCmd(invite(web.engine, "thon-hanh-thien")))
    fields = {"auth_date": str(int(time.time())), "query_id": "AAE",
              "user": json.dumps({"id": 71_004, "first_name": "Lan"})}
    good = auth.sign_init_data(fields, TOKEN)
    forged = auth.sign_init_data({**fields, "user": json.dumps({"id": 71_004})}, TOKEN) \
        .replace("user=", "user=x")
    other_bot = auth.sign_init_data(fields, "999:other-bot")
    old = auth.sign_init_data({**fields, "auth_date": str(int(time.time()) - 86_401)}, TOKEN)
    async with client() as http:
        for bad in (forged, other_bot, old, ""):
            async with http.post(f"{web.base}/app/session", data={"init_data": bad}) as r:
                assert r.status == 403
        async with http.get(f"{web.base}/form") as r:
            assert r.status == 401
        async with http.post(f"{web.base}/app/session", data={"init_data": good}) as r:
            assert r.status == 200 and (await r.json())["ok"]
        async with http.get(f"{web.base}/form") as r:
            assert r.status == 200 and "Thôn Hành Thiện" in await r.text()


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
    return kb / 1024


async def test_the_webhook_checks_the_secret_first_and_bounds_the_body(web):
    url = f"{web.base}/telegram"
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi",
                                          "chat": {"id": 5, "type": "private"}}}
    async with client() as http:
        async with http.post(url, json=update) as r:
            assert r.status == 403
        async with http.post(url, json=update,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
            assert r.status == 200
        assert [u.update_id for u in web.app.state.fake.update_queue.items] == [1]
        big = b"x" * 2_000_000
        async with http.post(url, data=big,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
            assert r.status == 413

        async def chunks(total: int, size: int = 1 << 20, delay: float = 0.0):
            sent = 0
            while sent < total:
                if delay:
                    await asyncio.sleep(delay)
                yield b"x" * size
                sent += size

        async with http.post(url, data=chunks(1 << 20, 1024, 0.5),
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                      "Content-Type": "application/json"}) as r:
            assert r.status == 408  # too slow: the body must come within 2 s here
    before = _rss_mb()

    async def unauthenticated() -> int:
        async with client() as http:
            try:
                async with http.post(url, data=chunks(90 << 20)) as r:
                    return r.status
            except OSError:  # the server answered 403 and closed while the client sent
                return 403

    statuses = await asyncio.gather(*(unauthenticated() for _ in range(4)))
    assert statuses == [403] * 4
    assert _rss_mb() - before < 40, (before, _rss_mb())
    assert len(web.app.state.fake.update_queue.items) == 1


async def test_healthz_and_metrics(web, engine):
    async with client() as http:
        async with http.get(f"{web.base}/healthz") as r:
            assert r.status == 200 and (await r.json())["database"] == "ok"
        async with http.get(f"{web.base}/metrics") as r:
            body = await r.text()
            assert r.status == 200 and "ctvbot_updates" in body and "ctvbot_reminders" in body
    from bot.web.metrics import Metrics
    from storage.db import make_engine

    broken = Env(engine=make_engine("postgresql://nobody@127.0.0.1:1/none"), tz=TZ,
                 bot_username="b")
    base, server, task = await _serve(build_web_app(broken, WebConfig(),
                                                    metrics=Metrics(engine)))
    try:
        async with client() as http, http.get(f"{base}/healthz") as r:
            assert r.status == 503 and (await r.json())["database"] == "unreachable"
    finally:
        server.should_exit = True
        await task


def test_login_link_creates_a_web_only_reporter_and_reissuing_revokes(cli, monkeypatch,
                                                                      engine):
    setup_commune(engine)
    monkeypatch.setenv("CTVBOT_PUBLIC_URL", "https://baocao.example.vn")
    first = cli("login-link", "thon-hanh-thien", "--name", "Chị Lan")
    assert first.exit_code == 0, first.output
    assert "Đã tạo người báo cáo chỉ qua web Chị Lan của xuan-truong/thon-hanh-thien." in \
        first.output
    token1 = first.output.rsplit("/login/", 1)[1].strip()
    second = cli("login-link", "thon-hanh-thien", "--name", "Chị Lan")
    assert second.exit_code == 0 and "Đã tạo" not in second.output
    assert "Đã thu hồi 1 đường dẫn cũ của Chị Lan." in second.output
    token2 = second.output.rsplit("/login/", 1)[1].strip()
    with Session(engine) as s:
        assert web_store.link_state(token1, session=s) == web_store.LinkState.revoked
        assert web_store.link_state(token2, session=s) == web_store.LinkState.valid
    assert cli("login-link", "xuan-truong", "--name", "X").exit_code == 1
    monkeypatch.delenv("CTVBOT_PUBLIC_URL")
    assert "CTVBOT_PUBLIC_URL" in cli("login-link", "thon-hanh-thien").output


# who may open what: the chat's rules (tests/test_authorization.py) on every route
PEOPLE = {
    "stranger": None,
    "collaborator": ("thon-hanh-thien", None),
    "agency": ("xuan-truong/tram-y-te", None),
    "officer": ("xuan-truong", "officer"),
    "other_officer": ("huong-phu", "officer"),
}
ROUTES = {  # (method, path, form): expected status per person
    ("GET", "/form/{hamlet}", False): {"stranger": 401, "collaborator": 200, "agency": 403,
                                       "officer": 200, "other_officer": 403},
    ("GET", "/form/{agency}", False): {"stranger": 401, "collaborator": 403, "agency": 200,
                                       "officer": 200, "other_officer": 403},
    ("GET", "/form", False): {"stranger": 401, "collaborator": 303, "agency": 303,
                              "officer": 200, "other_officer": 200},
    ("POST", "/form/{hamlet}/field", True): {"stranger": 401, "collaborator": 200,
                                             "agency": 403, "officer": 200,
                                             "other_officer": 403},
    ("POST", "/form/{hamlet}", True): {"stranger": 401, "collaborator": 303, "agency": 403,
                                       "officer": 303, "other_officer": 403},
    ("POST", "/form/{agency}", True): {"stranger": 401, "collaborator": 403, "agency": 303,
                                       "officer": 303, "other_officer": 403},
    ("POST", "/form/{hamlet}", False): {"stranger": 401, "collaborator": 403, "agency": 403,
                                        "officer": 403, "other_officer": 403},
    ("POST", "/logout", False): {"stranger": 403, "collaborator": 403, "agency": 403,
                                 "officer": 403, "other_officer": 403},
    ("GET", "/healthz", False): dict.fromkeys(PEOPLE, 200),
}


async def test_every_route_follows_the_chat_rules(web):
    from storage.kinds import Role

    setup_commune(web.engine, "communes/001_nam_dong.yaml")
    tokens: dict[str, str | None] = {"stranger": None}
    for n, (who, spec) in enumerate(PEOPLE.items()):
        if spec is None:
            continue
        unit, role = spec
        user = service.TgUser(72_000 + n, who, language_code="vi")
        service.handle(web.env, 9_300_000 + n, user, service.StartCmd(
            invite(web.engine, unit, role=Role(role) if role else None)))
        person = store.person_by_telegram(web.engine, user.id)
        tokens[who] = store.open_session(web.engine, person.id, "link", web.clock())
    ids = {"hamlet": web.unit_id(), "agency": web.unit_id("xuan-truong/tram-y-te")}
    failures = []
    for (method, path, with_csrf), expected in ROUTES.items():
        for who, status in expected.items():
            token = tokens[who]
            async with client() as http:
                if token:
                    http.cookie_jar.update_cookies({"ctv_session": token})
                data = {"v:99.9:value": "1"}
                if path.endswith("field"):
                    data = {"v:10:den": str(40 + len(who))}  # a change each time
                if with_csrf:
                    data["csrf"] = auth.csrf_token(token or "none")
                async with http.request(method, web.base + path.format(**ids),
                                        data=data if method == "POST" else None,
                                        allow_redirects=False) as r:
                    if r.status != status:
                        failures.append((method, path, with_csrf, who, r.status, status))
    assert failures == []
    # what was let through came from the collaborator and the officer (a paper report);
    # nobody else changed anything
    people = {store.person_by_telegram(web.engine, 72_000 + n).id
              for n, who in enumerate(PEOPLE) if who in ("collaborator", "officer")}
    with Session(web.engine) as s:
        by = {v.changed_by for v in s.exec(select(ValueChange))}
    assert by == people


async def test_baocao_offers_the_form_as_a_mini_app_over_https(web):
    from dataclasses import replace as dc_replace

    env = dc_replace(web.env, web_url="https://baocao.example.vn")
    user = service.TgUser(73_001, "Lan", language_code="vi")
    service.handle(env, 9_400_001, user, service.StartCmd(invite(web.engine, "thon-hanh-thien")))
    out = service.handle(env, 9_400_002, user, command_event("baocao"))
    first = out.replies[0]
    assert first.lines[0].key == "web.or_the_form"
    assert first.buttons[0][0].data == "webapp:https://baocao.example.vn/app"
    assert out.replies[1].lines[0].key == "report.intro"
    plain = service.handle(web.env, 9_400_003, user, command_event("baocao"))  # http: none
    assert all(not b.data.startswith("webapp:") for r in plain.replies for row in r.buttons
               for b in row)


async def test_the_local_bot_api_takes_mini_app_buttons_over_https_only(api):
    from telegram import Bot

    from bot.messenger import Refused
    from bot.telegram import TelegramMessenger

    lan = api.user(TOKEN, 73_002, "Lan", language_code="vi")
    await lan.send("/start")
    async with Bot(TOKEN, base_url=f"{api.url}/bot") as bot:
        messenger = TelegramMessenger(bot)
        await messenger.send_text(73_002, "Biểu mẫu", [[("📝 Mở biểu mẫu",
                                                         "webapp:https://web.test/app")]])
        with pytest.raises(Refused, match="(?i)only https"):
            await messenger.send_text(73_002, "x", [[("📝", "webapp:http://web.test/app")]])
    shown = [m for m in lan.messages() if m.content == "Biểu mẫu"]
    assert shown and shown[0].buttons[0][0][0] == "📝 Mở biểu mẫu"


async def test_sessions_can_be_revoked(web, cli, monkeypatch):
    monkeypatch.setenv("CTVBOT_PUBLIC_URL", "http://web.test")
    out = cli("login-link", "thon-hanh-thien", "--name", "Chị Lan")
    link = out.output.rsplit(" ", 1)[1].strip().replace("http://web.test", web.base)
    async with client() as phone, client() as laptop:
        html = await sign_in(phone, link)
        again = cli("login-link", "thon-hanh-thien", "--name", "Chị Lan")
        await sign_in(laptop, again.output.rsplit(" ", 1)[1].strip()
                      .replace("http://web.test", web.base))
        # signing out one browser (with its CSRF token) leaves the other signed in
        async with phone.post(f"{web.base}/logout", data={"csrf": csrf_of(html)}) as r:
            assert r.status == 200 and "đăng xuất" in await r.text()
        async with phone.get(f"{web.base}/form") as r:
            assert r.status == 401
        async with laptop.get(f"{web.base}/form", allow_redirects=False) as r:
            assert r.status == 303
        out = cli("login-link", "thon-hanh-thien", "--name", "Chị Lan", "--revoke-sessions")
        assert "Chị Lan đã được đăng xuất khỏi 1 trình duyệt." in out.output
        async with laptop.get(f"{web.base}/form") as r:
            assert r.status == 401


async def test_the_chat_and_the_form_show_the_same_figures_in_the_persons_language(web):
    user = service.TgUser(74_001, "Lan", language_code="en")
    service.handle(web.env, 9_500_001, user,
                   service.StartCmd(invite(web.engine, "thon-hanh-thien")))
    for n, text in enumerate(["/report", "450", "12"]):
        event = command_event("report") if text == "/report" else service.TextIn(text)
        service.handle(web.env, 9_500_010 + n, user, event)
    out = service.handle(web.env, 9_500_020, user, command_event("web"))
    link = out.replies[0].lines[0].params["link"].replace("http://web.test", web.base)
    async with client() as http:
        html = await sign_in(http, link)
        assert "2026 report: Thôn Hành Thiện" in html and "Send the report" in html
        # 8.1 counts two populations of the thôn: each is the form's one shared field
        assert 'name="v:@children_hamlet:value" value="450"' in html
        assert 'name="v:@special_hamlet:value" value="12"' in html
        async with http.post(f"{web.base}/form/{web.unit_id()}/field",
                             data={"csrf": csrf_of(html),
                                   "v:@special_hamlet:value": "13"}) as r:
            assert (await r.json())["message"] == "✓ Saved"
    # the chat's next question offers the form's figure (8.2 asks 8.1's count again)
    out = service.handle(web.env, 9_500_022, user, command_event("report"))
    from bot.i18n import render_reply

    labels = [label for r in out.replies for row in render_reply(r, out.locale)[1]
              for label, _ in row]
    assert any("13" in label for label in labels), labels


async def test_without_javascript_an_unusual_figure_is_asked_then_saved(web):
    person = web.reporter()
    unit = web.unit_id()
    count = next(i for i in items(web, unit) if i.kind not in ("rate", "yes_no", "task",
                                                                 "share_units"))
    with Session(web.engine) as s:
        cur = repo.open_round(repo.find_unit("xuan-truong", session=s).id, session=s)
        old = Round(commune_id=cur.commune_id, plan_id=cur.plan_id, year=cur.year - 1,
                    unit_deadline=date(cur.year - 1, 11, 10),
                    consolidation_deadline=date(cur.year - 1, 12, 5))
        s.add(old)
        s.flush()
        ind = next(i for i in repo.indicators_for(repo.find_unit(HAMLET, session=s), cur,
                                                   session=s) if i.code == count.code)
        repo.save_value(session=s, round_id=old.id, unit_id=unit, indicator_id=ind.id,
                        person_id=None, value=10.0)
        s.commit()
        old_id, cur_id = old.id, cur.id
    name = f"v:{count.code}:value"
    async with client() as http:
        html = await sign_in(http, web.link(person))
        data = {"csrf": csrf_of(html), "action": "save", name: "40"}
        async with http.post(f"{web.base}/form/{unit}", data=data) as r:
            page = await r.text()
            assert r.status == 200 and "Năm 2025 là 10, năm nay là 40" in page
            assert f'name="ok:{count.code}:value"' in page and 'value="40"' in page
        with Session(web.engine) as s:
            assert s.exec(select(ReportedValue).where(ReportedValue.round_id != old_id)) \
                .first() is None
        async with http.post(f"{web.base}/form/{unit}",
                             data={**data, f"ok:{count.code}:value": "1"}) as r:
            page = await r.text()
            assert r.status == 200 and r.url.query.get("sent") is None
            assert f'name="{name}" value="40"' in page
    with Session(web.engine) as s:
        saved = s.exec(select(ReportedValue).where(ReportedValue.round_id == cur_id)).one()
        assert saved.value == 40 and saved.source == "web"


async def test_a_shared_population_is_asked_once_and_every_indicator_takes_it(web):
    """Plan 001's thôn: the children in special circumstances are 6.1's part and 6.2's whole.
    The form asks them once; both indicators take the figure, as the chat's /tinhtrang
    shows; changing it later moves both."""
    from bot.i18n import render_reply

    setup_commune(web.engine, "communes/001_nam_dong.yaml")
    web.clock.now = web.clock.now.replace(year=2025)  # the commune's round is 2025's
    thon = "huong-phu/thon-1"
    unit = web.unit_id(thon)
    person = web.reporter(thon)
    async with client() as http:
        html = await sign_in(http, web.link(person))
        assert html.count('name="v:@special_hamlet:value"') == 1
        assert 'name="v:6.1:num"' not in html and 'name="v:6.2:den"' not in html
        assert 'name="v:6.1:den"' in html and 'name="v:6.2:num"' in html
        assert "Số liệu chung của các chỉ tiêu 6.1, 6.2" in html
        # without JavaScript: the whole form at once
        data = {"csrf": csrf_of(html), "action": "save", "v:@special_hamlet:value": "7",
                "v:6.1:den": "500", "v:6.2:num": "6"}
        async with http.post(f"{web.base}/form/{unit}", data=data) as r:
            page = await r.text()
            assert r.status == 200 and "cần xem lại" not in page, page
            assert 'name="v:@special_hamlet:value" value="7"' in page
        # a figure one of them cannot take is refused for both, and said where
        async with http.post(f"{web.base}/form/{unit}/field",
                             data={"csrf": csrf_of(html),
                                   "v:@special_hamlet:value": "501"}) as r:
            out = await r.json()
            assert out["status"] == "problem" and "Chỉ tiêu 6.1" in out["messages"]["value"]
        # with JavaScript: the shared field alone, saved in both
        async with http.post(f"{web.base}/form/{unit}/field",
                             data={"csrf": csrf_of(html), "v:@special_hamlet:value": "8"}) as r:
            assert (await r.json())["status"] == "saved"
    with Session(web.engine) as s:
        rows = {v.indicator_id: (v.numerator, v.denominator, v.source)
                for v in s.exec(select(ReportedValue).where(ReportedValue.unit_id == unit))}
    assert sorted(rows.values()) == [(6, 8, "web"), (8, 500, "web")]
    # the chat shows the same figures
    user = service.TgUser(75_001, "Hoa", language_code="vi")
    service.handle(web.env, 9_600_001, user, service.StartCmd(invite(web.engine, thon)))
    out = service.handle(web.env, 9_600_002, user, command_event("tinhtrang"))
    text = "\n".join(render_reply(r, out.locale)[0] for r in out.replies)
    assert "đã có 2/8 chỉ tiêu" in text, text
    assert "chỉ tiêu 6.1 " not in text and "chỉ tiêu 6.2 " not in text
    out = service.handle(web.env, 9_600_003, user, service.ReportCmd("6.2"))
    labels = [label for r in out.replies for row in render_reply(r, out.locale)[1]
              for label, _ in row]
    assert any("Vẫn là 8" in label for label in labels), labels
