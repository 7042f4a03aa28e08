"""Public market-data REST routes under /fapi/v1 (no signature needed).

Closed klines use the same cached row text every time, so a backfill after a reconnect
returns byte for byte what an earlier request returned for the same candle. Like Binance,
an answer reaching the present ends with the forming candle, as far as the stream has
replayed it (none before its first update). `/time` serves the market clock, so a client
that drops rows whose close time is not before serverTime (as it must on Binance) keeps
exactly the closed ones.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from decimal import Decimal

from aiohttp import web

from sim.binance.auth import ClientClocks
from sim.binance.clock import ReplayClock
from sim.binance.errors import BinanceError, illegal_chars, json_response, mandatory
from sim.binance.fees import priced_klines
from sim.binance.funding import FundingRates
from sim.binance.intervals import INTERVAL_MS
from sim.binance.klines import rest_row_json
from sim.binance.market import Series
from sim.binance.tickers import book_ticker, depth_limit, order_book, ticker_24hr

DEFAULT_KLINES_LIMIT = 500
MAX_KLINES_LIMIT = 1500
FUNDING_PERIOD_MS = 8 * 3600 * 1000
VALID_INTERVALS = frozenset(INTERVAL_MS) | {"1M"}

RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]


def int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 20:
        raise illegal_chars(name)
    return int(raw)


def symbol_param(series: Mapping[str, Series], params: Mapping[str, str]) -> Series:
    symbol = params.get("symbol")
    if not symbol:
        raise mandatory("symbol")
    found = series.get(symbol)
    if found is None:
        raise BinanceError(-1121, "Invalid symbol.")
    return found


class PublicApi:
    def __init__(
        self,
        series: Mapping[str, Series],
        clock: ReplayClock,
        clocks: ClientClocks,
        *,
        rest_forming: bool = True,
    ) -> None:
        self.series = series
        self.clock = clock
        self.clocks = clocks
        self.rest_forming = rest_forming
        self.funding = FundingRates()  # the server sets the one its payments use
        # symbols not replayed but priced by a setting (fees.py: BNBUSDT for BNB fees)
        self.priced: dict[str, Callable[[], Decimal]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/fapi/v1/ping", self.ping),
            web.get("/fapi/v1/time", self.time),
            web.get("/fapi/v1/exchangeInfo", self.exchange_info),
            web.get("/fapi/v1/klines", self.klines),
            web.get("/fapi/v1/ticker/price", self.ticker_price),
            web.get("/fapi/v2/ticker/price", self.ticker_price),
            web.get("/fapi/v1/premiumIndex", self.premium_index),
            web.get("/fapi/v1/fundingRate", self.funding_rate),
            web.get("/fapi/v1/ticker/24hr", self.ticker_24hr),
            web.get("/fapi/v1/ticker/bookTicker", self.book_ticker),
            web.get("/fapi/v1/depth", self.depth),
        ]

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self.clocks.server_time()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        symbols = []
        for s in self.series.values():
            spec = s.spec
            symbols.append(
                {
                    "symbol": s.symbol,
                    "pair": s.symbol,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": s.times[0],
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": spec.base_asset,
                    "quoteAsset": spec.quote_asset,
                    "marginAsset": spec.quote_asset,
                    "pricePrecision": spec.price_precision,
                    "quantityPrecision": spec.quantity_precision,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "settlePlan": 0,
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "maxMoveOrderLimit": 10000,
                    "filters": spec.filters(),
                    # Only what the replay's matcher executes; Binance lists more types.
                    "orderTypes": ["LIMIT", "MARKET"],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                    "permissionSets": ["GRID", "COPY"],
                }
            )
        assets = sorted({s.spec.quote_asset for s in self.series.values()})
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": self.clocks.server_time(),
                "futuresType": "U_MARGINED",
                "rateLimits": RATE_LIMITS,
                "exchangeFilters": [],
                "assets": [
                    {"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"}
                    for a in assets
                ],
                "symbols": symbols,
            }
        )

    async def klines(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("symbol") in self.priced and q.get("symbol") not in self.series:
            return json_response(priced_klines(q, self.priced[q["symbol"]](), self.clock.market_time_ms()))
        series = symbol_param(self.series, q)
        interval = q.get("interval")
        if not interval:
            raise mandatory("interval")
        if interval not in VALID_INTERVALS or interval != series.interval:
            raise BinanceError(-1120, "Invalid interval.")
        limit = int_param(q, "limit")
        if limit is None:
            limit = DEFAULT_KLINES_LIMIT
        elif not 1 <= limit <= MAX_KLINES_LIMIT:
            raise BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
        start, end = int_param(q, "startTime"), int_param(q, "endTime")
        if start is not None and end is not None and start > end:
            raise BinanceError(-1023, "Start time is greater than end time.")
        text = self.klines_json(series, start, end, limit)
        return web.Response(text=text, content_type="application/json")

    def klines_json(self, series: Series, start: int | None, end: int | None, limit: int) -> str:
        """Binance's window rule: from startTime take the first `limit`; without it, the
        last `limit` up to endTime (or now). Bounds apply to open times, inclusive."""
        n = self.clock.visible_count(series)
        times = series.times
        forming = self._forming_row(series, start, end)
        hi = n if end is None else bisect.bisect_right(times, end, 0, n)
        if start is not None:
            a = bisect.bisect_left(times, start, 0, n)
            b = min(hi, a + limit)
        else:
            a, b = max(0, hi - limit + (forming is not None)), hi
        rows = [series.row_json(i) for i in range(a, b)]
        if forming is not None and b == n and len(rows) < limit:
            rows.append(forming)
        return "[" + ",".join(rows) + "]"

    def _forming_row(self, series: Series, start: int | None, end: int | None) -> str | None:
        """The forming candle, as Binance returns it (unless turned off with rest_forming)."""
        if not self.rest_forming:
            return None
        forming = self.clock.forming(series)
        if forming is None:
            return None
        fields = forming[1].fields
        if (start is not None and fields.t < start) or (end is not None and fields.t > end):
            return None
        return rest_row_json(fields)

    async def ticker_price(self, request: web.Request) -> web.Response:
        now = self.clock.market_time_ms()

        def one(s: Series) -> dict[str, object]:
            return {"symbol": s.symbol, "price": self.clock.price(s.symbol), "time": now}

        symbol = request.query.get("symbol")
        if symbol in self.priced and symbol not in self.series:
            return json_response({"symbol": symbol, "price": str(self.priced[symbol]()), "time": now})
        if "symbol" in request.query:
            return json_response(one(symbol_param(self.series, request.query)))
        return json_response([one(s) for s in self.series.values()])

    async def premium_index(self, request: web.Request) -> web.Response:
        now = self.clock.market_time_ms()
        next_funding = (now // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS

        def one(s: Series) -> dict[str, object]:
            price = f"{float(self.clock.price(s.symbol)):.8f}"
            return {
                "symbol": s.symbol,
                "markPrice": price,
                "indexPrice": price,
                "estimatedSettlePrice": price,
                "lastFundingRate": f"{self.funding.rate_at(next_funding):.8f}",
                "interestRate": "0.00010000",
                "nextFundingTime": next_funding,
                "time": now,
            }

        if "symbol" in request.query:
            return json_response(one(symbol_param(self.series, request.query)))
        return json_response([one(s) for s in self.series.values()])

    async def funding_rate(self, request: web.Request) -> web.Response:
        """Funding rate history (funding.py): every 8 h of the series up to now, at the
        rates the payments use, markPrice the open of the candle at that time; ascending,
        at most `limit` (default 100, max 1000), the most recent when no startTime is given."""
        series = symbol_param(self.series, request.query)
        q = request.query
        params = {name: int_param(q, name) for name in ("startTime", "endTime", "limit")}
        return json_response(self.funding.history(series, self.clock.market_time_ms(), params))

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        now = self.clock.market_time_ms()
        if "symbol" in request.query:
            return json_response(ticker_24hr(symbol_param(self.series, request.query), self.clock, now))
        return json_response([ticker_24hr(s, self.clock, now) for s in self.series.values()])

    async def book_ticker(self, request: web.Request) -> web.Response:
        now = self.clock.market_time_ms()
        if "symbol" in request.query:
            return json_response(book_ticker(symbol_param(self.series, request.query), self.clock, now))
        return json_response([book_ticker(s, self.clock, now) for s in self.series.values()])

    async def depth(self, request: web.Request) -> web.Response:
        series = symbol_param(self.series, request.query)
        limit = depth_limit(int_param(request.query, "limit"))
        return json_response(order_book(series, self.clock, limit, self.clock.market_time_ms()))
