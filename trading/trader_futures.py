"""The trader's futures rules: funding at the funding times, isolated-margin liquidation,
and the backtest's exit at the end (trading/futures.py has the formulas and the why).

A mixin of `Trader`, kept apart so the trader's order flow reads without them. Both apply
only where this process is the exchange (the paper broker): with a real broker the
exchange liquidates and books funding itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from trading.book import Book, dec, utc_minute
from trading.brokers.base import OrderRequest
from trading.candles import Candle
from trading.futures import (
    FUNDING_PERIOD_MS,
    Bracket,
    FundingRate,
    funding_amount,
    funding_times,
    liquidation_price,
)
from trading.portfolio import BUY, SELL, Fill

if TYPE_CHECKING:
    from trading.portfolio import Portfolio
    from trading.symbols import SymbolFilters

ZERO = Decimal(0)


class FuturesRules:
    portfolio: Portfolio
    filters: dict[str, SymbolFilters]
    interval_ms: int
    mode: str
    funding: FundingRate | None
    brackets: Mapping[str, Sequence[Bracket]]

    def _paper(self) -> bool:
        return getattr(getattr(self, "broker", None), "mode", None) == "paper"

    # ------------------------------------------------------------- funding
    def _fund(self, book: Book, candle: Candle) -> list[tuple[int, str, Decimal, Decimal]]:
        """Funding due at this candle's open on the position held into it, once per candle
        (the live path's first forming update may already have done it): (ts, symbol, amount, rate)."""
        t = candle.open_time
        if self.funding is None or (book.funded_to is not None and t <= book.funded_to):
            return []
        book.funded_to = t
        if -(-t // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS >= t + self.interval_ms:
            return []  # no funding time at this candle (most of them: one in 32 at 15m)
        pos = self.portfolio.positions.get(book.symbol)
        if pos is None or not pos.qty or not self._paper():
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

    def _commit_funding(self, book: Book, funded: list[tuple[int, str, Decimal, Decimal]]) -> None:
        """Funding booked on its own (a confirmed order placed mid-candle, after the funding time)."""
        if funded and getattr(self, "journal", None) is not None:
            self._commit(book, [], funded)  # type: ignore[attr-defined]

    # ------------------------------------------------------------- isolated margin
    def _margin_on_open(self, book: Book, fill: Fill, leverage: int) -> None:
        """The fill's initial margin joins the position's; its liquidation price follows."""
        pos = self.portfolio.positions[book.symbol]
        book.margin += fill.qty * fill.price / max(1, leverage)
        brackets = self.brackets.get(book.symbol) if self._paper() else None
        book.liq = liquidation_price(pos.side, pos.qty, pos.entry, book.margin, brackets or (),
                                     self.filters[book.symbol].tick_size)
        book.liq_f = float(book.liq) if book.liq is not None else 0.0
        book.liq_long = pos.qty > 0

    def _flat(self, book: Book) -> None:
        book.stop = book.take = book.liq = None
        book.stop_f = book.take_f = book.liq_f = 0.0
        book.margin = ZERO

    def _liquidation_first(self, book: Book, c: Candle, long: bool) -> bool:
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

    def _liquidate(self, book: Book, c: Candle) -> Fill:
        """Close at the liquidation price; what remains of the margin is the clearance fee."""
        pos = self.portfolio.positions[book.symbol]
        assert book.liq is not None
        qty, price = abs(pos.qty), book.liq
        left = book.margin + (price - pos.entry) * pos.qty
        fee = max(ZERO, left).quantize(Decimal("0.00000001"))
        fill = Fill(OrderRequest.client_id(book.symbol, c.open_time, "liq"), book.symbol,
                    SELL if pos.qty > 0 else BUY, qty, price, fee, c.open_time, "liquidation")
        side = pos.side_name
        margin = book.margin
        closed = self.portfolio.apply(fill)
        self._flat(book)
        f = self.filters[book.symbol]
        pnl = f" · PnL {closed[-1].pnl.quantize(Decimal('0.01')):+} USDT" if closed else ""
        self._say("order_filled", f"{self.mode} {book.symbol} {side} liquidated at {f.fmt_price(price)} "  # type: ignore[attr-defined]
                  f"({utc_minute(c.open_time)} UTC): margin {margin.quantize(Decimal('0.01'))} USDT lost, "
                  f"clearance fee {fee.quantize(Decimal('0.01'))} USDT{pnl}", fill=fill)
        return fill

    # ------------------------------------------------------------- the end of a backtest
    def exit_at_end(self, symbol: str, candle: Candle) -> Fill | None:
        """Close what is still open at this (last) candle's close, exit reason `end`, like
        freqtrade's force exit at the end of a backtest."""
        pos = self.portfolio.positions.get(symbol)
        if pos is None or not pos.qty:
            return None
        req = OrderRequest(OrderRequest.client_id(symbol, candle.open_time, "end"), symbol,
                           SELL if pos.qty > 0 else BUY, "close", "end", candle.open_time,
                           qty=abs(pos.qty), reduce_only=True)
        return self._execute(self.books[symbol], req, dec(candle.close), candle.open_time)  # type: ignore[attr-defined]
