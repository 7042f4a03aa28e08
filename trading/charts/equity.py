"""The equity chart: mark-to-market equity with its drawdowns, and the wallet's change per day.

Drawdown is shaded between the running peak and the curve (how far below the best it has
been, and for how long), which reads at a glance where a separate drawdown panel would
need a second scale. Everything shown comes from `data.EquityCurve`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import matplotlib.dates as mdates
from matplotlib.ticker import FuncFormatter, MaxNLocator

from trading.charts import style
from trading.charts.data import EquityCurve
from trading.core.numbers import num


def render_equity(curve: EquityCurve, *, title: str = "Equity", subtitle: str = "") -> bytes:
    """PNG bytes of the curve (8 × 4.8 in at 160 dpi); needs at least one point."""
    if not curve.times:
        raise ValueError("an equity chart needs at least one candle")
    with style.styled():
        return style.to_png(_draw(curve, title, subtitle))


def _draw(curve: EquityCurve, title: str, subtitle: str) -> Any:
    fig = style.new_figure(style.WIDTH_IN, 4.8)
    grid = fig.add_gridspec(2, 1, height_ratios=[3.2, 1.2], hspace=0.08,
                            left=0.035, right=0.885, top=0.865, bottom=0.09)
    eq = fig.add_subplot(grid[0])
    pnl = fig.add_subplot(grid[1], sharex=eq)
    for ax in (eq, pnl):
        style.style_axes(ax, panel=ax is pnl)
        ax.yaxis.tick_right()
        ax.yaxis.set_label_position("right")

    t, e, peak = curve.times, curve.equity, curve.peak
    eq.axhline(curve.initial, color=style.MUTED, linewidth=0.7, linestyle=(0, (3, 3)), label="start")
    eq.fill_between(t, e, peak, where=[a < b for a, b in zip(e, peak, strict=True)], color=style.DRAWDOWN,
                    alpha=0.28, linewidth=0, interpolate=True, label="drawdown")
    eq.plot(t, e, color=style.EQUITY, linewidth=1.3, label="equity")
    _pad(eq, min(min(e), curve.initial), max(max(e), curve.initial))
    eq.yaxis.set_major_locator(MaxNLocator(6))
    last = e[-1]
    eq.yaxis.set_major_formatter(FuncFormatter(
        lambda y, _: style.tick_clear_of(eq, y, last, f"{y:,.{style.step_decimals(eq)}f}")))
    eq.tick_params(labelbottom=False)
    worst = curve.drawdown_pct
    if worst and min(worst) < 0:
        i = min(range(len(worst)), key=worst.__getitem__)
        right = i > len(worst) / 2  # the label goes where the curve is not: beside the trough
        if i < len(worst) - 1:  # at the last point the value tag covers it
            eq.plot([t[i]], [e[i]], marker="o", markersize=4, color=style.DRAWDOWN)
        eq.annotate(f"max DD {num(worst[i], '.1f')}%", xy=(t[i], e[i]), xytext=(-7 if right else 7, 0),
                    textcoords="offset points", ha="right" if right else "left", va="center",
                    color=style.DRAWDOWN, fontsize=style.FONT_SIZE - 0.5,
                    bbox={"boxstyle": "square,pad=0.15", "facecolor": style.BG, "edgecolor": "none", "alpha": 0.75})
    eq.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, frameon=False, borderaxespad=0.2,
              handlelength=1.6)

    days = sorted(curve.daily.items())
    lo, hi = t[0], t[-1] if t[-1] > t[0] else t[0] + timedelta(hours=1)
    if days:
        # Each day's bar spans the part of that day the curve covers, with a small gap; on a
        # run shorter than two days a bar is a narrow mark (a day's total, not a duration)
        # and never wider than the span shown. Days outside the curve are not drawn.
        spans = []
        widest = (hi - lo) / 12 if hi - lo < timedelta(days=2) else None
        for d, value in days:
            midnight = datetime.combine(d, time(0), tzinfo=lo.tzinfo)
            start, end = max(lo, midnight), min(hi, midnight + timedelta(days=1))
            if end > start:
                gap = (end - start) * 0.08
                width = end - start - 2 * gap
                if widest is not None and width > widest:
                    start, width = start + (end - start - widest) / 2 - gap, widest
                spans.append((start + gap, width, value))
        pnl.bar([s for s, _, _ in spans], [v for _, _, v in spans], width=[w for _, w, _ in spans], align="edge",
                color=[style.UP if v >= 0 else style.DOWN for _, _, v in spans], linewidth=0)
    pnl.axhline(0, color=style.SPINE, linewidth=0.8)
    pnl.set_ylabel("PnL/day", color=style.MUTED)
    pnl.yaxis.set_major_locator(MaxNLocator(3, symmetric=bool(days)))
    pnl.yaxis.set_major_formatter(FuncFormatter(
        lambda y, _: num(y, f"+,.{style.step_decimals(pnl)}f") if y else "0"))
    pnl.set_xlim(lo, hi)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    pnl.xaxis.set_major_locator(locator)
    pnl.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))

    fig.text(0.02, 0.955, title, fontsize=style.TITLE_SIZE, fontweight="bold", color=style.TEXT, va="center")
    span = f"{t[0]:%Y-%m-%d %H:%M} → {t[-1]:%Y-%m-%d %H:%M} UTC"
    line = fig.text(0.02, 0.915, f"{subtitle} · {span}" if subtitle else span, fontsize=style.FONT_SIZE,
                    color=style.MUTED, va="center")
    _fit_width(fig, line)
    color = style.UP if last >= curve.initial else style.DOWN
    eq.annotate(f"{last:,.2f}", xy=(1.0, last), xycoords=("axes fraction", "data"), xytext=(3, 0),
                textcoords="offset points", va="center", ha="left", color="#ffffff", fontweight="bold",
                bbox={"boxstyle": "square,pad=0.25", "facecolor": color, "edgecolor": color}, annotation_clip=False)
    return fig


def _fit_width(fig: Any, text: Any, margin: float = 0.02) -> None:
    """A subtitle that would run past the picture's right edge (a /backtest's numbers and its
    window on one line) gets a smaller font, so every figure it names stays on the picture."""
    width = text.get_window_extent(renderer=fig.canvas.get_renderer()).width
    room = fig.bbox.width * (1 - 2 * margin)
    if width > room:
        text.set_fontsize(max(6.0, text.get_fontsize() * room / width))


def _pad(ax: Any, lo: float, hi: float) -> None:
    """A flat curve (no trades yet) still gets a readable scale around its value."""
    span = hi - lo
    pad = span * 0.08 if span > 0 else max(abs(hi) * 0.001, 1.0)
    ax.set_ylim(lo - pad, hi + pad)
