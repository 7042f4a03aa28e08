"""A sweep as people read it: the best cells as a table, and the heatmap's data.

Shared by the CLI and the chat so both rank, word and round the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trading.core.numbers import plain, plural
from trading.optimize import METRICS, Cell, SweepResult

if TYPE_CHECKING:
    from trading.charts.heatmap import HeatmapData

MONEY = {"net_pnl", "return_pct", "pnl_dd"}


def fmt_value(v: int | float | str) -> str:
    """As people write it (1000000, never 1e+06; a take-profit ladder as its text): also
    what Apply hands back to /set."""
    return v if isinstance(v, str) else plain(v)


def cell_label(cell: Cell) -> str:
    return " ".join(f"{k}={fmt_value(v)}" for k, v in cell.params.items())


def best_table(result: SweepResult, top: int = 5) -> str:
    """rank, params, trades, net PnL, win rate, max drawdown: monospace, one cell a line."""
    rows = [("#", "parameters", "trades", "net PnL USDT", "win %", "max DD USDT")]
    for rank, cell in enumerate(result.ranked[:top], 1):
        s = cell.stats
        assert s is not None
        mark = "✓" if cell in result.verified else ""
        rows.append((f"{rank}{mark}", cell_label(cell), f"{s.trades:,}", f"{s.net_pnl:+,.2f}",
                     f"{s.win_rate:.1f}" if s.trades else "—", f"{s.max_drawdown:,.2f}"))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = []
    for r in rows:
        cols = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + [r[k].rjust(widths[k]) for k in range(2, len(r))]
        lines.append("  ".join(cols).rstrip())
    return "\n".join(lines)


def summary_line(result: SweepResult) -> str:
    cells = sum(1 for c in result.cells if c.stats is not None)
    limited: dict[str, int] = {}
    for c in result.cells:
        if c.values is None and c.note:
            limited[c.note] = limited.get(c.note, 0) + 1
    skipped = len(result.cells) - cells - sum(limited.values())
    warm = f" (after {result.warmup:,} warm-up)" if result.warmup else ""
    parts = [f"{plural(cells, 'cell')} over {plural(result.candles, 'candle')}{warm} in {result.seconds:.2f}s"]
    if result.workers > 1:
        parts.append(f"{result.workers} {result.parallel}")
    if skipped:
        parts.append(f"{skipped:,} skipped (break a rule, e.g. fast ≥ slow)")
    for why, n in limited.items():
        parts.append(f"{n:,} skipped ({why})")
    for why, n in result.fallbacks.items():
        parts.append(f"{n:,} through the shared backtest ({why})")
    if result.verified:
        parts.append(f"best {len(result.verified)} re-run through the shared backtest: identical (✓)")
    return " · ".join(parts)


def heatmap_data(result: SweepResult, *, top: int = 5, title: str = "", subtitle: str = "") -> HeatmapData:
    from trading.charts.heatmap import HeatmapData  # matplotlib only when a picture is asked for

    m = METRICS[result.metric]
    scores = {tuple(c.params.values()): m.get(c.stats) for c in result.cells if c.stats is not None}
    label = f"{m.label} ({m.unit})" if m.unit else m.label
    return HeatmapData(
        names=result.grid.names, axes=result.grid.axes, scores=scores, metric=label,
        higher_is_better=m.higher_is_better, centred=result.metric in MONEY,
        best=[tuple(c.params.values()) for c in result.ranked[:top]], title=title, subtitle=subtitle,
    )


def heatmap_png(result: SweepResult, *, top: int = 5, title: str = "", subtitle: str = "") -> bytes:
    from trading.charts.heatmap import render_heatmap

    return render_heatmap(heatmap_data(result, top=top, title=title, subtitle=subtitle))
