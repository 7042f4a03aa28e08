"""What the loopback benches share: the bot's settings in demo mode against the replay
exchange and the local Bot API, and how a latency list is summarised (p50, p99, max)."""

from __future__ import annotations

import statistics
from typing import Any

GROUP, ADMIN = -1001000000001, 1001


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
