"""Order latency: an admin's Confirm press at the Bot API → the signed order at the exchange.

Everything runs on loopback in this process: the replay exchange (demo mode, python-binance
signing every order), the local Bot API and the real bot (PTB polling). For each round a
proposal is made (`/long 0.002`, then `/close`), the Confirm button is pressed through the
local Bot API, and the time is taken when the exchange's account receives the order POST.
Prints p50/p99/max and the ratio to the target (p99 ≤ 50 ms).

    .venv/bin/python bench/order_latency.py [--rounds 100] [--data FILE]
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
TARGET_P99_MS = 50.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=100, help="confirmed orders to time (default 100)")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args()

    ex = ReplayExchange(load_csv(args.data), start_index=600, seconds_per_candle=0.05).start()
    api = LocalBotApi().start()
    api.add_chat(GROUP, "supergroup", "Traders")
    arrived: dict[str, float] = {}
    stats = ex._stats  # noqa: SLF001 (the bench times the exchange's own record of each POST)
    posted = stats.order_posted

    def timed(client_id: str, *, algo: bool = False) -> None:
        arrived.setdefault(client_id, time.perf_counter())
        posted(client_id, algo=algo)

    stats.order_posted = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ=demo_environ(ex, api, str(Path(tmp) / "bot.sqlite"), PROPOSAL_TTL="3600", MAX_DRIFT_PCT="100"), env_file=None)
        loose = RateLimits(overall_per_second=10_000, group_per_minute=1_000_000, max_retries=3)
        bot = BotThread(settings, rate_limits=loose, poll_timeout=1).start()
        try:
            mark = api.mark()
            api.send_message(GROUP, ADMIN, "/start")
            assert api.wait_for_text(GROUP, "socket started", timeout=15, start=mark)
            ex.pause()
            latencies = []
            for i in range(args.rounds):
                command = "/long 0.002" if i % 2 == 0 else "/close"
                mark = api.mark()
                api.send_message(GROUP, ADMIN, command)
                msg = api.wait_for_text(GROUP, "Order proposal #", timeout=10, start=mark)
                assert msg is not None, f"no proposal for {command}"
                assert "reply_markup" in msg, msg
                data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                pid = msg["text"].split("#", 1)[1].split(":", 1)[0]
                mark = api.mark()
                t0 = time.perf_counter()
                api.press_button(GROUP, ADMIN, msg["message_id"], data)
                done = api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark, timeout=10)
                # ids are tgp-<instance>-<proposal>-<leg>: the instance id is the database's own
                ids = [k for k in arrived if k.startswith("tgp-") and k.endswith(f"-{pid}-1")]
                assert done is not None and len(ids) == 1, f"round {i}: no order at the exchange"
                latencies.append((arrived[ids[0]] - t0) * 1000)
                # the press is answered before its message is edited: wait for the edit, or
                # the next round would take this proposal's edit for its own proposal
                assert api.wait_for_text(GROUP, "filled:", timeout=10, start=mark), f"round {i}: no edit"
            posts = ex.stats.order_posts
            assert all(n == 1 for n in posts.values()), "an order was sent twice"
        finally:
            bot.stop()
            api.stop()
            ex.stop()
    print(f"Confirm press at the Bot API → signed POST /fapi/v1/order at the exchange ({len(latencies)} orders, loopback)")
    for line in latency_lines(latencies, TARGET_P99_MS):
        print(line)
    print(f"each order posted once: {len(posts)} client ids, {sum(posts.values())} POSTs")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
