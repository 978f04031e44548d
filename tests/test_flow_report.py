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
        self.sheet, self.state, self.values = sh, r.ReportState(), dict(sh.values)

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
    assert d.state.step == r.ASK_DENOMINATOR


def test_rate_is_saved_with_rate_and_target_said_back():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 125
    res = d(r.Text("124"))
    assert saves(res) == [Save("5.1", numerator=124, denominator=125)]
    said = replies(res)[0].lines[0]
    assert said.key == "report.saved"
    value = said.params["value"]
    assert value.key == "value.with_target" and value.params["target_year"] == 2026
    assert value.params["value"].params["rate"] == Ratio(124 / 125 * 100, 100)
    assert value.params["value"].params["numerator"] == Count(124)
    # one message: the value said back, the next question, and a fix of this answer
    assert len(replies(res)) == 1
    assert replies(res)[0].lines[1].key == "report.ask"
    assert replies(res)[0].lines[1].params["code"] == "1"
    fix = replies(res)[0].buttons[-1][0]
    assert fix.data == "r7:fix:5.1:" and fix.label.params["code"] == "5.1"
    assert d.state.step == r.ASK_YES_NO and d.state.code == "1"


def test_numerator_above_denominator_is_refused_and_nothing_saved():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    res = d(r.Text("130"))
    assert saves(res) == []
    assert keys(res)[0] == "err.numerator_above"
    assert d.state.step == r.ASK_NUMERATOR


def test_refusals_keep_the_question():
    d = Driver(sheet())
    d(r.Start())
    for text, key in [("2,5", "err.decimal"), ("-3", "err.negative"), ("nhiều", "err.not_number"),
                      ("😀", "err.not_number"), ("99999999999", "err.too_large")]:
        res = d(r.Text(text))
        assert keys(res)[0] == key, text
        assert saves(res) == []
        assert d.state.step == r.ASK_DENOMINATOR


def test_unusual_value_asks_for_confirmation_then_accepts():
    d = Driver(sheet())
    d(r.Start())
    res = d(r.Text("400"))  # last year 120: more than +50%
    assert keys(res) == ["report.confirm_unusual"]
    assert d.state.step == r.CONFIRM_UNUSUAL
    res = d(r.Press("ok", "5.1", "400"))
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 400


def test_unusual_value_retype():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("10"))
    d(r.Press("re", "5.1"))
    assert d.state.step == r.ASK_DENOMINATOR
    d(r.Text("121"))
    assert d.state.den == 121


def test_skip_leaves_indicator_missing_and_moves_on():
    d = Driver(sheet())
    d(r.Start())
    res = d(r.Press("skip", "5.1"))
    assert saves(res) == []
    assert "report.skipped" in keys(res)
    assert d.state.code == "1"
    assert "5.1" not in d.values


def test_typed_no_data_skips():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("Chưa có số liệu"))
    assert d.state.code == "1"


def test_full_report_review_and_submit():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("125"))
    d(r.Text("124"))
    d(r.Press("yes", "1"))
    d(r.Text("4"))
    d(r.Press("ts", "9", "d"))
    res = d(r.Text("Đã tổ chức 3 buổi"))
    assert d.state.step == r.REVIEW
    assert "report.review_header" in keys(res)
    assert d.values["9"] == r.Value(task_status="done", text="Đã tổ chức 3 buổi")
    res = d(r.Press("submit"))
    assert any(isinstance(e, SubmitReport) for e in res.effects)
    assert d.state == r.ReportState()


def test_fix_from_review_returns_to_review():
    d = Driver(sheet(values={"5.1": r.Value(1, 2), "1": r.Value(value=1), "21": r.Value(value=3),
                             "9": r.Value(task_status="done")}))
    d(r.Start())
    assert d.state.step == r.REVIEW
    d(r.Press("fix", "21"))
    assert d.state.step == r.ASK_NUMBER
    res = d(r.Text("5"))
    assert saves(res) == [Save("21", value=5.0)]
    assert d.state.step == r.REVIEW


def test_stale_button_changes_nothing():
    d = Driver(sheet())
    d(r.Start())
    before = d.state
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
    assert d.state.den == 125


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
    assert keys(res) == ["report.cancelled"] and d.state.paused
    assert d.values["5.1"] == r.Value(124, 125)
    res = d(r.Text("5"))  # typing while paused does not answer anything
    assert keys(res) == ["report.idle_hint"] and saves(res) == []
    res = d(r.Start())
    assert keys(res)[0] == "report.resume" and d.state.code == "21"


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
        assert isinstance(d.state, r.ReportState)


# ------------------------------------------------------------------ answers people actually type

CHILDREN_Q = "Trong thôn có bao nhiêu trẻ em (dưới 16 tuổi)?"
SPECIAL = r.Item(code="8.1", kind="rate", name="Trẻ em có hoàn cảnh đặc biệt", factor=100,
                 numerator_q="Bao nhiêu trẻ có hoàn cảnh đặc biệt?", denominator_q=CHILDREN_Q,
                 unit="trẻ")
INJURY = r.Item(code="11.1", kind="rate", name="Tai nạn thương tích", factor=100000,
                numerator_q="Bao nhiêu trẻ bị tai nạn?", denominator_q=CHILDREN_Q, unit="trẻ")
DEATHS = r.Item(code="11.2", kind="rate", name="Tử vong do tai nạn", factor=100000,
                numerator_q="Bao nhiêu trẻ tử vong?", denominator_q=CHILDREN_Q, unit="trẻ")


