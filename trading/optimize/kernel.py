"""The grid's compiled position simulator (numba): one cell's whole run, candle by candle,
in the trader's order, for thousands of cells a second.

Why a loop again, after fast.py's arrays? fast.py finds every trade's window by array
compares, which is exact only while nothing but the signals moves the position, so a
liquidation, a DataFrame strategy with a stop, a refused order or the RSI filter sent a
cell to the shared backtest. A loop compiled by numba walks each candle the way
trading/core/trader.py's `on_candle` does (1. funding due at the open on the position held
into it, 2. the orders decided on the previous candle fill at this open, 3. liquidation,
stop-loss, take-profit against the low/high, 4. the equity mark at the close, 5. the
strategy decides with the position after its exits), so every one of those is modelled,
in a few ns a candle.

Exact as fast.py: money and prices in integer units of the candles' and the symbol's own
decimals (int64, every product checked below 2^62, else the cell says so and runs the
shared backtest), rounded where the broker, the exits, PaperMargin and the portfolio round
(the step floor, fees and funding half-up to 8 decimals, slippage and the exit levels to
the tick, the liquidation price to the tick from the exact rational, the clearance fee
half-even to 8 decimals); floats only where the trader compares or marks in float (the
candle's low/high against a level, the equity mark, the drawdown), with the same float
operations in the same order.

What it models: next-open fills, the opposite signal closing and reversing, quantity
floored to the step, LOT_SIZE / MIN_NOTIONAL / margin refusals (the order is not filled,
as the paper broker refuses it), fees, slippage, funding at its times, stop-loss and
take-profit (stop first, a gap fills at the open), isolated liquidation from the brackets
(before a farther stop, its clearance fee an other charge), `--exit-at-end`, ema_cross with
or without the RSI filter, and any DataFrame strategy's four signal columns read against
the position (frame.py's `decide`). Not here: the account protections and Hedge Mode
(trading/optimize/__init__.py sends those cells to the shared backtest and says so).

Status per cell: 0 ok; OVERFLOW (a product would not fit in int64); AMBIGUOUS (a
liquidation price exactly on a tick from an inexact margin, or a bracket choice within
1e-9 of a boundary: where Decimal's 28 digits could decide otherwise). Those cells run the
shared backtest.

The file is over 400 lines because one cell's run is one compiled loop, kept in the
trader's order so it reads top to bottom beside trading/core/trader.py's `on_candle`.

Compiled once per machine: `cache=True` keeps the machine code in __pycache__ beside this
file (or, where that is read-only, in numba's user-wide cache, NUMBA_CACHE_DIR), so a
second process loads it instead of compiling (see docs/benchmarks.md for both costs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

I64_SAFE = 2**62
OK, OVERFLOW, AMBIGUOUS = 0, 1, 2
NONE = 9  # no pending order

# market constants, by index into the int64 vector `mk`
(MK_N, MK_WARM, MK_D, MK_Q, MK_M, MK_F, MK_FEE, MK_TICK, MK_STEP, MK_MINQ, MK_MAXQ, MK_MINN, MK_BAL, MK_SLIP,
 MK_S, MK_END, MK_R, MK_K, MK_NB) = range(19)
MK_SIZE = 19
# per-cell integers
(C_KIND, C_A, C_B, C_RSI, C_START, C_NUMER, C_DENF, C_STAKE, C_LEV, C_SLN, C_SLH, C_TPN, C_TPH) = range(13)
C_SIZE = 13
KIND_EMA, KIND_FRAME = 0, 1
# per-cell outputs
(O_STATUS, O_TRADES, O_WINS, O_LIQS, O_EXPOSED, O_FEES, O_FUNDING, O_CHARGES, O_GROSS, O_FINAL) = range(10)
O_SIZE = 10
(F_LAST, F_DD, F_DDPCT) = range(3)
F_SIZE = 3


@njit(cache=True, nogil=True)
def ema_rows(closes, spans, out):
    """EmaCross's update `e += a * (close - e)` seeded with the first close, per span (bit for bit)."""
    n = closes.shape[0]
    for r in range(spans.shape[0]):
        a = 2.0 / (spans[r] + 1)
        e = closes[0]
        out[r, 0] = e
        for i in range(1, n):
            e = e + a * (closes[i] - e)
            out[r, i] = e


