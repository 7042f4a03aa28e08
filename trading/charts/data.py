"""What a chart shows, computed from plain data and kept apart from the drawing.

The numbers on a chart must be the bot's own numbers: indicator lines come from the very
strategy class that trades (replayed over the candles, warm-up included, through a fresh
instance), markers from the stored fills, equity from the ledger (trading/core/ledger.py).
Keeping this free of matplotlib lets tests compare it with the strategy and the portfolio
directly, and lets the drawing modules stay about looks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from trading.core.candles import Candle
from trading.core.frames import candles_to_frame
from trading.core.ledger import Ledger, Totals
from trading.core.portfolio import Fill, Payment, Portfolio
from trading.core.strategies import Values, make_strategy

NAN = float("nan")


@dataclass(frozen=True)
class Marker:
    """A fill drawn on the candle it filled in (fills happen at a candle's open or, for a stop
    or take-profit, inside its range; either way `Fill.time` is that candle's open time)."""

    index: int  # position of the fill candle in the chart's window
    time: int  # the fill candle's open time, ms
    side: str  # BUY | SELL
    price: float
    qty: float


@dataclass(frozen=True)
class Levels:
    """The open position's prices, drawn as horizontal lines."""

    side: str  # long | short
    entry: float
    stop: float | None = None
    take: float | None = None


@dataclass
class CandleChart:
    symbol: str
    interval: str
    mode: str
    frame: pd.DataFrame  # UTC DatetimeIndex; Open, High, Low, Close, Volume
    lines: dict[str, list[float]]  # price-panel indicators (EMAs), aligned with frame
    oscillators: dict[str, list[float]]  # 0–100 indicators (RSI), aligned with frame
    markers: list[Marker]
    levels: Levels | None = None
    bands: tuple[float, float] | None = None  # RSI oversold / overbought
    price_decimals: int | None = None  # the symbol's tick (BTCUSDT 0.10: 1); None: by size

    @property
    def last_price(self) -> float:
        return float(self.frame["Close"].iloc[-1])


def candles_frame(candles: Sequence[Candle]) -> pd.DataFrame:
    """The OHLCV frame mplfinance wants, indexed by UTC open time (tz-naive: mplfinance's
    formatter prints the index as is, and the chart says UTC)."""
    frame = candles_to_frame(candles)
    frame.index = frame.index.tz_localize(None).rename("open_time")
    return frame


def indicator_series(
    strategy: str, values: Values | None, candles: Sequence[Candle], last: int
) -> dict[str, list[float]]:
    """Each indicator as the strategy saw it after each of the last `last` candles.

    All `candles` go through a fresh strategy (the ones before the window warm it up), and
    `indicators()` is read after every candle of the window; a value not reported yet is NaN.
    Positions are passed as flat: the indicators of the strategies here do not depend on it.
    """
    st = make_strategy(strategy, values)
    series = getattr(st, "series", None)  # DataFrame strategies: one populate, the declared columns
    if series is not None:
        return series(candles, last)  # type: ignore[no-any-return]
    start = max(0, len(candles) - last)
    rows: list[dict[str, float]] = []
    for i, c in enumerate(candles):
        st.on_candle(c, 0)
        if i >= start:
            rows.append(st.indicators())
    names: list[str] = []
    for row in rows:
        names.extend(k for k in row if k not in names)
    return {k: [row.get(k, NAN) for row in rows] for k in names}


def fill_markers(fills: Iterable[Fill], candles: Sequence[Candle], symbol: str) -> list[Marker]:
    """The fills of `symbol` whose fill candle is in the window, in fill order."""
    where = {c.open_time: i for i, c in enumerate(candles)}
    return [
        Marker(where[f.time], f.time, f.side, float(f.price), float(f.qty))
        for f in fills
        if f.symbol == symbol and f.time in where and f.qty  # a charge (no quantity) is not a fill
    ]


def candle_chart(
    *,
    symbol: str,
    interval: str,
    mode: str,
    candles: Sequence[Candle],
    n: int,
    strategy: str,
    values: Values | None,
    fills: Iterable[Fill] = (),
    levels: Levels | None = None,
    price_decimals: int | None = None,
) -> CandleChart:
    """The last n of `candles` (the rest only warm the indicators) with everything drawn on them."""
    window = list(candles[-n:])
    series = indicator_series(strategy, values, candles, len(window))
    # A line needs two points to be drawn: a series with fewer in the window (EMAs on /chart 1)
    # would be a legend entry for nothing.
    series = {k: v for k, v in series.items() if sum(1 for x in v if x == x) >= 2}
    st = make_strategy(strategy, values)
    panel: dict[str, str] = getattr(st, "plot", {})  # DataFrame strategies declare where each goes
    sub = {k for k in series if panel.get(k, "sub" if k.startswith("rsi") else "price") == "sub"}
    lines = {k: v for k, v in series.items() if k not in sub}
    osc = {k: v for k, v in series.items() if k in sub}
    bands = st.bands() if osc and hasattr(st, "bands") else None
    if osc and bands is None and values and "rsi_oversold" in values:
        bands = (float(values["rsi_oversold"]), float(values["rsi_overbought"]))
    return CandleChart(
        symbol, interval, mode, candles_frame(window), lines, osc,
        fill_markers(fills, window, symbol), levels, bands, price_decimals,
    )


# ------------------------------------------------------------------ equity
@dataclass
class EquityCurve:
    times: list[datetime]  # candle close times, UTC (and, last, the book now)
    equity: list[float]  # mark-to-market at each close
    peak: list[float]  # running maximum of equity
    daily: dict[date, float] = field(default_factory=dict)  # the ledger's net per UTC day (the wallet's change)
    initial: float = 0.0

    @property
    def drawdown_pct(self) -> list[float]:
        return [(e / p - 1.0) * 100.0 if p > 0 else 0.0 for e, p in zip(self.equity, self.peak, strict=True)]

    @property
    def max_drawdown_pct(self) -> float:
        return min(self.drawdown_pct, default=0.0)


def utc_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def ledger_of(initial: Decimal, fills: Iterable[Fill], funding: Iterable[Payment] = ()) -> Ledger:
    """The ledger the stored fills and funding payments describe (`Portfolio.replay`'s)."""
    return Portfolio.replay(initial, fills, funding).ledger


def equity_curve(
    ledger: Ledger, candles: Mapping[str, Sequence[Candle]], now: tuple[int, Mapping[str, float]] | None = None
) -> EquityCurve:
    """Mark-to-market equity at every candle close from the ledger: fills, funding payments
    and other charges, each booked at its time (an entry inside a candle before its close is
    marked). The time axis is the first symbol's candles; other symbols are marked with
    their latest close at or before each time. `now` (ms, marks by symbol): a last point for
    the book as it is now, with what was booked after the last close (a fill in the forming
    candle), so the curve ends on the book's equity: wallet (initial + Σ net) + unrealized.
    """
    symbols = list(candles)
    initial = float(ledger.initial)
    if not symbols or not candles[symbols[0]]:
        return EquityCurve([], [], [], {}, initial)
    marks: dict[int, dict[str, float]] = defaultdict(dict)
    for s in symbols:
        for c in candles[s]:
            marks[c.close_time][s] = c.close
    axis = [c.close_time for c in candles[symbols[0]]]
    if now is not None:
        end = max(axis[-1] + 1, now[0], max((e.time for e in ledger.entries), default=0))
        marks[end] = {**marks[end], **now[1]}
        axis.append(end)
    equity = ledger.marked(axis, marks)
    times = [datetime.fromtimestamp((t + 1) / 1000, tz=UTC) for t in axis[: len(candles[symbols[0]])]]
    if now is not None:
        times.append(max(times[-1], datetime.fromtimestamp(axis[-1] / 1000, tz=UTC)))
    peak, top = [], -math.inf
    for v in equity:
        top = max(top, v)
        peak.append(top)
    return EquityCurve(times, equity, peak, daily_net(ledger), initial)


def daily_net(ledger: Ledger) -> dict[date, float]:
    """The ledger's net per UTC day (gross − fees + funding − charges): what the exchange did
    to the wallet, so the days add up to wallet − initial."""
    out: dict[date, Decimal] = defaultdict(Decimal)
    for e in ledger.entries:
        out[utc_day(e.time)] += e.net
    return {d: float(v) for d, v in sorted(out.items())}


@dataclass(frozen=True)
class DaySummary:
    """One UTC day of the ledger (the daily report), in its words."""

    day: date
    gross: Decimal  # price PnL of what was closed that day, partial closes included
    fees: Decimal
    net: Decimal  # gross − fees + funding − charges: the wallet's change that day
    fills: int
    trades: int  # whole trades closed that day
    funding: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)
    legs: tuple[tuple[str, str, Totals], ...] = ()  # Hedge Mode: each leg's share of the day


def day_summary(ledger: Ledger, day: date) -> DaySummary:
    """One UTC day's trading from the ledger (for the daily report)."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    t = ledger.between(start, start + 86_400_000)
    return DaySummary(day, t.gross, t.fees, t.net, t.fills, t.trades, t.funding, t.charges,
                      tuple(ledger.legs(start, start + 86_400_000)))  # fmt: skip
