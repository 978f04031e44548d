"""The web form's checks (flows/form.py): the chat's rules on one indicator's fields."""

from __future__ import annotations

from dataclasses import replace

from flows.form import check_entry, typed_of
from flows.report import Item, Value

RATE = Item(code="5", kind="rate", name="Tiêm chủng", unit="trẻ",
            last=Value(numerator=400, denominator=410))
COUNT = Item(code="13", kind="count", name="Tảo hôn", last=Value(value=10.0))
YES_NO = Item(code="1", kind="yes_no", name="Đạt chuẩn")
TASK = Item(code="21", kind="task", name="Điểm vui chơi")


def keys(mapping) -> dict[str, str]:
    return {k: m.key for k, m in (mapping or {}).items()}


def test_numbers_are_read_as_vietnamese_write_them():
    assert check_entry(RATE, {"den": "410", "num": "dạ 400 ạ"}, 2026).value == \
        Value(numerator=400, denominator=410)
    e = check_entry(RATE, {"den": "1.234", "num": "1.200"}, 2026, frozenset({"den", "num"}))
    assert e.ok and e.value == Value(numerator=1200, denominator=1234)


def test_refusals_name_the_field_and_save_nothing():
    assert keys(check_entry(RATE, {"den": "410", "num": "12,5"}, 2026).problems) == \
        {"num": "err.decimal"}
    assert keys(check_entry(RATE, {"den": "410", "num": "411"}, 2026).problems) == \
        {"num": "err.numerator_above"}
    assert keys(check_entry(RATE, {"num": "4"}, 2026).problems) == {"den": "web.need_total"}
    assert keys(check_entry(COUNT, {"value": "-3"}, 2026).problems) == {"value": "err.negative"}
    assert keys(check_entry(YES_NO, {"value": "có lẽ"}, 2026).problems) == {"value": "web.yes_no"}
    assert keys(check_entry(TASK, {"value": "x"}, 2026).problems) == {"value": "web.task_status"}
    assert keys(check_entry(TASK, {"value": "done", "note": "a" * 501}, 2026).problems) == \
        {"note": "web.note_too_long"}
    assert all(check_entry(RATE, t, 2026).value is None
               for t in ({"den": "x"}, {"den": "1", "num": "2"}))


def test_a_figure_far_from_last_year_is_asked_until_confirmed():
    e = check_entry(COUNT, {"value": "16"}, 2026)
    assert keys(e.confirm) == {"value": "web.confirm_unusual"} and not e.ok
    assert e.confirm["value"].params["last_year"] == 2025
    assert check_entry(COUNT, {"value": "16"}, 2026, frozenset({"value"})).ok
    assert check_entry(COUNT, {"value": "14"}, 2026).ok  # within ±50%
    assert keys(check_entry(RATE, {"den": "410", "num": "100"}, 2026).confirm) == {"num":
                                                                                 "web.confirm_unusual"}


def test_half_a_rate_is_kept_and_an_emptied_field_clears():
    assert check_entry(RATE, {"den": "410"}, 2026).value == Value(denominator=410)
    assert check_entry(RATE, {"den": "", "num": ""}, 2026).cleared
    assert check_entry(YES_NO, {"value": ""}, 2026).cleared


def test_yes_no_and_task_statuses():
    assert check_entry(YES_NO, {"value": "yes"}, 2026).value == Value(value=1.0)
    assert check_entry(YES_NO, {"value": "chưa đạt"}, 2026).value == Value(value=0.0)
    assert check_entry(TASK, {"value": "in_progress", "note": " 2 điểm "}, 2026).value == \
        Value(task_status="in_progress", text="2 điểm")
    assert check_entry(TASK, {"value": "đang làm"}, 2026).value == Value(task_status="in_progress")


def test_stored_values_show_as_typed():
    assert typed_of(RATE, Value(numerator=12, denominator=450)) == {"den": "450", "num": "12"}
    assert typed_of(YES_NO, Value(value=0.0)) == {"value": "no"}
    assert typed_of(COUNT, Value(value=3.0)) == {"value": "3"}
    assert typed_of(TASK, Value(task_status="done")) == {"value": "done"}


