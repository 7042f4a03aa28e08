"""The grid's fast path: ema_cross and DataFrame strategies over many parameter sets, in
numpy, with exact money.

Why a second copy of rules that live in trading/core/trader.py? The trader costs ~2 µs a candle
per parameter set, so a 656-cell grid over a year of 15m candles would take ~45 s. Here
each EMA span is computed once (with the strategy's own float operations, so crosses are
the same to the bit), crosses are found by array compares, stop/take first touches by one
masked scan per cell, and fees and PnL are computed in integers scaled from the candles'
own decimals: they are the Decimal values the paper broker books, not approximations.

What it reproduces (per closed candle, as the trader does): fills at the next open, an
opposite cross closing and reversing on the same open, quantity floored to the step,
stop-loss/take-profit on the candle's low/high (stop first, a gap fills at the open),
equity marked at every close. A DataFrame strategy's decisions come from its own populate
(`frame_decisions`: frame.py's row rule, the position alone deciding which rows count),
then the same `simulate_decisions`. What it does not: the RSI filter, a stop or a take with
a DataFrame strategy (a stop changes the position its next rows are read against), and
any cell where the broker would refuse an order (MIN_NOTIONAL, LOT_SIZE,
margin) or two crosses in a row go the same way (an EMA difference of exactly 0), and any
cell where a candle reaches a position's liquidation price (found here in float with a
margin, so a near miss falls back too): `simulate` raises Unsupported with the reason
and the caller runs the shared backtest. Funding (each payment rounded as the trader
rounds it), slippage (whole or decimal basis points, on the tick as the broker rounds) and
the exit at the end (`--exit-at-end`) are modelled, in the same integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

import numpy as np

from trading.optimize.fast_futures import (
    I64_SAFE,
    Unsupported,
    funding_arrays,
    no_liquidation,
    slip,
    slippage,
)
from trading.optimize.fast_futures import (
    funding as funding_payments,
)
from trading.optimize.fast_futures import places as _places

MAX_DECIMALS = 8


def _units(value: Decimal, places: int, what: str) -> int:
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise Unsupported(f"{what} {value} has more than {places} decimals")
    return int(scaled)


def price_decimals(*series: np.ndarray) -> int:
    """The fewest decimals that write every price exactly (what Decimal(repr(price)) has)."""
    for d in range(MAX_DECIMALS + 1):
        scale = 10.0**d
        if all(np.array_equal(np.rint(s * scale) / scale, s) for s in series):
            return d
    raise Unsupported(f"prices with more than {MAX_DECIMALS} decimals")


def ema(closes: list[float], span: int) -> np.ndarray:
    """EmaCross's update, `e += a * (close - e)` seeded with the first close, bit for bit."""
    a = 2.0 / (span + 1)
    return np.fromiter(accumulate(closes, lambda e, c: e + a * (c - e)), float, len(closes))


