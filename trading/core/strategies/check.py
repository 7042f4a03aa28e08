"""The look-ahead and window check: does `populate` decide each candle from the past alone,
and from no more past than the live bot gives it?

The backtest runs `populate` once over the whole history and the live bot runs it on the
last `startup_candles + window_extra` candles; both act on the same candle only if its row
is the same either way. So: populate over the full history, then over histories cut at
sampled end candles and over live-length windows ending there, and compare the end row:
the signals exactly, the plotted indicators to 0.1 %.
- cut history differs → look-ahead: the row used candles after it (shift(-1), a centred
  window, a normalisation by the whole column's max, ...);
- only the live window differs → startup too short: a recursive indicator (EMA, RSI, ATR)
  has not forgotten its seed within the window; raise startup_candles.
The first sampled candle and column that differ are reported. freqtrade has the same
idea as two manual commands (lookahead-analysis, recursive-analysis); here it runs on
every live start and switch, and as `python -m trading.backtest --check`.

Where: evenly spaced end candles, and the candles where the full history signals (every
one, or an even draw from them when there are more), as freqtrade's lookahead-analysis
verifies each entry and exit signal: a strategy that signals on 1 % of the rows and peeks
on them is invisible to evenly spaced ends alone. The two kinds are compared alternately
within a time budget (`seconds`), so a slow populate bounds the check, and the report says
how many candles of each kind were compared.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trading.core.candles import Candle
from trading.core.strategies.frame import (
    SIGNALS,
    FrameAdapter,
    StrategyError,
    frame_of,
    nan_check,
    run_populate,
)

SAMPLES = 40
REL_TOL = 1e-3
SECONDS = 30.0  # the CLI's budget
LIVE_SECONDS = 10.0  # a live start's or a /strategy switch's


@dataclass(frozen=True)
class Difference:
    kind: str  # "look-ahead" | "startup"
    time: int  # open time of the end candle whose row differs
    column: str
    full: float
    other: float


@dataclass(frozen=True)
class CheckReport:
    strategy: str
    ok: bool
    ends: int  # end candles compared
    window: int  # live window length
    startup: int
    seconds: float
    difference: Difference | None = None
    note: str = ""
    signal_ends: int = 0  # of `ends`, candles where the full history signals
    signal_rows: int = 0  # candles where the full history signals, in all
    planned: int = 0  # end candles the check meant to compare (fewer when the budget ran out)
    error: str = ""  # the check could not run: what it raised
    # bot/texts.check_words says it (the chat, the backtest CLI); a log shows its fields


def check_strategy(cls: type, values: dict | None, candles: Sequence[Candle], samples: int = SAMPLES,
                   seconds: float = SECONDS, progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Compare end rows as described above: `samples` evenly spaced end candles and as many
    drawn from the signal rows, alternately, until `seconds` have passed (the full-history
    populate and the first pair of ends always run); `progress(done, planned)` after each.
    StrategyError if populate fails outright, ValueError if there are too few candles."""
    t0 = time.perf_counter()
    st = cls(values)
    name = getattr(cls, "name", cls.__name__)
    if not isinstance(st, FrameAdapter):
        return CheckReport(name, True, 0, 0, 0, 0.0, note="incremental (on_candle sees one candle at a time): "
                           "nothing to check")
    n, window, startup = len(candles), st.window, st.startup
    if n < window + 2:
        raise ValueError(f"the check needs more than {window + 1} candles (startup {startup} + live rows), got {n}")
    frame = frame_of(candles)
    full_raw, full = run_populate(st.impl, frame.copy(), st.values)
    nan_check(full_raw, full, startup)
    plotted = [c for c in st.plot if c in full.columns]
    scale = {c: float(np.nanmedian(np.abs(full[c].to_numpy(dtype=float)))) if full[c].notna().any() else 0.0
             for c in plotted}
    even = sorted({int(x) for x in np.linspace(window - 1, n - 1, max(2, samples))})
    signalling = np.flatnonzero(np.nan_to_num(full_raw[window - 1 :]).astype(bool).any(axis=1)) + window - 1
    evenly = set(even)
    at_signals = [e for e in _draw(signalling, samples) if e not in evenly]
    ends = _alternate(at_signals, even)
    checked = signal_checked = 0
    for e in ends:
        if checked >= 2 and time.perf_counter() - t0 > seconds:
            break
        for kind, lo in (("look-ahead", 0), ("startup", e + 1 - window)):
            raw, out = run_populate(st.impl, frame.iloc[lo : e + 1].copy(), st.values, tail=1)
            nan_check(raw, out.iloc[-1:], 0)
            d = _first_difference(kind, candles[e].open_time, full_raw[e], raw[-1], full, out, e, plotted, scale)
            if d is not None:
                return CheckReport(name, False, checked + 1, window, startup, time.perf_counter() - t0, d,
                                   signal_ends=signal_checked + (e in at_signals), signal_rows=len(signalling),
                                   planned=len(ends))  # fmt: skip
        checked += 1
        signal_checked += e in at_signals
        if progress is not None:
            progress(checked, len(ends))
    return CheckReport(name, True, checked, window, startup, time.perf_counter() - t0, signal_ends=signal_checked,
                       signal_rows=len(signalling), planned=len(ends))  # fmt: skip


