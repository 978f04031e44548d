"""Several chats answered at once (CTVBOT_CONCURRENT_UPDATES): a real PTB Application polling
the local Bot API, many people sending their answers together on both engines. Each person's
answers are applied and answered in the order they were sent, none lost, none twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.settings import Settings
from bot.telegram import PerChatInOrder, pool_size
from sandbox.bench.databases import commune_yaml
from sandbox.bench.people import ANSWERS, JOIN, REPORT
from sandbox.botapi import LocalBotApi, LocalUser
from storage import repo
from storage.communes import apply_commune, load_commune
from storage.db import make_engine
from storage.kinds import UnitKind
from storage.models import Person, ProcessedUpdate, Unit, ValueChange
from tests.harness import TOKEN, BotProcess, Clock, handled, say

AT_ONCE = 4
TRY_AGAIN = "Xin thử lại"  # the start of err.try_again in Vietnamese (not expected here)
# what the twelve answers of P1 store, in order: (numerator, denominator); the sixth a count
STORED = [(12, 450), (11, 12), (3, 380), (2, 450), (0, 450), (None, None)]


def hamlets(engine, tmp_path, count: int) -> list[str]:
    """A commune of ``count`` hamlets with a round open now; one invitation code each."""
    path = tmp_path / "commune.yaml"
    path.write_text(commune_yaml(1, count, date.today()), encoding="utf-8")
    with Session(engine) as session:
        apply_commune(load_commune(path), session=session)
        session.commit()
        units = session.exec(select(Unit).where(Unit.kind == UnitKind.hamlet)
                             .order_by(Unit.code)).all()
        codes = [repo.create_invitation(u, session=session, days=30)[1] for u in units]
        session.commit()
    return codes


async def joined(api: LocalBotApi, codes: list[str]) -> list[LocalUser]:
    """One person per code, joined and at the report's first question (one at a time)."""
    people = []
    for i, code in enumerate(codes):
        person = api.user(TOKEN, 5000 + i, f"Người {i}", language_code="vi")
        assert any(JOIN.last in t for t in await say(person, JOIN.text.format(code=code)))
        assert any(REPORT.last in t for t in await say(person, REPORT.text))
        people.append(person)
    return people


async def sent_fast(api: LocalBotApi, person: LocalUser, texts: list[str]) -> list[int]:
    """The person sends every text without waiting for an answer in between."""
    return [await person.send(t) for t in texts]


def replies_in_order(person: LocalUser, fragments: list[str]) -> bool:
    """The bot's messages to the person hold ``fragments`` one after the other, in order."""
    left = iter(m.content or "" for m in person.messages())
    return all(any(f in text for text in left) for f in fragments)


def stored_by(engine, user_id: int) -> list[tuple]:
    with Session(engine) as s:
        person = s.exec(select(Person).where(Person.telegram_id == user_id)).one()
        rows = s.exec(select(ValueChange).where(ValueChange.changed_by == person.id)
                      .order_by(col(ValueChange.id))).all()
    return [(r.numerator, r.denominator) for r in rows]


async def run_at_once(db_url: str, engine, tmp_path, people: int, fast: bool) -> None:
    codes = hamlets(engine, tmp_path, people)
    api = LocalBotApi()
    await api.start()
    api.add_bot(TOKEN, username="ctvbot_test_bot")
    bot = await BotProcess(api, db_url, Clock(datetime.now(UTC)),
                           concurrent_updates=AT_ONCE).start()
    busiest = 0
    try:
        assert isinstance(bot.processor, PerChatInOrder)
        persons = await joined(api, codes)
        texts = [s.text for s in ANSWERS[:12]]

        async def one_by_one(person: LocalUser) -> list[int]:
            ids = []
            for text in texts:  # each answer after the previous one was answered
                ids.append(await person.send(text))
                await api.wait_until(lambda u=ids[-1]: u in handled(api), 60, "an answer")
            return ids

        async def watch() -> None:
            nonlocal busiest
            while True:
                busiest = max(busiest, bot.processor.answering)
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        try:
            sent = await asyncio.gather(*[sent_fast(api, p, texts) if fast else one_by_one(p)
                                          for p in persons])
            every = [u for ids in sent for u in ids]
            await api.wait_until(lambda: set(every) <= handled(api), 120, "every answer")
        finally:
            watcher.cancel()
    finally:
        await bot.stop()
        await api.stop()
    assert busiest > 1  # chats were answered at once, not one after the other
    assert busiest <= AT_ONCE
    for person in persons:
        # the answers were applied in the order sent: each stored value is the right pair
        assert stored_by(engine, person.user_id) == STORED
        assert replies_in_order(person, [s.last for s in ANSWERS[:12]])
        assert not any(TRY_AGAIN in (m.content or "") for m in person.messages())
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(ValueChange)).one() == \
            people * len(STORED)
        applied = s.exec(select(func.count()).select_from(ProcessedUpdate)).one()
    assert applied == people * (2 + len(texts))  # joining, /baocao and each answer, once


async def test_many_people_answering_at_once_each_in_order(db_url, tmp_path):
    engine = make_engine(db_url)
    try:
        await run_at_once(db_url, engine, tmp_path, people=12, fast=False)
    finally:
        engine.dispose()


async def test_people_sending_answers_fast_get_them_applied_in_order(db_url, tmp_path):
    engine = make_engine(db_url)
    try:
        await run_at_once(db_url, engine, tmp_path, people=6, fast=True)
    finally:
        engine.dispose()


def test_the_setting_and_the_pool(monkeypatch):
    monkeypatch.delenv("CTVBOT_CONCURRENT_UPDATES", raising=False)
    assert Settings(_env_file=None).concurrent_updates == 1
    monkeypatch.setenv("CTVBOT_CONCURRENT_UPDATES", "4")
    assert Settings(_env_file=None).concurrent_updates == 4
    monkeypatch.setenv("CTVBOT_CONCURRENT_UPDATES", "0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    assert pool_size(1) < pool_size(64) <= 256  # never hundreds of idle connections to look at
