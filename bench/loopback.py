"""What the loopback benches share: the replay exchange, the local Bot API and the real bot in
demo mode on them, all in one process (`running_bot`); the bot's stream started (`start`);
the moment each order reaches the exchange (`order_arrivals`); and how a latency list is
summarised (p50, p99, max)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import RateLimits  # noqa: E402
from bot.runner import BotThread  # noqa: E402
from sim.binance import ReplayExchange, load_csv  # noqa: E402
from sim.telegram.local_api import LocalBotApi  # noqa: E402
from trading.config import load_settings  # noqa: E402

GROUP, ADMIN = -1001000000001, 1001
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
# Telegram's limits lifted: the latency benches measure the bot, not the group's budget.
LOOSE = RateLimits(overall_per_second=10_000, group_per_minute=1_000_000, max_retries=3)


def demo_environ(ex: Any, api: Any, db_path: str, **extra: str) -> dict[str, str]:
    """The environment of a bot in demo mode on `ex` (ReplayExchange) and `api` (LocalBotApi)."""
    return {
        "TELEGRAM_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_CHAT_ID": str(GROUP), "TELEGRAM_ADMIN_IDS": str(ADMIN),
        "TRADING_MODE": "demo", "BINANCE_API_KEY": ex.api_key, "BINANCE_API_SECRET": ex.api_secret,
        "BINANCE_REST_URL": ex.rest_url, "BINANCE_WS_URL": ex.ws_url,
        "DB_PATH": db_path, "STRATEGY": "none", "WARMUP_CANDLES": "50", "LOG_LEVEL": "WARNING",
        **extra,
    }  # fmt: skip


def data_argument(ap: argparse.ArgumentParser) -> None:
    """`--data FILE`: the candles the replay exchange serves (default: the real BTCUSDT 15m)."""
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="candle CSV for the replay exchange")


@dataclass
class Loopback:
    ex: ReplayExchange
    api: LocalBotApi
    bot: BotThread

    def start(self, *, timeout: float = 15, user_stream: bool = False) -> None:
        """The admin's /start, until the stream says so; then the replay holds its candles
        still (the benches time the bot, not the market). `user_stream`: also until the
        account stream is connected (demo mode)."""
        mark = self.api.mark()
        self.api.send_message(GROUP, ADMIN, "/start")
        assert self.api.wait_for_text(GROUP, "socket started", timeout=timeout, start=mark), "no stream"
        self.ex.pause()
        if user_stream:
            assert self.bot.engine.wait_account(lambda u: u.connected, timeout=10), "no user stream"


@contextmanager
def running_bot(data: str, *, rate_limits: RateLimits = LOOSE, group_limit: int | None = None,
                **env: str) -> Iterator[Loopback]:  # fmt: skip
    """The replay exchange on `data`, the local Bot API with the group (its per-group limit
    when `group_limit` is given) and the real bot in demo mode on them (PTB polling, a
    throw-away database, `env` added to its settings); everything stopped at the end."""
    ex = ReplayExchange(load_csv(data), start_index=600, seconds_per_candle=0.05).start()
    api = (LocalBotApi(group_limit=group_limit) if group_limit else LocalBotApi()).start()
    try:
        api.add_chat(GROUP, "supergroup", "Traders")
        with tempfile.TemporaryDirectory() as tmp:
            environ = demo_environ(ex, api, str(Path(tmp) / "bot.sqlite"), **env)
            settings = load_settings(environ=environ, env_file=None)
            bot = BotThread(settings, rate_limits=rate_limits, poll_timeout=1).start()
            try:
                yield Loopback(ex, api, bot)
            finally:
                bot.stop()
    finally:
        api.stop()
        ex.stop()


def order_arrivals(ex: ReplayExchange) -> dict[str, float]:
    """client order id → perf_counter() when the exchange recorded its first POST (the
    exchange's own record, so the time is the order's arrival, not the bot's send)."""
    arrived: dict[str, float] = {}
    stats = ex._stats  # noqa: SLF001 (the bench times the exchange's own record of each POST)
    posted = stats.order_posted

    def timed(client_id: str, *, algo: bool = False) -> None:
        arrived.setdefault(client_id, time.perf_counter())
        posted(client_id, algo=algo)

    stats.order_posted = timed  # type: ignore[method-assign]
    return arrived


def pct(values: list[float], q: float) -> float:
    """The q-quantile as the benches quote it: the value at index int(q × n) of the sorted list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_lines(latencies_ms: list[float], target_p99_ms: float) -> list[str]:
    """p50/p99/max and the verdict against a p99 target, in milliseconds."""
    p50, p99 = statistics.median(latencies_ms), pct(latencies_ms, 0.99)
    return [
        f"p50 {p50:.1f} ms · p99 {p99:.1f} ms · max {max(latencies_ms):.1f} ms",
        f"target p99 ≤ {target_p99_ms:.0f} ms: {'met' if p99 <= target_p99_ms else 'NOT met'} "
        f"({target_p99_ms / p99:.1f}× under)",
    ]
