"""Where this process is the exchange (paper, the backtest): funding at the funding times
and isolated-margin liquidation (trading/core/futures.py has the formulas and the why). In
Hedge Mode each leg is a position of its own, as on Binance: it pays funding on its own
notional and has its own isolated margin and liquidation price (kept on its Levels).

An object the trader owns only in those modes: with a real broker the exchange liquidates
and books funding itself, and the book learns both from the account stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from trading.core.book import Book, Levels
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
from trading.core.portfolio import BOTH, BUY, SELL, Fill, Portfolio, position_key
from trading.core.symbols import SymbolFilters

ZERO = Decimal(0)
# (funding time, symbol, amount, rate[, leg]): a Hedge Mode leg's payment names its leg
Funded = tuple[int, str, Decimal, Decimal] | tuple[int, str, Decimal, Decimal, str]


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
        held = self.portfolio.open_of(book.symbol)  # the net position, or each Hedge Mode leg
        if not held:
            return []
        out: list[Funded] = []
        for ts in funding_times(candle.open_time, self.interval_ms):
            rate = self.funding(book.symbol, ts)
            if rate is None or not rate:
                continue
            for pos in held:  # each leg on its own notional
                amount = funding_amount(pos.side, pos.qty, dec(candle.open), rate)
                self.portfolio.apply_funding(book.symbol, amount, ts, pos.position_side)
                ps = pos.position_side
                out.append((ts, book.symbol, amount, rate) if ps == BOTH else (ts, book.symbol, amount, rate, ps))
        return out

    # ------------------------------------------------------------- isolated margin
    def on_open(self, book: Book, fill: Fill, leverage: int) -> None:
        """The fill's initial margin joins its position's (the net one, or its leg's); its
        liquidation price follows."""
        ps = fill.position_side
        pos = self.portfolio.positions[position_key(book.symbol, ps)]
        lv = book.levels(ps)
        lv.margin += fill.qty * fill.price / (leverage if leverage > 1 else 1)
        lv.liq = liquidation_price(pos.side, pos.qty, pos.entry, lv.margin, self.brackets.get(book.symbol) or (),
                                   self.filters[book.symbol].tick_size)  # fmt: skip
        lv.liq_f = float(lv.liq) if lv.liq is not None else 0.0
        lv.liq_long = pos.qty > 0

    @staticmethod
    def first(book: Book | Levels, c: Candle, long: bool) -> bool:
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

    def liquidation(self, book: Book, c: Candle, position_side: str = BOTH) -> Fill:
        """The fill that closes the position (or the leg) at its liquidation price; what
        remains of its margin is the clearance fee."""
        pos = self.portfolio.positions[position_key(book.symbol, position_side)]
        lv = book.levels(position_side)
        assert lv.liq is not None
        qty, price = abs(pos.qty), lv.liq
        left = lv.margin + (price - pos.entry) * pos.qty
        fee = max(ZERO, left).quantize(Decimal("0.00000001"))
        tag = "liq" if position_side == BOTH else f"liq-{position_side[0].lower()}"  # exit_reason reads "-liq-"
        return Fill(OrderRequest.client_id(book.symbol, c.open_time, tag), book.symbol,
                    SELL if pos.qty > 0 else BUY, qty, price, fee, c.open_time, "liquidation",
                    position_side=position_side)  # fmt: skip
