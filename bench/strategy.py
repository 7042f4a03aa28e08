"""DataFrame strategy benchmark: five TA-Lib indicators, live decisions, a year's backtest, the check.

The strategy (below) computes EMA(50), EMA(200), RSI(14), Bollinger(20, 2), ATR(14) and
MACD(12, 26, 9) with TA-Lib and trades an EMA trend filter with RSI pullbacks. Its live
window is 1,000 candles (startup_candles 900 + window_extra 100), so each live decision
is one populate over 1,000 rows, as the bot runs it per closed candle. Measured:
- live: FrameAdapter.on_candle per closed candle after the warm-up, p50 / p99 (target ≤ 50 ms);
- backtest: run_backtest over a real year of 15m BTCUSDT (one populate, then the trader; target ≤ 1 s);
- check: the look-ahead and window check over the same year (40 end candles).

    .venv/bin/python bench/strategy.py [--data FILE] [--decisions 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import talib  # noqa: E402

from bot.texts import check_words  # noqa: E402
from trading.backtest import BacktestOptions, run_backtest  # noqa: E402
from trading.backtest.data import load_csv_candles  # noqa: E402
from trading.core.strategies import FrameStrategy, Schema  # noqa: E402
from trading.core.strategies.check import check_strategy  # noqa: E402
from trading.core.strategies.frame import MONEY, adapter_for  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
LIVE_TARGET_MS, BACKTEST_TARGET_S = 50.0, 1.0


class FiveIndicators(FrameStrategy):
    schema = Schema(MONEY)
    startup_candles = 900
    window_extra = 100
    plot = {"ema50": "price", "ema200": "price", "rsi": "sub"}

    def populate(self, df, params):  # type: ignore[no-untyped-def]
        close, high, low = df["Close"], df["High"], df["Low"]
        df["ema50"], df["ema200"] = talib.EMA(close, 50), talib.EMA(close, 200)
        df["rsi"] = talib.RSI(close, 14)
        df["bb_upper"], df["bb_mid"], df["bb_lower"] = talib.BBANDS(close, 20, 2.0, 2.0)
        df["atr"] = talib.ATR(high, low, close, 14)
        df["macd"], df["macd_signal"], _ = talib.MACD(close, 12, 26, 9)
        trend_up, calm = df["ema50"] > df["ema200"], df["atr"] < close * 0.01
        df["enter_long"] = trend_up & calm & (df["rsi"] < 40) & (df["macd"] > df["macd_signal"])
        df["exit_long"] = (close > df["bb_upper"]) | (df["rsi"] > 70)
        df["enter_short"] = ~trend_up & calm & (df["rsi"] > 60) & (df["macd"] < df["macd_signal"])
        df["exit_short"] = (close < df["bb_lower"]) | (df["rsi"] < 30)
        return df


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--decisions", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    candles = load_csv_candles(args.data)
    cls = adapter_for(FiveIndicators, "five_indicators")

    live = cls(None)
    live.warm(candles[: live.window])
    lat = []
    for c in candles[live.window : live.window + args.decisions]:
        t0 = time.perf_counter()
        live.on_candle(c, 0)
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]

    runs, result = [], None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        result = _backtest(cls, candles)
        runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    report = check_strategy(cls, None, candles)
    check_s = time.perf_counter() - t0

    print(f"data: {Path(args.data).name}: {len(candles):,} candles · strategy: five TA-Lib indicators "
          f"(EMA×2, RSI, Bollinger, ATR, MACD), live window {live.window:,} candles")
    print(f"live decision per closed candle ({len(lat)}): p50 {p50:.1f} ms · p99 {p99:.1f} ms · "
          f"target ≤ {LIVE_TARGET_MS:.0f} ms: {'met (p99)' if p99 <= LIVE_TARGET_MS else 'NOT met at p99'}")
    med = statistics.median(runs)
    assert result is not None
    print(f"backtest of the year ({args.runs} runs): median {med:.2f} s · best {min(runs):.2f} s · "
          f"{result.stats.trades} trades · target ≤ {BACKTEST_TARGET_S:.0f} s: {'met' if med <= BACKTEST_TARGET_S else 'NOT met'}")
    print(f"check: {check_s:.2f} s · {check_words(report)}")
    return 0


def _backtest(cls, candles):  # type: ignore[no-untyped-def]
    """run_backtest with the bench's class registered under a name (no file to import)."""
    from trading.core import strategies

    strategies.STRATEGIES.setdefault(cls.name, cls)
    return run_backtest(candles, BacktestOptions(strategy=cls.name, warmup=900))


if __name__ == "__main__":
    sys.exit(main())
