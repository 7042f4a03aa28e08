"""Positions and PnL from fills, in Decimal: one net position per symbol in One-way Mode,
a LONG and a SHORT leg per symbol in Hedge Mode (Binance's "dual side position").

One model for both: a position is named by `position_key(symbol, position_side)`: its
symbol in One-way Mode (position side BOTH, as Binance calls it), `SYMBOL:LONG` /
`SYMBOL:SHORT` for a Hedge Mode leg. A fill carries the position side it traded and is
booked into that position only; a leg never flips (Binance closes a leg by its own
quantity at most), so the rules below are the same for a net position and a leg.

Everything here is a pure function of the fills in order, so the chat's numbers, the
backtest's and a recomputation from the stored fills are the same by construction
(`Portfolio.replay`). A fill that crosses zero closes the trade and opens the other side at
the same price; its fee is split between the two in proportion to quantity.

Floats mirror the position for the hot path (equity marks on every backtest candle); money
itself is never computed in float.

Every booking also writes its entry in the portfolio's `ledger` (trading/core/ledger.py):
the one record every money view reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from trading.core.frozen import quick_init
from trading.core.ledger import CHARGE, FILL, FUNDING, Entry, Ledger

ZERO = Decimal(0)
BUY, SELL = "BUY", "SELL"
BOTH, LONG_LEG, SHORT_LEG = "BOTH", "LONG", "SHORT"  # Binance's positionSide values


# A stored funding payment: (ts, symbol, amount) or (ts, symbol, amount, leg) in Hedge Mode
Payment = tuple[int, str, Decimal] | tuple[int, str, Decimal, str]


def position_key(symbol: str, position_side: str = BOTH) -> str:
    """How the book names a position: by symbol in One-way Mode, by (symbol, side) in Hedge Mode."""
    return symbol if position_side == BOTH else f"{symbol}:{position_side}"


def leg_of(side: int) -> str:
    """The Hedge Mode leg a direction trades: +1 LONG, -1 SHORT."""
    return LONG_LEG if side > 0 else SHORT_LEG
# The closing fill's client order id suffix → ClosedTrade.exit_reason (the ids are the
# trader's deterministic ones, so stored fills give the same); anything else: a signal's.
EXIT_REASONS = {"-sl": "stop_loss", "-tp": "take_profit", "-liq": "liquidation", "-end": "end",
                "-dd": "drawdown", "-dl": "daily_loss", "-ts": "trailing_stop",
                **{f"-t{n}": f"take_profit_{n}" for n in range(1, 10)}}  # fmt: skip  (-t1…: a ladder's levels)


_ORDER = {leg[1:]: i for i, leg in enumerate(EXIT_REASONS)}  # a leg without its dash → its rank
_BY_RANK = tuple(EXIT_REASONS.values())


def exit_reason(order_id: str) -> str:
    """From `tg-<symbol>-<time>-<leg>` or, with an instance id, `tg-<instance>-<time>-<leg>-<symbol>`:
    the first of EXIT_REASONS whose leg ends the id (`…-sl`) or stands between two dashes
    (`…-sl-…`), i.e. is one of the id's dash-separated words after the first."""
    words = order_id.split("-")[1:]
    if _ORDER.keys().isdisjoint(words):  # a signal's close (most of them): one look in C, no list
        return "signal"
    return _BY_RANK[min(_ORDER[w] for w in words if w in _ORDER)]


@quick_init
@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str  # client order id: deterministic, so a replayed fill is recognised
    symbol: str
    side: str  # BUY | SELL
    qty: Decimal
    price: Decimal
    fee: Decimal  # in the quote asset (USDT)
    time: int  # ms: the fill candle's open time
    reason: str = ""
    # Exchange fills: what booked it, once (`<symbol>:t<trade id>`, `<symbol>:o<order id>`),
    # and a fee paid in another asset (BNB): its asset and amount; `fee` is its USDT value.
    keys: tuple[str, ...] = ()
    fee_asset: str = "USDT"
    fee_amount: Decimal | None = None
    position_side: str = BOTH  # the Hedge Mode leg it traded (LONG/SHORT), BOTH in One-way Mode

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side == BUY else -self.qty

    @property
    def key(self) -> str:
        return position_key(self.symbol, self.position_side)


@quick_init
@dataclass(frozen=True, slots=True)
class ClosedTrade:
    symbol: str
    side: str  # "long" | "short"
    qty: Decimal  # the largest size the position reached
    entry_price: Decimal  # average entry
    exit_price: Decimal  # average exit
    fees: Decimal  # entry + exit fees, and the insurance clearance fee after a liquidation
    pnl: Decimal  # realized, net of fees, funding included
    open_time: int
    close_time: int
    exit_reason: str = "signal"  # signal | stop_loss | take_profit | liquidation | end
    funding: Decimal = ZERO  # funding while it was open: + received, − paid
    position_side: str = BOTH  # the Hedge Mode leg it was on


