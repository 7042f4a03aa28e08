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
from trading.core.events import StopMoved
from trading.core.numbers import dec
from trading.core.portfolio import Position
from trading.core.strategies import Values
from trading.core.strategies.ladder import Ladder
from trading.core.symbols import SymbolFilters

HUNDRED = Decimal(100)
ZERO = Decimal(0)


def exit_level(f: SymbolFilters, entry: Decimal, side: int, pct: Decimal, kind: str) -> Decimal:
    """The trigger for `pct` % from the entry, on the tick, never further than `pct` %
    (rounded toward the entry): a stop below a long rounds up, a take-profit above it down."""
    sign = -1 if kind == "sl" else 1
    raw = entry * (1 + sign * side * pct / HUNDRED)
    toward_entry = ROUND_CEILING if raw < entry else ROUND_FLOOR
    return (raw / f.tick_size).to_integral_value(toward_entry) * f.tick_size


Hit = tuple[str, Decimal, Decimal | None]  # (exit reason, fill price, quantity; None: the rest of the position)
# what _params reads from the values: stop %, take %, ladder, trailing %, activation %, ladder text, breakeven_after
Params = tuple[Decimal, Decimal, Ladder, Decimal, Decimal, str, int]

# an exit's client id leg (t1…: a ladder's levels); portfolio.EXIT_REASONS reads them back
LEGS = {"stop_loss": "sl", "take_profit": "tp", "trailing_stop": "ts", **{f"take_profit_{n}": f"t{n}" for n in range(1, 10)}}


