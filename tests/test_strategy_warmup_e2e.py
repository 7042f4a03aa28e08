"""issue 26: a strategy whose startup_candles is above WARMUP_CANDLES (the README's RsiTrend:
1,000 against 500). The live bot fetches what it declares (startup + its live window) and
says the warm-up used in the start line; the backtest header names where trading starts."""

from __future__ import annotations

import csv

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


def test_the_live_bot_fetches_the_declared_warmup_and_says_it(source, tmp_path) -> None:  # noqa: F811
    spec = write_plugin(tmp_path, RSI_TREND.replace("STARTUP", "400"), "rsi_trend.py") + ":RsiTrend"
    w = World(source, tmp_path, STRATEGY=spec)  # WARMUP_CANDLES=50
    try:
        assert w.engine.internals().trader.warmup("BTCUSDT") == 500  # startup 400 + window_extra 100
        msg = w.reply("/start", "socket started", timeout=30)["text"]
        assert "warm-up 500 candles (the strategy's startup and live window, above WARMUP_CANDLES 50)" in msg
        book = w.engine.internals().trader.books["BTCUSDT"]
        assert len(book.strategy._candles) == 500  # the live window is full from the first decision
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
