"""bb_breakout: a volatility breakout on Bollinger bands (TA-Lib), a DataFrame strategy.

Long when a candle closes above the upper band (mean + k·σ of the last n closes), short
when it closes below the lower band; a long is closed when a close falls back under the
middle band, a short when one rises over it. The bands use a finite window (no
recursion), so `startup_candles` is the window itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from trading.core.strategies.frame import MONEY, FrameStrategy
from trading.core.strategies.params import Param, Schema, Values

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class BbBreakout(FrameStrategy):
    name: ClassVar[str] = "bb_breakout"
    schema: ClassVar[Schema] = Schema(
        (
            Param("bb_period", int, 20, 2, 500, "Bollinger window (candles)"),
            Param("bb_std", float, 2.0, 0.5, 5.0, "band width in standard deviations"),
            *MONEY,
        )
    )
    plot: ClassVar[dict[str, str]] = {"bb_upper": "price", "bb_mid": "price", "bb_lower": "price"}

    def startup(self, params: Values) -> int:
        return int(params["bb_period"])

    def populate(self, df: pd.DataFrame, params: Values) -> pd.DataFrame:
        import talib  # here, not at import: a run of another strategy never loads TA-Lib

        k = float(params["bb_std"])
        upper, mid, lower = talib.BBANDS(df["Close"], timeperiod=int(params["bb_period"]), nbdevup=k, nbdevdn=k)
        df["bb_upper"], df["bb_mid"], df["bb_lower"] = upper, mid, lower
        close = df["Close"]
        df["enter_long"] = close > upper
        df["exit_long"] = close < mid
        df["enter_short"] = close < lower
        df["exit_short"] = close > mid
        return df

    @staticmethod
    def signals(close: np.ndarray, params: Values, cache: dict[object, np.ndarray]) -> np.ndarray:
        """populate's four columns as a k×4 array of 0/1 for the grid's fast path (TA-Lib's
        bands over the same closes: the same floats)."""
        import numpy as np
        import talib

        k = float(params["bb_std"])
        upper, mid, lower = talib.BBANDS(close, timeperiod=int(params["bb_period"]), nbdevup=k, nbdevdn=k)
        with np.errstate(invalid="ignore"):
            return np.column_stack((close > upper, close < mid, close < lower, close > mid)).astype(float)
