"""The account protections as the trader applies them (core/protections.py holds the rules and
their state): the day rolled and the account judged at each close, its events told, a closed
trade counted, the legs a lock lets through, and the questions the chat asks (/protections,
/resume, /unlock, an entry refused). With the protections off every answer is "nothing".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal

from trading.core.brokers.base import OrderRequest
from trading.core.portfolio import ClosedTrade, Portfolio
from trading.core.protections import Protections, ProtectionsView
from trading.core.records import Records

log = logging.getLogger("trading.core.trader")


class AccountGuard:
    def __init__(self, protections: Protections | None, portfolio: Portfolio, records: Records,
                 lock: threading.RLock, equity: Callable[[], Decimal], market_now: Callable[[], int]) -> None:  # fmt: skip
        """protections: None (or rules off) for none; equity: the wallet plus unrealized PnL at
        the books' prices; market_now: the market's time now (ms)."""
        self.protections = protections if protections is not None and protections.rules.on else None
        self.on = self.protections is not None
        self.portfolio = portfolio
        self.records = records
        self.lock = lock
        self.equity = equity
        self.market_now = market_now

    def roll(self, open_time: int) -> None:
        """A candle at `open_time` began: a new day restarts the daily loss."""
        assert self.protections is not None
        for event in self.protections.roll(open_time, self.portfolio.balance):
            self.records.say(event)

    def judge(self, close_time: int) -> str | None:
        """The account's numbers at this close: trips said; the reason to close every position
        at once when a protection says so (no proposal: nobody is asked to confirm a stop)."""
        assert self.protections is not None
        events, close = self.protections.check(close_time, self.portfolio.balance, self.equity())
        for event in events:
            self.records.say(event)
        return close

    def closed(self, closed: Sequence[ClosedTrade]) -> None:
        if self.protections is None:
            return
        for trade in closed:
            for event in self.protections.on_closed(trade.symbol, trade.exit_reason, trade.close_time):
                self.records.say(event)

    def gate(self, legs: list[OrderRequest], symbol: str, now: int, what: str) -> list[OrderRequest]:
        """The legs a protection lets through at market time `now`: all, or only the closes."""
        why = self.protections.blocked(symbol, now) if self.protections is not None and legs else None
        if why is None:
            return legs
        kept = [leg for leg in legs if leg.reduce_only]
        if len(kept) < len(legs):
            log.info("%s skipped (protection %s): no new entries%s", what, why, "; its close is kept" if kept else "")
        return kept

    def entry_blocked(self, symbol: str) -> str | None:
        """Why a person's entry on `symbol` is refused now by a protection (the market's time), or None."""
        if self.protections is None:
            return None
        with self.lock:
            return self.protections.blocked(symbol, self.market_now())

    def resume(self) -> list[str]:
        """/resume: the halts lifted (daily_loss, drawdown); the drawdown's peak restarts now."""
        if self.protections is None:
            return []
        with self.lock:
            return self.protections.resume(self.equity())

    def halts(self) -> frozenset[str]:
        return self.protections.halts() if self.protections is not None else frozenset()

    def view(self) -> ProtectionsView | None:
        if self.protections is None:
            return None
        with self.lock:
            return self.protections.view(self.market_now())

    def unlock(self, symbol: str | None) -> list[str]:
        if self.protections is None:
            return []
        with self.lock:
            return self.protections.unlock(symbol, self.market_now())
