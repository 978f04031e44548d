"""The Bot API methods the bot calls: send, edit, delete, answer, commands, files."""

from __future__ import annotations

import copy
import hashlib
import mimetypes
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientTimeout

from sandbox.botapi.limits import (
    _CHAT_ACTIONS,
    _COMMAND_RE,
    _INLINE_BUTTON_ACTIONS,
    _NOT_MODIFIED,
    MAX_ANSWER_TEXT,
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_DOWNLOAD,
    MAX_TEXT,
    MAX_UPLOAD,
    ApiError,
    _bad,
)
from sandbox.botapi.model import (
    CallbackAnswer,
    StoredFile,
    _Bot,
    _Chat,
    _document,
    _image_size,
    _is_loopback,
    _Params,
    _photo_size,
    _Record,
    _scope_key,
    _Upload,
)
from sandbox.botapi.text import format_text

_SCOPE_TYPES = frozenset({"default", "all_private_chats", "all_group_chats",
                          "all_chat_administrators", "chat", "chat_administrators",
                          "chat_member"})


class Methods:
    """The ``_m_<method>`` implementations of a LocalBotApi."""

    async def _m_getMe(self, bot: _Bot, p: _Params) -> dict[str, Any]:
        del p
        return dict(bot.info)

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
        latest = max((m for m, r in chat.records.items() if r.from_bot), default=0)
        chat.action_log.append((action, latest))
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

    async def _m_answerCallbackQuery(self, bot: _Bot, p: _Params) -> bool:
        query_id = p.str_("callback_query_id") or ""
        pressed = bot.query_times.get(query_id)
        too_late = (self.callback_query_timeout is not None and pressed is not None
                    and time.monotonic() - pressed > self.callback_query_timeout)
        if query_id not in bot.queries or query_id in bot.answered or too_late:
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
        key = (_scope_key(self._scope(p, bot)), p.str_("language_code") or "")
        if clean:
            bot.commands[key] = clean
        else:
            bot.commands.pop(key, None)
        return True

    def _scope(self, p: _Params, bot: _Bot) -> dict[str, Any] | None:
        """BotCommandScope: one of its seven types; the chat ones name a chat the bot knows
        (chat_member also a user)."""
        scope = p.json_("scope", "scope")
        if scope is None:
            return None
        if not (isinstance(scope, dict) and scope.get("type") in _SCOPE_TYPES):
            raise _bad("can't parse BotCommandScope")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            chat_id = scope.get("chat_id")
            try:
                chat_id = int(chat_id)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise _bad("chat not found") from None
            if chat_id not in bot.chats:
                raise _bad("chat not found")
            scope = {**scope, "chat_id": chat_id}
            if scope["type"] == "chat_member" and not isinstance(scope.get("user_id"), int):
                raise _bad("user not found")
        return scope

    async def _m_getMyCommands(self, bot: _Bot, p: _Params) -> list[dict[str, str]]:
        key = (_scope_key(self._scope(p, bot)), p.str_("language_code") or "")
        return copy.deepcopy(bot.commands.get(key, []))

    async def _m_deleteMyCommands(self, bot: _Bot, p: _Params) -> bool:
        bot.commands.pop((_scope_key(self._scope(p, bot)), p.str_("language_code") or ""),
                         None)
        return True

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
            if "web_app" in button:
                app = button["web_app"]
                url = app.get("url") if isinstance(app, dict) else None
                if not isinstance(url, str) or not url.startswith("https://"):
                    raise _bad(f"inline keyboard button Web App URL '{url}' is invalid: Only "
                               "HTTPS links are allowed")
    return {"inline_keyboard": [[dict(b) for b in row] for row in rows]}
