"""The candle feed: every new closed candle handed on exactly once, in open-time order.

The live bot and the backtest share one consumer (the trader); only who drives it
differs. The contract below is what makes them agree trade for trade, so both drivers
obey it to the letter:

- `warm(symbol, candles)` first, once per run and symbol: closed candles at or before the
  consumer's cursor, oldest first, at most `consumer.warmup(symbol)` of them. State only:
  the consumer decides nothing on them.
- then `on_candle(candle, backfilled)` for every closed candle after the cursor, exactly
  once, strictly increasing open time per symbol, no hole. `backfilled` is True when the
  candle reached the feed by REST (catch-up after a connect, a gap, a restart) rather
  than on the socket: it has already closed some time ago.
- `on_forming(candle)` for intra-candle updates (live only, optional for the consumer).

A consumer that has never decided anything (`cursor` is None) gets the latest closed
candles as warm-up and decides from the first candle that closes after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from trading.candles import Candle


class CandleSink(Protocol):
    def cursor(self, symbol: str) -> int | None:
        """Open time (ms) of the last candle decided on; None if never."""

    def warmup(self, symbol: str) -> int:
        """How many closed candles of history the consumer needs (may grow after /set)."""

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        """History for state only, oldest first, before any on_candle of this run."""

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        """One new closed candle; called on the feed's thread."""

    def on_forming(self, candle: Candle) -> None:
        """An update of the forming candle (live only); must be cheap."""
