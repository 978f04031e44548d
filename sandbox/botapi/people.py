"""The simulated people: a LocalUser in a private chat with one bot."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.botapi.limits import (
    MAX_TEXT,
)
from sandbox.botapi.model import (
    BotMessage,
    CallbackAnswer,
    _Bot,
    _Chat,
    _document,
    _photo_size,
    _Record,
    _scope_key,
    _snapshot,
    _Upload,
    _user_caption,
)
from sandbox.botapi.text import format_text

if TYPE_CHECKING:
    from sandbox.botapi.server import LocalBotApi


class LocalUser:
    """A person in a private chat with one bot: sends, presses buttons, reads replies."""

    def __init__(self, api: LocalBotApi, bot: _Bot, chat: _Chat) -> None:
        self._api = api
        self._bot = bot
        self._chat = chat

    @property
    def api(self) -> LocalBotApi:
        """The server this person talks through."""
        return self._api

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

    async def press_data(self, data: str, message_id: int | None = None) -> int:
        """Press a button of a bot message (the last one by default) that gives back ``data``
        whatever the button holds: a button of an old version, or a modified client."""
        records = [r for r in self._chat.records.values() if r.from_bot and not r.deleted
                   and (message_id is None or r.message["message_id"] == message_id)]
        if not records:
            raise LookupError("no bot message to press a button of")
        return await self._press(records[-1], data)

    async def _press(self, record: _Record, data: str) -> int:
        self._act()
        bot = self._bot
        query_id = f"{bot.id}{next(self._api._query_ids):08d}"
        message_id = record.message["message_id"]
        bot.queries[query_id] = (self.chat_id, message_id, data)
        bot.query_times[query_id] = time.monotonic()
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

    def chat_action_timeline(self) -> list[tuple[str, int]]:
        """Each sendChatAction with the id of the bot's latest message at that moment."""
        return list(self._chat.action_log)

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
