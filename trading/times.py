"""A time as people give it to the CLIs and `historical_klines`: ms, a datetime, a UTC date
("2025-01-31", "2025-01-31 12:00") or python-binance's relative words ("3 days ago UTC").

Outside trading/exchange/ so that research reads its --start and --end without the exchange
client; python-binance's dateparser path is imported only for the words pandas cannot read.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd


def to_ms(when: int | float | str | datetime | pd.Timestamp) -> int:
    """ms since epoch from ms, a datetime, or a date string ("2025-01-01", "3 days ago UTC")."""
    if isinstance(when, bool):
        raise TypeError("a time, not a bool")
    if isinstance(when, int | float):
        return int(when)
    if isinstance(when, datetime | pd.Timestamp):
        ts = pd.Timestamp(when)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.value // 1_000_000)
    try:
        return to_ms(pd.Timestamp(when))
    except ValueError:
        from binance.helpers import convert_ts_str

        ms = convert_ts_str(when)  # python-binance's dateparser path: "1 week ago UTC"
        if ms is None:
            raise ValueError(f"cannot read {when!r} as a time") from None
        return int(ms)
