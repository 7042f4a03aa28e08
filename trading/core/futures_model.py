"""`FuturesModel`: the account rules this process applies, as one frozen value.

Built once where the run is set up (the backtest CLI's flags and settings, /backtest and
/optimize from the store, the live node from the settings) and handed down unchanged to
`run_backtest`, `sweep`, the `Trader` and the paper broker, instead of the same keyword
arguments repeated at every layer. What each field means is in trading/core/futures.py
(liquidation, funding) and trading/core/limits.py (the leverage and notional caps).

The fee and the slippage are the paper broker's (the exchange's own in demo/live); the
funding and the brackets are used only where this process is the exchange (paper, the
backtest, the grid); the caps hold in every mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from trading.core.futures import DEFAULT_BRACKETS, Bracket, FundingRate


@dataclass(frozen=True)
class FuturesModel:
    fee_rate: Decimal = Decimal("0.0005")  # taker fee per side (0.05 %)
    slippage_bps: Decimal = Decimal(0)  # market fills this many basis points worse
    max_leverage: int | None = None  # MAX_LEVERAGE: an opening order above it is refused
    max_notional: Decimal | None = None  # MAX_POSITION_NOTIONAL
    funding: FundingRate | None = None  # the rate at a funding time; None: no funding
    # leverage brackets per symbol; a symbol without a table is never liquidated ({}: no
    # liquidation at all). Default: the documented tables (trading/core/futures.py).
    brackets: Mapping[str, Sequence[Bracket]] = field(default_factory=lambda: DEFAULT_BRACKETS)

    def table(self, symbol: str) -> tuple[Bracket, ...]:
        """The symbol's brackets; () when it is not liquidated."""
        return tuple(self.brackets.get(symbol) or ())




DEFAULT_MODEL = FuturesModel()  # the documented fee and brackets; no funding, slippage or caps
