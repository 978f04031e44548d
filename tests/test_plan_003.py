"""The bundled plan 003 (huyện Trà Cú, 2022 work plan) against its seed 003_ca42c671dbe150e8.txt."""

from __future__ import annotations

import re

import pytest

from storage.kinds import Direction, IndicatorKind, UnitKind
from storage.plan_files import CriterionSpec, PlanSpec, find_plan_path, load_plan
from tests.seeds import seed_text

SEED_NAME = "003_ca42c671dbe150e8.txt"


@pytest.fixture(scope="module")
def plan() -> PlanSpec:
    return load_plan(find_plan_path("003"))


def _tasks(plan: PlanSpec) -> list[CriterionSpec]:
    return [c for g in plan.goals for c in g.criteria]


def _task(plan: PlanSpec, number: int) -> CriterionSpec:
    found = [c for c in _tasks(plan) if c.number == number]
    assert len(found) == 1
    return found[0]



def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def test_header(plan: PlanSpec) -> None:
    assert plan.code == "003"
    assert plan.issuer == "UBND huyện Trà Cú"
    assert plan.level is UnitKind.district
    assert plan.period == (2022, 2022)
    assert plan.milestones == [2022]
    assert plan.source == SEED_NAME
    # the text is cut off before "Tổ chức thực hiện" and the reporting dates
    assert plan.responsibilities == []
    assert plan.deadlines is None


def test_nine_tasks_numbered_in_order(plan: PlanSpec) -> None:
    assert len(plan.goals) == 1
    assert plan.goals[0].title.vi == "Nhiệm vụ trọng tâm"
    assert [c.number for c in _tasks(plan)] == list(range(1, 10))


def test_each_task_is_one_task_indicator_for_2022(plan: PlanSpec) -> None:
    for crit in _tasks(plan):
        assert len(crit.indicators) == 1
        ind = crit.indicators[0]
        assert ind.code == str(crit.number)
        assert ind.kind is IndicatorKind.task
        assert ind.factor is None and ind.numerator is None and ind.denominator is None
        assert ind.question.vi.endswith("?") and ind.question.en.endswith("?")
        assert [(t.year, t.direction, t.value) for t in ind.targets] == [
            (2022, Direction.none, None)
        ]
        assert ind.reporters, crit.number
        assert not ({*ind.reporters} & {UnitKind.hamlet, UnitKind.health_station})


def test_task_texts(plan: PlanSpec) -> None:
    first = _task(plan, 1).text
    assert first.startswith(
        "Tổ chức thực hiện hiệu quả các Nghị quyết, chương trình, đề án, kế hoạch của Trung ương"
    )
    # joined across the page break of the seed ("... của Ủy" / "ban nhân dân tỉnh ...")
    assert first.endswith(
        "Quyết định số 3144/QĐ-UBND ngày 31/12/2021 của Ủy ban nhân dân tỉnh ban hành Kế hoạch "
        "thực hiện Chương trình phòng, chống tai nạn, thương tích trẻ em giai đoạn 2021 - 2030 "
        "trên địa bàn tỉnh."
    )
    assert _task(plan, 4).text.startswith(
        "Phối hợp chỉ đạo việc thực hiện trách nhiệm giám sát, phản biện xã hội của Ủy ban Mặt "
        "trận Tổ quốc Việt Nam"
    )
    # the theme of the Action Month, without the seed's bold markers
    eighth = _task(plan, 8).text
    assert "“Chung tay bảo vệ trẻ em hãy lên tiếng phòng, chống xâm hại, bạo lực trẻ em”" in eighth
    assert "*" not in eighth


def test_the_last_task_is_cut_off_where_the_seed_ends(plan: PlanSpec) -> None:
    last = _task(plan, 9).text
    assert last.startswith("Tiếp tục thực hiện đánh giá xã, thị trấn phù hợp với trẻ em")
    assert last.endswith(
        "gắn tiêu chí về thực hiện quyền trẻ em với đánh giá nông thôn mới, đô thị văn"
    )


def test_task_texts_are_the_seeds_words(plan: PlanSpec) -> None:
    seed = seed_text(SEED_NAME)
    section = seed.split("II. Nhiệm vụ trọng tâm:", 1)[1]
    numbered = re.findall(r"^(\d+)\. ", section, flags=re.M)
    assert [int(n) for n in numbered] == [c.number for c in _tasks(plan)]
    flat = _squash(section.replace("**", "").replace("Ủy\n\nban", "Ủy ban"))
    for crit in _tasks(plan):
        assert f"{crit.number}. {_squash(crit.text)}" in flat, crit.number
    assert flat.endswith(_squash(_task(plan, 9).text))


def test_reporters_named_by_the_text(plan: PlanSpec) -> None:
    def rep(n: int) -> set[UnitKind]:
        return set(_task(plan, n).indicators[0].reporters)

    # task 4: "Ủy ban Mặt trận Tổ quốc Việt Nam và các tổ chức thành viên"
    assert UnitKind.mass_org in rep(4)
    # task 2: "cơ quan tư pháp, các tổ chức chính trị - xã hội ... bạo lực trong trường học"
    assert {UnitKind.justice_dept, UnitKind.mass_org, UnitKind.education_dept} <= rep(2)
    # task 9: assessing communes and towns as child-friendly
    assert UnitKind.commune in rep(9)
    # the labour office is the standing agency for children in every task
    assert all(UnitKind.labour_dept in rep(n) for n in range(1, 10))