@dataclass
class Market:
    """One symbol's candles as arrays, plus the scales that make money exact in integers."""

    n: int
    warm: int
    closes: list[float]
    open_f: np.ndarray
    high_f: np.ndarray
    low_f: np.ndarray
    close_f: np.ndarray
    open_u: np.ndarray  # int64, prices in units of 10^-D
    D: int  # price decimals (tick included)
    Q: int  # quantity decimals
    M: int  # money decimals
    tick_u: int
    step_u: int
    min_qty_u: int
    max_qty_u: int
    min_notional_u: int  # units of 10^-(Q+D)
    fee_num: int  # fee rate × 10^F
    F: int
    balance_u: int  # units of 10^-M
    brackets: tuple[tuple[float, float, float, float], ...] = ()  # (floor, cap, mmr, cum); () no liquidation
    decide_from: int | None = None  # the strategy's warm-up when the run overrides it
    fund_at: np.ndarray | None = None  # candle indices with a funding time at their open
    fund_rate: np.ndarray | None = None  # their rates × 10^R (int64)
    R: int = 0
    slip_num: int = 0  # slippage in basis points × 10^S
    S: int = 0
    close_u: np.ndarray | None = None
    exit_at_end: bool = False

    @classmethod
    def build(
        cls, opens: list[float], highs: list[float], lows: list[float], closes: list[float], *,
        warm: int, filters: object, balance: Decimal, fee_rate: Decimal,
        brackets: tuple[tuple[float, float, float, float], ...] = (), decide_from: int | None = None,
        funding: list[tuple[int, Decimal]] | None = None, slippage_bps: Decimal = Decimal(0),
        exit_at_end: bool = False,
    ) -> Market:
        """funding: (candle index, rate) of every funding time at a candle's open."""
        o, h, lo, c = (np.asarray(x, dtype=float) for x in (opens, highs, lows, closes))
        tick = filters.tick_size  # type: ignore[attr-defined]
        step = filters.market_step  # type: ignore[attr-defined]
        D = max(price_decimals(o, h, lo, c), _places(tick))
        if float(np.abs(np.concatenate([o, h, lo, c])).max(initial=0.0)) * 10.0**D > 2**50:
            raise Unsupported("prices too large for exact integer arithmetic")
        Q = max(_places(step), _places(filters.market_min_qty), _places(filters.market_max_qty))  # type: ignore[attr-defined]
        F = _places(fee_rate)
        M = max(8, Q + D)
        return cls(
            n=len(closes), warm=warm, closes=list(closes), open_f=o, high_f=h, low_f=lo, close_f=c,
            open_u=np.rint(o * 10.0**D).astype(np.int64), D=D, Q=Q, M=M,
            tick_u=_units(tick, D, "tick size"), step_u=_units(step, Q, "step size"),
            min_qty_u=_units(filters.market_min_qty, Q, "min qty"),  # type: ignore[attr-defined]
            max_qty_u=_units(filters.market_max_qty, Q, "max qty"),  # type: ignore[attr-defined]
            min_notional_u=_units(filters.min_notional, Q + D, "min notional"),  # type: ignore[attr-defined]
            fee_num=_units(fee_rate, F, "fee rate"), F=F, balance_u=_units(balance, M, "balance"),
            brackets=brackets, decide_from=decide_from, exit_at_end=exit_at_end,
            close_u=np.rint(c * 10.0**D).astype(np.int64), **funding_arrays(funding or []),
            **slippage(slippage_bps),
        )


@dataclass(frozen=True)
class Raw:
    """One cell's outcome in integers and floats; money in units of 10^-M."""

    trades: int
    wins: int
    net_u: int
    fees_u: int
    final_u: int
    open_pnl: float
    max_drawdown: float
    max_drawdown_pct: float
    exposed: int
    last_equity: float
    funding_u: int = 0
    charges_u: int = 0  # liquidation clearance fees (the compiled simulator's; fast.py falls back instead)
    liquidations: int = 0
    gross_u: int | None = None  # None: net + fees − funding (no charges)


def _fee(notional_u: np.ndarray, m: Market) -> np.ndarray:
    """qty × price × rate rounded half-up to 8 decimals (the broker's FEE_QUANTUM), in 10^-M."""
    x = notional_u * m.fee_num  # units 10^-(Q+D+F)
    places = m.Q + m.D + m.F
    if places <= 8:
        fee8 = x * 10 ** (8 - places)
    else:
        div = 10 ** (places - 8)
        fee8 = (2 * x + div) // (2 * div)
    return fee8 * 10 ** (m.M - 8)