class Exits:
    """The levels of each book's position, one rule in every mode: on the tick, toward the
    entry (exit_level), as they rest on the exchange in demo and live. Paper and the backtest
    rounded to the nearest tick, which put a take-profit beyond its percentage. `fee_rate`:
    the taker fee per side a breakeven stop covers (PAPER_FEE_PCT, in every mode)."""

    def __init__(self, filters: Mapping[str, SymbolFilters], fee_rate: Decimal = Decimal("0.0005")) -> None:
        self.filters = filters
        self.fee_rate = fee_rate
        self._read: tuple[dict[str, object], Params] | None = None  # _params

    def set(
        self, book: Book, entry: Decimal, side: int, values: Values, position_side: str = "BOTH", *,
        keep: bool = False, qty: Decimal | None = None,
    ) -> None:  # fmt: skip
        """The levels of the book's position (One-way) or of its Hedge Mode leg, of `qty`
        (what a ladder splits). `keep`: the same position with changed parameters (/set): a
        trailing stop whose callback and activation stay keeps the best price it has seen, a
        ladder that stays keeps the levels that have filled."""
        f = self.filters[book.symbol]
        lv = book.levels(position_side)
        sl, tp, ladder, ts, ta, text, be_after = self._params(values)
        lv.stop = exit_level(f, entry, side, sl, "sl") if sl else None
        lv.take = exit_level(f, entry, side, tp, "tp") if tp else None
        act = f.round_price(entry * (1 + side * ta / HUNDRED)) if ts and ta else None
        if not (keep and lv.trail == (ts or None) and lv.trail_act == act and lv.trail_best is not None):
            lv.trail_best = entry if ts and not ta else None
        lv.trail, lv.trail_act = ts or None, act
        if len(ladder.levels) < 2:
            lv.rungs, lv.hit = (), 0
        elif not (keep and lv.ladder == text and lv.rungs):
            assert qty is not None, "a ladder splits the position's quantity"
            lv.rungs, lv.hit = rungs(f, entry, side, ladder, qty), 0
        lv.ladder, lv.be_after, lv.entry = text, be_after, entry
        self._ladder_levels(f, lv, side)

    def _params(self, values: Values) -> Params:
        """The exit parameters values say: stop %, take %, the ladder, trailing callback and
        activation % (0: off), the ladder's text and breakeven_after. Read again only when the
        values differ from the last ones read (every opening fill asks; the values change by /set)."""
        if self._read is not None and self._read[0] == values:
            return self._read[1]
        sl = _pct(values, "stop_loss_pct")
        tp = _pct(values, "take_profit_pct")
        ladder = Ladder.parse(str(values.get("take_profit", "0")))
        if len(ladder) == 1:  # one level: exactly take_profit_pct
            tp = ladder.levels[0][0]
        ts = _pct(values, "trailing_stop_pct")
        ta = _pct(values, "trailing_activation_pct") if ts else ZERO
        self._read = (dict(values), (sl, tp, ladder, ts, ta, ladder.text(), int(values.get("breakeven_after", 0) or 0)))
        return self._read[1]

    def _ladder_levels(self, f: SymbolFilters, lv: Book | Levels, side: int) -> Decimal | None:
        """A ladder's take is its next level; once `be_after` levels filled, the stop is at the
        entry plus fees (returned when that moved it)."""
        moved = None
        if lv.rungs:
            nxt = [price for n, price, _ in lv.rungs if n > lv.hit]
            lv.take = nxt[0] if nxt else None
            if lv.be_after and lv.hit >= lv.be_after and lv.entry is not None:
                be = breakeven(f, lv.entry, side, self.fee_rate)
                if lv.stop != be:
                    lv.stop = moved = be
        lv.stop_f = float(lv.stop) if lv.stop is not None else 0.0
        lv.take_f = float(lv.take) if lv.take is not None else 0.0
        return moved

    def filled(self, book: Book, level: int, long: bool, position_side: str = "BOTH") -> Decimal | None:
        """A ladder's level `level` filled (paper, or its fill from the exchange) and part of
        the position is still open: the next level becomes the take; returns the breakeven
        stop when this moved it there (breakeven_after)."""
        lv = book.levels(position_side)
        lv.hit = max(lv.hit, level)
        return self._ladder_levels(self.filters[book.symbol], lv, 1 if long else -1)

    def part_filled(
        self, book: Book, kind: str, pos: Position | None, mode: str, position_side: str = "BOTH"
    ) -> StopMoved | None:
        """A fill of `kind` left `pos` open: when it was a ladder's level, the ladder moves on
        (filled()); the notice to say when breakeven_after moved the stop, else None."""
        if pos is None or not kind.startswith("take_profit_"):
            return None
        level = int(kind.rsplit("_", 1)[1])
        moved = self.filled(book, level, pos.qty > 0, position_side)
        if moved is None:
            return None
        return StopMoved(mode, book.symbol, position_side, level, moved, pos.entry, self.filters.get(book.symbol))

    @staticmethod
    def pending(book: Book, position_side: str = "BOTH") -> tuple[tuple[int, Decimal, Decimal], ...]:
        """A ladder's levels still to fill: what rests on the exchange."""
        lv = book.levels(position_side)
        return tuple(r for r in lv.rungs if r[0] > lv.hit)

    @staticmethod
    def clear(book: Book, position_side: str = "BOTH") -> None:
        """The position is gone: no levels (the book's margin is not an exit: kept)."""
        lv = book.levels(position_side)
        lv.stop = lv.take = lv.trail = lv.trail_act = lv.trail_best = lv.entry = None
        lv.stop_f = lv.take_f = 0.0
        lv.rungs, lv.hit, lv.ladder, lv.be_after = (), 0, "", 0

    def trailed(self, book: Book, long: bool, position_side: str = "BOTH") -> Decimal | None:
        """The trailing stop's trigger now (None: off or not active yet)."""
        return _trail_at(self.filters[book.symbol], book.levels(position_side), long)

    def touched(self, book: Book, c: Candle, long: bool, position_side: str = "BOTH") -> tuple[str, Decimal] | None:
        """The first exit the candle reached (exit reason, fill price), or None: hits()'s first."""
        found = self.hits(book, c, long, position_side)
        return (found[0][0], found[0][1]) if found else None

    def hits(self, book: Book, c: Candle, long: bool, position_side: str = "BOTH") -> list[Hit]:
        """The exits the candle reached, in order, as the module docstring reads a candle:
        stop_loss | trailing_stop | take_profit for the rest of the position, or a ladder's
        take_profit_N for its level's quantity (the last level: the rest). Moves the trailing
        stop along the candle; a ladder's progress is the caller's to book (filled())."""
        lv = book.levels(position_side)
        rest = [(n, price, q) for n, price, q in lv.rungs if n > lv.hit]
        last = rest[-1][0] if rest else 0
        if lv.trail is None:  # fixed levels only: the range, the stop first
            if lv.stop_f and (c.low <= lv.stop_f if long else c.high >= lv.stop_f):
                gapped = c.open <= lv.stop_f if long else c.open >= lv.stop_f
                return [("stop_loss", dec(c.open) if gapped else lv.stop, None)]  # type: ignore[list-item]
            if rest:
                out: list[Hit] = []
                for n, price, q in rest:
                    pf = float(price)
                    if not (c.high >= pf if long else c.low <= pf):
                        break
                    gapped = c.open >= pf if long else c.open <= pf
                    out.append((f"take_profit_{n}", dec(c.open) if gapped else price, None if n == last else q))
                return out
            if lv.take_f and (c.high >= lv.take_f if long else c.low <= lv.take_f):
                gapped = c.open >= lv.take_f if long else c.open <= lv.take_f
                return [("take_profit", dec(c.open) if gapped else lv.take, None)]  # type: ignore[list-item]
            return []
        return self._walk(self.filters[book.symbol], lv, c, long, rest)

    def _walk(
        self, f: SymbolFilters, lv: Book | Levels, c: Candle, long: bool, rest: list[tuple[int, Decimal, Decimal]]
    ) -> list[Hit]:
        """The candle along its path, with a trailing stop (the module docstring)."""
        sign = 1 if long else -1
        o, h, lo, cl = dec(c.open), dec(c.high), dec(c.low), dec(c.close)
        takes: list[tuple[str, Decimal, Decimal | None]] = (
            [(f"take_profit_{n}", price, None if i == len(rest) - 1 else q) for i, (n, price, q) in enumerate(rest)]
            if rest else ([("take_profit", lv.take, None)] if lv.take is not None else []))  # fmt: skip
        out: list[Hit] = []
        stop = _nearer_stop(f, lv, long)
        if stop is not None and (o - stop[1]) * sign <= 0:  # opened through a stop: filled at the open
            return [(stop[0], o, None)]
        while takes and (o - takes[0][1]) * sign >= 0:  # opened through a take-profit (a ladder's levels)
            kind, _, q = takes.pop(0)
            out.append((kind, o, q))
            if q is None:
                return out
        path = (o, lo, h, cl) if cl >= o else (o, h, lo, cl)
        for a, b in zip(path, path[1:], strict=False):
            if (b - a) * sign > 0:  # a leg in the position's favour: the take-profits, then the best price moves
                while takes and (b - takes[0][1]) * sign >= 0:
                    kind, price, q = takes.pop(0)
                    out.append((kind, price, q))
                    if q is None:
                        return out
                if lv.trail_best is None:
                    if lv.trail_act is None or (b - lv.trail_act) * sign < 0:
                        continue
                    lv.trail_best = b
                elif (b - lv.trail_best) * sign > 0:
                    lv.trail_best = b
            elif (stop := _nearer_stop(f, lv, long)) is not None and (b - stop[1]) * sign <= 0:
                return [*out, (stop[0], stop[1], None)]
        return out


