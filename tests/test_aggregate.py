"""The commune figures (storage.aggregate) on hand-computed datasets, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from storage import repo
from storage.aggregate import (
    CHUA_DU,
    DAT,
    KHONG_DAT,
    R_MISSING,
    R_NO_DATA,
    R_NO_REFERENCE,
    R_NOT_JUDGED,
    R_NOT_SUBMITTED,
    R_REFERENCE_INCOMPLETE,
    W_AGENCY_OVER_HAMLETS,
    W_SMALL_DENOMINATOR,
    CommuneReport,
    IndicatorRow,
    ReportError,
    build_report,
    build_rollup,
    report_json,
)
from storage.communes import apply_commune, load_commune
from storage.models import Indicator, Milestone, Round, Submission, Unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Commune:
    """A commune set up from a commune file, with helpers to enter its figures."""

    session: Session
    unit: Unit
    plan_id: int

    def u(self, short: str) -> Unit:
        """A unit of the commune by the last part of its code."""
        return repo.find_unit(f"{self.unit.code}/{short}", session=self.session)

    def round(self, year: int) -> Round:
        """The commune's round for a year (made when missing)."""
        rnd = repo.round_for_year(self.unit.id, year, session=self.session)
        if rnd is None:
            rnd = Round(commune_id=self.unit.id, plan_id=self.plan_id, year=year,
                        unit_deadline=date(year, 11, 10),
                        consolidation_deadline=date(year, 12, 5))
            self.session.add(rnd)
            self.session.flush()
        return rnd

    def ind(self, code: str) -> Indicator:
        """An indicator of the commune's plan."""
        return self.session.exec(select(Indicator).where(Indicator.plan_id == self.plan_id,
                                                         Indicator.code == code)).one()

    def save(self, short: str, code: str, *, year: int = 2026, submit: bool = True,
             **fields: float | int | str | None) -> None:
        """One unit's value for one indicator, submitted unless told otherwise."""
        rnd = self.round(year)
        repo.save_value(session=self.session, round_id=rnd.id, unit_id=self.u(short).id,
                        indicator_id=self.ind(code).id, person_id=None, **fields)
        if submit:
            self.submit(short, year=year)

    def submit(self, short: str, *, year: int = 2026, at: datetime | None = None) -> None:
        """The unit presses "Gửi báo cáo" (at a given time)."""
        rnd = self.round(year)
        unit = self.u(short)
        repo.submit(rnd.id, unit.id, person_id=None, session=self.session)
        sub = self.session.exec(select(Submission).where(Submission.round_id == rnd.id,
                                                         Submission.unit_id == unit.id)).one()
        sub.submitted_at = at or datetime(year, 11, 5, 3, 0, tzinfo=UTC)
        self.session.add(sub)
        self.session.flush()

    def report(self, year: int = 2026, **kw: bool) -> CommuneReport:
        """The commune's report."""
        return build_report(self.unit.code, year, session=self.session, tz=TZ, **kw)


def setup_commune(session: Session, file: str = "communes/002_xuan_truong.yaml", *,
          code: str | None = None, name: str | None = None) -> Commune:
    """Apply a bundled commune file (optionally renamed, for a second commune)."""
    spec = load_commune(ROOT / file)
    if code:
        spec = spec.model_copy(update={"code": code, "name": name or code})
    apply_commune(spec, session=session)
    unit = repo.find_unit(spec.code, session=session)
    rnd = repo.round_for_year(unit.id, spec.round.year, session=session)
    assert rnd is not None
    session.commit()
    return Commune(session, unit, rnd.plan_id)


def row(report: CommuneReport, code: str) -> IndicatorRow:
    """One indicator's row."""
    found = [r for r in report.rows if r.code == code]
    assert len(found) == 1, code
    return found[0]


HAMLETS = ("thon-hanh-thien", "thon-xuan-bac", "thon-xuan-trung", "thon-xuan-phong",
           "thon-xuan-dai", "thon-xuan-thuy")
