"""Binance-shaped REST errors: `{"code": -1121, "msg": "Invalid symbol."}` with its status.

Clients branch on the numeric code (and python-binance puts it on the exception), so the
replay must raise the same code and HTTP status the real API would for the same mistake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


class BinanceError(Exception):
    def __init__(
        self, code: int, msg: str, status: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps({"code": self.code, "msg": self.msg}, separators=(",", ":")),
            content_type="application/json",
            headers=self.headers,
        )


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_chars(name: str, legal: str = "^[0-9]{1,20}$") -> BinanceError:
    return BinanceError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


INVALID_SYMBOL = (-1121, "Invalid symbol.")
INTERNAL_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")


def json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(payload, separators=(",", ":")),
        content_type="application/json",
    )


def unknown_route(request: web.Request) -> BinanceError:
    """What Binance answers for a path or method it does not serve: HTTP 404 with code
    -5000 in the usual JSON body, so clients read "no such endpoint", not an outage."""
    return BinanceError(-5000, f"Path {request.path}, Method {request.method} is invalid", 404)


@web.middleware
async def binance_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn BinanceError into its JSON body and unexpected crashes into -1000 (HTTP 500),
    which is what a client sees when Binance itself fails."""
    try:
        return await handler(request)
    except BinanceError as err:
        return err.response()
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return unknown_route(request).response()
    except web.HTTPException:
        raise
    except Exception:
        log.exception("replay exchange: %s %s failed", request.method, request.path)
        return BinanceError(
            -1000, "An unknown error occurred while processing the request.", 500
        ).response()
