"""The bundled plan 002 (xã Xuân Trường) against its seed text 002_4aa6ed021555f57f.txt."""

from __future__ import annotations

import re

import pytest

from storage.kinds import Direction, IndicatorKind, UnitKind
from storage.plan_files import CriterionSpec, IndicatorSpec, PlanSpec, find_plan_path, load_plan
from tests.seeds import seed_text

SEED_NAME = "002_4aa6ed021555f57f.txt"
SCHOOLS = {UnitKind.preschool, UnitKind.primary_school, UnitKind.secondary_school}


@pytest.fixture(scope="module")
def plan() -> PlanSpec:
    return load_plan(find_plan_path("002"))


def _ind(plan: PlanSpec, code: str) -> IndicatorSpec:
    found = [i for _, _, i in plan.indicators() if i.code == code]
    assert len(found) == 1, f"indicator {code}: {len(found)} found"
    return found[0]


def _crit(plan: PlanSpec, number: int) -> CriterionSpec:
    found = [c for g in plan.goals for c in g.criteria if c.number == number]
    assert len(found) == 1
    return found[0]


def _targets(ind: IndicatorSpec) -> dict[int, tuple[Direction, float | None, float | None]]:
    return {t.year: (t.direction, t.value, t.value_max) for t in ind.targets}



def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# --- the plan as a whole -------------------------------------------------------------------


def test_header(plan: PlanSpec) -> None:
    assert plan.code == "002"
    assert plan.issuer == "UBND xã Xuân Trường"
    assert plan.level is UnitKind.commune
    assert plan.period == (2025, 2030)  # III.2 "Từ năm 2025 đến năm 2030"
    assert plan.milestones == [2026, 2030]
    assert plan.source == SEED_NAME
    assert plan.deadlines is not None
    assert plan.deadlines.unit == "10/11"  # VII "trước ngày 10/11"
    assert plan.deadlines.consolidation == "05/12"  # decided: the text gives none


def test_24_criteria_in_4_goals(plan: PlanSpec) -> None:
    by_goal = {g.code: [c.number for c in g.criteria] for g in plan.goals}
    assert by_goal == {
        1: list(range(1, 8)),
        2: list(range(8, 15)),
        3: list(range(15, 22)),
        4: [22, 23, 24],
    }
    assert plan.goals[1].title.vi == "Về bảo vệ trẻ em"
    assert plan.goals[3].title.vi == "Về sự tham gia của trẻ em vào các vấn đề về trẻ em"


def test_sub_indicators_per_criterion(plan: PlanSpec) -> None:
    codes = {c.number: [i.code for i in c.indicators] for g in plan.goals for c in g.criteria}
    assert codes[3] == ["3.1", "3.2", "3.3"]
    assert codes[4] == ["4.1", "4.2", "4.3"]
    assert codes[5] == ["5.1", "5.2"]
    assert codes[8] == ["8.1", "8.2"]
    assert codes[11] == ["11.1", "11.2"]
    assert codes[17] == ["17.1", "17.2"]
    assert codes[18] == ["18.1", "18.2"]
    assert codes[20] == ["20.1", "20.2"]
    for n in (1, 2, 6, 7, 9, 10, 12, 13, 14, 15, 16, 19, 21, 22, 23, 24):
        assert codes[n] == [str(n)], n
    assert len(plan.indicators()) == 34


def test_codes_belong_to_their_criterion(plan: PlanSpec) -> None:
    for _, crit, ind in plan.indicators():
        assert ind.code.split(".")[0] == str(crit.number)


def test_criterion_texts_are_the_plans_words(plan: PlanSpec) -> None:
    assert _crit(plan, 1).text == "Xã đạt tiêu chuẩn phù hợp với trẻ em vào năm 2026."
    assert _crit(plan, 3).text.startswith(
        "Giảm tỷ suất tử vong trẻ sơ sinh xuống <5,0‰ vào năm 2026 và < 4,8‰ vào năm 2030;"
    )
    assert _crit(plan, 21).text == "Duy trì, bổ sung điểm văn hóa, vui chơi dành cho trẻ em."
    seed = seed_text(SEED_NAME)
    flat = _squash(seed)
    for g in plan.goals:
        assert _squash(g.title.vi) in flat
        for c in g.criteria:
            assert f"Chỉ tiêu {c.number}: {_squash(c.text)}" in flat, c.number


