"""Binance kline intervals and their lengths; shared by config, stream, REST and replay."""

from __future__ import annotations

from datetime import UTC, datetime

_MIN = 60_000

INTERVAL_MS: dict[str, int] = {
    "1m": _MIN,
    "3m": 3 * _MIN,
    "5m": 5 * _MIN,
    "15m": 15 * _MIN,
    "30m": 30 * _MIN,
    "1h": 60 * _MIN,
    "2h": 120 * _MIN,
    "4h": 240 * _MIN,
    "6h": 360 * _MIN,
    "8h": 480 * _MIN,
    "12h": 720 * _MIN,
    "1d": 1440 * _MIN,
    "3d": 3 * 1440 * _MIN,
    "1w": 7 * 1440 * _MIN,
}


def interval_ms(interval: str) -> int:
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        raise ValueError(f"not a supported Binance interval: {interval!r}") from None


def interval_name(ms: int) -> str:
    """Inverse of interval_ms, for data files that only say how far apart candles are."""
    for name, value in INTERVAL_MS.items():
        if value == ms:
            return name
    raise ValueError(f"no Binance interval is {ms} ms long")


def utc_minute(ms: int) -> str:
    """An open time as people read it in a notice: `2024-01-06 05:30` (UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
