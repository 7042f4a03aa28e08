"""The strategy seam: a closed candle and its history in, at most one signal out.

Strategies are pure (no I/O, no clock): the same candles give the same signals, which is
what lets a backtest and the live path agree. The engine stores signals and turns them
into confirmations; a strategy never places orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from trading.candles import Candle


@dataclass(frozen=True)
class Signal:
    symbol: str
    side: str  # "BUY" | "SELL" | "CLOSE"
    candle_open_time: int
    reason: str


class Strategy(Protocol):
    name: str

    @property
    def warmup(self) -> int:
        """How many closed candles it needs before it can speak (sizes the stream warm-up)."""

    def on_candle(self, candle: Candle, history: Sequence[Candle]) -> Signal | None: ...


class NoStrategy:
    """Observe only: the default until a strategy is configured."""

    name = "none"
    warmup = 0

    def on_candle(self, candle: Candle, history: Sequence[Candle]) -> Signal | None:
        return None
