"""The trader's stop-loss and take-profit: levels from the entry, and where they are enforced.

Paper and the backtest check each closed candle's range against the levels (both touched:
the stop wins; a candle opening beyond a level fills at its open). In demo and live the
levels rest on the exchange as conditional orders (trading/exchange/protection.py keeps
them equal to the book's) and the candle check is off: Binance triggers them on its mark
(or last) price between candles, and the book learns the fill from the user data stream.
A mixin of Trader, kept apart so the trading rules read alone.
"""

from __future__ import annotations

import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from trading.book import Book, dec
from trading.brokers.base import OrderRefused, OrderRequest, OrderUnknown
from trading.candles import Candle
from trading.portfolio import BUY, SELL, Fill
from trading.symbols import SymbolFilters

if TYPE_CHECKING:
    from trading.trader import Trader

log = logging.getLogger(__name__)
WOULD_TRIGGER = -2021


class WouldTrigger(OrderRefused):
    """Binance refused an exit because its trigger is already crossed (-2021): the trader
    closes by market instead. `kind` is "stop_loss" or "take_profit"."""

    def __init__(self, reason: str, kind: str, level: Decimal) -> None:
        super().__init__(reason, WOULD_TRIGGER)
        self.kind = kind
        self.level = level


def exit_level(f: SymbolFilters, entry: Decimal, side: int, pct: Decimal, kind: str) -> Decimal:
    """The trigger for `pct` % from the entry, on the tick, never further than `pct` %
    (rounded toward the entry): a stop below a long rounds up, a take-profit above it down."""
    sign = -1 if kind == "sl" else 1
    raw = entry * (1 + sign * side * pct / Decimal(100))
    toward_entry = ROUND_CEILING if raw < entry else ROUND_FLOOR
    return (raw / f.tick_size).to_integral_value(rounding=toward_entry) * f.tick_size


class TraderExits:
    exits: Any

    def _check_exits(self: Trader, book: Book, c: Candle) -> list[Fill]:
        pos = self.portfolio.positions.get(book.symbol)
        if pos is None or not pos.qty:
            return []
        long = pos.qty > 0
        if self._liquidation_first(book, c, long):  # paper only: trading/trader_futures.py
            return [self._liquidate(book, c)]
        kind, level = None, None
        if book.stop_f and (c.low <= book.stop_f if long else c.high >= book.stop_f):
            kind, level = "stop_loss", book.stop
            gapped = c.open <= book.stop_f if long else c.open >= book.stop_f
        elif book.take_f and (c.high >= book.take_f if long else c.low <= book.take_f):
            kind, level = "take_profit", book.take
            gapped = c.open >= book.take_f if long else c.open <= book.take_f
        if kind is None:
            return []
        price = dec(c.open) if gapped else level
        req = OrderRequest(
            OrderRequest.client_id(book.symbol, c.open_time, "sl" if kind == "stop_loss" else "tp"),
            book.symbol,
            SELL if long else BUY,
            kind,
            kind.replace("_", "-"),
            c.open_time,
            qty=abs(pos.qty),
            reduce_only=True,
        )
        fill = self._execute(book, req, price, c.open_time)  # type: ignore[arg-type]
        return [fill] if fill is not None else []

    def _set_exits(self: Trader, book: Book, entry: Decimal, side: int) -> None:
        f = self.filters[book.symbol]
        sl, tp = (
            Decimal(repr(float(self.values.get("stop_loss_pct", 0)))),
            Decimal(repr(float(self.values.get("take_profit_pct", 0)))),
        )
        hundred = Decimal(100)
        if self.exits is not None:  # what rests on the exchange: never wider than the percentage
            book.stop = exit_level(f, entry, side, sl, "sl") if sl else None
            book.take = exit_level(f, entry, side, tp, "tp") if tp else None
        else:
            book.stop = f.round_price(entry * (1 - side * sl / hundred)) if sl else None
            book.take = f.round_price(entry * (1 + side * tp / hundred)) if tp else None
        book.stop_f = float(book.stop) if book.stop is not None else 0.0
        book.take_f = float(book.take) if book.take is not None else 0.0

    def protect_all(self: Trader, *, check: bool = True) -> list[str]:
        """Every symbol's exits as the book says, checked against the exchange (start,
        resume, user-stream reconnect): missing ones placed again, own orphans cancelled."""
        said: list[str] = []
        with self._lock:
            for book in self.books.values():
                said += self._protect(book, check=check)
        return said

    def _protect(self: Trader, book: Book, *, check: bool = False) -> list[str]:
        """Exchange modes: make the resting exits match the position and its levels. A
        trigger already crossed (-2021) closes the position by market at once, said so."""
        if self.exits is None:
            return []
        pos = self.portfolio.positions.get(book.symbol)
        side = pos.side if pos is not None else 0
        opened = pos.opened_at if pos is not None and side else 0
        try:
            return self.exits.sync(book.symbol, side, opened, book.stop, book.take, check=check)
        except WouldTrigger as e:
            self._close_now(book, e)
        except (OrderRefused, OrderUnknown) as e:
            self._say(
                "exit_failed",
                f"{self.mode}: exits for {book.symbol} not placed on the exchange: {e}",
            )
        except Exception as e:  # noqa: BLE001 (a read or a cancel failed: said, the next sync retries)
            log.exception("exits of %s", book.symbol)
            self._say(
                "exit_failed",
                f"{self.mode}: exits for {book.symbol} not checked on the exchange: {e}",
            )
        return []

    def _close_now(self: Trader, book: Book, e: WouldTrigger) -> None:
        pos = self.portfolio.positions[book.symbol]
        f = self.filters[book.symbol]
        name = e.kind.replace("_", "-")
        self._say(
            "exit_would_trigger",
            f"{self.mode}: the {name} at {f.fmt_price(e.level)} would trigger at once (-2021): "
            f"closing {book.symbol} by market now",
        )
        time = (self.last_open(book.symbol) or 0) + self.interval_ms
        req = OrderRequest(
            OrderRequest.client_id(book.symbol, time, "sl" if e.kind == "stop_loss" else "tp"),
            book.symbol, SELL if pos.qty > 0 else BUY, e.kind, name, time, qty=abs(pos.qty), reduce_only=True,
        )  # fmt: skip
        price = self.current_price(book.symbol) or e.level
        try:
            fill = self._execute(book, req, price, time)
        except OrderUnknown as err:
            self._say("exit_failed", f"{self.mode}: closing {book.symbol} by market: {err}")
            return
        if fill is not None:
            self._book(book, [fill])
            self._protect(book)
