"""24-hour statistics and a synthetic order book, derived from the replayed candles.

Generic clients (ccxt and friends) ask for a ticker or a book before they trade, and
treat a missing endpoint as an outage. The replay has no order flow, so both are built
from what it does have: the 24h ticker from the candles of the last day (the forming
one as far as its stream has gone), the book as a ladder of tick-spaced levels whose
best ask is the last price, which is what a market order fills at here. The book is
for show: fills never walk it.
"""

from __future__ import annotations

import bisect
from decimal import Decimal

from sim.binance.clock import ReplayClock
from sim.binance.errors import BinanceError
from sim.binance.market import Series

DAY_MS = 86_400_000
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DEFAULT_DEPTH = 500


def ticker_24hr(series: Series, clock: ReplayClock, now: int) -> dict[str, object]:
    spec = series.spec
    n = clock.visible_count(series)
    first = bisect.bisect_left(series.times, now - DAY_MS, 0, n)
    highs: list[Decimal] = []
    lows: list[Decimal] = []
    volume, quote = Decimal(0), 0.0
    for c in series.candles[first:n]:
        highs.append(Decimal(c.high))
        lows.append(Decimal(c.low))
        volume += Decimal(c.volume)
        quote += float(c.volume) * (float(c.open) + float(c.high) + float(c.low) + float(c.close)) / 4
    forming = clock.forming(series)
    last_trade = series.first_trade_ids[n] - 1 if n < len(series) else None
    if forming is not None:
        f = forming[1].fields
        highs.append(Decimal(f.h))
        lows.append(Decimal(f.l))
        volume += Decimal(f.v)
        quote += float(f.q)
        last_trade = series.first_trade_ids[forming[0]] + f.n - 1
    last = Decimal(clock.price(series.symbol))
    start = first if first < n else max(0, n - 1)
    open_ = Decimal(series.candles[start].open)
    first_trade = series.first_trade_ids[start]
    if last_trade is None:
        last_trade = series.first_trade_ids[-1]
    change = last - open_
    return {
        "symbol": series.symbol,
        "priceChange": spec.price_text(change),
        "priceChangePercent": f"{change / open_ * 100:.3f}",
        "weightedAvgPrice": spec.price_text(Decimal(repr(quote)) / volume if volume else last),
        "lastPrice": spec.price_text(last),
        "lastQty": f"{spec.min_qty:.{spec.quantity_precision}f}",
        "openPrice": spec.price_text(open_),
        "highPrice": spec.price_text(max(highs, default=last)),
        "lowPrice": spec.price_text(min(lows, default=last)),
        "volume": str(volume),
        "quoteVolume": f"{quote:.2f}",
        "openTime": series.times[start],
        "closeTime": now,
        "firstId": first_trade,
        "lastId": last_trade,
        "count": max(0, last_trade - first_trade + 1),
    }


def depth_limit(raw: int | None) -> int:
    """Binance's allowed depths; anything in between is served as the next one up."""
    if raw is None:
        return DEFAULT_DEPTH
    if raw < 1:
        raise BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
    return next((d for d in DEPTH_LIMITS if d >= raw), DEPTH_LIMITS[-1])


def _level_qty(spec_min_qty: Decimal, i: int) -> Decimal:
    return spec_min_qty * 10 * (1 + (i * 7) % 13)  # varied but fixed sizes


def book_levels(series: Series, clock: ReplayClock, limit: int) -> tuple[list[list[str]], list[list[str]]]:
    spec = series.spec
    last = Decimal(clock.price(series.symbol))
    qp = spec.quantity_precision
    asks = [
        [spec.price_text(last + i * spec.tick_size), f"{_level_qty(spec.min_qty, i):.{qp}f}"]
        for i in range(limit)
    ]
    bids = [
        [spec.price_text(last - (i + 1) * spec.tick_size), f"{_level_qty(spec.min_qty, i + 1):.{qp}f}"]
        for i in range(limit)
        if last - (i + 1) * spec.tick_size > 0
    ]
    return bids, asks


def update_id(clock: ReplayClock) -> int:
    """Grows with every replayed update, like Binance's book update ids."""
    return clock.current_index * (clock.updates_per_candle + 1) + clock.k + 1


def order_book(series: Series, clock: ReplayClock, limit: int, now: int) -> dict[str, object]:
    bids, asks = book_levels(series, clock, limit)
    return {"lastUpdateId": update_id(clock), "E": now, "T": now, "bids": bids, "asks": asks}


def book_ticker(series: Series, clock: ReplayClock, now: int) -> dict[str, object]:
    bids, asks = book_levels(series, clock, 1)
    bid = bids[0] if bids else ["0", "0"]
    return {
        "symbol": series.symbol,
        "bidPrice": bid[0],
        "bidQty": bid[1],
        "askPrice": asks[0][0],
        "askQty": asks[0][1],
        "time": now,
        "lastUpdateId": update_id(clock),
    }