def test_target_values_are_written_in_the_criterion(plan: PlanSpec) -> None:
    """Every target value appears in its chỉ tiêu's text, Vietnamese style (decimal comma)."""
    for _, crit, ind in plan.indicators():
        for t in ind.targets:
            for v in (t.value, t.value_max):
                if v is None:
                    continue
                forms = {f"{v:g}".replace(".", ",")}
                if float(v).is_integer():
                    forms.add(f"{v:.1f}".replace(".", ","))
                assert any(f in crit.text for f in forms), (ind.code, v)


# --- concrete lines of the seed ------------------------------------------------------------


def test_criterion_1_commune_yes_no(plan: PlanSpec) -> None:
    ind = _ind(plan, "1")
    assert ind.kind is IndicatorKind.yes_no
    assert ind.reporters == [UnitKind.commune_office]
    assert _targets(ind) == {2026: (Direction.yes, None, None)}


def test_criterion_3_mortality(plan: PlanSpec) -> None:
    # "<5,0‰ vào năm 2026 và < 4,8‰ vào năm 2030"
    neonatal = _ind(plan, "3.1")
    assert neonatal.kind is IndicatorKind.rate
    assert neonatal.factor == 1000
    assert neonatal.min_denominator == 100
    assert neonatal.reporters == [UnitKind.health_station]
    assert _targets(neonatal) == {
        2026: (Direction.below, 5.0, None),
        2030: (Direction.below, 4.8, None),
    }
    # "dưới 1 tuổi xuống 6,0‰ ... và 5,8‰" (no "<": decided at most)
    assert _targets(_ind(plan, "3.2")) == {
        2026: (Direction.at_most, 6.0, None),
        2030: (Direction.at_most, 5.8, None),
    }
    # "dưới 5 tuổi xuống < 9,0‰ ... và < 8,8‰"
    assert _targets(_ind(plan, "3.3")) == {
        2026: (Direction.below, 9.0, None),
        2030: (Direction.below, 8.8, None),
    }
    for code in ("3.1", "3.2", "3.3"):
        assert "đẻ sống" in _ind(plan, code).denominator.vi


def test_criterion_4_nutrition(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "4.1")) == {
        2026: (Direction.below, 9, None),
        2030: (Direction.below, 6, None),
    }
    assert _targets(_ind(plan, "4.2")) == {
        2026: (Direction.at_most, 15, None),
        2030: (Direction.below, 13, None),
    }
    # a xã is rural: "<5% đối với nông thôn" in 2026 and 2030
    assert _targets(_ind(plan, "4.3")) == {
        2026: (Direction.below, 5, None),
        2030: (Direction.below, 5, None),
    }


def test_criterion_5_vaccination(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "5.1")) == {
        2026: (Direction.at_least, 97, None),
        2030: (Direction.at_least, 98, None),
    }
    # "98% trẻ em dưới 5 tuổi ... vào năm 2030": no 2026 target
    assert _targets(_ind(plan, "5.2")) == {2030: (Direction.at_least, 98, None)}


def test_criterion_6_hiv_is_sensitive(plan: PlanSpec) -> None:
    ind = _ind(plan, "6")
    assert ind.sensitive
    assert _targets(ind) == {2030: (Direction.below, 2, None)}


def test_criterion_7_every_school_answers_for_itself(plan: PlanSpec) -> None:
    ind = _ind(plan, "7")
    assert ind.kind is IndicatorKind.share_units
    assert set(ind.reporters) == SCHOOLS
    assert _targets(ind) == {
        2026: (Direction.at_least, 100, None),
        2030: (Direction.at_least, 100, None),
    }


def test_criterion_9_abuse(plan: PlanSpec) -> None:
    ind = _ind(plan, "9")
    assert ind.sensitive
    assert ind.reporters == [UnitKind.police]
    assert ind.factor == 100
    assert _targets(ind) == {
        2026: (Direction.below, 3, None),
        2030: (Direction.below, 2, None),
    }


