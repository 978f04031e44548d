"""Plan 004 (UBND thành phố Rạch Giá, 2021-2030) against its seed text."""

from __future__ import annotations

import re

import pytest

from storage.kinds import Direction, IndicatorKind, UnitKind
from storage.plan_files import find_plan_path, load_plan
from tests.seeds import seed_text

SEED_NAME = "004_2505c54d1f186f4b.txt"
DEPARTMENTS = {
    UnitKind.labour_dept,
    UnitKind.health_dept,
    UnitKind.education_dept,
    UnitKind.culture_dept,
    UnitKind.justice_dept,
    UnitKind.police,
    UnitKind.mass_org,
    UnitKind.other_agency,
}


@pytest.fixture(scope="module")
def plan():
    return load_plan(find_plan_path("004"))


@pytest.fixture(scope="module")
def ind(plan):
    return {i.code: i for _, _, i in plan.indicators()}


@pytest.fixture(scope="module")
def crit(plan):
    return {c.number: c for _, c, _ in plan.indicators()}


@pytest.fixture(scope="module")
def seed_criteria() -> dict[int, str]:
    """Each '- Chỉ tiêu N: ...' sentence of the seed, as raw text (bold marks kept)."""
    text = seed_text(SEED_NAME)
    body = text[text.index("- Chỉ tiêu 1:") : text.index("III. NHIỆM VỤ")]
    pattern = r"- Chỉ tiêu (\d+): (.*?)(?=\n\s*- Chỉ tiêu|\n\s*[a-d]\) Mục tiêu|\Z)"
    return {int(m[1]): m[2] for m in re.finditer(pattern, body, re.S)}


def targets(indicator) -> dict[int, tuple[Direction, float | None]]:
    return {t.year: (t.direction, t.value) for t in indicator.targets}


def vn_number(s: str) -> float:
    """'9,5' -> 9.5, '1.000' -> 1000 (Vietnamese decimal comma, thousands dot)."""
    return float(s.replace(".", "").replace(",", "."))


def test_header(plan):
    assert plan.code == "004"
    assert plan.issuer == "UBND thành phố Rạch Giá"
    assert plan.level is UnitKind.city
    assert tuple(plan.period) == (2021, 2030)
    assert plan.milestones == [2025, 2030]
    assert plan.source == SEED_NAME
    assert plan.deadlines is None  # the text gives no day/month


def test_24_criteria_in_4_goals(plan):
    by_goal = {g.code: [c.number for c in g.criteria] for g in plan.goals}
    assert by_goal == {
        1: list(range(1, 8)),
        2: list(range(8, 15)),
        3: list(range(15, 22)),
        4: [22, 23, 24],
    }


def test_indicator_codes(ind):
    assert set(ind) == {
        "1", "2", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3", "4.4", "5.1", "5.2", "6",
        "7.1", "7.2", "8.1", "8.2", "9", "10", "11.1", "11.2", "12", "13", "14",
        "15.1", "15.2", "15.3", "15.4", "16", "17.1", "17.2", "18.1", "18.2", "19",
        "20.1", "20.2", "21", "22", "23", "24",
    }


def test_texts_are_the_seed_sentences(crit, seed_criteria):
    assert sorted(seed_criteria) == list(range(1, 25))
    for n, raw in seed_criteria.items():
        assert crit[n].text == " ".join(raw.replace("**", "").split()), n


def test_every_bold_number_of_the_seed_is_a_target(crit, seed_criteria):
    for n, raw in seed_criteria.items():
        written: set[float] = set()
        for bold in re.findall(r"\*\*(.*?)\*\*", raw):
            bold = bold.replace("/100.000", "")
            written |= {vn_number(x) for x in re.findall(r"\d+(?:[.,]\d+)*", bold)}
        values = {
            v
            for i in crit[n].indicators
            for t in i.targets
            for v in (t.value, t.value_max)
            if v is not None
        }
        assert written, n
        assert written <= values, (n, written - values)


def test_abuse_down_5_percent_against_2020(ind):
    abuse = ind["9"]
    assert abuse.kind is IndicatorKind.change
    by_year = {t.year: t for t in abuse.targets}
    assert set(by_year) == {2025, 2030}
    assert by_year[2025].direction is Direction.reduce_vs_year
    assert by_year[2025].value == 5
    assert by_year[2025].ref_year == 2020
    assert by_year[2030].direction is Direction.reduce_vs_year
    assert by_year[2030].value == 4
    assert by_year[2030].ref_year == 2020
    assert abuse.sensitive is True
    assert abuse.reporters == [UnitKind.commune]


def test_mortality_rates_per_1000(ind):
    assert targets(ind["3.1"]) == {
        2025: (Direction.below, 9.5),
        2030: (Direction.below, 9),
    }
    assert targets(ind["3.2"]) == {
        2025: (Direction.at_most, 12.5),
        2030: (Direction.at_most, 10),
    }
    assert targets(ind["3.3"]) == {
        2025: (Direction.below, 18.5),
        2030: (Direction.below, 15),
    }
    for code in ("3.1", "3.2", "3.3"):
        assert ind[code].factor == 1000
        assert ind[code].min_denominator == 100
        assert ind[code].reporters == [UnitKind.health_dept]


