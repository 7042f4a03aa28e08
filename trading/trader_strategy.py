"""The trader's strategy seam: a failing DataFrame strategy, a warm-up without populate,
and a switch of strategy from the chat (/strategy).

A mixin of `Trader` (kept apart so trader.py stays about orders and fills): the trader
calls `_strategy_decides` where it used to call `strategy.on_candle` directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from trading.book import Book, utc_minute
from trading.candles import Candle
from trading.strategies import Decision, StrategyError, Values

log = logging.getLogger("trading.trader")


class StrategySeam:
    _next_strategy: str | None = None
    strategy_name: str
    portfolio: Any
    _lock: Any
    _next_values: Values | None

    def _say(self, kind: str, text: str, **data: Any) -> None: ...  # Trader's

    def set_strategy(self, name: str, values: Values) -> None:
        """Another strategy (checked by the caller) from the next closed candle, with its
        validated values; an open position stays and the new strategy manages it."""
        with self._lock:
            self._next_strategy, self._next_values = name, dict(values)

    def _take_next_strategy(self) -> None:
        if self._next_strategy is not None:
            self.strategy_name, self._next_strategy = self._next_strategy, None

    def _strategy_decides(self, book: Book, candle: Candle) -> Decision | None:
        """The strategy's decision. A DataFrame strategy that fails (populate raising, NaN
        signals, wrong columns) is one line in the chat and the log, no order, and the
        stream goes on; the line is said again only when the problem changes."""
        try:
            decision = book.strategy.on_candle(candle, self.portfolio.side(candle.symbol))
        except StrategyError as e:
            if str(e) != book.problem:
                line = (f"strategy {self.strategy_name} failed on {book.symbol} "
                        f"{utc_minute(candle.open_time)} UTC: {e}; no order")
                log.warning("%s", line)
                self._say("strategy_error", line)
            book.problem = str(e)
            return None
        book.problem = None
        return decision


def warm_strategy(strategy: Any, candles: Sequence[Candle]) -> None:
    """Warm-up candles into a strategy: DataFrame strategies keep them without populating
    (nothing is decided on them), incremental ones take each in."""
    bulk = getattr(strategy, "warm", None)
    if bulk is not None:
        bulk(candles)
        return
    for c in candles:
        strategy.on_candle(c, 0)
