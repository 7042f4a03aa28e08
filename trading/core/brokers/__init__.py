"""Brokers turn an order request into fills: the seam and the paper broker here; the Binance
broker lives with the rest of the exchange side, in trading/exchange/broker.py."""

from trading.core.brokers.base import (
    Broker,
    ExchangePosition,
    OrderRefused,
    OrderRequest,
    OrderUnknown,
)
from trading.core.brokers.paper import PaperBroker

__all__ = ["Broker", "ExchangePosition", "OrderRefused", "OrderRequest", "OrderUnknown", "PaperBroker"]