@dataclass
class Position:
    symbol: str
    qty: Decimal = ZERO  # signed: > 0 long, < 0 short (a SHORT leg's is ≤ 0)
    entry: Decimal = ZERO  # average entry price
    opened_at: int = 0
    trade_side: int = 0  # +1 / -1 for the trade in progress (kept until it is booked)
    # the trade in progress
    peak_qty: Decimal = ZERO
    fees: Decimal = ZERO
    realized: Decimal = ZERO  # gross, this trade
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    funding: Decimal = ZERO
    # float mirrors for marks
    qty_f: float = 0.0
    entry_f: float = 0.0
    position_side: str = BOTH

    @property
    def key(self) -> str:
        return position_key(self.symbol, self.position_side)

    @property
    def side(self) -> int:
        q = self.qty_f  # qty's float mirror, synced by every booking (Portfolio.apply): the same sign
        return (q > 0) - (q < 0)

    @property
    def side_name(self) -> str:
        return {1: "long", -1: "short", 0: "flat"}[self.side]

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry) * self.qty

    def _sync(self) -> None:
        self.qty_f, self.entry_f = float(self.qty), float(self.entry)


@dataclass
class Portfolio:
    initial: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    realized: Decimal = ZERO  # gross realized PnL, all symbols
    fees: Decimal = ZERO  # trading fees (USDT value), all symbols
    funding: Decimal = ZERO  # + received, − paid, all symbols
    trades: list[ClosedTrade] = field(default_factory=list)
    fills: int = 0
    balance_f: float = 0.0
    charges: Decimal = ZERO  # other charges, not fills (the clearance fee after a liquidation)
    ledger: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.balance_f = float(self.balance)
        self.ledger = Ledger(self.initial)

    # ------------------------------------------------------------- reading
    @property
    def balance(self) -> Decimal:
        """Wallet: initial + realized − fees + funding − charges (what the exchange calls the
        wallet balance): initial + Σ net of the ledger."""
        return self.initial + self.net_pnl

    @property
    def net_pnl(self) -> Decimal:
        return self.realized - self.fees + self.funding - self.charges

    def position(self, symbol: str, position_side: str = BOTH) -> Position:
        key = position_key(symbol, position_side)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(symbol, position_side=position_side)
        return pos

    def held(self, symbol: str, position_side: str = BOTH) -> Position | None:
        """The position if it is open, else None."""
        pos = self.positions.get(position_key(symbol, position_side))
        return pos if pos is not None and pos.qty else None

    def side(self, symbol: str, position_side: str = BOTH) -> int:
        pos = self.positions.get(symbol if position_side == BOTH else position_key(symbol, position_side))
        return pos.side if pos is not None else 0

    def open_of(self, symbol: str) -> list[Position]:
        """A symbol's open positions: its net one, or its open legs (LONG first)."""
        return [p for p in (self.positions.get(position_key(symbol, ps)) for ps in (BOTH, LONG_LEG, SHORT_LEG))
                if p is not None and p.qty]  # fmt: skip

    def exposure(self, symbol: str) -> Decimal:
        """What the limits count: the sum of the symbol's legs' sizes (the net size in One-way)."""
        return sum((abs(p.qty) for p in self.open_of(symbol)), ZERO)

    def unrealized(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum(
            (p.unrealized(marks[p.symbol]) for p in self.positions.values() if p.qty and p.symbol in marks), ZERO
        )

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        return self.balance + self.unrealized(marks)

    def used_margin(self, leverage: int) -> Decimal:
        total = ZERO  # Σ |qty| × entry, in the positions' order
        for p in self.positions.values():
            total += abs(p.qty) * p.entry
        return total / max(1, leverage)

    def equity_f(self, symbol: str, mark: float) -> float:
        """Float mark-to-market equity for one symbol's book (the backtest's curve), both legs."""
        pos = self.positions.get(symbol)
        if pos is not None and pos.qty_f:
            return self.balance_f + (mark - pos.entry_f) * pos.qty_f
        out = self.balance_f
        for ps in (LONG_LEG, SHORT_LEG):
            leg = self.positions.get(position_key(symbol, ps))
            if leg is not None and leg.qty_f:
                out += (mark - leg.entry_f) * leg.qty_f
        return out

    # ------------------------------------------------------------- writing
    def apply(self, fill: Fill) -> list[ClosedTrade]:
        """Book one fill; returns the trades it closed (zero or one). A fill without quantity
        is a charge with no trade (Binance's insurance clearance fee after a liquidation): an
        other charge in the ledger, and a cost of the symbol's last closed trade."""
        if not fill.qty:
            self.charges += fill.fee
            for i in range(len(self.trades) - 1, -1, -1):
                t = self.trades[i]
                if t.symbol == fill.symbol:
                    self.trades[i] = replace(t, fees=t.fees + fill.fee, pnl=t.pnl - fill.fee)
                    break
            self.balance_f = float(self.balance)
            pos = self.positions.get(fill.key)
            self.ledger.add(Entry(fill.time, fill.symbol, CHARGE, charges=fill.fee, qty=pos.qty if pos else ZERO,
                                  entry=pos.entry if pos else ZERO, position_side=fill.position_side))  # fmt: skip
            return []
        ps = fill.position_side
        pos = self.positions.get(fill.symbol if ps == BOTH else position_key(fill.symbol, ps)) or self.position(fill.symbol, ps)
        qty, price, fee = fill.qty, fill.price, fill.fee
        delta = qty if fill.side == BUY else -qty
        closed: list[ClosedTrade] = []
        self.fees += fee
        self.fills += 1
        gross = ZERO
        held = pos.qty
        if held == 0 or (held > 0) == (delta > 0):
            self._increase(pos, delta, price, fee, fill.time)
        else:
            size, have = abs(delta), abs(held)
            reducing = size if size <= have else have  # min(size, have), without the call
            rest = size - reducing
            close_fee = fee * reducing / size
            gross = pnl = (price - pos.entry) * reducing * (1 if held > 0 else -1)  # × pos.side
            self.realized += pnl
            pos.realized += pnl
            pos.fees += close_fee
            pos.exit_qty += reducing
            pos.exit_value += reducing * price
            pos.qty = held = held + reducing if held < 0 else held - reducing
            if held == 0:
                closed.append(self._close(pos, fill.time, exit_reason(fill.order_id)))
            if rest:
                self._increase(pos, rest if delta > 0 else -rest, price, fee - close_fee, fill.time)
        # the float mirrors (Position._sync); a closed position's are 0.0 (a float() costs ~0.2 µs)
        pos.qty_f, pos.entry_f = (float(pos.qty), float(pos.entry)) if pos.qty else (0.0, 0.0)
        self.balance_f = float(self.initial + (self.realized - self.fees + self.funding - self.charges))  # balance
        self.ledger.add(Entry(fill.time, fill.symbol, FILL, gross, fee, ZERO, ZERO, tuple(closed), pos.qty, pos.entry,
                              fill.fee_asset, ps))  # fmt: skip
        return closed

    def _increase(self, pos: Position, delta: Decimal, price: Decimal, fee: Decimal, time: int) -> None:
        if pos.qty == 0:
            pos.opened_at, pos.entry = time, price
            pos.trade_side = 1 if delta > 0 else -1
            pos.peak_qty = pos.fees = pos.realized = pos.exit_qty = pos.exit_value = pos.funding = ZERO
        else:
            pos.entry = (pos.entry * abs(pos.qty) + price * abs(delta)) / (abs(pos.qty) + abs(delta))
        pos.qty += delta
        pos.fees += fee
        now = abs(pos.qty)
        if now > pos.peak_qty:  # max(peak, now), without the call
            pos.peak_qty = now

    def apply_funding(self, symbol: str, amount: Decimal, ts: int, position_side: str = BOTH) -> None:
        """Book one funding payment (+ received, − paid): into the wallet, and into the trade
        in progress when one is open (its pnl then includes it); in Hedge Mode each leg pays
        on its own notional. `ts` is the funding time; it is not needed for the sums, but
        every booking path names when."""
        self.funding += amount
        pos = self.positions.get(position_key(symbol, position_side))
        if pos is not None and pos.qty:
            pos.funding += amount
        self.balance_f = float(self.balance)
        self.ledger.add(Entry(ts, symbol, FUNDING, funding=amount, qty=pos.qty if pos else ZERO,
                              entry=pos.entry if pos else ZERO, position_side=position_side))  # fmt: skip

    def _close(self, pos: Position, time: int, reason: str = "signal") -> ClosedTrade:
        trade = ClosedTrade(  # symbol, side, qty, entry_price, exit_price, fees, pnl, open_time, close_time,
            pos.symbol, "long" if pos.trade_side > 0 else "short", pos.peak_qty, pos.entry,  # exit_reason,
            pos.exit_value / pos.exit_qty, pos.fees, pos.realized - pos.fees + pos.funding,  # funding,
            pos.opened_at, time, reason, pos.funding, pos.position_side,  # position_side (in its field order)
        )
        self.trades.append(trade)
        pos.entry = ZERO
        return trade

    @classmethod
    def replay(cls, initial: Decimal, fills: Iterable[Fill], funding: Iterable[Payment] = ()) -> Portfolio:
        """The portfolio the stored fills and funding payments (ts, symbol, amount[, leg])
        describe (a restart, an audit, a test). A payment at time T comes before the fills at
        T: the trader books funding on the position held into the funding time, then fills."""
        p = cls(initial)
        funding = list(funding)
        if not funding:
            for f in fills:
                p.apply(f)
            return p
        events: list[tuple[int, int, int, Fill | Payment]] = [(pay[0], 0, i, pay) for i, pay in enumerate(funding)]
        events += [(f.time, 1, i, f) for i, f in enumerate(fills)]
        for _, kind, _, e in sorted(events, key=lambda x: x[:3]):
            if kind:
                p.apply(e)  # type: ignore[arg-type]
            else:
                ts, sym, amt, *leg = e  # type: ignore[misc]
                p.apply_funding(sym, amt, ts, *leg)
        return p