SCHOOLS = ("mam-non", "tieu-hoc", "thcs")


@pytest.fixture
def xt(session: Session) -> Commune:
    """Xã Xuân Trường on plan 002, round 2026."""
    return setup_commune(session)


# ------------------------------------------------------------------ sums, not averages


def test_rate_is_sum_over_sum_not_average_of_percentages(xt: Commune) -> None:
    xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    xt.save("thon-xuan-bac", "8.1", numerator=99, denominator=100)
    r = row(xt.report(), "8.1")
    assert (r.numerator, r.denominator) == (100, 102)
    assert r.value == pytest.approx(100 / 102 * 100)  # 98.04%, not (50 + 99) / 2 = 74.5%
    assert round(r.value, 2) == 98.04
    assert (r.units_expected, r.units_reported) == (6, 2)
    assert r.verdict == CHUA_DU and r.reason == R_MISSING
    assert r.provisional_verdict == KHONG_DAT  # 98% is not below 5%
    assert r.missing_units == ["Thôn Xuân Trung", "Thôn Xuân Phong", "Thôn Xuân Đài",
                               "Thôn Xuân Thủy"]


def test_all_hamlets_reported_gives_a_verdict(xt: Commune) -> None:
    for i, h in enumerate(HAMLETS):
        xt.save(h, "8.1", numerator=i, denominator=100)  # 0+1+...+5 = 15 of 600
    r = row(xt.report(), "8.1")
    assert (r.numerator, r.denominator, r.value) == (15, 600, 2.5)
    assert r.verdict == DAT and r.reason is None
    assert r.units_reported == r.units_expected == 6


def test_per_mille_and_per_100000_factors(xt: Commune) -> None:
    xt.save("tram-y-te", "3.1", numerator=1, denominator=250)  # 4‰, not 0.4%
    for h in HAMLETS:
        xt.save(h, "11.1", numerator=1, denominator=500)  # 6 of 3,000 children
    rep = xt.report()
    assert row(rep, "3.1").value == pytest.approx(4.0)
    assert row(rep, "3.1").verdict == DAT  # < 5‰
    r = row(rep, "11.1")
    assert (r.numerator, r.denominator) == (6, 3000)
    assert r.value == pytest.approx(200.0)  # 200 per 100,000
    assert r.verdict == DAT  # ≤ 550


# ------------------------------------------------------------------ agency before hamlets


def _mix_reporters(xt: Commune, code: str) -> None:
    ind = xt.ind(code)
    ind.reporters = ["hamlet", "commune_office"]
    xt.session.add(ind)
    xt.session.flush()


def test_agency_figure_is_never_added_to_hamlets(xt: Commune) -> None:
    _mix_reporters(xt, "8.1")
    for h in HAMLETS:
        xt.save(h, "8.1", numerator=10, denominator=100)
    xt.save("ubnd", "8.1", numerator=15, denominator=500)
    r = row(xt.report(), "8.1")
    assert (r.numerator, r.denominator) == (15, 500)  # not 75/1100
    assert r.value == pytest.approx(3.0)
    assert W_AGENCY_OVER_HAMLETS in r.warnings
    assert (r.units_expected, r.units_reported) == (1, 1)
    assert r.verdict == DAT


def test_hamlets_used_when_the_agency_has_no_figure(xt: Commune) -> None:
    _mix_reporters(xt, "8.1")
    for h in HAMLETS:
        xt.save(h, "8.1", numerator=10, denominator=100)
    r = row(xt.report(), "8.1")
    assert (r.numerator, r.denominator, r.units_expected) == (60, 600, 6)
    assert W_AGENCY_OVER_HAMLETS not in r.warnings


# ------------------------------------------------------------------ directions


