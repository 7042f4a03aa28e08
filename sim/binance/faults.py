"""Fault injection: the failures a streaming client must survive, on demand.

Tests call these methods from their own thread while the server runs on its event loop.
Plain settings (pending REST errors, candle indices to drop at) sit behind a lock and are
consumed by the loop; actions on live connections are run on the loop and the call
returns once they have been applied, so a test can act right after without sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from sim.binance.errors import INTERNAL_ERROR, BinanceError, Handler, Middleware
from sim.binance.stats import Stats

ABNORMAL = 1006  # "no close frame": the TCP connection just ends
MALFORMED_KINDS = ("json", "shape", "unknown", "partial", "binary")


@dataclass
class DropRule:
    """Close a connection after it has been sent `n` more messages."""

    n: int
    every: bool
    code: int
    reason: str
    fired: bool = False


# What Binance answers for each order refusal the bot must turn into a chat line.
ORDER_ERRORS: dict[int, tuple[int, str]] = {
    -2019: (400, "Margin is insufficient."),
    -1111: (400, "Precision is over the maximum defined for this asset."),
    -4164: (400, "Order's notional must be no smaller than 100 (unless you choose reduce only)."),
    -1021: (400, "Timestamp for this request is outside of the recvWindow."),
    -2022: (400, "ReduceOnly Order is rejected."),
    -4116: (400, "ClientOrderId is duplicated."),
    -4131: (400, "The counterparty's best price does not meet the PERCENT_PRICE filter limit."),
    -4003: (400, "Quantity less than or equal to zero."),
    -1013: (400, "Filter failure: PRICE_FILTER"),
    -2020: (400, "Unable to fill."),
    -4400: (400, "Futures Trading Quantitative Rules violated, only reduceOnly order is allowed, please try again later."),
}


@dataclass(frozen=True)
class OrderFault:
    """What happens to one `POST /fapi/v1/order` (or algoOrder) instead of a plain answer.

    placed=True commits the order first, so the client is left with an unclear outcome
    (a 5xx, a late answer or none at all) for an order that does exist on the exchange.
    """

    error: BinanceError | None = None
    placed: bool = False
    delay: float = 0.0
    drop: bool = False
    echo: int | None = None  # answer with this status and a body quoting the request (echo_response)


class ConnectionControl(Protocol):
    """What faults need from the websocket hub (all called on the event loop)."""

    def close_all(self, code: int, reason: str) -> int: ...
    def stall_all(self, until: float) -> int: ...
    def unstall_all(self) -> int: ...
    def inject_all(self, make: Callable[[bool, str], str | bytes], count: int) -> int: ...
    def arm_drop_after(self, rule: DropRule) -> int: ...


def malformed_payload(kind: str, seq: int, combined: bool, stream: str) -> str | bytes:
    """A frame a robust client must shrug off; `seq` alternates the 'shape' variants."""
    symbol = stream.split("@", 1)[0].upper()
    interval = stream.rsplit("_", 1)[-1] if "@kline_" in stream else "15m"
    if kind == "binary":
        return b"\x00\xff\x1f\x8bnot-json"
    if kind == "json":
        data = '{"e":"kline","E":17'
        return f'{{"stream":"{stream}","data":{data}' if combined else data
    if kind == "unknown" or (kind == "shape" and seq % 2 == 0):
        return '{"foo":1}'
    if kind in ("partial", "shape"):
        data = (
            f'{{"e":"kline","E":1,"s":"{symbol}","k":{{"t":0,"s":"{symbol}","i":"{interval}",'
            f'"o":"1.0","h":"1.0"}}}}'
        )
        return f'{{"stream":"{stream}","data":{data}}}' if combined else data
    raise ValueError(f"malformed kind must be one of {MALFORMED_KINDS}, got {kind!r}")


class Faults:
    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hub: ConnectionControl | None = None
        self._rest_pending: list[tuple[int, float | None, str | None]] = []
        self._drop_at: dict[int, tuple[int, str]] = {}
        self._drop_rule: DropRule | None = None
        self._order_pending: list[OrderFault] = []

    def attach(self, loop: asyncio.AbstractEventLoop, hub: ConnectionControl) -> None:
        self._loop, self._hub = loop, hub

    def detach(self) -> None:
        """The server is going away: connection faults become no-ops."""
        self._loop = self._hub = None

    # ---- controls for tests (any thread) -------------------------------------------------

    def drop_after_messages(
        self, n: int, *, every: bool = False, code: int = ABNORMAL, reason: str = ""
    ) -> None:
        """Close connections after they have been sent `n` more messages.

        One-shot: applies to open connections and to new ones until it first fires.
        every=True: applies to every connection, now and later, until `clear()`.
        """
        if n < 1:
            raise ValueError("n must be >= 1")
        rule = DropRule(n, every, code, reason)
        with self._lock:
            self._drop_rule = rule
        self._on_loop(lambda hub: hub.arm_drop_after(rule))

    def drop_at_candles(self, indices: Iterable[int], code: int = ABNORMAL, reason: str = "") -> None:
        """Drop every connection right after candle i's closed update has gone out to it."""
        with self._lock:
            for i in indices:
                self._drop_at[int(i)] = (code, reason)

    def close_with(self, code: int, reason: str = "") -> int:
        """Close every connection now (a close frame with `code`, or 1006: no frame)."""
        return self._on_loop(lambda hub: hub.close_all(code, reason)) or 0

    def stall(self, seconds: float | None = None) -> int:
        """Send nothing at all (frames, pings, pongs) to the open connections for a while.

        The clock keeps running, so the stalled clients miss those frames for good.
        """
        until = math.inf if seconds is None else time.monotonic() + seconds
        return self._on_loop(lambda hub: hub.stall_all(until)) or 0

    def unstall(self) -> int:
        return self._on_loop(lambda hub: hub.unstall_all()) or 0

    def malformed(self, count: int = 1, kind: str = "json") -> int:
        """Queue `count` malformed frames to every open connection, ahead of later data."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"malformed kind must be one of {MALFORMED_KINDS}, got {kind!r}")

        seq = itertools.count()

        def make(combined: bool, stream: str) -> str | bytes:
            return malformed_payload(kind, next(seq), combined, stream)

        return self._on_loop(lambda hub: hub.inject_all(make, count)) or 0

    def rest_errors(
        self, status: int, count: int = 1, retry_after: float | None = None, *, route: str | None = None
    ) -> None:
        """Answer the next `count` REST requests with HTTP `status` (429/418 carry Retry-After).

        route="GET /fapi/v1/order" (or just a path) limits it to those requests.
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status")
        with self._lock:
            self._rest_pending.extend([(status, retry_after, route)] * count)

    def order_errors(
        self, code: int, count: int = 1, *, retry_after: float | None = None, placed: bool = False
    ) -> None:
        """Answer the next `count` order POSTs with Binance's error for `code`.

        `code` is a Binance code from ORDER_ERRORS (-2019, -1111, -4164, -1021, -2022,
        -4116, -4131, -4003, -1013, -2020, -4400) or an HTTP status (429/418 with Retry-After, 500, 502, 503, 504). With
        placed=True the order is committed before the error is answered: Binance's 503
        "Unknown error ... execution status unknown".
        """
        if code in ORDER_ERRORS:
            status, msg = ORDER_ERRORS[code]
            err = BinanceError(code, msg, status)
        elif code == 503 and placed:
            err = BinanceError(-1000, "Unknown error, please check your request or try again later.", 503)
        elif 400 <= code <= 599:
            err = rest_error(code, retry_after)
        else:
            raise ValueError(f"code must be one of {sorted(ORDER_ERRORS)} or an HTTP status, got {code}")
        with self._lock:
            self._order_pending.extend([OrderFault(err, placed)] * count)

    def order_echo(self, status: int, count: int = 1) -> None:
        """Answer the next `count` order POSTs as a proxy or gateway in front of Binance may:
        with a body that quotes the request, its headers (X-MBX-APIKEY included) and its
        body. 400/403: Binance's JSON shape, code -1100, the quote in `msg`; 5xx: an HTML
        error page; 200: a non-JSON page, the key starting some 90 characters in. The
        order is not placed (the gateway answered instead of Binance)."""
        if not (status == 200 or 400 <= status <= 599):
            raise ValueError("status must be 200 or an HTTP error status")
        with self._lock:
            self._order_pending.extend([OrderFault(echo=status)] * count)

    def order_answer_delay(self, seconds: float, count: int = 1) -> None:
        """Place the next `count` orders, then answer only after `seconds` (past a client's timeout)."""
        with self._lock:
            self._order_pending.extend([OrderFault(placed=True, delay=seconds)] * count)

    def order_answer_drop(self, count: int = 1) -> None:
        """Place the next `count` orders, then close the connection without an answer."""
        with self._lock:
            self._order_pending.extend([OrderFault(placed=True, drop=True)] * count)

    def take_order_fault(self) -> OrderFault | None:
        with self._lock:
            return self._order_pending.pop(0) if self._order_pending else None

    def clear(self) -> None:
        """Forget pending faults (REST and order errors, candle drops, drop rules); unstall."""
        with self._lock:
            self._rest_pending.clear()
            self._order_pending.clear()
            self._drop_at.clear()
            self._drop_rule = None
        self.unstall()

    # ---- used by the server (event loop) ---------------------------------------------------

    def take_drop_at(self, index: int) -> tuple[int, str] | None:
        if not self._drop_at:
            return None
        with self._lock:
            return self._drop_at.pop(index, None)

    def rule_for_new_connection(self) -> DropRule | None:
        with self._lock:
            rule = self._drop_rule
            if rule is None or (rule.fired and not rule.every):
                return None
            return rule

    def take_rest_error(self, method: str = "GET", path: str = "") -> BinanceError | None:
        if not self._rest_pending:
            return None
        with self._lock:
            for i, (status, retry_after, route) in enumerate(self._rest_pending):
                if route is None or route in (path, f"{method} {path}"):
                    del self._rest_pending[i]
                    return rest_error(status, retry_after)
        return None

    def rest_middleware(self) -> Middleware:
        @web.middleware
        async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/fapi/"):
                err = self.take_rest_error(request.method, request.path)
                if err is not None:
                    self._stats.count("rest_faults_served")
                    return err.response()
            return await handler(request)

        return inject

    def _on_loop(self, action: Callable[[ConnectionControl], int]) -> int | None:
        loop, hub = self._loop, self._hub
        if loop is None or hub is None or loop.is_closed():
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return action(hub)

        async def run() -> int:
            return action(hub)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)


