"""A local Telegram Bot API server, and people who talk to its bots, for tests and manual runs.

The server speaks the real Bot API over HTTP (``/bot<token>/<method>`` and
``/file/bot<token>/<file_path>``), so an unmodified python-telegram-bot ``Application``
works against it in polling or webhook mode::

    api = LocalBotApi()
    await api.start()                                   # 127.0.0.1, a free port
    api.add_bot("123:ABC", username="ctv_test_bot")
    app = (ApplicationBuilder().token("123:ABC").base_url(f"{api.url}/bot")
           .base_file_url(f"{api.url}/file/bot").build())
    lan = api.user("123:ABC", 1001, "Lan", language_code="vi")
    await lan.send("/start")
    replies = await lan.wait_reply()
    await lan.press("yes")
    await api.stop()

The same person actions are served as JSON under ``/_user/...`` for clients in other
processes. ``python -m bot.local_api --port 8081 --bot 123:ABC=ctv_test_bot`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import html
import ipaddress
import itertools
import json
import logging
import mimetypes
import re
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, ClientError, ClientSession, ClientTimeout, web

__all__ = [
    "ApiError",
    "BotMessage",
    "CallbackAnswer",
    "Delivery",
    "Fault",
    "LocalBotApi",
    "LocalUser",
    "Stats",
    "StoredFile",
]

_LOG = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_ANSWER_TEXT = 200
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024

ALL_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram sends these only when asked for explicitly in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Methods that count as sends for counters and rate limits.
_SEND_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto"})
# Methods refused in a chat whose person blocked (or never started) the bot.
_CHAT_SEND_METHODS = _SEND_METHODS | {"sendchataction"}

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram would answer."""
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def _default_description(code: int, retry_after: int) -> str:
    if code == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if code == 403:
        return "Forbidden: bot was blocked by the user"
    if code == 400:
        return "Bad Request"
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"Error {code}"


# --------------------------------------------------------------------------- text


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _entities_error(message: str) -> ApiError:
    return _bad(f"can't parse entities: {message}")


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "tg-spoiler",
        "span",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
}
_HTML_CHAR_REF = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _char_ref(name: str) -> str | None:
    if name in _NAMED_REFS:
        return _NAMED_REFS[name]
    number = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if 0 < number <= 0x10FFFF and not 0xD800 <= number <= 0xDFFF:
        return chr(number)
    return None


