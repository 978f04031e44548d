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
    percent = "percent"
    doubtful = "doubtful"


# A reply longer than this is not a number: refused before any other work is done.
MAX_TEXT = 200

WORDS = {
    "không": 0, "khong": 0, "ko": 0, "k": 0, "zero": 0, "none": 0, "không có": 0,
    "khong co": 0, "ko có": 0, "ko co": 0, "k có": 0, "không có ai": 0, "khong co ai": 0,
    "không có trường hợp nào": 0, "không có ca nào": 0, "không có cuộc nào": 0, "nil": 0,
    "một": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "sáu": 6, "bảy": 7, "tám": 8,
    "chín": 9, "mười": 10,
}
# Without accents "sau", "nam", "tam", "bay", "mot" are other words ("later", "male",
# "temporary", "fly", "the day after tomorrow"): they are not read as numbers alone, only
# inside a longer number ("hai muoi sau" is 26).

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
# longest first, so that "rồi ạ" goes before "ạ"
_PARTICLES = ("rồi ạ", "roi a", "nhé", "nhe", "nha", "đó", "do", "ha", "ạ", "a")
# a count followed by words ("120 học sinh"): a multiplier word changes the number, refused
_MULTIPLIERS = {"nghìn", "nghin", "ngàn", "ngan", "triệu", "trieu", "tỷ", "ty", "tỉ", "ti",
                "trăm", "tram", "chục", "chuc", "k", "m", "thousand", "million", "hundred",
                "phần", "phan", "lẻ", "le", "rưỡi", "ruoi", "tr", "trđ", "vạn"}
_PERCENT = ("%", "‰", "phần trăm", "phan tram", "phần nghìn", "phan nghin", "percent",
            "per cent")
# words after a number that doubt it or change it: "5 trở lên", "5 sai", "5 hay 6"
_DOUBT_AFTER = {"sai", "nhầm", "nham", "hơn", "hon", "trở lên", "tro len", "trở xuống",
                "tro xuong", "trở lại", "tro lai", "đổ lại", "do lai", "đổ lên", "do len",
                "gì", "gì đấy", "gi day", "chắc", "chac", "có lẽ", "co le",
                "hình như", "hinh nhu", "thì phải", "thi phai", "khoảng", "khoang", "tầm",
                "chừng", "ít nhất", "it nhat", "tối thiểu", "toi thieu", "tối đa", "toi da",
                "ước tính", "uoc tinh", "dự kiến", "du kien", "nữa", "nua", "hay", "hoặc",
                "hoac", "or", "more", "plus", "about", "approximately", "roughly", "maybe",
                "probably", "wrong", "mistake", "estimated", "least", "most"}
# words before a number that doubt it or change it: "khoảng 5", "hơn 10", "thêm 2"
_DOUBT_BEFORE = ("khoảng chừng", "khoảng", "khoang", "chừng", "tầm", "độ", "gần", "gan",
                 "hơn", "hon", "trên", "tren", "dưới", "duoi", "ít nhất", "it nhat",
                 "tối thiểu", "toi thieu", "tối đa", "toi da", "xấp xỉ", "xap xi",
                 "ước tính", "uoc tinh", "ước", "uoc", "chưa đến", "chua den", "chưa tới",
                 "chua toi", "không quá", "khong qua", "ngót", "cỡ", "thêm", "them",
                 "có lẽ", "co le", "chắc", "chac", "hình như", "hinh nhu", "about", "around",
                 "approximately", "approx", "roughly", "nearly", "almost", "over", "under",
                 "more than", "less than", "at least", "at most", "maybe", "~", "≈", ">", "<",
                 "≥", "≤")
# a second number joined by these is a range or a choice: "5 hay 6", "5 đến 6"
_RANGE_WORDS = {"hay", "hoặc", "hoac", "or", "đến", "den", "tới", "toi", "to", "và", "va",
                "and"}
_RANGE_MARKS = "-–—−~"

_UNIT_WORDS = {"trẻ em", "trẻ", "tre em", "tre", "cháu", "chau", "em", "ca", "người",
               "nguoi", "cuộc", "cuoc", "children", "child", "cases", "case", "people",
               "trường", "truong", "điểm", "diem", "vụ", "vu"}
_GROUP_SPACE = re.compile(r"^\d{1,3}( \d{3})+$")
_GROUP_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_GROUP_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_DECIMAL = re.compile(r"^\d*[.,]\d+$")

# number words ("một nghìn hai trăm", "hai mươi mốt", "mười lăm", "hai lăm")
_DIGIT = {"không": 0, "khong": 0, "một": 1, "mot": 1, "hai": 2, "ba": 3, "bốn": 4, "bon": 4,
          "năm": 5, "nam": 5, "sáu": 6, "sau": 6, "bảy": 7, "bẩy": 7, "bay": 7, "tám": 8,
          "tam": 8, "chín": 9, "chin": 9}
