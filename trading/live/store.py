"""The live bot's storage handles: one SQLite connection per thread on DB_PATH (a connection
never crosses threads: the chat's worker threads, the stream threads and the jobs each get
their own), the stores over it, and the stored fills of the mode as core values."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from storage.audit import AuditLog
from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from storage.params import ParamStore
from storage.state import RuntimeState
from storage.trades import TradeJournal
from trading.core.candles import Candle
from trading.core.portfolio import Fill


class Db:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def conn(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.path)
        return db

    def klines(self) -> KlineStore:
        return KlineStore(self.conn())

    def events(self) -> EventLog:
        return EventLog(self.conn())

    def state(self) -> RuntimeState:
        return RuntimeState(self.conn())

    def params(self) -> ParamStore:
        return ParamStore(self.conn())

    def audit(self) -> AuditLog:
        return AuditLog(self.conn())

    def latest(self, symbol: str, interval: str, n: int) -> list[Candle]:
        """The last n stored closed candles of a symbol, oldest first."""
        return [Candle.from_row(r) for r in self.klines().latest(symbol, interval, n)]


def stored_fills(journal: TradeJournal) -> list[Fill]:
    """Every fill booked in this mode, oldest first (the portfolio is their replay)."""
    return [
        Fill(d["order_id"], d["symbol"], d["side"], Decimal(d["qty"]), Decimal(d["price"]),
             Decimal(d["fee"]), d["time"], position_side=d["position_side"])
        for d in journal.fills()
    ]
