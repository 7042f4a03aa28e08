"""Open the SQLite file and keep its schema current.

One file, WAL mode, so the trading thread writes while the chat side reads. Each thread
opens its own connection (sqlite3 connections refuse cross-thread use, which is what we
want: it turns a threading mistake into an immediate error).

Every string written through these connections is masked first (trading.logsafe.mask:
the Telegram token, the Binance key and secret, their prefixes and encoded forms), so an
error text that echoes a request never stores a secret, whichever table it lands in.

Migrations are an ordered list of functions; `schema_version` records how many ran.
Append new ones, never edit old ones: a deployed bot's file was built by them.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from trading.logsafe import mask

# What a refused read or write raises (disk full, read-only, gone), for code outside storage/
# that must tell a storage fault from its own errors without importing sqlite3.
StorageError = sqlite3.Error


def transient(e: BaseException) -> bool:
    """A write refused only because another connection holds the lock (SQLITE_BUSY or
    SQLITE_LOCKED after the busy timeout): it succeeds once the lock is released, unlike
    a full, read-only or missing disk."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(e, sqlite3.OperationalError) and "locked" in str(e)


def _masked(params: object) -> object:
    if isinstance(params, dict):
        return {k: mask(v) if isinstance(v, str) else v for k, v in params.items()}
    if isinstance(params, (tuple, list)):
        return tuple(mask(v) if isinstance(v, str) else v for v in params)
    return params


class _MaskingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return super().execute(sql, _masked(parameters))  # type: ignore[arg-type]

    def executemany(self, sql: str, seq: object, /) -> sqlite3.Cursor:  # type: ignore[override]
        return super().executemany(sql, (_masked(p) for p in seq))  # type: ignore[arg-type, attr-defined, misc]


class MaskingConnection(sqlite3.Connection):
    """A connection whose every write of a string is masked (the storage boundary)."""

    def cursor(self, factory: type[sqlite3.Cursor] | None = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _MaskingCursor)

    def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq: object, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executemany(sql, seq)


def _v1(db: sqlite_utils.Database) -> None:
    db["klines"].create(
        {
            "symbol": str,
            "interval": str,
            "open_time": int,
            "open": float,
            "high": float,
            "low": float,
            "close": float,
            "volume": float,
            "close_time": int,
            "quote_volume": float,
            "trades": int,
            "taker_buy_base": float,
            "taker_buy_quote": float,
            "source": str,
        },
        pk=("symbol", "interval", "open_time"),
        not_null={"symbol", "interval", "open_time", "open", "high", "low", "close", "volume"},
    )
    db["stream_events"].create(
        {"id": int, "ts": int, "kind": str, "detail": str, "count": int, "symbols": str},
        pk="id",
        not_null={"ts", "kind"},
    )
    db["stream_events"].create_index(["kind", "ts"])
    # Tables for the strategy, order and audit features. Quantities and prices are TEXT so
    # decimal values survive exactly (they are rounded to exchange filters before storing).
    db["signals"].create(
        {
            "id": int,
            "ts": int,
            "symbol": str,
            "interval": str,
            "candle_open_time": int,
            "strategy": str,
            "side": str,
            "reason": str,
            "params": str,
        },
        pk="id",
    )
    db["orders"].create(
        {
            "client_order_id": str,
            "ts": int,
            "signal_id": int,
            "mode": str,
            "symbol": str,
            "side": str,
            "type": str,
            "quantity": str,
            "price": str,
            "reduce_only": int,
            "status": str,
            "exchange_order_id": str,
            "requested_by": int,
            "confirmed_by": int,
            "error": str,
            "updated_at": int,
        },
        pk="client_order_id",
    )
    db["fills"].create(
        {
            "id": str,
            "client_order_id": str,
            "ts": int,
            "symbol": str,
            "side": str,
            "price": str,
            "quantity": str,
            "fee": str,
            "fee_asset": str,
            "realized_pnl": str,
        },
        pk="id",
        foreign_keys=[("client_order_id", "orders", "client_order_id")],
    )
    db["params"].create(
        {"strategy": str, "name": str, "value": str, "updated_at": int, "updated_by": int},
        pk=("strategy", "name"),
    )
    db["audit"].create(
        {
            "id": int,
            "ts": int,
            "chat_id": int,
            "user_id": int,
            "action": str,
            "detail": str,
            "outcome": str,
        },
        pk="id",
    )


def _v2(db: sqlite_utils.Database) -> None:
    # What the operator last asked for (e.g. stream on/off), so a restart resumes it.
    db["runtime_state"].create({"key": str, "value": str, "updated_at": int}, pk="key")


def _v3(db: sqlite_utils.Database) -> None:
    # Every /set change with who and when; `params` keeps the current value of each.
    db["param_changes"].create(
        {"id": int, "ts": int, "strategy": str, "name": str, "old": str, "new": str, "user_id": int},
        pk="id",
        not_null={"ts", "strategy", "name", "new"},
    )
    db["fills"].create_index(["ts"])
    db["orders"].create_index(["mode", "ts"])


def _v4(db: sqlite_utils.Database) -> None:
    # Order proposals waiting for a person's Confirm/Reject, and what became of them.
    db["proposals"].create(
        {
            "id": int,
            "created_at": int,  # wall ms
            "symbol": str,
            "side": str,  # BUY | SELL (of the first leg)
            "action": str,  # long | short | close | reverse
            "quantity": str,  # base asset, exact text; NULL: sized from the stake at placing
            "ref_price": str,
            "reason": str,
            "requested_by": int,  # user id; NULL for the strategy
            "source": str,  # strategy | manual
            "legs": str,  # JSON: the order requests, in order
            "valid_until_open": int,  # expires once the candle opening at this time has closed
            "expires_at": int,  # wall ms; NULL: only the candle rule
            "status": str,  # pending → confirmed → placed → filled | failed; rejected | expired
            "decided_by": int,
            "decided_at": int,
            "result": str,  # the final line shown in the chat
            "chat_id": int,
            "message_id": int,
        },
        pk="id",
        not_null={"created_at", "symbol", "side", "action", "legs", "status"},
    )
    db["proposals"].create_index(["status"])


