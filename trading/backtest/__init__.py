"""The backtest: the live bot's feed contract, trader, paper broker and portfolio over
recorded candles, with nothing of its own but the loop that records equity.

There is deliberately no second implementation of the rules here: `run_backtest` builds
the same `Trader` the live engine builds and drives it through `trading.core.feed.replay`, so a
backtest trade is what the live bot would have done on those candles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.backtest.options import DEFAULT_OPTIONS, BacktestOptions
from trading.backtest.stats import Stats, compute_stats
from trading.core.brokers import PaperBroker
from trading.core.candles import Candle
from trading.core.feed import replay
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


class _Recorder:
    """Sits between the feed and the trader to sample equity after every candle (the open
    times and closes of the candles it saw are read off them afterwards)."""

    def __init__(self, trader: Trader, symbol: str, total: int, progress: Progress | None) -> None:
        self.equity: list[float] = []
        self.exposed = 0
        self.cursor = trader.cursor
        self.warmup = trader.warmup
        self.warm = trader.warm
        self.on_forming = trader.on_forming
        self.on_candle = self._sampler(trader, symbol, total, progress)

    def _sampler(self, trader: Trader, symbol: str, total: int,
                 progress: Progress | None) -> Callable[[Candle, bool], None]:
        """The feed's on_candle: the trader's, then the equity at the close (the hot loop of
        every backtest: its lookups bound once)."""
        take, portfolio, equity = trader.on_candle, trader.portfolio, self.equity
        positions, mark = portfolio.positions, equity.append

        def on_candle(candle: Candle, backfilled: bool) -> None:
            take(candle, backfilled)
            pos = positions.get(symbol)
            if pos is not None and pos.qty_f:
                self.exposed += 1
                mark(portfolio.balance_f + (candle.close - pos.entry_f) * pos.qty_f)
            elif trader.hedge:  # the legs, marked at the close
                self.exposed += bool(portfolio.open_of(symbol))
                mark(portfolio.equity_f(symbol, candle.close))
            else:
                mark(portfolio.balance_f)
            if progress is not None and len(equity) % 5000 == 0:
                progress(len(equity), total)

        return on_candle


def split_warmup(candles: Sequence[Candle], warmup: int, start_ms: int | None) -> tuple[Sequence[Candle], int]:
    """The candles a run sees and how many of the first only warm up: with start_ms, the
    `warmup` before it; without, the first `warmup`. The rest are traded (maybe none)."""
    if start_ms is not None:
        first = next((i for i, c in enumerate(candles) if c.open_time >= start_ms), len(candles))
        return candles[max(0, first - warmup) :], min(warmup, first)
    return candles, min(warmup, len(candles))


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
    rec = _Recorder(trader, symbol, len(candles) - warm, progress)
    replay(rec, candles, warmup=warm)
    decided = candles[warm:]  # what replay handed to on_candle, in order
    times, closes = [c.open_time for c in decided], [c.close for c in decided]
    if o.exit_at_end and len(candles) > warm:
        trader.exit_at_end(symbol, candles[-1])
        rec.equity[-1] = portfolio.balance_f
    booked = portfolio.ledger.between()  # the run's ledger: what /pnl would say of it
    stats = compute_stats(
        trades=portfolio.trades,
        equity=rec.equity,
        closes=closes,
        exposed=rec.exposed,
        balance=o.balance,
        final_balance=portfolio.balance,
        fees=booked.fees,
        funding=booked.funding,
        gross=booked.gross,
        charges=booked.charges,
        notional=Decimal(repr(float(trader.values.get("stake_usdt", 0)))) * int(trader.values.get("leverage", 1)),
        trips=trader.protections.trips if trader.protections is not None else None,
    )
    return BacktestResult(trader, list(portfolio.trades), times, rec.equity, closes, stats)
