"""The conversation state: a typed value that survives JSON, and the states earlier versions
stored (untyped dicts) still load and continue at the same question."""

from __future__ import annotations

import json
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from flows import report as r
from flows.report import ReportState, Step

codes = st.from_regex(r"[0-9]{1,2}(\.[0-9])?", fullmatch=True)
small = st.integers(min_value=0, max_value=10**9)
states = st.builds(
    ReportState, active=st.booleans(), round=st.none() | small, step=st.sampled_from(Step),
    code=st.none() | codes, den=st.none() | small, back=st.booleans(),
    skipped=st.lists(codes, unique=True).map(lambda c: tuple(sorted(c))),
    paused=st.booleans(), pending=st.none() | small, asked=st.none() | st.sampled_from(Step),
    against=st.none() | small, same=st.booleans(),
    status=st.none() | st.sampled_from(["not_started", "in_progress", "done"]),
    held=st.dictionaries(codes, small).map(lambda d: tuple(sorted(d.items()))),
    unit=st.none() | small)


@given(states)
def test_a_state_survives_its_json(state):
    stored = json.loads(json.dumps(state.to_json()))
    assert ReportState.from_json(stored) == state


def test_idle_is_stored_as_an_empty_object():
    assert ReportState().to_json() == {}
    assert ReportState.from_json({}) == ReportState()
    assert ReportState.from_json(None) == ReportState()


# states as the earlier code stored them (flows/report.py before the typed state)
OLD_SHAPES = [
    ({"flow": "report", "round": 7, "step": "ask_numerator", "code": "5.1", "den": 125,
      "skipped": ["3"], "unit": 41},
     ReportState(active=True, round=7, step=Step.ask_numerator, code="5.1", den=125,
                 skipped=("3",), unit=41)),
    ({"flow": "report", "round": 7, "step": "confirm_unusual", "code": "5.1", "den": 125,
      "pending": 40, "asked": "ask_numerator", "against": 12, "unit": 41},
     ReportState(active=True, round=7, step=Step.confirm_unusual, code="5.1", den=125,
                 pending=40, asked=Step.ask_numerator, against=12, unit=41)),
    ({"flow": "report", "round": 7, "step": "confirm_unusual", "code": "5.1", "pending": 900,
      "asked": "ask_denominator", "against": 450, "same": True, "unit": 41},
     ReportState(active=True, round=7, step=Step.confirm_unusual, code="5.1", pending=900,
                 asked=Step.ask_denominator, against=450, same=True, unit=41)),
    ({"flow": "report", "round": 3, "step": "ask_task_text", "code": "21", "status": "done",
      "back": True, "paused": True, "unit": 9},
     ReportState(active=True, round=3, step=Step.ask_task_text, code="21", status="done",
                 back=True, paused=True, unit=9)),
    ({"flow": "report", "round": 3, "step": "ask_yes_no", "code": "11.2",
      "held": {"8.1": 300}, "unit": 9},
     ReportState(active=True, round=3, step=Step.ask_yes_no, code="11.2",
                 held=(("8.1", 300),), unit=9)),
    ({"flow": "report", "round": 3, "step": "review", "unit": 9},
     ReportState(active=True, round=3, step=Step.review, unit=9)),
    ({"unit": 9}, ReportState(unit=9)),
    ({"flow": "report", "step": "review"}, ReportState(active=True, step=Step.review)),
    ({"flow": "report", "step": "no_such_step", "den": "x"}, ReportState(active=True)),
]


def test_states_stored_by_earlier_versions_load():
    for old, typed in OLD_SHAPES:
        assert ReportState.from_json(old) == typed, old
        assert typed.to_json()["version"] == r.STATE_VERSION


def _sheet() -> r.Sheet:
    rate = r.Item(code="5.1", kind="rate", name="Tỷ lệ", factor=100, numerator_q="Bao nhiêu?",
                  denominator_q="Tổng số?", unit="trẻ")
    yes = r.Item(code="1", kind="yes_no", name="Có ban?", question="Có ban chưa?")
    return r.Sheet(round_id=7, year=2026, unit_name="Thôn A", deadline=date(2026, 12, 15),
                   consolidation_deadline=date(2026, 12, 31), items=(rate, yes), unit_id=41)


def test_an_old_state_continues_at_its_question():
    old = OLD_SHAPES[0][0]  # the numerator of 5.1 was asked, its total 125 typed
    res = r.step(old, r.Text("124"), _sheet())
    assert [e.code for e in res.effects if isinstance(e, r.Save)] == ["5.1"]
    assert res.state.step == Step.ask_yes_no and res.state.code == "1"
    res = r.step(OLD_SHAPES[1][0], r.Press("ok", "5.1", "40"), _sheet())  # confirmed
    assert [(e.numerator, e.denominator) for e in res.effects if isinstance(e, r.Save)] == \
        [(40, 125)]
