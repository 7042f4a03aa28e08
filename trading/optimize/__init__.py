"""What-if over a parameter grid: every cell's backtest stats, fast, and the best ones proven.

Cells the fast path supports (trading/optimize/fast.py: ema_cross without the RSI filter,
no refused orders) are simulated in numpy across worker processes; every other cell runs
the shared `run_backtest`. Whatever the path, the best cells are then re-run through
`run_backtest` and must agree on trades, net PnL and fees, or `ParityError` is raised:
what the chat or the CLI shows as best is what the live bot would have done.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trading.backtest import run_backtest, split_warmup
from trading.backtest.options import DEFAULT_OPTIONS, BacktestOptions
from trading.backtest.stats import Stats
from trading.core.candles import Candle
from trading.core.futures import FundingRate, funding_times
from trading.core.limits import stake_problem
from trading.core.strategies import Values, strategy_class
from trading.optimize import fast
from trading.optimize.grid import Grid, GridError, cell_values, parse_grid

__all__ = ["METRICS", "Cell", "Grid", "GridError", "ParityError", "SweepResult", "parse_grid", "sweep"]

Progress = Callable[[int, int], None]  # (cells done, cells)
# Fast-path cells × candles per extra process below which its start-up (forkserver, numpy
# import, the market pickled over) costs more than it saves: measured on 2 cores, 394 cells
# of a year (14 M) took 0.59 s in one process and 1.52 s in two, so about 1,500 cells of a
# year (50 M) per process before a second one pays.
POOL_WORK_PER_PROCESS = 50_000_000


class ParityError(AssertionError):
    """The fast path and the shared backtest disagree on a cell: a bug, never shown as a result."""


@dataclass(frozen=True)
class Metric:
    label: str
    get: Callable[[Stats], float]
    higher_is_better: bool
    unit: str = ""


METRICS: dict[str, Metric] = {
    "net_pnl": Metric("net PnL", lambda s: float(s.net_pnl), True, "USDT"),
    "return_pct": Metric("return", lambda s: s.return_pct, True, "%"),
    "win_rate": Metric("win rate", lambda s: s.win_rate, True, "%"),
    "max_drawdown": Metric("max drawdown", lambda s: s.max_drawdown, False, "USDT"),
    "max_drawdown_pct": Metric("max drawdown", lambda s: s.max_drawdown_pct, False, "%"),
    "pnl_dd": Metric("net PnL / max drawdown", lambda s: float(s.net_pnl) / s.max_drawdown if s.max_drawdown else 0.0, True),
    "trades": Metric("trades", lambda s: float(s.trades), True),
    "fees": Metric("fees", lambda s: float(s.fees), False, "USDT"),
}


@dataclass
class Cell:
    params: dict[str, int | float]  # the grid's values for this cell
    values: Values | None  # the whole parameter set; None: skipped (breaks a rule, or a hard limit)
    stats: Stats | None = None
    fast: bool = False  # False: the shared backtest computed it
    note: str = ""  # why the fast path could not; for a skipped cell, the limit it breaks


@dataclass
class SweepResult:
    grid: Grid
    metric: str
    cells: list[Cell]  # grid order
    ranked: list[Cell]  # best first, cells with stats only
    verified: list[Cell] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    candles: int = 0  # traded (after the warm-up)
    warmup: int = 0  # candles before them that only warmed the strategy

    @property
    def fallbacks(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cells:
            if c.stats is not None and not c.fast:
                out[c.note] = out.get(c.note, 0) + 1
        return out


def sweep(
    candles: Sequence[Candle],
    grid: Grid,
    options: BacktestOptions = DEFAULT_OPTIONS,
    *,
    metric: str = "net_pnl",
    verify: int = 3,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Every cell of the grid over the candles, with run_backtest's options and meaning
    (options.values is the base every cell changes). A cell whose leverage is above
    MAX_LEVERAGE is skipped and counted, as the live bot would refuse its orders."""
    if metric not in METRICS:
        raise GridError(f"metric: {metric[:32]!r} is not one of {', '.join(METRICS)}")
    if not candles:
        raise ValueError("no candles to backtest")
    t0 = time.perf_counter()
    schema = strategy_class(options.strategy).schema
    base = schema.validate({}, options.values or {})
    max_leverage, max_notional = options.model.max_leverage, options.model.max_notional
    cells = [Cell(c, cell_values(schema, base, c)) for c in grid.combos()]
    for c in cells:
        if c.values is not None and max_leverage is not None and int(c.values.get("leverage", 1)) > max_leverage:
            c.values, c.note = None, f"leverage above MAX_LEVERAGE {max_leverage}"
        elif c.values is not None and stake_problem(c.values, max_notional):
            c.values, c.note = None, f"stake_usdt × leverage above MAX_POSITION_NOTIONAL {max_notional}"
    live = [i for i, c in enumerate(cells) if c.values is not None]
    market, why = _market(candles, options)
    jobs, slow_path = [], []
    for i in live:
        v = cells[i].values
        assert v is not None
        if market is None or v.get("rsi_period"):
            cells[i].note = why or "the RSI filter is on"
            slow_path.append(i)
        else:
            jobs.append((i, int(v["fast"]), int(v["slow"]), float(v["stake_usdt"]), int(v["leverage"]),
                         float(v["stop_loss_pct"]), float(v["take_profit_pct"])))
    work = len(candles) * len(jobs)
    if workers is None:  # by the work: one process unless each would get enough of it
        workers = max(1, min(len(os.sched_getaffinity(0)), 4, work // POOL_WORK_PER_PROCESS))
    use_pool = workers > 1 and bool(jobs)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], len(live))

    results: dict[int, fast.Raw | str] = {}
    if jobs and market is not None:
        results.update(_run_fast(market, jobs, workers if use_pool else 1, tick))
    for i, r in results.items():
        if isinstance(r, str):
            cells[i].note = r
            slow_path.append(i)
        else:
            v = cells[i].values
            assert v is not None and market is not None
            cells[i].stats, cells[i].fast = _stats(r, market, options.balance, v), True
    for i in sorted(slow_path):
        cells[i].stats = run_backtest(candles, options.with_values(cells[i].values)).stats
        tick(1)
    m = METRICS[metric]
    scored = [c for c in cells if c.stats is not None]
    ranked = sorted(scored, key=lambda c: (m.get(c.stats) * (1 if m.higher_is_better else -1),  # type: ignore[arg-type]
                                           float(c.stats.net_pnl)), reverse=True)  # type: ignore[union-attr]
    seen, warm = split_warmup(candles, options.warmup, options.start_ms)
    result = SweepResult(grid, metric, cells, ranked, workers=workers if use_pool else 1,
                         candles=len(seen) - warm, warmup=warm)
    result.verified = [verify_cell(candles, c, options) for c in ranked[:verify]]
    result.seconds = time.perf_counter() - t0
    return result


