"""Every button's callback data goes through one codec, and old buttons still decode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows import callbacks
from flows.callbacks import Invite, Language, OfficerAction, ReportAction, UnitChoice

ids = st.integers(min_value=1, max_value=10**9)
words = st.from_regex(r"[a-z]{1,8}", fullmatch=True)
codes = st.from_regex(r"[0-9a-z.]{0,6}", fullmatch=True)
args = st.from_regex(r"[0-9a-z]{0,10}", fullmatch=True)

buttons = st.one_of(
    st.builds(ReportAction, ids, words, codes, args),
    st.builds(UnitChoice, ids, st.sampled_from(["report", "status"])),
    st.builds(Language, st.sampled_from(["vi", "en"])),
    st.builds(Invite, ids),
    st.builds(OfficerAction, st.sampled_from(["close", "keep"]), ids),
)


@given(buttons)
def test_every_button_decodes_to_itself(button):
    data = button.encode()
    assert len(data.encode()) <= callbacks.MAX_BYTES
    assert callbacks.decode(data) == button


@pytest.mark.parametrize(("data", "button"), [
    ("r12:fix:8.1:", ReportAction(12, "fix", "8.1", "")),
    ("r3:use:4:450", ReportAction(3, "use", "4", "450")),
    ("r3:ts:20.2:d", ReportAction(3, "ts", "20.2", "d")),
    ("r3:submit::", ReportAction(3, "submit", "", "")),
    ("r7:go:5:41", ReportAction(7, "go", "5", "41")),
    ("u:41:status", UnitChoice(41, "status")),
    ("lang:en", Language("en")),
    ("inv:9", Invite(9)),
    ("off:close:2", OfficerAction("close", 2)),
    ("off:keep:2", OfficerAction("keep", 2)),
])
def test_buttons_in_old_messages_still_decode(data, button):
    assert callbacks.decode(data) == button


@pytest.mark.parametrize("data", ["", "r:fix:1:", "rx:fix:1:", "lang:fr", "u:abc:report",
                                  "inv:", "off:close:x", "hello", "r1:fix:1:" + "9" * 60,
                                  "inv:²", "inv:٣", "u:²:report", "r²:fix:1:", "off:close:¹",
                                  "inv:99999999999999999999", "off:keep:9223372036854775808"])
def test_forged_or_foreign_data_is_no_button(data):
    assert callbacks.decode(data) is None


def test_data_over_telegram_limit_is_refused_when_built():
    with pytest.raises(callbacks.TooLong):
        ReportAction(1, "use", "4", "9" * 60).encode()


@pytest.mark.parametrize(("text", "number"), [
    ("2026", 2026), ("²⁰²⁶", None), ("٢٠٢٦", None), ("-1", None), ("+1", None), ("", None),
    (None, None), ("9" * 18, 10**18 - 1), ("9" * 19, None),
])
def test_ids_and_years_are_ascii_digits_that_fit_the_database(text, number):
    assert callbacks.ascii_int(text) == number
