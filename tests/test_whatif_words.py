"""A what-if's window, what it ran without and its heatmap's title are data from
trading/live/whatif.py worded by bot/texts.py (issue 27), in the words they had."""

from __future__ import annotations

from types import SimpleNamespace

from bot.texts import left_out_line, optimize_chart_words, period_title, period_words
from trading.live.whatif import LeftOut, Optimization, Period
from trading.optimize.grid import Grid

DAY, IV = 86_400_000, 900_000
T0 = 1_730_000_000_000 // IV * IV  # 2024-10-27 03:30 UTC


def test_a_full_window_and_a_short_one() -> None:
    full = Period(7, T0, T0 + 7 * DAY - IV, 672, IV, short=False)
    assert period_title(full) == "last 7 days"
    assert period_words(full, 7) == "last 7 days: 2024-10-27 03:30 → 2024-11-03 03:15 UTC · 672 candles"
    short = Period(365, T0, T0 + 48 * IV, 49, IV, short=True)
    assert period_title(short) == "0.5 days (asked 365)"
    assert period_words(short, 365) == (
        "asked 365 days; the history available leaves 0.5 days to trade after the warm-up: "
        "2024-10-27 03:30 → 2024-10-27 15:30 UTC · 49 candles"
    )
    assert period_words(None, 30) == "last 30 days"


def test_what_a_run_left_out_and_the_heatmaps_title() -> None:
    assert left_out_line(LeftOut("funding", "HTTP 403")) == (
        "without funding: the exchange did not answer GET /fapi/v1/fundingRate (HTTP 403)"
    )
    grid = Grid(("fast", "slow"), ((5, 9, 12), (21, 50)))
    opt = Optimization(7, "BTCUSDT", "15m", SimpleNamespace(grid=grid), "ema_cross",  # type: ignore[arg-type]
                       period=Period(7, T0, T0 + 7 * DAY - IV, 672, IV, short=False))  # fmt: skip
    assert optimize_chart_words(opt) == ("ema_cross · BTCUSDT 15m · last 7 days", "fast (3) × slow (2) = 6 combinations")
