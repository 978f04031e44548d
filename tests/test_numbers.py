"""Reading counts as Vietnamese people type them: digits, number words, and what is refused."""

from __future__ import annotations

import signal
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.i18n import render
from flows import report as r
from flows.effects import msg
from flows.numbers import (
    MAX_COUNT,
    MAX_TEXT,
    Refusal,
    is_skip,
    normalise,
    parse_count,
    parse_task_status,
    parse_yes_no,
)
from tests.test_flow_report import Driver, keys, saves, sheet

ACCEPTED = [
    # digits, as before
    ("0", 0), ("12", 12), ("1.234", 1234), ("1 234", 1234), ("1,234", 1234), ("450.", 450),
    ("10.000.000", MAX_COUNT), ("0000005", 5), ("１２", 12), ("-0", 0),
    ("125 trẻ", 125), ("5trẻ", 5), ("5 cháu", 5), ("5 em", 5), ("120 học sinh", 120),
    ("dạ 5 ạ", 5), ("Dạ, 12 ạ!", 12), ("da 12 a", 12), ("12 rồi ạ", 12), ("5 , ạ", 5),
    ("12 năm", 12),
    # a plus sign
    ("+5", 5), ("+ 5", 5), ("+0", 0), ("+1.234 trẻ", 1234),
    # single number words, as before
    ("không", 0), ("khong", 0), ("không có", 0), ("ba", 3), ("năm", 5), ("tư", 4),
    ("mười", 10),
    # whole number words, with and without diacritics
    ("mười hai", 12), ("muoi hai", 12), ("mười lăm", 15), ("muoi lam", 15),
    ("mười bốn", 14), ("mười tư", 14), ("hai mươi", 20), ("hai muoi", 20),
    ("hai mươi mốt", 21), ("hai muoi mot", 21), ("hai mươi một", 21), ("ba mươi tư", 34),
    ("ba muoi tu", 34), ("ba mươi bốn", 34), ("bảy mươi lăm", 75), ("hai lăm", 25),
    ("hai lam", 25), ("ba mốt", 31), ("hai tư", 24), ("năm mươi", 50), ("nam muoi", 50),
    ("hai chục", 20), ("một trăm", 100), ("mot tram", 100), ("một trăm linh năm", 105),
    ("một trăm lẻ năm", 105), ("mot tram le nam", 105), ("một trăm linh tư", 104),
    ("một trăm mười lăm", 115), ("một trăm hai mươi", 120), ("một trăm hai lăm", 125),
    ("một nghìn hai trăm", 1200), ("mot nghin hai tram", 1200), ("một ngàn", 1000),
    ("hai nghìn không trăm hai mươi sáu", 2026), ("một nghìn linh năm", 1005),
    ("mười nghìn", 10_000), ("một trăm nghìn", 100_000), ("một triệu hai trăm nghìn", 1_200_000),
    ("một triệu hai nghìn", 1_002_000), ("mười triệu", MAX_COUNT),
    ("chín mươi chín nghìn chín trăm chín mươi chín", 99_999),
    ("mười hai cháu", 12), ("dạ mười hai ạ", 12), ("ba trẻ", 3), ("Mười Lăm.", 15),
]

