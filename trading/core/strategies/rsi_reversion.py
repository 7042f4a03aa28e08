"""rsi_reversion: mean reversion on Wilder's RSI (TA-Lib), a DataFrame strategy.

Long when the RSI closes under `low`, short when it closes over `high`; a long is closed
when the RSI gets back to `mid` or above, a short at `mid` or below (an entry the other
way on the same candle reverses instead). The RSI is recursive, so `startup_candles` is
ten lengths: the seed's weight is then under (1 - 1/n)^(10n) ≈ e^-10 of the first value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from trading.core.strategies.frame import MONEY, FrameStrategy
from trading.core.strategies.params import Param, Schema, Values

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def _ordered(v: dict[str, int | float]) -> str | None:
    if not v["low"] < v["mid"] < v["high"]:
        return f"need low < mid < high, got {v['low']:g} / {v['mid']:g} / {v['high']:g}"
    return None


class RsiReversion(FrameStrategy):
    name: ClassVar[str] = "rsi_reversion"
    schema: ClassVar[Schema] = Schema(
        (
            Param("rsi_period", int, 14, 2, 100, "RSI length (candles)"),
            Param("low", float, 30.0, 1.0, 99.0, "long when the RSI closes under this"),
            Param("high", float, 70.0, 1.0, 99.0, "short when the RSI closes over this"),
            Param("mid", float, 50.0, 1.0, 99.0, "exit at this RSI (long: at or above, short: at or below)"),
            *MONEY,
        ),
        rules=(_ordered,),
    )
    plot: ClassVar[dict[str, str]] = {"rsi": "sub"}

    def startup(self, params: Values) -> int:
        return 10 * int(params["rsi_period"])

    def bands(self, params: Values) -> tuple[float, float]:
        return float(params["low"]), float(params["high"])

    def populate(self, df: pd.DataFrame, params: Values) -> pd.DataFrame:
        import talib  # here, not at import: a run of another strategy never loads TA-Lib

        rsi = talib.RSI(df["Close"], timeperiod=int(params["rsi_period"]))
        df["rsi"] = rsi
        df["enter_long"] = rsi < params["low"]
        df["exit_long"] = rsi >= params["mid"]
        df["enter_short"] = rsi > params["high"]
        df["exit_short"] = rsi <= params["mid"]
        return df

    @staticmethod
    def signals(close: np.ndarray, params: Values, cache: dict[object, np.ndarray]) -> np.ndarray:
        """populate's four columns as a k×4 array of 0/1 for the grid's fast path, with the
        RSI of each length computed once per grid (TA-Lib over the same closes: the same floats)."""
        import numpy as np
        import talib

        n = int(params["rsi_period"])
        rsi = cache.get(("rsi", n))
        if rsi is None:
            rsi = cache["rsi", n] = talib.RSI(close, timeperiod=n)
        with np.errstate(invalid="ignore"):
            return np.column_stack((rsi < params["low"], rsi >= params["mid"], rsi > params["high"],
                                    rsi <= params["mid"])).astype(float)
