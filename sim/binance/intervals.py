"""Binance's kline intervals and their lengths, as the replay exchange serves them.

The exchange owns this table (it is part of the API it imitates) rather than borrowing
the product's, so sim/binance runs and tests without importing the bot it stands in for.
"""

from __future__ import annotations

_MIN = 60_000
_DAY = 1440 * _MIN

INTERVAL_MS: dict[str, int] = {
    "1m": _MIN, "3m": 3 * _MIN, "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN,
    "1h": 60 * _MIN, "2h": 120 * _MIN, "4h": 240 * _MIN, "6h": 360 * _MIN, "8h": 480 * _MIN,
    "12h": 720 * _MIN, "1d": _DAY, "3d": 3 * _DAY, "1w": 7 * _DAY,
}  # fmt: skip


def interval_name(ms: int) -> str:
    """The interval `ms` long, for data files that only say how far apart candles are."""
    for name, value in INTERVAL_MS.items():
        if value == ms:
            return name
    raise ValueError(f"no Binance interval is {ms} ms long")
