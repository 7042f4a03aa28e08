"""demo/live: the stop-loss, the take-profit (or a ladder's levels) and the trailing stop
resting on the exchange, kept equal to the book's levels after every change (a fill, a parameter change, a start, a resume, a user-stream
reconnect). A trigger already crossed (-2021) closes the position (a ladder's level: its part)
by market at once, said so;
a placement that fails is said and retried at the next sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from trading.core.book import Book
from trading.core.brokers.base import OrderRefused, OrderRequest, OrderUnknown, WouldTrigger
from trading.core.events import ExitFailed, ExitWouldTrigger
from trading.core.exits import LEGS, Exits
from trading.core.findings import ExitsResynced
from trading.core.order_desk import OrderDesk
from trading.core.portfolio import BUY, SELL, Portfolio
from trading.core.position_mode import PositionMode
from trading.core.reasons import Reason
from trading.core.records import Records
from trading.core.symbols import SymbolFilters

log = logging.getLogger("trading.core.trader")


class RestingExits(Protocol):
    """demo/live: the stop-loss and take-profit resting on the exchange
    (trading/exchange/protection.py), kept equal to the book's levels."""

    def sync(self, symbol: str, side: int, opened: int, stop: Decimal | None, take: Decimal | None, *,
             check: bool = False, position_side: str = "BOTH", trail: Any = None,
             rungs: tuple[tuple[int, Decimal, Decimal], ...] = ()) -> list[ExitsResynced]: ...  # fmt: skip


class RestingKeeper:
    def __init__(self, *, exits: RestingExits | None, mode: str, portfolio: Portfolio,
                 filters: Mapping[str, SymbolFilters], interval_ms: int, position_mode: PositionMode,
                 desk: OrderDesk, records: Records, levels: Exits) -> None:  # fmt: skip
        """exits: None where nothing rests on an exchange (paper, the backtest): then every
        sync is a no-op and the candle check (paper_exits.py) applies the levels."""
        self.exits = exits
        self.mode = mode
        self.portfolio = portfolio
        self.filters = filters
        self.interval_ms = interval_ms
        self.position_mode = position_mode
        self.desk = desk
        self.records = records
        self.levels = levels  # a take-profit ladder's levels still to fill, a part sold at once

    def protect_all(self, books: Iterable[Book], *, check: bool = True) -> list[ExitsResynced]:
        """Every symbol's exits as the book says, checked against the exchange (start,
        resume, user-stream reconnect): missing ones placed again, own orphans cancelled."""
        said: list[ExitsResynced] = []
        for book in books:
            said += self.protect(book, check=check)
        return said

    def protect(self, book: Book, *, check: bool = False) -> list[ExitsResynced]:
        """Make the resting exits match the position and its levels (each leg in Hedge Mode)."""
        if self.exits is None:
            return []
        said: list[ExitsResynced] = []
        for ps in ("LONG", "SHORT") if self.position_mode.hedge else ("BOTH",):
            said += self._protect_one(book, ps, check)
        return said

    def _protect_one(self, book: Book, ps: str, check: bool) -> list[ExitsResynced]:
        assert self.exits is not None
        pos = self.portfolio.held(book.symbol, ps)
        side = pos.side if pos is not None else 0
        opened = pos.opened_at if pos is not None else 0
        lv = book.levels(ps)
        try:
            trail = (lv.trail, lv.trail_act, abs(pos.qty)) if lv.trail is not None and pos is not None else None
            return self.exits.sync(book.symbol, side, opened, lv.stop, lv.take, check=check, position_side=ps,
                                   trail=trail, rungs=self.levels.pending(book, ps))  # fmt: skip
        except WouldTrigger as e:
            self._close_now(book, e, ps)
        except (OrderRefused, OrderUnknown) as e:
            self.records.say(ExitFailed(self.mode, book.symbol, "placed", e.reason))
        except Exception as e:  # noqa: BLE001 (a read or a cancel failed: said, the next sync retries)
            log.exception("exits of %s", book.symbol)
            self.records.say(ExitFailed(self.mode, book.symbol, "checked", Reason.said(str(e))))
        return []

    def _close_now(self, book: Book, e: WouldTrigger, ps: str = "BOTH") -> None:
        pos = self.portfolio.position(book.symbol, ps)
        self.records.say(ExitWouldTrigger(self.mode, book.symbol, e.kind, e.level, self.filters.get(book.symbol)))
        time = (book.last_open() or 0) + self.interval_ms
        tag = LEGS.get(e.kind, "tp")
        req = OrderRequest(
            OrderRequest.client_id(book.symbol, time, tag if ps == "BOTH" else f"{tag}-{ps[0].lower()}"),
            book.symbol, SELL if pos.qty > 0 else BUY, e.kind, e.kind.replace("_", "-"), time,
            qty=abs(pos.qty) if e.qty is None else min(e.qty, abs(pos.qty)), reduce_only=ps == "BOTH",
            position_side=ps,
        )  # fmt: skip  (a ladder's level: its part only)
        price = book.price() or e.level
        try:
            fill = self.desk.execute(book, req, price, time)
        except OrderUnknown as err:
            self.records.say(ExitFailed(self.mode, book.symbol, "closing", err.reason))
            return
        if fill is not None:
            moved = self.levels.part_filled(book, e.kind, self.portfolio.held(book.symbol, ps), self.mode, ps)
            self.records.book(book, [fill])
            self.protect(book)
            if moved is not None:
                self.records.say(moved)
