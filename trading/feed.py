"""The candle feed: every new closed candle handed on exactly once, in open-time order.

The live bot and the backtest share one consumer (the trader); only who drives it
differs. The contract below is what makes them agree trade for trade, so both drivers
obey it to the letter:

- `warm(symbol, candles)` first, once per run and symbol: closed candles at or before the
  consumer's cursor, oldest first, at most `consumer.warmup(symbol)` of them. State only:
  the consumer decides nothing on them.
- then `on_candle(candle, backfilled)` for every closed candle after the cursor, exactly
  once, strictly increasing open time per symbol, no hole. `backfilled` is True when the
  candle reached the feed by REST (catch-up after a connect, a gap, a restart) rather
  than on the socket: it has already closed some time ago.
- `on_forming(candle)` for intra-candle updates (live only, optional for the consumer).

A consumer that has never decided anything (`cursor` is None) gets the latest closed
candles as warm-up and decides from the first candle that closes after that.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from storage.db import open_db
from storage.klines import KlineStore
from trading.candles import Candle
from trading.intervals import interval_ms, interval_name

CSV_HEADER = "open_time_ms,open,high,low,close,volume"


class CandleSink(Protocol):
    def cursor(self, symbol: str) -> int | None:
        """Open time (ms) of the last candle decided on; None if never."""

    def warmup(self, symbol: str) -> int:
        """How many closed candles of history the consumer needs (may grow after /set)."""

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        """History for state only, oldest first, before any on_candle of this run."""

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        """One new closed candle; called on the feed's thread."""

    def on_forming(self, candle: Candle) -> None:
        """An update of the forming candle (live only); must be cheap."""


# ---------------------------------------------------------------------- the backtest driver
def replay(sink: CandleSink, candles: Iterable[Candle], warmup: int | None = None) -> int:
    """Drive `sink` from recorded candles exactly as the live feed would; return the
    number of on_candle calls.

    Per symbol, the first `warmup` candles (default: `sink.warmup(symbol)`) go to `warm`,
    the rest to `on_candle(c, backfilled=False)`. Candles must be in open-time order per
    symbol: a repeat or a step back would be a different market than the live one saw.
    """
    pending: dict[str, list[Candle]] = {}
    need: dict[str, int] = {}
    last: dict[str, int] = {}
    delivered = 0
    for c in candles:
        symbol = c.symbol
        prev = last.get(symbol)
        if prev is not None and c.open_time <= prev:
            raise ValueError(f"{symbol}: candle {c.open_time} does not follow {prev}")
        last[symbol] = c.open_time
        buffer = pending.get(symbol)
        if buffer is None:
            if symbol in need:  # warm already: a decision candle
                sink.on_candle(c, False)
                delivered += 1
                continue
            n = need[symbol] = sink.warmup(symbol) if warmup is None else warmup
            buffer = pending[symbol] = []
            if n <= 0:
                del pending[symbol]
                sink.warm(symbol, ())
                sink.on_candle(c, False)
                delivered += 1
                continue
        buffer.append(c)
        if len(buffer) >= need[symbol]:
            sink.warm(symbol, pending.pop(symbol))
    for symbol, buffer in pending.items():  # shorter than the warm-up: state only
        sink.warm(symbol, buffer)
    return delivered


# ---------------------------------------------------------------------- recorded candles
def load_csv_candles(
    path: str | Path, symbol: str = "BTCUSDT", interval: str | None = None
) -> list[Candle]:
    """Candles from `open_time_ms,open,high,low,close,volume` (plain or gzipped), oldest first.

    The files hold no symbol or interval; the interval is the smallest step between rows
    unless given. Plain str.split rather than csv or pandas: a year of 15m candles is
    35,000 rows and the backtest loads it on every run.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        data = raw.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0].strip().replace(" ", "") != CSV_HEADER:
        raise ValueError(f"{path}: expected header {CSV_HEADER}")
    rows = [line.split(",") for line in lines[1:] if line]
    times = [int(r[0]) for r in rows]
    if interval is None:
        if len(times) < 2:
            raise ValueError(f"{path}: one row; say which interval it is")
        interval = interval_name(min(b - a for a, b in zip(times, times[1:], strict=False)))
    close_offset = interval_ms(interval) - 1
    return [
        Candle(symbol, interval, t, t + close_offset, float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
        for t, r in zip(times, rows, strict=True)
    ]


def load_stored_candles(
    db: str | KlineStore, symbol: str, interval: str, start_ms: int = 0, end_ms: int | None = None
) -> list[Candle]:
    """Closed candles the live bot stored (SQLite path or a KlineStore), start..end inclusive."""
    if isinstance(db, KlineStore):
        return [Candle.from_row(r) for r in db.between(symbol, interval, start_ms, end_ms)]
    conn = open_db(db)
    try:
        return [Candle.from_row(r) for r in KlineStore(conn).between(symbol, interval, start_ms, end_ms)]
    finally:
        conn.close()
