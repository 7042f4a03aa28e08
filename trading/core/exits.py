"""Stop-loss and take-profit: levels from the entry, and the candle check against them.

Paper and the backtest check each closed candle's range against the levels (both touched:
the stop wins; a candle opening beyond a level fills at its open). In demo and live the
levels rest on the exchange as conditional orders (trading/exchange/protection.py keeps
them equal to the book's) and the candle check is off: Binance triggers them on its mark
(or last) price between candles, and the book learns the fill from the user data stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from trading.core.book import Book, Levels
from trading.core.candles import Candle
from trading.core.numbers import dec
from trading.core.strategies import Values
from trading.core.symbols import SymbolFilters

HUNDRED = Decimal(100)


def exit_level(f: SymbolFilters, entry: Decimal, side: int, pct: Decimal, kind: str) -> Decimal:
    """The trigger for `pct` % from the entry, on the tick, never further than `pct` %
    (rounded toward the entry): a stop below a long rounds up, a take-profit above it down."""
    sign = -1 if kind == "sl" else 1
    raw = entry * (1 + sign * side * pct / HUNDRED)
    toward_entry = ROUND_CEILING if raw < entry else ROUND_FLOOR
    return (raw / f.tick_size).to_integral_value(rounding=toward_entry) * f.tick_size


class Exits:
    """The levels of each book's position, one rule in every mode: on the tick, toward the
    entry (exit_level), as they rest on the exchange in demo and live. Paper and the backtest
    rounded to the nearest tick, which put a take-profit beyond its percentage."""

    def __init__(self, filters: Mapping[str, SymbolFilters]) -> None:
        self.filters = filters

    def set(self, book: Book, entry: Decimal, side: int, values: Values, position_side: str = "BOTH") -> None:
        """The levels of the book's position (One-way) or of its Hedge Mode leg."""
        f = self.filters[book.symbol]
        lv = book.levels(position_side)
        sl = Decimal(repr(float(values.get("stop_loss_pct", 0))))
        tp = Decimal(repr(float(values.get("take_profit_pct", 0))))
        lv.stop = exit_level(f, entry, side, sl, "sl") if sl else None
        lv.take = exit_level(f, entry, side, tp, "tp") if tp else None
        lv.stop_f = float(lv.stop) if lv.stop is not None else 0.0
        lv.take_f = float(lv.take) if lv.take is not None else 0.0

    @staticmethod
    def touched(book: Book | Levels, c: Candle, long: bool) -> tuple[str, Decimal] | None:
        """(stop_loss | take_profit, fill price) if the candle reached a level: the stop
        first; a candle opening beyond the level fills at its open."""
        if book.stop_f and (c.low <= book.stop_f if long else c.high >= book.stop_f):
            gapped = c.open <= book.stop_f if long else c.open >= book.stop_f
            return "stop_loss", dec(c.open) if gapped else book.stop  # type: ignore[return-value]
        if book.take_f and (c.high >= book.take_f if long else c.low <= book.take_f):
            gapped = c.open >= book.take_f if long else c.open <= book.take_f
            return "take_profit", dec(c.open) if gapped else book.take  # type: ignore[return-value]
        return None
