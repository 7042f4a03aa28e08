"""`BacktestOptions`: what a research run is, as one frozen value.

The strategy and its values, the symbol's rules, the warm-up and the start, the paper
wallet, the freqtrade edges and the futures model (trading/core/futures_model.py). Built
once from the CLI's flags and the settings (trading/backtest/__main__.py, futures_cli.py),
or from the store for /backtest and /optimize (trading/live/whatif.py), and handed to
`run_backtest` and `sweep` (whose cells replace only `values`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from trading.core.futures_model import FuturesModel
from trading.core.protections import ProtectionRules
from trading.core.strategies import DEFAULT_STRATEGY, Values
from trading.core.symbols import SymbolFilters


@dataclass(frozen=True)
class BacktestOptions:
    strategy: str = DEFAULT_STRATEGY
    values: Values | None = None  # None: the strategy's defaults; in a sweep, the base of every cell
    filters: SymbolFilters = field(default_factory=SymbolFilters.btcusdt)
    warmup: int = 500  # candles that only warm the strategy (before start_ms, or the first ones)
    start_ms: int | None = None  # first candle traded
    balance: Decimal = Decimal("10000")  # the paper wallet, USDT
    strategy_warmup: int | None = None  # replaces the strategy's own warm-up (it may decide earlier)
    exit_at_end: bool = False  # close what is still open at the last candle's close (reason `end`)
    model: FuturesModel = field(default_factory=FuturesModel)
    hedge: bool = False  # Hedge Mode: LONG and SHORT legs apart, by core/hedge.py's rule (as live)
    protections: ProtectionRules = field(default_factory=ProtectionRules)  # issue 29: the live bot's, off by default

    def with_values(self, values: Values | None) -> BacktestOptions:
        return replace(self, values=values)


DEFAULT_OPTIONS = BacktestOptions()
