"""One order, every path: the limits, the leverage the exchange is told, the broker, the
portfolio, the stop/take levels and the paper margin of what it opened. The candle path (a
decision, a paper stop), a confirmed proposal and a protection's close all place through here,
so an order is checked and booked the same way wherever it came from; `execute` also tells it
(filled or refused) as a typed event.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.core.account_guard import AccountGuard
from trading.core.book import Book
from trading.core.brokers.base import Broker, OrderRefused, OrderRequest
from trading.core.events import OrderFilled, OrderRefusedEvent
from trading.core.exits import Exits
from trading.core.fill_keys import FillKeys
from trading.core.limits import check_limits
from trading.core.paper_margin import PaperMargin
from trading.core.portfolio import ClosedTrade, Fill, Portfolio
from trading.core.position_mode import PositionMode
from trading.core.records import Records
from trading.core.strategy_host import StrategyHost
from trading.core.symbols import SymbolFilters


class OrderDesk:
    def __init__(self, *, broker: Broker | None, mode: str, portfolio: Portfolio, filters: Mapping[str, SymbolFilters],
                 max_leverage: int, max_notional: Decimal | None, levels: Exits, margin: PaperMargin | None,
                 keys: FillKeys, records: Records, strategies: StrategyHost, position_mode: PositionMode,
                 guard: AccountGuard) -> None:  # fmt: skip
        self.broker = broker
        self.mode = mode
        self.portfolio = portfolio
        self.filters = filters
        self.max_leverage = max_leverage
        self.max_notional = max_notional
        self.levels = levels
        self.margin = margin
        self.keys = keys
        self.records = records
        self.strategies = strategies
        self.position_mode = position_mode
        self.guard = guard
        self._leverage: dict[str, int] = {}  # what the exchange was last told, per symbol

    def execute(self, book: Book, req: OrderRequest, price: Decimal, time: int) -> Fill | None:
        """Place and tell: the fill, or None when the order was refused (recorded, said)."""
        try:
            fill, closed = self.place_one(book, req, price, time)
        except OrderRefused as e:
            self.records.refused(req, e)
            self.records.say(OrderRefusedEvent(self.mode, req, e.reason))
            return None
        if self.records.notifier is not None:  # the backtest tells nobody: no event to build
            self.records.say(OrderFilled(self.mode, fill, req, tuple(closed), self.filters.get(fill.symbol)))
        return fill

    def place_one(self, book: Book, req: OrderRequest, price: Decimal, time: int) -> tuple[Fill, list[ClosedTrade]]:
        """Limits, the broker, the portfolio, the stop/take levels: one order, every path."""
        assert self.broker is not None
        if self.position_mode.mismatch:  # Binance would refuse it (-4061): nothing is sent
            raise OrderRefused(self.position_mode.mismatch)
        if not req.closes:  # (the calls skipped where there is nothing to check: every backtest fill)
            if self.max_leverage is not None or self.max_notional is not None:
                check_limits(req, price, self.portfolio, self.filters[req.symbol], self.max_leverage, self.max_notional)
            self._ensure_leverage(req)
        fill = self.broker.execute(req, price, time)
        if fill.keys and self.keys.seen(fill):  # already booked from the user data stream
            return fill, []
        closed = self.portfolio.apply(fill)
        if fill.keys:
            self.keys.add(fill.keys)
        pos = self.portfolio.position(book.symbol, fill.position_side)
        if closed:
            book.flat_side(fill.position_side)
            if self.guard.on:
                self.guard.closed(closed)
        if pos.qty and req.kind == "open":
            self.levels.set(book, pos.entry if fill.position_side != "BOTH" else fill.price, pos.side,
                            self.strategies.values, fill.position_side, qty=abs(pos.qty))  # fmt: skip
            if self.margin is not None:
                self.margin.on_open(book, fill, req.leverage)
        return fill, closed

    def _ensure_leverage(self, req: OrderRequest) -> None:
        """An exchange sizes margin by its own leverage setting: set it before opening."""
        assert self.broker is not None
        if self._leverage.get(req.symbol) != req.leverage:
            self.broker.set_leverage(req.symbol, req.leverage)
            self._leverage[req.symbol] = req.leverage
