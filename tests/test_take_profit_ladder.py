"""Take-profit ladders (issue 29) in the core, paper and the backtest: `take_profit=1.5:50,3:50`
closes 50 % at +1.5 % and the rest at +3 %, each level for its quantity on the step (the
remainder on the last), exit reasons take_profit_1, take_profit_2, …; one level is exactly
take_profit_pct; breakeven_after moves the stop to the entry plus fees once its level
fills; the ledger books each partial close when it happens; the grid hands ladder cells
to the shared backtest."""

from __future__ import annotations

from collections import Counter, deque
from decimal import Decimal

import pytest

from tests.conftest import PERP_15M, shared_file
from trading.backtest import run_backtest
from trading.backtest.data import load_csv_candles
from trading.backtest.options import BacktestOptions
from trading.core.book import Book
from trading.core.candles import Candle
from trading.core.exits import Exits, breakeven, exit_level
from trading.core.strategies import ParamError, make_strategy, strategy_class
from trading.core.strategies.ladder import Ladder, LadderError
from trading.core.symbols import SymbolFilters
from trading.optimize import sweep
from trading.optimize.grid import parse_grid

F = SymbolFilters.btcusdt()
T0 = 1_704_067_200_000
SCHEMA = strategy_class("ema_cross").schema
D = Decimal


def candle(i: int, o: float, h: float, low: float, c: float) -> Candle:
    return Candle("BTCUSDT", "15m", T0 + i * 900_000, T0 + (i + 1) * 900_000 - 1, o, h, low, c, 1.0)


def book(entry: str, side: int, qty: str, **values: object) -> tuple[Exits, Book]:
    exits = Exits({"BTCUSDT": F})
    b = Book("BTCUSDT", make_strategy("none"), deque())
    exits.set(b, D(entry), side, SCHEMA.validate({}, {k: str(v) for k, v in values.items()}), qty=D(qty))
    return exits, b


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    return load_csv_candles(shared_file(PERP_15M))[:3000]


# ----------------------------------------------------------------------------- the parameter
def test_the_ladder_parameter_reads_levels_and_refuses_bad_ones_in_one_line() -> None:
    assert Ladder.parse("1.5:50, 3:50").levels == ((D("1.5"), D(50)), (D(3), D(50)))
    assert Ladder.parse("3").text() == "3" and Ladder.parse("3:100").text() == "3" and Ladder.parse("0").levels == ()
    assert SCHEMA.validate({}, {"take_profit": "1.50:50,3:50"})["take_profit"] == "1.5:50,3:50"
    for bad, words in (("1.5:50,3:40", "add up to 90 %"), ("3:50,1.5:50", "further than the one before"),
                       ("1.5:0,3:100", "share must be above 0"), ("x:50,3:50", "level 'x:50'"),
                       ("1:20,2:20,3:20,4:20,5:10,6:10", "at most 5 levels"), ("600", "at most 500")):  # fmt: skip
        with pytest.raises(LadderError, match=words):
            Ladder.parse(bad)
        with pytest.raises(ParamError, match="take_profit: "):
            SCHEMA.validate({}, {"take_profit": bad})
    with pytest.raises(ParamError, match="set one"):
        SCHEMA.validate({}, {"take_profit": "1.5:50,3:50", "take_profit_pct": "2"})
    with pytest.raises(ParamError, match="breakeven_after=1: needs a take_profit ladder"):
        SCHEMA.validate({}, {"breakeven_after": "1"})
    with pytest.raises(ParamError, match="breakeven_after=2"):
        SCHEMA.validate({}, {"take_profit": "1.5:50,3:50", "breakeven_after": "2"})
    for name in ("take_profit", "breakeven_after"):  # every money schema has them (DataFrame strategies too)
        assert name in strategy_class("rsi_reversion").schema.names()


def test_a_grid_refuses_a_ladder_axis_in_one_line() -> None:
    from trading.optimize.grid import GridError

    with pytest.raises(GridError, match="take_profit is a take-profit ladder"):
        parse_grid(["take_profit=1,2"], SCHEMA)


