"""The live bot's read-only money views: /pnl, /daily…/monthly, /performance, /trades,
/balance and /health. A part given what it reads (the trader, this mode's journal, the
broker's account on an exchange, the two streams, the last closed candles), so it answers
from the same book the trader keeps and never changes anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storage.trades import TradeJournal
from trading.config import Settings
from trading.core.brokers import Broker
from trading.core.candles import Candle
from trading.core.ledger import Ledger
from trading.core.pnl import (
    LegMargin,
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
from trading.core.snapshot import TraderSnapshot
from trading.core.trader import Trader
from trading.exchange.stream import KlineStream
from trading.live.health import Health, db_size, user_stream_state
from trading.live.mode import Mode
from trading.live.store import Db, stored_fills


class Reports:
    def __init__(
        self, settings: Settings, mode: Mode, trader: Trader, broker: Broker, journal: TradeJournal,
        stream: KlineStream, user_stream: Any, db: Db, clock_offset: Callable[[], int | None],
    ) -> None:  # fmt: skip
        self.settings = settings
        self.mode = mode
        self._trader = trader
        self._broker = broker
        self._journal = journal
        self._stream = stream
        self._user_stream = user_stream  # demo/live: the account stream; paper: NoUserStream
        self._db = db
        self._clock_offset = clock_offset
        self._born = time.monotonic()  # /health's uptime: since this bot started

    def last_closed(self) -> dict[str, Candle]:
        """Each symbol's newest closed candle: the stream's, else the newest stored."""
        last = dict(self._stream.status().last_closed)
        for symbol in self.settings.symbols:
            if symbol not in last:
                stored = self._db.latest(symbol, self.settings.interval, 1)
                if stored:
                    last[symbol] = stored[0]
        return last

    def moment(self) -> tuple[TraderSnapshot, Ledger]:
        """The book's snapshot and its ledger read together, under the trader's lock: a view
        made of both (a caption's balance, equity and unrealized beside its ledger line)
        tells one instant, not a price or a fill apart."""
        with self._trader.lock:
            return self._trader.snapshot(), self._trader.portfolio.ledger.copy()

    def pnl(self, period: str, moment: tuple[TraderSnapshot, Ledger] | None = None) -> PnlSummary:
        """`moment`: of that instant (Reports.moment), else of now."""
        snap, ledger = moment or self.moment()
        unrealized = sum((p.unrealized for p in snap.positions), Decimal(0))
        return pnl_summary(period, self._market_now(), ledger, unrealized)

    def pnl_periods(self, unit: str, n: int) -> list[PeriodRow]:
        """/daily, /weekly, /monthly: the ledger per UTC period, newest first."""
        return period_table(unit, n, self._market_now(), self.ledger())

    def performance(self) -> list[SymbolPerformance]:
        return performance(self.ledger())

    def _market_now(self) -> int:
        """The end of the market's latest candle taken in (warm-up included: a replay has its own
        'today', and fills are stamped with the forming candle's open), else the wall clock."""
        opens = [t for s in self.settings.symbols if (t := self._trader.last_open(s)) is not None]
        return max(opens) + self.settings.interval_ms if opens else int(datetime.now(UTC).timestamp() * 1000)

    def ledger(self) -> Ledger:
        """The one ledger every money view reads: the trader's book's (replayed from the stored
        fills and funding at start, then every booking), read under its lock."""
        with self._trader.lock:
            return self._trader.portfolio.ledger.copy()

    def recent_fills(self, n: int) -> list[Fill]:
        return stored_fills(self._journal)[-n:]

    def wallet(self) -> Wallet:
        snap = self._trader.snapshot()
        marks = {p.symbol: p.mark for p in snap.positions}
        book = paper_wallet(self._trader.portfolio, marks, int(snap.values.get("leverage", 1)))
        if not self.mode.exchange:
            return book
        book = replace(book, mode=self.mode.name, exchange_account=True)
        try:
            w = self._broker.wallet()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 (shown as unreadable; the book still answers)
            return book
        ex = Wallet("Binance", w["wallet"], w["wallet"] + w["unrealized"], w["margin"], w["available"],
                    unrealized=w["unrealized"])  # fmt: skip
        if self._trader.hedge:  # each leg as Binance keeps it: its margin and liquidation price
            try:
                rows = self._broker.leg_margins(self.settings.symbols)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 (the wallet still answers without them)
                rows = []
            ex = replace(ex, legs=tuple(LegMargin(s, ps, m, Decimal(0), liq) for s, ps, m, liq in rows))
        other = sum((Decimal(r["fee_usdt"]) for r in self._journal.fee_assets()), Decimal(0))
        return replace(book, exchange=ex, other_fees=other)

    def recent_trades(self, n: int) -> list[tuple[Fill, str]]:
        """/trades: the last n fills, each with what it did (open, add, reduce, close, reverse)."""
        fills = stored_fills(self._journal)
        return list(zip(fills, fill_legs(fills), strict=True))[-n:]

    def health(self) -> Health:
        """/health: the stream, the last candle and order, the clock, the database, uptime."""
        st = self._stream.status()
        newest = [c.open_time for c in self.last_closed().values()]
        orders = self._journal.orders(1)
        return Health(
            stream=st, user_stream=user_stream_state(self._user_stream, self.mode.exchange),
            last_candle_open=max(newest) if newest else None, last_order=orders[0] if orders else None,
            clock_offset_ms=self._clock_offset(), db_bytes=db_size(self.settings.db_path),
            uptime=time.monotonic() - self._born, trader=self._trader.snapshot(),
        )
