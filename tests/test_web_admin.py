"""The officer's administration pages over real HTTP (uvicorn on loopback, SQLite and
PostgreSQL): units (with the file ``ctvbot setup`` takes), people and web reporters' links,
the printable invitations, paper reports; and who may open them."""

from __future__ import annotations

import io
import re
from pathlib import Path

from aiohttp import FormData
from openpyxl import Workbook
from sqlmodel import Session, col, select

from bot import service
from bot.web import auth
from bot.web import forms as store
from bot.web.admin import qr_svg
from storage import repo
from storage import web as web_store
from storage.kinds import Role
from storage.models import Invitation, Membership, ReportedValue, Unit, ValueChange
from tests.harness import invite, setup_commune
from tests.test_web import client
from tests.test_web import web as web  # noqa: F401 - the web app fixture

COMMUNE = "xuan-truong"
HAMLET = "xuan-truong/thon-hanh-thien"


def join(web, telegram_id: int, unit: str, role: Role | None = None) -> int:  # noqa: F811
    """Someone joins a unit in the chat; their person id."""
    user = service.TgUser(telegram_id, f"P{telegram_id}", language_code="vi")
    service.handle(web.env, 9_500_000 + telegram_id, user,
                   service.StartCmd(invite(web.engine, unit, role=role)))
    return store.person_by_telegram(web.engine, telegram_id).id


def session_of(web, person_id: int) -> str:  # noqa: F811
    return store.open_session(web.engine, person_id, "link", web.clock())


def unit(web, code: str) -> Unit | None:  # noqa: F811
    with Session(web.engine) as s:
        return s.exec(select(Unit).where(Unit.code == code)).first()


def officer_http(web, token: str):  # noqa: F811
    http = client()
    http.cookie_jar.update_cookies({"ctv_session": token})
    return http


def paper(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["year", "unit", "indicator", "numerator", "denominator", "value"])
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def hamlet_rows(web, good: bool = True) -> list[list]:  # noqa: F811
    """A row per indicator of the hamlet; the second row wrong unless ``good``."""
    with Session(web.engine) as s:
        u = repo.find_unit(HAMLET, session=s)
        rnd = repo.open_round(u.parent_id, session=s)
        inds = repo.indicators_for(u, rnd, session=s)
        year = rnd.year
    rows = []
    for n, ind in enumerate(inds):
        if ind.kind == "rate":
            num, den = (50, 40) if (n == 1 and not good) else (30, 40)
            rows.append([year, "thon-hanh-thien", ind.code, num, den, None])
        elif ind.kind in ("yes_no", "share_units"):
            rows.append([year, "thon-hanh-thien", ind.code, None, None, "có"])
        elif ind.kind == "task":
            rows.append([year, "thon-hanh-thien", ind.code, None, None, "xong"])
        else:
            rows.append([year, "thon-hanh-thien", ind.code, None, None,
                         -3 if (n == 1 and not good) else 4])
    return rows


async def upload(http, base: str, commune_id: int, data: bytes, csrf: str):
    form = FormData()
    form.add_field("csrf", csrf)
    form.add_field("file", data, filename="giay.xlsx",
                   content_type="application/vnd.openxmlformats-officedocument."
                                "spreadsheetml.sheet")
    return await http.post(f"{base}/o/{commune_id}/paper", data=form)


# ------------------------------------------------------------------ units


