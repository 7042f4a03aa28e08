"""The strategy each book runs: made from a name and values, warmed up, asked on every
closed candle (a failure said once, no order, and kept while it lasts: since which candle,
on how many), and switched or re-tuned at the next close.

Owned by the trader; it holds what is chosen (name, values) and what is due to change,
so the trader only asks it for a decision and tells it when a candle closed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from trading.core.book import Book, Failing
from trading.core.candles import Candle
from trading.core.strategies import Decision, Strategy, StrategyError, Values, make_strategy

HistoryLoader = Callable[[str, int, int], list[Candle]]  # (symbol, n, last open time) → candles
# a strategy's optional run(candles, start, stop, position) → (index of the deciding candle or stop, decision)
Runner = Callable[[Sequence[Candle], int, int, int], tuple[int, Decision | None]]
_RUNS: dict[type, bool] = {}  # per strategy class: its on_candle_run is the on_candle in effect (StrategyHost.runner)


def stake_of(values: Values) -> Decimal:
    """The margin a stake-sized order asks for: stake_usdt as the decimal its float is written
    as (0 without one). Read once per values (StrategyHost.stake), not once per order."""
    return Decimal(repr(float(values.get("stake_usdt", 0))))


class StrategyHost:
    def __init__(self, name: str, values: Values | None, strategy_warmup: int | None, min_warmup: int,
                 history_loader: HistoryLoader | None = None) -> None:  # fmt: skip
        self.name = name
        self.strategy_warmup = strategy_warmup
        self.min_warmup = min_warmup
        self.history_loader = history_loader
        self._probe: Strategy | None = make_strategy(name, values, strategy_warmup)
        self.values: Values = dict(self._probe.values)
        self.stake = stake_of(self.values)
        self._next_name: str | None = None
        self._next_values: Values | None = None
        self.due = False  # values or a strategy were set: applied at the next closed candle

    def make(self) -> Strategy:
        """A strategy for one more book (the first reuses the one that read the values)."""
        probe, self._probe = self._probe, None
        return probe or make_strategy(self.name, self.values, self.strategy_warmup)

    def window(self, strategy: Strategy) -> int:
        """Candles a book keeps and warms on: WARMUP_CANDLES, or more when the strategy needs
        it: its warm-up, and a DataFrame strategy's live window (startup + window_extra),
        which it decides from."""
        return max(self.min_warmup, strategy.warmup, getattr(strategy, "window", 0), 1)  # optional (base.Strategy)

    # ------------------------------------------------------------- changes at the next close
    def set_values(self, values: Values) -> None:
        """Validated values, applied from the next closed candle (all symbols at once)."""
        self._next_values = dict(values)
        self.due = True

    def set_strategy(self, name: str, values: Values) -> None:
        """Another strategy (checked by the caller) from the next closed candle, with its
        validated values; an open position stays and the new strategy manages it."""
        self._next_name, self._next_values = name, dict(values)
        self.due = True

    def apply(self, books: Iterable[Book]) -> None:
        """What was set takes effect: every book gets a new strategy, warmed on its history
        (more fetched when the new one needs a longer window)."""
        values, self._next_values, self.due = self._next_values or {}, None, False
        if self._next_name is not None:
            self.name, self._next_name = self._next_name, None
        self.values, self.stake = values, stake_of(values)
        for book in books:
            strategy = make_strategy(self.name, values, self.strategy_warmup)
            need = self.window(strategy)
            history = list(book.history)
            if need > len(history) and self.history_loader is not None and book.cursor is not None:
                history = self.history_loader(book.symbol, need, book.cursor)
            book.strategy, book.failing = strategy, None  # another strategy: its own failures are its own
            book.history = deque(maxlen=max(need, book.history.maxlen or 1))
            rewarm(book, history)

    # ------------------------------------------------------------- deciding
    @staticmethod
    def runner(strategy: Strategy) -> Runner | None:
        """The strategy's `on_candle_run(candles, start, stop, position)` (optional, base.Strategy:
        ema_cross's): many candles taken at once, exactly as on_candle one by one, up to the
        first decision. Only where the class that defines the strategy's on_candle defines it
        too: a subclass that overrides on_candle (a plugin's, or plugins.py's own wrapper that
        runs a plugin in its decimal context) is asked candle by candle, as it says."""
        cls = type(strategy)
        known = _RUNS.get(cls)
        if known is None:
            owner = next((k for k in cls.__mro__ if "on_candle" in vars(k)), None)
            known = _RUNS[cls] = owner is not None and "on_candle_run" in vars(owner)
        return strategy.on_candle_run if known else None  # type: ignore[attr-defined]

    def decide_legs(self, book: Book, candle: Candle, long_held: bool, short_held: bool) -> tuple[list[Decision], str | None]:
        """Hedge Mode: a DataFrame strategy's decisions per leg (its four columns apart); an
        incremental strategy is told flat and its decision goes through core/hedge.py's rule."""
        per_leg = getattr(book.strategy, "on_candle_legs", None)  # optional (base.Strategy): the DataFrame adapter's
        if per_leg is None:
            return self._decisions(book, candle, lambda: [book.strategy.on_candle(candle, 0)])
        return self._decisions(book, candle, lambda: per_leg(candle, long_held, short_held))

    @staticmethod
    def _decisions(book: Book, candle: Candle, run: Callable[[], list[Decision | None]]) -> tuple[list[Decision], str | None]:
        try:
            decisions = [d for d in run() if d is not None]
        except StrategyError as e:
            return [], failed(book, candle, e)
        book.failing = None
        return decisions, None


def failed(book: Book, candle: Candle, e: StrategyError) -> str | None:
    """A DataFrame strategy failed on this candle (populate raising, NaN signals, wrong
    columns): no order, the stream goes on, and the same failure is told only once (the
    trader asks the One-way strategy inline, Trader.on_candles, and calls this on a failure;
    one candle decided again ends it: `book.failing = None`). Kept on the book while it lasts (since its first candle, how many in a row); the
    line to tell when the failure is new, else None (said once)."""
    was = book.failing
    book.failing = Failing(candle.open_time, 1, str(e)) if was is None else Failing(was.since, was.candles + 1, str(e))
    return str(e) if was is None or was.error != str(e) else None


def rewarm(book: Book, candles: Sequence[Candle]) -> None:
    book.history.extend(candles)
    warm_strategy(book.strategy, candles)
    if candles:
        book.last_close = book.last_price = candles[-1].close


def warm_strategy(strategy: Any, candles: Sequence[Candle]) -> None:
    """Warm-up candles into a strategy: DataFrame strategies keep them without populating
    (nothing is decided on them), incremental ones take each in."""
    bulk = getattr(strategy, "warm", None)  # optional (base.Strategy)
    if bulk is not None:
        bulk(candles)
        return
    for c in candles:
        strategy.on_candle(c, 0)
