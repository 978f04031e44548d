"""The HTTP face: ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import BodyPartReader, web

from sandbox.botapi.limits import (
    _LOG,
    MAX_UPLOAD,
    ApiError,
    _bad,
)
from sandbox.botapi.model import (
    _dumps,
    _Params,
    _Upload,
)


class Routes:
    """The aiohttp handlers of a LocalBotApi."""

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


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.error_code, dumps=_dumps)


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