async def test_units_are_added_renamed_retired_and_the_file_is_what_setup_takes(web, cli,
                                                                                 tmp_path):
    officer = join(web, 61, COMMUNE, Role.officer)
    token = session_of(web, officer)
    csrf = auth.csrf_token(token)
    cid = unit(web, COMMUNE).id
    async with officer_http(web, token) as http:
        async with http.get(f"{web.base}/o/{cid}/units") as r:
            assert r.status == 200
            html = await r.text()
            assert "Thôn Hành Thiện" in html and len(html.encode()) < 100_000
        async with http.post(f"{web.base}/o/{cid}/units/add",
                             data={"csrf": csrf, "name": "Thôn Mới", "kind": "hamlet"}) as r:
            assert r.status == 200
            assert "xuan-truong/thon-moi (Thôn Mới)" in await r.text()
        new = unit(web, "xuan-truong/thon-moi")
        assert new is not None and new.kind == "hamlet" and new.retired_at is None
        # the same name again (a page sent twice), or a name too long, is refused
        async with http.post(f"{web.base}/o/{cid}/units/add",
                             data={"csrf": csrf, "name": "thôn  mới", "kind": "hamlet"}) as r:
            assert r.status == 400 and "đã có một đơn vị tên" in await r.text()
        async with http.post(f"{web.base}/o/{cid}/units/add",
                             data={"csrf": csrf, "name": "x" * 101}) as r:
            assert r.status == 400
        async with http.post(f"{web.base}/o/{cid}/units/{new.id}/rename",
                             data={"csrf": csrf, "name": "Thôn Mới Lập"}) as r:
            assert r.status == 200 and "Thôn Mới Lập" in await r.text()
        assert unit(web, "xuan-truong/thon-moi").name == "Thôn Mới Lập"
        # a hamlet holding a figure is retired with its history; an empty one is deleted
        hamlet = unit(web, HAMLET)
        with Session(web.engine) as s:
            rnd = repo.open_round(cid, session=s)
            ind = repo.indicators_for(hamlet, rnd, session=s)[0]
            repo.save_value(session=s, round_id=rnd.id, unit_id=hamlet.id,
                            indicator_id=ind.id, person_id=officer, value=3, numerator=3,
                            denominator=4)
            s.commit()
        async with http.post(f"{web.base}/o/{cid}/units/{hamlet.id}/retire",
                             data={"csrf": csrf}) as r:
            assert r.status == 200
            assert "đã thôi" in await r.text()
        kept = unit(web, HAMLET)
        assert kept is not None and kept.retired_at is not None
        with Session(web.engine) as s:
            assert s.exec(select(ReportedValue).where(
                ReportedValue.unit_id == hamlet.id)).first() is not None
            assert HAMLET not in {u.code for u in repo.children(cid, session=s)}
        async with http.post(f"{web.base}/o/{cid}/units/{new.id}/retire",
                             data={"csrf": csrf}) as r:
            assert r.status == 200
        assert unit(web, "xuan-truong/thon-moi") is None
        async with http.get(f"{web.base}/o/{cid}/units/commune.yaml") as r:
            assert r.status == 200
            text = await r.text()
    assert "thon-hanh-thien" not in text and "thon-moi" not in text
    file = tmp_path / "xuan-truong.yaml"
    file.write_text(text, encoding="utf-8")
    out = cli("setup", str(file))
    assert out.exit_code == 0, out.output
    assert "không có gì thay đổi" in out.output, out.output
    assert unit(web, HAMLET).retired_at is not None
    # the retired hamlet put back in the file comes back
    back = text.replace("hamlets:\n", "hamlets:\n  - {code: thon-hanh-thien, "
                                      "name: \"Thôn Hành Thiện\"}\n", 1)
    file.write_text(back, encoding="utf-8")
    assert "hoạt động trở lại" in cli("setup", str(file)).output
    assert unit(web, HAMLET).retired_at is None


# ------------------------------------------------------------------ people


async def test_people_are_listed_removed_and_web_reporters_get_links(web):
    officer = join(web, 62, COMMUNE, Role.officer)
    lan = join(web, 63, HAMLET)
    token = session_of(web, officer)
    csrf = auth.csrf_token(token)
    cid, hid = unit(web, COMMUNE).id, unit(web, HAMLET).id
    async with officer_http(web, token) as http:
        async with http.get(f"{web.base}/o/{cid}/people") as r:
            html = await r.text()
            assert r.status == 200 and "P63" in html and "qua Telegram" in html
        async with http.post(f"{web.base}/o/{cid}/people/link",
                             data={"csrf": csrf, "unit": str(hid), "name": "Chị Hoa"}) as r:
            html = await r.text()
            assert r.status == 200 and "Chị Hoa" in html
        first = re.search(r'href="(http://web\.test/login/[^"]+)"', html).group(1)
        async with http.post(f"{web.base}/o/{cid}/people/link",
                             data={"csrf": csrf, "unit": str(hid), "name": "Chị Hoa"}) as r:
            html = await r.text()
        second = re.search(r'href="(http://web\.test/login/[^"]+)"', html).group(1)
        assert first != second and qr_svg(second) in html
        with Session(web.engine) as s:
            states = [web_store.link_state(x.rsplit("/", 1)[1], session=s, now=web.clock())
                      for x in (first, second)]
        assert states == [web_store.LinkState.revoked, web_store.LinkState.valid]
        # the reporter signs in with the new link, then is removed: signed out
        async with client() as phone:
            link = second.replace("http://web.test", web.base)
            async with phone.post(link, data={"go": "1"}) as r:
                assert r.status == 200 and r.url.path == f"/form/{hid}"
            with Session(web.engine) as s:
                hoa = [m for m, p in web_store.members(hid, session=s) if p.name == "Chị Hoa"][0]
                mine = [m for m, p in web_store.members(cid, session=s) if p.id == officer][0]
            async with http.post(f"{web.base}/o/{cid}/people/{hoa.id}/remove",
                                 data={"csrf": csrf}) as r:
                assert r.status == 200
            async with phone.get(f"{web.base}/form/{hid}") as r:
                assert r.status == 401
        # an officer cannot remove themselves
        async with http.post(f"{web.base}/o/{cid}/people/{mine.id}/remove",
                             data={"csrf": csrf}) as r:
            assert r.status == 400
    with Session(web.engine) as s:
        assert s.get(Membership, mine.id) is not None
        assert [p.id for _, p in web_store.members(hid, session=s)] == [lan]