def rungs(
    f: SymbolFilters, entry: Decimal, side: int, ladder: Ladder, qty: Decimal
) -> tuple[tuple[int, Decimal, Decimal], ...]:
    """A ladder's levels for a position of `qty`: each (number, trigger on the tick toward the
    entry, its share of `qty` floored to the step); the last takes the remainder. A share
    smaller than the step goes to the next level."""
    out: list[tuple[int, Decimal, Decimal]] = []
    left = qty
    for n, (dist, share) in enumerate(ladder.levels, start=1):
        q = left if n == len(ladder) else min(left, f.floor_qty(qty * share / HUNDRED))
        if q > 0:
            out.append((n, exit_level(f, entry, side, dist, "tp"), q))
            left -= q
    return tuple(out)


def breakeven(f: SymbolFilters, entry: Decimal, side: int, fee_rate: Decimal) -> Decimal:
    """The stop at the entry plus the fees of a round trip (the entry's and the exit's, at
    `fee_rate` each), on the tick away from the entry: stopped out there, the rest of the
    position loses nothing to fees."""
    raw = entry * (1 + side * 2 * fee_rate)
    away = ROUND_CEILING if side > 0 else ROUND_FLOOR
    return (raw / f.tick_size).to_integral_value(away) * f.tick_size


def _nearer_stop(f: SymbolFilters, lv: Book | Levels, long: bool) -> tuple[str, Decimal] | None:
    """The stop a falling price (a rising one, short) reaches first: fixed or trailing."""
    trail = _trail_at(f, lv, long)
    if lv.stop is None:
        return None if trail is None else ("trailing_stop", trail)
    if trail is None or (lv.stop >= trail if long else lv.stop <= trail):
        return "stop_loss", lv.stop
    return "trailing_stop", trail

def _pct(values: Values, name: str) -> Decimal:
    """A percentage parameter as the Decimal its text says (0 when unset or off)."""
    x = float(values.get(name, 0))
    return Decimal(repr(x)) if x else ZERO


def _trail_at(f: SymbolFilters, lv: Book | Levels, long: bool) -> Decimal | None:
    if lv.trail is None or lv.trail_best is None:
        return None
    sign = -1 if long else 1
    return f.round_price(lv.trail_best * (1 + sign * lv.trail / HUNDRED))
