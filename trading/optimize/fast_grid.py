"""The grid's fast path driven over a sweep's cells: the market's arrays built once (with
the funding times the trader would book), the cells in chunks, in one process or across
worker processes, and each cell's raw outcome turned into the shared backtest's `Stats`.

Imported by `sweep` only when a grid runs: it needs numpy, which a single backtest does not.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from trading.backtest import split_warmup
from trading.backtest.options import BacktestOptions
from trading.backtest.stats import Stats
from trading.core.candles import Candle
from trading.core.futures import FundingRate, funding_times
from trading.core.strategies import Values, strategy_class
from trading.core.strategies.contained import StrategyError
from trading.core.strategies.frame import MONEY, frame_of, nan_check, run_populate
from trading.optimize import fast

if TYPE_CHECKING:
    import pandas as pd


def is_frame(strategy: str) -> bool:
    """A DataFrame strategy (built-in or plugin): its signals come from its own populate."""
    return hasattr(strategy_class(strategy), "impl_cls")


def market_for(candles: Sequence[Candle], o: BacktestOptions) -> tuple[fast.Market | None, str]:
    if o.strategy != "ema_cross" and not is_frame(o.strategy):
        return None, f"the fast path covers ema_cross and DataFrame strategies, not {o.strategy}"
    if o.protections.on:  # issue 29: the account protections are the shared backtest's (core/protections.py)
        return None, "the account protections are on"
    if o.hedge:  # two legs, each with its own exits and no paper margin: the shared backtest's
        return None, "Hedge Mode"
    candles, warm = split_warmup(candles, o.warmup, o.start_ms)  # run_backtest's cut: both see the same candles
    m = o.model
    try:
        rates = _funding_rates(candles, m.funding) if m.funding is not None else None
        return fast.Market.build(
            [c.open for c in candles], [c.high for c in candles], [c.low for c in candles],
            [c.close for c in candles], warm=warm, filters=o.filters, balance=o.balance, fee_rate=m.fee_rate,
            brackets=tuple((float(b.floor), float(b.cap), float(b.mmr), float(b.cum)) for b in m.table(candles[0].symbol)),
            decide_from=o.strategy_warmup, funding=rates, slippage_bps=m.slippage_bps, exit_at_end=o.exit_at_end,
        ), ""
    except fast.Unsupported as e:
        return None, str(e)


def _funding_rates(candles: Sequence[Candle], funding: FundingRate) -> list[tuple[int, Decimal]]:
    """(candle index, rate) of each funding time at a candle's open, as the trader asks them."""
    step = candles[0].close_time - candles[0].open_time + 1
    out = []
    for i, c in enumerate(candles):
        times = funding_times(c.open_time, step)
        if len(times) > 1:
            raise fast.Unsupported("more than one funding time in a candle (an interval over 8 h)")
        for ts in times:
            rate = funding(c.symbol, ts)
            if rate:
                out.append((i, rate))
    return out


def stats_of(raw: fast.Raw, m: fast.Market, balance: Decimal, v: Values) -> Stats:
    scale = Decimal(1).scaleb(-m.M)
    net = Decimal(raw.final_u - m.balance_u) * scale  # the ledger's net: the wallet's change (compute_stats')
    closes = m.close_f[m.warm :]
    n = len(closes)
    bh = (float(closes[-1]) / float(closes[0]) - 1.0) if n and closes[0] else 0.0
    notional = Decimal(repr(float(v["stake_usdt"]))) * int(v["leverage"])
    return Stats(
        candles=n, trades=raw.trades, wins=raw.wins, net_pnl=net, fees=Decimal(raw.fees_u) * scale,
        final_balance=Decimal(raw.final_u) * scale, open_pnl=raw.open_pnl if n else 0.0,
        max_drawdown=raw.max_drawdown, max_drawdown_pct=raw.max_drawdown_pct,
        exposure_pct=100.0 * raw.exposed / n if n else 0.0, buy_hold_pct=100.0 * bh,
        buy_hold_usdt=float(notional) * bh, return_pct=float(100 * net / balance) if balance else 0.0,
        funding=Decimal(raw.funding_u) * scale, liquidations=raw.liquidations, charges=Decimal(raw.charges_u) * scale,
        gross=(net + Decimal(raw.fees_u) * scale - Decimal(raw.funding_u) * scale + Decimal(raw.charges_u) * scale
               if raw.gross_u is None else Decimal(raw.gross_u) * scale),
    )


# ---------------------------------------------------------------- the fast path, in processes
_MARKET: fast.Market | None = None
_EMAS: dict[int, np.ndarray] = {}

Job = tuple[int, int, int, float, int, float, float]


def _init(market: fast.Market) -> None:
    global _MARKET
    _MARKET = market
    _EMAS.clear()


def _run_jobs(jobs: list[Job]) -> list[tuple[int, fast.Raw | str]]:
    """A chunk of cells; each EMA span is computed once per process and reused."""
    m = _MARKET
    assert m is not None
    out: list[tuple[int, fast.Raw | str]] = []
    for i, f, s, stake, lev, sl, tp in jobs:
        for span in (f, s):
            if span not in _EMAS:
                _EMAS[span] = fast.ema(m.closes, span)
        try:
            out.append((i, fast.simulate(m, _EMAS[f] - _EMAS[s], s, stake, lev, sl, tp)))
        except fast.Unsupported as e:
            out.append((i, str(e)))
    return out