def _draw(rows: np.ndarray, k: int) -> list[int]:
    """Every signal row, or `k` drawn evenly over them (deterministic: the same data, the
    same candles checked)."""
    if len(rows) <= k:
        return [int(r) for r in rows]
    return [int(rows[i]) for i in sorted({int(round(x)) for x in np.linspace(0, len(rows) - 1, k)})]


def _alternate(a: list[int], b: list[int]) -> list[int]:
    """a[0], b[0], a[1], b[1], …: cut short by the budget, both kinds are still compared."""
    out: list[int] = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out


def _first_difference(kind: str, when: int, want: np.ndarray, got: np.ndarray, full: pd.DataFrame,
                      cut: pd.DataFrame, e: int, plotted: list[str], scale: dict[str, float]) -> Difference | None:
    for j, col in enumerate(SIGNALS):
        if bool(want[j]) != bool(got[j]):
            return Difference(kind, when, col, float(want[j]), float(got[j]))
    for col in plotted:
        a, b = float(full[col].iloc[e]), float(cut[col].iloc[-1]) if col in cut.columns else math.nan
        if math.isnan(a) and math.isnan(b):
            continue
        if math.isnan(a) or math.isnan(b) or abs(a - b) > REL_TOL * max(abs(a), abs(b), scale[col]):
            return Difference(kind, when, col, a, b)
    return None


def live_check(cls: type, values: dict | None, stored: Sequence[Candle], samples: int = 20,
               seconds: float = LIVE_SECONDS, progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """The check a live start or /strategy switch runs: on the stored candles when there are
    enough (the last 3,000 at most), else on a synthetic random walk (deterministic):
    look-ahead and a short window show on any prices. Bounded by `seconds` (a populate that
    takes seconds checks fewer candles, and the line says how many)."""
    name = getattr(cls, "name", cls.__name__)
    try:
        st = cls(values)
    except StrategyError as e:
        return CheckReport(name, False, 0, 0, 0, 0.0, note=f"failed: {e}")
    need = getattr(st, "window", 0) + samples + 2
    candles = list(stored[-max(3000, need):]) if len(stored) >= need else synthetic(max(need, 1000))
    try:
        return check_strategy(cls, values, candles, samples, seconds, progress)
    except StrategyError as e:
        return CheckReport(name, False, 0, getattr(st, "window", 0), getattr(st, "startup", 0), 0.0,
                           note=f"populate failed: {e}")


def synthetic(n: int, seed: int = 22, start: float = 30_000.0, interval_ms: int = 900_000) -> list[Candle]:
    """A geometric random walk of n 15m candles (0.3 % a candle), for checks without data."""
    rng = random.Random(seed)
    out, price, t0 = [], start, 1_700_000_000_000 // interval_ms * interval_ms
    for i in range(n):
        o = price
        c = o * math.exp(rng.gauss(0.0, 0.003))
        h, lo = max(o, c) * (1 + abs(rng.gauss(0, 0.001))), min(o, c) * (1 - abs(rng.gauss(0, 0.001)))
        t = t0 + i * interval_ms
        out.append(Candle("SYNTH", "15m", t, t + interval_ms - 1, round(o, 2), round(h, 2), round(lo, 2),
                          round(c, 2), round(rng.uniform(50, 500), 3)))
        price = c
    return out
