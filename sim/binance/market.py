"""Per-symbol market data: the candle series, its trading rules and cached wire text.

One `Series` per symbol the exchange serves. Trading rules (tick size, lot size, minimum
notional) are derived from the data so that generated or foreign series get sensible
filters, while BTC-priced data reproduces Binance's BTCUSDT rules.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from decimal import Decimal

from sim.binance.data import SourceCandle, check_series
from sim.binance.intervals import INTERVAL_MS
from sim.binance.klines import (
    KlineUpdate,
    build_updates,
    closed_fields,
    decimals_of,
    rest_row_json,
    trade_count,
)

FIRST_TRADE_ID = 5_000_000_000
_SYMBOL = re.compile(r"[A-Z0-9]{2,30}")
_QUOTES = ("USDT", "USDC", "BUSD")


@dataclass(frozen=True)
class SymbolSpec:
    """The exchangeInfo trading rules of one symbol."""

    symbol: str
    base_asset: str
    quote_asset: str
    price_precision: int
    quantity_precision: int
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal
    max_price: Decimal

    @classmethod
    def for_series(cls, symbol: str, candles: list[SourceCandle]) -> SymbolSpec:
        price_dec = max(
            (decimals_of(x) for c in candles for x in (c.open, c.high, c.low, c.close)),
            default=2,
        )
        reference = float(candles[-1].close) if candles else 1.0
        if reference >= 10_000:
            qty_dec, min_notional, max_qty, market_max = 3, "100", "1000", "120"
        elif reference >= 1_000:
            qty_dec, min_notional, max_qty, market_max = 3, "20", "10000", "2000"
        elif reference >= 1:
            qty_dec, min_notional, max_qty, market_max = 2, "5", "1000000", "100000"
        else:
            qty_dec, min_notional, max_qty, market_max = 0, "5", "100000000", "10000000"
        quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), "USDT")
        base = symbol[: -len(quote)] if symbol.endswith(quote) else symbol
        tick = Decimal(1).scaleb(-price_dec)
        step = Decimal(1).scaleb(-qty_dec)
        lowest = min((float(c.low) for c in candles), default=1.0)
        highest = max((float(c.high) for c in candles), default=1.0)
        min_price = max(tick, Decimal(repr(lowest / 10)).quantize(tick))
        max_price = Decimal(repr(highest * 10)).quantize(tick)
        return cls(
            symbol=symbol,
            base_asset=base,
            quote_asset=quote,
            price_precision=max(price_dec, 2),
            quantity_precision=qty_dec,
            tick_size=tick,
            step_size=step,
            min_qty=step,
            max_qty=Decimal(max_qty),
            market_max_qty=Decimal(market_max),
            min_notional=Decimal(min_notional),
            min_price=min_price,
            max_price=max_price,
        )

    def price_text(self, value: Decimal) -> str:
        return f"{value:.{self.price_precision}f}"

    def filters(self) -> list[dict[str, object]]:
        pp, qp = self.price_precision, self.quantity_precision
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": f"{self.min_price:.{pp}f}",
                "maxPrice": f"{self.max_price:.{pp}f}",
                "tickSize": f"{self.tick_size:.{pp}f}",
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": f"{self.step_size:.{qp}f}",
                "minQty": f"{self.min_qty:.{qp}f}",
                "maxQty": f"{self.max_qty:.{qp}f}",
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": f"{self.step_size:.{qp}f}",
                "minQty": f"{self.min_qty:.{qp}f}",
                "maxQty": f"{self.market_max_qty:.{qp}f}",
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": str(self.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ]


class Series:
    """One symbol's candles with the lookups and caches the servers need."""

    def __init__(self, symbol: str, candles: list[SourceCandle], interval: str | None = None):
        if not _SYMBOL.fullmatch(symbol):
            raise ValueError(f"symbol must be upper-case letters/digits, got {symbol!r}")
        if not candles:
            raise ValueError(f"{symbol}: no candles")
        self.symbol = symbol
        self.interval = check_series(candles, interval=interval, where=symbol)
        self.interval_ms = INTERVAL_MS[self.interval]
        self.stream = f"{symbol.lower()}@kline_{self.interval}"
        self.candles = candles
        self.times = [c.open_time for c in candles]
        counts = (trade_count(c, self.interval_ms) for c in candles)
        self.first_trade_ids = [
            FIRST_TRADE_ID + s for s in itertools.accumulate(counts, initial=0)
        ][:-1]
        self.spec = SymbolSpec.for_series(symbol, candles)
        self._row_json: list[str | None] = [None] * len(candles)
        self._updates: dict[tuple[int, int], list[KlineUpdate]] = {}

    def __len__(self) -> int:
        return len(self.candles)

    def index_at(self, open_time: int) -> int | None:
        i = bisect.bisect_left(self.times, open_time)
        return i if i < len(self.times) and self.times[i] == open_time else None

    def count_before(self, open_time: int) -> int:
        """How many candles open strictly before `open_time`."""
        return bisect.bisect_left(self.times, open_time)

    def row_json(self, i: int) -> str:
        text = self._row_json[i]
        if text is None:
            text = self._row_json[i] = rest_row_json(closed_fields(self.candles[i], self.interval_ms))
        return text

    def updates(self, i: int, per_candle: int) -> list[KlineUpdate]:
        """Stream updates of candle i; only the few candles around the clock are kept."""
        key = (i, per_candle)
        ups = self._updates.get(key)
        if ups is None:
            if len(self._updates) > 8:
                self._updates.clear()
            ups = self._updates[key] = build_updates(self.candles[i], self.interval_ms, per_candle)
        return ups
