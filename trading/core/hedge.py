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

from decimal import Decimal

from trading.core.brokers.base import OrderRequest
from trading.core.portfolio import BUY, LONG_LEG, SELL, SHORT_LEG, Portfolio, leg_of
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
