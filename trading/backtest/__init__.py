"""The backtest: the live bot's feed contract, trader, paper broker and portfolio over
recorded candles, with nothing of its own.

There is deliberately no second implementation of the rules here: `run_backtest` builds
the same `Trader` the live engine builds and drives it by the feed's contract
(trading/core/feed.py: warm, then each closed candle once, in order): the trader's
`on_candles` is the loop the live bot's every `on_candle` runs, handed the whole run at once
(and the list its equity curve is marked into), so a backtest trade is what the live bot
would have done on those candles.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from trading.backtest.options import DEFAULT_OPTIONS, BacktestOptions
from trading.backtest.stats import Stats, compute_stats
from trading.core.brokers import PaperBroker
from trading.core.candles import Candle
from trading.core.portfolio import ClosedTrade, Portfolio
from trading.core.protections import Protections
from trading.core.trader import Trader

__all__ = ["BacktestOptions", "BacktestResult", "Stats", "run_backtest", "split_warmup"]

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class BacktestResult:
    trader: Trader
    trades: list[ClosedTrade]
    times: list[int]  # open time of each decided candle
    equity: list[float]  # mark-to-market equity at each decided candle's close
    closes: list[float]
    stats: Stats
    seconds: float = 0.0  # the trading loop alone (the CLI prints it)


def split_warmup(candles: Sequence[Candle], warmup: int, start_ms: int | None) -> tuple[Sequence[Candle], int]:
    """The candles a run sees and how many of the first only warm up: with start_ms, the
    `warmup` before it; without, the first `warmup`. The rest are traded (maybe none)."""
    if start_ms is not None:
        first = next((i for i, c in enumerate(candles) if c.open_time >= start_ms), len(candles))
        return candles[max(0, first - warmup) :], min(warmup, first)
    return candles, min(warmup, len(candles))


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while the trading loop runs (reference counting
    frees everything as usual). The loop makes no reference cycles (tests/test_backtest_gc.py
    checks it), so the collector's passes there find nothing, yet each walks the run's young
    objects and its year-long lists (candles, times, equity): ~4 ms of a ~55 ms year. Left
    as it was found (a caller that paused it keeps it paused)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def run_backtest(
    candles: Sequence[Candle], options: BacktestOptions = DEFAULT_OPTIONS, *, progress: Progress | None = None
) -> BacktestResult:
    """Trade one symbol's candles. With options.start_ms, candles before it only warm the
    strategy (the last `warmup` of them, as the live bot warms up); without, the first
    `warmup` do.

    The futures model (options.model, trading/core/futures_model.py) is the paper broker's:
    MAX_LEVERAGE refuses an opening order above it, fills slip `slippage_bps`, funding is
    booked at the funding times from `funding`, and positions are liquidated with the
    symbol's `brackets` (none: off). strategy_warmup lets the strategy decide earlier than
    its own default; exit_at_end closes what is still open at the last candle's close
    (exit reason `end`)."""
    if not candles:
        raise ValueError("no candles to backtest")
    o, model = options, options.model
    symbol = candles[0].symbol
    candles, warm = split_warmup(candles, o.warmup, o.start_ms)
    portfolio = Portfolio(o.balance)
    interval = candles[0].close_time - candles[0].open_time + 1
    trader = Trader(
        symbols=[symbol],
        interval_ms=interval,
        strategy=o.strategy,
        values=o.values,
        filters={symbol: o.filters},
        portfolio=portfolio,
        broker=PaperBroker({symbol: o.filters}, model.fee_rate, portfolio, model.slippage_bps),
        min_warmup=o.warmup,
        model=model,
        strategy_warmup=o.strategy_warmup,
        hedge=o.hedge,
        protections=Protections(o.protections, interval) if o.protections.on else None,
    )
    for book in trader.books.values():  # DataFrame strategies: one populate over the whole history
        precompute = getattr(book.strategy, "precompute", None)
        if precompute is not None:
            precompute(candles)
    opens = [c.open_time for c in candles]
    if not all(map(operator.lt, opens, islice(opens, 1, None))):  # as the feed's contract (core/feed.py) demands
        bad = next(i for i in range(1, len(opens)) if opens[i] <= opens[i - 1])
        raise ValueError(f"{symbol}: candle {opens[bad]} does not follow {opens[bad - 1]}")
    trader.warm(symbol, candles[:warm])  # the feed's contract, as replay (core/feed.py) drives it
    decided = candles[warm:]  # each closed candle once, in order: the live bot's on_candle loop, in one call
    equity: list[float] = []
    exposed = 0
    step = max(1, len(decided)) if progress is None else 5000
    for i in range(0, len(decided), step):
        with no_cycle_collection():
            exposed += trader.on_candles(decided[i : i + step], False, equity)
        if progress is not None:
            progress(len(equity), len(decided))
    times, closes = opens[warm:], [c.close for c in decided]
    if o.exit_at_end and len(candles) > warm:
        trader.exit_at_end(symbol, candles[-1])
        equity[-1] = portfolio.balance_f
    booked = portfolio.ledger.between()  # the run's ledger: what /pnl would say of it
    stats = compute_stats(
        trades=portfolio.trades,
        equity=equity,
        closes=closes,
        exposed=exposed,
        balance=o.balance,
        final_balance=portfolio.balance,
        fees=booked.fees,
        funding=booked.funding,
        gross=booked.gross,
        charges=booked.charges,
        notional=Decimal(repr(float(trader.values.get("stake_usdt", 0)))) * int(trader.values.get("leverage", 1)),
        trips=trader.protections.trips if trader.protections is not None else None,
    )
    return BacktestResult(trader, list(portfolio.trades), times, equity, closes, stats)