def _v5(db: sqlite_utils.Database) -> None:
    # This database's identity: random, made once with the file, never reused. Client order
    # ids and the signed data of Confirm buttons carry it, so a fresh file (a new host, a lost
    # volume, a second bot on the same account) never collides with an older one's ids.
    db.conn.execute(
        "INSERT OR IGNORE INTO runtime_state (key, value, updated_at) VALUES ('instance_id', ?, ?)",
        (secrets.token_hex(4), int(time.time() * 1000)),
    )


def _v6(db: sqlite_utils.Database) -> None:
    # Four-eyes (FOUR_EYES_NOTIONAL): each admin's Confirm of a large proposal, once per admin.
    # The primary key makes a second press by the same admin a no-op (INSERT OR IGNORE), so
    # counting rows counts different admins, whatever the threads or processes.
    db["approvals"].create(
        {"proposal_id": int, "user_id": int, "who": str, "at": int},
        pk=("proposal_id", "user_id"),
        not_null={"proposal_id", "user_id", "at"},
    )


def _v7(db: sqlite_utils.Database) -> None:
    # Futures realism (storage/funding.py): funding payments booked (paper: the trader's own;
    # exchange: the user data stream's), the symbol's funding rate history and its leverage
    # brackets, fetched with the klines so a backtest of stored candles uses them. Money TEXT.
    db["funding"].create(
        {"id": str, "ts": int, "symbol": str, "amount": str, "asset": str, "rate": str, "source": str},
        pk="id",
        not_null={"ts", "symbol", "amount", "asset", "source"},
    )
    db["funding"].create_index(["source", "ts"])
    db["funding_rates"].create(
        {"symbol": str, "funding_time": int, "rate": str, "mark_price": str},
        pk=("symbol", "funding_time"),
        not_null={"rate"},
    )
    db["leverage_brackets"].create({"symbol": str, "brackets": str, "fetched_at": int}, pk="symbol")


def _v8(db: sqlite_utils.Database) -> None:
    # The book follows the exchange (storage/trades.py): every Binance fill booked once, keyed
    # by `<symbol>:t<trade id>` (or `<symbol>:o<order id>` for an order booked whole when its
    # trades could not be read), whichever way it arrived first (REST answer, user stream,
    # reconciliation after a gap). fee_asset/fee_amount keep a fee paid in another asset (BNB)
    # beside the USDT value booked in fills.fee.
    db["exchange_fills"].create(
        {"key": str, "fill_id": str, "mode": str, "symbol": str, "trade_id": int, "ts": int,
         "fee_asset": str, "fee_amount": str},
        pk="key",
        not_null={"fill_id", "mode", "symbol", "ts"},
    )  # fmt: skip
    db["exchange_fills"].create_index(["mode", "symbol", "trade_id"])


def _v9(db: sqlite_utils.Database) -> None:
    # A proposal's intent (long | short | close) and the signed position it was made on, so
    # Confirm derives its orders from the position at the press (trading/intents.py).
    db["proposals"].add_column("intent", str)
    db["proposals"].add_column("basis", str)


def _v10(db: sqlite_utils.Database) -> None:
    # Hedge Mode (issue 28): the leg a fill traded (LONG/SHORT; BOTH in One-way Mode), so a
    # restart books each fill into its own position again (trading/core/portfolio.py).
    db["fills"].add_column("position_side", str, not_null_default="BOTH")


def _v11(db: sqlite_utils.Database) -> None:
    # Hedge Mode (issue 28): the leg a funding payment was charged on (Binance charges each
    # leg on its own notional; BOTH in One-way Mode), so a restart books it into that leg.
    db["funding"].add_column("position_side", str, not_null_default="BOTH")
    # and a Hedge Mode proposal's legs as they were when it was made ({"LONG": "0.010", …}),
    # so its message says both legs before and after
    db["proposals"].add_column("legs_before", str)


def _v12(db: sqlite_utils.Database) -> None:
    # issue 27: why a proposal waits for two admins with CONFIRM_ORDERS=off, as data
    # ({"worth": "934.57", "limit": "500", "legs": false}; bot/texts.py words it after the
    # reason). A proposal stored before has those words at the end of its reason instead.
    db["proposals"].add_column("four_eyes", str)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12]
SCHEMA_VERSION = len(MIGRATIONS)


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating and migrating if needed) the bot's database for this thread."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=10.0, factory=MaskingConnection)
    db = sqlite_utils.Database(conn)
    if str(path) != ":memory:":
        db.enable_wal()
    # NORMAL is durable against application crashes in WAL mode; only an OS crash can
    # lose the last transactions, which the stream backfills from the exchange anyway.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(db)
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    if "schema_version" not in db.table_names():
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite_utils.Database) -> int:
    """Run pending migrations, each in its own transaction; safe when several threads race."""
    conn = db.conn
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER)"
        )
    current = schema_version(db)
    for version, step in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another connection may have migrated while we waited for the write lock.
            if schema_version(db) >= version:
                conn.execute("ROLLBACK")
                continue
            step(db)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, int(time.time() * 1000)),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(db)
