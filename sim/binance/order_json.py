"""Binance's order object, as every order endpoint and the server's listing answer it.

Its own file because the account formats its own orders with it while the reports (which
read the account) re-export it: kept apart, neither imports the other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sim.binance.formats import fixed
from sim.binance.market import SymbolSpec
from sim.binance.orders import ZERO, Order


class HasSpecs(Protocol):
    """What an order's formatting needs of the account: the symbols' specs."""

    specs: Mapping[str, SymbolSpec]


def order_json(
    account: HasSpecs, order: Order, *, as_new: bool = False, with_time: bool = False
) -> dict[str, object]:
    """Binance's order object; `as_new` is the ACK view (status NEW, nothing filled yet)."""
    spec = account.specs[order.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    executed = ZERO if as_new else order.executed_qty
    cum_quote = ZERO if as_new else order.cum_quote
    avg = cum_quote / executed if executed else ZERO
    out: dict[str, object] = {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": "NEW" if as_new else order.status,
        "clientOrderId": order.client_id,
        "price": fixed(order.price, pp),
        "avgPrice": fixed(avg, max(pp, 5)),
        "origQty": fixed(order.orig_qty, qp),
        "executedQty": fixed(executed, qp),
        "cumQty": fixed(executed, qp),
        "cumQuote": fixed(cum_quote, pp + qp),
        "timeInForce": order.time_in_force,
        "type": order.type,
        "reduceOnly": order.reduce_only,
        "closePosition": False,
        "side": order.side,
        "positionSide": order.position_side,
        "stopPrice": fixed(ZERO, pp),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": order.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "updateTime": order.time if as_new else order.update_time,
    }
    if with_time:
        out["time"] = order.time
    return out
