"""The candlestick chart: candles, volume, the strategy's lines, the bot's fills, the position.

Drawn with mplfinance on axes we create (its "external axes" mode), so the figure never
enters pyplot's registry and the layout (legend above the candles, level labels in the
right margin) is ours. Everything shown comes from `data.CandleChart`.
"""

from __future__ import annotations

import math
from typing import Any

import mplfinance as mpf
from matplotlib.collections import PolyCollection
from matplotlib.ticker import FuncFormatter, MaxNLocator

from trading.charts import style
from trading.charts.data import CandleChart
from trading.core.numbers import plural

MARKET = mpf.make_marketcolors(
    up=style.UP, down=style.DOWN, edge="inherit", wick="inherit", volume="inherit",
)
# mplfinance's default volume edge is a blue that drowns thin bars; edges follow the bars.
MARKET["vcedge"] = MARKET["volume"]
MARKET["volume_alpha"] = style.VOLUME_ALPHA
MPF_STYLE = mpf.make_mpf_style(
    marketcolors=MARKET, facecolor=style.BG, edgecolor=style.SPINE, figcolor=style.BG,
    gridcolor=style.GRID, gridstyle="-", rc=style.RC,
)


def render_candles(chart: CandleChart) -> bytes:
    """PNG bytes of the chart (8 × 5 in at 160 dpi)."""
    with style.styled():
        return style.to_png(_draw(chart))


def _draw(chart: CandleChart) -> Any:
    rsi = bool(chart.oscillators)
    heights = [5.0, 1.2] + ([1.5] if rsi else [])
    fig = style.new_figure(style.WIDTH_IN, 5.2 if rsi else 4.8)
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.06,
                            left=0.02, right=0.885, top=0.875, bottom=0.085)
    price = fig.add_subplot(grid[0])
    volume = fig.add_subplot(grid[1], sharex=price)
    osc = fig.add_subplot(grid[2], sharex=price) if rsi else None
    n = len(chart.frame)

    adds = []
    for (name, values), color in zip(chart.lines.items(), style.LINES, strict=False):
        if _has_values(values):
            adds.append(mpf.make_addplot(values, ax=price, color=color, width=style.LINE_WIDTH, label=name.upper()))
    for side, marker, color in (("BUY", "^", style.BUY), ("SELL", "v", style.SELL)):
        ys = [math.nan] * n
        for m in chart.markers:
            if m.side == side:
                ys[m.index] = m.price
        if _has_values(ys):
            adds.append(mpf.make_addplot(
                ys, ax=price, type="scatter", marker=marker, markersize=_marker_size(n),
                color=color, edgecolors=style.BG, linewidths=0.6,
            ))
    # 0–100 oscillators (RSI) get the fixed scale and bands; a plugin's other sub-panel
    # indicators (MACD, ATR, ...) keep matplotlib's own scale.
    bounded = _bounded(chart)
    if osc is not None:
        for values, color in zip(chart.oscillators.values(), (style.RSI, *style.LINES), strict=False):
            if _has_values(values):
                adds.append(mpf.make_addplot(values, ax=osc, color=color, width=style.LINE_WIDTH,
                                             **({"ylim": (0, 100)} if bounded else {})))

    mpf.plot(
        chart.frame, type="candle", ax=price, style=MPF_STYLE, addplot=adds,
        datetime_format="%d %b %H:%M", xrotation=0, warn_too_much_data=10_000,
        **({"update_width_config": {"candle_linewidth": 0.8}} if n > 150 else {}),
    )
    _volume(chart, volume)
    _decorate(chart, fig, price, volume, osc)
    return fig


def _volume(chart: CandleChart, ax: Any) -> None:
    """Volume bars as one collection: mplfinance adds one patch per bar, which was a third
    of the render time at 200 candles."""
    f = chart.frame
    rising = (f["Close"] >= f["Open"]).tolist()
    half = 0.35
    boxes = [((i - half, 0.0), (i - half, v), (i + half, v), (i + half, 0.0)) for i, v in enumerate(f["Volume"])]
    colors = [style.UP if up else style.DOWN for up in rising]
    ax.add_collection(PolyCollection(boxes, facecolors=colors, edgecolors="none", alpha=style.VOLUME_ALPHA))
    ax.set_ylim(0, max(float(f["Volume"].max()), 1e-12) * 1.08)


def _decorate(chart: CandleChart, fig: Any, price: Any, volume: Any, osc: Any) -> None:
    bottom = osc if osc is not None else volume
    for ax in (price, volume, osc):
        if ax is None:
            continue
        style.style_axes(ax, panel=ax is not price)
        ax.yaxis.tick_right()
        ax.yaxis.set_label_position("right")
        if ax is not bottom:
            ax.tick_params(labelbottom=False)
    last = chart.last_price
    _fit_levels(chart, price)
    price.yaxis.set_major_locator(MaxNLocator(7))
    price.yaxis.set_major_formatter(FuncFormatter(
        lambda y, _: style.tick_clear_of(price, y, last, f"{y:,.{style.step_decimals(price)}f}")))
    price.set_ylabel("")
    volume.set_ylabel("Vol", color=style.MUTED)
    volume.yaxis.set_major_locator(MaxNLocator(2))
    volume.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _short(y)))
    ticks, labels = time_ticks(list(chart.frame.index))
    bottom.set_xticks(ticks, labels)
    if osc is not None and not _bounded(chart):
        osc.set_ylabel(next(iter(chart.oscillators)).upper(), color=style.MUTED)
    elif osc is not None:
        osc.set_ylim(0, 100)
        osc.set_yticks([30, 70] if chart.bands is None else list(chart.bands))
        osc.set_ylabel(next(iter(chart.oscillators)).upper(), color=style.MUTED)
        lo, hi = chart.bands or (30.0, 70.0)
        osc.axhspan(lo, hi, color=style.RSI, alpha=0.07, linewidth=0)
        for y in (lo, hi):
            osc.axhline(y, color=style.MUTED, linewidth=0.6, linestyle=(0, (3, 3)))

    handles, names = price.get_legend_handles_labels()
    if handles:
        price.legend(handles, names, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(handles),
                     frameon=False, borderaxespad=0.2, handlelength=1.6, fontsize=style.FONT_SIZE)
    fig.text(0.02, 0.955, f"{chart.symbol} · {chart.interval} · {chart.mode}", fontsize=style.TITLE_SIZE,
             fontweight="bold", color=style.TEXT, va="center")
    first, end = chart.frame.index[0], chart.frame.index[-1]
    dec = chart.price_decimals
    fig.text(0.02, 0.915, f"last {style.price_text(last, dec)} · {plural(len(chart.frame), 'candle')} · "
             f"{first:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC", fontsize=style.FONT_SIZE,
             color=style.MUTED, va="center")
    # The last price, TradingView-style: a tag on the price axis in the last candle's colour.
    up = chart.frame["Close"].iloc[-1] >= chart.frame["Open"].iloc[-1]
    _tag(price, last, style.price_text(last, dec), style.UP if up else style.DOWN, "#ffffff")


