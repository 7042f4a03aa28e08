"""DataFrame strategies: signal semantics, plugins from a file outside the package, the
look-ahead and window check, and a populate that fails placing nothing and saying so."""

from __future__ import annotations

import textwrap
from decimal import Decimal as D

import numpy as np
import pytest

from bot.texts import check_words, text
from tests.helpers import RecordingNotifier
from trading.backtest import BacktestOptions, run_backtest
from trading.config import ConfigError, load_settings
from trading.core.brokers import PaperBroker
from trading.core.feed import replay
from trading.core.portfolio import Portfolio
from trading.core.strategies import CLOSE, LONG, SHORT, StrategyError, strategy_class
from trading.core.strategies.check import check_strategy, synthetic
from trading.core.strategies.frame import decide
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader

F = SymbolFilters.btcusdt()

# A trader's own strategy, the way docs/strategies.md shows it: kept in a file outside our package.
PLUGIN = '''
import talib
from trading.core.strategies import FrameStrategy, Param, Schema
from trading.core.strategies.frame import MONEY


class Mine(FrameStrategy):
    schema = Schema((Param("fast", int, 10, 2, 100, "fast EMA"), Param("slow", int, 30, 3, 300, "slow EMA"),
                     Param("rsi_period", int, 14, 2, 50, "RSI"), *MONEY))
    startup_candles = 300
    plot = {"ema_fast": "price", "ema_slow": "price", "rsi": "sub"}

    def populate(self, df, params):
        df["ema_fast"] = talib.EMA(df["Close"], params["fast"])
        df["ema_slow"] = talib.EMA(df["Close"], params["slow"])
        df["rsi"] = talib.RSI(df["Close"], params["rsi_period"])
        up = df["ema_fast"] > df["ema_slow"]
        df["enter_long"] = up & ~up.shift(1, fill_value=False)
        df["enter_short"] = ~up & up.shift(1, fill_value=False)
        df["exit_long"] = df["rsi"] > 80
        df["exit_short"] = df["rsi"] < 20
        return df
'''

PEEKS = '''
from trading.core.strategies import FrameStrategy, Schema


class Peeks(FrameStrategy):
    schema = Schema(())
    startup_candles = 5

    def populate(self, df, params):
        nxt = df["Close"].shift(-1)          # tomorrow's close: the classic look-ahead
        df["enter_long"] = nxt > df["Close"]
        df["exit_long"] = False
        df["enter_short"] = nxt < df["Close"]
        df["exit_short"] = False
        return df
'''

SHORT_STARTUP = '''
import talib
from trading.core.strategies import FrameStrategy, Schema


class Hasty(FrameStrategy):
    schema = Schema(())
    startup_candles = 10                     # an EMA(200) needs far more
    window_extra = 20
    plot = {"ema": "price"}

    def populate(self, df, params):
        df["ema"] = df["Close"].ewm(span=200, adjust=False).mean()
        df["enter_long"] = df["Close"] > df["ema"] * 1.01
        df["exit_long"] = False
        df["enter_short"] = df["Close"] < df["ema"] * 0.99
        df["exit_short"] = False
        return df
'''

FAILING = '''
import math
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY


class Fails(FrameStrategy):
    schema = Schema(MONEY)
    startup_candles = 3
    mode = "raise"

    def populate(self, df, params):
        if self.mode == "raise":
            raise ZeroDivisionError("my model divided by zero")
        df["enter_long"] = True if self.mode == "ok" else math.nan
        df["exit_long"] = False
        df["enter_short"] = False
        df["exit_short"] = False
        return df
'''


def write_plugin(tmp_path, source: str, name: str = "mine.py") -> str:
    folder = tmp_path / "strategies"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def trader_for(spec: str, notifier=None) -> Trader:
    p = Portfolio(D("10000"))
    return Trader(symbols=["SYNTH"], interval_ms=900_000, strategy=spec, values=None, filters={"SYNTH": F},
                  portfolio=p, broker=PaperBroker({"SYNTH": F}, D("0.0005"), p), notifier=notifier)


