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
import threading
import time

from loopback import GROUP, data_argument, latency_lines, running_bot

TARGET_P99_MS = 100.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="fills to time (default 200)")
    data_argument(ap)
    args = ap.parse_args()

    with running_bot(args.data) as lb:
        lb.start(user_stream=True)
        api, ex, bot = lb.api, lb.ex, lb.bot
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
        booked = bot.engine.account_status().booked
        pos = bot.engine.side("BTCUSDT")
    print(f"fill on the exchange → booked and its chat line at the Bot API ({len(latencies)} fills, loopback)")
    for line in latency_lines(latencies, TARGET_P99_MS):
        print(line)
    print(f"fills booked from the stream: {booked} (each once); position at the end: {pos}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
