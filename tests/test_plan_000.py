"""The bundled plan 000 (thị trấn Tân Khai) against its seed text 000_79300a46ce451804.txt."""

from __future__ import annotations

import pytest

from storage.kinds import Direction, IndicatorKind, UnitKind
from storage.plan_files import IndicatorSpec, PlanSpec, find_plan_path, load_plan
from tests.seeds import seed_text

SEED_NAME = "000_79300a46ce451804.txt"
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


@pytest.fixture(scope="module")
def plan() -> PlanSpec:
    return load_plan(find_plan_path("000"))


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



# --- the plan as a whole -------------------------------------------------------------------


def test_header(plan: PlanSpec) -> None:
    assert plan.code == "000"
    assert plan.issuer == "UBND thị trấn Tân Khai"
    assert plan.level is UnitKind.commune
    assert plan.period == (2021, 2030)  # "giai đoạn 2021-2025, định hướng đến năm 2030"
    assert plan.milestones == [2025, 2030]
    assert plan.source == SEED_NAME
    assert plan.deadlines is None  # the text writes no reporting dates


def test_four_goals_and_24_chi_tieu_in_order(plan: PlanSpec) -> None:
    assert [g.code for g in plan.goals] == [1, 2, 3, 4]
    numbers = [[c.number for c in g.criteria] for g in plan.goals]
    assert numbers == [
        list(range(1, 8)),  # a) Mục tiêu 1: chỉ tiêu 1-7
        list(range(8, 15)),  # b) Mục tiêu 2: chỉ tiêu 8-14
        list(range(15, 22)),  # c) Mục tiêu 3: chỉ tiêu 15-21
        [22, 23, 24],  # d) Mục tiêu 4
    ]
    assert plan.goals[1].title.vi == "Về bảo vệ trẻ em"


def test_every_measure_is_its_own_indicator(plan: PlanSpec) -> None:
    codes = [i.code for _, _, i in plan.indicators()]
    assert codes == [
        "1", "2", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3", "5.1", "5.2", "6", "7",
        "8.1", "8.2", "9", "10", "11.1", "11.2", "12", "13", "14",
        "15", "16", "17.1", "17.2", "18.1", "18.2", "19", "20.1", "20.2", "21",
        "22", "23", "24",
    ]  # fmt: skip


def test_criterion_texts_are_the_seed_sentences(plan: PlanSpec) -> None:
    seed = seed_text(SEED_NAME)
    for g in plan.goals:
        for c in g.criteria:
            assert f"Chỉ tiêu {c.number}: {c.text}" in seed, f"chỉ tiêu {c.number}"


# --- targets of each kind --------------------------------------------------------------------


def test_chi_tieu_1_share_of_child_friendly_khu_pho(plan: PlanSpec) -> None:
    ind = _ind(plan, "1")
    assert ind.kind is IndicatorKind.share_units
    assert _reporters(plan, "1") == {UnitKind.hamlet}
    # "đạt 76,9% vào năm 2025 và 84,6% vào năm 2030"
    assert _targets(ind) == {2025: (AT_LEAST, 76.9, None), 2030: (AT_LEAST, 84.6, None)}


def test_chi_tieu_3_mortality_per_mille_from_health_station(plan: PlanSpec) -> None:
    expected = {
        # "dưới 9,5‰ vào năm 2025 và dưới 9‰ vào năm 2030"
        "3.1": {2025: (BELOW, 9.5, None), 2030: (BELOW, 9, None)},
        # "dưới 12,5‰ vào năm 2025 và 10‰ vào năm 2030" ("dưới" carried over)
        "3.2": {2025: (BELOW, 12.5, None), 2030: (BELOW, 10, None)},
        # "dưới 18,8‰ vào năm 2025 và dưới 15‰ vào năm 2030"
        "3.3": {2025: (BELOW, 18.8, None), 2030: (BELOW, 15, None)},
    }
    for code, targets in expected.items():
        ind = _ind(plan, code)
        assert ind.kind is IndicatorKind.rate and ind.factor == 1000, code
        assert ind.min_denominator == 100, code
        assert _reporters(plan, code) == {UnitKind.health_station}, code
        assert "trẻ đẻ sống" in ind.denominator.vi, code
        assert _targets(ind) == targets, code
    assert "28 ngày" in _ind(plan, "3.1").numerator.vi
    assert "dưới 1 tuổi" in _ind(plan, "3.2").numerator.vi
    assert "dưới 5 tuổi" in _ind(plan, "3.3").numerator.vi


