"""Stop-loss, take-profit and the trailing stop: levels from the entry, and the candle check.

Each position has its own levels: the book's (One-way Mode) or its Hedge Mode leg's
(book.levels(position_side)), set from the same parameters by the same rule.

Paper and the backtest check each closed candle's range against the levels (both touched:
the stop wins; a candle opening beyond a level fills at its open).

The trailing stop (`trailing_stop_pct`, Binance's callbackRate, 0.1–10 %; optional
`trailing_activation_pct` from the entry, Binance's activationPrice; without it the stop
trails from the entry at once, as Binance activates an order sent without activationPrice
at the price of that moment) follows the best price since its activation: a long's stop
is the highest price × (1 − callback), a short's the lowest × (1 + callback), on the tick.
With a trailing stop set, the candle is walked along its path instead of by its range:
open → low → high → close for a candle that closed at or above its open, open → high →
low → close for one that closed below it (the replay exchange plays its prices along the
same path, sim/binance/klines.py). At the open, a gap through the nearer stop (fixed or
trailing, as it stood) or through the take-profit fills there; then a leg in the
position's favour reaches the take-profit or moves the best price (activating the
trailing stop once it reaches the activation price), and a leg against it fires the
nearer stop it reaches, at its level. So a candle that both activates the trailing stop
and comes back by the callback closes the position in that candle when its extreme in
the position's favour came first (a long's candle that closed down: open → high → low),
and not when it came last (closed up: the low came before the stop started to trail).

In demo and live the levels rest on the exchange as conditional orders
(trading/exchange/protection.py keeps them equal to the book's) and the candle check is
off: Binance triggers them on its mark (or last) price between candles, and the book
learns the fill from the user data stream.
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

    def set(
        self, book: Book, entry: Decimal, side: int, values: Values, position_side: str = "BOTH", *, keep: bool = False
    ) -> None:
        """The levels of the book's position (One-way) or of its Hedge Mode leg. `keep`: the
        same position with changed parameters (/set): a trailing stop whose callback and
        activation stay keeps the best price it has seen."""
        f = self.filters[book.symbol]
        lv = book.levels(position_side)
        sl = Decimal(repr(float(values.get("stop_loss_pct", 0))))
        tp = Decimal(repr(float(values.get("take_profit_pct", 0))))
        lv.stop = exit_level(f, entry, side, sl, "sl") if sl else None
        lv.take = exit_level(f, entry, side, tp, "tp") if tp else None
        lv.stop_f = float(lv.stop) if lv.stop is not None else 0.0
        lv.take_f = float(lv.take) if lv.take is not None else 0.0
        ts = Decimal(repr(float(values.get("trailing_stop_pct", 0))))
        ta = Decimal(repr(float(values.get("trailing_activation_pct", 0))))
        act = f.round_price(entry * (1 + side * ta / HUNDRED)) if ts and ta else None
        if not (keep and lv.trail == (ts or None) and lv.trail_act == act and lv.trail_best is not None):
            lv.trail_best = entry if ts and not ta else None
        lv.trail, lv.trail_act = ts or None, act

    def trailed(self, book: Book, long: bool, position_side: str = "BOTH") -> Decimal | None:
        """The trailing stop's trigger now (None: off or not active yet)."""
        return _trail_at(self.filters[book.symbol], book.levels(position_side), long)

    def touched(self, book: Book, c: Candle, long: bool, position_side: str = "BOTH") -> tuple[str, Decimal] | None:
        """(stop_loss | trailing_stop | take_profit, fill price) if the candle reached a level of
        the book's position (or its Hedge Mode leg), as the module docstring reads a candle;
        moves the trailing stop along the candle."""
        lv = book.levels(position_side)
        if lv.trail is None:  # fixed levels only: the range, the stop first
            if lv.stop_f and (c.low <= lv.stop_f if long else c.high >= lv.stop_f):
                gapped = c.open <= lv.stop_f if long else c.open >= lv.stop_f
                return "stop_loss", dec(c.open) if gapped else lv.stop  # type: ignore[return-value]
            if lv.take_f and (c.high >= lv.take_f if long else c.low <= lv.take_f):
                gapped = c.open >= lv.take_f if long else c.open <= lv.take_f
                return "take_profit", dec(c.open) if gapped else lv.take  # type: ignore[return-value]
            return None
        f = self.filters[book.symbol]
        sign = 1 if long else -1
        o, h, lo, cl = dec(c.open), dec(c.high), dec(c.low), dec(c.close)
        stop = self._nearer_stop(f, lv, long)
        if stop is not None and (o - stop[1]) * sign <= 0:  # opened through a stop: filled at the open
            return stop[0], o
        if lv.take is not None and (o - lv.take) * sign >= 0:
            return "take_profit", o
        path = (o, lo, h, cl) if cl >= o else (o, h, lo, cl)
        for a, b in zip(path, path[1:], strict=False):
            if (b - a) * sign > 0:  # a leg in the position's favour: the take-profit, then the best price moves
                if lv.take is not None and (b - lv.take) * sign >= 0:
                    return "take_profit", lv.take
                if lv.trail_best is None:
                    if lv.trail_act is None or (b - lv.trail_act) * sign < 0:
                        continue
                    lv.trail_best = b
                elif (b - lv.trail_best) * sign > 0:
                    lv.trail_best = b
            elif (stop := self._nearer_stop(f, lv, long)) is not None and (b - stop[1]) * sign <= 0:
                return stop
        return None

    def _nearer_stop(self, f: SymbolFilters, lv: Book | Levels, long: bool) -> tuple[str, Decimal] | None:
        """The stop a falling price (a rising one, short) reaches first: fixed or trailing."""
        trail = _trail_at(f, lv, long)
        if lv.stop is None:
            return None if trail is None else ("trailing_stop", trail)
        if trail is None or (lv.stop >= trail if long else lv.stop <= trail):
            return "stop_loss", lv.stop
        return "trailing_stop", trail


def _trail_at(f: SymbolFilters, lv: Book | Levels, long: bool) -> Decimal | None:
    if lv.trail is None or lv.trail_best is None:
        return None
    sign = -1 if long else 1
    return f.round_price(lv.trail_best * (1 + sign * lv.trail / HUNDRED))
