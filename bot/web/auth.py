"""Checks of the web face that need no database: CSRF tokens and Telegram Mini App data."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

INIT_DATA_MAX_AGE = 24 * 3600  # an initData older than a day is refused
MAX_INIT_DATA = 4096


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from the session's secret, so it needs no
    storage, and a page from another site cannot know it."""
    return hmac.new(session_token.encode(), b"csrf", hashlib.sha256).hexdigest()[:32]


def csrf_ok(session_token: str | None, sent: str | None) -> bool:
    """The form's token matches the session's."""
    if not session_token or not sent:
        return False
    return hmac.compare_digest(csrf_token(session_token), sent)


def verify_init_data(init_data: str, bot_token: str, *, now: float | None = None,
                     max_age: int = INIT_DATA_MAX_AGE) -> dict[str, Any] | None:
    """The Telegram user of a Mini App's ``initData`` when its hash is right and its
    ``auth_date`` less than ``max_age`` seconds old; else None.

    As Telegram documents it: the data-check-string is every field but ``hash``, sorted,
    as ``key=value`` lines; the secret key is HMAC-SHA256 of the bot token with the key
    "WebAppData"; the hash is the hex HMAC-SHA256 of the data-check-string with that key.
    """
    if not init_data or len(init_data) > MAX_INIT_DATA:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        return None
    sent = fields.pop("hash", None)
    if not sent:
        return None
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sent):
        return None
    auth_date = fields.get("auth_date", "")
    if not auth_date.isdigit():
        return None
    if (now if now is not None else time.time()) - int(auth_date) > max_age:
        return None
    try:
        user = json.loads(fields.get("user", ""))
    except ValueError:
        return None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        return None
    return user


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """An initData string as Telegram would sign it (for the local sandbox and tests)."""
    from urllib.parse import urlencode

    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})
