"""Grid benchmark: every strategy's grid over a real year of 15m candles, with the futures model on.

Times `trading.optimize.sweep` (signals, the compiled position simulator over the cells in
threads, the Stats of every cell, and the best cell re-run through the shared
`run_backtest`, which must agree on every stat) over 35,039 BTCUSDT perpetual candles
(file read excluded), per strategy:

- ema_cross fast=5..104 × slow=110..407:3: 10,000 cells (target ≤ 3 s on 2 cores);
- rsi_reversion and bb_breakout: 1,000 cells each (target ≤ 3 s each);
- a DataFrame plugin (an SMA cross whose pandas `populate` runs once per length), with a
  stop-loss axis: 160 cells.

For each: cells/s, ns per candle per cell, the thread count the sweep chose, how many
cells took the fast path, and the exactness check (every stat of 3 random cells and the
best one identical to the shared backtest). Then, when vectorbt is importable, the same
ema_cross cells (the first --vbt-cells of the grid) in a warm vectorbt loop and the ratio
per cell (vectorbt is not a dependency: without it the ratio is skipped, not the bench).
The load average is printed with the figures (the machine is shared).

    .venv/bin/python bench/optimize.py [--runs 3] [--data FILE] [--workers N] [--engine numba|numpy]
        [--funding-rate 0.01] [--slippage-bps 2] [--only ema_cross,rsi_reversion,...] [--vbt-cells 100]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trading.backtest import BacktestOptions, run_backtest  # noqa: E402
from trading.backtest.data import load_csv_candles  # noqa: E402
from trading.core.futures import FundingRates  # noqa: E402
from trading.core.futures_model import FuturesModel  # noqa: E402
from trading.core.strategies import strategy_class  # noqa: E402
from trading.optimize import compiled, sweep  # noqa: E402
from trading.optimize.grid import parse_grid  # noqa: E402
from trading.optimize.report import best_table, summary_line  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
TARGET_S = 3.0

PLUGIN = """
from trading.core.strategies.frame import MONEY, FrameStrategy
from trading.core.strategies.params import Param, Schema


class SmaCross(FrameStrategy):
    schema = Schema((Param("n", int, 20, 2, 500, "SMA length"), *MONEY))
    startup_candles = 500

    def populate(self, df, params):
        sma = df["Close"].rolling(int(params["n"])).mean()
        above = df["Close"] > sma
        df["enter_long"], df["exit_long"] = above & ~above.shift(1, fill_value=False), ~above
        df["enter_short"], df["exit_short"] = ~above & above.shift(1, fill_value=False), above
        return df
