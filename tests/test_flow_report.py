"""The report flow as a pure state machine: feed events, assert states and effects."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from flows import report as r
from flows.effects import Count, Ratio, Reply, Save, SubmitReport
from flows.numbers import Refusal, parse_count, parse_yes_no

RATE = r.Item(code="5.1", kind="rate", name="Tiêm chủng", factor=100,
              numerator_q="Bao nhiêu trẻ tiêm đủ?", denominator_q="Bao nhiêu trẻ dưới 1 tuổi?",
              unit="trẻ", target=r.Target(2026, "at_least", 98.5),
              last=r.Value(numerator=118, denominator=120))
YESNO = r.Item(code="1", kind="share_units", name="Thôn phù hợp trẻ em",
               question="Thôn đạt chuẩn chưa?", target=r.Target(2026, "yes"))
COUNT = r.Item(code="21", kind="count", name="Điểm vui chơi", question="Có bao nhiêu điểm?",
               last=r.Value(value=4))
TASK = r.Item(code="9", kind="task", name="Tuyên truyền", question="Đã làm đến đâu?")


def sheet(**kw) -> r.Sheet:
    base = dict(round_id=7, year=2026, unit_name="Thôn A", deadline=date(2026, 11, 10),
                consolidation_deadline=date(2026, 12, 5), items=(RATE, YESNO, COUNT, TASK))
    base.update(kw)
    return r.Sheet(**base)


def replies(res: r.Result) -> list[Reply]:
    return [e for e in res.effects if isinstance(e, Reply)]


def keys(res: r.Result) -> list[str]:
    return [line.key for rep in replies(res) for line in rep.lines]


def saves(res: r.Result) -> list[Save]:
    return [e for e in res.effects if isinstance(e, Save)]


class Driver:
    """Feeds events and keeps the stored values as the shell would."""

    def __init__(self, sh: r.Sheet):
        self.sheet, self.state, self.values = sh, {}, dict(sh.values)

    def __call__(self, event: r.Event) -> r.Result:
        res = r.step(self.state, event, r.with_values(self.sheet, self.values))
        for s in saves(res):
            self.values[s.code] = r.Value(s.numerator, s.denominator, s.value, s.task_status,
                                          s.text)
        self.state = res.state
        return res


def test_start_asks_the_denominator_first_with_progress():
    d = Driver(sheet())
    res = d(r.Start())
    assert keys(res) == ["report.intro", "report.ask"]
    ask = replies(res)[1].lines[0]
    assert ask.params["pos"] == 1 and ask.params["total"] == 4
    assert ask.params["question"] == RATE.denominator_q
    assert d.state["step"] == r.ASK_DENOMINATOR


def test_rate_is_saved_with_rate_and_target_said_back():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    assert d.state["step"] == r.ASK_NUMERATOR and d.state["den"] == 125
    res = d(r.Text("124"))
    assert saves(res) == [Save("5.1", numerator=124, denominator=125)]
    said = replies(res)[0].lines[0]
    assert said.key == "report.saved"
    value = said.params["value"]
    assert value.key == "value.with_target" and value.params["target_year"] == 2026
    assert value.params["value"].params["rate"] == Ratio(124 / 125 * 100, 100)
    assert value.params["value"].params["numerator"] == Count(124)
    assert replies(res)[0].buttons[0][0].data == "r7:fix:5.1:"
    assert d.state["step"] == r.ASK_YES_NO and d.state["code"] == "1"


def test_numerator_above_denominator_is_refused_and_nothing_saved():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    res = d(r.Text("130"))
    assert saves(res) == []
    assert keys(res)[0] == "err.numerator_above"
    assert d.state["step"] == r.ASK_NUMERATOR


def test_refusals_keep_the_question():
    d = Driver(sheet())
    d(r.Start())
    for text, key in [("2,5", "err.decimal"), ("-3", "err.negative"), ("nhiều", "err.not_number"),
                      ("😀", "err.not_number"), ("99999999999", "err.too_large")]:
        res = d(r.Text(text))
        assert keys(res)[0] == key, text
        assert saves(res) == []
        assert d.state["step"] == r.ASK_DENOMINATOR


def test_unusual_value_asks_for_confirmation_then_accepts():
    d = Driver(sheet())
    d(r.Start())
    res = d(r.Text("400"))  # last year 120: more than +50%
    assert keys(res) == ["report.confirm_unusual"]
    assert d.state["step"] == r.CONFIRM_UNUSUAL
    res = d(r.Press("ok", "5.1", "400"))
    assert d.state["step"] == r.ASK_NUMERATOR and d.state["den"] == 400


def test_unusual_value_retype():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("10"))
    d(r.Press("re", "5.1"))
    assert d.state["step"] == r.ASK_DENOMINATOR
    d(r.Text("121"))
    assert d.state["den"] == 121


def test_skip_leaves_indicator_missing_and_moves_on():
    d = Driver(sheet())
    d(r.Start())
    res = d(r.Press("skip", "5.1"))
    assert saves(res) == []
    assert "report.skipped" in keys(res)
    assert d.state["code"] == "1"
    assert "5.1" not in d.values


def test_typed_no_data_skips():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("Chưa có số liệu"))
    assert d.state["code"] == "1"


def test_full_report_review_and_submit():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    d(r.Text("124"))
    d(r.Press("yes", "1"))
    d(r.Text("4"))
    d(r.Press("ts", "9", "d"))
    res = d(r.Text("Đã tổ chức 3 buổi"))
    assert d.state["step"] == r.REVIEW
    assert "report.review_header" in keys(res)
    assert d.values["9"] == r.Value(task_status="done", text="Đã tổ chức 3 buổi")
    res = d(r.Press("submit"))
    assert any(isinstance(e, SubmitReport) for e in res.effects)
    assert d.state == {}


def test_fix_from_review_returns_to_review():
    d = Driver(sheet(values={"5.1": r.Value(1, 2), "1": r.Value(value=1), "21": r.Value(value=3),
                             "9": r.Value(task_status="done")}))
    d(r.Start())
    assert d.state["step"] == r.REVIEW
    d(r.Press("fix", "21"))
    assert d.state["step"] == r.ASK_NUMBER
    res = d(r.Text("5"))
    assert saves(res) == [Save("21", value=5.0)]
    assert d.state["step"] == r.REVIEW


def test_stale_button_changes_nothing():
    d = Driver(sheet())
    d(r.Start())
    before = dict(d.state)
    res = d(r.Press("yes", "1"))  # the yes/no question was not asked yet
    assert keys(res)[0] == "report.stale_button"
    assert saves(res) == [] and d.state == before


def test_resume_continues_at_same_question():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    res = d(r.Start())
    assert keys(res) == ["report.resume", "report.ask"]
    assert replies(res)[1].lines[0].params["question"] == RATE.numerator_q
    assert d.state["den"] == 125


def test_locked_round_refuses_changes():
    d = Driver(sheet(locked=True, closed_on=date(2026, 12, 5), contact="Chị Hoa"))
    res = d(r.Start())
    assert keys(res) == ["report.locked"]
    res = d(r.Text("5"))
    assert keys(res) == ["report.locked"] and saves(res) == []


def test_cancel_keeps_values_and_the_position():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    d(r.Text("124"))
    d(r.Press("yes", "1"))
    d(r.Text("7"))  # hmm: count 21 last year 4 -> +75%: asks to confirm
    res = d(r.Cancel())
    assert keys(res) == ["report.cancelled"] and d.state["paused"]
    assert d.values["5.1"] == r.Value(124, 125)
    res = d(r.Text("5"))  # typing while paused does not answer anything
    assert keys(res) == ["report.idle_hint"] and saves(res) == []
    res = d(r.Start())
    assert keys(res)[0] == "report.resume" and d.state["code"] == "21"


def test_parse_counts_as_vietnamese_write_them():
    assert parse_count("1.234") == 1234
    assert parse_count("1 234") == 1234
    assert parse_count("0") == 0
    assert parse_count("không") == 0
    assert parse_count("125 trẻ") == 125
    assert parse_count("2,5") is Refusal.decimal
    assert parse_count("-1") is Refusal.negative
    assert parse_count("abc") is Refusal.not_number
    assert parse_yes_no("Có") is True and parse_yes_no("khong") is False


# ------------------------------------------------------------------ properties

texts = st.one_of(st.text(max_size=12), st.sampled_from(
    ["0", "5", "125", "1.234", "-3", "2,5", "có", "không", "chưa có", "xong", "đang"]),
    st.integers(min_value=-5, max_value=300).map(str))
presses = st.builds(r.Press, st.sampled_from(["yes", "no", "skip", "fix", "ok", "re", "ts",
                                              "submit", "nonote", "zzz"]),
                    st.sampled_from(["5.1", "1", "21", "9", "", "77"]),
                    st.sampled_from(["", "n", "p", "d", "5", "abc"]))
events = st.one_of(st.builds(r.Text, texts), presses,
                   st.builds(r.Start, st.sampled_from([None, "5.1", "9", "nope"])),
                   st.just(r.Cancel()))


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=30))
def test_any_sequence_never_raises_and_keeps_invariants(seq):
    d = Driver(sheet())
    for ev in seq:
        res = d(ev)
        for s in saves(res):
            for n in (s.numerator, s.denominator, s.value):
                assert n is None or n >= 0
            if s.numerator is not None:
                assert s.denominator is not None and s.numerator <= s.denominator
        assert isinstance(d.state, dict)
