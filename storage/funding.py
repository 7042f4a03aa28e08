"""Funding: the payments booked (table `funding`), the funding rate history and the
leverage brackets fetched with the klines (tables `funding_rates`, `leverage_brackets`).

A payment's id is unique per payment: Binance's tranId for one the exchange booked, else
`<symbol>-<funding_time_ms>` (the paper trader's), so booking twice is harmless. Amounts
are exact text, + received, − paid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlite_utils


class FundingStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    # ------------------------------------------------------------- payments
    def record(self, payments: Iterable[tuple[Any, ...]], source: str, asset: str = "USDT") -> None:
        """(id, ts, symbol, amount, rate[, leg]) rows, in their own transaction."""
        with self._conn:
            self.insert(payments, source, asset)

    def insert(self, payments: Iterable[tuple[Any, ...]], source: str, asset: str = "USDT") -> None:
        """The same, inside the caller's transaction (the trader's journal commit). The leg
        (LONG/SHORT: a Hedge Mode leg's own payment) is BOTH when a row has none."""
        self._conn.executemany(
            "INSERT OR IGNORE INTO funding (id, ts, symbol, amount, asset, rate, source, position_side) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(pid, ts, sym, str(amount), asset, None if rate is None else str(rate), source, leg[0] if leg else "BOTH")
             for pid, ts, sym, amount, rate, *leg in payments],
        )

    def payments(self, source: str, since_ms: int = 0) -> list[tuple[int, str, Decimal, str]]:
        """(ts, symbol, amount, leg) of one source, oldest first: what Portfolio.replay takes."""
        cur = self._conn.execute(
            "SELECT ts, symbol, amount, position_side FROM funding WHERE source=? AND ts>=? ORDER BY ts, rowid",
            (source, since_ms),
        )
        return [(int(ts), sym, Decimal(amount), leg) for ts, sym, amount, leg in cur.fetchall()]

    def total(self, source: str, start_ms: int, end_ms: int) -> Decimal:
        cur = self._conn.execute(
            "SELECT amount FROM funding WHERE source=? AND ts>=? AND ts<?", (source, start_ms, end_ms)
        )
        return sum((Decimal(r[0]) for r in cur.fetchall()), Decimal(0))

    # ------------------------------------------------------------- rates and brackets
    def upsert_rates(self, symbol: str, rows: Iterable[tuple[int, str, str | None]]) -> int:
        """(funding_time, rate, mark_price) as Binance wrote them."""
        data = [(symbol, int(t), str(r), m) for t, r, m in rows]
        with self._conn:
            self._conn.executemany(
                "INSERT INTO funding_rates (symbol, funding_time, rate, mark_price) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(symbol, funding_time) DO UPDATE SET rate=excluded.rate, mark_price=excluded.mark_price",
                data,
            )
        return len(data)

    def rates(self, symbol: str, start_ms: int = 0, end_ms: int | None = None) -> list[tuple[int, Decimal]]:
        sql, args = "SELECT funding_time, rate FROM funding_rates WHERE symbol=? AND funding_time>=?", [symbol, start_ms]
        if end_ms is not None:
            sql += " AND funding_time<=?"
            args.append(end_ms)
        cur = self._conn.execute(sql + " ORDER BY funding_time", args)
        return [(int(t), Decimal(r)) for t, r in cur.fetchall()]

    def last_rate_time(self, symbol: str) -> int | None:
        row = self._conn.execute("SELECT MAX(funding_time) FROM funding_rates WHERE symbol=?", (symbol,)).fetchone()
        return None if row[0] is None else int(row[0])

    def save_brackets(self, symbol: str, brackets: Sequence[dict[str, Any]]) -> None:
        """One symbol's `GET /fapi/v1/leverageBracket` brackets, as served."""
        with self._conn:
            self._conn.execute(
                "INSERT INTO leverage_brackets (symbol, brackets, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT(symbol) DO UPDATE SET brackets=excluded.brackets, fetched_at=excluded.fetched_at",
                (symbol, json.dumps(list(brackets)), int(time.time() * 1000)),
            )

    def brackets(self, symbol: str) -> list[dict[str, Any]] | None:
        row = self._conn.execute("SELECT brackets FROM leverage_brackets WHERE symbol=?", (symbol,)).fetchone()
        return None if row is None else json.loads(row[0])