"""

GRIDS = (  # (name, grid words, target seconds or None)
    ("ema_cross", ["fast=5..104", "slow=110..407:3"], TARGET_S),  # 10,000 cells
    ("rsi_reversion", ["rsi_period=5..24", "low=20..40:5", "high=60..80:5", "leverage=3,4"], TARGET_S),  # 1,000
    ("bb_breakout", ["bb_period=10..59", "bb_std=1..2.9:0.2", "leverage=3,4"], TARGET_S),  # 1,000
    ("plugin", ["n=10..400:10", "leverage=3,4", "stop_loss_pct=0,1.5"], None),  # 160 cells, 40 populates
)


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, help="threads (default: chosen by the work, as the bot does)")
    ap.add_argument("--engine", choices=("numba", "numpy"), help="default: numba when installed")
    ap.add_argument("--funding-rate", type=Decimal, help="a constant funding rate in %% per funding time, e.g. 0.01")
    ap.add_argument("--slippage-bps", type=Decimal, default=Decimal(0), help="market fills N bps worse")
    ap.add_argument("--only", help="comma-separated: ema_cross, rsi_reversion, bb_breakout, plugin")
    ap.add_argument("--vbt-cells", type=int, default=100, help="ema_cross cells timed in the vectorbt loop")
    args = ap.parse_args()
    if not Path(args.data).is_file():
        if os.environ.get("CI") == "true":
            raise SystemExit(f"{args.data}: missing (CI=true)")
        print(f"skipped: {args.data} is not here")
        return 0
    t0 = time.perf_counter()
    candles = load_csv_candles(args.data)
    load_s = time.perf_counter() - t0
    options = BacktestOptions(model=FuturesModel(
        slippage_bps=args.slippage_bps,
        funding=FundingRates({}, args.funding_rate / 100) if args.funding_rate is not None else None))
    engine = args.engine or ("numba" if compiled.available() else "numpy")
    print(f"data: {Path(args.data).name}: {len(candles):,} candles (read + parse {load_s * 1000:.0f} ms, not counted)")
    print(f"model: liquidation on (default BTCUSDT brackets), funding {args.funding_rate or 0} % per 8 h, "
          f"slippage {args.slippage_bps} bps · engine {engine} · {os.cpu_count()} cores · {load()}")
    t0, c0 = time.perf_counter(), time.process_time()
    sweep(candles[:1_000], parse_grid(["fast=5,6"], strategy_class("ema_cross").schema), options, verify=0,
          engine=engine)
    print(f"first grid in this process: {time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU "
          "(numba loading its cached machine code; compiling it instead on a machine's first grid)")
    wanted = set(args.only.split(",")) if args.only else None
    rng = random.Random(31)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plugin = Path(tmp) / "sma_cross.py"
        plugin.write_text(PLUGIN)
        for name, words, target in GRIDS:
            if wanted is not None and name not in wanted:
                continue
            spec = f"{plugin}:SmaCross" if name == "plugin" else name
            grid = parse_grid(words, strategy_class(spec).schema)
            opts = replace(options, strategy=spec)
            times, cpu, result = [], [], None
            for _ in range(args.runs):
                t0, c0 = time.perf_counter(), time.process_time()
                result = sweep(candles, grid, opts, verify=1, workers=args.workers, engine=engine)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            assert result is not None
            secs = statistics.median(times)
            scored = [c for c in result.cells if c.stats is not None]
            sample = rng.sample(scored, min(3, len(scored))) + result.ranked[:1]
            same = all(_identical(c.stats, run_backtest(candles, opts.with_values(c.values)).stats) for c in sample)
            label = "plugin (SMA cross)" if name == "plugin" else name
            rows.append((label, grid, secs, min(times), statistics.median(cpu), result, len(sample), same, target,
                         load()))
            if name == "ema_cross":
                print(f"\n{label} {grid.describe()} = {grid.size:,} cells: the best 5")
                print(best_table(result, 5))
                print(summary_line(result))
            assert same, name
    traded = rows[0][5].candles if rows else 0
    print(f"\nper strategy (median of {args.runs} sweeps, wall clock, signals and the best cell's re-run through "
          f"run_backtest included; {traded:,} candles traded after the 500 warm-up):")
    for label, grid, secs, best, cpu, result, n, same, target, ld in rows:
        fast = sum(c.fast for c in result.cells)
        scored = sum(c.stats is not None for c in result.cells)
        par = f"{result.workers} {result.parallel}" if result.workers > 1 else "1 thread"
        verdict = "" if target is None else f" · target ≤ {target:.0f} s: {'met' if secs <= target else 'NOT met'}"
        print(f"  {label:<19} {grid.size:>6,} cells {secs:6.2f} s (best {best:.2f}, CPU {cpu:.2f}) · "
              f"{grid.size / secs:7,.0f} cells/s · {secs / (grid.size * result.candles) * 1e9:5.2f} ns per candle per "
              f"cell · {par} (chosen) · fast path {fast:,}/{scored:,} · {n} cells vs the shared backtest: "
              f"{'identical on every stat' if same else 'DIFFERENT'}{verdict} · {ld}")
    ema = next((r for r in rows if r[0] == "ema_cross"), None)
    if ema is not None:
        vectorbt_ratio(candles, ema, args.vbt_cells)
    return 0


def vectorbt_ratio(candles, ema, n_cells) -> None:
    """The same ema_cross cells in a warm vectorbt loop: EMAs by vbt.MA (numba), the crosses,
    Portfolio.from_signals long and short at the close (vectorbt's own fill model: not the
    same trades, the same work), the total return read."""
    try:
        import numpy as np
        import pandas as pd
        import vectorbt as vbt
    except ImportError:
        print("vectorbt is not installed: the ratio to a warm vectorbt loop is skipped")
        return
    label, grid, secs, *_ = ema
    cells = [(int(c["fast"]), int(c["slow"])) for c in grid.combos()][:n_cells]
    close = pd.Series(np.array([c.close for c in candles]),
                      index=pd.DatetimeIndex(np.array([c.open_time for c in candles], dtype="datetime64[ms]")))

    def one(f: int, s: int) -> float:
        fast = vbt.MA.run(close, f, ewm=True).ma
        slow = vbt.MA.run(close, s, ewm=True).ma
        up, down = fast.vbt.crossed_above(slow), fast.vbt.crossed_below(slow)
        pf = vbt.Portfolio.from_signals(close, up, down, short_entries=down, short_exits=up, fees=0.0005,
                                        size=300.0, size_type="value", init_cash=10_000, freq="15min")
        return float(pf.total_return())

    one(*cells[0])  # warm: numba compiles vectorbt's functions once
    t0 = time.perf_counter()
    for f, s in cells:
        one(f, s)
    vbt_s = time.perf_counter() - t0
    ours = secs / grid.size
    print(f"vectorbt {vbt.__version__}, warm loop over the first {len(cells):,} of those ema_cross cells: "
          f"{vbt_s:.2f} s = {vbt_s / len(cells) * 1000:.2f} ms a cell; this project {ours * 1000:.3f} ms a cell "
          f"(the whole grid's median): {vbt_s / len(cells) / ours:.0f}× less · {load()}")


def _identical(a, b) -> bool:
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(a))


if __name__ == "__main__":
    sys.exit(main())
