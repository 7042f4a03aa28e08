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

from collections.abc import Iterable, Sequence
from typing import Protocol

from trading.core.candles import Candle


class CandleSink(Protocol):
    def cursor(self, symbol: str) -> int | None:
        """Open time (ms) of the last candle decided on; None if never."""

    def warmup(self, symbol: str) -> int:
        """How many closed candles of history the consumer needs (may grow after /set)."""

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        """History for state only, oldest first, before any on_candle of this run."""

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        """One new closed candle; called on the feed's thread."""

    def caught_up(self) -> None:
        """A catch-up's backfilled candles are all handed on (the trader says what it missed)."""

    def on_forming(self, candle: Candle) -> None:
        """An update of the forming candle (live only); must be cheap."""



class HistoryOnly:
    """The sink of a stream nobody trades on (tests, benchmarks, `python -m trading`):
    never decided, so it warms on the latest candles and only keeps history."""

    def __init__(self, warmup: int) -> None:
        self._warmup = warmup

    def cursor(self, symbol: str) -> int | None:
        return None

    def warmup(self, symbol: str) -> int:
        return self._warmup

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        pass

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        pass

    def on_forming(self, candle: Candle) -> None:
        pass

    def caught_up(self) -> None:
        pass


# ---------------------------------------------------------------------- the backtest driver
def replay(sink: CandleSink, candles: Iterable[Candle], warmup: int | None = None) -> int:
    """Drive `sink` from recorded candles exactly as the live feed would; return the
    number of on_candle calls.

    Per symbol, the first `warmup` candles (default: `sink.warmup(symbol)`) go to `warm`,
    the rest to `on_candle(c, backfilled=False)`. Candles must be in open-time order per
    symbol: a repeat or a step back would be a different market than the live one saw.
    """
    pending: dict[str, list[Candle]] = {}
    need: dict[str, int] = {}
    last: dict[str, int] = {}
    delivered = 0
    deliver = sink.on_candle  # bound once: the backtest's every candle
    for c in candles:
        symbol = c.symbol
        prev = last.get(symbol)
        if prev is not None and c.open_time <= prev:
            raise ValueError(f"{symbol}: candle {c.open_time} does not follow {prev}")
        last[symbol] = c.open_time
        buffer = pending.get(symbol)
        if buffer is None:
            if symbol in need:  # warm already: a decision candle
                deliver(c, False)
                delivered += 1
                continue
            n = need[symbol] = sink.warmup(symbol) if warmup is None else warmup
            buffer = pending[symbol] = []
            if n <= 0:
                del pending[symbol]
                sink.warm(symbol, ())
                sink.on_candle(c, False)
                delivered += 1
                continue
        buffer.append(c)
        if len(buffer) >= need[symbol]:
            sink.warm(symbol, pending.pop(symbol))
    for symbol, buffer in pending.items():  # shorter than the warm-up: state only
        sink.warm(symbol, buffer)
    return delivered
