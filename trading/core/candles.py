"""The Candle type and the two wire formats it comes from (websocket kline event, REST row).

Parsing sits on the hot path of the stream (every frame, thousands per second), so it is
plain json + a slotted dataclass, no validation library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trading.core.frozen import quick_init


class MalformedFrame(ValueError):
    """A frame we cannot use; `kind` groups them so each kind is logged once."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@quick_init  # made per stream frame and per CSV row: a quicker constructor, the same frozen Candle
@dataclass(slots=True, frozen=True)
class Candle:
    symbol: str
    interval: str
    open_time: int  # ms, UTC
    close_time: int  # ms, UTC (open_time + interval - 1, as Binance reports it)
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float = 0.0
    trades: int = 0
    taker_buy_base: float = 0.0
    taker_buy_quote: float = 0.0
    closed: bool = True

    @property
    def opened_at(self) -> datetime:
        return datetime.fromtimestamp(self.open_time / 1000, tz=UTC)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Candle:
        """From a storage row (dict with the klines columns)."""
        return cls(
            symbol=row["symbol"],
            interval=row["interval"],
            open_time=row["open_time"],
            close_time=row["close_time"],
            open=row["open"],
            high=row["high"],
            low=row["low"],
            close=row["close"],
            volume=row["volume"],
            quote_volume=row["quote_volume"] or 0.0,
            trades=row["trades"] or 0,
            taker_buy_base=row["taker_buy_base"] or 0.0,
            taker_buy_quote=row["taker_buy_quote"] or 0.0,
            closed=True,
        )


def fmt_num(x: float) -> str:
    """Shortest exact-looking decimal: 67220.0 → 67220, 1091.014 → 1091.014."""
    text = f"{x:.8f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


_loads = json.loads


def parse_kline_message(raw: str | bytes) -> Candle | None:
    """Parse one websocket text frame; None for frames that are not data (subscribe acks).

    Accepts both the combined-stream envelope {"stream":…, "data":{…}} and a raw event.
    """
    try:
        msg = _loads(raw)
    except (ValueError, TypeError) as e:
        raise MalformedFrame("bad-json", str(e)[:80]) from None
    if type(msg) is not dict:
        raise MalformedFrame("not-an-object")
    data = msg.get("data", msg)
    try:
        if data["e"] != "kline":
            raise MalformedFrame("unknown-event", str(data["e"])[:40])
        k = data["k"]
        return Candle(
            k["s"],
            k["i"],
            k["t"],
            k["T"],
            float(k["o"]),
            float(k["h"]),
            float(k["l"]),
            float(k["c"]),
            float(k["v"]),
            float(k["q"]),
            k["n"],
            float(k["V"]),
            float(k["Q"]),
            k["x"] is True,
        )
    except MalformedFrame:
        raise
    except (KeyError, TypeError, ValueError) as e:
        if "result" in msg and "id" in msg:
            return None  # {"result": null, "id": 1}: reply to SUBSCRIBE/UNSUBSCRIBE
        raise MalformedFrame("unknown-shape", repr(e)[:80]) from None


def candle_from_rest(symbol: str, interval: str, row: list[Any]) -> Candle:
    """From a /fapi/v1/klines row: [t, o, h, l, c, v, T, q, n, V, Q, ignore]."""
    return Candle(
        symbol,
        interval,
        int(row[0]),
        int(row[6]),
        float(row[1]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        float(row[5]),
        float(row[7]),
        int(row[8]),
        float(row[9]),
        float(row[10]),
        True,
    )
