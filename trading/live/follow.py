"""The account's events booked once: the one way a fill from the user data stream (or the
REST catch-up after a gap) reaches the book and the chat.

exchange/account_sync.py decodes Binance's messages into core values and hands them here;
this books each once through the trader's public booking API (its keys `<symbol>:t<trade id>`,
`<symbol>:o<order id>`, `funding:<symbol>[:<leg>]-<time>` are the trader's: the first arrival books,
any later one is a no-op), whose booking then has exchange/protection keep the resting exits
in sync before the event goes to the chat (the trader's notifier). The catch-up's starting
points are read from this mode's journal, never by the exchange side.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal

from storage.trades import TradeJournal
from trading.core.events import AccountModeSwitched
from trading.core.findings import ExitsResynced
from trading.core.portfolio import Fill
from trading.core.trader import Trader


class Follow:
    def __init__(self, trader: Trader, journal: TradeJournal) -> None:
        self._trader = trader
        self._journal = journal

    def fill(self, fill: Fill, what: str, order_key: str) -> bool:
        trader = self._trader
        if trader.exchange_fills.seen(fill) or trader.exchange_fills.knows(order_key):
            return False  # booked already (its order was booked whole when its trades were unreadable)
        return trader.exchange_fills.book(fill, what) is not None

    def funding(self, symbol: str, amount: Decimal, ts: int, position_side: str = "BOTH") -> bool:
        return self._trader.exchange_fills.funding(symbol, amount, ts, position_side=position_side)

    def legs(self, symbol: str) -> dict[str, Decimal]:
        return {p.position_side: abs(p.qty) for p in self._trader.portfolio.open_of(symbol)}

    def hedge(self) -> bool:
        return self._trader.hedge

    def account_mode(self, hedge: bool) -> AccountModeSwitched | None:
        return self._trader.follow_mode(hedge, running=True)

    def charge(self, symbol: str, amount: Decimal, ts: int, key: str, what: str) -> bool:
        return self._trader.exchange_fills.charge(symbol, amount, ts, key, what)

    def held(self) -> AbstractContextManager[object]:
        return self._trader.lock  # the reconciliation at /start takes it first, too

    def synced(self) -> list[ExitsResynced]:
        return self._trader.protect_all(check=True)

    def last_trade(self, symbol: str) -> tuple[int | None, int | None]:
        return self._journal.last_trade(symbol)

    def first_fill_time(self) -> int | None:
        fills = self._journal.fills()
        return int(fills[0]["time"]) if fills else None

    def last_funding_time(self) -> int | None:
        paid = self._journal.funding()
        return max(pay[0] for pay in paid) if paid else None
