"""A second messenger plugs into the shell without touching the flows or the service: a small
in-memory one with a 2,000-character limit and no buttons (as Zalo), driven through the same
``Shell.receive`` the Telegram application uses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.app import Shell
from bot.context import (
    MENU_NAMES,
    Env,
    OfficerCmd,
    ReportCmd,
    SimpleCmd,
    StartCmd,
    SummaryCmd,
    command_event,
)
from bot.i18n import text_of
from bot.messenger import Choices, Command, Inbound, Limits, Other, Press, Text, User
from storage import repo
from storage.kinds import Role
from tests.harness import invite, setup_commune

UPDATES = itertools.count(1)


@dataclass
class Memory:
    """A messenger that keeps what was sent: (chat, text, choices) and files."""

    limits: Limits = field(default_factory=lambda: Limits(2000, 64, 0))
    sent: list[tuple[int, str, Choices]] = field(default_factory=list)
    files: list[tuple[int, str, str]] = field(default_factory=list)
    removed: list[tuple[int, int]] = field(default_factory=list)
    alerts: list[str | None] = field(default_factory=list)
    typing: int = 0
    uploading: int = 0
    menus: dict[int, list[str]] = field(default_factory=dict)

    async def send_text(self, chat_id: int, text: str, choices: Choices = ()) -> int:
        assert len(text) <= self.limits.max_text
        self.sent.append((chat_id, text, choices))
        return len(self.sent)

    async def remove_choices(self, chat_id: int, message_id: int) -> None:
        self.removed.append((chat_id, message_id))

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        self.alerts.append(text)

    async def send_document(self, chat_id: int, filename: str, data: bytes,
                            caption: str) -> None:
        self.files.append((chat_id, filename, caption))

    async def send_photo(self, chat_id: int, filename: str, data: bytes, caption: str) -> None:
        self.files.append((chat_id, filename, caption))

    async def send_typing(self, chat_id: int) -> None:
        self.typing += 1

    async def send_uploading(self, chat_id: int) -> None:
        self.uploading += 1

    async def set_menu(self, chat_id: int, commands) -> None:
        self.menus[chat_id] = [word for word, _ in commands]

    def texts(self, since: int = 0) -> str:
        return "\n".join(t for _, t, _ in self.sent[since:])


HOA = User(7001, "Hoa", language_code="vi")


def inbound(event, *, user: User = HOA, private: bool = True, edited: bool = False) -> Inbound:
    return Inbound(next(UPDATES), user, user.id if private else -100, event, private=private,
                   edited=edited)


async def test_an_officer_works_through_a_messenger_without_buttons(engine):
    setup_commune(engine)
    env = Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
              now=lambda: datetime(2026, 11, 5, 3, tzinfo=UTC))
    shell, m = Shell(env), Memory()
    code = invite(engine, "xuan-truong", Role.officer)
    await shell.receive(inbound(Command("start", (code,))), m)
    assert "Hoa" in m.texts()
    assert {"tonghop", "tiendo", "chot"} <= set(m.menus[HOA.id])  # the officers' menu
    n = len(m.sent)
    await shell.receive(inbound(Command("TienDo")), m)  # any alias, any case
    assert "Xã Xuân Trường" in m.texts(n)
    n = len(m.sent)
    await shell.receive(inbound(Command("hanchot", ("20/11/2026", "05/12/2026", "5,1"))), m)
    assert "✅" in m.texts(n)
    with Session(engine) as s:
        rnd = repo.open_round(repo.find_unit("xuan-truong", session=s).id, session=s)
        assert (rnd.unit_deadline.day, rnd.reminder_days_before) == (20, [5, 1])
    n = len(m.sent)
    await shell.receive(inbound(Command("chot")), m)
    assert "Chốt số liệu" in m.texts(n)
    assert all(not choices for _, _, choices in m.sent)  # no buttons on this messenger
    await shell.receive(inbound(Press(f"off:close:{rnd.id}", "p1", message_id=n + 1)), m)
    assert m.alerts == [None] and m.removed == [(HOA.id, n + 1)]
    with Session(engine) as s:
        assert repo.open_round(rnd.commune_id, session=s).closed_at is not None
    n = len(m.sent)
    await shell.receive(inbound(Command("tonghop")), m)
    assert m.typing == 1 and len(m.files) == 3
    assert all(len(t) <= 2000 for _, t, _ in m.sent)


async def test_groups_edits_and_pictures_are_answered_without_touching_the_service(engine):
    setup_commune(engine)
    env = Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b")
    shell, m = Shell(env), Memory()
    await shell.receive(inbound(Command("tonghop"), private=False), m)
    assert m.sent == [(-100, text_of("err.private_only", "vi"), ())]
    await shell.receive(inbound(Text("12"), private=False), m)  # silence in a group
    await shell.receive(inbound(Press("off:close:1", "p9"), private=False), m)
    assert len(m.sent) == 1 and m.alerts == [text_of("err.private_only", "vi")]
    await shell.receive(inbound(Text("12"), edited=True), m)
    await shell.receive(inbound(Other()), m)
    assert [t for _, t, _ in m.sent[1:]] == [text_of("err.edited", "vi"),
                                             text_of("err.not_text", "vi")]


def test_every_command_word_and_alias_names_one_event():
    pairs = {"baocao": "report", "tinhtrang": "status", "huy": "cancel", "huongdan": "help",
             "ngonngu": "language", "moi": "invite", "tonghop": "summary", "tiendo": "progress",
             "nhac": "remind", "hanchot": "deadline", "chot": "close", "web": "web"}
    for vi, en in pairs.items():
        assert command_event(vi, ["2025"]) == command_event(en.upper(), ["2025"]), vi
    assert command_event("start", ["ABC"]) == StartCmd("ABC")
    assert command_event("baocao") == ReportCmd() and command_event("tinhtrang") == \
        SimpleCmd("status")
    assert command_event("tonghop", ["2025"]) == SummaryCmd("2025")
    assert command_event("hanchot", ["1/12", "5/12"]) == OfficerCmd("deadline", ("1/12", "5/12"))
    assert command_event("Bogus") == SimpleCmd("unknown", "/Bogus")
    assert MENU_NAMES["vi"] == list(pairs) and MENU_NAMES["en"] == list(pairs.values())
