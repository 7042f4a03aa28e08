"""The stream's event log: connects, drops, errors, reconnects, backfills, watchdog trips.

It is what /status counts reconnects from and what an operator reads after an incident,
so every lifecycle step of the websocket lands here with a wall-clock time (ms).
"""

from __future__ import annotations

import time
from typing import Any

import sqlite_utils

KINDS = (
    "start",  # the trading thread started the stream
    "connect",  # on_open: first connection
    "disconnect",  # the connection dropped (reason in detail)
    "error",  # on_error or a failed attempt
    "reconnect",  # a new connection after a drop
    "backfill",  # candles fetched over REST to close a gap (count)
    "watchdog",  # no message for too long: forced reconnect
    "malformed",  # a frame we could not parse (first of its kind; count = total so far)
    "stop",  # on_close at final teardown
)


class EventLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def record(
        self,
        kind: str,
        detail: str = "",
        count: int | None = None,
        symbols: str = "",
        ts: int | None = None,
    ) -> int:
        if kind not in KINDS:
            raise ValueError(f"unknown stream event kind {kind!r}")
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO stream_events (ts, kind, detail, count, symbols) VALUES (?, ?, ?, ?, ?)",
                (int(time.time() * 1000) if ts is None else ts, kind, detail, count, symbols),
            )
        return int(cur.lastrowid or 0)

    def count(self, kind: str, since_ms: int = 0) -> int:
        return int(
            self._conn.execute(
                "SELECT COUNT(*) FROM stream_events WHERE kind=? AND ts>=?", (kind, since_ms)
            ).fetchone()[0]
        )

    def recent(self, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, ts, kind, detail, count, symbols FROM stream_events"
        args: list[Any] = []
        if kind:
            sql += " WHERE kind=?"
            args.append(kind)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        cols = ("id", "ts", "kind", "detail", "count", "symbols")
        return [dict(zip(cols, r, strict=True)) for r in self._conn.execute(sql, args).fetchall()]