def test_only_abuse_and_hiv_are_sensitive(plan: PlanSpec) -> None:
    assert {i.code for _, _, i in plan.indicators() if i.sensitive} == {"6", "9"}


def test_criterion_10_child_labour(plan: PlanSpec) -> None:
    # "< 4,9% vào năm 2026 và xuống 4,5% vào năm 2030"
    assert _targets(_ind(plan, "10")) == {
        2026: (Direction.below, 4.9, None),
        2030: (Direction.at_most, 4.5, None),
    }


def test_criterion_11_injuries_per_100000(plan: PlanSpec) -> None:
    injuries = _ind(plan, "11.1")
    assert injuries.kind is IndicatorKind.rate
    assert injuries.factor == 100000
    assert injuries.min_denominator == 1000
    assert _targets(injuries) == {
        2026: (Direction.at_most, 550, None),
        2030: (Direction.at_most, 500, None),
    }
    deaths = _ind(plan, "11.2")
    assert deaths.factor == 100000
    assert _targets(deaths) == {
        2026: (Direction.at_most, 16, None),
        2030: (Direction.at_most, 15, None),
    }


def test_criterion_12_no_year_written(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "12")) == {
        2026: (Direction.at_least, 100, None),
        2030: (Direction.at_least, 100, None),
    }


def test_criterion_13_child_marriage_down_2_to_3_percent_a_year(plan: PlanSpec) -> None:
    ind = _ind(plan, "13")
    assert ind.kind is IndicatorKind.change
    assert ind.targets, "no target"
    for t in ind.targets:
        assert t.direction is Direction.reduce_per_year
        assert (t.value, t.value_max) == (2, 3)
        assert 2026 <= t.year <= 2030


def test_criterion_14_birth_registration(plan: PlanSpec) -> None:
    ind = _ind(plan, "14")
    assert ind.reporters == [UnitKind.justice]
    assert _targets(ind) == {
        2026: (Direction.at_least, 98.5, None),
        2030: (Direction.at_least, 100, None),
    }


def test_education_targets(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "16")) == {
        2026: (Direction.at_least, 99.1, None),
        2030: (Direction.at_least, 99.3, None),
    }
    assert _targets(_ind(plan, "17.2")) == {
        2026: (Direction.below, 0.12, None),
        2030: (Direction.below, 0.1, None),
    }
    assert _targets(_ind(plan, "18.1")) == {
        2026: (Direction.at_least, 88, None),
        2030: (Direction.at_least, 93, None),
    }
    assert _targets(_ind(plan, "18.2")) == {
        2026: (Direction.below, 0.14, None),
        2030: (Direction.below, 0.05, None),
    }
    assert _targets(_ind(plan, "20.1")) == {
        2026: (Direction.at_least, 55, None),
        2030: (Direction.at_least, 60, None),
    }
    assert _ind(plan, "19").kind is IndicatorKind.share_units
    assert _ind(plan, "20.1").kind is IndicatorKind.share_units


def test_criterion_21_play_areas_maintained(plan: PlanSpec) -> None:
    ind = _ind(plan, "21")
    assert ind.kind is IndicatorKind.count
    assert ind.reporters == [UnitKind.culture]
    assert {t.direction for t in ind.targets} == {Direction.maintain}


def test_participation_targets(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "22")) == {
        2026: (Direction.at_least, 30, None),
        2030: (Direction.at_least, 35, None),
    }
    assert _targets(_ind(plan, "23")) == {
        2026: (Direction.at_least, 85, None),
        2030: (Direction.at_least, 90, None),
    }


# --- who reports what ----------------------------------------------------------------------


