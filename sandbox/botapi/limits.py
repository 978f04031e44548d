"""Telegram's limits as the local server applies them: sizes, errors, 429s, faults, blocks."""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.botapi.model import _Bot


_LOG = logging.getLogger("sandbox.botapi")

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


class Limits:
    """Injected faults, blocked people and rate limits of a LocalBotApi."""

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
