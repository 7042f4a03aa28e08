"""Fills and money the exchange reports (demo/live: the account stream, an order's lost REST
answer, the reconciliation after a gap or a restart), booked into the portfolio and the journal
exactly once by their keys, with the position's exits set or cancelled and a typed event told.
live/follow.py decodes what the exchange says and hands it here; the candle path never does.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal

from trading.core.account_guard import AccountGuard
from trading.core.book import Book
from trading.core.brokers.base import OrderRequest
from trading.core.events import ChargeBooked, ExternalFill, FundingBooked, OrderFilled
from trading.core.exits import Exits
from trading.core.fill_keys import FillKeys
from trading.core.portfolio import BOTH, ClosedTrade, Fill, Portfolio, position_key
from trading.core.records import Records
from trading.core.resting import RestingKeeper
from trading.core.strategy_host import StrategyHost
from trading.core.symbols import SymbolFilters


class ExchangeFills:
    def __init__(self, *, books: Mapping[str, Book], mode: str, portfolio: Portfolio,
                 filters: Mapping[str, SymbolFilters], levels: Exits, strategies: StrategyHost, keys: FillKeys,
                 records: Records, resting: RestingKeeper, guard: AccountGuard, lock: threading.RLock) -> None:  # fmt: skip
        self.books = books
        self.mode = mode
        self.portfolio = portfolio
        self.filters = filters
        self.levels = levels
        self.strategies = strategies
        self.keys = keys
        self.records = records
        self.resting = resting
        self.guard = guard
        self.lock = lock

    def seen(self, fill: Fill) -> bool:
        return self.keys.seen(fill)

    def knows(self, key: str) -> bool:
        """An exchange fill or funding key booked already (`<symbol>:o<order id>`: an order
        booked whole when its trades were unreadable)."""
        return self.keys.knows(key)

    def adopt(self, fills: Sequence[Fill]) -> None:
        """Book fills that happened outside this process's view (found on the exchange after
        a restart, or a reconciliation): into the portfolio and the journal, once."""
        with self.lock:
            for fill in fills:
                self.portfolio.apply(fill)
                book = self.books[fill.symbol]
                pos = self.portfolio.position(fill.symbol, fill.position_side)
                if pos.qty:  # the position as it is now gets the exits of its entry
                    self.levels.set(book, pos.entry, pos.side, self.strategies.values, fill.position_side,
                                    qty=abs(pos.qty))  # fmt: skip
                else:
                    self.levels.clear(book, fill.position_side)
                self.records.book(book, [fill])

    def book(self, fill: Fill, what: str) -> list[ClosedTrade] | None:
        """Book one exchange fill unless one of its keys was booked already (then None).
        Every Binance fill carries keys (`<symbol>:t<trade id>`, and `<symbol>:o<order id>`
        for an order booked whole): the first arrival books it (the order's REST answer, the
        user data stream, or the REST reconciliation after a gap), any later one is a no-op.

        `what`: "own" (the bot's order, whose REST answer was lost), "stop_loss",
        "take_profit", a ladder's "take_profit_N", "trailing_stop", "liquidation", "adl" or
        "outside"."""
        with self.lock:
            book = self.books.get(fill.symbol)
            if book is None or self.keys.seen(fill):
                return None
            ps = fill.position_side
            before = self.portfolio.side(fill.symbol, ps)
            closed = self.portfolio.apply(fill)
            self.keys.add(fill.keys)
            pos = self.portfolio.position(fill.symbol, ps)
            if not pos.qty:
                book.flat_side(ps)
                self.guard.closed(closed)
            elif pos.side != before or (fill.signed_qty > 0) == (pos.qty > 0):
                # a new or larger position: its exits
                self.levels.set(book, pos.entry, pos.side, self.strategies.values, ps, qty=abs(pos.qty))
            moved = self.levels.part_filled(book, what, self.portfolio.held(fill.symbol, ps), self.mode, ps)  # a ladder's level
            self.records.commit(book, [fill])
            self.resting.protect(book)  # flat: the other exit is cancelled before the chat is told
            rules = self.filters.get(fill.symbol)
            if what == "own":
                req = OrderRequest(fill.order_id, fill.symbol, fill.side, "open" if not before else "close", "", 0)
                self.records.say(OrderFilled(self.mode, fill, req, tuple(closed), rules))
            else:
                gross = self.portfolio.ledger.entries[-1].gross  # what this fill closed, partly or whole
                self.records.say(ExternalFill(self.mode, fill, what, tuple(closed), before, pos.qty, rules, gross))
            if moved is not None:
                self.records.say(moved)
            return closed

    def funding(self, symbol: str, amount: Decimal, ts: int, rate: Decimal | None = None,
                position_side: str = BOTH) -> bool:  # fmt: skip
        """One funding payment the exchange booked (+ received, − paid), once per position
        (the symbol, or its Hedge Mode leg: each pays on its own notional) and funding time
        (the stream's account update and the income history agree on it); booked into that
        position's trade in progress."""
        key = f"funding:{position_key(symbol, position_side)}-{ts}"
        with self.lock:
            book = self.books.get(symbol)
            if book is None or self.keys.knows(key):
                return False
            self.portfolio.apply_funding(symbol, amount, ts, position_side)
            self.keys.add((key,))
            self.records.funding(book, [(ts, symbol, amount, rate, position_side)])
            self.records.say(FundingBooked(self.mode, symbol, amount, position_side))
            return True

    def charge(self, symbol: str, amount: Decimal, ts: int, key: str, what: str) -> bool:
        """A charge with no trade (the insurance clearance fee a liquidation leaves), once."""
        with self.lock:
            book = self.books.get(symbol)
            if book is None or self.keys.knows(key) or not amount:
                return False
            fill = Fill(f"{what}-{symbol}-{ts}", symbol, "SELL", Decimal(0), Decimal(0), amount, ts, what, (key,))
            self.portfolio.apply(fill)
            self.keys.add((key,))
            self.records.commit(book, [fill])
            self.records.say(ChargeBooked(self.mode, symbol, amount))
            return True
