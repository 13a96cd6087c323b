"""Request limits, checked before a route (or FastAPI's body parser) sees the request.

* The body may hold at most ``max_body_bytes`` (default 1 MiB, ``BEVILLING_MAX_BODY_BYTES``).
  The bytes that actually arrive are counted, so a chunked request without
  ``Content-Length`` (or with a false one) is held to the same limit; a declared length
  above it is refused before anything is read. Answer: 413, problem type
  ``payload-too-large``.
* A JSON body may nest arrays/objects at most ``max_json_depth`` levels (default 32; the
  deepest body the API takes today has 3). Deeper nesting would otherwise reach the JSON
  parser's recursion limit. Answer: 422, problem type ``json-too-deep``.
* The URL (path and query) may not carry NUL: no database column can hold it and
  PostgreSQL refuses it as a query parameter (a 500). Answer: 422, ``invalid-input``.
* A JSON body may not escape half a surrogate pair (``"\\ud800"``): that is no Unicode
  text, no database stores it, and an answer that echoes it cannot even be encoded (a
  500). Answer: 422, ``invalid-input``.

The body is read here (it is small by now) and handed on unchanged.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32

# A JSON string literal (its brackets are text, not structure), or one bracket.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects in ``body`` nest deeper than ``limit`` (strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth = max(depth - 1, 0)
    return False


def has_lone_surrogate(body: bytes) -> bool:
    """Whether the JSON text escapes a surrogate that is not half of a pair (``\\udc00``)."""
    if not _SURROGATE_ESCAPE.search(body):
        return False  # the usual case: no surrogate escape at all
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON: the app's own parser says what is wrong with it
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _is_json(headers: Headers) -> bool:
    """As FastAPI decides to parse a body as JSON: no content type, or */json, */*+json."""
    content_type = headers.get("content-type")
    if not content_type:
        return True
    subtype = content_type.split(";", 1)[0].strip().lower().rpartition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def _nul_in_url(scope: Scope) -> list[dict[str, str]]:
    issues = []
    if "\x00" in scope.get("path", ""):
        issues.append({"pointer": "/", "in": "path", "detail": "the path must not contain NUL characters"})
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query.lower():
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                pointer = "/" + name.replace("\x00", "").replace("~", "~0").replace("/", "~1")
                issues.append(
                    {"pointer": pointer, "in": "query", "detail": "must not contain NUL characters"}
                )
    return issues


class RequestLimits:
    """Pure ASGI middleware: body size, JSON depth, NUL-free URLs, no lone surrogates."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int | None = None, max_json_depth: int = MAX_JSON_DEPTH
    ) -> None:
        self.app = app
        self.max_body_bytes = (
            max_body_bytes
            if max_body_bytes is not None
            else int(os.environ.get("BEVILLING_MAX_BODY_BYTES", MAX_BODY_BYTES))
        )
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        issues = _nul_in_url(scope)
        if issues:
            response = problem(
                422,
                "invalid-input",
                "Invalid input",
                f"{issues[0]['pointer']}: {issues[0]['detail']}",
                errors=issues,
            )
            await response(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client has gone: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(headers) and json_depth_exceeds(body, self.max_json_depth):
            detail = f"the JSON body nests arrays/objects deeper than {self.max_json_depth} levels"
            response = problem(
                422,
                "json-too-deep",
                "JSON nested too deeply",
                detail,
                max_depth=self.max_json_depth,
                errors=[{"pointer": "/", "in": "body", "detail": detail}],
            )
            await response(scope, receive, send)
            return
        if body and _is_json(headers) and has_lone_surrogate(body):
            detail = "the JSON text escapes half a surrogate pair (\\ud800-\\udfff): not Unicode text"
            response = problem(
                422,
                "invalid-input",
                "Invalid input",
                f"/: {detail}",
                errors=[{"pointer": "/", "in": "body", "detail": detail}],
            )
            await response(scope, receive, send)
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"the request body may hold at most {self.max_body_bytes} bytes",
            headers={"Connection": "close"},  # the rest of the body is not read
            max_bytes=self.max_body_bytes,
        )
        await response(scope, receive, send)
