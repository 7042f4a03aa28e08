"""The trader's journal: its orders, fills and per-symbol state, written together.

Each closed candle is booked in one transaction (the fills it caused and the state after
it: the cursor, orders waiting for the next open, stop and take levels), so a crash
leaves either the candle fully booked or not at all, and the restarted bot redoes it with
the same deterministic order ids (INSERT OR IGNORE makes that harmless).

The trader calls in from the stream thread while the engine reads from others, and a
sqlite connection belongs to one thread, so connections are per thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import sqlite_utils

from storage.db import open_db
from storage.funding import FundingStore


class FillLike(Protocol):
    order_id: str
    symbol: str
    side: str
    qty: Any
    price: Any
    fee: Any
    time: int
    reason: str
    position_side: str  # LONG / SHORT for a Hedge Mode leg, BOTH in One-way Mode


_FILL_COLS = ("id", "client_order_id", "ts", "symbol", "side", "price", "quantity", "fee", "fee_asset")


class TradeJournal:
    def __init__(self, db_path: str, mode: str) -> None:
        self.db_path = db_path
        self.mode = mode  # paper fills and exchange fills never mix
        self._local = threading.local()

    def _db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.db_path)
        return db

    def load_state(self, symbol: str) -> dict[str, Any] | None:
        row = self._db().conn.execute(
            "SELECT value FROM runtime_state WHERE key=?", (f"trader:{self.mode}:{symbol}",)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def commit(self, symbol: str, state: dict[str, Any], fills: Sequence[FillLike],
               funding: Sequence[tuple[int, str, Any, Any]] = ()) -> None:
        """Fills, funding payments (ts, symbol, amount, rate[, leg]) and the state, together."""
        conn, mode = self._db().conn, self.mode
        now = int(time.time() * 1000)
        with conn:
            for f in fills:
                conn.execute(
                    "INSERT OR IGNORE INTO orders (client_order_id, ts, mode, symbol, side, type, quantity, "
                    "price, reduce_only, status, updated_at, error) VALUES (?, ?, ?, ?, ?, 'MARKET', ?, ?, ?, "
                    "'FILLED', ?, NULL)",
                    (f.order_id, f.time, mode, f.symbol, f.side, str(f.qty), str(f.price),
                     int(f.order_id.endswith(("-c", "-sl", "-tp", "-liq", "-end"))), now),
                )
                keys = tuple(getattr(f, "keys", ()) or ())
                trade = next((k for k in keys if ":t" in k), None)
                fill_id = f.order_id + ("/" + trade.split(":", 1)[1] if trade else "/1")
                conn.execute(
                    f"INSERT OR IGNORE INTO fills ({', '.join(_FILL_COLS)}, realized_pnl, position_side) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'USDT', NULL, ?)",
                    (fill_id, f.order_id, f.time, f.symbol, f.side, str(f.price), str(f.qty), str(f.fee),
                     f.position_side),
                )  # fmt: skip
                amount = getattr(f, "fee_amount", None)
                conn.executemany(
                    "INSERT OR IGNORE INTO exchange_fills (key, fill_id, mode, symbol, trade_id, ts, fee_asset, "
                    "fee_amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(k, fill_id, mode, f.symbol, int(k.split(":t", 1)[1]) if ":t" in k else None, f.time,
                      getattr(f, "fee_asset", "USDT"), None if amount is None else str(amount)) for k in keys],
                )  # fmt: skip
            if funding:
                FundingStore(self._db()).insert(
                    [(f"{sym if not leg or leg[0] == 'BOTH' else f'{sym}:{leg[0]}'}-{ts}", ts, sym, amount, rate, *leg)
                     for ts, sym, amount, rate, *leg in funding], mode)  # fmt: skip
            conn.execute(
                "INSERT INTO runtime_state (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (f"trader:{mode}:{symbol}", json.dumps(state), now),
            )

    def record_refusal(self, order_id: str, symbol: str, side: str, qty: str | None, reduce_only: bool, error: str) -> None:
        """An order the broker or the exchange refused: kept with the reason, never retried."""
        now = int(time.time() * 1000)
        conn = self._db().conn
        with conn:
            conn.execute(
                "INSERT INTO orders (client_order_id, ts, mode, symbol, side, type, quantity, reduce_only, "
                "status, error, updated_at) VALUES (?, ?, ?, ?, ?, 'MARKET', ?, ?, 'REJECTED', ?, ?) "
                "ON CONFLICT(client_order_id) DO UPDATE SET status='REJECTED', error=excluded.error, "
                "updated_at=excluded.updated_at WHERE orders.status != 'FILLED'",
                (order_id, now, self.mode, symbol, side, qty, int(reduce_only), error[:500], now),
            )

    def orders(self, limit: int = 50) -> list[dict[str, Any]]:
        cols = ("client_order_id", "ts", "mode", "symbol", "side", "quantity", "price", "reduce_only", "status", "error")
        cur = self._db().conn.execute(
            f"SELECT {', '.join(cols)} FROM orders WHERE mode=? ORDER BY updated_at DESC, rowid DESC LIMIT ?",
            (self.mode, limit),
        )
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def fills(self, since_ms: int = 0) -> list[dict[str, Any]]:
        """Every fill of this mode in booking order (text money, as stored)."""
        cur = self._db().conn.execute(
            "SELECT f.client_order_id, f.symbol, f.side, f.quantity, f.price, f.fee, f.ts, f.position_side "
            "FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id "
            "WHERE o.mode=? AND f.ts >= ? ORDER BY f.ts, f.rowid",
            (self.mode, since_ms),
        )
        cols = ("order_id", "symbol", "side", "qty", "price", "fee", "time", "position_side")
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def funding(self) -> list[tuple[int, str, Any, str]]:
        """This mode's funding payments (ts, symbol, amount, leg: BOTH in One-way Mode), oldest first."""
        return FundingStore(self._db()).payments(self.mode)  # type: ignore[return-value]

    def exchange_keys(self) -> set[str]:
        """Every exchange fill key booked in this mode (what makes a second arrival a no-op)."""
        cur = self._db().conn.execute("SELECT key FROM exchange_fills WHERE mode=?", (self.mode,))
        return {r[0] for r in cur.fetchall()}

    def last_trade(self, symbol: str) -> tuple[int | None, int | None]:
        """(highest booked Binance trade id, latest fill time) of a symbol in this mode: where a
        reconciliation after a gap starts asking (`fromId`, else `startTime`)."""
        conn = self._db().conn
        tid = conn.execute(
            "SELECT MAX(trade_id) FROM exchange_fills WHERE mode=? AND symbol=?", (self.mode, symbol)
        ).fetchone()[0]
        ts = conn.execute(
            "SELECT MAX(f.ts) FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id "
            "WHERE o.mode=? AND f.symbol=?",
            (self.mode, symbol),
        ).fetchone()[0]
        return tid, ts

    def fee_assets(self) -> list[dict[str, Any]]:
        """Fees paid in another asset than USDT: the asset, the amount and the USDT value booked."""
        cur = self._db().conn.execute(
            "SELECT DISTINCT e.fill_id, e.symbol, e.ts, e.fee_asset, e.fee_amount, f.fee FROM exchange_fills e "
            "JOIN fills f ON f.id = e.fill_id WHERE e.mode=? AND e.fee_asset != 'USDT' ORDER BY e.ts",
            (self.mode,),
        )
        cols = ("fill_id", "symbol", "ts", "fee_asset", "fee_amount", "fee_usdt")
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