REFUSED = [
    ("", Refusal.empty), ("  ", Refusal.empty), ("…!", Refusal.empty), ("ạ", Refusal.not_number),
    ("abc", Refusal.not_number), ("😀", Refusal.not_number), ("5abc", Refusal.not_number),
    ("1 2", Refusal.not_number), ("12 trên 450", Refusal.not_number), ("5,", Refusal.not_number),
    # unaccented words that are other words alone
    ("sau", Refusal.not_number), ("nam", Refusal.not_number), ("tam", Refusal.not_number),
    ("bay", Refusal.not_number), ("mot", Refusal.not_number), ("muoi", Refusal.not_number),
    # a multiplier after digits changes the number
    ("12 triệu", Refusal.not_number), ("5k", Refusal.not_number), ("5 tr", Refusal.not_number),
    ("5 nghìn", Refusal.not_number), ("5 trăm", Refusal.not_number),
    ("3 rưỡi", Refusal.not_number),
    # number words that do not make one number
    ("nghìn", Refusal.not_number), ("trăm", Refusal.not_number), ("mươi", Refusal.not_number),
    ("linh năm", Refusal.not_number), ("hai năm", Refusal.not_number),
    ("mười năm", Refusal.not_number), ("sáu năm", Refusal.not_number),
    ("một trăm năm", Refusal.doubtful), ("hai nghìn ba", Refusal.doubtful),
    # a number doubted or changed by the words around it
    ("5 trở lên", Refusal.doubtful), ("5 tro len", Refusal.doubtful),
    ("5 sai", Refusal.doubtful), ("5 nhầm", Refusal.doubtful), ("5 nham", Refusal.doubtful),
    ("5 hay 6", Refusal.doubtful), ("5 hoặc 6", Refusal.doubtful), ("5 hoac 6", Refusal.doubtful),
    ("5-6", Refusal.doubtful), ("5 - 6", Refusal.doubtful), ("5–6", Refusal.doubtful),
    ("5 đến 6", Refusal.doubtful), ("5 hay sáu", Refusal.doubtful), ("5+", Refusal.doubtful),
    ("khoảng 5", Refusal.doubtful), ("khoang 5", Refusal.doubtful), ("tầm 5", Refusal.doubtful),
    ("hơn 10", Refusal.doubtful), ("trên 450 trẻ", Refusal.doubtful),
    ("khoảng mười lăm", Refusal.doubtful), ("~5", Refusal.doubtful), (">5", Refusal.doubtful),
    ("thêm 5", Refusal.doubtful), ("5 nữa", Refusal.doubtful), ("5 trẻ gì đó", Refusal.doubtful),
    ("mười lăm trở lên", Refusal.doubtful), ("about 5", Refusal.doubtful),
    # a percentage typed for a count
    ("10%", Refusal.percent), ("10 %", Refusal.percent), ("10,5%", Refusal.percent),
    ("10 phần trăm", Refusal.percent), ("10 phan tram", Refusal.percent),
    ("mười phần trăm", Refusal.percent), ("9,5‰", Refusal.percent),
    # as before
    ("2,5", Refusal.decimal), ("-1", Refusal.negative), ("- 5", Refusal.negative),
    ("−3", Refusal.negative), ("âm 5", Refusal.negative), ("-2,5", Refusal.negative),
    ("-99999999999", Refusal.negative), ("99999999999", Refusal.too_large),
    ("10.000.001", Refusal.too_large), ("mười một triệu", Refusal.too_large),
    ("một tỷ", Refusal.too_large), ("+-5", Refusal.not_number),
    # a reply far longer than any number
    ("5" + " " * MAX_TEXT + "ạ", Refusal.not_number),
]


@pytest.mark.parametrize(("text", "value"), ACCEPTED)
def test_accepted(text: str, value: int) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_refused(text: str, reason: Refusal) -> None:
    assert parse_count(text) is reason


# ------------------------------------------------------------------ number words, written out

_DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]


