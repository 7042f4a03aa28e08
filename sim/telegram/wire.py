"""The Bot API's wire format: how a request's parameters arrive and how answers look.

Telegram accepts the same parameters four ways (URL query, JSON body, urlencoded form,
multipart with files) and every client picks a different one: PTB posts forms, telebot puts
everything in the URL query, curl users send JSON. Whatever arrives, an answer is always
`{"ok": ..., ...}` JSON, errors included, because clients map errors from that body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import BodyPartReader, web

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_LINE_BYTES",
    "ApiError",
    "Uploads",
    "as_int",
    "bad",
    "json_response",
    "read_params",
]

# Telegram takes uploads up to 50 MB (documents; photos 10 MB, checked by sendPhoto). The
# margin leaves room for the multipart framing around a 50 MB file.
MAX_BODY_BYTES = 52 * 1024 * 1024
# A 4,096-character message of 4-byte characters in a URL query is ~49 KB of %XX escapes;
# entities and a keyboard add more. 1 MB is generous without being unbounded.
MAX_LINE_BYTES = 1024 * 1024

# Form values are JSON-encoded by PTB unless they are plain strings; these parameters are
# strings by definition, so a text such as "42" or "true" must not be decoded into a number.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "action",
        "language_code",
        "url",
        "photo",
        "document",
        "file_id",
        "description",
        "short_description",
        "name",
        "title",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "ip_address",
    }
)


class ApiError(Exception):
    """A Bot API error answer; method handlers raise it and the server sends `payload()`."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad(description: str) -> ApiError:
    """Most Bot API errors are 400s whose text starts with "Bad Request: "."""
    return ApiError(400, f"Bad Request: {description}")


NOT_FOUND = ApiError(404, "Not Found")


def as_int(value: Any) -> int | None:
    """Ids arrive as ints (JSON), floats (some JSON encoders) or strings (forms, queries)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def as_bool(value: Any) -> bool:
    """Booleans arrive as JSON true or as the strings clients write for them."""
    return value in (True, 1, "true", "True", "1")


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class Uploads(dict[str, bytes]):
    """Uploaded files by form field, remembering the client's file names."""

    def __init__(self) -> None:
        super().__init__()
        self.filenames: dict[str, str] = {}


async def read_params(request: web.BaseRequest) -> tuple[dict[str, Any], Uploads]:
    """The request's parameters and files, whichever of the four encodings carried them.

    Raises ValueError for a body that cannot be decoded, and aiohttp's
    HTTPRequestEntityTooLarge for one over the size limit.
    """
    params: dict[str, Any] = {k: _decode_form_value(k, v) for k, v in request.query.items()}
    files = Uploads()
    if not request.body_exists:
        return params, files
    ctype = request.content_type
    if ctype == "application/json":
        params.update(await _read_json(request))
    elif ctype.startswith("multipart/"):
        await _read_multipart(request, params, files)
    else:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read()
                files.filenames[key] = value.filename
            else:
                params[key] = _decode_form_value(key, str(value))
    return params, files


async def _read_json(request: web.BaseRequest) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ValueError("invalid JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("JSON body must be an object")
    return body


async def _read_multipart(request: web.BaseRequest, params: dict[str, Any], files: Uploads) -> None:
    reader = await request.multipart()
    total = 0
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            params[part.name] = _decode_form_value(part.name, await part.text())
            continue
        data = bytes(await part.read(decode=True))
        # multipart bypasses client_max_size (it streams), so the limit is enforced here.
        total += len(data)
        if total > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, total)
        files[part.name] = data
        files.filenames[part.name] = part.filename


def json_response(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
    )


def error_response(error: ApiError) -> web.Response:
    return json_response(error.payload(), error.code)
