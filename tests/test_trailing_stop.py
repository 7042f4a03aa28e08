"""The trailing stop in paper and the backtest (issue 29): Binance's rules (callbackRate from
the best price since activatePrice; without it, from the entry) read on each candle's
high/low in the documented order: the open, the stops as they stood, the take-profit, then
the high moves the stop and the low may reach it in the same candle."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest

from tests.conftest import PERP_15M, shared_file
from trading.backtest import run_backtest
from trading.backtest.data import load_csv_candles
from trading.backtest.options import BacktestOptions
from trading.core.book import Book
from trading.core.candles import Candle
from trading.core.exits import Exits
from trading.core.strategies import ParamError, make_strategy, strategy_class
from trading.core.symbols import SymbolFilters

F = SymbolFilters.btcusdt()
T0 = 1_704_067_200_000


def candle(i: int, o: float, h: float, low: float, c: float) -> Candle:
    return Candle("BTCUSDT", "15m", T0 + i * 900_000, T0 + (i + 1) * 900_000 - 1, o, h, low, c, 1.0)


def book(entry: str, side: int, **values: float) -> tuple[Exits, Book]:
    exits = Exits({"BTCUSDT": F})
    b = Book("BTCUSDT", make_strategy("none"), deque())
    exits.set(b, Decimal(entry), side, values)
    return exits, b


def test_a_candle_that_activates_and_falls_back_by_the_callback_closes_in_that_candle_when_it_closed_down() -> None:
    ex, b = book("100", 1, trailing_stop_pct=1, trailing_activation_pct=2)
    assert b.trail_act == Decimal("102.0") and b.trail_best is None
    assert ex.touched(b, candle(0, 100, 101.5, 99.5, 101), True) is None  # below the activation: nothing
    assert b.trail_best is None
    # closed down: open → high → low → close. The high 103 activates (≥ 102), the stop is
    # 103 × 0.99 = 101.97 → 102.0 on the tick; the fall to the low 101.9 reaches it
    assert ex.touched(b, candle(1, 101, 103, 101.9, 101.95), True) == ("trailing_stop", Decimal("102.0"))
    # closed up: open → low → high → close. The low came before the activation: still open
    ex, b = book("100", 1, trailing_stop_pct=1, trailing_activation_pct=2)
    assert ex.touched(b, candle(1, 101, 103, 101.9, 102.5), True) is None
    assert b.trail_best == Decimal("103") and ex.trailed(b, True) == Decimal("102.0")


def test_the_stop_follows_the_best_price_and_a_gap_fills_at_the_open() -> None:
    ex, b = book("100", 1, trailing_stop_pct=1, trailing_activation_pct=2)
    assert ex.touched(b, candle(0, 101, 103, 100.5, 102.5), True) is None  # low first, then activated at 103
    assert b.trail_best == Decimal("103")
    assert ex.touched(b, candle(1, 102.5, 104, 102.4, 103.5), True) is None  # low 102.4 > 102.0, then best 104
    assert ex.trailed(b, True) == Decimal("103.0")
    assert ex.touched(b, candle(2, 103.5, 103.8, 102.9, 103), True) == ("trailing_stop", Decimal("103.0"))
    ex, b = book("100", 1, trailing_stop_pct=1, trailing_activation_pct=2)
    ex.touched(b, candle(0, 101, 103, 100.5, 102.5), True)
    assert ex.touched(b, candle(1, 101.5, 102, 101, 101.2), True) == ("trailing_stop", Decimal("101.5"))  # gapped


def test_without_activation_it_trails_from_the_entry_and_a_short_mirrors_it() -> None:
    ex, b = book("100", 1, trailing_stop_pct=1)
    assert b.trail_best == Decimal("100") and ex.trailed(b, True) == Decimal("99.0")
    assert ex.touched(b, candle(0, 100, 100.5, 99.6, 100), True) is None  # 100 → 99.6 → 100.5: stop 99.495 → 99.5
    assert ex.trailed(b, True) == Decimal("99.5")
    ex, b = book("100", -1, trailing_stop_pct=2, trailing_activation_pct=1)
    assert b.trail_act == Decimal("99.0")
    assert ex.touched(b, candle(0, 100, 100.5, 99.5, 100), False) is None
    # closed up (99.5 → 97 → 99.2 → 99.1): the low 97 activates (≤ 99), the stop 97 × 1.02 = 98.94 → 98.9,
    # and the rise to 99.2 reaches it in the same candle
    assert ex.touched(b, candle(1, 99.5, 99.2, 97, 99.6), False) == ("trailing_stop", Decimal("98.9"))


def test_the_nearer_stop_fires_and_the_path_decides_against_the_take_profit() -> None:
    ex, b = book("100", 1, trailing_stop_pct=1, stop_loss_pct=0.5, take_profit_pct=3)
    assert ex.touched(b, candle(0, 100, 103.5, 99, 99.5), True) == ("take_profit", Decimal("103.0"))  # closed down: high first
    ex, b = book("100", 1, trailing_stop_pct=1, stop_loss_pct=0.5, take_profit_pct=3)
    assert ex.touched(b, candle(0, 100, 103.5, 99, 100), True) == ("stop_loss", Decimal("99.5"))  # closed up: low first
    ex, b = book("100", 1, trailing_stop_pct=1, stop_loss_pct=2)
    ex.touched(b, candle(0, 100, 102, 101.5, 101.8), True)  # trail 100.98 → 101.0, above the fixed 98
    assert ex.touched(b, candle(1, 101.5, 101.6, 97, 98), True) == ("trailing_stop", Decimal("101.0"))


def test_the_trailing_state_is_kept_across_a_restart() -> None:
    ex, b = book("100", 1, trailing_stop_pct=1, trailing_activation_pct=2)
    ex.touched(b, candle(0, 101, 103, 102.1, 102.5), True)
    again = Book("BTCUSDT", make_strategy("none"), deque())
    again.restore(b.state())
    assert (again.trail, again.trail_act, again.trail_best) == (b.trail, b.trail_act, b.trail_best)
    b.flat()
    assert (b.trail, b.trail_act, b.trail_best) == (None, None, None)


def test_callback_rate_is_binances_range() -> None:
    schema = strategy_class("ema_cross").schema
    assert schema.validate({}, {"trailing_stop_pct": "0.1"})["trailing_stop_pct"] == 0.1
    for bad in ("0.05", "10.5"):
        with pytest.raises(ParamError, match="trailing_stop_pct"):
            schema.validate({}, {"trailing_stop_pct": bad})


@pytest.mark.parametrize("hedge", [False, True])
def test_the_backtest_exits_by_the_trailing_stop_where_the_candles_say(hedge: bool) -> None:
    """One-way, and Hedge Mode where each leg has its own trailing stop (book.legs)."""
    candles = load_csv_candles(shared_file(PERP_15M))[:3000]
    values = {"fast": 5, "slow": 13, "trailing_stop_pct": 0.5}
    res = run_backtest(candles, BacktestOptions(values=values, warmup=200, hedge=hedge))
    trailed = [t for t in res.trades if t.exit_reason == "trailing_stop"]
    assert len(trailed) > 10
    assert {t.position_side for t in trailed} == ({"LONG", "SHORT"} if hedge else {"BOTH"})
    by_open = {c.open_time: i for i, c in enumerate(candles)}
    r = Decimal("0.005")

    def level(entry: Decimal, long: bool, span) -> Decimal:  # the stop from the best price over `span`
        best = entry
        for c in span:
            p = Decimal(repr(c.high if long else c.low))
            best = max(best, p) if long else min(best, p)
        return F.round_price(best * (1 - r) if long else best * (1 + r))

    for t in trailed:
        i, j = by_open[t.open_time], by_open[t.close_time]
        long = t.side == "long"
        before, within = level(t.entry_price, long, candles[i:j]), level(t.entry_price, long, candles[i : j + 1])
        allowed = {before, within, Decimal(repr(candles[j].open))}  # as it stood, moved by the exit candle, a gap
        assert t.exit_price in allowed, (t, allowed)
