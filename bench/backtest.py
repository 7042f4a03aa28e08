"""Backtest benchmark: the default strategy over a real year of 15m candles, in process.

Times `run_backtest` (the live bot's own trader, paper broker and portfolio driven by
`trading.feed.replay`) over 35,039 BTCUSDT perpetual candles, excluding the file read,
which is timed apart. Prints the best and median of several runs, the per-candle cost,
the ratio to the target (0.2 s) and to freqtrade 2026.9's backtest phase of the same
rules and data on this kind of machine (3.8 s, quoted from the issue; not re-measured
here), and with --profile where the time goes.

    .venv/bin/python bench/backtest.py [--runs 7] [--data FILE] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trading.backtest import run_backtest  # noqa: E402
from trading.feed import load_csv_candles  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
TARGET_S = 0.2
FREQTRADE_S = 3.8


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="print the top functions of one run")
    args = ap.parse_args()

    t0 = time.perf_counter()
    candles = load_csv_candles(args.data)
    load_s = time.perf_counter() - t0
    times, result = [], None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        result = run_backtest(candles)
        times.append(time.perf_counter() - t0)
    assert result is not None
    best, median = min(times), statistics.median(times)
    print(f"data: {Path(args.data).name}: {len(candles):,} candles (read + parse {load_s * 1000:.0f} ms, not counted)")
    print(f"strategy: {result.trader.strategy_name} {result.trader.values}")
    print(f"trades: {result.stats.trades:,} · net PnL {result.stats.net_pnl:.2f} USDT · fees {result.stats.fees:.2f} USDT")
    print(f"backtest ({args.runs} runs): best {best * 1000:.1f} ms · median {median * 1000:.1f} ms · "
          f"{median / len(candles) * 1e6:.2f} µs per candle")
    print(f"target ≤ {TARGET_S * 1000:.0f} ms: {'met' if median <= TARGET_S else 'NOT met'} "
          f"({TARGET_S / median:.1f}× under) · freqtrade's backtest phase {FREQTRADE_S:.1f} s → {FREQTRADE_S / median:.0f}× faster")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run_backtest(candles)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
