"""Ingest benchmark: the whole live path at max speed.

replay exchange (its own process, max speed) → websocket → websocket-client thread →
parse → forming/closed candle → SQLite upsert of closed candles → strategy hook.

Prints messages/s and per-message processing latency (p50/p99/p99.9/max, measured inside
the stream's on_message: parse + in-memory update + SQLite upsert for closed candles),
then the same run with websocket-client's default UTF-8 validation switched back on, to
show what that one option costs.

    .venv/bin/python bench/ingest.py [--candles 20000] [--data FILE]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.binance import ReplayExchange, load_csv  # noqa: E402
from trading.config import load_settings  # noqa: E402
from trading.core.events import LoggingNotifier  # noqa: E402
from trading.live.feed import kline_stream  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_5m_won9892000.csv.gz"
START = 600
UPDATES_PER_CANDLE = 4  # + 1 closed update = 5 messages per candle


def serve(data: str, conn) -> None:  # type: ignore[no-untyped-def]
    """Child process: the exchange, paused until the client is connected."""
    candles = load_csv(data) if data else None
    ex = ReplayExchange(
        candles,
        start_index=START,
        seconds_per_candle=0,
        updates_per_candle=UPDATES_PER_CANDLE,
        paused=True,
        interval=None if candles else "15m",
        queue_size=4096,
    ).start()
    conn.send((ex.rest_url, ex.ws_url, ex.interval, len(ex.candles)))
    while True:
        cmd = conn.recv()
        if cmd == "resume":
            ex.resume()
        elif cmd == "stop":
            ex.stop()
            conn.send("stopped")
            return


def percentile(sorted_values: list[int], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k] / 1000.0  # ns → µs


def run(data: str, candles: int, utf8_validation: bool) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(data, child), daemon=True)
    proc.start()
    rest_url, ws_url, interval, total = parent.recv()
    candles = min(candles, total - START - 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={
                "BINANCE_REST_URL": rest_url,
                "BINANCE_WS_URL": ws_url,
                "INTERVAL": interval,
                "DB_PATH": os.path.join(tmp, "bench.sqlite"),
                "WARMUP_CANDLES": "500",
                "STREAM_STALE_SECONDS": "30",
            },
            env_file=None,
        )
        lat_all: list[int] = []
        lat_closed: list[int] = []

        def record(ns: int, closed: bool) -> None:
            lat_all.append(ns)
            if closed:
                lat_closed.append(ns)

        stream = kline_stream(settings, LoggingNotifier(), latency_recorder=record)
        stream.run_options["skip_utf8_validation"] = not utf8_validation
        stream.start()
        assert stream.wait_until(lambda s: s.connected and len(s.last_closed) > 0, timeout=30), "no connection"
        base_msgs = stream.status().messages
        lat_all.clear()
        lat_closed.clear()
        parent.send("resume")
        t0 = time.perf_counter()
        target_closed = stream.status().closed_candles + candles
        ok = stream.wait_until(lambda s: s.closed_candles >= target_closed, timeout=600)
        elapsed = time.perf_counter() - t0
        st = stream.status()
        stream.stop()
        parent.send("stop")
        parent.recv()
        proc.join(5)
        if not ok:
            raise SystemExit(f"did not receive {candles} candles; got {st.closed_candles}")
        msgs = st.messages - base_msgs
        closed = sorted(lat_closed)
        everything = sorted(lat_all)
        return {
            "messages": msgs,
            "seconds": elapsed,
            "rate": msgs / elapsed,
            "p50": percentile(everything, 50),
            "p99": percentile(everything, 99),
            "p999": percentile(everything, 99.9),
            "max": everything[-1] / 1000.0,
            "closed_p50": percentile(closed, 50),
            "closed_p99": percentile(closed, 99),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=20_000, help="closed candles to replay (×5 messages)")
    parser.add_argument("--data", default=str(DEFAULT_DATA) if DEFAULT_DATA.exists() else "", help="CSV to replay")
    parser.add_argument("--skip-default", action="store_true", help="skip the websocket-client-defaults comparison run")
    args = parser.parse_args()
    src = Path(args.data).name if args.data else "generated candles"
    print(f"ingest: {args.candles} candles × {UPDATES_PER_CANDLE + 1} messages from {src}, exchange in its own process, max speed")
    ours = run(args.data, args.candles, utf8_validation=False)
    report("tuned (skip_utf8_validation=True)", ours)
    if not args.skip_default:
        default = run(args.data, max(2000, args.candles // 5), utf8_validation=True)
        report("websocket-client default (UTF-8 validation on)", default)
        print(f"  ratio tuned/default throughput: {ours['rate'] / default['rate']:.2f}x")
    print(f"  vs the whole USDⓈ-M market (~2,000 msgs/s): {ours['rate'] / 2000:.1f}x headroom")
    target_ok = ours["rate"] >= 20_000 and ours["p99"] <= 1000
    print(f"  target ≥20,000 msgs/s and p99 ≤ 1 ms: {'met' if target_ok else 'NOT met'}")


def report(name: str, r: dict[str, float]) -> None:
    print(
        f"  {name}: {r['messages']:,} msgs in {r['seconds']:.2f}s = {r['rate']:,.0f} msgs/s; "
        f"processing p50 {r['p50']:.1f} µs, p99 {r['p99']:.1f} µs, p99.9 {r['p999']:.1f} µs, max {r['max']:.0f} µs; "
        f"closed-candle (SQLite upsert) p50 {r['closed_p50']:.1f} µs, p99 {r['closed_p99']:.1f} µs"
    )


if __name__ == "__main__":
    main()
