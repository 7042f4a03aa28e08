"""The engine's read-only money views: /pnl, /daily…/monthly, /performance, /trades,
/balance and /health. A mixin of trading.live.service.Engine, kept apart so the engine file stays
about control (start, stop, orders) and under the size rule."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from trading.core.ledger import Ledger
from trading.core.pnl import (
    PeriodRow,
    PnlSummary,
    SymbolPerformance,
    Wallet,
    fill_legs,
    paper_wallet,
    performance,
    period_table,
    pnl_summary,
)
from trading.core.portfolio import Fill
from trading.live.health import Health, db_size, user_stream_state


class EngineReports:
    """Needs the engine's settings, live (trader, journal, fills), stream, status() and _born."""

    settings: Any
    live: Any
    trader: Any
    stream: Any
    _born: float

    def status(self) -> Any: ...

    def clock_offset_ms(self) -> int | None: ...

    def pnl(self, period: str) -> PnlSummary:
        snap = self.trader.snapshot()
        unrealized = sum((p.unrealized for p in snap.positions), Decimal(0))
        return pnl_summary(period, self._market_now(), self.ledger(), unrealized)

    def pnl_periods(self, unit: str, n: int) -> list[PeriodRow]:
        """/daily, /weekly, /monthly: the ledger per UTC period, newest first."""
        return period_table(unit, n, self._market_now(), self.ledger())

    def performance(self) -> list[SymbolPerformance]:
        return performance(self.ledger())

    def _market_now(self) -> int:
        """The end of the market's latest candle taken in (warm-up included: a replay has its own
        'today', and fills are stamped with the forming candle's open), else the wall clock."""
        opens = [t for s in self.settings.symbols if (t := self.trader.last_open(s)) is not None]
        return max(opens) + self.settings.interval_ms if opens else int(datetime.now(UTC).timestamp() * 1000)

    def ledger(self) -> Ledger:
        """The one ledger every money view reads: the trader's book's (replayed from the stored
        fills and funding at start, then every booking), read under its lock."""
        with self.trader.lock:
            return self.trader.portfolio.ledger.copy()

    def recent_fills(self, n: int) -> list[Fill]:
        return self.live.stored_fills()[-n:]

    def wallet(self) -> Wallet:
        snap = self.trader.snapshot()
        marks = {p.symbol: p.mark for p in snap.positions}
        book = paper_wallet(self.trader.portfolio, marks, int(snap.values.get("leverage", 1)))
        read = getattr(self.trader.broker, "wallet", None)
        if read is None:
            return book
        book = replace(book, mode=f"{self.settings.trading_mode} (the bot's book)")
        try:
            w = read()
        except Exception:  # noqa: BLE001 (shown as unreadable; the book still answers)
            return book
        ex = Wallet("Binance", w["wallet"], w["wallet"] + w["unrealized"], w["margin"], w["available"],
                    unrealized=w["unrealized"])  # fmt: skip
        other = sum((Decimal(r["fee_usdt"]) for r in self.live.journal.fee_assets()), Decimal(0))
        return replace(book, exchange=ex, other_fees=other)

    def recent_trades(self, n: int) -> list[tuple[Fill, str]]:
        """/trades: the last n fills, each with what it did (open, add, reduce, close, reverse)."""
        fills = self.live.stored_fills()
        return list(zip(fills, fill_legs(fills), strict=True))[-n:]

    def health(self) -> Health:
        """/health: the stream, the last candle and order, the clock, the database, uptime."""
        st = self.stream.status()
        newest = [c.open_time for c in self.status().last_closed.values()]
        orders = self.live.journal.orders(1)
        return Health(
            stream=st, user_stream=user_stream_state(self.user_stream), last_candle_open=max(newest) if newest else None,
            last_order=orders[0] if orders else None, clock_offset_ms=self.clock_offset_ms(),
            db_bytes=db_size(self.settings.db_path), uptime=time.monotonic() - self._born,
        )
