"""`python -m trading.backtest … --grid fast=5..20 --grid slow=20..60 [--metric M] [--heatmap out.png]`.

The grid's part of the backtest CLI (trading/backtest/__main__.py, which reads the candles
and the settings into the run's options and hands them here): the sweep, the table of the
best cells and the picture. It lives with the optimizer so that trading.backtest never
imports trading.optimize (only its entry point does).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trading.backtest import split_warmup
from trading.backtest.options import BacktestOptions
from trading.backtest.stats import traded_span
from trading.core.candles import Candle
from trading.core.strategies import strategy_class
from trading.optimize import METRICS, sweep
from trading.optimize.grid import parse_grid
from trading.optimize.report import best_table, heatmap_png, summary_line

MAX_CELLS = 20_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("parameter grid (what-if)")
    g.add_argument("--grid", action="append", default=[], metavar="NAME=SPEC",
                   help="sweep a parameter: a..b (step 1), a..b:step or a,b,c; repeat for more parameters")
    g.add_argument("--metric", default="net_pnl", choices=sorted(METRICS), help="rank cells by this (default net_pnl)")
    g.add_argument("--top", type=int, default=10, help="best cells to print (default 10)")
    g.add_argument("--verify", type=int, default=3, help="best cells re-run through the shared backtest (default 3)")
    g.add_argument("--workers", type=int, help="threads of the compiled simulator (numba), or processes of the numpy path "
                        "without it (default: by the work, at most 4)")
    g.add_argument("--heatmap", metavar="FILE.png", help="write the heatmap (or a bar chart for one parameter)")


def run_grid(args: argparse.Namespace, candles: Sequence[Candle], options: BacktestOptions) -> str:
    """The report to print; GridError/ParamError/ValueError for bad input (exit 2).
    options.values is every cell's base."""
    if args.top < 1 or args.verify < 0:
        raise ValueError("--top must be 1 or more and --verify 0 or more")
    strategy = options.strategy
    grid = parse_grid(args.grid, strategy_class(strategy).schema, max_cells=MAX_CELLS)
    result = sweep(candles, grid, options, metric=args.metric, verify=min(args.verify, args.top), workers=args.workers)
    first = result.ranked[0] if result.ranked else None
    seen, warm = split_warmup(candles, options.warmup, options.start_ms)
    span = traded_span(seen[warm].open_time, seen[-1].open_time, len(seen) - warm, warm)
    m = METRICS[args.metric]
    head = [f"{strategy} on {candles[0].symbol} {candles[0].interval} · {span}",
            f"grid: {grid.describe()} = {grid.size:,} combinations · ranked by {m.label}"
            + (" (lower is better)" if not m.higher_is_better else "")]
    if first is None:
        return "\n".join(head + ["no valid combination (each breaks a rule, e.g. fast ≥ slow)"])
    lines = head + [best_table(result, args.top), summary_line(result)]
    if args.heatmap:
        png = heatmap_png(result, title=f"{strategy} · {m.label} by parameters",
                          subtitle=f"{candles[0].symbol} {candles[0].interval} · {span.split(' · ')[0]} · "
                                   f"{grid.size:,} combinations")
        with open(args.heatmap, "wb") as f:
            f.write(png)
        lines.append(f"heatmap written to {args.heatmap} ({len(png) / 1024:.0f} KB)")
    return "\n".join(lines)