# ----------------------------------------------------------------------------- the levels
def test_each_level_rests_for_its_share_on_the_step_and_the_last_takes_the_remainder() -> None:
    _, b = book("100", 1, "0.015", take_profit="1.5:50,3:50")
    # 50 % of 0.015 is 0.0075: 0.007 on the 0.001 step; the remainder 0.008 on the last level
    assert b.rungs == ((1, D("101.5"), D("0.007")), (2, D("103.0"), D("0.008")))
    assert (b.take, b.hit) == (D("101.5"), 0)
    _, b = book("100", -1, "0.010", take_profit="1:30,2:30,3:40")
    assert b.rungs == ((1, D("99.0"), D("0.003")), (2, D("98.0"), D("0.003")), (3, D("97.0"), D("0.004")))
    _, b = book("100", 1, "0.002", take_profit="1:10,2:90")  # 10 % of 0.002 is below the step: all on level 2
    assert b.rungs == ((2, D("102.0"), D("0.002")),)


def test_one_level_is_exactly_take_profit_pct(candles: list[Candle]) -> None:
    _, one = book("68459.1", 1, "0.01", take_profit="1.5")
    _, pct = book("68459.1", 1, "0.01", take_profit_pct="1.5")
    assert (one.take, one.rungs) == (pct.take, ()) == (exit_level(F, D("68459.1"), 1, D("1.5"), "tp"), ())
    base = {"fast": "5", "slow": "13", "stop_loss_pct": "1"}
    a = run_backtest(candles, BacktestOptions(values=SCHEMA.validate({}, {**base, "take_profit": "1.5"}), warmup=200))
    b = run_backtest(candles, BacktestOptions(values=SCHEMA.validate({}, {**base, "take_profit_pct": "1.5"}), warmup=200))
    assert a.trades == b.trades and a.trader.portfolio.balance == b.trader.portfolio.balance
    assert {t.exit_reason for t in a.trades} >= {"take_profit", "stop_loss"}


def test_a_candle_reaching_both_levels_fills_both_and_the_stop_wins_over_them() -> None:
    ex, b = book("100", 1, "0.010", take_profit="1:50,2:50", stop_loss_pct=1)
    assert ex.hits(b, candle(0, 100, 101.5, 99.5, 101), True) == [("take_profit_1", D("101.0"), D("0.005"))]
    ex.filled(b, 1, True)
    assert (b.take, b.hit) == (D("102.0"), 1)
    assert ex.hits(b, candle(1, 101, 102.5, 100.5, 102), True) == [("take_profit_2", D("102.0"), None)]  # the rest
    ex, b = book("100", 1, "0.010", take_profit="1:50,2:50", stop_loss_pct=1)
    assert ex.hits(b, candle(0, 100, 102.5, 99.8, 102), True) == [
        ("take_profit_1", D("101.0"), D("0.005")), ("take_profit_2", D("102.0"), None)]  # fmt: skip
    assert ex.hits(b, candle(0, 100, 102.5, 98.9, 102), True) == [("stop_loss", D("99.0"), None)]  # both: the stop
    assert ex.hits(b, candle(0, 101.5, 101.8, 101.2, 101.6), True) == [("take_profit_1", D("101.5"), D("0.005"))]  # gap


def test_breakeven_after_moves_the_stop_to_the_entry_plus_fees_from_the_next_candle() -> None:
    ex, b = book("100", 1, "0.010", take_profit="1:50,2:50", stop_loss_pct=1, breakeven_after=1)
    be = breakeven(F, D(100), 1, ex.fee_rate)
    assert be == D("100.1")  # 100 × (1 + 2 × 0.05 %), on the tick away from the entry
    hit = ex.hits(b, candle(0, 100, 101.2, 99.9, 100.05), True)  # the low 99.9 came first (closed up)…
    assert hit == [("take_profit_1", D("101.0"), D("0.005"))]  # …and the range does not say when: next candle on
    assert ex.filled(b, 1, True) == be and (b.stop, b.stop_f) == (be, float(be))
    assert ex.filled(b, 1, True) is None  # said once: already there
    assert ex.hits(b, candle(1, 100.5, 100.6, 100.0, 100.2), True) == [("stop_loss", be, None)]
    ex, s = book("100", -1, "0.010", take_profit="1:50,2:50", breakeven_after=1)  # a short: below the entry
    assert s.stop is None and ex.filled(s, 1, False) == D("99.9")


