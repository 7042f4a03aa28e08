"""The parameter heatmap: one metric over a grid of strategy parameters, best cells marked.

Money metrics use a diverging map centred on 0 (red losses, green gains, a dark neutral
at zero that sits on the chart's dark background), so "every cell loses" reads as such
instead of being stretched into a rainbow; other metrics use the house sequential map,
reversed when lower is better, so brighter always means better. With more than two
parameters each cell of the first two shows the best value over the others (what you
could get there), and the marked best cells say which values of the others gave it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.colors import LinearSegmentedColormap, Normalize, TwoSlopeNorm

from trading.charts import style
from trading.core.numbers import plain

Coord = tuple[int | float, ...]
NEUTRAL = "#3a3f4b"
DIVERGING = LinearSegmentedColormap.from_list("pnl", [style.DOWN, "#8c3436", NEUTRAL, "#1d7264", style.UP])
LOSSES = LinearSegmentedColormap.from_list("losses", [style.DOWN, "#8c3436", NEUTRAL])
GAINS = LinearSegmentedColormap.from_list("gains", [NEUTRAL, "#1d7264", style.UP])
MAX_ANNOTATED = 120  # cells; beyond this the numbers overlap on a phone screen


@dataclass(frozen=True)
class HeatmapData:
    names: tuple[str, ...]
    axes: tuple[tuple[int | float, ...], ...]
    scores: Mapping[Coord, float]  # every grid cell that has a result (full coordinates)
    metric: str  # label with unit, e.g. "net PnL (USDT)"
    higher_is_better: bool = True
    centred: bool = False  # a money metric: diverging around 0
    best: Sequence[Coord] = field(default_factory=list)  # best first
    title: str = ""
    subtitle: str = ""


def render_heatmap(data: HeatmapData) -> bytes:
    """PNG bytes: a heatmap for 2+ parameters, a bar chart for one."""
    if not data.names or not data.scores:
        raise ValueError("a heatmap needs at least one cell with a result")
    with style.styled():
        fig = style.new_figure(style.WIDTH_IN, 4.8 if len(data.names) == 1 else 5.6)
        if len(data.names) == 1:
            _bars(fig, data)
        else:
            _grid(fig, data)
        fig.text(0.02, 0.965, data.title or f"{data.metric} by parameters", fontsize=style.TITLE_SIZE,
                 fontweight="bold", color=style.TEXT, va="center")
        if data.subtitle:
            fig.text(0.02, 0.925, data.subtitle, fontsize=style.FONT_SIZE, color=style.MUTED, va="center")
        return style.to_png(fig)


def _pick(values: list[float], higher: bool) -> float:
    return max(values) if higher else min(values)


def _fmt(v: int | float) -> str:
    return plain(v)


def _cell_text(v: float) -> str:
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}"


def _colours(data: HeatmapData, values: np.ndarray) -> tuple[Any, Any]:
    finite = values[np.isfinite(values)]
    lo, hi = float(finite.min()), float(finite.max())
    if data.centred:
        if lo < 0 < hi:
            return DIVERGING.with_extremes(bad=style.BG), TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi)
        # One sign only: that half of the map, with 0 (neutral) at the end of the scale, so the
        # colour bar reads "all losses" or "all gains" instead of showing an empty other half.
        half = LOSSES if hi <= 0 else GAINS
        return half.with_extremes(bad=style.BG), Normalize(min(lo, 0.0), max(hi, 0.0) or 1e-9)
    cmap = colormaps[style.CMAP if data.higher_is_better else style.CMAP + "_r"].with_extremes(bad=style.BG)
    return cmap, Normalize(lo, hi if hi > lo else lo + 1e-9)


def _matrix(data: HeatmapData) -> np.ndarray:
    """Rows: the first parameter, columns: the second; NaN where no combination is valid."""
    ys, xs = data.axes[0], data.axes[1]
    index = {(y, x): (i, j) for i, y in enumerate(ys) for j, x in enumerate(xs)}
    cells: dict[tuple[int, int], list[float]] = {}
    for coord, v in data.scores.items():
        if math.isfinite(v):
            cells.setdefault(index[coord[0], coord[1]], []).append(v)
    m = np.full((len(ys), len(xs)), np.nan)
    for (i, j), vs in cells.items():
        m[i, j] = _pick(vs, data.higher_is_better)
    return m


def _ticks(ax: Any, axis: str, values: tuple[int | float, ...]) -> None:
    every = max(1, math.ceil(len(values) / (14 if axis == "x" else 10)))
    idx = list(range(0, len(values), every))
    labels = [_fmt(values[i]) for i in idx]
    if axis == "x":
        ax.set_xticks(idx, labels)
    else:
        ax.set_yticks(idx, labels)


def _grid(fig: Any, data: HeatmapData) -> None:
    m = _matrix(data)
    ax = fig.add_axes((0.085, 0.1, 0.76, 0.76))
    cax = fig.add_axes((0.87, 0.1, 0.022, 0.76))
    style.style_axes(ax)
    ax.grid(False)
    cmap, norm = _colours(data, m)
    image = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, norm=norm, origin="lower", aspect="auto",
                      interpolation="nearest")
    ys, xs = data.axes[0], data.axes[1]
    _ticks(ax, "x", xs)
    _ticks(ax, "y", ys)
    ax.set_xlabel(data.names[1], color=style.TEXT)
    ax.set_ylabel(data.names[0], color=style.TEXT)
    bar = fig.colorbar(image, cax=cax)
    bar.outline.set_edgecolor(style.SPINE)
    bar.ax.tick_params(colors=style.MUTED, labelcolor=style.TEXT)
    bar.set_label(data.metric, color=style.TEXT)
    if data.centred and norm.vmin < 0 < norm.vmax:
        bar.ax.axhline(0.0, color=style.TEXT, linewidth=0.8)
    if m.size <= MAX_ANNOTATED:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if np.isfinite(m[i, j]):
                    r, g, b, _ = cmap(norm(m[i, j]))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b > 0.55
                    ax.text(j, i, _cell_text(m[i, j]), ha="center", va="center", fontsize=style.FONT_SIZE - 1.5,
                            color="#111111" if dark else "#f0f0f0")
    yi = {v: i for i, v in enumerate(ys)}
    xi = {v: j for j, v in enumerate(xs)}
    seen: set[tuple[int, int]] = set()
    for rank, coord in enumerate(data.best, 1):
        i, j = yi[coord[0]], xi[coord[1]]
        if (i, j) in seen:
            continue
        seen.add((i, j))
        ax.add_patch(_box(j, i, rank))
        halo = [patheffects.withStroke(linewidth=2.2, foreground="#000000")]
        if m.size > MAX_ANNOTATED:  # no numbers in the cells: the rank goes inside the box
            ax.text(j, i, str(rank), ha="center", va="center", fontsize=style.FONT_SIZE - 0.5,
                    fontweight="bold", color="#ffffff", zorder=4, path_effects=halo)
        else:  # the value is in the middle: the rank in the corner
            ax.text(j - 0.44, i + 0.42, f"#{rank}", ha="left", va="top", fontsize=style.FONT_SIZE - 1.5,
                    fontweight="bold", color="#ffffff", zorder=4, path_effects=halo)
    if len(data.names) > 2:
        ax.set_title(f"each cell: the best over {', '.join(data.names[2:])}", fontsize=style.FONT_SIZE,
                     color=style.MUTED, loc="left")


def _box(j: int, i: int, rank: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#ffffff",
                     linewidth=2.0 if rank == 1 else 1.2, zorder=3)


def _bars(fig: Any, data: HeatmapData) -> None:
    xs = data.axes[0]
    values = np.array([data.scores.get((x,), np.nan) for x in xs], dtype=float)
    ax = fig.add_axes((0.1, 0.14, 0.86, 0.72))
    style.style_axes(ax)
    cmap, norm = _colours(data, values)
    pos = np.arange(len(xs))
    ok = np.isfinite(values)
    colours = [cmap(norm(v)) for v in values[ok]]
    if data.centred:
        colours = [style.UP if v >= 0 else style.DOWN for v in values[ok]]
    ax.bar(pos[ok], values[ok], color=colours, width=0.8, linewidth=0)
    if data.centred:
        ax.axhline(0, color=style.MUTED, linewidth=0.8)
    _ticks(ax, "x", xs)
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_xlabel(data.names[0], color=style.TEXT)
    ax.set_ylabel(data.metric, color=style.TEXT)
    index = {x: k for k, x in enumerate(xs)}
    for rank, coord in enumerate(data.best[:5], 1):
        k = index[coord[0]]
        v = values[k]
        ax.annotate(f"#{rank}", xy=(k, v), xytext=(0, 4 if v >= 0 else -4), textcoords="offset points",
                    ha="center", va="bottom" if v >= 0 else "top", fontsize=style.FONT_SIZE,
                    fontweight="bold", color="#ffffff")
