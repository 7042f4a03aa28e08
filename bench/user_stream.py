"""User stream latency: a fill on the exchange → the book updated and its chat line sent.

Everything runs on loopback in this process: the replay exchange (demo mode), the local Bot
API and the real bot (PTB polling, the user data stream). Each round makes a trade "by hand"
on the exchange (the replay's loopback control, as from Binance's app: BUY 0.002, then SELL
0.002), and the time runs from just before that request until the local Bot API receives the
bot's `sendMessage` saying it (`traded outside the bot` / `closed outside the bot`), the book
having booked the fill first. Prints p50/p99/max against the target (p99 ≤ 100 ms).

    .venv/bin/python bench/user_stream.py [--rounds 200] [--data FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loopback import ADMIN, GROUP, demo_environ, latency_lines  # noqa: E402  (bench/loopback.py)

from bot.app import RateLimits  # noqa: E402
from bot.runner import BotThread  # noqa: E402
from sim.binance import ReplayExchange, load_csv  # noqa: E402
from sim.telegram.local_api import LocalBotApi  # noqa: E402
from trading.config import load_settings  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
TARGET_P99_MS = 100.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="fills to time (default 200)")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args()

    ex = ReplayExchange(load_csv(args.data), start_index=600, seconds_per_candle=0.05).start()
    api = LocalBotApi().start()
    api.add_chat(GROUP, "supergroup", "Traders")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ=demo_environ(ex, api, str(Path(tmp) / "bot.sqlite")), env_file=None)
        loose = RateLimits(overall_per_second=10_000, group_per_minute=1_000_000, max_retries=3)
        bot = BotThread(settings, rate_limits=loose, poll_timeout=1).start()
        try:
            mark = api.mark()
            api.send_message(GROUP, ADMIN, "/start")
            assert api.wait_for_text(GROUP, "socket started", timeout=15, start=mark)
            ex.pause()
            assert bot.engine.wait_account(lambda u: u.connected, timeout=10), "no user stream"
            latencies = []
            for i in range(args.rounds):
                side, words = ("BUY", "traded outside the bot") if i % 2 == 0 else ("SELL", "closed outside the bot")
                mark = api.mark()
                t0 = time.perf_counter()
                ex.trade_by_hand(side, "0.002")
                msg = api.wait_for_text(GROUP, words, timeout=10, start=mark)
                t1 = time.perf_counter()
                assert msg is not None, f"round {i}: no chat line for the {side} by hand"
                latencies.append((t1 - t0) * 1000)
            booked = bot.engine.internals().follower.booked
            pos = bot.engine.side("BTCUSDT")
        finally:
            bot.stop()
            api.stop()
            ex.stop()
    print(f"fill on the exchange → booked and its chat line at the Bot API ({len(latencies)} fills, loopback)")
    for line in latency_lines(latencies, TARGET_P99_MS):
        print(line)
    print(f"fills booked from the stream: {booked} (each once); position at the end: {pos}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
