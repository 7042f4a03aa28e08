"""Strategies turn closed candles into signals; the engine owns when they run."""

from trading.strategies.base import NoStrategy, Signal, Strategy

__all__ = ["NoStrategy", "Signal", "Strategy"]