def test_chi_tieu_4_malnutrition(plan: PlanSpec) -> None:
    assert "cân nặng theo tuổi" in _ind(plan, "4.1").name.vi
    assert _targets(_ind(plan, "4.1")) == {2025: (BELOW, 9, None), 2030: (BELOW, 6, None)}
    assert "chiều cao theo tuổi" in _ind(plan, "4.2").name.vi
    # "xuống 20% vào năm 2025 và dưới 19% vào năm 2030"
    assert _targets(_ind(plan, "4.2")) == {2025: (AT_MOST, 20, None), 2030: (BELOW, 19, None)}
    # a thị trấn is urban: "dưới 10% đối với thành thị vào năm 2025 và năm 2030"
    assert _targets(_ind(plan, "4.3")) == {2025: (BELOW, 10, None), 2030: (BELOW, 10, None)}
    for code in ("4.1", "4.2", "4.3"):
        assert _ind(plan, code).factor == 100
        assert _reporters(plan, code) == {UnitKind.health_station}


def test_chi_tieu_5_vaccination(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "5.1")) == {2025: (AT_LEAST, 95, None), 2030: (AT_LEAST, 98, None)}
    # "100% trẻ em dưới 5 tuổi ... vào năm 2030": no 2025 target
    assert _targets(_ind(plan, "5.2")) == {2030: (AT_LEAST, 100, None)}
    assert _reporters(plan, "5.1") == _reporters(plan, "5.2") == {UnitKind.health_station}


def test_chi_tieu_6_hiv_is_sensitive_and_only_2030(plan: PlanSpec) -> None:
    ind = _ind(plan, "6")
    assert ind.sensitive
    assert _reporters(plan, "6") == {UnitKind.health_station}
    assert _targets(ind) == {2030: (AT_MOST, 2, None)}  # "là 2% vào năm 2030"


def test_chi_tieu_8_special_circumstances_from_khu_pho(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "8.1")) == {2025: (BELOW, 4.5, None), 2030: (BELOW, 3.5, None)}
    # "trên 98% ... từ năm 2025"
    above = Direction.above  # "trên 98%": strictly above
    assert _targets(_ind(plan, "8.2")) == {2025: (above, 98, None), 2030: (above, 98, None)}
    assert _reporters(plan, "8.1") == _reporters(plan, "8.2") == {UnitKind.hamlet}


def test_chi_tieu_9_abuse_is_sensitive_and_reported_by_police(plan: PlanSpec) -> None:
    ind = _ind(plan, "9")
    assert ind.sensitive
    assert ind.kind is IndicatorKind.rate and ind.factor == 100
    assert _reporters(plan, "9") == {UnitKind.police}
    assert _targets(ind) == {2025: (BELOW, 4, None), 2030: (BELOW, 3.5, None)}
    assert {i.code for _, _, i in plan.indicators() if i.sensitive} == {"6", "9"}
    police = [r for r in plan.responsibilities if r.unit_kind is UnitKind.police]
    assert [r.criteria for r in police] == [[9]]


def test_chi_tieu_10_child_labour(plan: PlanSpec) -> None:
    ind = _ind(plan, "10")
    assert "5 đến 17 tuổi" in ind.denominator.vi
    # "xuống 4,5% vào năm 2025 và xuống dưới 4% vào năm 2030"
    assert _targets(ind) == {2025: (AT_MOST, 4.5, None), 2030: (BELOW, 4, None)}
    assert _reporters(plan, "10") == {UnitKind.hamlet}


def test_chi_tieu_11_injuries_per_100000(plan: PlanSpec) -> None:
    for code in ("11.1", "11.2"):
        ind = _ind(plan, code)
        assert ind.kind is IndicatorKind.rate and ind.factor == 100000, code
        assert ind.min_denominator == 1000, code
    assert _targets(_ind(plan, "11.1")) == {2025: (AT_MOST, 550, None), 2030: (AT_MOST, 500, None)}
    assert _targets(_ind(plan, "11.2")) == {2025: (AT_MOST, 13, None), 2030: (AT_MOST, 12, None)}
    assert _reporters(plan, "11.1") == {UnitKind.hamlet}
    assert _reporters(plan, "11.2") == {UnitKind.health_station}


def test_chi_tieu_13_child_marriage_reduction(plan: PlanSpec) -> None:
    ind = _ind(plan, "13")
    assert ind.kind is IndicatorKind.change
    # "duy trì mức giảm số cuộc tảo hôn từ 2% đến 3% hằng năm giai đoạn từ năm 2025 đến năm 2030"
    down = (Direction.reduce_per_year, 2, 3)
    assert _targets(ind) == {2025: down, 2030: down}
    assert _reporters(plan, "13") == {UnitKind.culture}


