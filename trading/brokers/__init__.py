"""Brokers turn an order request into fills: paper here; the Binance futures broker next."""

from trading.brokers.base import Broker, ExchangePosition, OrderRefused, OrderRequest, OrderUnknown
from trading.brokers.paper import PaperBroker

__all__ = ["Broker", "ExchangePosition", "OrderRefused", "OrderRequest", "OrderUnknown", "PaperBroker"]
