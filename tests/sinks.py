"""A CandleSink that records everything, for feed and stream tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from trading.core.candles import Candle


class RecordingSink:
    """Keeps warm-ups and decisions; its cursor survives runs like a trader's would."""

    def __init__(self, warmup: int = 50, cursor: dict[str, int] | None = None) -> None:
        self._warmup = warmup
        self._cursor: dict[str, int] = dict(cursor or {})
        self.warmed: list[tuple[str, list[Candle]]] = []
        self.decided: list[tuple[Candle, bool]] = []
        self.forming = 0
        self.events: list[str] = []  # "warm:SYM" / "candle:SYM" in call order
        self._cond = threading.Condition()

    def cursor(self, symbol: str) -> int | None:
        return self._cursor.get(symbol)

    def warmup(self, symbol: str) -> int:
        return self._warmup

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        with self._cond:
            self.warmed.append((symbol, list(candles)))
            self.events.append(f"warm:{symbol}")
            self._cond.notify_all()

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        with self._cond:
            self.decided.append((candle, backfilled))
            self._cursor[candle.symbol] = candle.open_time
            self.events.append(f"candle:{candle.symbol}")
            self._cond.notify_all()

    def on_forming(self, candle: Candle) -> None:
        self.forming += 1

    def caught_up(self) -> None:
        pass

    def times(self, symbol: str = "BTCUSDT") -> list[int]:
        with self._cond:
            return [c.open_time for c, _ in self.decided if c.symbol == symbol]

    def wait_for(self, predicate: Callable[[RecordingSink], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True
