"""A figure is never shown as its target when its verdict says otherwise: 94.996% against
"≥ 95%" (không đạt) is written 94,996%, in the chat (/summary) as in the documents."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import service
from bot.i18n import fmt_param, render_reply
from flows.effects import Ratio, decimals_to_agree
from storage import repo
from storage.kinds import Role
from storage.models import Indicator, Milestone
from tests.harness import invite, setup_commune


@pytest.mark.parametrize(("value", "direction", "target", "target_max", "expected"), [
    (94.996, "at_least", 95, None, 3),  # 95,00 would read as met
    (9.496, "below", 9.5, None, 3),  # 9,50 would read as not met
    (15.004, "at_most", 15, None, 3),
    (94.9995, "at_least", 95, None, 4),  # 94,999|5 rounds half-even to 95,000 (Babel)
    (94.46, "at_least", 94.5, None, 2),  # fine with 0 decimals, not with 1
    (57 / 100 * 100, "at_least", 57, None, 0),  # float noise: it is 57
    (95.0, "at_least", 95, None, 0),
    (98.04, "below", 5, None, 0),
    (99.996, "yes", None, None, 3),  # a share of units against 100%
    (95.504, "range", 90, 95.5, 3),
    (80.0, "none", None, None, 0),
])
def test_decimals_to_agree(value: float, direction: str, target: float | None,
                           target_max: float | None, expected: int) -> None:
    assert decimals_to_agree(value, direction, target, target_max) == expected


def test_ratio_decimals_hint() -> None:
    assert fmt_param(Ratio(94.996, 100), "vi") == "95%"  # the usual 1 decimal
    assert fmt_param(Ratio(94.996, 100, 3), "vi") == "94,996%"
    assert fmt_param(Ratio(9.496, 1000, 3), "en") == "9.496‰"
    assert fmt_param(Ratio(4.8, 1000, 0), "vi") == "4,8‰"  # never fewer than usual


def _milestone(s: Session, code: str, direction: str, value: float) -> None:
    ind = s.exec(select(Indicator).where(Indicator.code == code)).one()
    m = s.exec(select(Milestone).where(Milestone.indicator_id == ind.id,
                                       Milestone.year == 2026)).one()
    m.direction, m.value, m.value_max = direction, value, None
    s.add(m)


def test_summary_in_chat_shows_enough_decimals(engine: Engine) -> None:
    setup_commune(engine)
    env = service.Env(engine=engine, tz=ZoneInfo("Asia/Ho_Chi_Minh"), bot_username="b",
                      now=lambda: datetime(2026, 11, 20, 2, tzinfo=UTC))
    hoa = service.TgUser(71_001, "Hoa", language_code="vi")
    service.handle(env, 1, hoa, service.StartCmd(invite(engine, "xuan-truong",
                                                        role=Role.officer)))
    with Session(engine) as s:
        _milestone(s, "2", "at_least", 95)
        _milestone(s, "3.2", "below", 9.5)
        xt = repo.find_unit("xuan-truong", session=s)
        rnd = repo.open_round(xt.id, session=s)
        station = repo.find_unit("xuan-truong/tram-y-te", session=s)
        for code, num, den in (("2", 23749, 25000), ("3.2", 2374, 250000),
                               ("3.1", 1, 250)):
            ind = s.exec(select(Indicator).where(Indicator.code == code)).one()
            repo.save_value(session=s, round_id=rnd.id, unit_id=station.id,
                            indicator_id=ind.id, person_id=None, numerator=num,
                            denominator=den)
        repo.submit(rnd.id, station.id, person_id=None, session=s)
        s.commit()
    out = service.handle(env, 2, hoa, service.SummaryCmd())
    text, _ = render_reply(out.replies[0], "vi")
    line = {ln.split()[1]: ln for ln in text.splitlines() if ln[:1] in "✅❌⏳•"}
    assert line["2"].startswith("❌") and "94,996%" in line["2"], line["2"]
    assert line["3.2"].startswith("✅") and "9,496‰" in line["3.2"], line["3.2"]
    assert "4‰" in line["3.1"]  # the usual rendering otherwise
