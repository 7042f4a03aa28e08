"""What a Confirm places: the proposal's intent applied to the position as it is at the press.

A proposal is shown with the orders that take the position it saw (its *basis*) where the
person wants it. Between posting and Confirm the position can move (another proposal
confirmed, a stop hit, a reversal), and orders frozen at posting would then do something
nobody read: `/long 0.01` and `/short 0.01` both confirmed left the account flat. So a
proposal stores its intent and its basis, and the legs are derived at the press:

| intent | position at the press | placed |
|---|---|---|
| long q | flat | BUY q |
| long q | short s | BUY s reduce-only, then BUY q (a reversal) |
| long q | long, the very position it was proposed on (an add) | BUY q |
| long q | long, any other (it was proposed flat or short, or the long changed) | refused |
| short q | mirror of long q | |
| close | long or short, any size | the whole position, reduce-only |
| close | flat | refused (nothing to close) |

A long/short intent always ends on its side with q opened on a flat (or just closed)
position, except an add, which needs the position it was made on. Anything else is
refused: "the position changed since this proposal; propose again".
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from trading.core.brokers.base import OrderRequest
from trading.core.reasons import Reason, What

ZERO = Decimal(0)


def intent_of(legs: tuple[OrderRequest, ...] | list[OrderRequest]) -> str:
    """long | short | close, from the legs as proposed (the opening leg's side, if any): a
    Hedge Mode close (SELL LONG / BUY SHORT) is never reduce-only, so `closes` tells it."""
    opening = next((leg for leg in legs if not leg.closes), None)
    if opening is None:
        return "close"
    return "long" if opening.side == "BUY" else "short"


def legs_now(
    intent: str,
    basis: Decimal | None,
    held: Decimal,
    legs: tuple[OrderRequest, ...],
    name: Callable[[int], str],
) -> list[OrderRequest] | Reason:
    """The orders to place now, named `name(1)`, `name(2)`, …; or why not (bot/texts.py words it).

    `basis` is the signed position the proposal was made on (None for a proposal stored
    before intents: its legs are placed as they were, the close resized, as before)."""
    symbol = legs[0].symbol
    template = legs[0]
    if intent == "close":
        if not held:
            return Reason(What.FLAT, symbol)
        return [_close(template, symbol, held, name(1))]
    opening = next((leg for leg in legs if not leg.reduce_only), None)
    if opening is None:  # cannot happen for a long/short intent; place nothing rather than guess
        return Reason(What.CHANGED, symbol)
    want = 1 if intent == "long" else -1
    side_now = (held > 0) - (held < 0)
    if basis is not None and side_now == want:
        if basis != held:  # already on that side, and not the position the add was made on
            return Reason(What.CHANGED, symbol, numbers={"was": basis, "now": held})
        return [opening.but(id=name(1))]
    if basis is not None and ((basis > 0) - (basis < 0)) == want:
        # an add to a position that is gone or turned: nothing left to add to
        return Reason(What.CHANGED, symbol, numbers={"was": basis, "now": held})
    out: list[OrderRequest] = []
    if side_now and side_now != want:
        out.append(_close(opening, symbol, held, name(1)))
    out.append(opening.but(id=name(len(out) + 1)))
    return out


def _close(template: OrderRequest, symbol: str, held: Decimal, leg_id: str) -> OrderRequest:
    return OrderRequest(
        leg_id, symbol, "SELL" if held > 0 else "BUY", "close", template.reason, template.decided_at,
        qty=abs(held), reduce_only=True,
    )