def test_signals_resolve_as_freqtrade_and_entries_against_a_position_reverse() -> None:
    # (enter_long, exit_long, enter_short, exit_short), position → action
    assert decide((1, 0, 0, 0), 0) == LONG
    assert decide((1, 1, 0, 0), 0) is None  # freqtrade: an entry with its own exit is no entry
    assert decide((1, 0, 1, 0), 0) is None  # both entries: neither
    assert decide((0, 0, 1, 0), 0) == SHORT
    assert decide((0, 0, 1, 0), 1) == SHORT  # against the long: reverse
    assert decide((1, 0, 0, 0), -1) == LONG
    assert decide((0, 1, 0, 0), 1) == CLOSE
    assert decide((1, 1, 0, 0), 1) is None  # freqtrade: an exit with its own entry is no exit
    assert decide((0, 1, 0, 0), -1) is None  # a long's exit does not touch a short
    assert decide((0, 0, 0, 1), -1) == CLOSE
    assert decide((1, 0, 0, 0), 1) is None  # already long


def test_plugin_from_a_file_backtests_the_same_as_the_live_path(tmp_path) -> None:
    spec = write_plugin(tmp_path, PLUGIN) + ":Mine"
    candles = synthetic(700)
    cls = strategy_class(spec)
    assert cls.name == spec and [p.name for p in cls.schema.params][:2] == ["fast", "slow"]
    bt = run_backtest(candles, BacktestOptions(strategy=spec, warmup=300, filters=F))
    assert len(bt.trades) >= 3
    # The live path: populate per closed candle on the last startup + window_extra candles.
    live = trader_for(spec)
    replay(live, candles, warmup=300)
    assert [(t.open_time, t.close_time, t.side, t.pnl) for t in live.portfolio.trades] == [
        (t.open_time, t.close_time, t.side, t.pnl) for t in bt.trades
    ]
    assert check_strategy(cls, None, candles).ok


def test_look_ahead_is_caught_at_the_first_differing_candle(tmp_path) -> None:
    spec = write_plugin(tmp_path, PEEKS, "peeks.py") + ":Peeks"
    candles = synthetic(600)
    report = check_strategy(strategy_class(spec), None, candles, samples=30)
    assert not report.ok and report.difference is not None
    # The first compared end candle (signal rows and evenly spaced ones alternately, a signal
    # row first) whose next close is higher or lower than its own (every one, on a random
    # walk): the full history says enter, the history ending there can't.
    window = 5 + 100
    ends = sorted({int(x) for x in np.linspace(window - 1, len(candles) - 1, 30)})
    signalling = [e for e in range(window - 1, len(candles) - 1) if candles[e + 1].close != candles[e].close]
    drawn = sorted({int(round(x)) for x in np.linspace(0, len(signalling) - 1, 30)})
    first = next(signalling[i] for i in drawn if signalling[i] not in ends)
    want = "enter_long" if candles[first + 1].close > candles[first].close else "enter_short"
    assert (report.difference.kind, report.difference.column) == ("look-ahead", want)
    assert report.difference.time == candles[first].open_time
    assert "look-ahead" in check_words(report) and want in check_words(report) and "True" in check_words(report)


def test_too_short_startup_is_caught(tmp_path) -> None:
    spec = write_plugin(tmp_path, SHORT_STARTUP, "hasty.py") + ":Hasty"
    report = check_strategy(strategy_class(spec), None, synthetic(800), samples=20)
    assert not report.ok and report.difference is not None and report.difference.kind == "startup"
    assert "startup too short" in check_words(report) and "startup_candles 10" in check_words(report)


@pytest.mark.parametrize("mode, words", [("raise", "populate raised ZeroDivisionError: my model divided by zero"),
                                         ("nan", "enter_long is NaN")])
def test_a_failing_populate_places_nothing_says_so_once_and_the_stream_goes_on(tmp_path, mode, words) -> None:
    spec = write_plugin(tmp_path, FAILING, f"fails_{mode}.py") + ":Fails"
    strategy_class(spec).impl_cls.mode = mode
    notes = RecordingNotifier()
    t = trader_for(spec, notes)
    candles = synthetic(40)
    replay(t, candles, warmup=5)
    errors = [text(n) for n in notes.notices if n.kind == "strategy_error"]
    assert len(errors) == 1 and words in errors[0] and errors[0].endswith("; no order")
    assert not t.portfolio.trades and not t.portfolio.positions.get("SYNTH") and not t.books["SYNTH"].pending
    assert t.cursor("SYNTH") == candles[-1].open_time  # every candle was still taken in
    failing = t.snapshot().failing["SYNTH"]  # shown while it lasts: since the first, every candle since
    assert (failing.since, failing.candles) == (candles[5].open_time, 35) and words in failing.error
    with pytest.raises(StrategyError, match=words.split(" at")[0]):  # the backtest stops in one line
        run_backtest(candles, BacktestOptions(strategy=spec, warmup=5, filters=F))