def test_below_and_at_most_at_the_boundary(xt: Commune) -> None:
    xt.save("tram-y-te", "3.1", numerator=1, denominator=200)  # 5.0‰, target < 5.0‰
    xt.save("tram-y-te", "3.2", numerator=6, denominator=1000)  # 6.0‰, target ≤ 6.0‰
    xt.save("tieu-hoc", "17.2", numerator=12, denominator=10000)  # 0.12%, target < 0.12%
    xt.save("tram-y-te", "4.2", numerator=3751, denominator=25000)  # 15.004%, target ≤ 15%
    rep = xt.report()
    assert row(rep, "3.1").value == pytest.approx(5.0)
    assert row(rep, "3.1").verdict == KHONG_DAT
    assert row(rep, "3.2").verdict == DAT
    assert row(rep, "17.2").verdict == KHONG_DAT
    assert row(rep, "4.2").verdict == KHONG_DAT  # judged exactly: 15.004% is above 15%


def _target(xt: Commune, code: str, direction: str, value: float) -> None:
    """Set the 2026 milestone of an indicator."""
    m = xt.session.exec(select(Milestone).where(Milestone.indicator_id == xt.ind(code).id,
                                                Milestone.year == 2026)).one()
    m.direction, m.value, m.value_max = direction, value, None
    xt.session.add(m)
    xt.session.flush()


# the boundaries of every direction, exact values and float noise: tests/test_rules.py


def test_change_is_judged_exactly(xt: Commune) -> None:
    """Down 1.996% against "giảm 2-3%/năm" is không đạt, not rounded up to 2%."""
    for h in HAMLETS:
        xt.save(h, "13", year=2025, value=2505 if h == HAMLETS[0] else 0)
    for h in HAMLETS:
        xt.save(h, "13", value=2455 if h == HAMLETS[0] else 0)  # 50/2505 = 1.996%
    r = row(xt.report(), "13")
    assert r.change_pct == pytest.approx(1.996, abs=1e-3)
    assert r.verdict == KHONG_DAT


def test_between_milestones_uses_the_next_milestone(xt: Commune) -> None:
    xt.save("tram-y-te", "2", year=2027, numerator=93, denominator=100)
    r = row(xt.report(2027), "2")
    assert r.target is not None
    assert (r.target.milestone_year, r.target.value, r.target.from_next_milestone) == (
        2030, 95, True)
    assert r.verdict == KHONG_DAT  # 93% would meet 2026's 90% but not 2030's 95%
    on_milestone = row(xt.report(2026), "2")
    assert on_milestone.target is not None and not on_milestone.target.from_next_milestone


# ------------------------------------------------------------------ complete or not


def test_chua_du_until_the_responsible_unit_submits(xt: Commune) -> None:
    xt.save("tram-y-te", "2", numerator=95, denominator=100, submit=False)
    r = row(xt.report(), "2")
    assert (r.verdict, r.provisional_verdict, r.reason) == (CHUA_DU, DAT, R_NOT_SUBMITTED)
    assert r.value == pytest.approx(95.0)  # the draft value is shown
    assert r.unsubmitted_units == ["Trạm Y tế xã Xuân Trường"]
    xt.submit("tram-y-te")
    assert row(xt.report(), "2").verdict == DAT


def test_no_data_at_all(xt: Commune) -> None:
    r = row(xt.report(), "5.1")
    assert (r.verdict, r.reason, r.value, r.units_reported, r.units_expected) == (
        CHUA_DU, R_NO_DATA, None, 0, 1)


def test_share_of_units_meeting_a_standard(xt: Commune) -> None:
    xt.save("mam-non", "7", value=1)
    xt.save("tieu-hoc", "7", value=1)
    r = row(xt.report(), "7")
    assert (r.numerator, r.denominator) == (2, 3)  # yes ÷ expected schools
    assert r.verdict == CHUA_DU and r.reason == R_MISSING
    xt.save("thcs", "7", value=0)
    r = row(xt.report(), "7")
    assert r.value == pytest.approx(200 / 3)
    assert r.verdict == KHONG_DAT  # target 100%
    xt.save("thcs", "7", value=1)
    assert row(xt.report(), "7").verdict == DAT


