"""Grid benchmark: 400 ema_cross parameter sets over a real year of 15m candles.

Times `trading.optimize.sweep` (the numpy fast path across worker processes, then the best
cells re-run through the shared `run_backtest`, which must agree) for fast=5..24 ×
slow=21..60:2 = 20 × 20 = 400 cells over 35,039 BTCUSDT perpetual candles, excluding the
file read. Then re-runs the best cell through `run_backtest` once more here and asserts the
stats are identical field by field. Target: ≤ 10 s on 2 cores.

    .venv/bin/python bench/optimize.py [--runs 3] [--data FILE] [--workers N] [--stops]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
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
    args = ap.parse_args()

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