class _Builder:
    """Accumulates plain text and tracks its UTF-16 length."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos16 = 0
        self.cp = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos16 += _u16(text)
        self.cp += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram's HTML subset into plain text and entities (tdlib's rules and errors)."""
    out = _Builder()
    stack: list[tuple[str, int, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    n = len(text)

    def boff(k: int) -> int:
        return len(text[:k].encode("utf-8"))

    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            m = _HTML_CHAR_REF.match(text, i)
            decoded = _char_ref(m.group(1)) if m else None
            if m and decoded is not None:
                out.add(decoded)
                i = m.end()
            else:
                out.add("&")
                i += 1
            continue
        if c != "<":
            out.add(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            end = text.find(">", i)
            if end < 0:
                raise _entities_error(f"Unclosed end tag at byte offset {boff(begin)}")
            name = text[i + 1 : end].strip().lower()
            if not stack:
                raise _entities_error(f"Unexpected end tag at byte offset {boff(begin)}")
            tag, start16, start_cp, tag_attrs = stack[-1]
            if name and name != tag:
                raise _entities_error(
                    f'Unmatched end tag at byte offset {boff(begin)}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            length = out.pos16 - start16
            inner = out.text()[start_cp:]
            entity = _html_entity(tag, tag_attrs, start16, length, inner, stack)
            if entity is not None:
                if tag == "pre" and entities:
                    last = entities[-1]
                    same = last["offset"] == start16 and last["length"] == length
                    if same and last["type"] == "code" and "_language" in last:
                        entities.pop()
                        entity["language"] = last["_language"]
                entities.append(entity)
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise _entities_error(f"Unclosed start tag at byte offset {boff(begin)}")
        name = text[i:j].lower()
        if name not in _HTML_TAGS:
            raise _entities_error(f'Unsupported start tag "{name}" at byte offset {boff(begin)}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise _entities_error(f"Unclosed start tag at byte offset {boff(begin)}")
            if text[j] == ">":
                j += 1
                break
            k = j
            while k < n and not text[k].isspace() and text[k] not in "=>":
                k += 1
            attr = text[j:k].lower()
            if not attr:
                raise _entities_error(
                    f'Empty attribute name in the tag "{name}" at byte offset {boff(begin)}'
                )
            j = k
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise _entities_error(f"Unclosed start tag at byte offset {boff(begin)}")
            if text[j] != "=":
                attrs[attr] = ""
                continue
            j += 1
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise _entities_error(f"Unclosed start tag at byte offset {boff(begin)}")
            if text[j] in "\"'":
                close = text.find(text[j], j + 1)
                if close < 0:
                    raise _entities_error(f"Unclosed start tag at byte offset {boff(begin)}")
                value = text[j + 1 : close]
                j = close + 1
            else:
                k = j
                while k < n and not text[k].isspace() and text[k] != ">":
                    k += 1
                value = text[j:k]
                j = k
            attrs[attr] = html.unescape(value)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _entities_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {boff(begin)}'
            )
        stack.append((name, out.pos16, out.cp, attrs))
        i = j
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        entity.pop("_language", None)
    return out.text(), entities


def _html_entity(
    tag: str,
    attrs: dict[str, str],
    offset: int,
    length: int,
    inner: str,
    stack: list[tuple[str, int, int, dict[str, str]]],
) -> dict[str, Any] | None:
    if length <= 0:
        return None
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag == "a":
        url = attrs.get("href") or inner
        if not url:
            return None
        entity.update(type="text_link", url=url)
    elif tag == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=attrs.get("emoji-id", ""))
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    else:
        entity["type"] = _HTML_SIMPLE[tag]
        language = attrs.get("class", "")
        if tag == "code" and stack and stack[-1][0] == "pre" and language.startswith("language-"):
            entity["_language"] = language[len("language-") :]
    return entity


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 into plain text and entities (tdlib's rules and errors)."""
    out = _Builder()
    stack: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    quote_start: int | None = None
    line_start = True

    def boff(k: int) -> int:
        return len(text[:k].encode("utf-8"))

    def reserved_error(c: str) -> ApiError:
        return _entities_error(
            f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
        )

    i = 0
    while i < n:
        c = text[i]
        in_code = bool(stack) and stack[-1]["type"] in ("code", "pre")
        if line_start and not in_code:
            line_start = False
            if c == ">":
                if quote_start is None:
                    quote_start = out.pos16
                i += 1
                continue
            if quote_start is not None:
                _add_quote(entities, quote_start, out.pos16 - 1)
                quote_start = None
        line_start = False
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        reserved = "`" if in_code else _MDV2_RESERVED
        if c not in reserved:
            out.add(c)
            line_start = c == "\n"
            i += 1
            continue
        top = stack[-1]["type"] if stack else None
        nxt = text[i + 1] if i + 1 < n else ""
        is_end = (
            (top == "bold" and c == "*")
            or (top == "italic" and c == "_" and nxt != "_")
            or (top == "code" and c == "`")
            or (top == "pre" and text.startswith("```", i))
            or (top in ("text_link", "custom_emoji") and c == "]")
            or (top == "underline" and text.startswith("__", i))
            or (top == "strikethrough" and c == "~")
            or (top == "spoiler" and text.startswith("||", i))
        )
        if not is_end:
            begin = i
            language = ""
            if c == "_":
                kind = "underline" if nxt == "_" else "italic"
                i += 2 if kind == "underline" else 1
            elif c == "*":
                kind, i = "bold", i + 1
            elif c == "~":
                kind, i = "strikethrough", i + 1
            elif c == "|" and nxt == "|":
                kind, i = "spoiler", i + 2
            elif c == "[":
                kind, i = "text_link", i + 1
            elif c == "`" and text.startswith("```", i):
                kind, i = "pre", i + 3
                k = i
                while k < n and not text[k].isspace() and text[k] != "`":
                    k += 1
                if k < n and text[k] == "\n":
                    language, i = text[i:k], k + 1
            elif c == "`":
                kind, i = "code", i + 1
            elif c == "!" and nxt == "[":
                kind, i = "custom_emoji", i + 2
            else:
                raise reserved_error(c)
            stack.append(
                {
                    "type": kind,
                    "pos16": out.pos16,
                    "cp": out.cp,
                    "byte": boff(begin),
                    "language": language,
                }
            )
            continue
        opened = stack.pop()
        kind = opened["type"]
        url = ""
        if kind in ("underline", "spoiler"):
            i += 2
        elif kind == "pre":
            i += 3
        elif kind in ("text_link", "custom_emoji"):
            i += 1
            if i < n and text[i] == "(":
                i += 1
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise _entities_error(
                        f"Can't find end of a URL at byte offset {boff(url_begin)}"
                    )
                i += 1
                url = "".join(chars)
            else:
                url = out.text()[opened["cp"] :]
        else:
            i += 1
        length = out.pos16 - opened["pos16"]
        if length <= 0:
            continue
        entity: dict[str, Any] = {"type": kind, "offset": opened["pos16"], "length": length}
        if kind == "text_link":
            if not url or not ("." in url or ":" in url):
                continue
            entity["url"] = url
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = url.rsplit("id=", 1)[-1]
        elif kind == "pre" and opened["language"]:
            entity["language"] = opened["language"]
        entities.append(entity)
    if stack:
        opened = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MDV2_NAMES[opened['type']]} entity at byte offset "
            f"{opened['byte']}"
        )
    if quote_start is not None:
        _add_quote(entities, quote_start, out.pos16)
    return out.text(), entities


def _add_quote(entities: list[dict[str, Any]], start: int, end: int) -> None:
    if end > start:
        entities.append({"type": "blockquote", "offset": start, "length": end - start})


def _parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown (parse_mode "Markdown") into plain text and entities."""
    out = _Builder()
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        i += 1
        is_pre = False
        language = ""
        if c == "`" and text.startswith("``", i):
            is_pre = True
            i += 2
            k = i
            while k < n and not text[k].isspace() and text[k] != "`":
                k += 1
            if k < n and text[k] == "\n":
                language, i = text[i:k], k + 1
        start16, start_cp = out.pos16, out.cp
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.add(text[i])
            i += 1
        if i >= n:
            raise _entities_error(
                "Can't find end of the entity starting at byte offset "
                f"{len(text[:begin].encode('utf-8'))}"
            )
        length = out.pos16 - start16
        i += 3 if is_pre else 1
        url = ""
        if c == "[":
            if i < n and text[i] == "(":
                close = text.find(")", i)
                if close >= 0:
                    url = text[i + 1 : close]
                    i = close + 1
            if not url:
                url = out.text()[start_cp:]
        if length <= 0:
            continue
        entity: dict[str, Any] = {"offset": start16, "length": length}
        if c == "_":
            entity["type"] = "italic"
        elif c == "*":
            entity["type"] = "bold"
        elif c == "[":
            entity.update(type="text_link", url=url)
        elif is_pre:
            entity["type"] = "pre"
            if language:
                entity["language"] = language
        else:
            entity["type"] = "code"
        entities.append(entity)
    return out.text(), entities


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

    Raises ApiError (400 "can't parse entities: ...") for malformed markup, as Telegram does.
    """
    if entities is not None:
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise _bad("can't parse entities JSON object")
        plain, found = text, [dict(e) for e in entities]
    elif parse_mode:
        mode = parse_mode.lower()
        if mode == "html":
            plain, found = _parse_html(text)
        elif mode == "markdownv2":
            plain, found = _parse_markdown_v2(text)
        elif mode == "markdown":
            plain, found = _parse_markdown(text)
        else:
            raise _bad("unsupported parse_mode")
    else:
        plain, found = text, []
    plain, found = _trim(plain, found)
    return plain, _auto_entities(plain, found)


# --------------------------------------------------------------------------- data


@dataclass
class StoredFile:
    """A file the server holds (uploaded by the bot or by a person)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    filename: str | None
    mime_type: str | None
    kind: str
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass
class CallbackAnswer:
    """What the bot answered with answerCallbackQuery."""

    callback_query_id: str
    data: str | None
    message_id: int | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class Delivery:
    """One attempt to POST an update to the webhook."""

    update_id: int
    url: str
    attempt: int
    status: int | None
    error: str | None
    secret_token: str | None
    duplicate: bool
    at: float


@dataclass
class Fault:
    """An injected failure: the next ``times`` calls of ``method`` fail (None = until cleared)."""

    method: str
    error_code: int | None
    description: str
    retry_after: int | None
    times: int | None
    chat_id: int | None
    token: str | None
    delay: float = 0.0
    hits: int = 0


@dataclass
class Stats:
    """Counters of one bot's calls."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    sends: int = 0
    too_many_requests: int = 0
    send_times: list[float] = field(default_factory=list)
    send_times_by_chat: dict[int, list[float]] = field(default_factory=dict)

    def max_per_window(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """Largest number of accepted sends within any ``window`` seconds."""
        times = self.send_times if chat_id is None else self.send_times_by_chat.get(chat_id, [])
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def reset(self) -> None:
        """Forget all counts."""
        self.calls.clear()
        self.errors.clear()
        self.sends = 0
        self.too_many_requests = 0
        self.send_times.clear()
        self.send_times_by_chat.clear()


@dataclass
class BotMessage:
    """A snapshot of one message of a chat as the person sees it (edits applied)."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None
    caption: str | None
    entities: list[dict[str, Any]]
    parse_mode: str | None
    source: str | None
    buttons: list[list[tuple[str, str | None]]]
    keyboard: list[list[str]] | None
    remove_keyboard: bool
    force_reply: bool
    document: StoredFile | None
    photo_file: StoredFile | None
    edited: int
    deleted: bool
    raw: dict[str, Any]

    @property
    def photo(self) -> bytes | None:
        """Bytes of the photo, if the message is a photo."""
        return self.photo_file.data if self.photo_file else None

    @property
    def content(self) -> str | None:
        """Text, or caption for media messages."""
        return self.text if self.text is not None else self.caption

    @property
    def button_data(self) -> list[str]:
        """Callback data of every inline button, row by row."""
        return [data for row in self.buttons for _, data in row if data is not None]

    @property
    def button_texts(self) -> list[str]:
        """Text of every inline button, row by row."""
        return [text for row in self.buttons for text, _ in row]

    def to_json(self, file_url: str = "") -> dict[str, Any]:
        """A JSON view for the /_user endpoints."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "date": self.date,
            "text": self.text,
            "caption": self.caption,
            "buttons": [[list(b) for b in row] for row in self.buttons],
            "keyboard": self.keyboard,
            "remove_keyboard": self.remove_keyboard,
            "force_reply": self.force_reply,
            "edited": self.edited,
            "deleted": self.deleted,
        }
        for key, stored in (("document", self.document), ("photo", self.photo_file)):
            if stored is not None:
                out[key] = {
                    "file_id": stored.file_id,
                    "filename": stored.filename,
                    "mime_type": stored.mime_type,
                    "size": stored.size,
                    "url": f"{file_url}/{stored.file_path}" if file_url else stored.file_path,
                }
        return out


# --------------------------------------------------------------------------- state


class _Signal:
    """Wakes every waiter when something changed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


@dataclass
class _Upload:
    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class _Record:
    message: dict[str, Any]
    from_bot: bool
    source: str | None = None
    parse_mode: str | None = None
    markup: dict[str, Any] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    edits: int = 0
    deleted: bool = False


@dataclass
class _Chat:
    chat: dict[str, Any]
    user: dict[str, Any]
    chat_instance: str
    records: dict[int, _Record] = field(default_factory=dict)
    next_message_id: int = 1
    seq: int = 0
    events: list[tuple[int, int]] = field(default_factory=list)
    cursor: int = 0
    last_update_id: int | None = None
    last_query_id: str | None = None
    reply_keyboard: dict[str, Any] | None = None
    force_reply_to: int | None = None
    actions: list[str] = field(default_factory=list)
    started: bool = False

    def touch(self, message_id: int) -> None:
        self.seq += 1
        self.events.append((self.seq, message_id))


@dataclass
class _Queued:
    update: dict[str, Any]
    fetched: bool = False
    redelivery: bool = False
    attempts: int = 0


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


class _Bot:
    """Everything the server knows about one bot."""

    def __init__(self, token: str, info: dict[str, Any]) -> None:
        self.token = token
        self.info = info
        self.id: int = info["id"]
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.texts: dict[tuple[str, str], str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.queue: list[_Queued] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.webhook: _Webhook | None = None
        self.secret_override: tuple[bool, str | None] = (False, None)
        self.deliveries: list[Delivery] = []
        self.chats: dict[int, _Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.file_paths: dict[str, StoredFile] = {}
        self.queries: dict[str, tuple[int, int | None, str | None]] = {}
        self.answered: set[str] = set()
        self.callback_answers: list[CallbackAnswer] = []
        self.stats = Stats()
        self.in_flight = 0
        self.last_call = 0.0
        self.poll_generation = 0
        self.signal = _Signal()
        self.delivery_task: asyncio.Task[None] | None = None
        self.window: deque[float] = deque()
        self.chat_windows: dict[int, deque[float]] = {}
        self.file_counter = itertools.count(1)

    @property
    def sender(self) -> dict[str, Any]:
        """The bot as the ``from`` of its messages."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.info["first_name"],
            "username": self.info["username"],
        }

    def allows(self, kind: str) -> bool:
        """Whether an update of this kind is wanted under the current allowed_updates."""
        allowed = self.webhook.allowed_updates if self.webhook else self.allowed_updates
        if allowed:
            return kind in allowed
        return kind not in _OPT_IN_UPDATES

    def unconsumed(self, update_id: int) -> bool:
        """Whether the update still waits to be fetched or delivered."""
        return any(q.update["update_id"] == update_id and not q.fetched for q in self.queue)


# --------------------------------------------------------------------------- params


class _Params:
    """Request parameters from the query string, a form, JSON or multipart."""

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return name in self.values or name in self.files

    def str_(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise _bad(f"field {name} must be of type String")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def int_(self, name: str, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _bad(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise _bad(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def bool_(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json_(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name} JSON object") from None
        return value

    def chat_id(self) -> int | str:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None

    def input_file(self, name: str) -> _Upload | str | None:
        if name in self.files:
            return self.files[name]
        value = self.str_(name)
        if value and value.startswith("attach://"):
            upload = self.files.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f"there is no {name} in the request")
            return upload
        return value or None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or None when it is not one (needs Pillow)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return (0, 0)
    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------- the server


class LocalBotApi:
    """An in-memory Telegram Bot API server on loopback, with people who use its bots."""

    def __init__(self, *, idle_seconds: float = 0.05, webhook_timeout: float = 10.0) -> None:
        self.idle_seconds = idle_seconds
        self.webhook_timeout = webhook_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self._bots: dict[str, _Bot] = {}
        self._people: dict[int, dict[str, Any]] = {}
        self._users: dict[tuple[str, int], LocalUser] = {}
        self._faults: list[Fault] = []
        self._blocked: set[tuple[str | None, int]] = set()
        self._rate_limits: dict[str | None, tuple[int | None, int | None]] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._query_ids = itertools.count(1)
        self._methods: dict[str, tuple[str, Callable[[_Bot, _Params], Awaitable[Any]]]] = {}
        for name in (
            "getMe",
            "logOut",
            "close",
            "getUpdates",
            "setWebhook",
            "deleteWebhook",
            "getWebhookInfo",
            "sendMessage",
            "sendDocument",
            "sendPhoto",
            "sendChatAction",
            "editMessageText",
            "editMessageCaption",
            "editMessageReplyMarkup",
            "deleteMessage",
            "deleteMessages",
            "answerCallbackQuery",
            "setMyCommands",
            "getMyCommands",
            "deleteMyCommands",
            "setMyDescription",
            "getMyDescription",
            "setMyShortDescription",
            "getMyShortDescription",
            "setMyName",
            "getMyName",
            "setChatMenuButton",
            "getChatMenuButton",
            "getChat",
            "getChatMember",
            "getFile",
        ):
            self._methods[name.lower()] = (name, getattr(self, f"_m_{name}"))

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._runner is None:
            raise RuntimeError("LocalBotApi is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on a loopback address; port 0 picks a free port (see ``url``)."""
        if not _is_loopback(host):
            raise ValueError(f"LocalBotApi listens on loopback only, not {host!r}")
        if self._runner is not None:
            raise RuntimeError("LocalBotApi is already started")
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_get("/", self._handle_root)
        self._add_user_routes(app)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        self.host = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = ClientSession()
        self._stopping = False
        for bot in self._bots.values():
            self._start_delivery(bot)

    async def stop(self) -> None:
        """Stop serving; wakes long polls, cancels webhook deliveries, frees the port."""
        self._stopping = True
        for bot in self._bots.values():
            bot.signal.notify()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for bot in self._bots.values():
            bot.delivery_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOG.debug("background task %s ended with %r", task.get_name(), task.exception())

    # ------------------------------------------------------------------ bots and people

    def add_bot(
        self,
        token: str,
        username: str | None = None,
        first_name: str | None = None,
        *,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
    ) -> dict[str, Any]:
        """Register a bot token; returns what getMe answers."""
        if "/" in token or not token:
            raise ValueError("a bot token must be non-empty and have no '/'")
        if token in self._bots:
            raise ValueError(f"bot {token!r} already exists")
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + len(self._bots) + 1
        username = username or f"test{bot_id}_bot"
        info = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name or username,
            "username": username,
            "can_join_groups": can_join_groups,
            "can_read_all_group_messages": can_read_all_group_messages,
            "supports_inline_queries": supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        bot = _Bot(token, info)
        self._bots[token] = bot
        if self._runner is not None:
            self._start_delivery(bot)
        return dict(info)

    def bots(self) -> list[dict[str, Any]]:
        """getMe of every bot, with its token."""
        return [{"token": t, **b.info} for t, b in self._bots.items()]

    def _bot(self, token: str) -> _Bot:
        try:
            return self._bots[token]
        except KeyError:
            raise KeyError(f"unknown bot token {token!r}; call add_bot first") from None

    def user(
        self,
        token: str,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = False,
    ) -> LocalUser:
        """A person talking to the bot ``token`` in a private chat (same object on repeat).

        ``started=True`` lets the bot write first; otherwise Telegram refuses sends until the
        person has sent something ("Forbidden: bot can't initiate conversation with a user").
        """
        bot = self._bot(token)
        person = self._people.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        for key, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                person[key] = value
        chat = bot.chats.get(user_id)
        if chat is None:
            chat_dict = {"id": user_id, "type": "private"}
            digest = hashlib.sha256(f"{bot.id}:{user_id}".encode()).digest()
            instance = str(-int.from_bytes(digest[:8], "big") // 2)
            chat = _Chat(chat=chat_dict, user=person, chat_instance=instance)
            bot.chats[user_id] = chat
        for key in ("first_name", "last_name", "username"):
            if key in person:
                chat.chat[key] = person[key]
        chat.started = chat.started or started
        user_key = (token, user_id)
        if user_key not in self._users:
            self._users[user_key] = LocalUser(self, bot, chat)
        return self._users[user_key]

    def group(self, token: str, chat_id: int, title: str) -> dict[str, Any]:
        """A group chat the bot is a member of (for raw updates); its chat object."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        bot = self._bot(token)
        chat = bot.chats.get(chat_id)
        if chat is None:
            chat_dict = {"id": chat_id, "type": "group", "title": title}
            chat = _Chat(chat=chat_dict, user={}, chat_instance=str(chat_id * 7919),
                         started=True)
            bot.chats[chat_id] = chat
        return dict(chat.chat)

    def commands(
        self, token: str, scope: dict[str, Any] | None = None
    ) -> dict[str, list[tuple[str, str]]]:
        """What setMyCommands stored for a scope (default scope), keyed by language_code."""
        key = _scope_key(scope)
        return {
            lang: [(c["command"], c["description"]) for c in cmds]
            for (s, lang), cmds in self._bot(token).commands.items()
            if s == key
        }

    def messages(self, token: str, chat_id: int) -> list[BotMessage]:
        """The bot's messages in a chat, edits applied, deleted ones left out."""
        chat = self._bot(token).chats.get(chat_id)
        if chat is None:
            return []
        return [_snapshot(r) for r in chat.records.values() if r.from_bot and not r.deleted]

    def file(self, token: str, file_id: str) -> StoredFile:
        """A stored file by file_id."""
        return self._bot(token).files[file_id]

    def stats(self, token: str) -> Stats:
        """Live counters of a bot's calls."""
        return self._bot(token).stats

    def deliveries(self, token: str) -> list[Delivery]:
        """Every webhook delivery attempt for the bot, in order."""
        return list(self._bot(token).deliveries)

    def webhook_url(self, token: str) -> str | None:
        """The webhook currently set, if any."""
        hook = self._bot(token).webhook
        return hook.url if hook else None

    def pending_updates(self, token: str) -> list[dict[str, Any]]:
        """Updates not yet acknowledged (polling) or delivered (webhook)."""
        return [copy.deepcopy(q.update) for q in self._bot(token).queue]

    def set_delivery_secret(self, token: str, secret_token: str | None) -> None:
        """Deliver webhooks with this secret header instead of the one set (None: no header)."""
        self._bot(token).secret_override = (True, secret_token)

    def reset_delivery_secret(self, token: str) -> None:
        """Deliver webhooks with the secret_token given to setWebhook again."""
        bot = self._bot(token)
        bot.secret_override = (False, None)
        bot.signal.notify()

    async def push_update(self, token: str, update: dict[str, Any]) -> int:
        """Queue any raw update (its update_id is assigned); returns the update_id."""
        bot = self._bot(token)
        kinds = [k for k in update if k != "update_id"]
        if len(kinds) != 1:
            raise ValueError(f"an update holds exactly one object, not {kinds}")
        update_id = self._enqueue(bot, kinds[0], copy.deepcopy(update[kinds[0]]))
        await asyncio.sleep(0)
        return update_id

    async def deliver_again(self, update_id: int, token: str | None = None) -> None:
        """Queue an already created update once more with the same update_id (a duplicate)."""
        bots = [self._bot(token)] if token else list(self._bots.values())
        owners = [b for b in bots if update_id in b.history]
        if not owners:
            raise KeyError(f"no update {update_id}")
        if len(owners) > 1:
            raise ValueError(f"update {update_id} exists for several bots; pass token")
        bot = owners[0]
        bot.queue.append(_Queued(copy.deepcopy(bot.history[update_id]), redelivery=True))
        bot.signal.notify()
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ faults and limits

    def inject(
        self,
        method: str,
        error_code: int | None = 429,
        retry_after: int = 1,
        times: int | None = 1,
        chat_id: int | None = None,
        *,
        description: str | None = None,
        token: str | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` fail (times=None: until clear_faults).

        429 answers "Too Many Requests: retry after N" with parameters.retry_after. With
        ``error_code=None`` and a ``delay`` the call is only slowed down (then processed).
        """
        fault = Fault(
            method=method.lower(),
            error_code=error_code,
            description=description
            or (_default_description(error_code, retry_after) if error_code else ""),
            retry_after=retry_after if error_code == 429 else None,
            times=times,
            chat_id=chat_id,
            token=token,
            delay=delay,
        )
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    def block(self, user_id: int, token: str | None = None, *, notify: bool = True) -> None:
        """The person blocks the bot (all bots when token is None): sends get 403.

        With ``notify`` the bot gets a ``my_chat_member`` update (member -> kicked).
        """
        self._blocked.add((token, user_id))
        if notify:
            for bot in self._bots.values():
                if (token is None or bot.token == token) and user_id in bot.chats:
                    self._member_update(bot, bot.chats[user_id], "member", "kicked")

    def unblock(self, user_id: int, token: str | None = None, *, notify: bool = True) -> None:
        """The person unblocks the bot (all bots when token is None)."""
        affected = [
            b
            for b in self._bots.values()
            if self._is_blocked(b, user_id) and (token is None or b.token == token)
        ]
        self._blocked.discard((token, user_id))
        if token is None:
            self._blocked = {k for k in self._blocked if k[1] != user_id}
        if notify:
            for bot in affected:
                if user_id in bot.chats and not self._is_blocked(bot, user_id):
                    self._member_update(bot, bot.chats[user_id], "kicked", "member")

    def _is_blocked(self, bot: _Bot, user_id: int) -> bool:
        return (bot.token, user_id) in self._blocked or (None, user_id) in self._blocked

    def set_rate_limits(
        self,
        global_per_second: int | None = 30,
        per_chat_per_second: int | None = 1,
        token: str | None = None,
    ) -> None:
        """Answer 429 (retry_after=1) to sends beyond these counts in any 1-second window.

        Counts sendMessage/sendDocument/sendPhoto per bot; None switches a limit off.
        """
        self._rate_limits[token] = (global_per_second, per_chat_per_second)

    # ------------------------------------------------------------------ waiting

    def _quiet(self, bot: _Bot, idle: float) -> bool:
        return bot.in_flight == 0 and time.monotonic() - bot.last_call >= idle

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Poll ``predicate`` every 10 ms until true; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.01)

    async def wait_idle(
        self, token: str | None = None, timeout: float = 5.0, idle: float | None = None
    ) -> None:
        """Wait until every update was fetched/delivered and the bot made no call for ``idle``."""
        quiet = self.idle_seconds if idle is None else idle
        bots = [self._bot(token)] if token else list(self._bots.values())

        def done() -> bool:
            return all(
                not any(not q.fetched for q in b.queue) and self._quiet(b, quiet) for b in bots
            )

        await self.wait_until(done, timeout, "the bot to become idle")

    # ------------------------------------------------------------------ HTTP: Bot API

    async def _handle_root(self, request: web.Request) -> web.Response:
        del request
        return web.json_response(
            {"ok": True, "result": {"bots": [b["username"] for b in self.bots()]}}
        )

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        bot = self._bots.get(token)
        if bot is None:
            return _error_response(ApiError(401, "Unauthorized"))
        name = request.match_info["method"].lower()
        if name not in self._methods:
            # PTB turns this 404 into telegram.error.InvalidToken("Not Found").
            _LOG.warning("LocalBotApi does not implement %r", request.match_info["method"])
            return _error_response(ApiError(404, "Not Found"))
        try:
            params = await _read_params(request)
            if name == "getupdates":
                result = await self._dispatch(bot, name, params)
            else:
                # A request once received is carried out even if the client goes away.
                task = self._spawn(self._dispatch(bot, name, params), f"local_api:{name}")
                result = await asyncio.shield(task)
        except ApiError as exc:
            return _error_response(exc)
        body: dict[str, Any] = {"ok": True, "result": result}
        if name == "setwebhook":
            body["description"] = "Webhook was set"
        elif name == "deletewebhook":
            body["description"] = "Webhook was deleted"
        return web.json_response(body, dumps=_dumps)

    async def _dispatch(self, bot: _Bot, name: str, params: _Params) -> Any:
        canonical, func = self._methods[name]
        bot.stats.calls[canonical] += 1
        polling = name == "getupdates"
        if not polling:
            bot.in_flight += 1
            bot.last_call = time.monotonic()
        try:
            chat_id = _chat_id_or_none(params)
            fault = self._take_fault(bot, name, chat_id)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.error_code:
                    raise ApiError(fault.error_code, fault.description, fault.retry_after)
            if name in _CHAT_SEND_METHODS and isinstance(chat_id, int):
                chat = bot.chats.get(chat_id)
                if chat is not None and self._is_blocked(bot, chat_id):
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                if chat is not None and not chat.started:
                    raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            if name in _SEND_METHODS:
                self._check_rate(bot, chat_id)
            result = await func(bot, params)
            if name in _SEND_METHODS:
                self._count_send(bot, chat_id)
            return result
        except ApiError as exc:
            bot.stats.errors[exc.error_code] += 1
            if exc.error_code == 429:
                bot.stats.too_many_requests += 1
            raise
        finally:
            if not polling:
                bot.in_flight -= 1
                bot.last_call = time.monotonic()

    def _take_fault(self, bot: _Bot, name: str, chat_id: int | str | None) -> Fault | None:
        for fault in self._faults:
            if fault.method != name or (fault.token and fault.token != bot.token):
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            fault.hits += 1
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    def _check_rate(self, bot: _Bot, chat_id: int | str | None) -> None:
        limits = self._rate_limits.get(bot.token, self._rate_limits.get(None))
        if not limits:
            return
        now = time.monotonic()
        global_limit, chat_limit = limits
        while bot.window and now - bot.window[0] >= 1.0:
            bot.window.popleft()
        if global_limit is not None and len(bot.window) >= global_limit:
            raise _too_many(1)
        if chat_limit is not None and isinstance(chat_id, int):
            window = bot.chat_windows.setdefault(chat_id, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= chat_limit:
                raise _too_many(1)

    def _count_send(self, bot: _Bot, chat_id: int | str | None) -> None:
        now = time.monotonic()
        bot.stats.sends += 1
        bot.stats.send_times.append(now)
        bot.window.append(now)
        if isinstance(chat_id, int):
            bot.stats.send_times_by_chat.setdefault(chat_id, []).append(now)
            bot.chat_windows.setdefault(chat_id, deque()).append(now)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        bot = self._bots.get(request.match_info["token"])
        if bot is None:
            return _error_response(ApiError(401, "Unauthorized"))
        stored = bot.file_paths.get(request.match_info["path"])
        if stored is None:
            return _error_response(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ updates

    def _enqueue(self, bot: _Bot, kind: str, payload: Any) -> int:
        update_id = bot.next_update_id
        bot.next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        bot.history[update_id] = update
        if bot.allows(kind):
            bot.queue.append(_Queued(copy.deepcopy(update)))
            bot.signal.notify()
        return update_id

    def _ack(self, bot: _Bot, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            bot.queue = bot.queue[offset:]
            return
        bot.queue = [
            q
            for q in bot.queue
            if q.update["update_id"] >= offset or (q.redelivery and not q.fetched)
        ]

    def _member_update(self, bot: _Bot, chat: _Chat, old: str, new: str) -> None:
        payload = {
            "chat": dict(chat.chat),
            "from": dict(chat.user),
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot.sender}
            | ({"until_date": 0} if old == "kicked" else {}),
            "new_chat_member": {"status": new, "user": bot.sender}
            | ({"until_date": 0} if new == "kicked" else {}),
        }
        self._enqueue(bot, "my_chat_member", payload)

    async def _m_getUpdates(self, bot: _Bot, p: _Params) -> list[dict[str, Any]]:
        if bot.webhook is not None:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        offset = p.int_("offset")
        limit = min(max(p.int_("limit") or 100, 1), 100)
        timeout = max(p.int_("timeout") or 0, 0)
        allowed = p.json_("allowed_updates", "allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed_updates JSON object")
            bot.allowed_updates = [str(a) for a in allowed] or None
        self._ack(bot, offset)
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.signal.notify()
        deadline = time.monotonic() + timeout
        while True:
            if bot.webhook is not None:
                raise ApiError(409, _WEBHOOK_CONFLICT)
            if bot.poll_generation != generation:
                raise ApiError(409, _POLL_CONFLICT)
            items = bot.queue[:limit]
            remaining = deadline - time.monotonic()
            if items or remaining <= 0 or self._stopping:
                break
            await bot.signal.wait(remaining)
        for item in items:
            item.fetched = True
        return [copy.deepcopy(item.update) for item in items]

    async def _m_setWebhook(self, bot: _Bot, p: _Params) -> bool:
        url = p.str_("url") or ""
        if not url:
            return await self._m_deleteWebhook(bot, p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if not _is_loopback(parts.hostname):
            raise _bad("bad webhook: this local server only delivers to loopback addresses")
        secret = p.str_("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise _bad("secret token contains unallowed characters")
        allowed = p.json_("allowed_updates", "allowed_updates")
        if allowed is not None and not isinstance(allowed, list):
            raise _bad("can't parse allowed_updates JSON object")
        if p.bool_("drop_pending_updates"):
            bot.queue.clear()
        previous = bot.webhook
        if allowed is None and previous is not None:
            allowed = previous.allowed_updates
        bot.webhook = _Webhook(
            url=url,
            secret_token=secret or None,
            allowed_updates=[str(a) for a in allowed] if allowed else None,
            max_connections=p.int_("max_connections") or 40,
            ip_address=p.str_("ip_address"),
        )
        bot.poll_generation += 1
        bot.signal.notify()
        return True

    async def _m_deleteWebhook(self, bot: _Bot, p: _Params) -> bool:
        if p.bool_("drop_pending_updates"):
            bot.queue.clear()
        if bot.webhook is not None:
            bot.allowed_updates = bot.webhook.allowed_updates
        bot.webhook = None
        bot.signal.notify()
        return True

    async def _m_getWebhookInfo(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        del p
        info: dict[str, Any] = {
            "url": bot.webhook.url if bot.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.queue),
        }
        hook = bot.webhook
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    def _start_delivery(self, bot: _Bot) -> None:
        if bot.delivery_task is None or bot.delivery_task.done():
            bot.delivery_task = self._spawn(self._deliver_loop(bot), f"local_api:deliver:{bot.id}")

    async def _deliver_loop(self, bot: _Bot) -> None:
        failures = 0
        while not self._stopping:
            hook = bot.webhook
            if hook is None or not bot.queue:
                await bot.signal.wait(None)
                continue
            entry = bot.queue[0]
            entry.attempts += 1
            override, forced = bot.secret_override
            secret = forced if override else hook.secret_token
            status, error, answer = await self._post_update(hook.url, entry.update, secret)
            bot.deliveries.append(
                Delivery(
                    update_id=entry.update["update_id"],
                    url=hook.url,
                    attempt=entry.attempts,
                    status=status,
                    error=error,
                    secret_token=secret,
                    duplicate=entry.redelivery,
                    at=time.time(),
                )
            )
            if status is not None and 200 <= status < 300:
                failures = 0
                if bot.queue and bot.queue[0] is entry:
                    bot.queue.pop(0)
                entry.fetched = True
                if isinstance(answer, dict) and isinstance(answer.get("method"), str):
                    await self._webhook_answer(bot, answer)
                continue
            failures += 1
            hook.last_error_date = int(time.time())
            hook.last_error_message = error or f"Wrong response from the webhook: {status}"
            await bot.signal.wait(min(0.05 * 2 ** (failures - 1), 1.0))

    async def _post_update(
        self, url: str, update: dict[str, Any], secret: str | None
    ) -> tuple[int | None, str | None, Any]:
        if self._session is None:
            return None, "server stopped", None
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        try:
            async with self._session.post(
                url,
                data=_dumps(update).encode(),
                headers=headers,
                timeout=ClientTimeout(total=self.webhook_timeout),
            ) as response:
                body = await response.read()
                answer: Any = None
                if response.content_type == "application/json" and body:
                    with contextlib.suppress(ValueError):
                        answer = json.loads(body)
                error = None
                if not 200 <= response.status < 300:
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
                return response.status, error, answer
        except (ClientError, TimeoutError, OSError) as exc:
            return None, f"Connection failed: {exc.__class__.__name__}: {exc}", None

    async def _webhook_answer(self, bot: _Bot, answer: dict[str, Any]) -> None:
        name = str(answer["method"]).lower()
        if name not in self._methods or name == "getupdates":
            return
        values = {k: v for k, v in answer.items() if k != "method"}
        with contextlib.suppress(ApiError):
            await self._dispatch(bot, name, _Params(values, {}))

    # ------------------------------------------------------------------ bot methods

    async def _m_getMe(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        del p
        return dict(bot.info)

    async def _m_logOut(self, bot: _Bot, p: _Params) -> bool:
        del bot, p
        return True

    async def _m_close(self, bot: _Bot, p: _Params) -> bool:
        del bot, p
        return True

    def _chat(self, bot: _Bot, p: _Params) -> _Chat:
        chat_id = p.chat_id()
        chat = bot.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _new_message(
        self, bot: _Bot, chat: _Chat, from_bot: bool, content: dict[str, Any]
    ) -> _Record:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {
            "message_id": message_id,
            "from": bot.sender if from_bot else dict(chat.user),
            "chat": dict(chat.chat),
            "date": int(time.time()),
            **content,
        }
        record = _Record(message=message, from_bot=from_bot)
        chat.records[message_id] = record
        return record

    def _reply_to(self, chat: _Chat, p: _Params) -> dict[str, Any] | None:
        params = p.json_("reply_parameters", "reply parameters")
        target = p.int_("reply_to_message_id")
        allow = p.bool_("allow_sending_without_reply")
        if isinstance(params, dict):
            target = params.get("message_id", target)
            allow = allow or bool(params.get("allow_sending_without_reply"))
        if target is None:
            return None
        record = chat.records.get(int(target))
        if record is None or record.deleted:
            if allow:
                return None
            raise _bad("message to be replied not found")
        replied = copy.deepcopy(record.message)
        replied.pop("reply_to_message", None)
        return replied

    def _markup(self, p: _Params, inline_only: bool = False) -> dict[str, Any] | None:
        raw = p.json_("reply_markup", "reply keyboard markup")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            return _validate_inline(raw)
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in raw:
            rows = raw["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse reply keyboard markup JSON object")
            keyboard = [
                [b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows
            ]
            for row in keyboard:
                for button in row:
                    if not isinstance(button.get("text"), str) or not button["text"]:
                        raise _bad(
                            'can\'t parse keyboard button: Field "text" must be of type String'
                        )
            return {**raw, "keyboard": keyboard}
        if raw.get("remove_keyboard") or raw.get("force_reply"):
            return raw
        raise _bad("can't parse reply keyboard markup JSON object")

    def _formatted(
        self, p: _Params, key: str, entities_key: str, limit: int, too_long: str
    ) -> tuple[str, list[dict[str, Any]]]:
        raw = p.str_(key) or ""
        entities = p.json_(entities_key, "entities")
        plain, found = format_text(raw, p.str_("parse_mode"), entities)
        if len(plain) > limit:
            raise _bad(too_long)
        return plain, found

    def _remember_markup(self, chat: _Chat, record: _Record, markup: dict[str, Any] | None) -> None:
        record.markup = markup
        if markup is None:
            return
        if "inline_keyboard" in markup:
            if any(markup["inline_keyboard"]):
                record.message["reply_markup"] = markup
        elif "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        elif markup.get("force_reply"):
            chat.force_reply_to = record.message["message_id"]

    async def _m_sendMessage(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        chat = self._chat(bot, p)
        source = p.str_("text")
        if not source:
            raise _bad("message text is empty")
        plain, entities = self._formatted(p, "text", "entities", MAX_TEXT, "message is too long")
        if not plain:
            raise _bad("message text is empty")
        markup = self._markup(p)
        reply = self._reply_to(chat, p)
        content: dict[str, Any] = {"text": plain}
        if entities:
            content["entities"] = entities
        preview = p.json_("link_preview_options", "link preview options")
        if isinstance(preview, dict):
            content["link_preview_options"] = preview
        elif p.bool_("disable_web_page_preview"):
            content["link_preview_options"] = {"is_disabled": True}
        if reply is not None:
            content["reply_to_message"] = reply
        if p.bool_("protect_content"):
            content["has_protected_content"] = True
        record = self._new_message(bot, chat, True, content)
        record.source = source
        record.parse_mode = p.str_("parse_mode")
        self._remember_markup(chat, record, markup)
        chat.touch(record.message["message_id"])
        return copy.deepcopy(record.message)

    def _store_file(
        self,
        bot: _Bot,
        kind: str,
        upload: _Upload,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        number = next(bot.file_counter)
        mime = upload.content_type
        if (not mime or mime == "application/octet-stream") and upload.filename:
            mime = mimetypes.guess_type(upload.filename, strict=False)[0] or mime
        ext = ""
        if upload.filename and "." in upload.filename:
            ext = "." + upload.filename.rsplit(".", 1)[1][:8]
        elif mime:
            ext = mimetypes.guess_extension(mime, strict=False) or ""
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id=f"{kind[:3].upper()}{bot.id}-{number}-{secrets.token_urlsafe(12)}",
            file_unique_id=hashlib.sha256(upload.data).hexdigest()[:16],
            file_path=f"{folder}/file_{number}{ext}",
            data=upload.data,
            filename=upload.filename,
            mime_type=mime,
            kind=kind,
            width=width,
            height=height,
        )
        bot.files[stored.file_id] = stored
        bot.file_paths[stored.file_path] = stored
        return stored

    async def _resolve_file(self, bot: _Bot, kind: str, value: _Upload | str | None) -> StoredFile:
        if value is None:
            raise _bad(f"there is no {kind} in the request")
        if isinstance(value, str):
            if value in bot.files:
                return bot.files[value]
            if not value.startswith(("http://", "https://")):
                raise _bad("wrong file identifier/HTTP URL specified")
            value = await self._fetch(value)
        if not value.data:
            raise _bad("file must be non-empty")
        if len(value.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            size = _image_size(value.data)
            if size is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            return self._store_file(bot, kind, value, *size)
        return self._store_file(bot, kind, value)

    async def _fetch(self, url: str) -> _Upload:
        if not _is_loopback(urlsplit(url).hostname) or self._session is None:
            raise _bad("failed to get HTTP URL content")
        try:
            async with self._session.get(url, timeout=ClientTimeout(total=10)) as response:
                if response.status != 200:
                    raise _bad("failed to get HTTP URL content")
                data = await response.read()
                name = urlsplit(url).path.rsplit("/", 1)[-1] or None
                return _Upload(data, name, response.content_type)
        except (ClientError, TimeoutError, OSError):
            raise _bad("failed to get HTTP URL content") from None

    def _caption(self, p: _Params) -> dict[str, Any]:
        caption, entities = self._formatted(
            p, "caption", "caption_entities", MAX_CAPTION, "message caption is too long"
        )
        content: dict[str, Any] = {}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    async def _send_media(self, bot: _Bot, p: _Params, kind: str) -> dict[str, Any]:
        chat = self._chat(bot, p)
        caption = self._caption(p)
        markup = self._markup(p)
        reply = self._reply_to(chat, p)
        stored = await self._resolve_file(bot, kind, p.input_file(kind))
        content: dict[str, Any] = {}
        if kind == "photo":
            content["photo"] = [_photo_size(stored)]
        else:
            content["document"] = _document(stored)
        content.update(caption)
        if reply is not None:
            content["reply_to_message"] = reply
        record = self._new_message(bot, chat, True, content)
        record.source = p.str_("caption")
        record.parse_mode = p.str_("parse_mode")
        record.document = stored if kind == "document" else None
        record.photo = stored if kind == "photo" else None
        self._remember_markup(chat, record, markup)
        chat.touch(record.message["message_id"])
        return copy.deepcopy(record.message)

    async def _m_sendDocument(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        return await self._send_media(bot, p, "document")

    async def _m_sendPhoto(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        return await self._send_media(bot, p, "photo")

    async def _m_sendChatAction(self, bot: _Bot, p: _Params) -> bool:
        chat = self._chat(bot, p)
        action = p.str_("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat.actions.append(action)
        return True

    def _edit_target(self, bot: _Bot, p: _Params) -> tuple[_Chat, _Record]:
        if p.str_("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat(bot, p)
        message_id = p.int_("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        record = chat.records.get(message_id)
        if record is None or record.deleted:
            raise _bad("message to edit not found")
        if not record.from_bot:
            raise _bad("message can't be edited")
        return chat, record

    def _apply_edit(
        self, chat: _Chat, record: _Record, changes: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message = record.message
        old_markup = message.get("reply_markup")
        new_markup = markup if markup and any(markup["inline_keyboard"]) else None
        unchanged = all(message.get(k) == v for k, v in changes.items()) and (
            old_markup == new_markup
        )
        if unchanged:
            raise _bad(_NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        record.markup = new_markup
        message["edit_date"] = int(time.time())
        record.edits += 1
        chat.touch(message["message_id"])
        return copy.deepcopy(message)

    async def _m_editMessageText(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        chat, record = self._edit_target(bot, p)
        source = p.str_("text")
        if not source:
            raise _bad("message text is empty")
        if "text" not in record.message:
            raise _bad("there is no text in the message to edit")
        plain, entities = self._formatted(p, "text", "entities", MAX_TEXT, "message is too long")
        if not plain:
            raise _bad("message text is empty")
        markup = self._markup(p, inline_only=True)
        changes: dict[str, Any] = {"text": plain, "entities": entities or None}
        preview = p.json_("link_preview_options", "link preview options")
        if isinstance(preview, dict):
            changes["link_preview_options"] = preview
        result = self._apply_edit(chat, record, changes, markup)
        record.source = source
        record.parse_mode = p.str_("parse_mode")
        return result

    async def _m_editMessageCaption(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        chat, record = self._edit_target(bot, p)
        if "text" in record.message:
            raise _bad("there is no caption in the message to edit")
        content = self._caption(p)
        markup = self._markup(p, inline_only=True)
        changes = {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
        }
        result = self._apply_edit(chat, record, changes, markup)
        record.source = p.str_("caption")
        record.parse_mode = p.str_("parse_mode")
        return result

    async def _m_editMessageReplyMarkup(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        chat, record = self._edit_target(bot, p)
        return self._apply_edit(chat, record, {}, self._markup(p, inline_only=True))

    async def _m_deleteMessage(self, bot: _Bot, p: _Params) -> bool:
        chat = self._chat(bot, p)
        message_id = p.int_("message_id", required=True)
        record = chat.records.get(message_id or 0)
        if record is None or record.deleted:
            raise _bad("message to delete not found")
        record.deleted = True
        chat.touch(message_id or 0)
        return True

    async def _m_deleteMessages(self, bot: _Bot, p: _Params) -> bool:
        chat = self._chat(bot, p)
        ids = p.json_("message_ids", "message_ids")
        if not isinstance(ids, list) or not ids:
            raise _bad("message_ids is empty")
        for message_id in ids:
            record = chat.records.get(int(message_id))
            if record is not None and not record.deleted:
                record.deleted = True
                chat.touch(int(message_id))
        return True

    async def _m_answerCallbackQuery(self, bot: _Bot, p: _Params) -> bool:
        query_id = p.str_("callback_query_id") or ""
        if query_id not in bot.queries or query_id in bot.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = p.str_("text")
        if text is not None and len(text) > MAX_ANSWER_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
        bot.answered.add(query_id)
        _chat_id, message_id, data = bot.queries[query_id]
        bot.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                data=data,
                message_id=message_id,
                text=text,
                show_alert=p.bool_("show_alert"),
                url=p.str_("url"),
                cache_time=p.int_("cache_time") or 0,
            )
        )
        return True

    async def _m_setMyCommands(self, bot: _Bot, p: _Params) -> bool:
        commands = p.json_("commands", "commands")
        if not isinstance(commands, list):
            raise _bad("commands is empty")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        clean: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand")
            command = str(item.get("command", "")).lstrip("/")
            description = str(item.get("description", ""))
            if not _COMMAND_RE.match(command):
                raise _bad("BOT_COMMAND_INVALID")
            if not description.strip() or len(description) > 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = (_scope_key(self._scope(p)), p.str_("language_code") or "")
        if clean:
            bot.commands[key] = clean
        else:
            bot.commands.pop(key, None)
        return True

    def _scope(self, p: _Params) -> dict[str, Any] | None:
        scope = p.json_("scope", "scope")
        if scope is not None and not (isinstance(scope, dict) and "type" in scope):
            raise _bad("can't parse BotCommandScope")
        return scope

    async def _m_getMyCommands(self, bot: _Bot, p: _Params) -> list[dict[str, str]]:
        key = (_scope_key(self._scope(p)), p.str_("language_code") or "")
        return copy.deepcopy(bot.commands.get(key, []))

    async def _m_deleteMyCommands(self, bot: _Bot, p: _Params) -> bool:
        bot.commands.pop((_scope_key(self._scope(p)), p.str_("language_code") or ""), None)
        return True

    def _set_text(self, bot: _Bot, p: _Params, kind: str, limit: int) -> bool:
        value = p.str_(kind) or ""
        if len(value) > limit:
            raise _bad(f"{kind} is too long")
        key = (kind, p.str_("language_code") or "")
        if value:
            bot.texts[key] = value
        else:
            bot.texts.pop(key, None)
        return True

    def _get_text(self, bot: _Bot, p: _Params, kind: str) -> dict[str, str]:
        lang = p.str_("language_code") or ""
        value = bot.texts.get((kind, lang), bot.texts.get((kind, ""), ""))
        if kind == "name" and not value:
            value = bot.info["first_name"]
        return {kind: value}

    async def _m_setMyDescription(self, bot: _Bot, p: _Params) -> bool:
        return self._set_text(bot, p, "description", 512)

    async def _m_getMyDescription(self, bot: _Bot, p: _Params) -> dict[str, str]:
        return self._get_text(bot, p, "description")

    async def _m_setMyShortDescription(self, bot: _Bot, p: _Params) -> bool:
        return self._set_text(bot, p, "short_description", 120)

    async def _m_getMyShortDescription(self, bot: _Bot, p: _Params) -> dict[str, str]:
        return self._get_text(bot, p, "short_description")

    async def _m_setMyName(self, bot: _Bot, p: _Params) -> bool:
        return self._set_text(bot, p, "name", 64)

    async def _m_getMyName(self, bot: _Bot, p: _Params) -> dict[str, str]:
        return self._get_text(bot, p, "name")

    async def _m_setChatMenuButton(self, bot: _Bot, p: _Params) -> bool:
        button = p.json_("menu_button", "menu button") or {"type": "default"}
        if not isinstance(button, dict) or "type" not in button:
            raise _bad("can't parse menu button")
        bot.menu_buttons[p.int_("chat_id")] = button
        return True

    async def _m_getChatMenuButton(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        button = bot.menu_buttons.get(p.int_("chat_id")) or bot.menu_buttons.get(None)
        return dict(button or {"type": "commands"})

    async def _m_getChat(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        chat = self._chat(bot, p)
        return {
            **chat.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _m_getChatMember(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        chat = self._chat(bot, p)
        user_id = p.int_("user_id", required=True)
        if user_id == bot.id:
            return {"status": "member", "user": bot.sender}
        if user_id != chat.user["id"]:
            raise _bad("user not found")
        status = "kicked" if self._is_blocked(bot, chat.user["id"]) else "member"
        return {"status": status, "user": dict(chat.user)} | (
            {"until_date": 0} if status == "kicked" else {}
        )

    async def _m_getFile(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        stored = bot.files.get(p.str_("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # ------------------------------------------------------------------ HTTP: people

    def _add_user_routes(self, app: web.Application) -> None:
        app.router.add_get("/_user/bots", self._u_bots)
        app.router.add_post("/_user/add_bot", self._u_add_bot)
        app.router.add_post("/_user/send", self._u_send)
        app.router.add_post("/_user/send_document", self._u_send_document)
        app.router.add_post("/_user/press", self._u_press)
        app.router.add_post("/_user/block", self._u_block)
        app.router.add_post("/_user/unblock", self._u_unblock)
        app.router.add_get("/_user/messages", self._u_messages)
        app.router.add_post("/_user/wait_reply", self._u_wait_reply)
        app.router.add_get("/_user/callback_answers", self._u_callback_answers)
        app.router.add_get("/_user/commands", self._u_commands)

    async def _user_call(
        self,
        request: web.Request,
        action: Callable[[LocalUser, dict[str, Any]], Awaitable[Any]],
    ) -> web.Response:
        try:
            if request.method == "GET":
                body: dict[str, Any] = dict(request.query)
            else:
                body = await request.json() if request.body_exists else {}
                if not isinstance(body, dict):
                    raise ValueError("JSON object expected")
            token = str(body["token"])
            person = self.user(
                token,
                int(body["user_id"]),
                body.get("first_name"),
                last_name=body.get("last_name"),
                username=body.get("username"),
                language_code=body.get("language_code"),
            )
            result = await action(person, body)
        except TimeoutError as exc:
            return _user_error(408, str(exc))
        except (KeyError, ValueError, LookupError, TypeError) as exc:
            return _user_error(400, f"{exc.__class__.__name__}: {exc}")
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    async def _u_bots(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"ok": True, "result": self.bots()}, dumps=_dumps)

    async def _u_add_bot(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            info = self.add_bot(str(body["token"]), body.get("username"), body.get("first_name"))
        except (KeyError, ValueError, TypeError) as exc:
            return _user_error(400, f"{exc.__class__.__name__}: {exc}")
        return web.json_response({"ok": True, "result": info}, dumps=_dumps)

    async def _u_send(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            return {"update_id": await person.send(str(body["text"]))}

        return await self._user_call(request, act)

    async def _u_send_document(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            data = base64.b64decode(str(body["data_base64"]))
            update_id = await person.send_document(
                data, str(body.get("filename") or "file.bin"), caption=body.get("caption")
            )
            return {"update_id": update_id}

        return await self._user_call(request, act)

    async def _u_press(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            message_id = body.get("message_id")
            message_id = int(message_id) if message_id is not None else None
            if body.get("data") is not None:
                return {"update_id": await person.press(str(body["data"]), message_id)}
            return {"update_id": await person.press_text(str(body["text"]), message_id)}

        return await self._user_call(request, act)

    async def _u_block(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            del body
            await person.block()
            return True

        return await self._user_call(request, act)

    async def _u_unblock(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            del body
            await person.unblock()
            return True

        return await self._user_call(request, act)

    def _file_url(self, person: LocalUser) -> str:
        return f"{self.url}/file/bot{person.token}"

    async def _u_messages(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            include_deleted = str(body.get("include_deleted", "")).lower() in ("1", "true")
            return {
                "seq": person.seq,
                "keyboard": person.keyboard(),
                "messages": [
                    m.to_json(self._file_url(person))
                    for m in person.messages(include_deleted=include_deleted)
                ],
            }

        return await self._user_call(request, act)

    async def _u_wait_reply(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            found = await person.wait_reply(timeout=float(body.get("timeout", 5.0)))
            return {"messages": [m.to_json(self._file_url(person)) for m in found]}

        return await self._user_call(request, act)

    async def _u_callback_answers(self, request: web.Request) -> web.Response:
        async def act(person: LocalUser, body: dict[str, Any]) -> Any:
            del body
            return [a.__dict__ for a in person.callback_answers()]

        return await self._user_call(request, act)

    async def _u_commands(self, request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        if token not in self._bots:
            return _user_error(400, "unknown token")
        result = {lang: [list(c) for c in cmds] for lang, cmds in self.commands(token).items()}
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)


# --------------------------------------------------------------------------- people


class LocalUser:
    """A person in a private chat with one bot: sends, presses buttons, reads replies."""

    def __init__(self, api: LocalBotApi, bot: _Bot, chat: _Chat) -> None:
        self._api = api
        self._bot = bot
        self._chat = chat

    @property
    def token(self) -> str:
        """The bot's token."""
        return self._bot.token

    @property
    def user_id(self) -> int:
        """The person's id (also the private chat's id)."""
        return int(self._chat.user["id"])

    @property
    def chat_id(self) -> int:
        """The private chat's id (equals user_id)."""
        return int(self._chat.chat["id"])

    @property
    def user(self) -> dict[str, Any]:
        """The person as a Bot API User."""
        return dict(self._chat.user)

    @property
    def seq(self) -> int:
        """Counter of the bot's changes in this chat (sends, edits, deletions)."""
        return self._chat.seq

    # -- actions

    def _act(self) -> None:
        chat = self._chat
        if self._api._is_blocked(self._bot, self.user_id):
            self._api.unblock(self.user_id, self.token)
        chat.started = True
        chat.cursor = chat.seq

    async def _emit(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self._api._enqueue(self._bot, kind, payload)
        self._chat.last_update_id = update_id
        await asyncio.sleep(0)
        return update_id

    def _user_message(self, content: dict[str, Any], reply_to: int | None) -> dict[str, Any]:
        chat = self._chat
        target = reply_to if reply_to is not None else chat.force_reply_to
        chat.force_reply_to = None
        if target is not None:
            record = chat.records.get(target)
            if record is None or record.deleted:
                raise LookupError(f"no message {target} to reply to")
            replied = copy.deepcopy(record.message)
            replied.pop("reply_to_message", None)
            content = {**content, "reply_to_message": replied}
        keyboard = chat.reply_keyboard
        if keyboard is not None and keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
        record = self._api._new_message(self._bot, chat, False, content)
        return copy.deepcopy(record.message)

    async def send(self, text: str, *, reply_to: int | None = None) -> int:
        """Send a text (commands get bot_command entities); returns the update_id."""
        plain, entities = format_text(text)
        if not plain:
            raise ValueError("Telegram does not send an empty message")
        if len(plain) > MAX_TEXT:
            raise ValueError(f"a message has at most {MAX_TEXT} characters")
        self._act()
        content: dict[str, Any] = {"text": plain}
        if entities:
            content["entities"] = entities
        return await self._emit("message", self._user_message(content, reply_to))

    async def send_document(
        self,
        data: bytes,
        filename: str,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
    ) -> int:
        """Send a file as a document; returns the update_id."""
        self._act()
        upload = _Upload(data, filename, mime_type)
        stored = await self._api._resolve_file(self._bot, "document", upload)
        content: dict[str, Any] = {"document": _document(stored)}
        content.update(_user_caption(caption))
        return await self._emit("message", self._user_message(content, None))

    async def send_photo(self, data: bytes, *, caption: str | None = None) -> int:
        """Send a picture as a photo; returns the update_id."""
        self._act()
        stored = await self._api._resolve_file(self._bot, "photo", _Upload(data, None, None))
        content: dict[str, Any] = {"photo": [_photo_size(stored)]}
        content.update(_user_caption(caption))
        return await self._emit("message", self._user_message(content, None))

    async def share_contact(self, phone_number: str) -> int:
        """Share the person's own contact (a request_contact button); returns the update_id."""
        self._act()
        contact = {
            "phone_number": phone_number,
            "first_name": self._chat.user["first_name"],
            "user_id": self.user_id,
        }
        if "last_name" in self._chat.user:
            contact["last_name"] = self._chat.user["last_name"]
        return await self._emit("message", self._user_message({"contact": contact}, None))

    async def edit(self, message_id: int, text: str) -> int:
        """Edit one of the person's own text messages; returns the update_id."""
        record = self._chat.records.get(message_id)
        if record is None or record.from_bot or "text" not in record.message:
            raise LookupError(f"no own text message {message_id}")
        plain, entities = format_text(text)
        self._act()
        record.message["text"] = plain
        record.message.pop("entities", None)
        if entities:
            record.message["entities"] = entities
        record.message["edit_date"] = int(time.time())
        record.edits += 1
        return await self._emit("edited_message", copy.deepcopy(record.message))

    def _find_button(
        self, match: Callable[[dict[str, Any]], bool], what: str, message_id: int | None
    ) -> tuple[_Record, dict[str, Any]]:
        records = list(self._chat.records.values())
        if message_id is not None:
            records = [r for r in records if r.message["message_id"] == message_id]
        for record in reversed(records):
            if not record.from_bot or record.deleted:
                continue
            markup = record.message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if match(button):
                        return record, button
        shown = [(m.message_id, m.buttons) for m in self.messages() if m.buttons]
        raise LookupError(f"no inline button {what} in the chat; buttons shown: {shown}")

    async def press(self, data: str, message_id: int | None = None) -> int:
        """Press the inline button with this callback_data (last such message by default)."""
        record, _button = self._find_button(
            lambda b: b.get("callback_data") == data, f"with data {data!r}", message_id
        )
        return await self._press(record, data)

    async def press_text(self, text: str, message_id: int | None = None) -> int:
        """Press the inline button with this text (last such message by default)."""
        record, button = self._find_button(
            lambda b: b.get("text") == text, f"with text {text!r}", message_id
        )
        if "callback_data" not in button:
            raise LookupError(f"button {text!r} is not a callback button: {button}")
        return await self._press(record, str(button["callback_data"]))

    async def _press(self, record: _Record, data: str) -> int:
        self._act()
        bot = self._bot
        query_id = f"{bot.id}{next(self._api._query_ids):08d}"
        message_id = record.message["message_id"]
        bot.queries[query_id] = (self.chat_id, message_id, data)
        self._chat.last_query_id = query_id
        query = {
            "id": query_id,
            "from": dict(self._chat.user),
            "message": copy.deepcopy(record.message),
            "chat_instance": self._chat.chat_instance,
            "data": data,
        }
        return await self._emit("callback_query", query)

    async def block(self) -> None:
        """Block the bot (the bot gets a my_chat_member update; sends get 403)."""
        self._api.block(self.user_id, self.token)
        await asyncio.sleep(0)

    async def unblock(self) -> None:
        """Unblock the bot."""
        self._api.unblock(self.user_id, self.token)
        await asyncio.sleep(0)

    # -- reading

    def messages(self, include_deleted: bool = False) -> list[BotMessage]:
        """The bot's messages in this chat, in order, edits applied."""
        return [
            _snapshot(r)
            for r in self._chat.records.values()
            if r.from_bot and (include_deleted or not r.deleted)
        ]

    def history(self) -> list[BotMessage]:
        """Every message of the chat (the person's and the bot's), deleted ones left out."""
        return [_snapshot(r) for r in self._chat.records.values() if not r.deleted]

    def last(self) -> BotMessage | None:
        """The bot's last message still shown."""
        found = self.messages()
        return found[-1] if found else None

    def last_text(self) -> str | None:
        """Text (or caption) of the bot's last message."""
        last = self.last()
        return last.content if last else None

    def keyboard(self) -> list[list[str]] | None:
        """The reply keyboard shown under the input field, as rows of button texts."""
        markup = self._chat.reply_keyboard
        if markup is None:
            return None
        return [[b["text"] for b in row] for row in markup["keyboard"]]

    def callback_answers(self) -> list[CallbackAnswer]:
        """What the bot answered to this person's button presses, in order."""
        mine = {
            qid for qid, (chat_id, _m, _d) in self._bot.queries.items() if chat_id == self.chat_id
        }
        return [a for a in self._bot.callback_answers if a.callback_query_id in mine]

    def callback_texts(self) -> list[str | None]:
        """Just the texts of callback_answers()."""
        return [a.text for a in self.callback_answers()]

    def chat_actions(self) -> list[str]:
        """sendChatAction actions the bot showed in this chat."""
        return list(self._chat.actions)

    def visible_commands(self) -> list[tuple[str, str]]:
        """The command menu this person sees (scope and language fallbacks applied)."""
        scopes: list[dict[str, Any]] = [
            {"type": "chat", "chat_id": self.chat_id},
            {"type": "all_private_chats"},
            {"type": "default"},
        ]
        lang = self._chat.user.get("language_code") or ""
        for scope in scopes:
            for code in dict.fromkeys((lang, "")):
                cmds = self._bot.commands.get((_scope_key(scope), code))
                if cmds:
                    return [(c["command"], c["description"]) for c in cmds]
        return []

    # -- waiting

    async def wait_reply(self, timeout: float = 5.0, idle: float | None = None) -> list[BotMessage]:
        """Wait for the bot to send or edit something here and go idle; return those messages.

        Counts changes since the person's last action (or the last wait_reply); idle means the
        update was fetched/delivered and the bot made no API call for ``idle`` seconds.
        Raises TimeoutError when nothing came.
        """
        quiet = self._api.idle_seconds if idle is None else idle
        chat, bot = self._chat, self._bot

        def ready() -> bool:
            consumed = chat.last_update_id is None or not bot.unconsumed(chat.last_update_id)
            return chat.seq > chat.cursor and consumed and self._api._quiet(bot, quiet)

        try:
            await self._api.wait_until(ready, timeout, "a reply")
        except TimeoutError:
            raise TimeoutError(
                f"the bot did not answer user {self.user_id} within {timeout}s "
                f"(calls so far: {dict(bot.stats.calls)})"
            ) from None
        changed = dict.fromkeys(mid for seq, mid in chat.events if seq > chat.cursor)
        chat.cursor = chat.seq
        return [
            _snapshot(chat.records[mid]) for mid in sorted(changed) if not chat.records[mid].deleted
        ]

    async def wait_idle(self, timeout: float = 5.0, idle: float | None = None) -> None:
        """Wait until the person's last update was taken and the bot made no call for ``idle``."""
        quiet = self._api.idle_seconds if idle is None else idle
        chat, bot = self._chat, self._bot

        def ready() -> bool:
            consumed = chat.last_update_id is None or not bot.unconsumed(chat.last_update_id)
            return consumed and self._api._quiet(bot, quiet)

        await self._api.wait_until(ready, timeout, "the bot to become idle")

    async def wait_answer(self, timeout: float = 5.0) -> CallbackAnswer:
        """Wait for the bot to answer the last button press; return the answer."""
        query_id = self._chat.last_query_id
        if query_id is None:
            raise LookupError("no button was pressed")
        await self._api.wait_until(
            lambda: query_id in self._bot.answered, timeout, "answerCallbackQuery"
        )
        return next(a for a in self._bot.callback_answers if a.callback_query_id == query_id)


# --------------------------------------------------------------------------- helpers


def _validate_inline(raw: dict[str, Any]) -> dict[str, Any]:
    rows = raw.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad("can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise _bad("can't parse inline keyboard button: InlineKeyboardButton expected")
            if not isinstance(button.get("text"), str):
                raise _bad(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not any(key in button for key in _INLINE_BUTTON_ACTIONS):
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(str(data).encode("utf-8"))
                if not isinstance(data, str) or not 1 <= size <= MAX_CALLBACK_DATA:
                    raise _bad("BUTTON_DATA_INVALID")
            if "url" in button and (not isinstance(button["url"], str) or not button["url"]):
                raise _bad("BUTTON_URL_INVALID")
    return {"inline_keyboard": [[dict(b) for b in row] for row in rows]}


def _scope_key(scope: dict[str, Any] | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _document(stored: StoredFile) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.filename:
        doc["file_name"] = stored.filename
    if stored.mime_type:
        doc["mime_type"] = stored.mime_type
    return doc


def _photo_size(stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "width": stored.width,
        "height": stored.height,
    }


def _user_caption(caption: str | None) -> dict[str, Any]:
    if not caption:
        return {}
    plain, entities = format_text(caption)
    if len(plain) > MAX_CAPTION:
        raise ValueError(f"a caption has at most {MAX_CAPTION} characters")
    return {"caption": plain, **({"caption_entities": entities} if entities else {})}


def _snapshot(record: _Record) -> BotMessage:
    message = copy.deepcopy(record.message)
    markup = record.markup or {}
    inline = message.get("reply_markup", {}).get("inline_keyboard", [])
    buttons = [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in inline]
    keyboard = None
    if "keyboard" in markup:
        keyboard = [[b["text"] for b in row] for row in markup["keyboard"]]
    return BotMessage(
        message_id=message["message_id"],
        chat_id=message["chat"]["id"],
        from_bot=record.from_bot,
        date=message["date"],
        text=message.get("text"),
        caption=message.get("caption"),
        entities=message.get("entities") or message.get("caption_entities") or [],
        parse_mode=record.parse_mode,
        source=record.source,
        buttons=buttons,
        keyboard=keyboard,
        remove_keyboard=bool(markup.get("remove_keyboard")),
        force_reply=bool(markup.get("force_reply")),
        document=record.document,
        photo_file=record.photo,
        edited=record.edits,
        deleted=record.deleted,
        raw=message,
    )


def _chat_id_or_none(params: _Params) -> int | str | None:
    value = params.values.get("chat_id")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.error_code, dumps=_dumps)


def _user_error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description},
        status=status,
        dumps=_dumps,
    )


async def _read_params(request: web.Request) -> _Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.method != "POST" or not request.body_exists:
        return _Params(values, files)
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise _bad("can't parse JSON object")
        values.update(body)
    elif ctype == "multipart/form-data":
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                data = bytes(await part.read(decode=True))
                if len(data) > MAX_UPLOAD:
                    raise ApiError(413, "Request Entity Too Large")
                files[part.name] = _Upload(data, part.filename, part.headers.get("Content-Type"))
            else:
                values[part.name] = await part.text()
    elif ctype == "application/x-www-form-urlencoded":
        form = await request.post()
        values.update({k: v for k, v in form.items() if isinstance(v, str)})
    return _Params(values, files)


# --------------------------------------------------------------------------- CLI


async def _serve(host: str, port: int, bots: list[str]) -> None:
    api = LocalBotApi()
    await api.start(host, port)
    for spec in bots:
        token, _, username = spec.partition("=")
        api.add_bot(token, username or None)
    print(f"Local Bot API on {api.url}", flush=True)
    for info in api.bots():
        print(
            f"  bot @{info['username']}: base_url={api.url}/bot token={info['token']}", flush=True
        )
    try:
        await asyncio.Event().wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the server until interrupted."""
    parser = argparse.ArgumentParser(description="Local Telegram Bot API server (loopback only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--bot",
        action="append",
        default=[],
        metavar="TOKEN[=USERNAME]",
        help="register a bot (repeatable); more can be added with POST /_user/add_bot",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.bot))


if __name__ == "__main__":
    main()
