"""The fast path's futures model: slippage, funding and the liquidation guard, in the same
exact integers as trading/optimize/fast.py (split from it by job; the rules are the
trader's, trading/core/futures.py and trading/core/brokers/paper.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import numpy as np


class Market(Protocol):
    """What these rules read of fast.Market (one symbol's candles as scaled integer arrays)."""

    n: int
    D: int
    Q: int
    M: int
    R: int
    S: int
    tick_u: int
    slip_num: int
    open_u: np.ndarray
    high_f: np.ndarray
    low_f: np.ndarray
    fund_at: np.ndarray | None
    fund_rate: np.ndarray | None
    brackets: tuple[tuple[float, float, float, float], ...]

I64_SAFE = 2**62


class Unsupported(ValueError):
    """This cell needs the shared backtest; the message says why."""


def places(value: Decimal) -> int:
    return max(0, -value.normalize().as_tuple().exponent)  # type: ignore[operator]


def funding_arrays(funding: list[tuple[int, Decimal]]) -> dict[str, object]:
    if not funding:
        return {}
    R = max(places(r) for _, r in funding)
    if R > 12 or any(abs(r) >= 1 for _, r in funding):
        raise Unsupported("funding rates with more than 12 decimals")
    return dict(fund_at=np.array([i for i, _ in funding], dtype=np.int64),
                fund_rate=np.array([int(r.scaleb(R)) for _, r in funding], dtype=np.int64), R=R)


def slippage(bps: Decimal) -> dict[str, int]:
    if not bps:
        return {}
    S = places(bps)
    if S > 4:
        raise Unsupported("slippage with more than 4 decimals of a basis point")
    return dict(slip_num=int(bps.scaleb(S)), S=S)


def slip(price_u: np.ndarray, buy: np.ndarray, m: Market) -> np.ndarray:
    """The paper broker's slipped price: × (1 ± bps/10^4), to the tick away from the trader."""
    if not m.slip_num:
        return price_u
    den = 10_000 * 10**m.S
    if int(price_u.max(initial=0)) * (den + m.slip_num) >= I64_SAFE:
        raise Unsupported("prices too large for exact slippage")
    num = price_u * np.where(buy, den + m.slip_num, den - m.slip_num)
    unit = den * m.tick_u
    q = np.where(buy, -(-num // unit), num // unit)
    return q * m.tick_u


def funding(m: Market, fill: np.ndarray, exit_at: np.ndarray, sd: np.ndarray,
             q_u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each trade's funding (units 10^-M), and every payment's candle and amount: a trade
    pays at the funding times after its fill candle up to its exit candle (held into that
    open), qty × open × rate rounded half-up to 8 decimals, as trading/core/futures.py does."""
    K = len(fill)
    none = np.zeros(0, dtype=np.int64)
    if m.fund_at is None or m.fund_rate is None or not K:
        return np.zeros(K, dtype=np.int64), none, none
    last = np.minimum(exit_at, m.n - 1)
    k = np.searchsorted(fill, m.fund_at, side="left") - 1  # the trade filled before each funding time
    kk = np.maximum(k, 0)
    ok = (k >= 0) & (m.fund_at <= last[kk])
    j, kk, rate = m.fund_at[ok], kk[ok], m.fund_rate[ok]
    if not len(j):
        return np.zeros(K, dtype=np.int64), none, none
    x = q_u[kk] * m.open_u[j]  # 10^-(Q+D)
    if int(x.max()) * int(np.abs(rate).max()) * 2 >= I64_SAFE:
        raise Unsupported("funding too large for exact integer arithmetic")
    mag = x * np.abs(rate)  # 10^-(Q+D+R)
    places = m.Q + m.D + m.R
    if places <= 8:
        a8 = mag * 10 ** (8 - places)
    else:
        div = 10 ** (places - 8)
        a8 = (2 * mag + div) // (2 * div)
    amount = -sd[kk] * np.sign(rate) * a8 * 10 ** (m.M - 8)
    per_trade = np.zeros(K, dtype=np.int64)
    np.add.at(per_trade, kk, amount)
    return per_trade, j, amount


def no_liquidation(m: Market, fill: np.ndarray, ends: np.ndarray, sd: np.ndarray, q_u: np.ndarray,
                    entry_u: np.ndarray, leverage: int, exit_at: np.ndarray) -> None:
    """Unsupported if any candle a trade is open for (its exit candle included) comes
    within 1e-6 of the trade's liquidation price (trading/core/futures.py's formula, in float)."""
    q = q_u / 10.0**m.Q
    e = entry_u / 10.0**m.D
    margin = q * e / leverage
    lp = np.full(len(q), np.nan)
    for floor, cap, mmr, cum in m.brackets:
        cand = (margin + cum - sd * q * e) / (q * (mmr - sd))
        ok = np.isnan(lp) & (cand > 0) & (q * cand >= floor) & (q * cand < cap)
        lp = np.where(ok, cand, lp)
    for floor, cap, mmr, cum in m.brackets:  # the level at entry where none held at LP
        at_entry = np.isnan(lp) & (q * e >= floor) & (q * e < cap)
        lp = np.where(at_entry, (margin + cum - sd * q * e) / (q * (mmr - sd)), lp)
    lp = np.where(lp > 0, lp, np.nan)
    if np.isnan(lp).all():
        return
    # the candles each trade is open for: from its fill to its exit candle, but not the candle
    # whose open closes it for the next decision (that candle is the next trade's)
    last = np.minimum(ends - 1, exit_at)
    bounds = np.empty(2 * len(fill), dtype=np.int64)
    bounds[0::2], bounds[1::2] = fill, last + 1
    low = np.minimum.reduceat(np.append(m.low_f, np.inf), bounds)[0::2]
    high = np.maximum.reduceat(np.append(m.high_f, -np.inf), bounds)[0::2]
    with np.errstate(invalid="ignore"):
        near = np.where(sd > 0, low <= lp * (1 + 1e-6), high >= lp * (1 - 1e-6))
    if near.any():
        raise Unsupported("a position would be liquidated")

