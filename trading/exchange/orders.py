"""Binance's order JSON in the broker contract's terms, shared by the broker and reconcile.

Kept apart so the broker file holds only the order path; these are pure conversions of
the exchange's strings (Decimal, never float).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from binance.exceptions import BinanceAPIException, BinanceRequestException

from trading.exchange.errors import error_message

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An open order as the exchange shows it; conditional (algo) orders have algo=True."""

    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal  # ZERO for a closePosition stop (it closes whatever is open)
    price: Decimal
    stop_price: Decimal
    reduce_only: bool
    close_position: bool
    status: str
    algo: bool = False
    position_side: str = "BOTH"  # LONG / SHORT: the Hedge Mode leg it acts on
    callback_rate: Decimal = Decimal(0)  # a TRAILING_STOP_MARKET's callbackRate (%)
    activate_price: Decimal = Decimal(0)  # and its activatePrice (0: none was given)


DUPLICATE_ID = -4116  # "ClientOrderId is duplicated.": it was placed before, go and find it
# Codes Binance documents as "execution status unknown", whatever the HTTP status.
UNCLEAR_CODES = {-1006, -1007, DUPLICATE_ID}
NET_ERRORS = (requests.RequestException, BinanceRequestException, OSError)
ANY_ERROR = (BinanceAPIException, *NET_ERRORS)


def _what(e: Exception) -> str:
    """An exchange error for a log line or the chat: its status and code, and its message
    masked, then bounded (an error page may echo the request, key included)."""
    if isinstance(e, BinanceAPIException):
        return f"HTTP {e.status_code} {e.code}: {error_message(e.message)}"
    text, name = str(e), type(e).__name__
    return error_message(text if text.startswith(name) else f"{name}: {text}")


def dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def exit_id(base_id: str, suffix: str) -> str:
    """`<base_id>-<suffix>` within Binance's 36 characters (the base is cut, not the suffix)."""
    return f"{base_id[: 36 - len(suffix) - 1]}-{suffix}"


def order_from_json(o: Mapping[str, Any]) -> ExchangeOrder:
    return ExchangeOrder(
        o["clientOrderId"], o["symbol"], o["side"], o["type"], dec(o.get("origQty")), dec(o.get("price")),
        dec(o.get("stopPrice")), bool(o.get("reduceOnly")), bool(o.get("closePosition")), o.get("status", ""),
        position_side=o.get("positionSide") or "BOTH",
    )  # fmt: skip


def algo_from_json(o: Mapping[str, Any]) -> ExchangeOrder:
    return ExchangeOrder(
        o["clientAlgoId"], o["symbol"], o["side"], o.get("orderType", ""), dec(o.get("quantity")),
        dec(o.get("price")), dec(o.get("triggerPrice")), bool(o.get("reduceOnly")),
        bool(o.get("closePosition")), o.get("algoStatus", ""), algo=True,
        position_side=o.get("positionSide") or "BOTH",
        callback_rate=dec(o.get("callbackRate")), activate_price=dec(o.get("activatePrice")),
    )  # fmt: skip
