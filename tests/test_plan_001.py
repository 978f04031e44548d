"""The bundled plan 001 (a commune of Nam Đông) against its seed text 001_e4988a73efba4c6b.txt."""

from __future__ import annotations

import pytest

from storage.kinds import Direction, IndicatorKind, UnitKind
from storage.plan_files import IndicatorSpec, PlanSpec, find_plan_path, load_plan
from tests.seeds import seed_text

SEED_NAME = "001_e4988a73efba4c6b.txt"
AGENCIES = {
    UnitKind.health_station,
    UnitKind.preschool,
    UnitKind.primary_school,
    UnitKind.secondary_school,
    UnitKind.police,
    UnitKind.justice,
    UnitKind.culture,
    UnitKind.commune_office,
}
BELOW, AT_LEAST, AT_MOST = Direction.below, Direction.at_least, Direction.at_most
ABOVE = Direction.above  # "trên X%": strictly above


@pytest.fixture(scope="module")
def plan() -> PlanSpec:
    return load_plan(find_plan_path("001"))


def _ind(plan: PlanSpec, code: str) -> IndicatorSpec:
    found = [i for _, _, i in plan.indicators() if i.code == code]
    assert len(found) == 1, f"indicator {code}: {len(found)} found"
    return found[0]


def _targets(ind: IndicatorSpec) -> dict[int, tuple[Direction, float | None, float | None]]:
    return {t.year: (t.direction, t.value, t.value_max) for t in ind.targets}


def _reporters(plan: PlanSpec, code: str) -> set[UnitKind]:
    for _, crit, ind in plan.indicators():
        if ind.code == code:
            return set(plan.reporters_of(crit, ind))
    raise AssertionError(f"no indicator {code}")


def _responsible(plan: PlanSpec, kind: UnitKind) -> list[list[int]]:
    return [r.criteria for r in plan.responsibilities if r.unit_kind is kind]



# --- the plan as a whole -------------------------------------------------------------------


def test_header_and_deadlines(plan: PlanSpec) -> None:
    assert plan.code == "001"
    assert plan.level is UnitKind.commune
    assert "Nam Đông" in plan.issuer
    assert "07/2021/NQ-HĐND" in plan.name.vi
    assert plan.period == (2021, 2025)
    assert plan.milestones == [2025]
    assert plan.source == SEED_NAME
    assert plan.deadlines is not None
    assert plan.deadlines.unit == "20/11"  # III.10, IV.1: "trước ngày 20/11"
    assert plan.deadlines.consolidation == "05/12"  # IV.2: "trước ngày 05/12"
    assert plan.deadlines.report_to_commune == "30/11"  # III.1: "trước ngày 30/11"


def test_four_goals_and_18_chi_tieu_in_order(plan: PlanSpec) -> None:
    assert [g.code for g in plan.goals] == [1, 2, 3, 4]
    numbers = [[c.number for c in g.criteria] for g in plan.goals]
    assert numbers == [[1, 2, 3, 4, 5], list(range(6, 13)), list(range(13, 18)), [18]]


def test_every_measure_is_its_own_indicator(plan: PlanSpec) -> None:
    codes = [i.code for _, _, i in plan.indicators()]
    assert codes == [
        "1.1", "1.2", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "4", "5",
        "6.1", "6.2", "7", "8", "9.1", "9.2", "10", "11", "12.1", "12.2",
        "13.1", "13.2", "14.1", "14.2", "15.1", "15.2", "16.1", "16.2", "17", "18",
    ]  # fmt: skip


def test_criterion_texts_are_the_seed_sentences(plan: PlanSpec) -> None:
    seed = seed_text(SEED_NAME)
    for g in plan.goals:
        for c in g.criteria:
            assert f"Chỉ tiêu {c.number}: {c.text}" in seed, f"chỉ tiêu {c.number}"