def _below_1000(n: int, full: bool, linh: str, four: str) -> list[str]:
    """Words for 0 < n < 1000; full writes 'không trăm' as after a thousand or a million."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words = [_DIGITS[hundreds], "trăm"] if hundreds or full else []
    if tens == 0:
        if units:
            words += ([linh] if words else []) + [_DIGITS[units]]
    elif tens == 1:
        words += ["mười"] + ([{5: "lăm", 4: four}.get(units, _DIGITS[units])] if units else [])
    else:
        words += [_DIGITS[tens], "mươi"]
        if units:
            words += [{1: "mốt", 4: four, 5: "lăm"}.get(units, _DIGITS[units])]
    return words


def to_words(n: int, linh: str = "linh", four: str = "tư", thousand: str = "nghìn") -> str:
    """n (0..MAX_COUNT) in Vietnamese words, as written in an administrative text."""
    if n == 0:
        return "không"
    millions, thousands, rest = n // 10**6, n // 1000 % 1000, n % 1000
    words: list[str] = []
    if millions:
        words += _below_1000(millions, False, linh, four) + ["triệu"]
    if thousands:
        words += _below_1000(thousands, bool(words), linh, four) + [thousand]
    if rest:
        words += _below_1000(rest, bool(words), linh, four)
    return " ".join(words)


def strip_accents(text: str) -> str:
    """'mười lăm' → 'muoi lam', as typed on a phone without Vietnamese input."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return bare.replace("đ", "d")


def test_the_words_helper_writes_what_people_write() -> None:
    assert to_words(21) == "hai mươi mốt" and to_words(105) == "một trăm linh năm"
    assert to_words(1_200) == "một nghìn hai trăm" and to_words(15) == "mười lăm"
    assert to_words(2_026) == "hai nghìn không trăm hai mươi sáu"
    assert to_words(1_000_005) == "một triệu không trăm linh năm"


counts = st.integers(min_value=0, max_value=MAX_COUNT)


@settings(max_examples=300)
@given(counts, st.sampled_from(["linh", "lẻ"]), st.sampled_from(["tư", "bốn"]),
       st.sampled_from(["nghìn", "ngàn"]))
def test_any_count_in_words_is_read_back(n: int, linh: str, four: str, thousand: str) -> None:
    assert parse_count(to_words(n, linh, four, thousand)) == n


@settings(max_examples=300)
@given(counts.filter(lambda n: n > 10), st.sampled_from(["linh", "lẻ"]))
def test_any_count_in_words_without_accents_is_read_back(n: int, linh: str) -> None:
    assert parse_count(strip_accents(to_words(n, linh))) == n


@settings(max_examples=300)
@given(counts, st.sampled_from([".", " ", ",", ""]),
       st.sampled_from(["", " trẻ", " cháu", " em", " ạ", " người"]),
       st.sampled_from(["", "dạ ", "+", "Dạ, "]))
def test_any_count_in_digits_is_read_back(n: int, sep: str, after: str, before: str) -> None:
    digits = f"{n:,}".replace(",", sep)
    assert parse_count(before + digits + after) == n


@given(counts, st.sampled_from([" trở lên", " sai", " nhầm", " hay 6", " hoặc 7", "-9",
                                " gì đó", " nữa", "+"]))
def test_a_count_doubted_after_it_is_refused(n: int, after: str) -> None:
    assert parse_count(f"{n:,}".replace(",", ".") + after) is Refusal.doubtful
    if n and after[0] == " ":  # "không trở lên", "một+" are no number at all
        assert parse_count(to_words(n) + after) is Refusal.doubtful


@given(counts, st.sampled_from(["khoảng ", "tầm ", "hơn ", "gần ", "ít nhất ", "~"]))
def test_a_count_doubted_before_it_is_refused(n: int, before: str) -> None:
    assert parse_count(before + str(n)) is Refusal.doubtful
    if n:
        assert parse_count(before + to_words(n)) is Refusal.doubtful


@given(st.integers(min_value=0, max_value=100), st.sampled_from(["%", " %", " phần trăm"]))
def test_a_percentage_is_refused_as_one(n: int, after: str) -> None:
    assert parse_count(f"{n}{after}") is Refusal.percent


@given(st.text(max_size=60))
def test_any_text_is_a_count_in_range_or_a_reason(text: str) -> None:
    got = parse_count(text)
    assert isinstance(got, Refusal) or 0 <= got <= MAX_COUNT


# ------------------------------------------------------------------ what the person is told

