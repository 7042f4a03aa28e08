"""A time as people give it to the CLIs and `historical_klines`: ms, a datetime, a UTC date
("2025-01-31", "2025-01-31 12:00") or python-binance's relative words ("3 days ago UTC").

Outside trading/exchange/ so that research reads its --start and --end without the exchange
client; python-binance's dateparser path is imported only for the words pandas cannot read.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
# What the CLIs' help shows (2025-01-31, "2025-01-31 12:00", …T12:00:00): read without pandas,
# to the same ms pandas reads them as; any other text goes through pandas, then python-binance.
ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")


def to_ms(when: Any) -> int:
    """ms since epoch from ms, a datetime (naive: UTC), or a date string ("2025-01-01",
    "3 days ago UTC")."""
    if isinstance(when, bool):
        raise TypeError("a time, not a bool")
    if isinstance(when, int | float):
        return int(when)
    if isinstance(when, datetime) and not type(when).__module__.startswith("pandas"):
        return ((when.replace(tzinfo=UTC) if when.tzinfo is None else when) - EPOCH) // MS
    if isinstance(when, str) and ISO.fullmatch(when):
        with contextlib.suppress(ValueError):  # "2025-02-30": pandas and python-binance say it
            return (datetime.fromisoformat(when).replace(tzinfo=UTC) - EPOCH) // MS
    import pandas as pd

    if isinstance(when, datetime):  # a pandas Timestamp (nanoseconds)
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
