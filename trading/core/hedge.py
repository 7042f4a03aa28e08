"""Hedge Mode: which legs an intent trades.

In Hedge Mode (Binance's "dual side position") a symbol has a LONG and a SHORT leg, each
its own position (trading/core/portfolio.py names them `SYMBOL:LONG` / `SYMBOL:SHORT`).
An order names its leg (positionSide) and is never reduce-only (Binance answers -1106):
BUY LONG / SELL SHORT open or add, SELL LONG / BUY SHORT close, by the leg's quantity.

The rule, the same for a person's command, a strategy's decision and the backtest:

| intent | orders |
|---|---|
| long q (a person: /long q) | BUY q LONG: opens or adds to the LONG leg; the SHORT leg stays |
| short q | SELL q SHORT: the SHORT leg; the LONG leg stays |
| long (a strategy: stake × leverage) | BUY LONG when the LONG leg is flat; nothing while it is open |
| short (a strategy) | SELL SHORT when the SHORT leg is flat |
| close (a strategy, /close all) | every open leg closed: SELL LONG its size, BUY SHORT its size |
| close one leg (/close long, /close short) | that leg only |

Why a strategy's long does not close the short leg: in Hedge Mode the legs are apart by
choice (someone keeps a hedge, or another tool trades the other leg), so entering one side
closes nothing unless the strategy says to exit (its close). A strategy's entry never adds
to an open leg, as in One-way Mode, where a second long signal is no order either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import StrEnum

from trading.core.brokers.base import OrderRequest
from trading.core.intents import legs_now
from trading.core.portfolio import BUY, LONG_LEG, SELL, SHORT_LEG, Portfolio, leg_of
from trading.core.reasons import Reason, What
from trading.core.strategies import Values

LEG_TAG = {LONG_LEG: "cl", SHORT_LEG: "cs"}  # client-id legs of the two closes of one decision


def hedge_legs(
    portfolio: Portfolio, symbol: str, want: int, reason: str, decided_at: int, qty: Decimal | None, stamp: int,
    *, instance: str, values: Values, strategy: str, only: str = "",
) -> list[OrderRequest]:  # fmt: skip
    """The orders of an intent in Hedge Mode (the table above). `want`: +1 long, -1 short,
    0 close; `only`: LONG or SHORT closes that leg alone."""
    if not want:
        out = []
        for ps in (LONG_LEG, SHORT_LEG):
            pos = portfolio.held(symbol, ps)
            if pos is None or (only and ps != only):
                continue
            out.append(OrderRequest(
                OrderRequest.client_id(symbol, stamp, LEG_TAG[ps], instance), symbol, SELL if ps == LONG_LEG else BUY,
                "close", reason, decided_at, qty=abs(pos.qty), position_side=ps,
            ))  # fmt: skip
        return out
    ps = leg_of(want)
    if qty is None and portfolio.held(symbol, ps) is not None:
        return []  # a strategy's entry while its leg is open: nothing (no add)
    if qty is None and "stake_usdt" not in values:
        raise ValueError(f"give a quantity: strategy {strategy!r} has no stake_usdt to size from")
    return [OrderRequest(
        OrderRequest.client_id(symbol, stamp, "o", instance), symbol, BUY if want > 0 else SELL, "open", reason,
        decided_at, qty=qty, stake=Decimal(repr(float(values.get("stake_usdt", 0)))),
        leverage=int(values.get("leverage", 1)), position_side=ps,
    )]  # fmt: skip


def legs_at_press(
    intent: str, basis: Decimal | None, portfolio: Portfolio, legs: tuple[OrderRequest, ...], name: Callable[[int], str],
) -> list[OrderRequest] | Reason:  # fmt: skip
    """Hedge Mode's Confirm: the orders of a proposal derived from the legs as they are at
    the press (core/intents.py's rule, leg by leg). A close closes what its legs hold now
    (resized; a leg gone flat is skipped; all flat: refused). A long/short opens or adds to
    its leg when the leg is still what the proposal saw (`basis`, the leg's signed size),
    else refused: the proposal read "add to 0.01" and the leg is now something else."""
    if intent == "close":
        out: list[OrderRequest] = []
        for leg in legs:
            pos = portfolio.held(leg.symbol, leg.position_side)
            if pos is not None:
                out.append(leg.but(id=name(len(out) + 1), qty=abs(pos.qty)))
        return out or Reason(What.FLAT, legs[0].symbol)
    opening = legs[0]
    pos = portfolio.held(opening.symbol, opening.position_side)
    held = pos.qty if pos is not None else Decimal(0)
    if basis is not None and basis != held:
        return Reason(What.CHANGED, opening.symbol, opening.position_side, {"was": basis, "now": held})
    return [opening.but(id=name(1))]


def legs_of(portfolio: Portfolio, symbol: str) -> dict[str, Decimal]:
    """A symbol's open legs now: LONG/SHORT → signed size (a proposal keeps them)."""
    return {p.position_side: p.qty for p in portfolio.open_of(symbol)}


def position_sizes(portfolio: Portfolio, symbol: str, position_side: str) -> dict[str, Decimal]:
    """The position a Confirm's answer shows (bot/texts.sizes_words words it): both open legs
    in Hedge Mode (LONG/SHORT → signed size), else the net one (`BOTH` → signed size, 0: flat)."""
    if position_side != "BOTH":
        return legs_of(portfolio, symbol)
    pos = portfolio.held(symbol)
    return {"BOTH": pos.qty if pos is not None else Decimal(0)}


def legs_after(
    before: Mapping[str, Decimal], legs: tuple[OrderRequest, ...], price: Decimal, floor: Callable[[Decimal], Decimal] | None,
) -> tuple[dict[str, Decimal], frozenset[str]]:  # fmt: skip
    """The legs once a proposal's orders filled on `before`: a close takes its leg to flat,
    an open adds its quantity (stake × leverage at `price`, floored to the step by `floor`:
    those legs are returned as sized at the fill price)."""
    after, about = dict(before), set()
    for leg in legs:
        ps = leg.position_side
        if leg.closes:
            after[ps] = Decimal(0)
            continue
        qty = leg.qty
        if qty is None:
            raw = (leg.stake or Decimal(0)) * (leg.leverage or 1) / price if price else Decimal(0)
            qty, _ = (floor(raw) if floor else raw), about.add(ps)
        after[ps] = after.get(ps, Decimal(0)) + (qty if leg.side == BUY else -qty)
    return after, frozenset(about)


def press_legs(
    intent: str, basis: Decimal | None, legs: tuple[OrderRequest, ...], portfolio: Portfolio, held: Decimal,
    name: Callable[[int], str],
) -> list[OrderRequest] | Reason:  # fmt: skip
    """Confirm's orders in either mode: Hedge Mode's legs_at_press, or core/intents.py's
    legs_now on the net position `held`."""
    if legs and legs[0].position_side != "BOTH":
        return legs_at_press(intent, basis, portfolio, legs, name)
    return legs_now(intent, basis, held, legs, name)


class Refusal(StrEnum):
    """Why /long, /short or /close [long|short] is not even proposed (bot/texts.py words it)."""

    MODE_MISMATCH = "mode_mismatch"  # the account's mode changed under the book: no order is sent
    LEG_IN_ONE_WAY = "leg_in_one_way"  # /close long|short while the account is in One-way Mode
    NOTHING_TO_CLOSE = "nothing_to_close"  # no position (or no such leg) to close


def order_blocked(portfolio: Portfolio, hedge: bool, mismatch: bool, symbol: str, want: int, only: str) -> Refusal | None:
    """Why an order from the chat is not even proposed, or None: the account's mode changed
    under the book (`mismatch`), a leg named in One-way Mode, nothing to close."""
    if want and mismatch:
        return Refusal.MODE_MISMATCH
    if only and not hedge:
        return Refusal.LEG_IN_ONE_WAY
    if want == 0 and not (portfolio.held(symbol, only) if only else portfolio.open_of(symbol)):
        return Refusal.NOTHING_TO_CLOSE
    return None
