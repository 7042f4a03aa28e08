"""Candle sources for the replay exchange: real CSV files or a seeded random walk.

Prices and volumes stay as the source's decimal text all the way to the wire. Binance
sends decimals as strings, and a replay is only useful if what a client parses is
exactly what the file holds; round-tripping through float would invent digits.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from sim.binance.intervals import INTERVAL_MS, interval_name

CSV_HEADER = ("open_time_ms", "open", "high", "low", "close", "volume")
GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_GENERATE_START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC: fixed so runs repeat

_PLAIN_DECIMAL = re.compile(r"\d+(\.\d+)?")
_PLAIN_ROW = re.compile(r"(\d+),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)")


class SourceCandle(NamedTuple):
    open_time: int
    open: str
    high: str
    low: str
    close: str
    volume: str


def plain_decimal(text: str) -> str:
    """Return `text` if it is already a plain decimal, else its plain equivalent.

    The kline builder does exact integer arithmetic on the digits, so exponents or signs
    must be gone; when the text is already plain (every real file) it is kept verbatim.
    """
    text = text.strip()
    if _PLAIN_DECIMAL.fullmatch(text):
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a non-negative finite number: {text!r}")
    out = format(value, "f")
    return out if _PLAIN_DECIMAL.fullmatch(out) else format(value.normalize(), "f")


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if path.suffix == ".gz" or magic == GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def load_csv(path: str | Path, *, interval: str | None = None) -> list[SourceCandle]:
    """Read `open_time_ms,open,high,low,close,volume` (optionally gzipped).

    The candle step is the smallest gap between rows; larger gaps must be whole multiples
    of it and are kept as gaps (Binance simply has no candle during an outage, and the
    replay should show clients the same hole). `interval` is only needed to load a file
    with a single row, or to insist on a particular interval.
    """
    path = Path(path)
    candles: list[SourceCandle] = []
    with _open_text(path) as fh:
        header = fh.readline()
        if tuple(h.strip() for h in header.split(",")) != CSV_HEADER:
            raise ValueError(f"{path}: expected header {','.join(CSV_HEADER)}, got {header.strip()!r}")
        for lineno, line in enumerate(fh, start=2):
            m = _PLAIN_ROW.fullmatch(line.rstrip("\r\n"))
            if m is not None:  # the common case, one regex instead of a CSV parse per row
                candle = SourceCandle(int(m[1]), m[2], m[3], m[4], m[5], m[6])
            else:
                if not line.strip():
                    continue
                candle = _parse_row(line, f"{path}:{lineno}")
            _check_ohlc(candle, f"{path}:{lineno}")
            candles.append(candle)
    if not candles:
        raise ValueError(f"{path}: no candles")
    check_series(candles, interval=interval, where=str(path))
    return candles


def _parse_row(line: str, where: str) -> SourceCandle:
    (row,) = csv.reader([line])
    if len(row) != 6:
        raise ValueError(f"{where}: expected 6 fields, got {len(row)}")
    try:
        return SourceCandle(int(row[0]), *(plain_decimal(x) for x in row[1:]))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_ohlc(c: SourceCandle, where: str) -> None:
    o, h, low, cl = float(c.open), float(c.high), float(c.low), float(c.close)
    if not (h >= max(o, cl) and low <= min(o, cl) and low > 0):
        raise ValueError(f"{where}: inconsistent OHLC {c.open}/{c.high}/{c.low}/{c.close}")


def check_series(
    candles: Iterable[SourceCandle], *, interval: str | None = None, where: str = "candles"
) -> str:
    """Validate ordering and spacing; return the interval name the data is on."""
    times = [c.open_time for c in candles]
    if not times:
        raise ValueError(f"{where}: no candles")
    diffs = [b - a for a, b in zip(times, times[1:], strict=False)]
    for i, d in enumerate(diffs):
        if d <= 0:
            what = "duplicate" if d == 0 else "unsorted"
            raise ValueError(f"{where}: {what} open time {times[i + 1]} after {times[i]}")
    if interval is not None:
        step = INTERVAL_MS.get(interval)
        if step is None:
            raise ValueError(f"not a supported Binance interval: {interval!r}")
    elif diffs:
        step = min(diffs)
        interval = interval_name(step)
    else:
        raise ValueError(f"{where}: one candle is not enough to infer the interval")
    for i, d in enumerate(diffs):
        if d % step:
            raise ValueError(
                f"{where}: open time {times[i + 1]} is not on the {interval} grid "
                f"(gap of {d} ms after {times[i]})"
            )
    return interval


def _fmt(value: float, decimals: int, rounding: str = "nearest") -> str:
    scale = 10**decimals
    if rounding == "up":
        units = math.ceil(value * scale - 1e-9)
    elif rounding == "down":
        units = math.floor(value * scale + 1e-9)
    else:
        units = round(value * scale)
    return f"{units / scale:.{decimals}f}"


def generate(
    n: int,
    *,
    start_ms: int = DEFAULT_GENERATE_START_MS,
    interval: str = "15m",
    seed: int = 1,
    start_price: float = 50000.0,
) -> list[SourceCandle]:
    """A repeatable random walk, for running without a data file.

    Volatility scales with the square root of the interval so a 1m and a 1d walk both
    look like BTC; each open is the previous close, as in continuous trading.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    step = INTERVAL_MS.get(interval)
    if step is None:
        raise ValueError(f"not a supported Binance interval: {interval!r}")
    if start_price <= 0:
        raise ValueError("start_price must be positive")
    rng = random.Random(seed)
    sigma = 0.0025 * math.sqrt(step / INTERVAL_MS["15m"])
    out: list[SourceCandle] = []
    open_text = _fmt(start_price, 1)
    for i in range(n):
        o = float(open_text)
        c = max(0.1, o * math.exp(rng.gauss(0.0, sigma)))
        close_text = _fmt(c, 1)
        c = float(close_text)
        hi = max(o, c) * (1 + abs(rng.gauss(0.0, sigma * 0.6)))
        lo = min(o, c) * (1 - abs(rng.gauss(0.0, sigma * 0.6)))
        high_text = _fmt(max(hi, o, c), 1, "up")
        low_text = _fmt(max(0.1, min(lo, o, c)), 1, "down")
        volume_text = _fmt(rng.lognormvariate(6.0, 0.6), 3)
        out.append(
            SourceCandle(start_ms + i * step, open_text, high_text, low_text, close_text, volume_text)
        )
        open_text = close_text
    return out
