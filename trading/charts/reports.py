"""The engine's charts and the daily report: stored candles, fills and stream events in,
PNG bytes and numbers out.

The engine calls these with itself (its methods stay one line each, and matplotlib is only
imported when someone asks for a picture); the chat formats the numbers. Everything read
here is what the bot stored, so a chart after a restart shows the same fills and levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trading.charts.data import DaySummary, Levels, candle_chart, day_summary, equity_curve
from trading.core.numbers import num, plural

# Candles an equity chart reads at most (a year of 15m is 35,000): the picture is 1,000 px wide.
EQUITY_MAX_CANDLES = 60_000
UP_KINDS, DOWN_KINDS = ("connect", "reconnect"), ("disconnect", "error", "stop")


def candle_png(engine: Any, n: int, symbol: str | None = None) -> bytes | None:
    """The last n closed candles of a streamed symbol with the strategy's indicators, the
    bot's fills and the open position; None when no candle is stored yet.
    Raises ValueError for a symbol that is not streamed (as `engine.klines` does)."""
    from trading.charts.candles import render_candles
    from trading.core.strategies import make_strategy

    settings = engine.settings
    symbol = (symbol or settings.symbols[0]).upper()
    _, values = engine.params()
    name = engine.strategy
    st = make_strategy(name, values)
    warmup = max(st.warmup, getattr(st, "window", 0))
    candles = engine.klines(n + warmup, symbol)
    if not candles:
        return None
    snap = engine.snapshot()
    pos = next((p for p in snap.positions if p.symbol == symbol), None)
    levels = None
    if pos is not None:
        levels = Levels(pos.side, float(pos.entry), _f(pos.stop), _f(pos.take))
    window_start = candles[-min(n, len(candles))].open_time
    fills = [f for f in engine.fills() if f.symbol == symbol and f.time >= window_start]
    rules = engine.symbol_filters(symbol)
    chart = candle_chart(
        symbol=symbol, interval=settings.interval, mode=settings.trading_mode, candles=candles, n=n,
        strategy=name, values=values, fills=fills, levels=levels,
        price_decimals=rules.price_decimals if rules is not None else None,
    )
    return render_candles(chart)


@dataclass(frozen=True)
class EquityReport:
    png: bytes
    balance: Decimal
    equity: Decimal
    realized: Decimal  # gross
    fees: Decimal
    trades: int
    max_drawdown_pct: float
    curve_end: float = 0.0  # the curve's last point (its end label): the book's equity now
    summary: Any = None  # /pnl all's summary of the same instant (the caption's ledger line and unrealized)


def equity_png(engine: Any) -> EquityReport | None:
    """The equity chart from the ledger (fills, funding and charges at their times), ending on
    the book's equity now; None before the first entry (nothing to draw)."""
    from trading.charts.equity import render_equity

    moment = engine.moment()  # the snapshot and the ledger of one instant: the caption's numbers agree
    snap, ledger = moment
    if not ledger.entries:
        return None
    settings = engine.settings
    interval = settings.interval_ms
    first = min(e.time for e in ledger.entries)
    candles = {}
    for symbol in settings.symbols:
        last = engine.klines(1, symbol)
        count = 1 if not last else (last[-1].open_time - first) // interval + 2
        candles[symbol] = engine.klines(max(1, min(count, EQUITY_MAX_CANDLES)), symbol)
    last_open = max((c[-1].open_time for c in candles.values() if c), default=0)
    curve = equity_curve(ledger, candles, now=(last_open + interval, {p.symbol: float(p.mark) for p in snap.positions}))
    if not curve.times:
        return None
    subtitle = f"{plural(snap.trades, 'trade')} · max DD {num(curve.max_drawdown_pct, '.1f')}%"
    title = f"Equity · {settings.trading_mode} · {', '.join(settings.symbols)}"
    png = render_equity(curve, title=title, subtitle=subtitle)
    return EquityReport(png, snap.balance, snap.equity, snap.realized, snap.fees, snap.trades,
                        curve.max_drawdown_pct, curve.equity[-1], engine.pnl("all", moment))  # fmt: skip


@dataclass(frozen=True)
class DailyReport:
    day: date
    summary: DaySummary
    equity: EquityReport | None  # None before the first fill
    balance: Decimal
    equity_now: Decimal
    uptime_seconds: float  # connected time during the day
    reconnects: int


def daily_report(engine: Any, day: date) -> DailyReport:
    """The UTC day's trading, stream health and (if there are fills) the equity chart."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    end = start + 86_400_000
    snap, ledger = engine.moment()  # the day's ledger line and the balance of one instant
    summary = day_summary(ledger, day)
    events = engine.events(100_000)
    return DailyReport(
        day=day,
        summary=summary,
        equity=equity_png(engine),
        balance=snap.balance,
        equity_now=snap.equity,
        uptime_seconds=connected_seconds(events, start, end),
        reconnects=sum(1 for e in events if e["kind"] == "reconnect" and start <= e["ts"] < end),
    )


def connected_seconds(events: list[dict[str, Any]], start_ms: int, end_ms: int) -> float:
    """How long the socket was connected within [start, end), from the stream's event log
    (any order): connect/reconnect bring it up, disconnect/error/stop take it down."""
    up_since: int | None = None
    total = 0
    for e in sorted(events, key=lambda e: (e["ts"], e.get("id", 0))):
        ts, kind = e["ts"], e["kind"]
        if ts >= end_ms:
            break
        if kind in UP_KINDS and up_since is None:
            up_since = max(ts, start_ms)
        elif kind in DOWN_KINDS and up_since is not None:
            total += max(0, ts - up_since) if ts > start_ms else 0
            up_since = None
    if up_since is not None:
        now = int(datetime.now(UTC).timestamp() * 1000)
        total += max(0, min(end_ms, now) - up_since)
    return total / 1000


def previous_utc_day(now: datetime | None = None) -> date:
    return ((now or datetime.now(UTC)) - timedelta(days=1)).date()


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)