def test_yes_no_for_the_commune(xt: Commune) -> None:
    xt.save("ubnd", "1", value=0)
    assert row(xt.report(), "1").verdict == KHONG_DAT
    xt.save("ubnd", "1", value=1)
    r = row(xt.report(), "1")
    assert (r.value, r.verdict, r.units_expected) == (1.0, DAT, 1)


def test_change_against_last_year(xt: Commune) -> None:
    for h in HAMLETS:
        xt.save(h, "13", year=2025, value=10)  # 60 child marriages in 2025
    for h, n in zip(HAMLETS, (10, 10, 10, 10, 10, 9), strict=True):
        xt.save(h, "13", value=n)  # 59 in 2026: down 1.67%, target down 2-3%
    r = row(xt.report(), "13")
    assert (r.value, r.last_year_value, r.reference_year, r.reference_value) == (
        59, 60, 2025, 60)
    assert r.change_pct == pytest.approx(100 / 60)
    assert r.verdict == KHONG_DAT
    xt.save("thon-xuan-thuy", "13", value=8)  # 58: down 3.33%
    r = row(xt.report(), "13")
    assert r.verdict == DAT and r.change_pct == pytest.approx(200 / 60)


def test_change_without_last_year_is_chua_du(xt: Commune) -> None:
    for h in HAMLETS:
        xt.save(h, "13", value=1)
    r = row(xt.report(), "13")
    assert (r.verdict, r.reason, r.reference_year) == (CHUA_DU, R_NO_REFERENCE, 2025)


def test_maintain_against_last_year(xt: Commune) -> None:
    xt.save("van-hoa", "21", year=2025, value=5)
    xt.save("van-hoa", "21", value=5)
    assert row(xt.report(), "21").verdict == DAT
    xt.save("van-hoa", "21", value=4)
    r = row(xt.report(), "21")
    assert (r.verdict, r.last_year_value) == (KHONG_DAT, 5)


def test_small_denominator_warning(xt: Commune) -> None:
    xt.save("tram-y-te", "3.1", numerator=0, denominator=80)  # plan: min 100 births
    for h in HAMLETS:
        xt.save(h, "11.1", numerator=0, denominator=100)  # 600 < 1,000 children
    xt.save("tram-y-te", "2", numerator=40, denominator=50)  # % has no minimum
    ind = xt.ind("3.2")
    ind.min_denominator = None  # the default for ‰ is 100
    xt.session.add(ind)
    xt.save("tram-y-te", "3.2", numerator=0, denominator=99)
    rep = xt.report()
    assert W_SMALL_DENOMINATOR in row(rep, "3.1").warnings
    assert W_SMALL_DENOMINATOR in row(rep, "11.1").warnings
    assert W_SMALL_DENOMINATOR in row(rep, "3.2").warnings
    assert W_SMALL_DENOMINATOR not in row(rep, "2").warnings


# ------------------------------------------------------------------ units and timeliness


def test_on_time_is_end_of_deadline_day_in_vietnam(xt: Commune) -> None:
    xt.save("tram-y-te", "2", numerator=1, denominator=2, submit=False)
    xt.submit("tram-y-te", at=datetime(2026, 11, 10, 16, 59, tzinfo=UTC))  # 23:59 ICT
    xt.save("cong-an", "9", numerator=0, denominator=100, submit=False)
    xt.submit("cong-an", at=datetime(2026, 11, 10, 17, 0, tzinfo=UTC))  # 00:00 on 11/11
    rep = xt.report()
    assert (row(rep, "2").units_on_time, row(rep, "2").units_late) == (1, 0)
    assert (row(rep, "9").units_on_time, row(rep, "9").units_late) == (0, 1)
    c = rep.completeness
    assert (c.units_submitted, c.units_on_time, c.units_late) == (2, 1, 1)
    assert c.late_units == ["Công an xã Xuân Trường"]
    assert c.units_expected == 14  # 6 thôn + 8 agencies, all report something
    assert "Thôn Hành Thiện" in c.missing_units
    units = {u.code.rsplit("/", 1)[1]: u for u in rep.units}
    assert units["tram-y-te"].on_time is True and units["cong-an"].on_time is False
    assert units["tram-y-te"].values["2"].numerator == 1
    assert "2" in units["tram-y-te"].expected and "8.1" not in units["tram-y-te"].expected


