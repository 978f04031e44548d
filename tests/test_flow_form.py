"""The web form's checks (flows/form.py): the chat's rules on one indicator's fields."""

from __future__ import annotations

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
