"""Reading what people type: counts as Vietnamese write them, yes/no, task status."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
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
    "không": 0, "khong": 0, "ko": 0, "k": 0, "zero": 0, "none": 0, "không có": 0,
    "khong co": 0, "ko có": 0, "ko co": 0, "k có": 0, "không có ai": 0, "khong co ai": 0,
    "không có trường hợp nào": 0, "không có ca nào": 0, "không có cuộc nào": 0, "nil": 0,
    "một": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "sáu": 6, "bảy": 7, "tám": 8,
    "chín": 9, "mười": 10,
}
# Without accents "sau", "nam", "tam", "bay", "mot" are other words ("later", "male",
# "temporary", "fly", "the day after tomorrow"): they are not read as numbers.

SKIP_WORDS = {
    "chưa có", "chua co", "chưa có số liệu", "chua co so lieu", "chưa có số", "chua co so",
    "không có số liệu", "khong co so lieu", "no data", "no data yet", "chưa biết", "chua biet",
    "chưa có dữ liệu", "chua co du lieu", "chưa có số liệu này", "chưa nắm được",
    "chua nam duoc", "not yet", "unknown",
}

YES = {"có", "co", "yes", "y", "rồi", "roi", "đạt", "dat", "ok", "okay", "đúng", "dung",
       "vâng", "vang", "ừ", "uh", "ừm", "có rồi", "co roi", "đã có", "da co", "đã đạt",
       "da dat", "đạt rồi", "dat roi", "có đạt", "co dat", "true"}
NO = {"không", "khong", "ko", "no", "n", "chưa", "chua", "chưa có", "chua co", "chưa đạt",
      "chua dat", "k", "không đạt", "khong dat", "không có", "khong co", "chưa đạt được",
      "false", "sai"}

# politeness and filler around an answer: "dạ 12 ạ", "có ạ", "0 a"
_LEADING = re.compile(r"^(dạ|da|vâng|vang|thưa|thua)[ ,]+(?=\S)")
_TRAILING = re.compile(r"[ ,]+(ạ|a|nhé|nhe|nha|ha|đó|do|rồi ạ|roi a)$")
# a count followed by words ("120 học sinh"): a multiplier word changes the number, refused
_MULTIPLIERS = {"nghìn", "nghin", "ngàn", "ngan", "triệu", "trieu", "tỷ", "ty", "tỉ", "ti",
                "trăm", "tram", "chục", "chuc", "k", "m", "thousand", "million", "hundred",
                "phần", "phan", "lẻ", "le", "rưỡi", "ruoi", "%", "phần trăm"}

_UNIT_WORDS = r"(trẻ em|trẻ|tre em|tre|cháu|chau|em|ca|người|nguoi|cuộc|cuoc|children|child|" \
              r"cases|case|people|trường|truong|điểm|diem|vụ|vu)"
_GROUP_SPACE = re.compile(r"^\d{1,3}( \d{3})+$")
_GROUP_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_GROUP_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_DECIMAL = re.compile(r"^\d*[.,]\d+$")
_TRAILING_UNIT = re.compile(r"^(?P<n>[-−–]?\s*[\d][\d ., ]*?)\s*" + _UNIT_WORDS + r"?\.?$")
# any words after the number ("120 học sinh", "3 thôn"), as long as they hold no digit
_TRAILING_WORDS = re.compile(r"^(?P<n>[-−–]?\s*\d[\d ., ]*?)\s+(?P<words>[^\W\d_]+( [^\W\d_]+)*)$")


def normalise(text: str) -> str:
    """Lower-case, NFC/NFKC-normalised, single spaces, no surrounding punctuation."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("\u00a0", " ").replace("\u202f", " ")
    t = re.sub(r"\s+", " ", t).strip()
    t = t.strip(" !?.…")
    for _ in range(2):
        t = _TRAILING.sub("", _LEADING.sub("", t)).strip(" !?.…")
    return t


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
    m = _TRAILING_UNIT.match(t) or _TRAILING_WORDS.match(t)
    if m and m.groupdict().get("words") and (
            set(m.group("words").split()) & _MULTIPLIERS or m.group("words") in _MULTIPLIERS):
        return Refusal.not_number
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


def is_skip(text: str, yes_no: bool = False) -> bool:
    """The person says there is no data yet.

    To a yes/no question ("Does the hamlet have a play area?") "chưa có" means "not yet":
    a no, not a skip.
    """
    t = normalise(text).rstrip(".")
    if yes_no and t in ("chưa có", "chua co"):
        return False
    return t in SKIP_WORDS


TASK_WORDS = {
    "not_started": {"chưa", "chua", "chưa làm", "chua lam", "chưa thực hiện", "not started",
                    "chua thuc hien", "chưa triển khai", "chua trien khai", "chưa bắt đầu",
                    "chua bat dau", "chưa làm gì", "no"},
    "in_progress": {"đang", "dang", "đang làm", "dang lam", "đang thực hiện", "in progress",
                    "dang thuc hien", "đang triển khai", "dang trien khai", "đang tiến hành",
                    "dang tien hanh", "đang làm dở", "chưa xong", "chua xong", "started",
                    "ongoing"},
    "done": {"xong", "đã xong", "da xong", "hoàn thành", "hoan thanh", "đã làm", "done",
             "đã hoàn thành", "da hoan thanh", "hoàn thành rồi", "hoan thanh roi", "xong rồi",
             "xong roi", "đã thực hiện", "da thuc hien", "đã triển khai", "da trien khai",
             "đã làm xong", "da lam xong", "completed", "finished", "rồi", "roi"},
}


def parse_task_status(text: str) -> str | None:
    """not_started / in_progress / done from a typed word, or None."""
    t = normalise(text)
    for status, words in TASK_WORDS.items():
        if t in words:
            return status
    return None


_DAY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{2}|\d{4}))?$")


def parse_day(text: str, default_year: int) -> date | None:
    """A date as people type it in a chat: 20/11/2026, 20/11/26, 20-11-2026, 20.11 (this
    year). None when it is not a real date."""
    m = _DAY.match(normalise(text))
    if not m:
        return None
    day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
    y = default_year if year is None else (2000 + int(year) if len(year) == 2 else int(year))
    try:
        return date(y, month, day)
    except ValueError:
        return None
