"""/chart with 200 candles: the render alone, and the whole command through the local Bot API.

Target: render p50 ≤ 300 ms. Real BTCUSDT 15m candles from ../shared/data, the default
strategy's indicators with an RSI panel, fills from a paper backtest of the same candles,
an open position's levels. Run: .venv/bin/python bench/chart.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_charts import traded  # noqa: E402  (a trader that records its fills)
from trading.backtest.data import load_csv_candles  # noqa: E402
from trading.charts.candles import render_candles  # noqa: E402
from trading.charts.data import Levels, candle_chart  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
TARGET_MS = 300.0
N = 200
VALUES = {"fast": 9, "slow": 21, "rsi_period": 14, "stop_loss_pct": 1.5, "take_profit_pct": 3.0}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def report(name: str, ms: list[float]) -> None:
    p50 = statistics.median(ms)
    print(f"{name:<44} p50 {p50:7.1f} ms   p99 {pct(ms, 0.99):7.1f} ms   "
          f"max {max(ms):7.1f} ms   p50/target {p50 / TARGET_MS:.2f}")


def bench_render(runs: int) -> None:
    candles = load_csv_candles(DATA)[:3000]
    trader, fills = traded(candles, VALUES)
    last = candles[-1].close
    levels = Levels("long", last, last * 0.985, last * 1.03)
    times = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        chart = candle_chart(symbol="BTCUSDT", interval="15m", mode="paper", candles=candles[-(N + 150):], n=N,
                             strategy="ema_cross", values=trader.values, fills=fills, levels=levels)
        png = render_candles(chart)
        if i >= 3:  # the first renders load fonts and caches
            times.append((time.perf_counter() - t0) * 1000)
    report(f"render /chart {N} (data + draw + PNG, {len(png) // 1024} KB)", times)


def bench_command(runs: int) -> None:
    from sim.binance import load_csv
    from tests.test_bot_e2e import GROUP, World

    w = World(load_csv(DATA), Path(tempfile.mkdtemp()), seconds_per_candle=0.002, CONFIRM_ORDERS="off")
    try:
        w.reply(f"/set fast={VALUES['fast']} slow={VALUES['slow']} rsi_period=14", "Parameters changed")
        w.reply("/start", "Starting")
        assert w.engine.wait_stream(lambda s: s.closed_candles >= N, timeout=60)
        w.engine.stop()
        times = []
        for i in range(runs + 2):
            mark = w.api.mark()
            t0 = time.perf_counter()
            w.api.send_message(GROUP, 1001, f"/chart {N}")
            call = w.api.wait_for(lambda c: c.method == "sendPhoto", timeout=30, start=mark)
            assert call is not None and call.ok
            if i >= 2:
                times.append((time.perf_counter() - t0) * 1000)
        report(f"/chart {N} update → photo at the Bot API", times)
    finally:
        w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--render-only", action="store_true")
    args = ap.parse_args()
    if not DATA.is_file():
        sys.exit(f"missing {DATA}")
    bench_render(args.runs)
    if not args.render_only:
        bench_command(max(10, args.runs // 2))


if __name__ == "__main__":
    main()