def test_injury_rates_per_100000(ind):
    assert targets(ind["11.1"]) == {
        2025: (Direction.at_most, 550),
        2030: (Direction.at_most, 500),
    }
    assert targets(ind["11.2"]) == {
        2025: (Direction.at_most, 16),
        2030: (Direction.at_most, 15),
    }
    for code in ("11.1", "11.2"):
        assert ind[code].factor == 100000
        assert ind[code].min_denominator == 1000


def test_percent_rates_with_decimal_comma(ind):
    assert targets(ind["17.1"]) == {
        2025: (Direction.at_least, 95.2),
        2030: (Direction.at_least, 97),
    }
    assert targets(ind["17.2"]) == {
        2025: (Direction.below, 0.5),
        2030: (Direction.below, 0.3),
    }
    assert targets(ind["18.2"]) == {
        2025: (Direction.at_most, 2.2),
        2030: (Direction.below, 2),
    }
    assert targets(ind["8.1"]) == {
        2025: (Direction.below, 2),
        2030: (Direction.below, 1.5),
    }
    for code in ("17.1", "17.2", "18.2", "8.1"):
        assert ind[code].factor == 100


def test_targets_outside_bold(ind):
    assert targets(ind["7.2"]) == {2030: (Direction.above, 40)}  # "trên 40%": strictly
    assert targets(ind["7.1"]) == {2025: (Direction.at_least, 100)}
    for code in ("15.2", "15.3"):  # "giảm từ 10%" is ambiguous: listed, not judged
        assert targets(ind[code]) == {2025: (Direction.none, None), 2030: (Direction.none, None)}
    assert targets(ind["5.2"]) == {2030: (Direction.at_least, 98)}
    assert targets(ind["6"]) == {2030: (Direction.at_most, 2)}
    assert targets(ind["19"]) == {2025: (Direction.at_least, 95)}


def test_child_marriage_down_2_to_3_percent_a_year(ind):
    marriage = ind["13"]
    assert marriage.kind is IndicatorKind.change
    for t in marriage.targets:
        assert t.direction is Direction.reduce_per_year
        assert (t.value, t.value_max) == (2, 3)
    assert {t.year for t in marriage.targets} == {2025, 2030}


def test_shares_of_communes(ind):
    assert ind["1"].kind is IndicatorKind.share_units
    assert targets(ind["1"]) == {
        2025: (Direction.at_least, 75),
        2030: (Direction.at_least, 85),
    }
    assert ind["21"].kind is IndicatorKind.share_units
    assert targets(ind["21"]) == {
        2025: (Direction.at_least, 60),
        2030: (Direction.at_least, 65),
    }
    assert ind["1"].reporters == ind["21"].reporters == [UnitKind.commune]


def test_section_v_responsibilities(plan):
    resp = {r.label: (r.unit_kind, r.criteria) for r in plan.responsibilities}
    assert resp["Phòng Lao động - Thương binh và Xã hội"] == (
        UnitKind.labour_dept,
        [1, 2, 8, 9, 10, 11, 12, 22, 23, 24],
    )
    assert resp["Phòng Giáo dục và Đào tạo"] == (
        UnitKind.education_dept,
        [7, 15, 16, 17, 18, 19, 20],
    )
    assert resp["Trung tâm Y tế"] == (UnitKind.health_dept, [3, 4, 5, 6])
    assert resp["Phòng Tư pháp"] == (UnitKind.justice_dept, [14])
    assert resp["Công an thành phố"] == (UnitKind.police, [9])
    assert resp["Phòng Văn hóa và Thông tin"] == (UnitKind.culture_dept, [13, 21])
    assert resp["Phòng Tài chính - Kế hoạch"][1] == []


def test_sensitive_flags(ind):
    assert {code for code, i in ind.items() if i.sensitive} == {"6", "9"}


def test_every_figure_reported_at_one_level(plan):
    for _, c, i in plan.indicators():
        assert i.reporters, i.code
        kinds = set(i.reporters)
        assert len(kinds) == 1, i.code  # one reporting level, nothing counted twice
        assert kinds <= DEPARTMENTS | {UnitKind.commune}, i.code
        # whoever reports it is named for this chỉ tiêu in section V
        responsible = {r.unit_kind for r in plan.responsibilities if c.number in r.criteria}
        assert kinds <= responsible, i.code


def test_department_figures_come_from_the_assigned_department(ind):
    for code in ("3.1", "4.1", "4.3", "4.4", "5.1", "5.2", "6"):
        assert ind[code].reporters == [UnitKind.health_dept], code
    for code in ("7.1", "15.1", "16", "17.1", "18.1", "19", "20.2"):
        assert ind[code].reporters == [UnitKind.education_dept], code
    assert ind["14"].reporters == [UnitKind.justice_dept]


def test_min_denominator_follows_factor(plan):
    for _, _, i in plan.indicators():
        if i.factor == 1000:
            assert i.min_denominator == 100, i.code
        if i.factor == 100000:
            assert i.min_denominator == 1000, i.code