def test_a_percentage_and_a_doubted_number_are_explained_and_the_question_kept() -> None:
    d = Driver(sheet())
    d(r.Start())
    for text, key in [("10%", "err.percent"), ("khoảng 5", "err.doubtful"),
                      ("5 trở lên", "err.doubtful")]:
        res = d(r.Text(text))
        assert keys(res)[0] == key and saves(res) == [] and d.state.step == r.ASK_DENOMINATOR
    res = d(r.Text("một trăm hai mươi lăm"))
    assert d.state.den == 125 and d.state.step == r.ASK_NUMERATOR


def test_the_new_reasons_are_whole_sentences_in_both_languages() -> None:
    vi = render(msg("err.percent", text="10%"), "vi")
    en = render(msg("err.percent", text="10%"), "en")
    assert "«10%»" in vi and "phần trăm" in vi and "percentage" in en and "count" in en
    vi = render(msg("err.doubtful", text="5 trở lên"), "vi")
    en = render(msg("err.doubtful", text="5 trở lên"), "en")
    assert "«5 trở lên»" in vi and "Chưa có số liệu" in vi and "exact number" in en


# ------------------------------------------------------------------ bounded work

@contextmanager
def failsafe(seconds: float) -> Iterator[None]:
    """Stop a runaway parse instead of hanging the test run (not a timing assertion)."""
    def stop(signum: int, frame: object) -> None:
        raise TimeoutError(f"parsing took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


ADVERSARIAL = [
    ", " * 2048, "1" + " ," * 2000 + "x", "5" + " " * 4000 + "ạ", "1 " * 2048, "1." * 2048,
    "1 a" * 1365, "5" + " ," * 2000 + " ạ", "dạ " * 1365, "1" * 4096, "a " * 2048,
    "1 ," * 1365 + "trẻ x", "5 " + "a " * 2000 + "1", "mười " * 819, "hai mươi " * 455,
    "khoảng " * 585, "5" + "%" * 4095, "-" * 4096, "+" * 4096, "ạ " * 2048, ", ạ" * 1365,
]
# the same shapes just under the length limit, so that the whole parser runs on them
NEAR_LIMIT = [s[:MAX_TEXT] for s in ADVERSARIAL]


def test_a_reply_longer_than_any_number_is_refused_at_once() -> None:
    assert len(ADVERSARIAL) * 5 == 100
    with failsafe(1.0):
        for text in ADVERSARIAL * 5:
            assert len(text) >= 4000
            assert parse_count(text) is Refusal.not_number


def test_adversarial_texts_just_under_the_limit_get_an_answer() -> None:
    with failsafe(1.0):
        got = [parse_count(text) for text in NEAR_LIMIT * 5]
    assert all(isinstance(g, Refusal) or 0 <= g <= MAX_COUNT for g in got)
    assert got[:3] == [Refusal.not_number, Refusal.not_number, 5]


def test_long_adversarial_texts_are_read_as_yes_no_or_status_promptly() -> None:
    with failsafe(1.0):
        for text in ADVERSARIAL * 5:
            assert parse_yes_no(text) is None and parse_task_status(text) is None
            assert not is_skip(text) and len(normalise(text)) <= len(text)


pieces = st.sampled_from([", ", " ,", ",", " ", "1", "5", ".", "ạ", "a", "dạ ", "-", "+", "%",
                          "mười ", "trăm ", "khoảng ", "trẻ", "x", "\u00a0", "\n"])


@settings(max_examples=100, deadline=None)
@given(st.lists(pieces, min_size=1, max_size=8), st.integers(min_value=1, max_value=4096))
def test_repeated_adversarial_shapes_are_answered(shape: list[str], length: int) -> None:
    text = ("".join(shape) * 4096)[:length]
    with failsafe(1.0):
        got = parse_count(text)
        normalise(text)
        parse_yes_no(text)
    assert isinstance(got, Refusal) or 0 <= got <= MAX_COUNT
    if len(text) > MAX_TEXT:
        assert got is Refusal.not_number
