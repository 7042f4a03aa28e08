"""The look every chart shares (candles, equity, the parameter heatmap): one palette, one size.

Charts are posted to Telegram groups that some read in light mode and some in dark mode,
so the picture carries its own dark background (as trading terminals do) with mid-tone
colours that stay readable on both: a white chart in a dark chat glares, a transparent one
loses its text. Sizes are chosen for Telegram's photo compression (longest side 1280 px):
a 8 × 4.5 inch figure at 160 dpi arrives unscaled and its 9-pt text is legible on a phone.

Rendering is headless (Agg, set here before pyplot can pick a GUI backend) and never goes
through pyplot's figure registry: `new_figure()` builds a bare Figure, `to_png()` renders it
to memory, so nothing accumulates across renders and no file is written. rcParams are
process-global, so renders hold `RENDER_LOCK` while they build a figure (chart commands run
in worker threads and may overlap).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# ------------------------------------------------------------------ palette
BG = "#131722"  # figure and axes background
PANEL = "#171b26"  # a secondary panel (volume, RSI, daily PnL), barely lighter
GRID = "#2a2e39"
SPINE = "#363a45"
TEXT = "#d1d4dc"  # titles, tick labels
MUTED = "#8a8f9c"  # axis labels, captions inside the chart

UP = "#26a69a"  # a rising candle, a profit
DOWN = "#ef5350"  # a falling candle, a loss
VOLUME_ALPHA = 0.45  # volume bars behind, in the candles' colours

# Indicator lines in the order a strategy reports them (fast EMA, slow EMA, …).
LINES = ("#f6c343", "#42a5f5", "#ce93d8", "#ff9800", "#80deea")
RSI = "#ce93d8"
EQUITY = "#42a5f5"
DRAWDOWN = "#ef5350"

BUY = "#00e676"  # ▲ a buy fill
SELL = "#ff5252"  # ▼ a sell fill
ENTRY = "#e0e0e0"
STOP = "#ef5350"
TAKE = "#26a69a"

# Heatmaps (parameter grids): perceptually uniform and readable on the dark background.
CMAP = "viridis"

# ------------------------------------------------------------------ sizes
WIDTH_IN, HEIGHT_IN = 8.0, 4.5
DPI = 160
FONT_SIZE = 8.5
TITLE_SIZE = 10.5
LINE_WIDTH = 1.1

RC: dict[str, Any] = {
    "figure.facecolor": BG,
    "savefig.facecolor": BG,
    "axes.facecolor": BG,
    "axes.edgecolor": SPINE,
    "axes.labelcolor": MUTED,
    "axes.titlecolor": TEXT,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linestyle": "-",
    "grid.linewidth": 0.6,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": TEXT,
    "ytick.labelcolor": TEXT,
    "text.color": TEXT,
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.titlesize": TITLE_SIZE,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE,
    "legend.fontsize": FONT_SIZE - 0.5,
    "legend.facecolor": BG,
    "legend.edgecolor": SPINE,
    "legend.framealpha": 0.85,
    "legend.labelcolor": TEXT,
    "lines.linewidth": LINE_WIDTH,
    "axes.formatter.useoffset": False,
}

RENDER_LOCK = threading.RLock()


@contextmanager
def styled() -> Iterator[None]:
    """Hold the render lock with the house rcParams in force (restored afterwards)."""
    with RENDER_LOCK, matplotlib.rc_context(RC):
        yield


def new_figure(width: float = WIDTH_IN, height: float = HEIGHT_IN) -> Figure:
    """A Figure outside pyplot's registry (garbage-collected like any object); call inside `styled()`."""
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor=BG)
    FigureCanvasAgg(fig)
    return fig


def style_axes(ax: Any, *, panel: bool = False) -> None:
    """Colours an axes the house way (mplfinance and some artists override rcParams)."""
    ax.set_facecolor(PANEL if panel else BG)
    for spine in ax.spines.values():
        spine.set_color(SPINE)
    ax.tick_params(colors=MUTED, labelcolor=TEXT)
    ax.grid(True, color=GRID, linewidth=0.6)


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is cleared so its artists can be freed at once."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor=fig.get_facecolor())
    fig.clear()
    return buf.getvalue()


def tick_clear_of(ax: Any, y: float, tagged: float, text: str) -> str:
    """A y tick label, blank only where a value tag on the axis (the last price, the last
    equity) really covers it: one label height plus the tag's padding, measured in pixels."""
    lo, hi = ax.get_ylim()
    height_px = ax.get_window_extent().height or 1.0
    label_px = FONT_SIZE * DPI / 72 * 1.25  # a label's height; the tag is that plus its padding
    return "" if abs(y - tagged) * height_px / max(hi - lo, 1e-12) < label_px else text


def step_decimals(ax: Any, most: int = 8) -> int:
    """Decimals the y axis's tick step needs: labels 10,000.5 / 10,001.0, never 10,001 / 10,001."""
    locs = sorted(ax.yaxis.get_majorticklocs())
    steps = [b - a for a, b in zip(locs, locs[1:], strict=False) if b > a]
    if not steps:
        return 0
    step = min(steps)
    return next((d for d in range(most + 1) if abs(round(step, d) - step) <= step * 1e-6), most)


def price_text(x: float, decimals: int | None = None) -> str:
    """Prices on axes and labels: no scientific notation; with `decimals` (the symbol's tick,
    BTCUSDT 1) exactly that many, else decimals only for small prices."""
    if decimals is not None:
        return f"{x:,.{decimals}f}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.6g}"
