"""Updates: the queue, long polling (getUpdates) and webhook delivery."""

from __future__ import annotations

import contextlib
import copy
import json
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientTimeout

from sandbox.botapi.limits import (
    _POLL_CONFLICT,
    _SECRET_RE,
    _WEBHOOK_CONFLICT,
    ApiError,
    _bad,
)
from sandbox.botapi.model import (
    Delivery,
    _Bot,
    _Chat,
    _dumps,
    _is_loopback,
    _Params,
    _Queued,
    _Webhook,
)


class Updates:
    """How a LocalBotApi hands updates to its bots."""

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