def run(market: fast.Market, jobs: list[Job], workers: int, tick: Callable[[int], None]) -> dict[int, fast.Raw | str]:
    jobs = sorted(jobs, key=lambda j: (j[1], j[2]))  # neighbours share EMA spans
    results: dict[int, fast.Raw | str] = {}
    if workers <= 1:
        _init(market)
        try:
            for k in range(0, len(jobs), 50):
                chunk = _run_jobs(jobs[k : k + 50])
                results.update(chunk)
                tick(len(chunk))
        finally:
            _init(None)  # type: ignore[arg-type]
        return results
    n_chunks = workers * 4
    size = -(-len(jobs) // n_chunks)
    # A contiguous run of fast values per chunk, chunks dealt out in order: each process
    # computes few spans and the last chunks finish together.
    chunks = [jobs[k : k + size] for k in range(0, len(jobs), size)]
    ctx = multiprocessing.get_context("forkserver")  # the bot has threads; fork would copy their locks
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(market,)) as pool:
        for chunk in pool.map(_run_jobs, chunks):
            results.update(chunk)
            tick(len(chunk))
    return results


# ---------------------------------------------------------------- DataFrame strategies
class FrameSignals:
    """A DataFrame strategy's decisions for a cell, from one `populate` per set of its
    signal parameters (every value but the money ones: stake, leverage, stop, take), run
    exactly as the backtest runs it (trading/core/strategies/frame.py: the same frame of
    the same candles, the same checks), then walked by fast.frame_decisions. A built-in
    with `signals` (rsi_reversion, bb_breakout) gives the same columns from numpy arrays,
    sharing its indicator across cells; the sampled cells of every grid prove it equal."""

    MONEY_NAMES = frozenset(p.name for p in MONEY)

    def __init__(self, candles: Sequence[Candle], o: BacktestOptions) -> None:
        seen, self.warm = split_warmup(candles, o.warmup, o.start_ms)
        self.n = len(seen)
        self.cls = strategy_class(o.strategy)
        self.strategy_warmup = o.strategy_warmup
        self.seen = seen
        self.close = np.array([c.close for c in seen], dtype=float)  # what frame_of's Close column holds
        self._base: pd.DataFrame | None = None  # built for the first populate (pandas: not for the built-ins)
        self._cache: dict[object, np.ndarray] = {}  # what a built-in's signals share across cells
        self._memo: dict[tuple[tuple[str, object], ...], tuple[np.ndarray, np.ndarray] | str] = {}
        self.populates = 0

    def decisions(self, values: Values) -> tuple[np.ndarray, np.ndarray]:
        key = self.key(values)
        got = self._memo.get(key)
        if got is None:
            raw = self.raw(values)
            got = self._memo[key] = raw if isinstance(raw, str) else fast.frame_decisions(raw[0], raw[1], self.n)
        if isinstance(got, str):
            raise fast.Unsupported(got)
        return got

    def key(self, values: Values) -> tuple[tuple[str, object], ...]:
        """What the signals depend on: every value but the money ones."""
        return tuple(sorted((k, v) for k, v in values.items() if k not in self.MONEY_NAMES))

    def raw(self, values: Values) -> tuple[np.ndarray, int] | str:
        """(populate's four columns as a k×4 array of 0/1, the first row decided on), or why not."""
        adapter = self.cls(values, warmup=self.strategy_warmup)
        own = getattr(self.cls.impl_cls, "signals", None)  # a built-in's populate in numpy
        if own is not None:
            raw = own(self.close, adapter.values, self._cache)
        else:
            self.populates += 1
            try:  # a fresh copy: populate adds columns, and the next must not see them
                if self._base is None:
                    self._base = frame_of(self.seen)
                raw, frame = run_populate(adapter.impl, self._base.copy(), adapter.values)
                nan_check(raw, frame, min(adapter.warmup, self.n))
            except StrategyError as e:  # the shared backtest says it, in its own words
                return f"the strategy failed: {e}"
        return raw, max(adapter.warmup, self.warm)


FrameJob = tuple[int, Values]


def run_frames(market: fast.Market, signals: FrameSignals, jobs: list[FrameJob],
               tick: Callable[[int], None]) -> dict[int, fast.Raw | str]:
    """Every DataFrame-strategy cell in this process (the populates are the cost, shared by
    the cells that differ only in money)."""
    out: dict[int, fast.Raw | str] = {}
    for k, (i, v) in enumerate(jobs):
        try:
            decided, want = signals.decisions(v)
            out[i] = fast.simulate_decisions(market, decided, want, float(v["stake_usdt"]), int(v["leverage"]), 0.0, 0.0)
        except fast.Unsupported as e:
            out[i] = str(e)
        if k % 50 == 49 or k == len(jobs) - 1:
            tick(k % 50 + 1)
    return out
