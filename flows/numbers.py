"""Reading what people type: counts as Vietnamese write them, yes/no, task status."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

MAX_COUNT = 10_000_000


class Refusal(StrEnum):
    """Why a text is not a count."""

    empty = "empty"
    not_number = "not_number"
    decimal = "decimal"
    negative = "negative"
    too_large = "too_large"


WORDS = {
    "không": 0, "khong": 0, "ko": 0, "k": 0, "zero": 0, "none": 0,
    "một": 1, "mot": 1, "hai": 2, "ba": 3, "bốn": 4, "bon": 4, "tư": 4, "năm": 5, "nam": 5,
    "sáu": 6, "sau": 6, "bảy": 7, "bay": 7, "tám": 8, "tam": 8, "chín": 9, "chin": 9,
    "mười": 10, "muoi": 10,
}

SKIP_WORDS = {
    "chưa có", "chua co", "chưa có số liệu", "chua co so lieu", "chưa có số", "chua co so",
    "không có số liệu", "khong co so lieu", "no data", "no data yet", "chưa biết", "chua biet",
}

YES = {"có", "co", "yes", "y", "rồi", "roi", "đạt", "dat", "ok", "đúng", "dung", "có ạ", "co a"}
NO = {"không", "khong", "ko", "no", "n", "chưa", "chua", "chưa đạt", "chua dat", "không ạ",
      "khong a", "k"}

_UNIT_WORDS = r"(trẻ em|trẻ|tre em|tre|cháu|chau|em|ca|người|nguoi|cuộc|cuoc|children|child|" \
              r"cases|case|people|trường|truong|điểm|diem|vụ|vu)"
_GROUP_SPACE = re.compile(r"^\d{1,3}( \d{3})+$")
_GROUP_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_GROUP_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_DECIMAL = re.compile(r"^\d*[.,]\d+$")
_TRAILING_UNIT = re.compile(r"^(?P<n>[-−–]?\s*[\d][\d ., ]*?)\s*" + _UNIT_WORDS + r"?\.?$")


def normalise(text: str) -> str:
    """Lower-case, NFC/NFKC-normalised, single spaces, no surrounding punctuation."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("\u00a0", " ").replace("\u202f", " ")
    t = re.sub(r"\s+", " ", t).strip()
    return t.strip(" !?")


def parse_count(text: str) -> int | Refusal:
    """A whole non-negative count from what a person typed, or why it is not one.

    Accepts "1.234", "1 234", "1,234" (thousands), "0", "không", small number words,
    and a trailing unit word ("125 trẻ"). Refuses decimals ("2,5"), negatives, words,
    emoji and absurdly large numbers.
    """
    t = normalise(text)
    if not t:
        return Refusal.empty
    if t in WORDS:
        return WORDS[t]
    m = _TRAILING_UNIT.match(t)
    if not m:
        if re.match(r"^(âm|am)\s*\d", t):
            return Refusal.negative
        return Refusal.not_number
    num = m.group("n").strip()
    negative = num[:1] in "-−–"
    num = num.lstrip("-−–").strip()
    if _GROUP_SPACE.match(num) or _GROUP_DOT.match(num) or _GROUP_COMMA.match(num):
        digits = re.sub(r"[ .,]", "", num)
    elif num.isdigit():
        digits = num
    elif _DECIMAL.match(num):
        return Refusal.negative if negative else Refusal.decimal
    else:
        return Refusal.not_number
    n = int(digits)
    if negative and n != 0:
        return Refusal.negative
    if n > MAX_COUNT:
        return Refusal.too_large
    return n


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the text is neither."""
    t = normalise(text)
    if t in YES:
        return True
    if t in NO:
        return False
    return None


def is_skip(text: str) -> bool:
    """The person says there is no data yet."""
    return normalise(text).rstrip(".") in SKIP_WORDS


TASK_WORDS = {
    "not_started": {"chưa", "chua", "chưa làm", "chua lam", "chưa thực hiện", "not started"},
    "in_progress": {"đang", "dang", "đang làm", "dang lam", "đang thực hiện", "in progress"},
    "done": {"xong", "đã xong", "da xong", "hoàn thành", "hoan thanh", "đã làm", "done"},
}


def parse_task_status(text: str) -> str | None:
    """not_started / in_progress / done from a typed word, or None."""
    t = normalise(text)
    for status, words in TASK_WORDS.items():
        if t in words:
            return status
    return None