# ------------------------------------------------------------------ invitations


async def test_the_invitation_sheet_has_a_qr_per_unit_and_revokes_the_earlier(web):
    officer = join(web, 64, COMMUNE, Role.officer)
    token = session_of(web, officer)
    cid = unit(web, COMMUNE).id
    earlier = invite(web.engine, HAMLET)
    async with officer_http(web, token) as http:
        async with http.get(f"{web.base}/o/{cid}/invitations") as r:
            assert r.status == 200
        async with http.post(f"{web.base}/o/{cid}/invitations",
                             data={"csrf": auth.csrf_token(token)}) as r:
            assert r.status == 200
            html = await r.text()
    with Session(web.engine) as s:
        units = len(repo.children(cid, session=s))
        officer_codes = s.exec(select(Invitation).where(
            Invitation.unit_id == cid, Invitation.role == Role.officer,
            col(Invitation.used_by).is_(None))).all()
    links = re.findall(r'data-link="([^"]+)"', html)
    # one per hamlet and agency; never an officer's invitation on a sheet handed out
    assert not officer_codes
    assert len(links) == units and "@page{size:A4" in html and "GIẤY MỜI" in html.upper()
    for link in links:
        assert link.startswith("https://t.me/b?start=") and qr_svg(link) in html
    assert len(html.encode()) < 100_000
    with Session(web.engine) as s:
        old = s.exec(select(Invitation).where(
            Invitation.code_hash == repo.hash_code(earlier))).one()
        assert (old.expires_at - old.created_at).total_seconds() < 60  # revoked
    # a code of the sheet joins the hamlet in the chat
    card = next(c for c in html.split('<div class="card"') if "Thôn Hành Thiện" in c)
    hamlet_link = re.search(r'data-link="([^"]+)"', card).group(1)
    code = hamlet_link.rsplit("=", 1)[1]
    user = service.TgUser(65, "Hoa", language_code="vi")
    service.handle(web.env, 9_600_001, user, service.StartCmd(code))
    assert store.person_by_telegram(web.engine, 65) is not None


# ------------------------------------------------------------------ paper reports


async def test_a_paper_report_is_previewed_refused_whole_then_saved_as_the_officers(web):
    officer = join(web, 66, COMMUNE, Role.officer)
    token = session_of(web, officer)
    csrf = auth.csrf_token(token)
    cid, hid = unit(web, COMMUNE).id, unit(web, HAMLET).id
    async with officer_http(web, token) as http:
        r = await upload(http, web.base, cid, paper(hamlet_rows(web)), "forged")
        assert r.status == 403  # a multipart form checks its CSRF token too
        r = await upload(http, web.base, cid, paper(hamlet_rows(web, good=False)), csrf)
        html = await r.text()
        assert r.status == 422 and "Dòng 3:" in html, html
        assert "lớn hơn mẫu số" in html or "không được là số âm" in html, html
        with Session(web.engine) as s:
            assert s.exec(select(ReportedValue).where(ReportedValue.unit_id == hid)).all() == []
        good = paper(hamlet_rows(web))
        r = await upload(http, web.base, cid, good, csrf)
        html = await r.text()
        assert r.status == 200 and 'id="save"' in html
        with Session(web.engine) as s:  # a preview saves nothing
            assert s.exec(select(ReportedValue).where(ReportedValue.unit_id == hid)).all() == []
        data = re.search(r'name="data" value="([^"]+)"', html).group(1)
        async with http.post(f"{web.base}/o/{cid}/paper/save",
                             data={"data": data, "filename": "giay.xlsx"}) as r:
            assert r.status == 403  # no CSRF token
        async with http.post(f"{web.base}/o/{cid}/paper/save",
                             data={"csrf": csrf, "data": data, "filename": "giay.xlsx"}) as r:
            assert r.status == 200 and "cán bộ nhập" in await r.text()
        big = FormData()
        big.add_field("csrf", csrf)
        big.add_field("file", b"0" * 2_100_000, filename="big.xlsx")
        async with http.post(f"{web.base}/o/{cid}/paper", data=big) as r:
            assert r.status == 413
    with Session(web.engine) as s:
        saved = s.exec(select(ReportedValue).where(ReportedValue.unit_id == hid)).all()
        history = s.exec(select(ValueChange).where(ValueChange.unit_id == hid)).all()
    assert len(saved) == len(hamlet_rows(web))
    assert {(v.source, v.reported_by) for v in saved} == {("officer", officer)}
    assert {(h.source, h.changed_by) for h in history} == {("officer", officer)}