def test_typing_the_right_figure_at_the_unusual_value_question_takes_it():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("12"))  # last year 120 children: a tenth of it
    assert d.state.step == r.CONFIRM_UNUSUAL
    res = d(r.Text("120"))  # the person simply types the right figure
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 120
    assert "report.understood" in keys(res)


def test_typing_the_same_figure_again_confirms_it_and_typed_yes_too():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("12"))
    d(r.Text("12"))
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 12
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("12"))
    d(r.Text("đúng rồi ạ"))
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 12


def test_words_at_the_confirmation_repeat_it_with_its_buttons():
    d = Driver(sheet())
    d(r.Start())
    d(r.Text("12"))
    res = d(r.Text("hả?"))
    assert d.state.step == r.CONFIRM_UNUSUAL
    assert replies(res)[-1].buttons[0][0].data == "r7:ok:5.1:12"


def test_a_wrong_total_can_be_fixed_from_the_numerator_question():
    d = Driver(sheet())
    d(r.Start())
    res = d(r.Text("125"))
    fix = replies(res)[-1].buttons[-1][0]
    assert fix.data == "r7:reden:5.1:" and fix.label.params["value"] == Count(125)
    res = d(r.Text("130"))  # more than the total: the refusal offers the same fix
    assert replies(res)[-1].buttons[-1][0].data == "r7:reden:5.1:"
    d(r.Press("reden", "5.1"))
    assert d.state.step == r.ASK_DENOMINATOR and d.state.den is None
    d(r.Text("130"))
    d(r.Text("130"))
    assert d.values["5.1"] == r.Value(numerator=130, denominator=130)


def test_the_same_question_answered_very_differently_is_checked():
    d = Driver(sheet(items=(SPECIAL, INJURY, DEATHS)))
    d(r.Start())
    d(r.Text("450"))
    d(r.Text("12"))
    res = d(r.Text("2"))  # 11.1 asks the child count again: 2 is a slip for 450
    assert d.state.step == r.CONFIRM_UNUSUAL
    assert replies(res)[-1].lines[0].key == "report.confirm_same_question"
    d(r.Text("450"))
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 450


def test_same_figure_button_offers_the_latest_answer():
    d = Driver(sheet(items=(SPECIAL, INJURY, DEATHS)))
    d(r.Start())
    for text in ("460", "12", "450", "450", "2"):  # 8.1: 12/460; 11.1: 450/450; 11.2: 2…
        d(r.Text(text))
    assert d.state.code == "11.2"
    assert r.suggestion(d.sheet, DEATHS, d.values) == 450


def test_after_sending_early_report_asks_what_is_missing():
    d = Driver(sheet(submitted=True, values={"5.1": r.Value(numerator=1, denominator=2)}))
    res = d(r.Start())
    assert keys(res)[0] == "report.intro" and d.state.code == "1"


def test_a_unit_with_only_buttons_is_not_told_to_type_numbers():
    d = Driver(sheet(items=(YESNO, TASK)))
    res = d(r.Start())
    assert keys(res)[0] == "report.intro_buttons"


def test_a_yes_no_question_reads_not_yet_as_no():
    d = Driver(sheet(items=(YESNO,)))
    d(r.Start())
    d(r.Text("chưa có"))
    assert d.values["1"] == r.Value(value=0.0)


def test_locked_by_deadline_and_closed_by_officer_say_different_things():
    res = r.step({}, r.Start(), sheet(locked=True))
    assert keys(res) == ["report.locked_deadline"]
    res = r.step({}, r.Start(), sheet(locked=True, closed_on=date(2026, 12, 1)))
    assert keys(res) == ["report.locked"]


def test_counts_as_people_type_them():
    for text, n in [("120 học sinh", 120), ("12 bé", 12), ("3 thôn", 3), ("không có", 0),
                    ("0 ạ", 0), ("dạ 12 ạ", 12), ("1 cuộc tảo hôn", 1), ("450.", 450)]:
        assert parse_count(text) == n, text
    for text in ("12 triệu", "5k", "12 trên 450", "sau", "nam", "tam"):
        assert parse_count(text) == Refusal.not_number, text
    for text in ("Có.", "vâng", "dạ có", "có rồi"):
        assert parse_yes_no(text) is True, text


def test_a_total_typed_before_leaving_the_indicator_is_offered_back():
    d = Driver(sheet(items=(SPECIAL, INJURY, DEATHS)))
    d(r.Start())
    d(r.Text("300"))  # 8.1: 300 children, then «Báo cáo ngay» of 11.2 is pressed
    d(r.Start("11.2"))
    assert d.state.code == "11.2" and dict(d.state.held) == {"8.1": 300}
    res = d(r.Start("8.1"))  # back to 8.1: the 300 is offered, not lost
    use = replies(res)[-1].buttons[0][0]
    assert use.data == "r7:use:8.1:300" and use.label.params["value"] == Count(300)
    d(r.Press("use", "8.1", "300"))
    assert d.state.step == r.ASK_NUMERATOR and d.state.den == 300
    d(r.Text("12"))
    assert d.values["8.1"] == r.Value(numerator=12, denominator=300)
    assert d.state.held == ()  # answered: nothing left to keep
    assert saves(r.step({}, r.Start(), d.sheet)) == []  # a held total is never saved alone
