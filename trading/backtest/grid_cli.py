"""`python -m trading.backtest … --grid fast=5..20 --grid slow=20..60 [--metric M] [--heatmap out.png]`.

Kept apart from __main__ so the single-run CLI stays readable; it reuses its candle and
settings handling and adds only the sweep, the table of best cells and the picture.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from trading.backtest import split_warmup
from trading.backtest.stats import traded_span
from trading.core.candles import Candle
from trading.core.strategies import Values, strategy_class
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
    g.add_argument("--workers", type=int, help="processes for the fast path (default: by the work: one unless there are ~1,500 "
                        "year-long cells per process, at most 4)")
    g.add_argument("--heatmap", metavar="FILE.png", help="write the heatmap (or a bar chart for one parameter)")


def run_grid(
    args: argparse.Namespace, candles: Sequence[Candle], *, strategy: str, values: Values | None,
    warmup: int, start: int | None, balance: Decimal, fee_rate: Decimal, **model: Any,
) -> str:
    """The report to print; GridError/ParamError/ValueError for bad input (exit 2)."""
    if args.top < 1 or args.verify < 0:
        raise ValueError("--top must be 1 or more and --verify 0 or more")
    grid = parse_grid(args.grid, strategy_class(strategy).schema, max_cells=MAX_CELLS)
    result = sweep(candles, grid, strategy=strategy, base=values, warmup=warmup, start_ms=start,
                   balance=balance, fee_rate=fee_rate, metric=args.metric, verify=min(args.verify, args.top),
                   workers=args.workers, **model)
    first = result.ranked[0] if result.ranked else None
    seen, warm = split_warmup(candles, warmup, start)
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