def test_sensitive_indicators_left_out_on_request(xt: Commune) -> None:
    xt.save("cong-an", "9", numerator=1, denominator=1000)
    rep = xt.report(include_sensitive=False)
    codes = {r.code for r in rep.rows}
    assert "9" not in codes and "6" not in codes and "8.1" in codes
    assert all("9" not in u.values for u in rep.units)


def test_report_json(xt: Commune) -> None:
    xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    data = report_json(xt.report())
    ind = next(i for i in data["indicators"] if i["code"] == "8.1")
    for key in ("code", "numerator", "denominator", "value", "target", "verdict",
                "units_reported", "units_expected"):
        assert key in ind
    assert ind["verdict"] in (DAT, KHONG_DAT, CHUA_DU)
    assert ind["target"]["direction"] == "below"


def test_unknown_unit_or_year(xt: Commune) -> None:
    with pytest.raises(ReportError, match="no round for 2031"):
        xt.report(2031)
    with pytest.raises(ReportError):
        build_report("nowhere", 2026, session=xt.session, tz=TZ)


# ------------------------------------------------------------------ roll-up


def test_rollup_over_two_communes_equals_the_sums(session: Session) -> None:
    a = setup_commune(session)
    b = setup_commune(session, code="yen-binh", name="Xã Yên Bình")
    a.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    a.save("thon-xuan-bac", "8.1", numerator=99, denominator=100)
    b.save("thon-hanh-thien", "8.1", numerator=5, denominator=300)
    a.save("tram-y-te", "3.1", numerator=1, denominator=300)
    b.save("tram-y-te", "3.1", numerator=2, denominator=400)
    a.save("mam-non", "7", value=1)
    b.save("mam-non", "7", value=0)
    for c, n in ((a, 10), (b, 20)):
        for h in HAMLETS:
            c.save(h, "13", year=2025, value=n)
            c.save(h, "13", value=n - 1)
    # an agency figure in one commune, hamlets only in the other: never added together
    for c in (a, b):
        _mix_reporters(c, "10")
    for h in HAMLETS:
        a.save(h, "10", numerator=1, denominator=100)
        b.save(h, "10", numerator=2, denominator=100)
    a.save("ubnd", "10", numerator=7, denominator=1000)
    session.commit()
    up = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    ra, rb = a.report(), b.report()
    assert up.rollup and up.round is None and len(up.round_ids) == 2
    for code in ("8.1", "3.1", "7", "13", "10"):
        r, x, y = row(up, code), row(ra, code), row(rb, code)
        assert r.units_expected == x.units_expected + y.units_expected, code
        assert r.units_reported == x.units_reported + y.units_reported, code
    r = row(up, "8.1")
    assert (r.numerator, r.denominator) == (105, 402)
    assert r.value == pytest.approx(105 / 402 * 100)
    assert row(up, "3.1").value == pytest.approx(3 / 700 * 1000)
    assert (row(up, "7").numerator, row(up, "7").denominator) == (1, 6)
    r = row(up, "13")
    assert (r.value, r.last_year_value) == (6 * 9 + 6 * 19, 6 * 10 + 6 * 20)
    r = row(up, "10")
    assert (r.numerator, r.denominator) == (7 + 12, 1000 + 600)  # a's agency + b's hamlets
    assert W_AGENCY_OVER_HAMLETS in r.warnings
    assert r.units_expected == 1 + 6
    assert [u.name for u in up.units] == ["Xã Xuân Trường", "Xã Yên Bình"]
    per = {u.name: u for u in up.units}
    assert per["Xã Xuân Trường"].values["8.1"].numerator == 100
    assert per["Xã Yên Bình"].values["10"].numerator == 12
    assert up.completeness.units_expected == 28
    assert up.completeness.units_submitted == (ra.completeness.units_submitted
                                               + rb.completeness.units_submitted)
    # without the per-commune detail the figures are the same
    lean = build_rollup("ninh-binh", 2026, session=session, tz=TZ, include_units=False)
    assert [(x.code, x.numerator, x.denominator, x.value, x.verdict) for x in lean.rows] == [
        (x.code, x.numerator, x.denominator, x.value, x.verdict) for x in up.rows]


