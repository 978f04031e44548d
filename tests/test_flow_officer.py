"""The officer's conversations as pure functions: no database, no messenger."""

from __future__ import annotations

from datetime import date

from bot.i18n import render_reply
from bot.messenger import Limits, pieces, split_text
from flows import officer as flow
from flows.effects import Reply

TODAY = date(2026, 11, 5)
ROUND = flow.RoundView(7, 2026, date(2026, 11, 10), date(2026, 12, 5), (7, 3, 1, 0), 2,
                       submitted=2, expected=7)
XT = flow.Commune("quang-tri/xuan-truong", "Xã Xuân Trường", ROUND)


def keys(result: flow.Result) -> list[str]:
    return [line.key for e in result.effects if isinstance(e, Reply) for line in e.lines]


def changes(result: flow.Result) -> list[object]:
    return [e for e in result.effects if not isinstance(e, Reply)]


def test_close_asks_first_then_closes_on_confirmation():
    asked = flow.ask_close([XT, flow.Commune("x/huong-phu", "Xã Hương Phú", None)])
    assert keys(asked) == ["close.confirm", "officer.no_round"] and changes(asked) == []
    question = asked.effects[0]
    assert isinstance(question, Reply)
    text, rows = render_reply(question, "vi")
    assert "Hiện có 2/7 đơn vị đã gửi" in text
    assert [d for _, d in rows[0]] == ["off:close:7", "off:keep:7"]
    action, rid = flow.parse_close_data(rows[0][0][1])
    done = flow.close_pressed(action, XT.name, ROUND, TODAY)
    assert changes(done) == [flow.CloseRound(7)] and keys(done) == ["close.done"]
    assert done.state is not None and done.state.closed_on == TODAY
    again = flow.close_pressed(action, XT.name, done.state, TODAY)
    assert changes(again) == [] and keys(again) == ["close.already"]
    kept = flow.close_pressed("keep", XT.name, ROUND, TODAY)
    assert changes(kept) == [] and keys(kept) == ["close.kept"] and kept.state == ROUND


def test_forged_or_stale_close_buttons_change_nothing():
    for data in ("off:close:", "off:drop:7", "off:close:x", "r7:close:7", "off"):
        assert flow.parse_close_data(data) is None, data
    stale = flow.close_pressed(None, XT.name, ROUND, TODAY)
    assert keys(stale) == ["report.stale_button"] and changes(stale) == []
    other = flow.close_pressed("close", None, None, TODAY)  # another commune's round
    assert keys(other) == ["report.stale_button"] and changes(other) == []


def test_deadline_reads_dates_days_and_the_commune():
    result = flow.deadline([XT], ["xuan-truong", "15/11/26", "5/12", "5;1,0"], TODAY)
    assert changes(result) == [flow.SetDeadlines(7, date(2026, 11, 15), date(2026, 12, 5),
                                                 (5, 1, 0))]
    assert keys(result) == ["deadline.changed"]
    assert result.state == flow.RoundView(7, 2026, date(2026, 11, 15), date(2026, 12, 5),
                                          (5, 1, 0), 2, submitted=2, expected=7)
    shown = flow.deadline([XT], [], TODAY)
    assert keys(shown) == ["deadline.current", "deadline.usage"] and changes(shown) == []


def test_deadline_refusals_change_nothing():
    closed = flow.Commune(XT.code, XT.name, flow.RoundView(7, 2026, date(2026, 11, 10),
                                                           date(2026, 12, 5),
                                                           closed_on=date(2026, 11, 4)))
    cases = [
        ([XT], ["15/11/2026"], "deadline.usage"),
        ([XT], ["31/02/2026", "05/12/2026"], "deadline.bad_date"),
        ([XT], ["01/11/2026", "05/12/2026"], "deadline.past"),
        ([XT], ["20/11/2026", "15/11/2026"], "deadline.order"),
        ([XT], ["15/11/2026", "05/12/2026", "61"], "deadline.bad_days"),
        ([XT], ["15/11/2026", "05/12/2026", "7,ba"], "deadline.bad_days"),
        ([XT], ["20/11/2026", "05/01/2028"], "deadline.too_late"),
        ([XT], ["thon-khong-co", "20/11/2026", "05/12/2026"], "deadline.unknown_commune"),
        ([closed], ["20/11/2026", "05/12/2026"], "deadline.closed"),
        ([XT, flow.Commune("x/huong-phu", "Xã Hương Phú", ROUND)], ["20/11/2026", "05/12/2026"],
         "officer.which_commune"),
        ([flow.Commune("x/a", "Xã A", None)], [], "officer.no_round"),
    ]
    for communes, args, key in cases:
        result = flow.deadline(communes, args, TODAY)
        assert keys(result)[0] == key, (args, keys(result))
        assert changes(result) == [], args


def test_a_long_reply_is_split_at_lines_and_keeps_its_choices_on_the_last_piece():
    text = "\n".join(f"dòng {n} " + "x" * 40 for n in range(200))
    limits = Limits(max_text=2000, max_choice_data=64, choices_per_row=2)
    out = pieces(text, [[("A", "a"), ("B", "b"), ("C", "c")]], limits)
    assert all(len(p) <= 2000 for p, _ in out) and "\n".join(p for p, _ in out) == text
    assert [c for _, c in out[:-1]] == [[]] * (len(out) - 1)
    assert out[-1][1] == [[("A", "a"), ("B", "b")], [("C", "c")]]
    assert split_text("y" * 4500, 2000) == ["y" * 2000, "y" * 2000, "y" * 500]
    no_buttons = Limits(max_text=2000, max_choice_data=0, choices_per_row=0)
    assert pieces("hỏi", [[("A", "a")]], no_buttons) == [("hỏi", [])]
