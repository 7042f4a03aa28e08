"""Chat latency benchmark, everything on loopback in one process.

1. Command → reply: from a /status update being available on the local Bot API (injected)
   to the bot's sendMessage reaching the Bot API; 200 sequential commands.
2. Closed candle → notice: from the replay exchange writing a closed-candle frame to the
   bot's "candle closed" notice (NOTIFY_CANDLES=1) reaching the Bot API.

    .venv/bin/python bench/bot_latency.py [--commands 200] [--candles 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import RateLimits  # noqa: E402
from bot.runner import BotThread  # noqa: E402
from sim.binance import ReplayExchange  # noqa: E402
from sim.telegram.local_api import LocalBotApi  # noqa: E402
from trading.config import load_settings  # noqa: E402

GROUP, ADMIN = -1001000000001, 1001
LOOSE = RateLimits(overall_per_second=10_000, group_per_minute=1_000_000, max_retries=3)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--candles", type=int, default=200)
    parser.add_argument("--seconds-per-candle", type=float, default=0.02)
    args = parser.parse_args()

    ex = ReplayExchange(None, interval="15m", seconds_per_candle=args.seconds_per_candle, paused=True).start()
    api = LocalBotApi().start()
    api.add_chat(GROUP, "supergroup", "Bench")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={
                "TELEGRAM_TOKEN": api.token,
                "TELEGRAM_BASE_URL": api.base_url,
                "TELEGRAM_CHAT_ID": str(GROUP),
                "TELEGRAM_ADMIN_IDS": str(ADMIN),
                "BINANCE_REST_URL": ex.rest_url,
                "BINANCE_WS_URL": ex.ws_url,
                "DB_PATH": f"{tmp}/bench.sqlite",
                "NOTIFY_CANDLES": "1",
                "LOG_LEVEL": "WARNING",
            },
            env_file=None,
        )
        bot = BotThread(settings, rate_limits=LOOSE, poll_timeout=5).start()
        try:
            command_latency(api, args.commands)
            candle_latency(api, ex, bot, args.candles)
        finally:
            bot.stop()
            api.stop()
            ex.stop()


def command_latency(api: LocalBotApi, n: int) -> None:
    lat: list[float] = []
    for _ in range(5):  # warm-up: first calls build caches and connections
        mark = api.mark()
        api.send_message(GROUP, ADMIN, "/status")
        api.wait_for(lambda c: c.method == "sendMessage" and c.ok, start=mark, timeout=10)
    for _ in range(n):
        mark = api.mark()
        t0 = time.monotonic()
        api.send_message(GROUP, ADMIN, "/status")
        call = api.wait_for(lambda c: c.method == "sendMessage" and c.ok, start=mark, timeout=10)
        assert call is not None, "no reply"
        lat.append((call.at - t0) * 1000)
    print(
        f"command → reply (/status, n={n}): p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
        f"max {max(lat):.1f} ms (target p99 ≤ 50 ms)"
    )


def candle_latency(api: LocalBotApi, ex: ReplayExchange, bot: BotThread, n: int) -> None:
    sent_at: dict[int, float] = {}  # candle open_time → when its closed frame was written
    ex.on_closed_frame_written(lambda open_time, at: sent_at.setdefault(open_time, at))
    mark = api.mark()
    api.send_message(GROUP, ADMIN, "/start")
    assert api.wait_for_text(GROUP, "socket started", start=mark, timeout=30), "stream did not start"
    mark = api.mark()
    ex.resume()
    first = ex.current_index
    assert ex.wait_for_index(first + n, timeout=120)
    last_open = ex.candles[first + n - 1].open_time
    done = api.wait_for(
        lambda c: c.method == "sendMessage" and c.ok and _open_time_text(last_open) in c.params.get("text", ""),
        start=mark,
        timeout=30,
    )
    assert done is not None, "last candle notice never arrived"
    lat: list[float] = []
    for i in range(first, first + n):
        c = ex.candles[i]
        needle = _open_time_text(c.open_time)
        call = next(
            (x for x in api.calls[mark:] if x.method == "sendMessage" and x.ok and needle in x.params.get("text", "")),
            None,
        )
        if call is not None and c.open_time in sent_at:
            lat.append((call.at - sent_at[c.open_time]) * 1000)
    print(
        f"closed-candle frame → notice (n={len(lat)}, one candle every {ex.seconds_per_candle:g}s): "
        f"p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms (target p99 ≤ 50 ms)"
    )


def _open_time_text(open_time: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(open_time / 1000))


if __name__ == "__main__":
    main()