def verify_cell(candles: Sequence[Candle], cell: Cell, options: BacktestOptions) -> Cell:
    """Re-run one cell through the shared backtest; ParityError unless they agree exactly."""
    assert cell.stats is not None
    shared = run_backtest(candles, options.with_values(cell.values)).stats
    got = cell.stats
    if (got.trades, got.net_pnl, got.fees, got.wins, got.funding) != (
            shared.trades, shared.net_pnl, shared.fees, shared.wins, shared.funding):
        raise ParityError(
            f"fast path and backtest disagree on {cell.params}: trades {got.trades} vs {shared.trades}, "
            f"net PnL {got.net_pnl} vs {shared.net_pnl}, fees {got.fees} vs {shared.fees}"
        )
    return cell


def _market(candles: Sequence[Candle], o: BacktestOptions) -> tuple[fast.Market | None, str]:
    if o.strategy != "ema_cross":
        return None, f"the fast path covers ema_cross only, not {o.strategy}"
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


def _stats(raw: fast.Raw, m: fast.Market, balance: Decimal, v: Values) -> Stats:
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
        funding=Decimal(raw.funding_u) * scale,
        gross=net + Decimal(raw.fees_u) * scale - Decimal(raw.funding_u) * scale,  # no other charges on paper
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


def _run_fast(market: fast.Market, jobs: list[Job], workers: int, tick: Callable[[int], None]) -> dict[int, fast.Raw | str]:
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
