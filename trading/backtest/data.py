"""Recorded candles for research: a CSV file (Binance's kline columns) or the bot's store.

Kept apart from the live feed so a CSV backtest imports neither the exchange client nor
the storage layer (the store is imported only when it is read).
"""

from __future__ import annotations

import gc
import gzip
from pathlib import Path
from typing import Any

from trading.core.candles import Candle
from trading.core.intervals import interval_ms, interval_name

CSV_HEADER = "open_time_ms,open,high,low,close,volume"


def load_csv_candles(
    path: str | Path, symbol: str = "BTCUSDT", interval: str | None = None
) -> list[Candle]:
    """Candles from `open_time_ms,open,high,low,close,volume` (plain or gzipped), oldest first.

    The files hold no symbol or interval; the interval is the smallest step between rows
    unless given. Plain str.split rather than csv or pandas, and the garbage collector
    paused while the rows become candles (they hold no cycles, and in a process with a
    big heap each of the collections 35,000 new objects trigger walks all of it): a year
    of 15m candles loads in about 0.1 s, and the backtest loads it on every run.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        data = raw.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0].strip().replace(" ", "") != CSV_HEADER:
        raise ValueError(f"{path}: expected header {CSV_HEADER}")
    rows = [line.split(",") for line in lines[1:] if line]
    times = [int(r[0]) for r in rows]
    if interval is None:
        if len(times) < 2:
            raise ValueError(f"{path}: one row; say which interval it is")
        interval = interval_name(min(b - a for a, b in zip(times, times[1:], strict=False)))
    close_offset = interval_ms(interval) - 1
    paused = gc.isenabled()
    gc.disable()
    try:
        return [
            Candle(symbol, interval, t, t + close_offset, float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
            for t, r in zip(times, rows, strict=True)
        ]
    finally:
        if paused:
            gc.enable()


def load_stored_candles(
    db: Any, symbol: str, interval: str, start_ms: int = 0, end_ms: int | None = None
) -> list[Candle]:
    """Closed candles the live bot stored (SQLite path or a KlineStore), start..end inclusive."""
    from storage.db import open_db
    from storage.klines import KlineStore

    if isinstance(db, KlineStore):
        return [Candle.from_row(r) for r in db.between(symbol, interval, start_ms, end_ms)]
    conn = open_db(db)
    try:
        return [Candle.from_row(r) for r in KlineStore(conn).between(symbol, interval, start_ms, end_ms)]
    finally:
        conn.close()