_TEN = {"mười", "muoi"}  # 10, begins a number from 10 to 19
_TENS = {"mươi", "muoi", "chục", "chuc"}  # after 2..9: "hai mươi" is 20
# the last digit after "mươi" (tens), after "mười" (teens), after "linh"/"lẻ"
_UNIT_AFTER_TENS = {**{k: v for k, v in _DIGIT.items() if v}, "mốt": 1, "tư": 4, "tu": 4,
                    "lăm": 5, "lam": 5}
del _UNIT_AFTER_TENS["năm"], _UNIT_AFTER_TENS["nam"]  # "hai mươi năm" is also "twenty years"
_UNIT_AFTER_TEN = {k: v for k, v in _UNIT_AFTER_TENS.items() if k not in ("mốt",)}
_UNIT_AFTER_LINH = {**{k: v for k, v in _DIGIT.items() if v}, "tư": 4, "tu": 4}
_COLLOQUIAL = {"mốt": 1, "tư": 4, "tu": 4, "lăm": 5, "lam": 5}  # "hai lăm" is 25
_HUNDRED = {"trăm", "tram"}
_LINH = {"linh", "lẻ", "le"}
_SCALES = {"nghìn": 1000, "nghin": 1000, "ngàn": 1000, "ngan": 1000, "triệu": 10**6,
           "trieu": 10**6, "tỷ": 10**9, "tỉ": 10**9, "ty": 10**9}
_NUMBER_WORDS = (set(_DIGIT) | _TEN | _TENS | set(_UNIT_AFTER_TENS) | _HUNDRED | _LINH
                 | set(_SCALES) | {"tư", "tu", "mốt", "rưỡi", "ruoi"})
# one number word alone is read only if it is unmistakable ("ba", "mười", not "nam")
_ALONE = {w for w, n in WORDS.items() if n and " " not in w}
_AMBIGUOUS = -1


def _strip_particles(t: str) -> str:
    """'12 ạ' → '12': a polite particle at the end, after a space or comma."""
    for p in _PARTICLES:
        if t.endswith(p) and len(t) > len(p) and t[-len(p) - 1] in " ,":
            return t[:-len(p)].rstrip(" ,")
    return t


