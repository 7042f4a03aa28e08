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
import threading
import time

from loopback import ADMIN, GROUP, data_argument, latency_lines, order_arrivals, running_bot

TARGET_P99_MS = 50.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=100, help="confirmed orders to time (default 100)")
    data_argument(ap)
    args = ap.parse_args()

    with running_bot(args.data, PROPOSAL_TTL="3600", MAX_DRIFT_PCT="100") as lb:
        api, ex = lb.api, lb.ex
        arrived = order_arrivals(ex)
        lb.start()
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
    print(f"Confirm press at the Bot API → signed POST /fapi/v1/order at the exchange ({len(latencies)} orders, loopback)")
    for line in latency_lines(latencies, TARGET_P99_MS):
        print(line)
    print(f"each order posted once: {len(posts)} client ids, {sum(posts.values())} POSTs")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