def test_a_rollup_names_the_communes_missing_in_one_order_on_every_engine(
        session: Session) -> None:
    """The communes an indicator still waits for come in the communes' own order (that of
    the completeness lists), whatever order the database groups them in."""
    names = ["Xã Xuân Trường", "Xã Yên Bình", "Xã An Hòa", "Xã Bình Minh"]
    codes = ["xuan-truong", "yen-binh", "an-hoa", "binh-minh"]
    made = [setup_commune(session, code=c, name=n) for c, n in zip(codes, names, strict=True)]
    made[1].save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    session.commit()
    up = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    assert up.completeness.missing_units == names
    assert row(up, "8.1").missing_units == names
    assert row(up, "3.1").missing_units == names


def test_rollup_of_one_commune_matches_its_report(xt: Commune) -> None:
    xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    xt.save("tram-y-te", "2", numerator=95, denominator=100, submit=False)
    up, rep = build_rollup("ninh-binh", 2026, session=xt.session, tz=TZ), xt.report()
    assert [(r.code, r.numerator, r.denominator, r.value, r.verdict, r.units_expected)
            for r in up.rows] == [
        (r.code, r.numerator, r.denominator, r.value, r.verdict, r.units_expected)
        for r in rep.rows]


# ------------------------------------------------------------------ a city (seed 004)


@pytest.fixture
def city(session: Session) -> Commune:
    """Thành phố Rạch Giá on plan 004: phường/xã report as units of the city's round."""
    return setup_commune(session, "communes/004_rach_gia.yaml")


WARDS = ("vinh-thanh-van", "vinh-thanh", "vinh-lac", "vinh-bao", "vinh-quang", "vinh-hiep",
         "vinh-loi", "vinh-thong", "an-hoa", "an-binh", "rach-soi", "phi-thong")  # 11 + 1


def test_city_adds_up_its_wards_and_baseline_year(city: Commune) -> None:
    for w in WARDS:
        city.save(w, "9", year=2020, value=20)  # 240 abused children in 2020
    for w in WARDS:
        city.save(w, "9", year=2025, value=19)  # 228: down 5% against 2020
    r = row(city.report(2025), "9")
    assert (r.value, r.reference_year, r.reference_value) == (228, 2020, 240)
    assert r.change_pct == pytest.approx(5.0)
    assert r.verdict == DAT  # reduce_vs_year: at least 5% down against 2020
    assert r.units_expected == 12
    city.save("phi-thong", "9", year=2025, value=20)  # 229: down 4.58%
    assert row(city.report(2025), "9").verdict == KHONG_DAT


def test_baseline_year_without_data_is_chua_du(city: Commune) -> None:
    for w in WARDS:
        city.save(w, "9", year=2025, value=3)
    r = row(city.report(2025), "9")
    assert (r.verdict, r.reason, r.reference_year) == (CHUA_DU, R_NO_REFERENCE, 2020)


def test_direction_none_is_listed_not_judged(city: Commune) -> None:
    city.save("phong-gddt", "15.4", year=2025, numerator=30, denominator=1000)
    r = row(city.report(2025), "15.4")
    assert r.value == pytest.approx(3.0)
    assert (r.verdict, r.reason) == (None, R_NOT_JUDGED)


