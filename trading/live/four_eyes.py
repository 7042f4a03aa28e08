"""Two-admin approval (FOUR_EYES_NOTIONAL): whether an order waits for a second admin's
Confirm, and why, as data (`FourEyes`; bot/texts.four_eyes_words words it). The position
the order leads to counts (Hedge Mode: both legs of the symbol), at the price of the press;
an order that only reduces the position never waits. The approvals themselves are stored
and counted by the proposals' state machine (trading/live/proposals.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.core.brokers.base import OrderRequest


@dataclass(frozen=True)
class FourEyes:
    """Why an order is proposed for two admins instead of placed (CONFIRM_ORDERS=off): the
    position it leads to is worth `worth` USDT at the price (`legs`: Hedge Mode, both legs of
    the symbol together), above FOUR_EYES_NOTIONAL `limit`. bot/texts.py words it after the
    proposal's reason; a proposal stored before it was typed has those words in its reason."""

    worth: Decimal
    limit: Decimal
    legs: bool = False

    def to_json(self) -> str:
        return json.dumps({"worth": str(self.worth), "limit": str(self.limit), "legs": self.legs}, separators=(",", ":"))

    @staticmethod
    def from_json(raw: str) -> FourEyes:
        d = json.loads(raw)
        return FourEyes(Decimal(d["worth"]), Decimal(d["limit"]), bool(d.get("legs", False)))


def position_after(before: Decimal, legs: Sequence[OrderRequest], price: Decimal) -> Decimal:
    """The signed position once `legs` filled on `before` (a stake-sized leg at `price`)."""
    after = before
    for leg in legs:
        qty = leg.qty if leg.qty is not None else (leg.stake or Decimal(0)) * (leg.leverage or 1) / price
        after += qty if leg.side == "BUY" else -qty
    return after


def reduces(before: Decimal, after: Decimal) -> bool:
    """Only lowers the position: to flat, or smaller on the same side."""
    return after == 0 or (before * after > 0 and abs(after) <= abs(before))


def needs_two(before: Decimal, legs: Sequence[OrderRequest], price: Decimal, limit: Decimal,
              apart: Decimal = Decimal(0)) -> bool:  # fmt: skip
    """Four-eyes: the position the order leads to is worth more than `limit` at `price`,
    and the order is not one that only reduces the position (a close never waits). Hedge
    Mode: `before` is the traded leg, `apart` the other's size; both legs' notional counts."""
    after = position_after(before, legs, price)
    return not reduces(before, after) and (abs(after) + apart) * price > limit


def four_eyes_over(before: Decimal, legs: Sequence[OrderRequest], price: Decimal, limit: Decimal | None,
                   apart: Decimal = Decimal(0)) -> FourEyes | None:  # fmt: skip
    """CONFIRM_ORDERS=off: why these orders are proposed for two admins instead of placed, or None."""
    if limit is None or not needs_two(before, legs, price, limit, apart):
        return None
    return FourEyes((abs(position_after(before, legs, price)) + apart) * price, limit, bool(apart))