def test_every_target_is_for_2025(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        assert [t.year for t in ind.targets] == [2025], ind.code


# --- section III: Tổ chức thực hiện ----------------------------------------------------------


def test_section_iii_assigns_chi_tieu_numbers(plan: PlanSpec) -> None:
    # "Trạm Y tế ... thực hiện các chỉ tiêu 2,3,4,9 ...; ... thực hiện tốt chỉ tiêu 16"
    assert _responsible(plan, UnitKind.health_station) == [[2, 3, 4, 9, 16]]
    # "Trường Mầm Non: Triển khai, thực hiện các chỉ tiêu 5, 13, 14, 15, 16"
    assert _responsible(plan, UnitKind.preschool) == [[5, 13, 14, 15, 16]]
    assert _responsible(plan, UnitKind.police) == [[7]]  # "thực hiện tốt chỉ tiêu 7"
    assert _responsible(plan, UnitKind.justice) == [[12]]  # "thực hiện chỉ tiêu 12"
    assert _responsible(plan, UnitKind.culture) == [[11, 17]]  # VHTT: "chỉ tiêu 11, 17"
    ldxh = [r for r in plan.responsibilities if "LĐXH" in r.label]
    assert [r.criteria for r in ldxh] == [[1, 6, 8, 10, 18]]
    assert ldxh[0].unit_kind is UnitKind.commune_office


def test_health_station_reports_its_chi_tieu(plan: PlanSpec) -> None:
    for code in ("2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "4", "9.1", "9.2"):
        assert _reporters(plan, code) == {UnitKind.health_station}, code


# --- targets of each kind --------------------------------------------------------------------


def test_chi_tieu_1_share_of_child_friendly_thon(plan: PlanSpec) -> None:
    for code in ("1.1", "1.2"):
        ind = _ind(plan, code)
        assert ind.kind is IndicatorKind.share_units, code
        assert _reporters(plan, code) == {UnitKind.hamlet}, code
        # "100% thôn đăng ký ..." and "trên 100% thôn đạt tiêu chuẩn" (read as 100%)
        assert _targets(ind) == {2025: (AT_LEAST, 100, None)}, code
    assert "đăng ký" in _ind(plan, "1.1").question.vi
    assert "đạt tiêu chuẩn" in _ind(plan, "1.2").question.vi


def test_chi_tieu_2_mortality_below_1_per_mille(plan: PlanSpec) -> None:
    for code in ("2.1", "2.2", "2.3"):
        ind = _ind(plan, code)
        assert ind.kind is IndicatorKind.rate and ind.factor == 1000, code
        assert ind.min_denominator == 100, code
        assert "trẻ đẻ sống" in ind.denominator.vi, code
        assert _targets(ind) == {2025: (BELOW, 1, None)}, code


def test_chi_tieu_3_malnutrition_in_plan_order(plan: PlanSpec) -> None:
    # "thấp còi ... dưới 10%; ... nhẹ cân ... dưới 8%; ... thừa cân béo phì xuống dưới 5%"
    assert "thấp còi" in _ind(plan, "3.1").name.vi
    assert _targets(_ind(plan, "3.1")) == {2025: (BELOW, 10, None)}
    assert "nhẹ cân" in _ind(plan, "3.2").name.vi
    assert _targets(_ind(plan, "3.2")) == {2025: (BELOW, 8, None)}
    assert "béo phì" in _ind(plan, "3.3").name.vi
    assert _targets(_ind(plan, "3.3")) == {2025: (BELOW, 5, None)}


def test_chi_tieu_4_vaccination(plan: PlanSpec) -> None:
    ind = _ind(plan, "4")
    assert ind.factor == 100
    assert _targets(ind) == {2025: (ABOVE, 95, None)}  # "đạt trên 95%"


def test_chi_tieu_5_school_sanitation_share(plan: PlanSpec) -> None:
    ind = _ind(plan, "5")
    assert ind.kind is IndicatorKind.share_units
    assert UnitKind.preschool in _reporters(plan, "5")
    assert UnitKind.hamlet not in _reporters(plan, "5")
    assert _targets(ind) == {2025: (AT_LEAST, 100, None)}


def test_chi_tieu_6_special_circumstances(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "6.1")) == {2025: (BELOW, 1, None)}
    assert _targets(_ind(plan, "6.2")) == {2025: (ABOVE, 95, None)}  # "trên 95%"
    assert _reporters(plan, "6.1") == _reporters(plan, "6.2") == {UnitKind.hamlet}


def test_chi_tieu_7_abuse_is_sensitive_and_reported_by_police(plan: PlanSpec) -> None:
    ind = _ind(plan, "7")
    assert ind.sensitive
    assert ind.kind is IndicatorKind.rate and ind.factor == 100
    assert _reporters(plan, "7") == {UnitKind.police}
    assert _targets(ind) == {2025: (BELOW, 0.01, None)}  # "dưới 0, 01%"
    assert [i.code for _, _, i in plan.indicators() if i.sensitive] == ["7"]


def test_chi_tieu_8_child_labour_aged_10_to_15(plan: PlanSpec) -> None:
    ind = _ind(plan, "8")
    assert "10 đến 15 tuổi" in ind.denominator.vi
    assert _targets(ind) == {2025: (BELOW, 1.86, None)}
    assert _reporters(plan, "8") == {UnitKind.hamlet}


def test_chi_tieu_9_injuries_out_of_804_children(plan: PlanSpec) -> None:
    injured, died = _ind(plan, "9.1"), _ind(plan, "9.2")
    for ind in (injured, died):
        assert ind.kind is IndicatorKind.rate and ind.factor == 100000, ind.code
        assert ind.min_denominator == 1000, ind.code
    # "xuống 5/804 trẻ em": 5 injured among 804 children meets it, 6 does not
    # the exact fraction, compared without rounding (tests/test_plans_exact.py)
    (t1,) = injured.targets
    assert t1.direction is AT_MOST and t1.fraction == (5, 804) and t1.value is None
    # "dưới 1/804 trẻ em": no death meets it, 1 death among 804 children does not
    (t2,) = died.targets
    assert t2.direction is BELOW and t2.fraction == (1, 804) and t2.value is None


def test_chi_tieu_10_disasters(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "10")) == {2025: (AT_LEAST, 100, None)}
    assert _reporters(plan, "10") == {UnitKind.hamlet}


