"""The book follows the exchange: fills the trader did not place itself, booked once.

Every Binance fill carries keys (`<symbol>:t<trade id>`, and `<symbol>:o<order id>` for an
order booked whole): the first arrival books it (the order's REST answer, the user data
stream, or the REST reconciliation after a gap), any later one is a no-op. A fill the bot
did not place (a triggered exit, a liquidation, an auto-deleverage, a trade by hand) gets
one chat line saying what happened, with price, quantity and PnL. A mixin of Trader.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trading.book import fee_words, fill_text
from trading.brokers.base import OrderRequest
from trading.portfolio import ClosedTrade, Fill

if TYPE_CHECKING:
    from trading.trader import Trader

CENT = Decimal("0.01")
WHAT = {
    "stop_loss": "stop-loss filled",
    "take_profit": "take-profit filled",
    "liquidation": "liquidated",
    "adl": "auto-deleveraged (ADL)",
    "settlement": "closed by Binance's settlement (delisting or delivery)",
    "outside": "closed outside the bot",
}


class TraderFollow:
    known_keys: set[str]

    def seen(self: Trader, fill: Fill) -> bool:
        return any(k in self.known_keys for k in fill.keys)

    def book_exchange_fill(self: Trader, fill: Fill, what: str) -> list[ClosedTrade] | None:
        """Book one exchange fill unless one of its keys was booked already (then None).

        `what`: "own" (the bot's order, whose REST answer was lost), "stop_loss",
        "take_profit", "liquidation", "adl" or "outside"."""
        with self._lock:
            book = self.books.get(fill.symbol)
            if book is None or self.seen(fill):
                return None
            before = self.portfolio.side(fill.symbol)
            closed = self.portfolio.apply(fill)
            self.known_keys.update(fill.keys)
            pos = self.portfolio.positions[fill.symbol]
            if not pos.qty:
                self._flat(book)
            elif pos.side != before or (fill.signed_qty > 0) == (pos.qty > 0):
                self._set_exits(book, pos.entry, pos.side)  # a new or larger position: its exits
            if self.journal is not None:
                self.journal.commit(book.symbol, book.state(), [fill])
            self._protect(book)  # flat: the other exit is cancelled before the chat is told
            self._tell_fill(fill, what, closed, before)
            return closed

    def book_funding(self: Trader, symbol: str, amount: Decimal, ts: int, rate: Decimal | None = None) -> bool:
        """One funding payment the exchange booked (+ received, − paid), once per symbol and
        funding time (the stream's account update and the income history agree on it)."""
        key = f"funding:{symbol}-{ts}"
        with self._lock:
            book = self.books.get(symbol)
            if book is None or key in self.known_keys:
                return False
            self.portfolio.apply_funding(symbol, amount, ts)
            self.known_keys.add(key)
            if self.journal is not None:
                self.journal.commit(symbol, book.state(), [], funding=[(ts, symbol, amount, rate)])  # type: ignore[call-arg]
            word = "received" if amount > 0 else "paid"
            self._say("funding", f"{self.mode}: funding {symbol}: {word} {abs(amount).quantize(Decimal('0.0001'))} USDT")
            return True

    def book_charge(self: Trader, symbol: str, amount: Decimal, ts: int, key: str, what: str) -> bool:
        """A charge with no trade (the insurance clearance fee a liquidation leaves), once."""
        with self._lock:
            book = self.books.get(symbol)
            if book is None or key in self.known_keys or not amount:
                return False
            fill = Fill(f"{what}-{symbol}-{ts}", symbol, "SELL", Decimal(0), Decimal(0), amount, ts, what, (key,))
            self.portfolio.apply(fill)
            self.known_keys.add(key)
            if self.journal is not None:
                self.journal.commit(symbol, book.state(), [fill])
            self._say("order_filled", f"{self.mode}: {symbol} insurance clearance fee after the liquidation: "
                      f"{amount.quantize(Decimal('0.01'))} USDT")  # fmt: skip
            return True

    def _tell_fill(self: Trader, fill: Fill, what: str, closed: list[ClosedTrade], before: int) -> None:
        f = self.filters[fill.symbol]
        if what == "own":
            req = OrderRequest(fill.order_id, fill.symbol, fill.side, "open" if not before else "close", "", 0)
            self._say("order_filled", fill_text(fill, req, closed, f, self.mode), fill=fill)
            return
        label = WHAT.get(what, WHAT["outside"])
        if what == "outside" and (not before or (fill.signed_qty > 0) == (before > 0)):
            label = "traded outside the bot"
        text = f"{self.mode}: {label}: {fill.side} {f.fmt_qty(fill.qty)} {fill.symbol} at {f.fmt_price(fill.price)}"
        text += " · fee " + fee_words(fill)
        if closed:
            t = closed[-1]
            text += f" · closed {t.side}: PnL {t.pnl.quantize(CENT):+} USDT net of fees"
        pos = self.portfolio.positions[fill.symbol]
        text += f" · now {pos.side_name} {f.fmt_qty(abs(pos.qty))}" if pos.qty else " · no position left"
        self._say("order_filled", text, fill=fill, what=what)