@njit(cache=True, nogil=True)
def rsi_rows(closes, periods, out):
    """EmaCross's RSI filter (Wilder's, as its `_update_rsi` and `rsi()`), NaN before it has a value."""
    n = closes.shape[0]
    for r in range(periods.shape[0]):
        a = 1.0 / periods[r]
        out[r, 0] = np.nan
        g = 0.0
        lo = 0.0
        for i in range(1, n):
            change = closes[i] - closes[i - 1]
            if change > 0:
                gain, loss = change, 0.0
            else:
                gain, loss = 0.0, -change
            if i == 1:
                g, lo = gain, loss
            else:
                g = g + a * (gain - g)
                lo = lo + a * (loss - lo)
            if lo == 0.0:
                out[r, i] = 100.0 if g > 0 else 50.0
            else:
                out[r, i] = 100.0 - 100.0 / (1.0 + g / lo)


@njit(cache=True, nogil=True)
def _round8(x, places):
    """x ≥ 0 in units of 10^-places, half-up to 8 decimals (units of 10^-8)."""
    if places <= 8:
        return x * 10 ** (8 - places)
    div = 10 ** (places - 8)
    return (2 * x + div) // (2 * div)


@njit(cache=True, nogil=True)
def _slip(price_u, buy, slip_num, S, tick_u):
    if slip_num == 0:
        return price_u
    den = 10_000 * 10**S
    if buy:
        num = price_u * (den + slip_num)
        return -((-num) // (den * tick_u)) * tick_u
    num = price_u * (den - slip_num)
    return (num // (den * tick_u)) * tick_u


@njit(cache=True, nogil=True)
def _level(entry_u, side, pnum, hundred, sign, tick_u):
    """exit_level: entry × (1 ± pct/100) on the tick toward the entry."""
    num = entry_u * (hundred + sign * side * pnum)
    den = hundred * tick_u
    if sign * side > 0:  # above the entry: down
        return (num // den) * tick_u
    return -((-num) // den) * tick_u


@njit(cache=True, nogil=True)
def _finite(x, d):
    """x / d has a finite decimal expansion (Decimal computes it exactly)."""
    a, b = x, d
    while b:
        a, b = b, a % b
    r = d // a
    while r % 2 == 0:
        r //= 2
    while r % 5 == 0:
        r //= 5
    return r == 1


@njit(cache=True, nogil=True)
def _liquidation(side, q_u, e_u, lev, mk, br_f, br_i):
    """PaperMargin.on_open → futures.liquidation_price: (price in units, status); 0: none."""
    D, Q, K, tick_u = mk[MK_D], mk[MK_Q], mk[MK_K], mk[MK_TICK]
    xn = q_u * e_u  # notional, units 10^-P
    tenK = 10**K
    if xn >= I64_SAFE // (2 * (lev + 1) * tenK) or q_u >= I64_SAFE // (2 * lev * tenK * tick_u):
        return 0, OVERFLOW
    q = q_u / 10.0**Q
    e = e_u / 10.0**D
    margin = q * e / lev
    nb = mk[MK_NB]
    chosen = -1
    for b in range(nb):
        lp = (margin + br_f[b, 3] - side * q * e) / (q * br_f[b, 2] - side * q)
        if lp > 0:
            ql = q * lp
            lo, hi = br_f[b, 0], br_f[b, 1]
            if abs(ql - lo) <= 1e-9 * max(lo, 1.0) or abs(ql - hi) <= 1e-9 * hi:
                return 0, AMBIGUOUS
            if lo <= ql < hi:
                chosen = b
                break
    if chosen < 0:  # the level at entry
        chosen = nb - 1
        for b in range(nb):
            if xn < br_i[b, 2]:  # cap × 10^P
                chosen = b
                break
    mmr_n, cum_p = br_i[chosen, 0], br_i[chosen, 1]
    if abs(cum_p) >= I64_SAFE // (2 * (lev + 1) * tenK):
        return 0, OVERFLOW
    # LP / tick = (xn + L·cum − s·L·xn)·10^K / (L·q·(mmr − s·10^K)·tick)
    num = (xn + lev * cum_p - side * lev * xn) * tenK
    den = lev * q_u * (mmr_n - side * tenK) * tick_u
    if den < 0:
        num, den = -num, -den
    if num <= 0:
        return 0, OK  # never reached (chosen ≤ 0)
    if num % den == 0 and not _finite(xn, lev):
        return 0, AMBIGUOUS  # on a tick exactly, from a margin Decimal rounds to 28 digits
    ticks = -((-num) // den) if side > 0 else num // den
    return ticks * tick_u, OK


@njit(cache=True, nogil=True)
def _book_close(price_u, pos, e_u, q_u, up, fee_num, places, up8, slip_num, S, tick_u,
                bal, fees, gross_all, t_pnl, trades, wins, max_bal):
    """The whole position closed by a market order at price_u (the open for the opposite
    signal, a stop's or a take-profit's level or the open it gapped to), slipped against the
    position, booked as the portfolio books it: the gross PnL and the taker fee (half-up to 8
    decimals) into the wallet and the trade, one more trade and maybe a win. Returns the new
    (bal, fees, gross_all, t_pnl, trades, wins, max_bal); the caller then marks the book flat."""
    px = _slip(price_u, pos < 0, slip_num, S, tick_u)
    g = (px - e_u) * q_u * pos * up
    fee = _round8(q_u * px * fee_num, places) * up8
    bal += g - fee
    t_pnl += g - fee
    if abs(bal) > max_bal:
        max_bal = abs(bal)
    return bal, fees + fee, gross_all + g, t_pnl, trades + 1, wins + (t_pnl > 0), max_bal


@njit(cache=True, nogil=True)
def run_cells(lo_cell, hi_cell, ci, cf, emas, rsis, sigs, open_u, close_u, open_f, high_f, low_f, close_f,
              fund, mk, br_f, br_i, out_i, out_f):
    n, warm = mk[MK_N], mk[MK_WARM]
    D, Q, M, F = mk[MK_D], mk[MK_Q], mk[MK_M], mk[MK_F]
    fee_num, tick_u = mk[MK_FEE], mk[MK_TICK]
    step_u, min_q, max_q, min_n = mk[MK_STEP], mk[MK_MINQ], mk[MK_MAXQ], mk[MK_MINN]
    slip_num, S, R = mk[MK_SLIP], mk[MK_S], mk[MK_R]
    P = Q + D
    up = 10 ** (M - P)  # units 10^-P → 10^-M
    up8 = 10 ** (M - 8)
    pscale = 10.0**D
    qscale = 10.0**Q
    mscale = 10.0**M
    has_br = mk[MK_NB] > 0
    fee_lim = I64_SAFE // max(fee_num, 1)
    f53 = 2**53
    has_fund = False
    for i in range(fund.shape[0]):
        if fund[i] != 0:
            has_fund = True
            break
    for c in range(lo_cell, hi_cell):
        kind, ra, rb, rr, start = ci[c, C_KIND], ci[c, C_A], ci[c, C_B], ci[c, C_RSI], ci[c, C_START]
        numer, denf, stake_u, lev = ci[c, C_NUMER], ci[c, C_DENF], ci[c, C_STAKE], ci[c, C_LEV]
        sl_n, sl_h, tp_n, tp_h = ci[c, C_SLN], ci[c, C_SLH], ci[c, C_TPN], ci[c, C_TPH]
        overbought, oversold = cf[c, 0], cf[c, 1]
        status = OK
        bal = mk[MK_BAL]
        fees = funding = charges = gross_all = 0
        trades = wins = liqs = exposed = 0
        pos = 0
        q_u = e_u = 0
        xn = 0
        stop_u = take_u = liq_u = 0
        stop_f = take_f = liq_f = 0.0
        qty_f = entry_f = 0.0
        t_pnl = 0  # the trade in progress: gross − fees + funding (ClosedTrade.pnl)
        pend = NONE
        lo_trig, hi_trig = -np.inf, np.inf
        peak = -np.inf
        dd = 0.0
        dd_pct = 0.0
        bal_f = bal / mscale
        max_bal = abs(bal)
        last_eq = bal_f
        ea = emas[ra if kind == KIND_EMA else 0]
        eb = emas[rb if kind == KIND_EMA else 0]
        sg = sigs[ra if kind == KIND_FRAME else 0]
        prev_diff = ea[warm - 1] - eb[warm - 1] if kind == KIND_EMA and warm > 0 else 0.0
        last_i = n - 1 if mk[MK_END] else n  # with --exit-at-end the last mark is the wallet's (after the loop)
        for i in range(warm, n):
            # 1. funding at this open, on the position held into it
            rate = fund[i] if has_fund else 0
            if rate != 0 and pos != 0:
                x = q_u * open_u[i]
                if x >= I64_SAFE // (2 * abs(rate)):
                    status = OVERFLOW
                    break
                a8 = _round8(x * abs(rate), P + R)
                amount = -pos * (1 if rate > 0 else -1) * a8 * up8
                bal += amount
                funding += amount
                t_pnl += amount
                bal_f = bal / mscale
                if abs(bal) > max_bal:
                    max_bal = abs(bal)
            # 2. the orders decided on the previous candle, at this open
            if pend != NONE:
                want = pend
                pend = NONE
                if pos != 0 and pos != want:  # close (reduce-only: never refused)
                    bal, fees, gross_all, t_pnl, trades, wins, max_bal = _book_close(
                        open_u[i], pos, e_u, q_u, up, fee_num, P + F, up8, slip_num, S, tick_u,
                        bal, fees, gross_all, t_pnl, trades, wins, max_bal)
                    pos = 0
                    qty_f = 0.0
                    stop_u = take_u = liq_u = 0
                    stop_f = take_f = liq_f = 0.0
                    lo_trig, hi_trig = -np.inf, np.inf
                    bal_f = bal / mscale
                if want != 0 and pos == 0:  # open, sized at the open, filled slipped
                    o = open_u[i]
                    if o * denf >= I64_SAFE:
                        status = OVERFLOW
                        break
                    q = numer // (o * denf) * step_u
                    px = _slip(o, want > 0, slip_num, S, tick_u)
                    notional = q * px
                    if q <= 0 or q < min_q or q > max_q or notional < min_n or stake_u > bal:
                        pass  # refused (LOT_SIZE, MIN_NOTIONAL, insufficient margin): nothing filled
                    elif notional >= fee_lim or notional * up >= I64_SAFE // 4:
                        status = OVERFLOW
                        break
                    else:
                        fee = _round8(notional * fee_num, P + F) * up8
                        bal -= fee
                        fees += fee
                        t_pnl = -fee
                        pos, q_u, e_u, xn = want, q, px, notional
                        qty_f = pos * q_u / qscale
                        entry_f = e_u / pscale
                        bal_f = bal / mscale
                        if abs(bal) > max_bal:
                            max_bal = abs(bal)
                        if sl_n:
                            stop_u = _level(e_u, pos, sl_n, sl_h, -1, tick_u)
                            stop_f = stop_u / pscale
                        if tp_n:
                            take_u = _level(e_u, pos, tp_n, tp_h, 1, tick_u)
                            take_f = take_u / pscale
                        if has_br:
                            liq_u, st = _liquidation(pos, q_u, e_u, lev, mk, br_f, br_i)
                            if st != OK:
                                status = st
                                break
                            liq_f = liq_u / pscale
                        # the candle range that reaches a level: below lo_trig or above hi_trig
                        if pos > 0:
                            lo_trig = max(liq_f if liq_u else -np.inf, stop_f if stop_u else -np.inf)
                            hi_trig = take_f if take_u else np.inf
                        else:
                            hi_trig = min(liq_f if liq_u else np.inf, stop_f if stop_u else np.inf)
                            lo_trig = take_f if take_u else -np.inf
            # 3. liquidation, stop-loss, take-profit against this candle
            lw, hg = low_f[i], high_f[i]
            if lw <= lo_trig or hg >= hi_trig:  # a level of the position is within the candle's range
                long = pos > 0
                op = open_f[i]
                exit_px = -1
                liquidated = False
                if liq_u and (lw <= liq_f if long else hg >= liq_f):  # PaperMargin.first
                    if op <= liq_f if long else op >= liq_f:
                        liquidated = True
                    else:
                        stop_hit = stop_u != 0 and (lw <= stop_f if long else hg >= stop_f)
                        liquidated = not (stop_hit and (stop_f >= liq_f if long else stop_f <= liq_f))
                if liquidated:
                    g = (liq_u - e_u) * q_u * pos * up
                    bal += g
                    gross_all += g
                    t_pnl += g
                    # what is left of the margin (xn / L) after the loss: the clearance fee, half-even
                    left = xn + lev * pos * q_u * (liq_u - e_u)  # units 10^-P / L
                    if left > 0:
                        if P <= 8:
                            num8, den8 = left * 10 ** (8 - P), lev
                        else:
                            num8, den8 = left, lev * 10 ** (P - 8)
                        qd, rem = num8 // den8, num8 % den8
                        if 2 * rem > den8 or (2 * rem == den8 and qd % 2 == 1):
                            qd += 1
                        clear = qd * up8
                        bal -= clear
                        charges += clear
                        t_pnl -= clear
                    trades += 1
                    liqs += 1
                    wins += t_pnl > 0
                    pos = 0
                    qty_f = 0.0
                    stop_u = take_u = liq_u = 0
                    stop_f = take_f = liq_f = 0.0
                    lo_trig, hi_trig = -np.inf, np.inf
                    bal_f = bal / mscale
                    if abs(bal) > max_bal:
                        max_bal = abs(bal)
                else:
                    if stop_u and (lw <= stop_f if long else hg >= stop_f):
                        exit_px = open_u[i] if (op <= stop_f if long else op >= stop_f) else stop_u
                    elif take_u and (hg >= take_f if long else lw <= take_f):
                        exit_px = open_u[i] if (op >= take_f if long else op <= take_f) else take_u
                    if exit_px >= 0:
                        bal, fees, gross_all, t_pnl, trades, wins, max_bal = _book_close(
                            exit_px, pos, e_u, q_u, up, fee_num, P + F, up8, slip_num, S, tick_u,
                            bal, fees, gross_all, t_pnl, trades, wins, max_bal)
                        pos = 0
                        qty_f = 0.0
                        stop_u = take_u = liq_u = 0
                        stop_f = take_f = liq_f = 0.0
                        lo_trig, hi_trig = -np.inf, np.inf
                        bal_f = bal / mscale
            # 4. the equity mark at the close (the recorder), the drawdown as compute_stats walks it
            exposed += qty_f != 0.0
            eq = bal_f + (close_f[i] - entry_f) * qty_f  # flat: qty_f = 0.0 and eq = bal_f exactly
            last_eq = eq
            if i < last_i or pos == 0:
                if eq > peak:
                    peak = eq
                drop = peak - eq
                if drop > dd:
                    dd = drop
                    dd_pct = 100.0 * drop / peak if peak > 0 else 0.0
            # 5. the strategy decides, with the position after its exits
            if kind == KIND_EMA:
                diff = ea[i] - eb[i]
                if i >= start:
                    want = NONE
                    if prev_diff <= 0.0 < diff:
                        want = 1
                    elif prev_diff >= 0.0 > diff:
                        want = -1
                    if want != NONE and pos != want:
                        if rr >= 0:
                            r = rsis[rr, i]
                            if (want > 0 and r > overbought) or (want < 0 and r < oversold):
                                want = 0 if pos == -want else NONE
                        if want != NONE:
                            pend = want
                prev_diff = diff
            elif i >= start:
                bits = sg[i]
                el, xl, es, xs = (bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, (bits & 8) != 0
                go_long = el and not (xl or es)
                go_short = es and not (xs or el)
                if pos > 0:
                    if go_short:
                        pend = -1
                    elif xl and not el:
                        pend = 0
                elif pos < 0:
                    if go_long:
                        pend = 1
                    elif xs and not es:
                        pend = 0
                elif go_long:
                    pend = 1
                elif go_short:
                    pend = -1
        if status == OK and mk[MK_END] and pos != 0 and n > warm:  # --exit-at-end: at the last close
            px = _slip(close_u[n - 1], pos < 0, slip_num, S, tick_u)
            g = (px - e_u) * q_u * pos * up
            fee = _round8(q_u * px * fee_num, P + F) * up8
            bal += g - fee
            fees += fee
            gross_all += g
            t_pnl += g - fee
            trades += 1
            wins += t_pnl > 0
            pos = 0
            last_eq = bal / mscale
            if last_eq > peak:
                peak = last_eq
            drop = peak - last_eq
            if drop > dd:
                dd = drop
                dd_pct = 100.0 * drop / peak if peak > 0 else 0.0
        if bal >= f53 or bal <= -f53 or max_bal >= f53:
            status = OVERFLOW  # the wallet as a float mark would not be float(Decimal) exactly
        out_i[c, O_STATUS] = status
        out_i[c, O_TRADES] = trades
        out_i[c, O_WINS] = wins
        out_i[c, O_LIQS] = liqs
        out_i[c, O_EXPOSED] = exposed
        out_i[c, O_FEES] = fees
        out_i[c, O_FUNDING] = funding
        out_i[c, O_CHARGES] = charges
        out_i[c, O_GROSS] = gross_all
        out_i[c, O_FINAL] = bal
        out_f[c, F_LAST] = last_eq
        out_f[c, F_DD] = dd
        out_f[c, F_DDPCT] = dd_pct
