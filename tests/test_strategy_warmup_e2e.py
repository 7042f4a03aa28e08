"""issue 26: a strategy whose startup_candles is above WARMUP_CANDLES (the README's RsiTrend:
1,000 against 500). The live bot fetches what it declares (startup + its live window) and
says the warm-up used in the start line; the backtest header names where trading starts."""

from __future__ import annotations

import csv
import threading

from tests.test_backtest_cli import env_file, walk_csv
from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)
from tests.test_frame_strategy import write_plugin
from trading.backtest.__main__ import main as cli

RSI_TREND = '''
import talib
from trading.core.strategies import FrameStrategy, Param, Schema
from trading.core.strategies.frame import MONEY


class RsiTrend(FrameStrategy):
    schema = Schema((
        Param("trend", int, 200, 20, 500, "trend EMA length"),
        Param("rsi_period", int, 14, 2, 50, "RSI length"),
        *MONEY,
    ))
    startup_candles = STARTUP

    def populate(self, df, params):
        df["ema"] = talib.EMA(df["Close"], params["trend"])
        df["rsi"] = talib.RSI(df["Close"], params["rsi_period"])
        up = df["Close"] > df["ema"]
        df["enter_long"] = up & (df["rsi"] < 35)
        df["exit_long"] = df["rsi"] > 65
        df["enter_short"] = ~up & (df["rsi"] > 65)
        df["exit_short"] = df["rsi"] < 35
        return df
'''


class FirstDecision:
    """The candles the trader was warmed on, and the rows the strategy's first decision saw."""

    def __init__(self, rows) -> None:  # type: ignore[no-untyped-def]
        self.path, self.warmed, self.rows, self.done = rows, 0, None, threading.Event()

    def warm(self, symbol, candles) -> None:  # type: ignore[no-untyped-def]
        self.warmed = len(candles)

    def on_candle(self, candle, backfilled) -> None:  # type: ignore[no-untyped-def]
        if not self.done.is_set():
            self.rows = int(self.path.read_text())
            self.done.set()


def test_the_live_bot_fetches_the_declared_warmup_and_says_it(source, tmp_path) -> None:  # noqa: F811
    # the plugin writes down how many rows each populate is given (the last one: the decision's
    # window); a column would be refused by the start's check, which it should be
    rows = tmp_path / "rows.txt"
    counted = f"import pathlib\nROWS = pathlib.Path({str(rows)!r})\n" + RSI_TREND.replace("STARTUP", "400").replace(
        '        df["ema"] =', '        ROWS.write_text(str(len(df)))\n        df["ema"] =')
    spec = write_plugin(tmp_path, counted, "rsi_trend.py") + ":RsiTrend"
    w = World(source, tmp_path, STRATEGY=spec)  # WARMUP_CANDLES=50
    first = FirstDecision(rows)
    w.engine.watch_candles(first)
    try:
        assert w.engine.warmup("BTCUSDT") == 500  # startup 400 + window_extra 100
        msg = w.reply("/start", "socket started", timeout=30)["text"]
        assert "warm-up 500 candles (the strategy's startup and live window, above WARMUP_CANDLES 50)" in msg
        assert first.done.wait(30) and first.warmed == 500
        assert first.rows == 500  # the live window is full from the first decision
    finally:
        w.close()


def test_the_backtest_header_names_the_warmup_actually_used(tmp_path, capsys) -> None:
    spec = write_plugin(tmp_path, RSI_TREND.replace("STARTUP", "1000"), "rsi_trend.py") + ":RsiTrend"
    path = walk_csv(tmp_path, 4000)
    out = tmp_path / "t.csv"
    assert cli(["--csv", str(path), "--strategy", spec, "--env-file", env_file(tmp_path),
                "--trades-out", str(out)]) == 0  # WARMUP_CANDLES: the default 500
    head = capsys.readouterr().out.splitlines()[0]
    assert "3,000 candles traded (after 1,000 warm-up)" in head, head
    with path.open() as f:
        times = [int(r["open_time_ms"]) for r in csv.DictReader(f)]
    rows = list(csv.DictReader(out.open()))
    assert rows and int(rows[0]["open_time_ms"]) > times[1000]
