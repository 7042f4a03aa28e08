"""What the trader writes down and tells: the journal (the live bot's state, storage/trades.py;
the backtest has none) and the notifier (typed events; the words are the chat's, bot/texts.py).

One part the trader owns and hands to its other parts, so a fill is committed and told the
same way whichever part booked it, and a failing notifier never stops trading.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from trading.core.book import Book
from trading.core.brokers.base import OrderRequest
from trading.core.events import Event, Notifier
from trading.core.paper_margin import Funded
from trading.core.portfolio import Fill

log = logging.getLogger("trading.core.trader")  # the trader's log, as before its parts were apart


class Journal(Protocol):
    """Where the live trader keeps its state (storage/trades.py); the backtest has none."""

    def load_state(self, symbol: str) -> dict[str, Any] | None: ...

    def commit(self, symbol: str, state: dict[str, Any], fills: Sequence[Fill]) -> None:
        """Fills and the new state in one transaction, so a crash never half-books a candle."""

    def record_refusal(self, order_id: str, symbol: str, side: str, qty: str | None, reduce_only: bool,
                       error: str) -> None:  # fmt: skip
        """An order the broker refused (never placed), kept with its reason."""


class Records:
    def __init__(self, journal: Journal | None, notifier: Notifier | None) -> None:
        self.journal = journal
        self.notifier = notifier

    def say(self, event: Event) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify(event)
        except Exception:  # a notifier must not stop trading; say so in the log
            log.exception("notifier failed on %s", event.kind)

    def book(self, book: Book, fills: Sequence[Fill]) -> None:
        """Fills and the book's state, when there are fills."""
        if self.journal is not None and fills:
            self.journal.commit(book.symbol, book.state(), fills)

    def commit(self, book: Book, fills: Sequence[Fill], funded: Sequence[Funded] = ()) -> None:
        """Fills, funding and state in one transaction (a journal without funding: paper funding off)."""
        if self.journal is None:
            return
        if funded:
            self.journal.commit(book.symbol, book.state(), fills, funding=funded)  # type: ignore[call-arg]
        else:
            self.journal.commit(book.symbol, book.state(), fills)

    def funding(self, book: Book, funding: list[tuple[Any, ...]]) -> None:
        """An exchange's funding payment, with no fill (book_funding)."""
        if self.journal is not None:
            self.journal.commit(book.symbol, book.state(), [], funding=funding)  # type: ignore[call-arg]

    def refused(self, req: OrderRequest, e: Exception) -> None:
        if self.journal is not None:
            self.journal.record_refusal(req.id, req.symbol, req.side, None if req.qty is None else str(req.qty),
                                        req.reduce_only, str(e))  # fmt: skip