def _fit_levels(chart: CandleChart, price: Any) -> None:
    """Entry, stop and take as dashed lines. A level far outside the candles would squash
    them into a strip, so the axis stretches to a level only up to its own height again;
    a level beyond that is named at the edge it lies past (↑ above, ↓ below)."""
    lo, hi = price.get_ylim()
    lv = chart.levels
    if lv is None:
        return
    span = hi - lo
    levels = [(f"{lv.side} entry", lv.entry, style.ENTRY), ("SL", lv.stop, style.STOP), ("TP", lv.take, style.TAKE)]
    shown = [(n, y, c) for n, y, c in levels if y is not None and lo - span <= y <= hi + span]
    if shown:
        ys = [y for _, y, _ in shown]
        pad = 0.04 * (max(hi, *ys) - min(lo, *ys))
        lo, hi = min(lo, min(ys) - pad), max(hi, max(ys) + pad)
        price.set_ylim(lo, hi)
    mid = (lo + hi) / 2
    for name, y, color in levels:
        if y is None:
            continue
        text = f"{name} {style.price_text(y, chart.price_decimals)}"
        if y > hi or y < lo:
            at, va, off = (1.0, "top", -3) if y > hi else (0.0, "bottom", 3)
            price.annotate(f"{text} {'↑' if y > hi else '↓'}", xy=(0.005, at), xycoords="axes fraction",
                           xytext=(2, off), textcoords="offset points", color=color, va=va,
                           fontsize=style.FONT_SIZE - 0.5, bbox=_label_box())
            continue
        price.axhline(y, color=color, linewidth=0.9, linestyle=(0, (5, 3)), alpha=0.9)
        below = y > mid  # a label goes into the chart, never past its edge
        price.annotate(text, xy=(0.005, y), xycoords=("axes fraction", "data"), xytext=(2, -3 if below else 3),
                       textcoords="offset points", color=color, va="top" if below else "bottom",
                       fontsize=style.FONT_SIZE - 0.5, bbox=_label_box())


def _label_box() -> dict[str, Any]:
    return {"boxstyle": "square,pad=0.15", "facecolor": style.BG, "edgecolor": "none", "alpha": 0.75}


def _tag(ax: Any, y: float, text: str, face: str, color: str) -> None:
    ax.annotate(
        text, xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(3, 0), textcoords="offset points",
        va="center", ha="left", fontsize=style.FONT_SIZE, color=color, fontweight="bold",
        bbox={"boxstyle": "square,pad=0.25", "facecolor": face, "edgecolor": face}, annotation_clip=False,
    )


# Tick spacings in minutes: round clock times a trader reads at a glance.
STEPS = (15, 30, 60, 120, 180, 240, 360, 720, 1440, 2880, 10080, 20160, 43200)


def time_ticks(index: list[Any], target: int = 6) -> tuple[list[int], list[str]]:
    """Tick positions (candle numbers) at round UTC times, about `target` of them, labelled
    with the time of day and the date where the day changes (or dates only for daily steps)."""
    n = len(index)
    if n == 0:
        return [], []
    minutes = [int(t.timestamp() // 60) for t in index]
    total = minutes[-1] - minutes[0] + 1
    step = next((s for s in STEPS if total / s <= target), STEPS[-1])
    ticks = [i for i, m in enumerate(minutes) if m % step == 0]
    if step == 10080:  # weeks start on Mondays, not on the epoch's Thursday
        ticks = [i for i in ticks if index[i].weekday() == 0] or ticks
    labels, day = [], None
    for i in ticks:
        t = index[i]
        if step >= 1440 or (day != t.date() and (t.hour, t.minute) == (0, 0)):
            labels.append(f"{t:%d %b}")
        elif day != t.date():
            labels.append(f"{t:%H:%M}\n{t:%d %b}")
        else:
            labels.append(f"{t:%H:%M}")
        day = t.date()
    return ticks, labels


def _marker_size(n: int) -> float:
    """Markers shrink with the candle count but stay findable on a phone."""
    return max(30.0, min(110.0, 9000.0 / max(n, 1)))


def _has_values(values: list[float]) -> bool:
    return any(v == v for v in values)


def _short(x: float) -> str:
    if x == 0:
        return ""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def _bounded(chart: CandleChart) -> bool:
    """Every sub-panel value within 0–100 (an RSI-like oscillator)."""
    return all(0 <= x <= 100 for v in chart.oscillators.values() for x in v if x == x)