def test_chi_tieu_14_birth_registration_by_justice(plan: PlanSpec) -> None:
    ind = _ind(plan, "14")
    assert _targets(ind) == {2025: (AT_LEAST, 99, None), 2030: (AT_LEAST, 100, None)}
    assert _reporters(plan, "14") == {UnitKind.justice}


def test_education_targets(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "16")) == {
        2025: (AT_LEAST, 99.1, None),
        2030: (AT_LEAST, 99.3, None),
    }
    assert _reporters(plan, "16") == {UnitKind.preschool}
    assert _targets(_ind(plan, "17.1")) == {
        2025: (AT_LEAST, 99.5, None),
        2030: (AT_LEAST, 99.8, None),
    }
    assert _targets(_ind(plan, "17.2")) == {2025: (BELOW, 0.12, None), 2030: (BELOW, 0.1, None)}
    assert _reporters(plan, "17.1") == _reporters(plan, "17.2") == {UnitKind.primary_school}
    assert _targets(_ind(plan, "18.1")) == {
        2025: (AT_LEAST, 98, None),
        2030: (AT_LEAST, 98.5, None),
    }
    assert _targets(_ind(plan, "18.2")) == {2025: (BELOW, 0.14, None), 2030: (BELOW, 0.05, None)}
    assert _reporters(plan, "18.1") == _reporters(plan, "18.2") == {UnitKind.secondary_school}


def test_shares_of_schools_and_khu_pho(plan: PlanSpec) -> None:
    # chỉ tiêu 7: "100% cơ sở giáo dục cho trẻ em có công trình vệ sinh" (no year written)
    ind7 = _ind(plan, "7")
    assert ind7.kind is IndicatorKind.share_units
    assert _reporters(plan, "7") == {
        UnitKind.preschool,
        UnitKind.primary_school,
        UnitKind.secondary_school,
    }
    assert _targets(ind7) == {2025: (AT_LEAST, 100, None), 2030: (AT_LEAST, 100, None)}
    # chỉ tiêu 19: "80% trường học ... vào năm 2025" only
    assert _ind(plan, "19").kind is IndicatorKind.share_units
    assert _targets(_ind(plan, "19")) == {2025: (AT_LEAST, 80, None)}
    assert _targets(_ind(plan, "20.1")) == {2025: (AT_LEAST, 50, None), 2030: (AT_LEAST, 55, None)}
    assert _targets(_ind(plan, "20.2")) == {2025: (AT_LEAST, 80, None), 2030: (AT_LEAST, 90, None)}
    # chỉ tiêu 21: each khu phố says whether it has a play area
    assert _ind(plan, "21").kind is IndicatorKind.share_units
    assert _reporters(plan, "21") == {UnitKind.hamlet}
    assert _targets(_ind(plan, "21")) == {2025: (AT_LEAST, 40, None), 2030: (AT_LEAST, 45, None)}


def test_participation_targets(plan: PlanSpec) -> None:
    assert _targets(_ind(plan, "22")) == {2025: (AT_LEAST, 30, None), 2030: (AT_LEAST, 35, None)}
    assert "7 tuổi" in _ind(plan, "22").denominator.vi
    assert _targets(_ind(plan, "23")) == {2025: (AT_LEAST, 85, None), 2030: (AT_LEAST, 90, None)}
    assert _targets(_ind(plan, "24")) == {2025: (AT_LEAST, 30, None), 2030: (AT_LEAST, 35, None)}
    assert "11 tuổi" in _ind(plan, "24").denominator.vi


# --- rules that hold for every indicator -----------------------------------------------------


def test_every_numeric_indicator_names_its_reporters_at_one_level(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        if ind.kind is IndicatorKind.task:
            continue
        assert ind.reporters, f"{ind.code} has no explicit reporters"
        kinds = set(ind.reporters)
        # hamlet figures are summed over hamlets: never mixed with an agency's figure
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
            assert "khu phố" in asked.vi.lower(), f"{ind.code}: a hamlet question names the khu phố"


def test_small_number_warnings(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        if ind.factor == 1000:
            assert ind.min_denominator == 100, ind.code
        if ind.factor == 100000:
            assert ind.min_denominator == 1000, ind.code


def test_every_target_is_a_milestone_year(plan: PlanSpec) -> None:
    for _, _, ind in plan.indicators():
        assert ind.targets, ind.code
        assert {t.year for t in ind.targets} <= {2025, 2030}, ind.code


def test_decisions_are_written_in_both_languages() -> None:
    raw = find_plan_path("000").read_text(encoding="utf-8")
    assert raw.count("# Quyết định") == raw.count("# Decision") > 0