def rest_error(status: int, retry_after: float | None) -> BinanceError:
    """The body and headers Binance answers with for that status."""
    headers: dict[str, str] = {}
    if status in (429, 418):
        wait = 1 if retry_after is None else retry_after
        headers["Retry-After"] = str(int(math.ceil(wait)))
        if status == 429:
            msg = (
                "Too many requests; current limit of IP(127.0.0.1) request weight per minute "
                "is 2400. Please use WebSocket Streams for live updates to avoid polling the API."
            )
        else:
            until = int((time.time() + wait) * 1000)
            msg = (
                f"Way too many requests; IP(127.0.0.1) banned until {until}. "
                "Please use the websocket for live updates to avoid bans."
            )
        return BinanceError(-1003, msg, status, headers)
    if retry_after is not None:
        headers["Retry-After"] = str(int(math.ceil(retry_after)))
    if status >= 500:
        return BinanceError(*INTERNAL_ERROR, status=status, headers=headers)
    return BinanceError(-1000, "An unknown error occurred while processing the request.", status, headers)


async def echo_response(request: web.Request, status: int) -> web.Response:
    """A gateway's answer that quotes the request it was given (see Faults.order_echo): the
    API key header first, then every header and the body."""
    body = await request.text()
    key = request.headers.get("X-MBX-APIKEY", "")
    headers = "; ".join(f"{k}={v}" for k, v in request.headers.items())
    quoted = f"{request.method} {request.path_qs} X-MBX-APIKEY={key} headers: {headers} body: {body}"
    if 400 <= status < 500:
        return BinanceError(-1100, f"Illegal characters found in parameter 'quantity'; request: {quoted}", status).response()
    page = f"<html><body><h1>{status} upstream unreadable</h1><pre>{quoted}</pre></body></html>"
    return web.Response(status=status, text=page, content_type="text/html")
