"""Grid benchmark: 400 ema_cross parameter sets over a real year of 15m candles.

Times `trading.optimize.sweep` (the numpy fast path across worker processes, then the best
cells re-run through the shared `run_backtest`, which must agree) for fast=5..24 ×
slow=21..60:2 = 20 × 20 = 400 cells over 35,039 BTCUSDT perpetual candles, excluding the
file read. Then re-runs the best cell through `run_backtest` once more here and asserts the
stats are identical field by field. Target: ≤ 10 s on 2 cores.

Then, per strategy (issue 31: ema_cross's grid above; rsi_reversion and bb_breakout over
1,000 cells each; a DataFrame plugin, an SMA cross whose `populate` runs once per length):
cells/s, ns per candle per cell, how many cells took the fast path, and the exactness check
(every stat of 3 random cells and the best one identical to the shared backtest). The ratio
to a warm vectorbt loop of the ema_cross grid is printed when vectorbt is installed.

    .venv/bin/python bench/optimize.py [--runs 3] [--data FILE] [--workers N] [--stops] [--no-strategies]
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
from trading.optimize import sweep  # noqa: E402
from trading.optimize.grid import parse_grid  # noqa: E402
from trading.optimize.report import best_table, summary_line  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
TARGET_S = 10.0
FIELDS = ("trades", "wins", "net_pnl", "fees", "final_balance", "max_drawdown", "exposure_pct", "open_pnl", "funding",
          "liquidations")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, help="processes (default: chosen by the work, as the bot does)")
    ap.add_argument("--stops", action="store_true", help="800 cells: stop_loss_pct and take_profit_pct swept too")
    ap.add_argument("--funding-rate", type=Decimal, help="a constant funding rate in %% per funding time, e.g. 0.01")
    ap.add_argument("--slippage-bps", type=Decimal, default=Decimal(0), help="market fills N bps worse")
    ap.add_argument("--no-strategies", action="store_true", help="only the ema_cross grid (the figures before issue 31)")
    args = ap.parse_args()
    if not Path(args.data).is_file():
        if os.environ.get("CI") == "true":
            raise SystemExit(f"{args.data}: missing (CI=true)")
        print(f"skipped: {args.data} is not here")
        return 0

    t0 = time.perf_counter()
    candles = load_csv_candles(args.data)
    load_s = time.perf_counter() - t0
    words = ["fast=5..24", "slow=21..60:2"]
    if args.stops:
        words = ["fast=6..15", "slow=25..55:10", "stop_loss_pct=0..2:0.5", "take_profit_pct=0,1,2,4"]
    grid = parse_grid(words, strategy_class("ema_cross").schema)
    options = BacktestOptions(model=FuturesModel(
        slippage_bps=args.slippage_bps,
        funding=FundingRates({}, args.funding_rate / 100) if args.funding_rate is not None else None))
    times, result = [], None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        result = sweep(candles, grid, options, workers=args.workers, verify=3)
        times.append(time.perf_counter() - t0)
    assert result is not None
    best = result.ranked[0]
    t0 = time.perf_counter()
    shared = run_backtest(candles, options.with_values(best.values)).stats
    one_s = time.perf_counter() - t0
    for f in FIELDS:
        assert getattr(best.stats, f) == getattr(shared, f), (f, getattr(best.stats, f), getattr(shared, f))
    median = statistics.median(times)
    print(f"data: {Path(args.data).name}: {len(candles):,} candles (read + parse {load_s * 1000:.0f} ms, not counted)")
    print(f"grid: {grid.describe()} = {grid.size:,} cells · {result.workers} process(es) · model: liquidation on "
          f"(default BTCUSDT brackets), funding {args.funding_rate or 0} % per 8 h, slippage {args.slippage_bps} bps")
    print(best_table(result, 5))
    print(summary_line(result))
    print(f"best cell again through run_backtest: identical on {', '.join(FIELDS)} "
          f"(net PnL {shared.net_pnl} USDT, {shared.trades} trades; one backtest {one_s * 1000:.0f} ms)")
    print(f"sweep ({args.runs} runs): best {min(times):.2f} s · median {median:.2f} s · "
          f"{median / grid.size * 1000:.1f} ms per cell (the shared backtest: {one_s * 1000:.0f} ms per cell, "
          f"{one_s * grid.size / median:.0f}× more)")
    print(f"target ≤ {TARGET_S:.0f} s: {'met' if median <= TARGET_S else 'NOT met'}")
    if not args.no_strategies:
        per_strategy(candles, options, grid, median, result, args.runs)
    return 0


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

STRATEGY_GRIDS = (
    ("rsi_reversion", ["rsi_period=5..24", "low=20..40:5", "high=60..80:5", "leverage=3,4"]),  # 1,000 cells
    ("bb_breakout", ["bb_period=10..59", "bb_std=1..2.9:0.2", "leverage=3,4"]),  # 1,000 cells
    ("plugin", ["n=10..400:10", "leverage=3,4"]),  # 80 cells, 40 populates
)


def per_strategy(candles, options, ema_grid, ema_s, ema_result, runs) -> None:
    """cells/s, ns per candle per cell and the exactness check for every strategy."""
    rng = random.Random(31)
    traded = ema_result.candles
    rows = [("ema_cross", "ema_cross", ema_grid.size, ema_s, ema_result)]
    with tempfile.TemporaryDirectory() as tmp:
        plugin = Path(tmp) / "sma_cross.py"
        plugin.write_text(PLUGIN)
        for name, words in STRATEGY_GRIDS:
            spec = f"{plugin}:SmaCross" if name == "plugin" else name
            grid = parse_grid(words, strategy_class(spec).schema)
            opts = replace(options, strategy=spec)
            times, result = [], None
            for _ in range(runs):
                t0 = time.perf_counter()
                result = sweep(candles, grid, opts, verify=1)
                times.append(time.perf_counter() - t0)
            rows.append(("plugin (SMA cross)" if name == "plugin" else name, spec, grid.size, statistics.median(times),
                         result))
        print(f"per strategy (median of {runs}; the year, {traded:,} candles traded; sweep with the best cell verified):")
        for name, spec, size, secs, result in rows:
            fast = sum(c.fast for c in result.cells)
            scored = [c for c in result.cells if c.stats is not None]
            sample = rng.sample(scored, min(3, len(scored))) + result.ranked[:1]
            opts = replace(options, strategy=spec)
            same = all(_identical(c.stats, run_backtest(candles, opts.with_values(c.values)).stats) for c in sample)
            print(f"  {name:<20} {size:>6,} cells in {secs:6.2f} s · {size / secs:8,.0f} cells/s · "
                  f"{secs / (size * traded) * 1e9:6.1f} ns per candle per cell · fast path {fast:,}/{size:,} · "
                  f"{len(sample)} cells vs the shared backtest: {'identical on every stat' if same else 'DIFFERENT'}")
            assert same, name
    try:
        import vectorbt  # noqa: F401
    except ImportError:
        print("vectorbt is not installed: the ratio to a warm vectorbt loop is skipped")


def _identical(a, b) -> bool:
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(a))


if __name__ == "__main__":
    sys.exit(main())
