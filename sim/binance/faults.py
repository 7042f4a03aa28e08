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
        self._rest_pending: list[tuple[int, float | None]] = []
        self._drop_at: dict[int, tuple[int, str]] = {}
        self._drop_rule: DropRule | None = None

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

    def rest_errors(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `count` REST requests with HTTP `status` (429/418 carry Retry-After)."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status")
        with self._lock:
            self._rest_pending.extend([(status, retry_after)] * count)

    def clear(self) -> None:
        """Forget pending faults (REST errors, candle drops, drop rules); unstall."""
        with self._lock:
            self._rest_pending.clear()
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

    def take_rest_error(self) -> BinanceError | None:
        if not self._rest_pending:
            return None
        with self._lock:
            if not self._rest_pending:
                return None
            status, retry_after = self._rest_pending.pop(0)
        return rest_error(status, retry_after)

    def rest_middleware(self) -> Middleware:
        @web.middleware
        async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/fapi/"):
                err = self.take_rest_error()
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