def _level(entry_u: np.ndarray, side: np.ndarray, pct: Decimal, sign: int, m: Market) -> np.ndarray:
    """exit_level(entry × (1 ∓ pct/100)): to the tick toward the entry, in price units."""
    p = _places(pct)
    if p > 6:
        raise Unsupported(f"a stop/take percentage with more than 6 decimals ({pct})")
    hundred = 100 * 10**p
    factor = hundred + sign * side * int(pct.scaleb(p))
    if int(entry_u.max()) * (hundred + int(pct.scaleb(p))) * m.tick_u >= I64_SAFE:
        raise Unsupported("prices too large for exact stop/take levels")
    num, den = entry_u * factor, hundred * m.tick_u
    above = sign * side > 0  # a level above the entry rounds down, one below it up
    return np.where(above, num // den, -((-num) // den)) * m.tick_u


def simulate(
    m: Market, diff: np.ndarray, slow: int, stake: float, leverage: int, sl: float, tp: float
) -> Raw:
    """The trades ema_cross makes with these values on m's candles; Unsupported if the
    fast path cannot promise the trader's result."""
    n = m.n
    start = max(3 * slow if m.decide_from is None else m.decide_from, m.warm, 1)
    if start < n:
        prev, cur = diff[start - 1 : n - 1], diff[start:n]
        up = (prev <= 0.0) & (cur > 0.0)
        dn = (prev >= 0.0) & (cur < 0.0)
        at = np.flatnonzero(up | dn)
        side = np.where(up[at], 1, -1).astype(np.int64)
        decided = at + start
    else:
        side = decided = np.empty(0, dtype=np.int64)
    if len(side) > 1 and np.any(side[1:] == side[:-1]):
        raise Unsupported("two crosses in a row the same way (EMA difference exactly 0)")
    return simulate_decisions(m, decided, side, stake, leverage, sl, tp)


def frame_decisions(raw: np.ndarray, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The decisions a DataFrame strategy's signal rows (run_populate's k×4 array of 0/1,
    rows in candle order) make from candle `start` on, with the position each leads to:
    trading/core/strategies/frame.py's `decide`, row by row, without a loop. A row that
    enters (long or short, by decide's rule) sets the position whatever it was; any other
    row can only close the position its exit signal names. So the position after row r is
    the side of the last entering row, unless a matching exit row came after it. Valid
    while nothing else moves the position (no stop, take or liquidation)."""
    if start >= n:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    el, xl, es, xs = (raw[start:n, j] == 1.0 for j in range(4))
    go_long = el & ~(xl | es)
    go_short = es & ~(xs | el)
    at = np.arange(n - start)
    last = np.maximum.accumulate(np.where(go_long | go_short, at, -1))  # the last entering row
    side = np.where(last >= 0, np.where(go_long, 1, -1)[np.maximum(last, 0)], 0)
    closed_long = np.maximum.accumulate(np.where(xl & ~el, at, -1)) > last
    closed_short = np.maximum.accumulate(np.where(xs & ~es, at, -1)) > last
    pos = np.where(((side > 0) & closed_long) | ((side < 0) & closed_short), 0, side)
    changed = np.flatnonzero(pos != np.concatenate(([0], pos[:-1])))
    return (changed + start).astype(np.int64), pos[changed].astype(np.int64)


def _windows(fill: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every candle of every trade's window [fill, end): (the trade, the candle index)."""
    lengths = ends - fill
    tid = np.repeat(np.arange(len(fill)), lengths)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return tid, fill[tid] + (np.arange(len(tid)) - first)


def simulate_decisions(
    m: Market, decided: np.ndarray, want: np.ndarray, stake: float, leverage: int, sl: float, tp: float
) -> Raw:
    """The trades of a sequence of decisions (candle index, the position it wants: +1, -1,
    0 to close), each filled at the next candle's open; a trade lasts until the next
    decision's fill, a stop, a take or the end."""
    n = m.n
    ends_all = np.append(decided[1:] + 1, n)
    trade = (want != 0) & (decided <= n - 2)
    fill = decided[trade] + 1
    K = len(fill)
    if K == 0:
        return _flat(m)
    sd = want[trade]
    ends = ends_all[trade]  # exclusive: the candle whose open closes it
    open_u = m.open_u[fill]
    entry_u = slip(open_u, sd > 0, m)  # sized at the open, filled slipped (the broker's order)
    stake_d = Decimal(repr(float(stake)))
    a = _places(stake_d)
    numer = _units(stake_d, a, "stake") * int(leverage) * 10 ** (m.D + m.Q)
    if numer >= I64_SAFE:
        raise Unsupported("stake too large for exact integer arithmetic")
    q_u = numer // (open_u * (10**a * m.step_u)) * m.step_u
    notional = q_u * entry_u  # units 10^-(Q+D)
    if int(notional.max()) * max(m.fee_num, 1) * 10 ** max(0, m.M - m.Q - m.D) >= I64_SAFE:
        raise Unsupported("position too large for exact integer arithmetic")
    if (q_u < m.min_qty_u).any() or (q_u > m.max_qty_u).any() or (notional < m.min_notional_u).any():
        raise Unsupported("the broker would refuse an order (LOT_SIZE or MIN_NOTIONAL)")

    exit_at = np.where(ends <= n - 1, ends, n)  # n: still open at the end
    exit_u = m.open_u[np.minimum(exit_at, n - 1)]
    if sl or tp:
        _exits(m, fill, ends, sd, entry_u, Decimal(repr(float(sl))), Decimal(repr(float(tp))), exit_at, exit_u)
    if m.brackets:
        no_liquidation(m, fill, ends, sd, q_u, entry_u, int(leverage), exit_at)
    closed = exit_at < n
    if m.exit_at_end and not closed[-1]:  # --exit-at-end: at the last close, a market order
        closed = closed.copy()
        closed[-1] = True
        exit_u[-1] = m.close_u[n - 1]  # type: ignore[index]
    exit_u = np.where(closed, slip(exit_u, sd < 0, m), exit_u)
    scale = 10 ** (m.M - m.Q - m.D)
    gross = (exit_u - entry_u) * q_u * sd * scale
    fee_in = _fee(notional, m)
    fee_out = np.where(closed, _fee(q_u * exit_u, m), 0)
    fund_u, fund_j, fund_amt = funding_payments(m, fill, exit_at, sd, q_u)
    net = np.where(closed, gross - fee_in - fee_out + fund_u, 0)
    stake_u = _units(stake_d, m.M, "stake")
    before = m.balance_u + np.concatenate(([0], np.cumsum(net[:-1])))
    if (before < stake_u).any():
        raise Unsupported("the paper wallet could not margin a stake")

    flow = np.zeros(n + 1, dtype=np.int64)
    np.add.at(flow, fill, -fee_in)
    np.add.at(flow, np.minimum(exit_at, n - 1)[closed], gross[closed] - fee_out[closed])
    np.add.at(flow, fund_j, fund_amt)
    balance_f = (m.balance_u + np.cumsum(flow[:n])) / 10.0**m.M
    tid, j = _windows(fill, ends)
    held = j < exit_at[tid]
    qty_f = sd * q_u / 10.0**m.Q
    equity = balance_f.copy()
    entry_f = entry_u / 10.0**m.D
    jh, th = j[held], tid[held]
    equity[jh] = equity[jh] + (m.close_f[jh] - entry_f[th]) * qty_f[th]
    fees_u = int(fee_in.sum() + fee_out.sum())
    final_u = m.balance_u + int(net.sum()) - int(fee_in[~closed].sum()) + int(fund_u[~closed].sum())
    if exit_at[-1] >= n and closed[-1]:  # exited at the end: the last mark is the wallet
        equity[-1] = final_u / 10.0**m.M
    dd, dd_pct = _drawdown(equity[m.warm :])
    last = float(equity[-1])
    return Raw(
        trades=int(closed.sum()), wins=int((net[closed] > 0).sum()), net_u=int(net.sum()),
        fees_u=fees_u, final_u=final_u, open_pnl=last - final_u / 10**m.M,
        max_drawdown=dd, max_drawdown_pct=dd_pct, exposed=int(held.sum()), last_equity=last,
        funding_u=int(fund_u.sum()),
    )


def _exits(
    m: Market, fill: np.ndarray, ends: np.ndarray, sd: np.ndarray, entry_u: np.ndarray,
    sl: Decimal, tp: Decimal, exit_at: np.ndarray, exit_u: np.ndarray,
) -> None:
    """First stop/take touch of each trade inside its own window, written into exit_at/exit_u."""
    K = len(fill)
    tid, j = _windows(fill, ends)
    lo, hi, op = m.low_f[j], m.high_f[j], m.open_f[j]
    long = sd[tid] > 0
    hit_s = np.zeros(len(tid), dtype=bool)
    hit_t = np.zeros(len(tid), dtype=bool)
    stop_u = take_u = np.zeros(K, dtype=np.int64)
    if sl:
        stop_u = _level(entry_u, sd, sl, -1, m)
        s = (stop_u / 10.0**m.D)[tid]
        hit_s = np.where(long, lo <= s, hi >= s)
    if tp:
        take_u = _level(entry_u, sd, tp, 1, m)
        t = (take_u / 10.0**m.D)[tid]
        hit_t = np.where(long, hi >= t, lo <= t)
    pos = np.flatnonzero(hit_s | hit_t)
    if not len(pos):
        return
    who = tid[pos]
    first = np.concatenate(([True], who[1:] != who[:-1]))
    pos, who = pos[first], who[first]
    is_stop = hit_s[pos]
    level_u = np.where(is_stop, stop_u[who], take_u[who])
    level_f = level_u / 10.0**m.D
    o, lg = op[pos], sd[who] > 0
    beyond = np.where(is_stop == lg, o <= level_f, o >= level_f)  # long stop / short take: below
    exit_at[who] = j[pos]
    exit_u[who] = np.where(beyond, m.open_u[j[pos]], level_u)


def _drawdown(equity: np.ndarray) -> tuple[float, float]:
    """compute_stats' loop: the largest drop from a running peak, and that drop in % of it."""
    if not len(equity):
        return 0.0, 0.0
    peak = np.maximum.accumulate(equity)
    drop = peak - equity
    k = int(np.argmax(drop))
    if not drop[k] > 0.0:
        return 0.0, 0.0
    return float(drop[k]), (100.0 * float(drop[k]) / float(peak[k]) if peak[k] > 0 else 0.0)


def _flat(m: Market) -> Raw:
    b = m.balance_u / 10**m.M
    return Raw(0, 0, 0, 0, m.balance_u, 0.0, 0.0, 0.0, 0, b)
