"""The strategy seam: a closed candle and the current position in, at most one decision out.

Strategies are pure (no I/O, no clock, no orders): the same candles give the same
decisions, which is what lets the backtest and the live bot agree trade for trade. A
strategy keeps its indicators incrementally (one update per closed candle), so its state
*is* its history; `warmup` says how many candles it needs before it may speak. Sizing,
fills, stops and money belong to the trader and the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from trading.core.candles import Candle
from trading.core.frozen import quick_init
from trading.core.strategies.params import Schema, Values

LONG, SHORT, CLOSE = "long", "short", "close"


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    action: str  # LONG | SHORT | CLOSE: the position wanted after the next candle's open
    reason: str
    leg: str = ""  # Hedge Mode: CLOSE of this leg only (LONG / SHORT); "" closes every leg


class Strategy(Protocol):
    """What every strategy has. Four members are optional, read with a default in one place
    (core/strategy_host.py): `window` (candles a decision reads, beyond `warmup`), `warm(candles)`
    (take the warm-up in at once), `on_candle_legs(candle, long_held, short_held)` (Hedge Mode,
    per leg) and `on_candle_run(candles, start, stop, position)` (candles[start:stop] taken in as
    on_candle one by one, up to the first that decides: its index and the decision, or stop and
    None; only for a strategy that never raises StrategyError, and used only where the class
    defining the on_candle in effect defines it: ema_cross, whose on_candle is it with one candle). The DataFrame adapter (frame.py) has the first three; an incremental strategy from a
    plugin file is the user's own class (docs/strategies.md: `on_candle`, `warmup`, `indicators`,
    `schema`), which the bot must take as written, so they cannot be required of it."""

    name: ClassVar[str]
    schema: ClassVar[Schema]
    values: Values

    @property
    def warmup(self) -> int:
        """Closed candles needed before the first decision (sizes the feed's warm-up)."""

    def on_candle(self, candle: Candle, position: int) -> Decision | None:
        """Take in one closed candle; position is +1 long, -1 short, 0 flat."""

    def indicators(self) -> dict[str, float]:
        """Current indicator values, for /status and charts."""


class NoStrategy:
    """Observe only (STRATEGY=none): the stream runs, nothing is decided."""

    name: ClassVar[str] = "none"
    schema: ClassVar[Schema] = Schema(())

    def __init__(self, values: Values | None = None, warmup: int | None = None) -> None:
        self.values: Values = {}

    warmup = 0

    def on_candle(self, candle: Candle, position: int) -> Decision | None:
        return None

    def indicators(self) -> dict[str, float]:
        return {}
