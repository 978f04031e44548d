"""Who may do what: every command and button, for every kind of person, including forged
callback data and stale buttons from an old round. A refusal changes nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot import service
from bot.context import command_event
from storage import repo
from storage.kinds import Role
from storage.models import Invitation, ReportedValue, Round, ValueChange
from tests.harness import invite, setup_commune

IDS = itertools.count(50_000)
PEOPLE = {
    "stranger": (None, None),
    "collaborator": ("thon-hanh-thien", None),
    "agency": ("xuan-truong/tram-y-te", None),
    "officer": ("xuan-truong", Role.officer),
    "other_officer": ("huong-phu", Role.officer),
    "admin": ("xuan-truong", Role.admin),
}


def _update_id(user) -> int | str:
    """A fresh update id: Telegram's number, or the key of a Zalo message."""
    n = next(IDS)
    return f"zalo:{n:020x}" if user.channel == "zalo" else n


@pytest.fixture(params=["telegram", "zalo"])
def channel(request):
    """Everyone talks to the bot on Telegram, or everyone on Zalo."""
    return request.param


@pytest.fixture
def world(engine, channel):
    setup_commune(engine)
    setup_commune(engine, "communes/001_nam_dong.yaml")
    env = service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                      now=lambda: datetime(2026, 11, 3, 2, tzinfo=UTC))
    users = {}
    for n, (name, (unit, role)) in enumerate(PEOPLE.items()):
        user = service.TgUser(60_000 + n, name, language_code="vi") if channel == "telegram" \
            else service.TgUser(f"{60_000 + n:x}", name, channel="zalo")
        if unit is not None:
            out = service.handle(env, _update_id(user), user,
                                 service.StartCmd(invite(engine, unit, role=role)))
            assert out.replies[0].lines[0].key.startswith("join.welcome")
        users[name] = user
    with Session(engine) as s:
        xt = repo.find_unit("xuan-truong", session=s)
        cur = repo.open_round(xt.id, session=s)
        old = Round(commune_id=xt.id, plan_id=cur.plan_id, year=2025,
                    unit_deadline=date(2025, 11, 10), consolidation_deadline=date(2025, 12, 5))
        s.add(old)
        s.commit()
        ids = {
            "xt_round": cur.id, "old_round": old.id,
            "hp_round": repo.open_round(repo.find_unit("huong-phu", session=s).id,
                                        session=s).id,
            "xt_hamlet": repo.find_unit("xuan-truong/thon-hanh-thien", session=s).id,
            "hp_hamlet": repo.find_unit("huong-phu/thon-1", session=s).id,
        }
    return env, users, ids


def keys(out: service.Outcome) -> list[str]:
    return [line.key for reply in out.replies for line in reply.lines]


def act(env, user, event) -> list[str]:
    return keys(service.handle(env, _update_id(user), user, event))


REFUSED = {"start.stranger", "refuse.officers_only", "report.stale_button"}

# action -> expected first key per person (None: any reply that is not a refusal)
MATRIX = {
    "report": {"stranger": "start.stranger", "collaborator": "report.intro",
               "agency": "report.intro", "officer": "report.choose_unit",
               "other_officer": "report.choose_unit", "admin": "report.choose_unit"},
    "status": {"stranger": "start.stranger", "collaborator": "status.header",
               "agency": "status.header", "officer": "report.choose_unit",
               "other_officer": "report.choose_unit", "admin": "report.choose_unit"},
    "invite": {"stranger": "start.stranger", "collaborator": "refuse.officers_only",
               "agency": "refuse.officers_only", "officer": "invite.choose_unit",
               "other_officer": "invite.choose_unit", "admin": "invite.choose_unit"},
    "inv_xt": {"stranger": "start.stranger", "collaborator": "refuse.officers_only",
               "agency": "refuse.officers_only", "officer": "invite.created",
               "other_officer": "refuse.officers_only", "admin": "invite.created"},
    "inv_hp": {"stranger": "start.stranger", "collaborator": "refuse.officers_only",
               "agency": "refuse.officers_only", "officer": "refuse.officers_only",
               "other_officer": "invite.created", "admin": "refuse.officers_only"},
    "unit_xt": {"stranger": "start.stranger", "collaborator": "report.intro",
                "agency": "report.stale_button", "officer": "report.intro",
                "other_officer": "report.stale_button", "admin": "report.intro"},
    "unit_hp": {"stranger": "start.stranger", "collaborator": "report.stale_button",
                "agency": "report.stale_button", "officer": "report.stale_button",
                "other_officer": "report.locked_deadline", "admin": "report.stale_button"},
    "go_xt": {"stranger": "start.stranger", "collaborator": "report.ask",
              "agency": "report.intro", "officer": "report.stale_button",
              "other_officer": "report.stale_button", "admin": "report.stale_button"},
    "old_round_button": {p: "start.stranger" if p == "stranger" else "report.stale_button"
                         for p in PEOPLE},
    "forged": {p: "start.stranger" if p == "stranger" else "report.stale_button"
               for p in PEOPLE},
    "help": {p: "start.stranger" if p == "stranger" else "help.reporter" for p in PEOPLE},
    "summary": {"stranger": "start.stranger", "collaborator": "refuse.officers_only",
                "agency": "refuse.officers_only", "officer": "summary.header",
                "other_officer": "summary.header", "admin": "summary.header"},
}
OFFICER_ONLY = {"progress", "remind", "deadline", "close", "close_press_xt"}


