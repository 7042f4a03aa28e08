"""What-if over a parameter grid: every cell's backtest stats, fast, and the best ones proven.

Cells the fast path supports (trading/optimize/fast.py: ema_cross without the RSI filter,
DataFrame strategies without stops, no refused orders) are simulated in numpy (ema_cross
across worker processes; trading/optimize/fast_grid.py); every other cell runs
the shared `run_backtest`. Whatever the path, the best cells are then re-run through
`run_backtest` and must agree on trades, net PnL and fees, or `ParityError` is raised:
what the chat or the CLI shows as best is what the live bot would have done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from trading.backtest import run_backtest, split_warmup
from trading.backtest.options import DEFAULT_OPTIONS, BacktestOptions
from trading.backtest.stats import Stats
from trading.core.candles import Candle
from trading.core.limits import stake_problem
from trading.core.strategies import Values, strategy_class
from trading.core.strategies.ladder import Ladder
from trading.optimize.grid import Grid, GridError, cell_values, parse_grid

if TYPE_CHECKING:
    from trading.optimize.fast import Raw

__all__ = ["METRICS", "Cell", "Grid", "GridError", "ParityError", "SweepResult", "parse_grid", "sweep"]

Progress = Callable[[int, int], None]  # (cells done, cells)
# Fast-path cells × candles per extra process below which its start-up (forkserver, numpy
# import, the market pickled over) costs more than it saves: measured on 2 cores, 394 cells
# of a year (14 M) took 0.59 s in one process and 1.52 s in two, so about 1,500 cells of a
# year (50 M) per process before a second one pays.
POOL_WORK_PER_PROCESS = 50_000_000
# The compiled simulator's cells × candles per extra thread below which a second thread
# does not pay (a thread costs nothing to start; measured, see docs/benchmarks.md).
THREAD_WORK = 5_000_000


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
    engine: str = "numpy"  # numba: the compiled simulator (kernel.py); numpy: fast.py's arrays
    parallel: str = "processes"  # how `workers` > 1 ran: numba's threads, numpy's processes
    candles: int = 0  # traded (after the warm-up)
    warmup: int = 0  # candles before them that only warmed the strategy

    @property
    def fallbacks(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cells:
            if c.stats is not None and not c.fast:
                out[c.note] = out.get(c.note, 0) + 1
        return out


def one_level(v: Values, ladder: Ladder) -> Values:
    """A one-level ladder is exactly take_profit_pct (core/exits.py): how the fast paths read it."""
    return {**v, "take_profit_pct": float(ladder.levels[0][0]), "take_profit": "0"} if ladder else v


def sweep(
    candles: Sequence[Candle],
    grid: Grid,
    options: BacktestOptions = DEFAULT_OPTIONS,
    *,
    metric: str = "net_pnl",
    verify: int = 3,
    workers: int | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
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
    from trading.optimize import (  # numpy (and numba) only when a grid runs: a single backtest starts without them
        compiled,
        fast_grid,
    )

    market, why = fast_grid.market_for(candles, options)
    frame = market is not None and fast_grid.is_frame(options.strategy)
    if engine is None:
        engine = "numba" if compiled.available() else "numpy"
    elif engine == "numba" and not compiled.available():
        raise ValueError("engine numba: numba is not installed (pip install numba)")
    jobs, frame_jobs, slow_path, kernel_jobs = [], [], [], []
    for i in live:
        v = cells[i].values
        assert v is not None
        if market is None:
            cells[i].note = why
            slow_path.append(i)
        elif v.get("trailing_stop_pct"):  # neither engine walks a candle's path (core/exits.py)
            cells[i].note = "the trailing stop is on"
            slow_path.append(i)
        elif len(ladder := Ladder.parse(str(v.get("take_profit", "0")))) > 1:
            cells[i].note = "a take-profit ladder"
            slow_path.append(i)
        elif engine == "numba":
            kernel_jobs.append((i, one_level(v, ladder)))
        elif not frame and v.get("rsi_period"):
            cells[i].note = "the RSI filter is on"
            slow_path.append(i)
        elif frame and (v.get("stop_loss_pct") or v.get("take_profit_pct") or ladder):
            cells[i].note = "a stop-loss or take-profit with a DataFrame strategy"
            slow_path.append(i)
        elif frame:
            frame_jobs.append((i, v))
        else:
            v = one_level(v, ladder)
            jobs.append((i, int(v["fast"]), int(v["slow"]), float(v["stake_usdt"]), int(v["leverage"]),
                         float(v["stop_loss_pct"]), float(v["take_profit_pct"])))
    parallel = "processes"
    if engine == "numba":  # threads: the kernel releases the GIL, nothing to start or pickle
        parallel = "threads"
        if workers is None:
            workers = max(1, min(len(os.sched_getaffinity(0)), 4, len(candles) * len(kernel_jobs) // THREAD_WORK))
    elif workers is None:  # by the work: one process unless each would get enough of it
        workers = max(1, min(len(os.sched_getaffinity(0)), 4, len(candles) * len(jobs) // POOL_WORK_PER_PROCESS))
    use_pool = workers > 1 and bool(jobs or kernel_jobs)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], len(live))

    results: dict[int, Raw | str] = {}
    if kernel_jobs and market is not None:
        prep = compiled.Prepared(market, options.model.table(candles[0].symbol))
        if frame:
            results.update(compiled.run_frames(prep, fast_grid.FrameSignals(candles, options), kernel_jobs,
                                               workers, tick))
        else:
            results.update(compiled.run_ema(prep, kernel_jobs, workers, tick))
    if jobs and market is not None:
        results.update(fast_grid.run(market, jobs, workers if use_pool else 1, tick))
    if frame_jobs and market is not None:
        results.update(fast_grid.run_frames(market, fast_grid.FrameSignals(candles, options), frame_jobs, tick))
    for i, r in results.items():
        if isinstance(r, str):
            cells[i].note = r
            slow_path.append(i)
        else:
            v = cells[i].values
            assert v is not None and market is not None
            cells[i].stats, cells[i].fast = fast_grid.stats_of(r, market, options.balance, v), True
    for i in sorted(slow_path):
        cells[i].stats = run_backtest(candles, options.with_values(cells[i].values)).stats
        tick(1)
    m = METRICS[metric]
    scored = [c for c in cells if c.stats is not None]
    ranked = sorted(scored, key=lambda c: (m.get(c.stats) * (1 if m.higher_is_better else -1),  # type: ignore[arg-type]
                                           float(c.stats.net_pnl)), reverse=True)  # type: ignore[union-attr]
    seen, warm = split_warmup(candles, options.warmup, options.start_ms)
    result = SweepResult(grid, metric, cells, ranked, workers=workers if use_pool else 1,
                         candles=len(seen) - warm, warmup=warm, engine=engine, parallel=parallel)
    result.verified = [verify_cell(candles, c, options) for c in ranked[:verify]]
    result.seconds = time.perf_counter() - t0
    return result


def verify_cell(candles: Sequence[Candle], cell: Cell, options: BacktestOptions) -> Cell:
    """Re-run one cell through the shared backtest; ParityError unless they agree exactly."""
    assert cell.stats is not None
    shared = run_backtest(candles, options.with_values(cell.values)).stats
    got = cell.stats
    differ = [f.name for f in fields(Stats) if getattr(got, f.name) != getattr(shared, f.name)]
    if differ:
        raise ParityError(
            f"fast path and backtest disagree on {cell.params}: "
            + ", ".join(f"{n} {getattr(got, n)} vs {getattr(shared, n)}" for n in differ)
        )
    return cell
