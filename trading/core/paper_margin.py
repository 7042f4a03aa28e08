"""Where this process is the exchange (paper, the backtest): funding at the funding times
and isolated-margin liquidation (trading/core/futures.py has the formulas and the why).

An object the trader owns only in those modes: with a real broker the exchange liquidates
and books funding itself, and the book learns both from the account stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from trading.core.book import Book
from trading.core.brokers.base import OrderRequest
from trading.core.candles import Candle
from trading.core.futures import (
    FUNDING_PERIOD_MS,
    Bracket,
    FundingRate,
    funding_amount,
    funding_times,
    liquidation_price,
)
from trading.core.numbers import dec
from trading.core.portfolio import BUY, SELL, Fill, Portfolio
from trading.core.symbols import SymbolFilters

ZERO = Decimal(0)
Funded = tuple[int, str, Decimal, Decimal]  # (funding time, symbol, amount, rate)


class PaperMargin:
    def __init__(
        self,
        portfolio: Portfolio,
        filters: Mapping[str, SymbolFilters],
        interval_ms: int,
        funding: FundingRate | None,
        brackets: Mapping[str, Sequence[Bracket]],
    ) -> None:
        self.portfolio = portfolio
        self.filters = filters
        self.interval_ms = interval_ms
        self.funding = funding
        self.brackets = brackets

    # ------------------------------------------------------------- funding
    def fund(self, book: Book, candle: Candle) -> list[Funded]:
        """Funding due at this candle's open on the position held into it, once per candle
        (the live path's first forming update may already have done it)."""
        t = candle.open_time
        if self.funding is None or (book.funded_to is not None and t <= book.funded_to):
            return []
        book.funded_to = t
        if -(-t // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS >= t + self.interval_ms:
            return []  # no funding time at this candle (most of them: one in 32 at 15m)
        pos = self.portfolio.positions.get(book.symbol)
        if pos is None or not pos.qty:
            return []
        out = []
        for ts in funding_times(candle.open_time, self.interval_ms):
            rate = self.funding(book.symbol, ts)
            if rate is None or not rate:
                continue
            amount = funding_amount(pos.side, pos.qty, dec(candle.open), rate)
            self.portfolio.apply_funding(book.symbol, amount, ts)
            out.append((ts, book.symbol, amount, rate))
        return out

    # ------------------------------------------------------------- isolated margin
    def on_open(self, book: Book, fill: Fill, leverage: int) -> None:
        """The fill's initial margin joins the position's; its liquidation price follows."""
        pos = self.portfolio.positions[book.symbol]
        book.margin += fill.qty * fill.price / max(1, leverage)
        book.liq = liquidation_price(pos.side, pos.qty, pos.entry, book.margin, self.brackets.get(book.symbol) or (),
                                     self.filters[book.symbol].tick_size)  # fmt: skip
        book.liq_f = float(book.liq) if book.liq is not None else 0.0
        book.liq_long = pos.qty > 0

    @staticmethod
    def first(book: Book, c: Candle, long: bool) -> bool:
        """The candle reaches the liquidation price before any stop (a gap past it, or a
        stop farther than it)."""
        lf = book.liq_f
        if not lf or not (c.low <= lf if long else c.high >= lf):
            return False
        if c.open <= lf if long else c.open >= lf:
            return True
        sf = book.stop_f
        stop_hit = sf and (c.low <= sf if long else c.high >= sf)
        return not (stop_hit and (sf >= lf if long else sf <= lf))

    def liquidation(self, book: Book, c: Candle) -> Fill:
        """The fill that closes at the liquidation price; what remains of the margin is the
        clearance fee."""
        pos = self.portfolio.positions[book.symbol]
        assert book.liq is not None
        qty, price = abs(pos.qty), book.liq
        left = book.margin + (price - pos.entry) * pos.qty
        fee = max(ZERO, left).quantize(Decimal("0.00000001"))
        return Fill(OrderRequest.client_id(book.symbol, c.open_time, "liq"), book.symbol,
                    SELL if pos.qty > 0 else BUY, qty, price, fee, c.open_time, "liquidation")  # fmt: skip