# ------------------------------------------------------------------ who may open what

PEOPLE = {
    "stranger": None,
    "collaborator": ("thon-hanh-thien", None),
    "agency": ("xuan-truong/tram-y-te", None),
    "officer": ("xuan-truong", "officer"),
    "admin": ("xuan-truong", "admin"),
    "other_officer": ("huong-phu", "officer"),
}
GETS = ["/units", "/units/commune.yaml", "/people", "/invitations", "/paper",
        "/paper/template.xlsx"]
POSTS = ["/units/add", "/units/{hamlet}/rename", "/units/{agency}/retire", "/people/link",
         "/people/{member}/remove", "/invitations", "/paper", "/paper/save"]


async def test_every_admin_route_is_the_communes_officers_only(web):
    setup_commune(web.engine, "communes/001_nam_dong.yaml")
    tokens: dict[str, str | None] = {"stranger": None}
    for n, (who, spec) in enumerate(PEOPLE.items()):
        if spec is not None:
            place, role = spec
            tokens[who] = session_of(web, join(web, 700 + n, place,
                                               Role(role) if role else None))
    cid = unit(web, COMMUNE).id
    hid, aid = unit(web, HAMLET).id, unit(web, "xuan-truong/tram-y-te").id
    with Session(web.engine) as s:
        member = [m for m, _ in web_store.members(hid, session=s)][0].id
    before = _snapshot(web)
    failures = []
    for who, token in tokens.items():
        allowed = who in ("officer", "admin")
        async with client() as http:
            if token:
                http.cookie_jar.update_cookies({"ctv_session": token})
            for path in GETS:
                async with http.get(f"{web.base}/o/{cid}{path}",
                                    allow_redirects=False) as r:
                    want = 200 if allowed else (401 if token is None else 403)
                    if r.status != want:
                        failures.append(("GET", path, who, r.status, want))
            for path in POSTS:
                url = f"{web.base}/o/{cid}" + path.format(hamlet=hid, agency=aid,
                                                          member=member)
                for with_csrf in (False, True):
                    data = {"name": "Thôn X", "unit": str(hid)}
                    if with_csrf:
                        data["csrf"] = auth.csrf_token(token or "none")
                    async with http.post(url, data=data, allow_redirects=False) as r:
                        if token is None:
                            want = 401
                        elif not with_csrf or not allowed:
                            want = 403
                        else:
                            want = r.status  # let through: checked by the tests above
                        if r.status != want or (allowed and with_csrf and r.status in
                                                (401, 403)):
                            failures.append(("POST", path, who, with_csrf, r.status, want))
                    if allowed and with_csrf:
                        break
            if allowed:
                before = _snapshot(web)  # the officer's own changes are allowed
    assert failures == []
    # and another commune's officer gets nothing of it, even of their own commune id path
    assert _snapshot(web) == before


def _snapshot(web) -> tuple:  # noqa: F811
    with Session(web.engine) as s:
        return (sorted((u.code, u.name, u.retired_at is None) for u in s.exec(select(Unit))),
                sorted((m.person_id, m.unit_id) for m in s.exec(select(Membership))),
                len(s.exec(select(ReportedValue)).all()))


def test_the_file_of_each_example_commune_changes_nothing(engine, cli, tmp_path):
    from storage.communes import commune_data, commune_yaml

    root = Path(__file__).resolve().parents[1] / "communes"
    for example in sorted(root.glob("*.yaml")):
        assert cli("setup", str(example)).exit_code == 0
        with Session(engine) as s:
            code = re.search(r"^code: (\S+)", example.read_text(), re.M).group(1)
            text = commune_yaml(commune_data(repo.find_unit(code, session=s), session=s))
        file = tmp_path / f"{code}.yaml"
        file.write_text(text, encoding="utf-8")
        out = cli("setup", str(file))
        assert out.exit_code == 0 and "không có gì thay đổi" in out.output, (example,
                                                                             out.output)


