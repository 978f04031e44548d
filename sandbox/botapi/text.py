"""Message text as Telegram stores it: trimmed, with entities (commands, mentions, URLs)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.botapi.limits import _bad


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_AUTO_PATTERNS = (
    ("bot_command", re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")),
)


def _auto_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the entities Telegram detects by itself (commands, mentions, hashtags, URLs)."""
    taken = [(e["offset"], e["offset"] + e["length"]) for e in entities]
    found: list[dict[str, Any]] = []
    for kind, pattern in _AUTO_PATTERNS:
        for m in pattern.finditer(text):
            start = _u16(text[: m.start()])
            end = start + _u16(m.group(0))
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return _sorted_entities(entities + found)


def _sorted_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, moving the entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _u16(text[: len(text) - len(text.lstrip())])
    size = _u16(stripped)
    out: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, size)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    return stripped, out


def format_text(
    text: str, parse_mode: str | None = None, entities: Any = None
) -> tuple[str, list[dict[str, Any]]]:
    """Turn text as sent to the Bot API into Telegram's plain text and entities.

    The bot sends plain text, so a ``parse_mode`` is refused (400) rather than half-parsed.
    """
    if parse_mode:
        raise _bad(f"parse_mode {parse_mode!r} is not supported by the local server")
    if entities is not None:
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise _bad("can't parse entities JSON object")
        plain, found = text, [dict(e) for e in entities]
    else:
        plain, found = text, []
    plain, found = _trim(plain, found)
    return plain, _auto_entities(plain, found)
