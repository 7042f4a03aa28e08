"""Flood: one member sends 100 commands in 5 s while an admin sends /long (or /close) and
presses Confirm, under Telegram's group limit as the local Bot API enforces it (20 messages a
minute per group, 429 beyond) and with the bot pacing itself by the same limit.

Everything runs on loopback in this process: the replay exchange (demo mode, python-binance
signing every order), the local Bot API and the real bot (PTB polling). Each round starts a
member's flood (100 × /status spread over 5 s); one second in, the admin sends the order
command; the proposal's latency runs from the command to the proposal message in the chat,
the order's from the Confirm press to the signed POST at the exchange. Rounds alternate
/long and /close and start every --period seconds (the group's budget is per minute: a
faster cadence measures the budget, not the bot). Prints p50/p99/max of both against the
target (≤ 5 s each), the member's replies, and the 429s the local Bot API answered.

    .venv/bin/python bench/flood.py [--rounds 8] [--period 15] [--data FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from loopback import ADMIN, GROUP, data_argument, order_arrivals, pct, running_bot

from bot.app import TELEGRAM_LIMITS

MEMBER = 2002
TARGET_S = 5.0
FLOOD, FLOOD_SECONDS = 100, 5.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8, help="timed orders (default 8)")
    ap.add_argument("--period", type=float, default=15.0, help="seconds between round starts (default 15)")
    data_argument(ap)
    args = ap.parse_args()

    proposals: list[float] = []
    orders: list[float] = []
    sent_floods = 0
    with running_bot(args.data, rate_limits=TELEGRAM_LIMITS, group_limit=20, PROPOSAL_TTL="3600",
                     MAX_DRIFT_PCT="100") as lb:  # fmt: skip
        api, ex = lb.api, lb.ex
        arrived = order_arrivals(ex)
        lb.start(timeout=30)
        flood_mark = api.mark()
        for i in range(args.rounds):
            round_start = time.perf_counter()

            def flood() -> None:
                for _ in range(FLOOD):
                    api.send_message(GROUP, MEMBER, "/status", first_name="Mallory")
                    time.sleep(FLOOD_SECONDS / FLOOD)

            member = threading.Thread(target=flood, daemon=True)
            member.start()
            sent_floods += FLOOD
            time.sleep(1.0)
            command = "/long 0.002" if i % 2 == 0 else "/close"
            mark = api.mark()
            t0 = time.perf_counter()
            api.send_message(GROUP, ADMIN, command)
            msg = api.wait_for_text(GROUP, "Order proposal #", timeout=120, start=mark)
            assert msg is not None, f"round {i}: no proposal for {command}"
            proposals.append(time.perf_counter() - t0)
            data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            pid = msg["text"].split("#", 1)[1].split(":", 1)[0]
            mark = api.mark()
            t1 = time.perf_counter()
            api.press_button(GROUP, ADMIN, msg["message_id"], data)
            done = api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark, timeout=120)
            leg = next((k for k in arrived if k.startswith("tgp-") and k.endswith(f"-{pid}-1")), None)
            assert done is not None and leg is not None, f"round {i}: no order at the exchange"
            orders.append(arrived[leg] - t1)
            member.join()
            rest = args.period - (time.perf_counter() - round_start)
            if rest > 0 and i < args.rounds - 1:
                time.sleep(rest)
        posts = ex.stats.order_posts
        assert all(n == 1 for n in posts.values()), "an order was sent twice"
        replies = [
            c for c in api.calls[flood_mark:]
            if c.ok and c.method == "sendMessage"
            and any(w in (c.result or {}).get("text", "") for w in ("Status ·", "slow down"))
        ]
        refused = sum(1 for c in api.calls if c.error_code == 429)
    print(
        f"{args.rounds} rounds: a member's {FLOOD} × /status in {FLOOD_SECONDS:.0f} s each, an admin's order command "
        f"and Confirm 1 s in; group limit 20/min enforced by the local Bot API"
    )
    for name, values in (("proposal (command → proposal in the chat)", proposals), ("order (Confirm → signed POST at the exchange)", orders)):
        p50, p99 = statistics.median(values), pct(values, 0.99)
        verdict = "met" if p99 <= TARGET_S else "NOT met"
        print(f"{name}: p50 {p50 * 1000:.0f} ms · p99 {p99 * 1000:.0f} ms · max {max(values) * 1000:.0f} ms · target ≤ {TARGET_S:.0f} s: {verdict}")
    print(f"the member's {sent_floods} commands got {len(replies)} replies (status or 'slow down'); 429s answered: {refused}")
    print(f"each order posted once: {len(posts)} client ids, {sum(posts.values())} POSTs")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