def test_the_ladders_progress_survives_a_restart_and_a_set_that_keeps_it() -> None:
    ex, b = book("100", 1, "0.010", take_profit="1:50,2:50", breakeven_after=1)
    ex.filled(b, 1, True)
    again = Book("BTCUSDT", make_strategy("none"), deque())
    again.restore(b.state())
    assert (again.rungs, again.hit, again.ladder, again.be_after, again.stop, again.take) == (
        b.rungs, 1, "1:50,2:50", 1, b.stop, D("102.0"))  # fmt: skip
    # /set of another parameter: the same ladder keeps its filled level and its breakeven stop
    ex.set(again, D(100), 1, SCHEMA.validate({}, {"take_profit": "1:50,2:50", "breakeven_after": "1", "fast": "9"}),
           keep=True, qty=D("0.005"))  # fmt: skip
    assert (again.hit, again.take, again.stop) == (1, D("102.0"), b.stop)
    # a new ladder starts over on what is open
    ex.set(again, D(100), 1, SCHEMA.validate({}, {"take_profit": "3:50,4:50"}), keep=True, qty=D("0.005"))
    assert (again.hit, again.rungs, again.stop) == (0, ((1, D("103.0"), D("0.002")), (2, D("104.0"), D("0.003"))), None)


# ----------------------------------------------------------------------------- the backtest
@pytest.mark.parametrize("hedge", [False, True])
def test_the_backtest_closes_each_part_at_its_level_and_books_it_when_it_happens(candles, hedge) -> None:
    values = SCHEMA.validate({}, {"fast": "5", "slow": "13", "take_profit": "0.8:50,1.5:50", "stop_loss_pct": "1"})
    res = run_backtest(candles, BacktestOptions(values=values, warmup=200, hedge=hedge))
    reasons = Counter(t.exit_reason for t in res.trades)
    assert reasons["take_profit_2"] > 10 and reasons["stop_loss"] > 3, reasons
    fills = res.trader.portfolio.ledger.entries
    by_close = {}
    for t in res.trades:
        by_close.setdefault((t.close_time, t.position_side), t)
    partial = 0
    for t in res.trades:
        if t.exit_reason != "take_profit_2":
            continue
        long = t.side == "long"
        first = exit_level(F, t.entry_price, 1 if long else -1, D("0.8"), "tp")
        second = exit_level(F, t.entry_price, 1 if long else -1, D("1.5"), "tp")
        half = F.floor_qty(t.qty / 2)
        # the average exit of the two parts, each at its level (or the open of a gapped candle)
        expected = (half * first + (t.qty - half) * second) / t.qty
        if t.exit_price == expected:
            partial += 1
    assert partial >= reasons["take_profit_2"] * 0.8, (partial, reasons)
    # each partial close is its own ledger entry with its gross at its time: the ledger sums to the wallet
    tp1 = [e for e in fills if e.kind == "fill" and e.gross and not e.closed and e.qty]
    assert len(tp1) >= reasons["take_profit_2"]
    assert res.trader.portfolio.initial + sum((e.net for e in fills), D(0)) == res.trader.portfolio.balance
    if hedge:
        assert {t.position_side for t in res.trades} == {"LONG", "SHORT"}


def test_the_grid_hands_ladder_cells_to_the_shared_backtest_and_one_level_to_the_fast_path(candles) -> None:
    grid = parse_grid(["fast=5,8"], SCHEMA)
    ladder = sweep(candles, grid, BacktestOptions(values={"slow": 13, "take_profit": "0.8:50,1.5:50"}), verify=0)
    assert {c.note for c in ladder.cells} == {"a take-profit ladder"} and not any(c.fast for c in ladder.cells)
    trail = sweep(candles, grid, BacktestOptions(values={"slow": 13, "trailing_stop_pct": 0.5}), verify=0)
    assert {c.note for c in trail.cells} == {"the trailing stop is on"}
    one = sweep(candles, grid, BacktestOptions(values={"slow": 13, "take_profit": "1.5"}), verify=0)
    assert all(c.fast for c in one.cells)
    for result in (ladder, trail, one):
        for c in result.cells:
            shared = run_backtest(candles, BacktestOptions(values=c.values)).stats
            assert (c.stats.trades, c.stats.net_pnl, c.stats.final_balance) == (
                shared.trades, shared.net_pnl, shared.final_balance)  # fmt: skip