async def test_the_pages_speak_english_to_an_english_speaking_officer(web):
    from storage.models import Person

    officer = join(web, 67, COMMUNE, Role.officer)
    with Session(web.engine) as s:
        person = s.get(Person, officer)
        person.language = "en"
        s.add(person)
        s.commit()
    token = session_of(web, officer)
    cid = unit(web, COMMUNE).id
    async with officer_http(web, token) as http:
        pages = {}
        for path in ("/units", "/people", "/paper"):
            async with http.get(f"{web.base}/o/{cid}{path}") as r:
                pages[path] = await r.text()
        async with http.post(f"{web.base}/o/{cid}/invitations",
                             data={"csrf": auth.csrf_token(token)}) as r:
            pages["sheet"] = await r.text()
        r = await upload(http, web.base, cid, paper([[2026, "thon-nowhere", "8.1", 1, 2,
                                                      None]]), auth.csrf_token(token))
        pages["refused"] = await r.text()
    assert "Units of Xã Xuân Trường" in pages["/units"]
    assert "Web reporter (without Telegram)" in pages["/people"]
    assert "Check the file" in pages["/paper"]
    assert "People&#39;s Committee of Xã Xuân Trường" in pages["sheet"]
    assert "Line 2:" in pages["refused"] and "Unknown unit thon-nowhere." in pages["refused"]


async def test_an_upper_level_without_a_round_has_no_commune_file(web):
    with Session(web.engine) as s:
        upper = s.get(Unit, unit(web, COMMUNE).parent_id)
    officer = join(web, 68, upper.code, Role.officer)
    token = session_of(web, officer)
    async with officer_http(web, token) as http:
        async with http.get(f"{web.base}/o/{upper.id}/units/commune.yaml") as r:
            assert r.status == 409 and "ctvbot setup" in await r.text()
        async with http.post(f"{web.base}/o/{upper.id}/units/add",
                             data={"csrf": auth.csrf_token(token), "name": "Xã Mới",
                                   "kind": "hamlet"}) as r:
            assert r.status == 409
        async with http.get(f"{web.base}/o/{upper.id}/units") as r:
            assert r.status == 200 and "Xã Xuân Trường" in await r.text()


async def test_the_communes_blank_file_comes_back_as_a_paper_report(web):
    from openpyxl import load_workbook

    officer = join(web, 69, COMMUNE, Role.officer)
    token = session_of(web, officer)
    csrf = auth.csrf_token(token)
    cid, hid = unit(web, COMMUNE).id, unit(web, HAMLET).id
    with Session(web.engine) as s:
        asked = sum(len(repo.indicators_for(u, repo.open_round(cid, session=s), session=s))
                    for u in repo.children(cid, session=s))
    async with officer_http(web, token) as http:
        async with http.get(f"{web.base}/o/{cid}/paper/template.xlsx") as r:
            assert r.status == 200
            blank = await r.read()
        wb = load_workbook(io.BytesIO(blank))
        ws = wb["Số liệu"]
        assert ws.max_row == asked + 1
        # the officer copies the hamlet's paper figures into its lines, leaves the rest blank
        n = 0
        for row in ws.iter_rows(min_row=2):
            if row[1].value != HAMLET:
                continue
            hint = row[9].value
            if "tử số" in hint:
                row[3].value, row[4].value = 7, 9
            elif "có hoặc không" in hint:
                row[5].value = "có"
            elif "chưa, đang" in hint:
                row[5].value = "đang"
            else:
                row[5].value = 5
            n += 1
        out = io.BytesIO()
        wb.save(out)
        r = await upload(http, web.base, cid, out.getvalue(), csrf)
        html = await r.text()
        assert r.status == 200 and f"{n} số liệu sẽ được lưu" in html, html
        data = re.search(r'name="data" value="([^"]+)"', html).group(1)
        async with http.post(f"{web.base}/o/{cid}/paper/save",
                             data={"csrf": csrf, "data": data, "filename": "giay.xlsx"}) as r:
            assert r.status == 200
        # downloaded again, the file carries those figures: sent back, nothing changes
        async with http.get(f"{web.base}/o/{cid}/paper/template.xlsx") as r:
            again = await r.read()
        r = await upload(http, web.base, cid, again, csrf)
        html = await r.text()
        assert r.status == 200 and f"0 số liệu sẽ được lưu, {n} giữ nguyên" in html, html
    with Session(web.engine) as s:
        assert len(s.exec(select(ReportedValue).where(ReportedValue.unit_id == hid)).all()) == n