def test_province_rollup_over_the_city(city: Commune) -> None:
    for w in WARDS:
        city.save(w, "1", year=2025, value=1 if w != "phi-thong" else 0)
    rep, up = city.report(2025), build_rollup("kien-giang", 2025, session=city.session, tz=TZ)
    assert row(rep, "1").value == pytest.approx(1100 / 12)  # 11 of 12: 91.7% ≥ 75%
    assert row(rep, "1").verdict == DAT
    assert [(r.code, r.value, r.verdict) for r in up.rows] == [
        (r.code, r.value, r.verdict) for r in rep.rows]
    with pytest.raises(ReportError, match="no round"):
        build_rollup("kien-giang", 2019, session=city.session, tz=TZ)


def test_change_against_an_incomplete_last_year_is_chua_du(xt: Commune) -> None:
    """3 of 6 thôn reported 2 each last year (6); all 6 this year (11): not a rise of 83%."""
    for h in HAMLETS[:3]:
        xt.save(h, "13", year=2025, value=2)
    for h, n in zip(HAMLETS, (2, 2, 1, 2, 2, 2), strict=True):
        xt.save(h, "13", value=n)
    r = row(xt.report(), "13")
    assert (r.value, r.reference_value) == (11, 6)
    assert (r.verdict, r.reason) == (CHUA_DU, R_REFERENCE_INCOMPLETE)
    for h in HAMLETS[3:]:  # the missing thôn's 2025 figures are entered: now comparable
        xt.save(h, "13", year=2025, value=2)
    r = row(xt.report(), "13")
    assert r.reference_value == 12 and r.verdict == DAT  # 11 against 12: down 8.3% ≥ 2%
    assert r.change_pct == pytest.approx(100 / 12)


def test_last_years_share_of_units_is_over_the_units_expected_that_year(xt: Commune) -> None:
    """As that year's own report gave it: 1 of the 2 schools expected, 50%, not 1 of the 1
    that answered (plan 000 chỉ tiêu 21 showed 40% in one report and 33,33% in the other)."""
    xt.save("tieu-hoc", "19", year=2025, value=1)  # one of the two schools reported in 2025
    r = row(xt.report(), "19")
    assert r.last_year_value == pytest.approx(50.0)
    assert row(xt.report(2025), "19").value == pytest.approx(r.last_year_value)


def test_rollup_annex_counts_every_indicator_of_each_commune(session: Session) -> None:
    """A commune that reported 4 indicators has the rest chưa đủ, as in its own report."""
    a = setup_commune(session)
    b = setup_commune(session, code="yen-binh", name="Xã Yên Bình")
    a.save("ubnd", "1", value=1)
    a.save("tram-y-te", "2", numerator=95, denominator=100)
    a.save("tram-y-te", "3.1", numerator=1, denominator=300)
    a.save("tram-y-te", "3.2", numerator=9, denominator=1000)
    for h in HAMLETS:
        b.save(h, "8.1", numerator=1, denominator=100)
    session.commit()
    up = build_rollup("ninh-binh", 2026, session=session, tz=TZ)
    per = {u.name: u for u in up.units}
    for commune in (a, b):
        own = commune.report().counts()
        unit = per[commune.unit.name]
        verdicts = [v.verdict for v in unit.values.values()]
        got = {k: verdicts.count(k) for k in (DAT, KHONG_DAT, CHUA_DU)}
        assert got == {k: own[k] for k in (DAT, KHONG_DAT, CHUA_DU)}, commune.unit.name
    xt = per["Xã Xuân Trường"]
    assert len(xt.values) == len(up.rows)  # every indicator, with data or not
    assert sum(v.verdict == CHUA_DU for v in xt.values.values()) > 20
    assert xt.values["5.1"].value is None and xt.values["5.1"].verdict == CHUA_DU