def test_plugin_mistakes_are_one_line_and_stop_the_start(tmp_path) -> None:
    good = write_plugin(tmp_path, PLUGIN)
    bad = write_plugin(tmp_path, "import nothing_here\n\n\nclass Mine:\n    pass\n", "bad.py")
    cases = {
        f"{tmp_path}/missing.py:Mine": "no file",
        f"{good}:Nope": "has no class Nope",
        f"{bad}:Mine": "loading " + bad + " raised ModuleNotFoundError",
        "trading.core.strategies.frame:SIGNALS": "has no class SIGNALS",
        "no_such_pkg.mod:Mine": "importing no_such_pkg.mod raised ModuleNotFoundError",
    }
    for spec, words in cases.items():
        with pytest.raises(StrategyError, match=words.replace(".", r"\.")):
            strategy_class(spec)
        with pytest.raises(ConfigError, match="STRATEGY: "):
            load_settings(environ={"STRATEGY": spec}, env_file=None)
    assert load_settings(environ={"STRATEGY": f"{good}:Mine"}, env_file=None).strategy == f"{good}:Mine"


def test_wrong_columns_are_refused(tmp_path) -> None:
    src = FAILING.replace('        df["exit_short"] = False\n', "")
    spec = write_plugin(tmp_path, src, "nocol.py") + ":Fails"
    strategy_class(spec).impl_cls.mode = "ok"
    with pytest.raises(StrategyError, match="populate did not set exit_short"):
        run_backtest(synthetic(30), BacktestOptions(strategy=spec, warmup=5, filters=F))


@pytest.mark.parametrize("name", ["rsi_reversion", "bb_breakout"])
def test_builtins_pass_the_check_and_trade(name) -> None:
    candles = synthetic(3000)
    assert check_strategy(strategy_class(name), None, candles, samples=20).ok
    assert run_backtest(candles, BacktestOptions(strategy=name, warmup=300, filters=F)).trades


def test_the_grid_runs_dataframe_strategies_on_its_fast_path_equal_to_the_shared_backtest() -> None:
    """issue 31: they were run cell by cell through the shared backtest; now one populate per
    signal set and the numpy path, every stat identical (tests/test_optimize.py: real candles)."""
    from dataclasses import asdict

    from trading.optimize import sweep
    from trading.optimize.grid import parse_grid

    candles = synthetic(1500)
    grid = parse_grid(["bb_period=10,20", "bb_std=1.5,2"], strategy_class("bb_breakout").schema)
    result = sweep(candles, grid, BacktestOptions(strategy="bb_breakout", warmup=100, filters=F), workers=1)
    assert len(result.ranked) == 4 and all(c.fast for c in result.cells), {c.note for c in result.cells}
    for cell in result.cells:
        shared = run_backtest(candles, BacktestOptions(strategy="bb_breakout", values=cell.values, warmup=100, filters=F)).stats
        assert asdict(cell.stats) == asdict(shared)


def test_a_switch_takes_effect_at_the_next_candle_warmed_and_keeps_the_position() -> None:
    candles = synthetic(720)
    p = Portfolio(D("10000"))
    t = Trader(symbols=["SYNTH"], interval_ms=900_000, strategy="ema_cross", values={"fast": 3, "slow": 8},
               filters={"SYNTH": F}, portfolio=p, broker=PaperBroker({"SYNTH": F}, D("0.0005"), p), min_warmup=300)
    replay(t, candles[:600], warmup=300)
    held = p.positions["SYNTH"].qty
    assert held  # ema_cross 3/8 on a random walk is always in a position
    t.set_strategy("bb_breakout", strategy_class("bb_breakout").schema.defaults())
    assert t.strategy_name == "ema_cross"  # nothing changes before the next closed candle
    t.on_candle(candles[600], False)
    book = t.books["SYNTH"]
    assert t.strategy_name == "bb_breakout" and type(book.strategy).__name__ == "Frame_BbBreakout"
    assert book.strategy.seen > book.strategy.warmup  # warmed from the history: it decides at once
    assert p.positions["SYNTH"].qty == held or t.books["SYNTH"].pending  # kept (unless bb decided)
    for c in candles[601:]:
        t.on_candle(c, False)
    assert any(tr.open_time > candles[600].open_time for tr in p.trades)