def test_chi_tieu_11_child_marriage_reduction(plan: PlanSpec) -> None:
    ind = _ind(plan, "11")
    assert ind.kind is IndicatorKind.change
    assert _reporters(plan, "11") == {UnitKind.culture}
    # "duy trì mức giảm số cuộc tảo hôn dưới 1% hằng năm"
    assert _targets(ind) == {2025: (Direction.reduce_per_year, 0, 1)}


def test_chi_tieu_12_birth_registration(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "12.1")) == {2025: (AT_LEAST, 100, None)}
    assert _targets(_ind(plan, "12.2")) == {2025: (AT_LEAST, 90, None)}  # "90% ... đúng hạn"
    assert _reporters(plan, "12.1") == _reporters(plan, "12.2") == {UnitKind.justice}


def test_education_targets(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "13.1")) == {2025: (ABOVE, 99, None)}  # "trên 99%"
    assert _targets(_ind(plan, "13.2")) == {2025: (ABOVE, 99, None)}
    assert _reporters(plan, "13.1") == _reporters(plan, "13.2") == {UnitKind.preschool}
    assert _targets(_ind(plan, "14.1")) == {2025: (AT_LEAST, 100, None)}  # 6 tuổi vào lớp 1
    assert _targets(_ind(plan, "14.2")) == {2025: (AT_LEAST, 100, None)}
    assert _reporters(plan, "14.1") == _reporters(plan, "14.2") == {UnitKind.primary_school}
    assert _targets(_ind(plan, "15.1")) == {2025: (AT_LEAST, 90, None)}
    assert _targets(_ind(plan, "15.2")) == {2025: (BELOW, 1.5, None)}
    assert _reporters(plan, "15.1") == _reporters(plan, "15.2") == {UnitKind.secondary_school}


def test_chi_tieu_16_disabled_children(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "16.1")) == {2025: (AT_LEAST, 80, None)}
    # "(riêng trẻ em dưới 5 tuổi đạt 50%)"
    assert "dưới 5 tuổi" in _ind(plan, "16.2").denominator.vi
    assert _targets(_ind(plan, "16.2")) == {2025: (AT_LEAST, 50, None)}


def test_chi_tieu_17_commune_play_area_is_yes_no(plan: PlanSpec) -> None:
    ind = _ind(plan, "17")
    assert ind.kind is IndicatorKind.yes_no
    assert _reporters(plan, "17") == {UnitKind.culture}
    assert _targets(ind) == {2025: (Direction.yes, None, None)}


def test_chi_tieu_18_participation(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "18")) == {2025: (ABOVE, 80, None)}  # "trên 80%"
    assert _reporters(plan, "18") == {UnitKind.commune_office}


# --- rules that hold for every indicator -----------------------------------------------------


def test_every_numeric_indicator_names_its_reporters_at_one_level(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        if ind.kind is IndicatorKind.task:
            continue
        assert ind.reporters, f"{ind.code} has no explicit reporters"
        kinds = set(ind.reporters)
        assert not (UnitKind.hamlet in kinds and kinds & AGENCIES), ind.code


def test_questions_are_bilingual_and_fit_the_kind(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        if ind.kind is IndicatorKind.rate:
            assert ind.numerator and ind.denominator, ind.code
            assert ind.numerator.vi.endswith("?") and ind.denominator.vi.endswith("?"), ind.code
            assert ind.numerator.en.endswith("?") and ind.denominator.en.endswith("?"), ind.code
        else:
            assert ind.question and ind.question.vi.endswith("?"), ind.code
        if UnitKind.hamlet in (ind.reporters or []):
            asked = ind.question or ind.denominator
            assert "thôn" in asked.vi.lower(), f"{ind.code}: a hamlet question names the thôn"


def test_small_number_warnings(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        if ind.factor == 1000:
            assert ind.min_denominator == 100, ind.code
        if ind.factor == 100000:
            assert ind.min_denominator == 1000, ind.code


def test_decisions_are_written_in_both_languages() -> None:
    raw = find_plan_path("001").read_text(encoding="utf-8")
    assert raw.count("# Quyết định") == raw.count("# Decision") > 0
