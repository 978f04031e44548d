"""A report read from the sums kept per round gives the figures read from the values.

The commune report reads its earlier years from the kept sums, a roll-up every round whose
kept cutoff is the end of its deadline day (the others from their values); ``sums=False``
reads everything from the values, as before the sums were kept. Both engines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlmodel import Session

import storage.aggregate as aggregate
from storage.aggregate import build_report, build_rollup, deadline_cutoff, report_json
from storage.models import Round
from storage.roundsums import stamp_cutoff
from tests.test_aggregate import HAMLETS, SCHOOLS, Commune, _mix_reporters, setup_commune

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _set_cutoff(session: Session, rnd_id: int, cutoff: datetime | None) -> None:
    session.connection().execute(update(Round).where(Round.id == rnd_id)  # type: ignore[arg-type]
                                 .values(cutoff_at=cutoff))


def _as_the_app(session: Session, *communes: Commune) -> None:
    """Every round's cutoff is the end of its deadline day, as the app writes it."""
    for c in communes:
        for year in (2025, 2026):
            rnd = c.round(year)
            stamp_cutoff(rnd, TZ)
            session.add(rnd)
    session.commit()


def _same(session: Session, *communes: Commune, years: tuple[int, ...] = (2025, 2026)) -> None:
    """Every report and roll-up is the same through the sums as through the values."""
    for year in years:
        for c in communes:
            for sensitive in (True, False):
                kept = report_json(build_report(c.unit.code, year, session=session, tz=TZ,
                                                include_sensitive=sensitive))
                live = report_json(build_report(c.unit.code, year, session=session, tz=TZ,
                                                include_sensitive=sensitive, sums=False))
                assert kept == live, (c.unit.code, year, sensitive)
        for units in (True, False):
            kept = report_json(build_rollup("ninh-binh", year, session=session, tz=TZ,
                                            include_units=units))
            live = report_json(build_rollup("ninh-binh", year, session=session, tz=TZ,
                                            include_units=units, sums=False))
            assert kept == live, (year, units)


def _live_rounds(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rounds a roll-up of 2026 reads from their values."""
    seen: list[int] = []
    grouped = aggregate._grouped

    def spy(s, rounds, *args):  # noqa: ANN001, ANN202 - the same arguments as _grouped
        seen.extend(rounds)
        return grouped(s, rounds, *args)

    monkeypatch.setattr(aggregate, "_grouped", spy)
    build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    monkeypatch.undo()
    return sorted(seen)


@pytest.fixture
def two(session: Session) -> tuple[Commune, Commune]:
    """Two communes of Ninh Bình with figures for 2025 and 2026, some sent late, some not
    sent, one indicator reported by hamlets and an agency."""
    a = setup_commune(session)
    b = setup_commune(session, code="yen-binh", name="Xã Yên Bình")
    for c in (a, b):
        _mix_reporters(c, "10")
    for c, k in ((a, 1), (b, 2)):
        for year in (2025, 2026):
            for i, h in enumerate(HAMLETS):
                c.save(h, "8.1", year=year, numerator=i + k, denominator=100 + year % 10,
                       submit=False)
                c.save(h, "13", year=year, value=float(k + i % 3), submit=False)
                c.save(h, "10", year=year, numerator=k, denominator=100, submit=False)
                if i % 3:  # a third of the thôn never send their report
                    c.submit(h, year=year, at=datetime(year, 11, 5 + 4 * (i % 2), 3, 0,
                                                       tzinfo=UTC))
            for s in SCHOOLS:
                c.save(s, "7", year=year, value=float(k % 2), submit=False)
            c.save("tram-y-te", "3.1", year=year, numerator=k, denominator=300)
            c.save("tram-y-te", "2", year=year, numerator=90 + k, denominator=100,
                   submit=False)
        a.save("ubnd", "10", numerator=7, denominator=1000)
    session.commit()
    _as_the_app(session, a, b)
    return a, b


def test_reports_through_the_sums_equal_those_through_the_values(
        session: Session, two: tuple[Commune, Commune],
        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = two
    assert _live_rounds(session, monkeypatch) == []  # every round read from its sums
    _same(session, a, b)


def test_after_a_correction_and_a_submission(session: Session,
                                             two: tuple[Commune, Commune]) -> None:
    a, b = two
    before = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    a.save(HAMLETS[0], "8.1", numerator=40, denominator=90, submit=False)  # a correction
    b.save(HAMLETS[3], "13", year=2025, value=9.0, submit=False)  # last year's, corrected
    a.submit(HAMLETS[3], at=datetime(2026, 11, 20, tzinfo=UTC))  # sent late
    b.submit(HAMLETS[0], at=datetime(2026, 11, 1, tzinfo=UTC))  # sent on time
    session.commit()
    after = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    r0 = next(r for r in before.rows if r.code == "8.1")
    r1 = next(r for r in after.rows if r.code == "8.1")
    assert r1.numerator != r0.numerator
    assert (r1.units_submitted, r1.units_on_time) == (r0.units_submitted + 2,
                                                      r0.units_on_time + 1)
    _same(session, a, b)


def test_after_the_deadline_moves(session: Session, two: tuple[Commune, Commune],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A later deadline makes the reports sent on 9 November on time (as the app writes
    the new deadline's cutoff with it)."""
    a, b = two
    before = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    rnd = a.round(2026)
    rnd.unit_deadline = date(2026, 11, 8)
    stamp_cutoff(rnd, TZ)  # as /hanchot does
    session.add(rnd)
    session.commit()
    assert _live_rounds(session, monkeypatch) == []
    after = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    r0 = next(r for r in before.rows if r.code == "8.1")
    r1 = next(r for r in after.rows if r.code == "8.1")
    assert r1.units_on_time < r0.units_on_time
    _same(session, a, b)


def test_a_round_whose_kept_cutoff_is_not_its_deadline_is_read_from_its_values(
        session: Session, two: tuple[Commune, Commune],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sums of b's round count on time against 7 November: the report's deadline is
    10 November, so the roll-up reads that round from its values."""
    a, b = two
    rnd = b.round(2026)
    _set_cutoff(session, rnd.id, deadline_cutoff(date(2026, 11, 7), TZ))
    session.commit()
    kept_on_time = session.connection().execute(
        text("SELECT sum(on_time) FROM roundsum WHERE round_id = :r"), {"r": rnd.id}).scalar()
    live_on_time = sum(g.on_time for g in aggregate._grouped(
        session, {rnd.id: (b.unit.id, 2026)}, aggregate._plan_indicators(
            rnd.plan_id, session=session), [rnd.unit_deadline], TZ))
    assert kept_on_time != live_on_time  # the kept sums would give other figures
    assert _live_rounds(session, monkeypatch) == [rnd.id]
    _same(session, a, b)
    # another time zone: no kept cutoff is the end of a deadline day there
    other = ZoneInfo("UTC")
    for units in (True, False):
        assert report_json(build_rollup("ninh-binh", 2026, session=session, tz=other,
                                        include_units=units)) == report_json(
            build_rollup("ninh-binh", 2026, session=session, tz=other, include_units=units,
                         sums=False))
