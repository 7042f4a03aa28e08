"""The broker seam: an order request in, a fill (or a refusal with a reason) out.

A request is complete before it is executed (symbol, side, size or stake, reduce-only,
the candle that decided it, a deterministic client order id), so it can be stored, shown
in the chat, wait for a person's Confirm, and be executed later exactly once: the id
makes a retry recognisable to the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.portfolio import Fill


class OrderRefused(Exception):
    """The broker would not (or could not) place it; the message is the chat's line."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    id: str  # client order id, e.g. tg-BTCUSDT-1729657800000-o (≤ 36 chars, Binance's rule)
    symbol: str
    side: str  # BUY | SELL
    kind: str  # "open" | "close" | "stop_loss" | "take_profit"
    reason: str
    decided_at: int  # open time of the candle that decided it
    qty: Decimal | None = None  # None: size from stake × leverage at the fill price
    stake: Decimal = Decimal(0)
    leverage: int = 1
    reduce_only: bool = False

    @staticmethod
    def client_id(symbol: str, decided_at: int, leg: str) -> str:
        return f"tg-{symbol}-{decided_at}-{leg}"


class Broker(Protocol):
    mode: str  # "paper" | "testnet" | "live": shown in every order message

    def execute(self, request: OrderRequest, price: Decimal, time: int) -> Fill:
        """Place it; price is the reference (paper: the fill price). Raises OrderRefused."""
