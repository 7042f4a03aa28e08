"""What the exchange holds, in the broker contract's types, for the engine to compare with
its own book before it trades.

A bot that restarts after a crash, an OrderUnknown or a manual trade on the website must
not assume its stored fills describe the account: the exchange is the truth for positions
and resting orders (the stops among them), so this is read first and every difference
is shown to the person instead of being traded over.

Positions are named as the book names them (core/portfolio.position_key): by symbol in
One-way Mode, `SYMBOL:LONG` / `SYMBOL:SHORT` for the legs of a book that trades Hedge
Mode, so both legs are compared and adopted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from trading.core.brokers.base import ExchangePosition
from trading.core.findings import HedgedPositions, PositionDiffers
from trading.core.portfolio import position_key
from trading.exchange.orders import ExchangeOrder
from trading.exchange.rest import with_retries

ZERO = Decimal(0)


class AccountReader(Protocol):
    def positions(self, symbols: tuple[str, ...] | None = None) -> list[ExchangePosition]: ...
    def open_orders(self, symbol: str) -> list[ExchangeOrder]: ...


@dataclass(frozen=True)
class ExchangeState:
    positions: dict[str, ExchangePosition] = field(default_factory=dict)  # open ones only, by position key
    orders: dict[str, list[ExchangeOrder]] = field(default_factory=dict)  # every symbol asked
    # Hedge Mode legs (positionSide LONG/SHORT) met by a book that trades One-way Mode: it
    # adopts neither leg and leaves the symbol's book alone; hedged() says so.
    hedged: dict[str, list[ExchangePosition]] = field(default_factory=dict)

    def qty(self, key: str) -> Decimal:
        pos = self.positions.get(key)
        return pos.qty if pos is not None else ZERO


def reconcile(broker: AccountReader, symbols: Iterable[str], *, hedge: bool = False) -> ExchangeState:
    """Positions and open orders (plain and conditional) of the configured symbols; `hedge`:
    the book trades Hedge Mode, so the legs are its positions.

    Reads are retried on transient failures (trading.exchange.rest.with_retries); after that,
    ExchangeUnavailable: the caller must not trade on a guess.
    """
    symbols = tuple(symbols)
    positions = with_retries(lambda: broker.positions(symbols), attempts=3, what="positionRisk")
    orders = {
        s: with_retries(lambda s=s: broker.open_orders(s), attempts=3, what=f"open orders {s}")
        for s in symbols
    }
    mine = [p for p in positions if p.symbol in symbols]
    if hedge:
        legs = {position_key(p.symbol, p.position_side): p for p in mine if p.position_side != "BOTH" and p.qty}
        return ExchangeState(legs, orders)
    hedged: dict[str, list[ExchangePosition]] = {}
    for p in mine:
        if p.position_side != "BOTH":
            hedged.setdefault(p.symbol, []).append(p)
    one_way = {p.symbol: p for p in mine if p.position_side == "BOTH" and p.symbol not in hedged}
    return ExchangeState(one_way, orders, hedged)


def differences(state: ExchangeState, book: Mapping[str, Decimal]) -> list[PositionDiffers]:
    """Each position (by key) whose exchange position differs from the bot's (signed qty)."""
    found = []
    for key in sorted((set(book) | set(state.positions)) - set(state.hedged)):
        ours, theirs = book.get(key, ZERO), state.qty(key)
        if ours != theirs:
            pos = state.positions.get(key)
            symbol, _, leg = key.partition(":")
            found.append(PositionDiffers(symbol, leg or "BOTH", theirs, pos.entry if pos is not None else None, ours))
    return found


def hedged(state: ExchangeState) -> list[HedgedPositions]:
    """Each symbol with Hedge Mode legs: both shown, neither adopted."""
    return [
        HedgedPositions(symbol, tuple((p.position_side, p.qty, p.entry) for p in legs))
        for symbol, legs in sorted(state.hedged.items())
    ]
