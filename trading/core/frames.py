"""Candles as a pandas DataFrame (the charts' and historical_klines' shape)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from trading.core.candles import Candle


def candles_to_frame(candles: Iterable[Candle]) -> pd.DataFrame:
    """DataFrame indexed by UTC open time with float columns Open, High, Low, Close, Volume."""
    candles = list(candles)
    index = pd.DatetimeIndex(
        pd.to_datetime([c.open_time for c in candles], unit="ms", utc=True), name="Open time"
    )
    return pd.DataFrame(
        {
            "Open": [c.open for c in candles],
            "High": [c.high for c in candles],
            "Low": [c.low for c in candles],
            "Close": [c.close for c in candles],
            "Volume": [c.volume for c in candles],
        },
        index=index,
        dtype="float64",
    )