def test_section_vi_responsibilities_as_written(plan: PlanSpec) -> None:
    by_label = {}
    for r in plan.responsibilities:
        by_label.setdefault(r.label, set()).add((r.unit_kind, tuple(r.criteria)))
    # "1. Phòng Văn hoá - Xã hội xã: ... các chỉ tiêu 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 21,
    # 22, 23, 24 của Kế hoạch"
    assert by_label["Phòng Văn hoá - Xã hội xã"] == {
        (UnitKind.commune_office, (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 21, 22, 23, 24))
    }
    # "4. Công an xã ... Chỉ tiêu 9 của Kế hoạch"
    assert by_label["Công an xã"] == {(UnitKind.police, (9,))}
    # "3. Văn phòng HĐND-UBND xã: Hướng dẫn thực hiện chỉ tiêu 14 của Kế hoạch."
    assert by_label["Văn phòng HĐND-UBND xã"] == {(UnitKind.justice, (14,))}
    # "5. Các trường học trên địa bàn: Chỉ tiêu 07, 15, 16, 17, 18, 19, 20; phối hợp 22, 23, 24"
    schools = by_label["Các trường học trên địa bàn"]
    assert {k for k, _ in schools} == SCHOOLS
    assert {c for _, c in schools} == {(7, 15, 16, 17, 18, 19, 20, 22, 23, 24)}
    # units named without any chỉ tiêu number
    assert by_label["Phòng Kinh tế xã"] == {(UnitKind.other_agency, ())}
    assert by_label["Ủy ban Mặt trận Tổ quốc Việt Nam xã"] == {(UnitKind.mass_org, ())}


def test_every_indicator_names_its_reporters(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        assert ind.reporters, ind.code


def test_one_level_per_indicator(plan: PlanSpec) -> None:
    """Hamlet figures are never added to an agency's, and one agency holds each figure."""
    for _, _, ind in plan.indicators():
        kinds = set(ind.reporters)
        assert len(kinds) == 1 or kinds <= SCHOOLS, (ind.code, kinds)


def _reported_by(plan: PlanSpec, kind: UnitKind) -> list[str]:
    return [i.code for _, c, i in plan.indicators() if kind in plan.reporters_of(c, i)]


def test_hamlets_report_a_handful_of_their_own_figures(plan: PlanSpec) -> None:
    hamlet = _reported_by(plan, UnitKind.hamlet)
    assert hamlet == ["8.1", "8.2", "10", "11.1", "11.2", "13", "20.2"]
    assert 5 <= len(hamlet) <= 8
    for code in hamlet:
        ind = _ind(plan, code)
        asked = ind.question or ind.denominator
        assert "thôn" in asked.vi, code
        assert not ind.sensitive


def test_agencies_report_the_figures_they_hold(plan: PlanSpec) -> None:
    health = "2 3.1 3.2 3.3 4.1 4.2 4.3 5.1 5.2 6"
    assert _reported_by(plan, UnitKind.health_station) == health.split()
    assert _reported_by(plan, UnitKind.preschool) == ["7", "15", "16"]
    primary = "7 17.1 17.2 19 20.1 22 23"
    assert _reported_by(plan, UnitKind.primary_school) == primary.split()
    secondary = "7 18.1 18.2 19 20.1 22 23 24"
    assert _reported_by(plan, UnitKind.secondary_school) == secondary.split()
    assert _reported_by(plan, UnitKind.police) == ["9"]
    assert _reported_by(plan, UnitKind.justice) == ["14"]
    assert _reported_by(plan, UnitKind.culture) == ["21"]
    assert _reported_by(plan, UnitKind.commune_office) == ["1", "12"]


# --- questions -----------------------------------------------------------------------------


def test_rates_ask_two_questions_and_others_one(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        if ind.kind is IndicatorKind.rate:
            assert ind.numerator and ind.denominator and ind.question is None, ind.code
            assert ind.factor in (100, 1000, 100000)
        else:
            assert ind.question and ind.numerator is None and ind.denominator is None, ind.code


def test_questions_are_short_questions(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        for q in (ind.question, ind.numerator, ind.denominator):
            if q is None:
                continue
            for text in (q.vi, q.en):
                assert text.endswith("?"), (ind.code, text)
                assert len(text) <= 120, (ind.code, text)


def test_min_denominator_follows_the_factor(plan: PlanSpec) -> None:
    expected = {100: None, 1000: 100, 100000: 1000}
    for _, _, ind in plan.indicators():
        if ind.kind is IndicatorKind.rate:
            assert ind.min_denominator == expected[ind.factor], ind.code
