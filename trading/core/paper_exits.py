"""Paper and the backtest, where this process is the exchange: a closed candle checked against
the position's exits as core/exits.py reads a candle (the stop-loss, the take-profit or a
ladder's levels, each part its own fill, the trailing stop; in Hedge Mode each leg, LONG first) and against the liquidation price, whose
fill leaves what remains of the margin as the insurance clearance fee (as on Binance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from trading.core.account_guard import AccountGuard
from trading.core.book import Book
from trading.core.brokers.base import OrderRequest
from trading.core.candles import Candle
from trading.core.events import Liquidated
from trading.core.exits import LEGS, Exits
from trading.core.order_desk import OrderDesk
from trading.core.paper_margin import PaperMargin
from trading.core.portfolio import BUY, SELL, Fill, Portfolio, position_key
from trading.core.records import Records
from trading.core.symbols import SymbolFilters


class PaperExits:
    def __init__(self, *, mode: str, portfolio: Portfolio, filters: Mapping[str, SymbolFilters], levels: Exits,
                 margin: PaperMargin | None, desk: OrderDesk, records: Records, guard: AccountGuard) -> None:  # fmt: skip
        self.mode = mode
        self.portfolio = portfolio
        self.filters = filters
        self.levels = levels
        self.margin = margin
        self.desk = desk
        self.records = records
        self.guard = guard

    def check(self, book: Book, c: Candle) -> list[Fill]:
        """The net position's liquidation and exits against this candle."""
        pos = self.portfolio.positions.get(book.symbol)
        if pos is None or not pos.qty:
            return []
        long = pos.qty > 0
        if self.margin is not None and self.margin.first(book, c, long):
            return self._liquidate(book, c)
        return self._exit_fills(book, c, long, "BOTH")

    def check_legs(self, book: Book, c: Candle) -> list[Fill]:
        """Hedge Mode: each leg's liquidation (on its own isolated margin) and exits against the
        candle (the rules of the net position's, leg by leg, LONG first)."""
        out: list[Fill] = []
        for ps, long in (("LONG", True), ("SHORT", False)):
            lv = book.legs[ps]
            if self.portfolio.held(book.symbol, ps) is None:
                continue
            if self.margin is not None and self.margin.first(lv, c, long):
                out += self._liquidate(book, c, ps)
            elif lv.stop_f or lv.take_f or lv.trail is not None:
                out += self._exit_fills(book, c, long, ps)
        return out

    def _exit_fills(self, book: Book, c: Candle, long: bool, ps: str) -> list[Fill]:
        """The exits the candle reached (core/exits.py), each filled in order: a ladder's level
        for its quantity (the ladder moves on, the stop to breakeven when due, said once),
        else the rest of the position. Client id legs sl/tp/ts/t1…, `-l`/`-s` for a leg."""
        out: list[Fill] = []
        for kind, price, qty in self.levels.hits(book, c, long, ps):
            pos = self.portfolio.held(book.symbol, ps)
            if pos is None:
                break
            tag = LEGS[kind] if ps == "BOTH" else LEGS[kind] + ("-l" if long else "-s")  # exit_reason reads "-sl-"
            req = OrderRequest(
                OrderRequest.client_id(book.symbol, c.open_time, tag), book.symbol, SELL if long else BUY, kind,
                kind.replace("_", "-"), c.open_time, qty=abs(pos.qty) if qty is None else min(qty, abs(pos.qty)),
                reduce_only=ps == "BOTH", position_side=ps,
            )  # fmt: skip
            fill = self.desk.execute(book, req, price, c.open_time)
            if fill is None:
                break
            out.append(fill)
            moved = self.levels.part_filled(book, kind, self.portfolio.held(book.symbol, ps), self.mode, ps)
            if moved is not None:
                self.records.say(moved)
        return out

    def _liquidate(self, book: Book, c: Candle, ps: str = "BOTH") -> list[Fill]:
        """The liquidation fill (no trading fee) and, as on Binance, what remains of the margin
        as the insurance clearance fee: an other charge (a fill without quantity), not a fee.
        `ps`: a Hedge Mode leg, liquidated on its own margin (the other leg stays)."""
        assert self.margin is not None
        liq = self.margin.liquidation(book, c, ps)
        fill, clearance = replace(liq, fee=Decimal(0)), liq.fee
        side, margin = self.portfolio.positions[position_key(book.symbol, ps)].side_name, book.levels(ps).margin
        closed = self.portfolio.apply(fill)
        fills = [fill]
        if clearance:
            leg = "" if ps == "BOTH" else f"-{ps}"
            fills.append(Fill(f"liquidation-{fill.symbol}-{c.open_time}{leg}", fill.symbol, fill.side, Decimal(0),
                              Decimal(0), clearance, c.open_time, "liquidation", position_side=ps))  # fmt: skip
            self.portfolio.apply(fills[-1])  # a cost of the trade it ends, too
            closed = self.portfolio.trades[-1:]
        if ps == "BOTH":
            book.flat()
        else:
            book.legs[ps].flat()
        self.guard.closed(closed)
        self.records.say(Liquidated(self.mode, fill, side, margin, tuple(closed), self.filters.get(fill.symbol),
                                    clearance))  # fmt: skip
        return fills