def event_for(action: str, ids: dict) -> service.Incoming:
    return {
        "report": service.ReportCmd(),
        "status": service.SimpleCmd("status"),
        "invite": service.SimpleCmd("invite"),
        "inv_xt": service.PressIn(f"inv:{ids['xt_hamlet']}"),
        "inv_hp": service.PressIn(f"inv:{ids['hp_hamlet']}"),
        "unit_xt": service.PressIn(f"u:{ids['xt_hamlet']}:report"),
        "unit_hp": service.PressIn(f"u:{ids['hp_hamlet']}:report"),
        "go_xt": service.PressIn(f"r{ids['xt_round']}:go:8.1:"),
        "old_round_button": service.PressIn(f"r{ids['old_round']}:yes:1:"),
        "forged": service.PressIn("r99999:submit::"),
        "help": service.SimpleCmd("help"),
        "summary": service.SummaryCmd(),
        "progress": command_event("tiendo"),
        "remind": command_event("nhac"),
        "deadline": command_event("hanchot", ["20/11/2026", "05/12/2026"]),
        "close": command_event("chot"),
        "close_press_xt": service.PressIn(f"off:close:{ids['xt_round']}"),
    }[action]


@pytest.mark.parametrize("action", sorted(MATRIX))
def test_authorization_matrix(world, engine, action):
    env, users, ids = world
    for person, expected in MATRIX[action].items():
        with Session(engine) as s:
            before = (len(s.exec(select(ReportedValue)).all()),
                      len(s.exec(select(Invitation)).all()))
        got = act(env, users[person], event_for(action, ids))
        assert got and got[0] == expected, (action, person, got)
        if expected in REFUSED:
            with Session(engine) as s:
                after = (len(s.exec(select(ReportedValue)).all()),
                         len(s.exec(select(Invitation)).all()))
            assert after == before, (action, person)
        act(env, users[person], service.SimpleCmd("cancel"))


def test_forged_answers_to_another_units_question_change_nothing(world, engine):
    env, users, ids = world
    act(env, users["collaborator"], service.ReportCmd())
    for data in [f"r{ids['xt_round']}:yes:1:", f"r{ids['xt_round']}:use:8.1:999999",
                 f"r{ids['xt_round']}:ok:8.1:-4", f"r{ids['xt_round']}:ts:9:d",
                 f"r{ids['hp_round']}:fix:2:", f"r{ids['xt_round']}:fix:3.1:"]:
        got = act(env, users["collaborator"], service.PressIn(data))
        assert got[0] == "report.stale_button", (data, got)
    with Session(engine) as s:
        assert s.exec(select(ValueChange)).all() == []


@pytest.mark.parametrize("action", sorted(OFFICER_ONLY))
def test_officer_commands_refuse_everyone_else(world, engine, action):
    env, users, ids = world
    for person in ("stranger", "collaborator", "agency"):
        with Session(engine) as s:
            before = [(r.unit_deadline, r.closed_at) for r in s.exec(select(Round)).all()]
        got = act(env, users[person], event_for(action, ids))
        assert got and not any(k.startswith(("progress.", "deadline.changed", "close.done"))
                               for k in got), (action, person, got)
        with Session(engine) as s:
            after = [(r.unit_deadline, r.closed_at) for r in s.exec(select(Round)).all()]
        assert after == before
    got = act(env, users["officer"], event_for(action, ids))
    assert got and not any(k in REFUSED for k in got), (action, got)


def test_an_officer_sees_only_their_own_commune(world):
    env, users, _ = world
    for person, commune, code in (("officer", "Xã Xuân Trường", "xuan-truong"),
                                  ("other_officer", "Xã Hương Phú", "huong-phu")):
        out = service.handle(env, _update_id(users[person]), users[person],
                             service.SummaryCmd())
        assert out.replies[0].lines[0].params["commune_name"] == commune
        assert len(out.files) == 3
        assert all(f.filename.startswith(f"bao-cao-{code}-") for f in out.files)


def test_the_same_id_on_telegram_and_on_zalo_is_two_people(world, engine):
    env, users, _ = world
    officer = users["officer"]
    twin = service.TgUser(str(officer.id), "Twin", channel="zalo") \
        if officer.channel == "telegram" else service.TgUser(int(officer.id, 16), "Twin")
    assert act(env, twin, service.SummaryCmd())[0] == "start.stranger"
    assert act(env, twin, service.ReportCmd())[0] == "start.stranger"
    assert act(env, officer, service.SummaryCmd())[0] == "summary.header"
