"""Brokers turn an order request into fills: paper here; the Binance futures broker next."""

from trading.brokers.base import Broker, OrderRefused, OrderRequest
from trading.brokers.paper import PaperBroker

__all__ = ["Broker", "OrderRefused", "OrderRequest", "PaperBroker"]
