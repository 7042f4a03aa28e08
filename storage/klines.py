"""Closed candles: idempotent upserts and the reads the stream, chat and charts need.

The write path is the hottest SQL in the bot (one statement per closed candle), so it is a
prepared INSERT … ON CONFLICT rather than sqlite-utils' generic upsert, which re-inspects
the table on every call. Reads return plain dicts; callers turn them into their own types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import sqlite_utils

COLUMNS = (
    "symbol",
    "interval",
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "source",
)

_UPSERT = (
    f"INSERT INTO klines ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT(symbol, interval, open_time) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in COLUMNS[3:])
)


class KlineLike(Protocol):
    """Anything with the candle attributes (trading.core.candles.Candle satisfies it)."""

    symbol: str
    interval: str
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    close_time: int
    quote_volume: float
    trades: int
    taker_buy_base: float
    taker_buy_quote: float


def _row(c: KlineLike, source: str) -> tuple[Any, ...]:
    return (
        c.symbol,
        c.interval,
        c.open_time,
        c.open,
        c.high,
        c.low,
        c.close,
        c.volume,
        c.close_time,
        c.quote_volume,
        c.trades,
        c.taker_buy_base,
        c.taker_buy_quote,
        source,
    )


class KlineStore:
    """Per-thread handle on the klines table."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._conn = db.conn

    def upsert(self, candle: KlineLike, source: str = "ws") -> None:
        with self._conn:
            self._conn.execute(_UPSERT, _row(candle, source))

    def upsert_many(self, candles: Iterable[KlineLike], source: str = "rest") -> int:
        rows = [_row(c, source) for c in candles]
        if rows:
            with self._conn:
                self._conn.executemany(_UPSERT, rows)
        return len(rows)

    def last_open_time(self, symbol: str, interval: str) -> int | None:
        row = self._conn.execute(
            "SELECT MAX(open_time) FROM klines WHERE symbol=? AND interval=?", (symbol, interval)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def count(self, symbol: str, interval: str) -> int:
        return int(
            self._conn.execute(
                "SELECT COUNT(*) FROM klines WHERE symbol=? AND interval=?", (symbol, interval)
            ).fetchone()[0]
        )

    def latest(self, symbol: str, interval: str, n: int) -> list[dict[str, Any]]:
        """The last n candles, oldest first."""
        cur = self._conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM klines WHERE symbol=? AND interval=? "
            "ORDER BY open_time DESC LIMIT ?",
            (symbol, interval, n),
        )
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]
        rows.reverse()
        return rows

    def between(
        self, symbol: str, interval: str, start: int, end: int | None = None
    ) -> list[dict[str, Any]]:
        """Candles with start <= open_time <= end, oldest first."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM klines WHERE symbol=? AND interval=? AND open_time>=?"
        args: list[Any] = [symbol, interval, start]
        if end is not None:
            sql += " AND open_time<=?"
            args.append(end)
        cur = self._conn.execute(sql + " ORDER BY open_time", args)
        return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]

    def open_times(
        self, symbol: str, interval: str, start: int | None = None, end: int | None = None
    ) -> Sequence[int]:
        """Stored open times (start <= t <= end when given), oldest first: where the holes are."""
        sql = "SELECT open_time FROM klines WHERE symbol=? AND interval=?"
        args: list[Any] = [symbol, interval]
        if start is not None:
            sql += " AND open_time>=?"
            args.append(start)
        if end is not None:
            sql += " AND open_time<=?"
            args.append(end)
        cur = self._conn.execute(sql + " ORDER BY open_time", args)
        return [r[0] for r in cur.fetchall()]
