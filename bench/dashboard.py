"""Dashboard latency in a real headless Chromium (the Debian package, driven over CDP):

1. page load → first full render: the page opened with fresh initData until everything is
   drawn (data, both charts fetched and decoded): the page's own clock from navigation start
   (performance.now() at the first full render), `--loads` times;
2. a fill at the exchange → shown on the page: a trade "by hand" on the replay exchange (demo
   mode, as from Binance's app), through the user data stream, the book, the notice, the
   dashboard's live feed and its event stream, until the page's DOM shows the position
   changed (a MutationObserver stamps the moment), `--rounds` times, alternating BUY and SELL.

Everything is on loopback in this process (the bot polls the local Bot API). Prints p50/p99.

    .venv/bin/python bench/dashboard.py [--loads 20] [--rounds 50] [--data FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from loopback import ADMIN, GROUP, data_argument, latency_lines, pct, running_bot

from tests.browser import PHONE, Browser

TARGET_LOAD_MS = 2000.0
TARGET_FILL_MS = 1000.0
LONG = "document.querySelector('[data-k=\"pos-BTCUSDT-side\"]') !== null"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=20, help="page loads to time (default 20)")
    ap.add_argument("--rounds", type=int, default=50, help="fills to time (default 50)")
    data_argument(ap)
    args = ap.parse_args()

    loads: list[float] = []
    fills: list[float] = []
    with running_bot(args.data, WEBAPP_URL="http://127.0.0.1", WEBAPP_HOST="127.0.0.1", WEBAPP_PORT="0") as lb:
        api, ex, bot = lb.api, lb.ex, lb.bot
        api.add_member(GROUP, ADMIN, "Ada", "ada")
        browser = Browser()
        try:
            lb.start(user_stream=True)
            page = f"http://127.0.0.1:{bot.app.bot_data['dashboard'].port}/"
            browser.viewport(*PHONE, mobile=True, scale=2)
            for i in range(args.loads + 1):
                browser.goto("about:blank")
                browser.wait("document.readyState === 'complete'")
                browser.goto(api.open_web_app(page, ADMIN, start_param=str(GROUP)))
                ms = browser.wait("window.__dash && window.__dash.firstRenderMs", timeout=20)
                if i:  # the first load also warms the bot's chart cache and the browser
                    loads.append(float(ms))
            for i in range(args.rounds):
                side = "BUY" if i % 2 == 0 else "SELL"
                want = LONG if side == "BUY" else f"!({LONG})"
                browser.eval(
                    "window.__shownAt = null; (() => { const box = document.getElementById('positions');"
                    f" const check = () => {{ if ({want}) {{ window.__shownAt = performance.timeOrigin + performance.now();"
                    " obs.disconnect(); } }; const obs = new MutationObserver(check);"
                    " obs.observe(box, {childList: true, subtree: true}); })()"
                )
                t0 = time.time() * 1000
                ex.trade_by_hand(side, "0.002")
                shown = browser.wait("window.__shownAt", timeout=10)
                fills.append(float(shown) - t0)
            errors = browser.eval("window.__dash.errors")
            builds = bot.app.bot_data["dashboard"].feed.builds
        finally:
            browser.close()
    print(f"dashboard: page load → first full render, phone viewport ({len(loads)} loads, loopback)")
    print(f"p50 {statistics.median(loads):.0f} ms · p99 {pct(loads, 0.99):.0f} ms · max {max(loads):.0f} ms"
          f" (target ≤ {TARGET_LOAD_MS:.0f} ms: {'met' if pct(loads, 0.99) <= TARGET_LOAD_MS else 'NOT met'})")
    print(f"dashboard: a fill at the exchange → shown on the open page ({len(fills)} fills, user stream, loopback)")
    for line in latency_lines(fills, TARGET_FILL_MS):
        print(line)
    print(f"page errors: {errors or 'none'}; the live feed rebuilt the page's data {builds} times")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