def normalise(text: str) -> str:
    """Lower-case, NFC/NFKC-normalised, single spaces, no surrounding punctuation."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = " ".join(t.replace("\u00a0", " ").replace("\u202f", " ").split())
    t = t.strip(" !?.…")
    for _ in range(2):
        t = _strip_particles(_LEADING.sub("", t)).strip(" !?.…")
    return t


def _segment(toks: list[str], i: int, after_scale: bool) -> tuple[int, int]:
    """A number below 1,000 in words from toks[i]: (value, next index); value -1 when
    it is ambiguous ("một trăm năm": 105 or 150?), index i when there is none."""
    n = len(toks)
    value, had_hundred = 0, False
    first = _DIGIT.get(toks[i]) if i < n else None
    if first is not None and i + 1 < n and toks[i + 1] in _HUNDRED and (first or after_scale):
        value, had_hundred, i = first * 100, True, i + 2
    if i >= n:
        return value, i
    word = toks[i]
    nxt = toks[i + 1] if i + 1 < n else ""
    digit = _DIGIT.get(word)
    if (had_hundred or after_scale) and word in _LINH:
        unit = _UNIT_AFTER_LINH.get(nxt)
        return (value + unit, i + 2) if unit else (value, i)
    if digit is not None and digit >= 2 and nxt in _TENS:
        value, i = value + digit * 10, i + 2
        unit = _UNIT_AFTER_TENS.get(toks[i]) if i < n else None
        return (value + unit, i + 1) if unit else (value, i)
    if word in _TEN:
        value, i = value + 10, i + 1
        unit = _UNIT_AFTER_TEN.get(toks[i]) if i < n else None
        return (value + unit, i + 1) if unit else (value, i)
    if digit is not None and digit >= 2 and nxt in _COLLOQUIAL:
        return value + digit * 10 + _COLLOQUIAL[nxt], i + 2
    if digit is not None and not had_hundred and not after_scale:
        return value + digit, i + 1
    if digit is not None and (had_hundred or after_scale):
        # "hai trăm ba" is 230 to some, 203 to others; "hai nghìn ba" the same
        if nxt in _SCALES and not had_hundred:
            return digit, i + 1
        return _AMBIGUOUS, i + 1
    return value, i


def _read_words(toks: list[str]) -> tuple[int, int]:
    """A whole number in words at the start of toks: (value, tokens used); (0, 0) for
    none, value -1 when ambiguous."""
    total, i, last_scale, after_scale = 0, 0, 0, False
    while i < len(toks):
        value, j = _segment(toks, i, after_scale)
        if value == _AMBIGUOUS:
            return _AMBIGUOUS, j
        if j == i:
            break
        scale = _SCALES.get(toks[j], 0) if j < len(toks) else 0
        if scale and value and (not last_scale or scale < last_scale):
            total, i, last_scale, after_scale = total + value * scale, j + 1, scale, True
            continue
        total, i = total + value, j
        break
    return total, i


def _digits(num: str) -> int | Refusal:
    """A number written in digits, with thousands grouped by dots, spaces or commas."""
    if _GROUP_SPACE.match(num) or _GROUP_DOT.match(num) or _GROUP_COMMA.match(num):
        digits = num.replace(" ", "").replace(".", "").replace(",", "")
    elif num.isdecimal():
        digits = num
    elif _DECIMAL.match(num):
        return Refusal.decimal
    else:
        return Refusal.not_number
    if len(digits.lstrip("0")) > len(str(MAX_COUNT)):
        return Refusal.too_large
    n = int(digits)
    return Refusal.too_large if n > MAX_COUNT else n


def _is_number_start(t: str) -> bool:
    """The text begins with a digit or a number word."""
    return bool(t) and (t[0].isdecimal() or t.split(" ", 1)[0] in _NUMBER_WORDS)


def _with_rest(value: int | Refusal, rest: str, glued: bool) -> int | Refusal:
    """The number, judged with what follows it ("125 trẻ", "5 trở lên", "10%")."""
    if not rest:
        return value
    if rest.startswith(_PERCENT):
        return Refusal.percent
    if rest[0] == "+":
        return Refusal.doubtful
    if rest[0] in _RANGE_MARKS or rest[0] == "/":
        after = rest[1:].strip()
        return Refusal.doubtful if rest[0] != "/" and _is_number_start(after) \
            else Refusal.not_number
    words = rest.split(" ")
    if not all(w.isalpha() for w in words):
        if words[0] in _RANGE_WORDS and _is_number_start(" ".join(words[1:])):
            return Refusal.doubtful
        return Refusal.not_number
    if glued and rest not in _UNIT_WORDS:
        return Refusal.not_number
    if rest in _MULTIPLIERS or any(w in _MULTIPLIERS for w in words):
        return Refusal.not_number
    pairs = {" ".join(words[k:k + 2]) for k in range(len(words))}
    if pairs & _DOUBT_AFTER or any(w in _DOUBT_AFTER for w in words):
        return Refusal.doubtful
    if words[0] in _RANGE_WORDS and _is_number_start(" ".join(words[1:])):
        return Refusal.doubtful
    return value


def _unsigned(t: str) -> int | Refusal:
    """A count without a sign, in digits or words, with what may follow it."""
    if t[0].isdecimal():
        i = 0
        while i < len(t) and (t[i].isdecimal() or t[i] in " .,"):
            i += 1
        num, rest = t[:i].rstrip(" "), t[i:]
        return _with_rest(_digits(num), rest, glued=bool(rest) and t[i - 1] != " ")
    toks = t.split(" ")
    value, used = _read_words(toks)
    if value == _AMBIGUOUS:
        return Refusal.doubtful
    if used == 0 or (used == 1 and toks[0] not in _ALONE):
        return Refusal.not_number
    if used < len(toks) and toks[used] in _NUMBER_WORDS:
        # "hai năm" (two years? 25?), "mười năm": not one clear number
        return Refusal.not_number
    if value > MAX_COUNT:
        return Refusal.too_large
    return _with_rest(value, " ".join(toks[used:]), glued=False)


def parse_count(text: str) -> int | Refusal:
    """A whole non-negative count from what a person typed, or why it is not one.

    Accepts "1.234", "1 234", "1,234" (thousands), "0", "không", "+5", number words
    ("một nghìn hai trăm", "hai mươi mốt", "hai lăm") and words after the number
    ("125 trẻ"). Refuses decimals ("2,5"), negatives, percentages ("10%"), numbers doubted
    or changed by words ("khoảng 5", "5 trở lên", "5 hay 6"), emoji and absurdly large
    numbers. Work is linear in the text, which is refused at once beyond MAX_TEXT.
    """
    if len(text) > MAX_TEXT:
        return Refusal.not_number
    t = normalise(text)
    if not t:
        return Refusal.empty
    if t in WORDS:
        return WORDS[t]
    if t[0] == "+":
        rest = t[1:].lstrip(" ")
        return _unsigned(rest) if rest and rest[0] not in "+-−–" else Refusal.not_number
    if t[0] in "-−–":
        rest = t[1:].lstrip(" ")
        if not _is_number_start(rest):
            return Refusal.not_number
        got = _unsigned(rest)
        if got in (Refusal.too_large, Refusal.decimal) or (isinstance(got, int) and got):
            return Refusal.negative
        return got
    head = t.split(" ", 1)[0]
    if head in ("âm", "am") and t[len(head):].lstrip(" ")[:1].isdecimal():
        return Refusal.negative
    for p in _DOUBT_BEFORE:
        if t.startswith(p) and (not p[-1].isalpha() or t[len(p):len(p) + 1] == " ") \
                and _is_number_start(t[len(p):].lstrip(" ")):
            return Refusal.doubtful
    return _unsigned(t)


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
