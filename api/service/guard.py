"""The service's front door (请求检查): every request body and address is checked before any route runs.

:class:`RequestGuard` is ASGI middleware that

* refuses bodies over the limit with 413, whether declared (``Content-Length``) or streamed;
* answers 408 when a client stops sending its body for ``body_timeout_s`` (slow clients);
* decodes the path exactly once from the bytes the client sent (``%2F`` in an identifier stays a
  character of the identifier, ``%2520`` stays ``%20``), whatever the server in front did;
* answers 404 for a NUL character in the path and 422 for one in the query;
* reads a JSON body whole and checks it with :func:`check_json` (400 or 422) before FastAPI parses it.

So no input reaches a route that the routes could not store or answer: the checks are the same for
every route, authenticated or not.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import unquote_to_bytes

import numpy as np
from fastapi.responses import JSONResponse

#: Deepest nesting of arrays and objects accepted in a JSON body (a record is 2 deep, a batch 3).
MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NUL_ESCAPE = re.compile(r'(?<!\\)(?:\\\\)*\\u0000')


class BadRequest(ValueError):
    """A request refused at the door: the status (400 or 422) and the message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _reject_constant(name: str):
    raise BadRequest(400, f"JSON 不允许 {name}，请用 null 或数字 (JSON has no {name}: send null or a number)")


def json_depth(body: bytes) -> int:
    """Deepest nesting of ``[`` and ``{`` outside strings."""
    bare = np.frombuffer(_STRING.sub(b'""', body), np.uint8)
    step = np.isin(bare, (ord("["), ord("{"))).astype(np.int64) - np.isin(bare, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def check_json(body: bytes) -> None:
    """Raise :class:`BadRequest` unless ``body`` is strict JSON the service can store.

    Refused: invalid UTF-8, syntax errors, ``NaN`` / ``Infinity``, nesting deeper than
    :data:`MAX_JSON_DEPTH` (all 400); a lone UTF-16 surrogate or a NUL character in a string (422).
    """
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(400, f"JSON 嵌套过深（{depth} 层，上限 {MAX_JSON_DEPTH}） "
                              f"(JSON nested {depth} deep; the limit is {MAX_JSON_DEPTH})")
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, BadRequest):
            raise
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequest(400, f"请求内容不是有效的 JSON (the body is not valid JSON{where})") from None
    if b"\\u" not in body:  # raw UTF-8 can hold neither a lone surrogate nor (in strict JSON) a NUL
        return
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(422, "文本中有不成对的代理字符 \\ud800–\\udfff (a string holds a lone UTF-16 surrogate)") \
            from None
    if _NUL_ESCAPE.search(text):
        raise BadRequest(422, "文本中不能有 NUL 字符 \\u0000 (a string holds a NUL character)")


def check_address(scope) -> None:
    """A NUL character in the decoded path names nothing that can exist (404); in the query it is refused (422).

    NUL is the one character no stored text can hold (PostgreSQL refuses it); every other
    character of an identifier is looked up as given.
    """
    if "\x00" in scope.get("path", ""):
        raise BadRequest(404, "未找到 (not found)")
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        raise BadRequest(422, "查询参数中不能有 NUL 字符 (a query parameter holds a NUL character)")


def _is_json(scope) -> bool:
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return False
    kind = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
    return not kind or kind == b"application/json" or kind.endswith(b"+json")


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


class RequestGuard:
    """ASGI middleware: body limit, body timeout, address and JSON checks (see the module docstring)."""

    def __init__(self, app, limit: int, body_timeout_s: float):
        self.app, self.limit, self.timeout = app, limit, body_timeout_s

    def _too_large(self) -> _Refused:
        return _Refused(413, f"请求内容超过 {self.limit // 2**20} MiB 上限 (request body too large)")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        raw = scope.get("raw_path")
        if raw:
            scope = {**scope, "path": unquote_to_bytes(raw.split(b"?", 1)[0]).decode("utf-8", "replace")}
        try:
            check_address(scope)
            if declared is not None and declared.isdigit() and int(declared) > self.limit:
                raise self._too_large()
        except (BadRequest, _Refused) as exc:
            return await self._answer(scope, receive, send, exc)
        seen = 0
        refused: _Refused | None = None

        async def counted():
            nonlocal seen, refused
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                refused = _Refused(408, f"请求内容 {self.timeout:g} 秒内未送达 (request body timed out)")
                raise refused from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = self._too_large()
                    raise refused
            return message

        inner = counted
        if _is_json(scope):
            try:
                body = await self._read(counted)
                if body:
                    check_json(body)
            except (BadRequest, _Refused) as exc:
                return await self._answer(scope, receive, send, exc)
            inner = self._replay(body, receive)
        started = False

        async def guarded_send(message):
            nonlocal started
            if refused is not None:  # the route's own answer to a body it could not read is replaced
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, inner, guarded_send)
        except _Refused:
            pass
        if refused is not None and not started:
            await self._answer(scope, receive, send, refused)

    @staticmethod
    async def _read(receive) -> bytes:
        parts = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        return b"".join(parts)

    @staticmethod
    def _replay(body: bytes, receive):
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    @staticmethod
    async def _answer(scope, receive, send, exc) -> None:
        status, message = (exc.status, str(exc)) if isinstance(exc, BadRequest) else (exc.status, exc.message)
        await JSONResponse({"detail": message}, status)(scope, receive, send)


__all__ = ["MAX_JSON_DEPTH", "BadRequest", "RequestGuard", "check_address", "check_json", "json_depth"]
