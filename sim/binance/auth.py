"""HMAC request signing as Binance checks it (SIGNED endpoints), and the clocks a signed
request's timestamp is measured against.

The signature covers the exact bytes the client sent: the query string followed directly
by the form body, minus the `signature` parameter itself. Re-encoding parsed parameters
would accept requests real Binance rejects, so the raw text is what gets hashed.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from aiohttp import web

from sim.binance.errors import BinanceError, illegal_chars, mandatory

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
MAX_CLOCK_AHEAD_MS = 1000
MAX_REMEMBERED_OFFSETS = 4096


def wall_ms() -> int:
    return int(time.time() * 1000)


class ClientClocks:
    """The "now"s a signed request's timestamp may be within recvWindow of.

    The exchange's own clock is the wall clock plus `offset_ms` (0 unless a test or
    `--clock-offset-ms` sets a drifting host: +3000 = Binance 3 s ahead of the host).

    Real Binance has one clock, so a client may sign with its own clock or with the one
    `/fapi/v1/time` showed it. The replay has two: the market clock, which `/time`
    serves because clients (the product among them) read serverTime as "now" to decide
    which candles exist, and the wall clock. A client that never synced signs with the
    wall clock. One that synced (ccxt's adjustForTimeDifference, python-binance's
    timestamp_offset after a -1021) signs with wall clock + the offset `/time` showed
    it, and that offset stops matching the market clock as soon as the replay runs
    faster or slower than real time. So every offset served is remembered, and a
    timestamp is valid against the wall clock plus any of them: synced clients stay
    accepted for the whole replay, stale or future timestamps are still -1021.
    """

    def __init__(
        self, market_ms: Callable[[], int], wall: Callable[[], int] = wall_ms, *, offset_ms: int = 0
    ) -> None:
        self.market_ms = market_ms
        self.wall_ms = wall
        # The exchange's own clock is the host's plus this (a host whose clock drifts): a
        # client that never synced signs with the host clock and is judged against it.
        self.offset_ms = offset_ms
        self._offsets: list[int] = []  # sorted
        self._served: collections.deque[int] = collections.deque()

    def server_time(self) -> int:
        """Market time for /time, remembering its offset from the wall clock."""
        market = self.market_ms()
        offset = market - self.wall_ms()
        i = bisect.bisect_left(self._offsets, offset)
        if i == len(self._offsets) or self._offsets[i] != offset:
            self._offsets.insert(i, offset)
            self._served.append(offset)
            if len(self._served) > MAX_REMEMBERED_OFFSETS:
                old = self._served.popleft()
                del self._offsets[bisect.bisect_left(self._offsets, old)]
        return market

    def accepts(self, timestamp: int, window: int) -> bool:
        """Binance's rule against each clock: now - window <= timestamp <= now + 1 s."""
        # now = wall + offset, so the offsets that accept the timestamp form one range
        wall = self.wall_ms()
        lo, hi = timestamp - MAX_CLOCK_AHEAD_MS - wall, timestamp + window - wall
        if lo <= self.offset_ms <= hi:
            return True
        i = bisect.bisect_left(self._offsets, lo)
        return i < len(self._offsets) and self._offsets[i] <= hi


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Split `raw` into the signed text and the signature it carries (if any)."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Signer:
    def __init__(self, api_key: str, api_secret: str, clocks: ClientClocks | None = None) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clocks = clocks or ClientClocks(wall_ms)

    async def verify(self, request: web.Request) -> dict[str, str]:
        """Check key, timestamp window and signature; return the request's parameters."""
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        query = request.rel_url.raw_query_string
        body = ""
        if request.body_exists:
            body = (await request.read()).decode("utf-8", errors="replace")
        params: dict[str, str] = {}
        for raw in (query, body):
            params.update(parse_qsl(raw, keep_blank_values=True))
        self._check_time(params)
        signed_query, sig_q = strip_signature(query)
        signed_body, sig_b = strip_signature(body)
        signature = sig_b if sig_b is not None else sig_q
        if not signature:
            raise mandatory("signature")
        expected = sign(self.api_secret, signed_query + signed_body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        params.pop("signature", None)
        return params

    def _check_time(self, params: dict[str, str]) -> None:
        raw_ts = params.get("timestamp")
        if not raw_ts:
            raise mandatory("timestamp")
        if not raw_ts.isdigit():
            raise illegal_chars("timestamp")
        window = DEFAULT_RECV_WINDOW
        raw_window = params.get("recvWindow")
        if raw_window:
            if not raw_window.isdigit():
                raise illegal_chars("recvWindow")
            window = int(raw_window)
            if window > MAX_RECV_WINDOW:
                raise BinanceError(-1131, "recvWindow must be less than 60000")
        if not self.clocks.accepts(int(raw_ts), window):
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