# plan 001's thôn: 6.1 counts the children in special circumstances as its part, 6.2 as its
# whole; 8 has no population
SPECIAL_Q = "Trong thôn có bao nhiêu trẻ em có hoàn cảnh đặc biệt?"
R61 = Item(code="6.1", kind="rate", name="Tỷ lệ trẻ em có hoàn cảnh đặc biệt", unit="trẻ",
           denominator_q="Trong thôn có bao nhiêu trẻ em (dưới 16 tuổi)?",
           numerator_q=SPECIAL_Q, numerator_population="special_hamlet")
R62 = Item(code="6.2", kind="rate", name="Được chăm sóc", unit="trẻ", denominator_q=SPECIAL_Q,
           numerator_q="Trong số đó, bao nhiêu trẻ được chăm sóc?", population="special_hamlet")
R8 = Item(code="8", kind="rate", name="Lao động trẻ em", denominator_q="10-15 tuổi?",
          numerator_q="Trong số đó?")
THON = (R61, R62, R8)


def test_a_shared_population_is_one_field_and_every_indicator_takes_it():
    from flows.form import check_form, population_figure, shared_populations, shared_slots

    (shared,) = shared_populations(THON)
    assert (shared.code, shared.question, shared.codes) == ("@special_hamlet", SPECIAL_Q,
                                                           ("6.1", "6.2"))
    assert {k: s.key for k, s in shared_slots(R61, [shared]).items()} == {"num": "special_hamlet"}
    assert population_figure(shared, {"6.2": Value(numerator=6, denominator=7)}) == 7
    # typed once, with the totals and parts of each indicator
    out = check_form(THON, {}, {"@special_hamlet": {"value": "7"}, "6.1": {"den": "500"},
                                "6.2": {"num": "6"}}, {}, 2026)
    assert out["6.1"].value == Value(numerator=7, denominator=500)
    assert out["6.2"].value == Value(numerator=6, denominator=7)
    assert out["@special_hamlet"].ok
    # a field of an indicator that is the population's is not taken from the indicator
    out = check_form(THON, {}, {"6.1": {"den": "500", "num": "9"}}, {}, 2026)
    assert out["6.1"].value == Value(denominator=500)
    # changed alone (the page saves one field at a time): every indicator using it follows
    stored = {"6.1": Value(numerator=7, denominator=500), "6.2": Value(numerator=6, denominator=7)}
    out = check_form(THON, stored, {"@special_hamlet": {"value": "8"}}, {}, 2026)
    assert out["6.1"].value == Value(numerator=8, denominator=500)
    assert out["6.2"].value == Value(numerator=6, denominator=8)
    # a part whose whole is not given yet is kept for later, not refused
    out = check_form(THON, {}, {"@special_hamlet": {"value": "7"}}, {}, 2026)
    assert "6.1" not in out and out["6.2"].value == Value(denominator=7)


def test_a_population_another_indicator_refuses_moves_none_of_them():
    from flows.form import check_form

    stored = {"6.1": Value(numerator=7, denominator=10), "6.2": Value(numerator=6, denominator=7)}
    out = check_form(THON, stored, {"@special_hamlet": {"value": "12"}}, {}, 2026)
    assert keys(out["@special_hamlet"].problems) == {"value": "web.population_problem"}
    assert out["@special_hamlet"].problems["value"].params["code"] == "6.1"
    assert keys(out["6.1"].problems) == {"num": "web.population_held"}
    assert keys(out["6.2"].problems) == {"den": "web.population_held"}
    out = check_form(THON, stored, {"@special_hamlet": {"value": "khoảng mười"}}, {}, 2026)
    assert not out["@special_hamlet"].ok and not out["6.1"].ok and not out["6.2"].ok
    # far from last year's figure: asked once, for the population, then taken by all
    last = (replace(R61, last=Value(numerator=2, denominator=10)),
            replace(R62, last=Value(numerator=2, denominator=2)), R8)
    out = check_form(last, stored, {"@special_hamlet": {"value": "9"}}, {}, 2026)
    assert keys(out["@special_hamlet"].confirm) == {"value": "web.confirm_unusual"}
    assert not out["6.1"].ok and not out["6.2"].ok
    out = check_form(last, stored, {"@special_hamlet": {"value": "9"}},
                     {"@special_hamlet": frozenset({"value"})}, 2026)
    assert out["6.1"].value == Value(numerator=9, denominator=10)
    assert out["6.2"].value == Value(numerator=6, denominator=9)
