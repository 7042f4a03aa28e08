"""Historical candles over Binance futures REST: /fapi/v1/klines paged forward, closed
candles only, and `historical_klines` as a DataFrame.

`fetch_kline_rows` pages `futures_klines` itself (1,500 rows a request) instead of calling
python-binance's `futures_historical_klines`, which asks for the earliest candle first,
pages by 1,000 and sleeps a full second after every third page; the result is the same
rows with a third of the requests and none of the sleeps.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pandas as pd
from binance.client import Client

from trading.config import Settings, load_settings
from trading.core.candles import Candle, candle_from_rest
from trading.core.frames import candles_to_frame
from trading.core.intervals import interval_ms
from trading.exchange.rest import make_client, server_time_ms, with_retries
from trading.times import to_ms

PAGE_LIMIT = 1500  # Binance futures maximum per /fapi/v1/klines request


def fetch_kline_rows(
    client: Client,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    stop: threading.Event | None = None,
) -> list[list[Any]]:
    """Raw /fapi/v1/klines rows with open_time in [start_ms, end_ms], paged forward."""
    step = interval_ms(interval)
    rows: list[list[Any]] = []
    cursor = start_ms
    while end_ms is None or cursor <= end_ms:
        params: dict[str, Any] = {
            "symbol": symbol,
            "interval": interval,
            "startTime": cursor,
            "limit": PAGE_LIMIT,
        }
        if end_ms is not None:
            params["endTime"] = end_ms
        page = with_retries(
            lambda p=params: client.futures_klines(**p), stop=stop, what=f"klines {symbol}"
        )
        if not page:
            break
        rows.extend(page)
        if len(page) < PAGE_LIMIT:
            break
        cursor = int(page[-1][0]) + step
    return rows


def closed_candles(
    client: Client,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    now_ms: int | None = None,
    stop: threading.Event | None = None,
) -> list[Candle]:
    """Closed candles only: Binance includes the still-forming candle in klines answers."""
    if now_ms is None:
        now_ms = server_time_ms(client, stop)
    rows = fetch_kline_rows(client, symbol, interval, start_ms, end_ms, stop=stop)
    return [candle_from_rest(symbol, interval, r) for r in rows if int(r[6]) < now_ms]


def historical_klines(
    symbol: str,
    interval: str,
    start: int | str | datetime,
    end: int | str | datetime | None = None,
    *,
    client: Client | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Closed futures candles of one symbol from `start` (to `end`, default now) as a DataFrame."""
    if client is None:
        client = make_client(settings or load_settings())
    candles = closed_candles(
        client, symbol.upper(), interval, to_ms(start), None if end is None else to_ms(end)
    )
    return candles_to_frame(candles)
