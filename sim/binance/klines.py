"""Kline fields as Binance sends them, built in one place for REST rows and stream events.

A client that reconnects backfills over REST what it missed on the stream; if the two
paths formatted a candle differently the client would see phantom changes. Every field
of a closed candle therefore comes from `closed_fields`, and the stream's final (x=true)
update uses exactly those fields.

Intra-candle updates walk a plausible price path (bullish: open, low, high, close;
bearish: open, high, low, close) in exact integer units of the source's last decimal,
so partial prices never leave the candle's range and partial volumes never exceed the
final ones.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from sim.binance.data import SourceCandle

TRADES_PER_BASE_UNIT = 37  # arbitrary but fixed: trade counts must repeat between runs


class KlineFields(NamedTuple):
    t: int
    T: int
    o: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    c: str
    v: str
    n: int
    q: str
    V: str
    Q: str


class KlineUpdate(NamedTuple):
    """One stream update of a candle; `low`/`high` is the price range walked since the
    previous update (what a resting limit order could have been filled against)."""

    fields: KlineFields
    closed: bool
    event_time: int
    low: str
    high: str


def decimals_of(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def to_units(text: str, decimals: int) -> int:
    """`text` as an integer count of 10**-decimals (text has at most `decimals` places)."""
    whole, _, frac = text.partition(".")
    return int(whole + frac.ljust(decimals, "0")) if decimals else int(whole)


def from_units(units: int, decimals: int) -> str:
    if not decimals:
        return str(units)
    whole, frac = divmod(abs(units), 10**decimals)
    return f"{'-' if units < 0 else ''}{whole}.{frac:0{decimals}d}"


def trade_count(candle: SourceCandle, interval_ms: int) -> int:
    return max(1, int(float(candle.volume) * TRADES_PER_BASE_UNIT) + (candle.open_time // interval_ms) % 97)


def _avg_price(candle: SourceCandle) -> float:
    return (float(candle.open) + float(candle.high) + float(candle.low) + float(candle.close)) / 4


def closed_fields(candle: SourceCandle, interval_ms: int) -> KlineFields:
    """The final fields of a candle: the REST row and the x=true stream update."""
    vd = decimals_of(candle.volume)
    taker_base = from_units(to_units(candle.volume, vd) // 2, vd)
    avg = _avg_price(candle)
    return KlineFields(
        candle.open_time,
        candle.open_time + interval_ms - 1,
        candle.open,
        candle.high,
        candle.low,
        candle.close,
        candle.volume,
        trade_count(candle, interval_ms),
        f"{float(candle.volume) * avg:.8f}",
        taker_base,
        f"{float(taker_base) * avg:.8f}",
    )


@functools.lru_cache(maxsize=64)
def _path_plan(updates: int) -> tuple[tuple[int, int, range], ...]:
    """Where each forming update sits on the 3-segment path open->a->b->close.

    Per update: segment index, remainder (in 1/(updates+1) of a segment), and the
    waypoint indices passed since the previous update. The final entry is the close.
    """
    den = updates + 1
    plan, prev_seg = [], 0
    for k in range(updates):
        seg, rem = divmod(3 * (k + 1), den)
        plan.append((seg, rem, range(prev_seg + 1, min(seg, 3) + 1)))
        prev_seg = seg
    plan.append((3, 0, range(prev_seg + 1, 4)))
    return tuple(plan)


def build_updates(candle: SourceCandle, interval_ms: int, updates: int) -> list[KlineUpdate]:
    """All stream updates of one candle: `updates` forming ones, then the closed one."""
    final = closed_fields(candle, interval_ms)
    texts = (candle.open, candle.high, candle.low, candle.close)
    pd = max(decimals_of(candle.open), decimals_of(candle.high), decimals_of(candle.low), decimals_of(candle.close))
    o, h, lo, c = (to_units(x, pd) for x in texts)
    # units -> text; seeded with the source's own text so reached extremes match it exactly
    known = {o: candle.open, h: candle.high, lo: candle.low, c: candle.close}
    waypoints = (o, lo, h, c) if c >= o else (o, h, lo, c)
    den = updates + 1
    vd = decimals_of(candle.volume)
    v_units = to_units(candle.volume, vd)
    v_scale = 10**vd
    avg = _avg_price(candle)
    t, big_t, n = candle.open_time, final.T, final.n
    out: list[KlineUpdate] = []
    prev_price = run_hi = run_lo = o
    plan = _path_plan(updates)
    for k in range(updates):
        seg, rem, crossed = plan[k]
        if seg >= 3:
            price = waypoints[3]
        else:
            a = waypoints[seg]
            price = a + (waypoints[seg + 1] - a) * rem // den
        step_lo = step_hi = prev_price
        for p in (price, *(waypoints[i] for i in crossed)):
            if p < step_lo:
                step_lo = p
            elif p > step_hi:
                step_hi = p
        if step_hi > run_hi:
            run_hi = step_hi
        if step_lo < run_lo:
            run_lo = step_lo
        price_s = known.get(price)
        if price_s is None:
            price_s = known[price] = from_units(price, pd)
        part_v = v_units * (k + 1) // den
        part_taker = part_v // 2
        fields = KlineFields(
            t,
            big_t,
            candle.open,
            known[run_hi],
            known[run_lo],
            price_s,
            from_units(part_v, vd),
            max(1, n * (k + 1) // den),
            f"{part_v / v_scale * avg:.8f}",
            from_units(part_taker, vd),
            f"{part_taker / v_scale * avg:.8f}",
        )
        out.append(
            KlineUpdate(fields, False, t + (k + 1) * interval_ms // den, known[step_lo], known[step_hi])
        )
        prev_price = price
    span = (prev_price, c, *(waypoints[i] for i in plan[-1][2]))
    out.append(KlineUpdate(final, True, t + interval_ms, known[min(span)], known[max(span)]))
    return out


def rest_row(fields: KlineFields) -> list[object]:
    """The Binance REST kline array (field 11 is the ignored "0")."""
    f = fields
    return [f.t, f.o, f.h, f.l, f.c, f.v, f.T, f.q, f.n, f.V, f.Q, "0"]


def rest_row_json(fields: KlineFields) -> str:
    f = fields
    return (
        f'[{f.t},"{f.o}","{f.h}","{f.l}","{f.c}","{f.v}",{f.T},"{f.q}",{f.n},"{f.V}","{f.Q}","0"]'
    )


def kline_event_json(
    symbol: str,
    interval: str,
    fields: KlineFields,
    first_trade_id: int,
    closed: bool,
    event_time: int,
) -> str:
    """The `data` object of a kline stream event, as compact JSON text.

    Written as one f-string rather than json.dumps: every value is a number or a plain
    decimal/symbol string that needs no escaping, and this runs for every frame.
    """
    f = fields
    last_id = first_trade_id + f.n - 1
    x = "true" if closed else "false"
    return (
        f'{{"e":"kline","E":{event_time},"s":"{symbol}","k":{{"t":{f.t},"T":{f.T},'
        f'"s":"{symbol}","i":"{interval}","f":{first_trade_id},"L":{last_id},'
        f'"o":"{f.o}","c":"{f.c}","h":"{f.h}","l":"{f.l}","v":"{f.v}","n":{f.n},'
        f'"x":{x},"q":"{f.q}","V":"{f.V}","Q":"{f.Q}","B":"0"}}}}'
    )


def combined_json(stream: str, data_json: str) -> str:
    """Wrap a stream payload the way /stream?streams=... connections receive it."""
    return f'{{"stream":"{stream}","data":{data_json}}}'
