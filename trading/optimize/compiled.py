"""The grid's cells through the compiled simulator (trading/optimize/kernel.py): the market
and each cell as integer arrays, the signals computed once per set of signal values, the
cells in chunks across threads (the kernel releases the GIL), and each cell's outcome as
fast.Raw, or the reason it needs the shared backtest.

numba is optional: `available()` is False when it cannot be imported (or TGTRADER_NUMBA=0),
and the sweep then takes the numpy path (fast.py, fast_grid.py) as before.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np

from trading.core.futures import Bracket
from trading.core.strategies import Values
from trading.optimize import fast
from trading.optimize.fast_futures import I64_SAFE, Unsupported, places


def _load_kernel():  # type: ignore[no-untyped-def]
    """kernel.py compiled (or loaded from numba's cache); None without numba. numba caches
    in __pycache__ beside kernel.py, else in its user-wide cache (~/.cache/numba); where
    neither is writable (a read-only install run by a user without a home) it refuses to
    cache at all, so the temp directory holds the cache instead."""
    try:
        from trading.optimize import kernel
    except ImportError:  # numba is a grid-only accelerator: without it the numpy path runs
        return None
    except RuntimeError as e:
        if "cannot cache" not in str(e):
            raise
        import numba

        numba.config.CACHE_DIR = os.path.join(tempfile.gettempdir(), f"tgtrader-numba-{os.getuid()}")
        sys.modules.pop("trading.optimize.kernel", None)
        from trading.optimize import kernel
    return kernel


_kernel = _load_kernel()

CHUNK = 256  # cells per kernel call: the progress a grid reports, and what a thread takes at a time
STATUS = {1: "an amount too large for exact integer arithmetic",
          2: "a liquidation price Decimal's 28 digits could round otherwise (exactly on a tick or a bracket's edge)"}
Job = tuple[int, Values]


def available() -> bool:
    return _kernel is not None and os.environ.get("TGTRADER_NUMBA", "1") != "0"


def _units(value: Decimal, places_: int, what: str) -> int:
    scaled = value.scaleb(places_)
    if scaled != scaled.to_integral_value():
        raise Unsupported(f"{what} {value} has more than {places_} decimals")
    return int(scaled)


class Prepared:
    """The market's arrays in the kernel's layout (built once per sweep)."""

    def __init__(self, m: fast.Market, brackets: Sequence[Bracket]) -> None:
        k = _kernel
        assert k is not None
        self.m = m
        P = m.Q + m.D
        K = max((places(b.mmr) for b in brackets), default=0)
        mk = np.zeros(k.MK_SIZE, dtype=np.int64)
        for i, v in ((k.MK_N, m.n), (k.MK_WARM, m.warm), (k.MK_D, m.D), (k.MK_Q, m.Q), (k.MK_M, m.M), (k.MK_F, m.F),
                     (k.MK_FEE, m.fee_num), (k.MK_TICK, m.tick_u), (k.MK_STEP, m.step_u), (k.MK_MINQ, m.min_qty_u),
                     (k.MK_MAXQ, m.max_qty_u), (k.MK_MINN, m.min_notional_u), (k.MK_BAL, m.balance_u),
                     (k.MK_SLIP, m.slip_num), (k.MK_S, m.S), (k.MK_END, int(m.exit_at_end)), (k.MK_R, m.R),
                     (k.MK_K, K), (k.MK_NB, len(brackets))):
            mk[i] = v
        self.mk = mk
        nb = max(1, len(brackets))
        self.br_f = np.zeros((nb, 4))
        self.br_i = np.zeros((nb, 3), dtype=np.int64)
        for j, b in enumerate(brackets):
            self.br_f[j] = (float(b.floor), float(b.cap), float(b.mmr), float(b.cum))
            cap_p = b.cap.scaleb(P)
            self.br_i[j] = (_units(b.mmr, K, "a maintenance margin rate"), _units(b.cum, P, "a maintenance amount"),
                            int(min(cap_p, Decimal(I64_SAFE))))
        self.fund = np.zeros(m.n, dtype=np.int64)
        if m.fund_at is not None and m.fund_rate is not None:
            self.fund[m.fund_at] = m.fund_rate
        hi = int(max(m.open_u.max(initial=0), m.close_u.max(initial=0)))  # type: ignore[union-attr]
        self.price_hi = hi * 2  # with any slippage: a bound for the level and size products
        self.closes = np.asarray(m.close_f, dtype=np.float64)
        self._money: dict[tuple[object, ...], np.ndarray | str] = {}

    def cell(self, v: Values, kind: int, a: int, b: int, rsi: int, start: int) -> np.ndarray:
        """One cell's integers (kernel.C_*); Unsupported when a product could not stay exact."""
        k = _kernel
        assert k is not None
        key = (v["stake_usdt"], v["leverage"], v.get("stop_loss_pct", 0.0), v.get("take_profit_pct", 0.0))
        money = self._money.get(key)
        if money is None:
            try:
                money = self._money[key] = self._money_row(v)
            except Unsupported as e:
                money = self._money[key] = str(e)
        if isinstance(money, str):
            raise Unsupported(money)
        row = money.copy()
        row[k.C_KIND], row[k.C_A], row[k.C_B], row[k.C_RSI], row[k.C_START] = kind, a, b, rsi, start
        return row

    def _money_row(self, v: Values) -> np.ndarray:
        k, m = _kernel, self.m
        assert k is not None
        row = np.zeros(k.C_SIZE, dtype=np.int64)
        stake = Decimal(repr(float(v["stake_usdt"])))
        lev = int(v["leverage"])
        a_ = places(stake)
        numer = _units(stake, a_, "stake") * lev * 10 ** (m.D + m.Q)
        denf = 10**a_ * m.step_u
        if numer >= I64_SAFE or self.price_hi * denf >= I64_SAFE:
            raise Unsupported("stake too large for exact integer arithmetic")
        row[k.C_NUMER], row[k.C_DENF], row[k.C_LEV] = numer, denf, lev
        row[k.C_STAKE] = _units(stake, m.M, "stake")
        for name, cn, ch in (("stop_loss_pct", k.C_SLN, k.C_SLH), ("take_profit_pct", k.C_TPN, k.C_TPH)):
            pct = Decimal(repr(float(v.get(name, 0.0))))
            if not pct:
                continue
            p = places(pct)
            if p > 6:
                raise Unsupported(f"a stop/take percentage with more than 6 decimals ({pct})")
            hundred, num = 100 * 10**p, int(pct.scaleb(p))
            if self.price_hi * (hundred + num) * m.tick_u >= I64_SAFE:
                raise Unsupported("prices too large for exact stop/take levels")
            row[cn], row[ch] = num, hundred
        return row

    def run(self, ci: np.ndarray, cf: np.ndarray, emas: np.ndarray, rsis: np.ndarray,
            sigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, m = _kernel, self.m
        assert k is not None
        out_i = np.zeros((len(ci), k.O_SIZE), dtype=np.int64)
        out_f = np.zeros((len(ci), k.F_SIZE))
        k.run_cells(0, len(ci), ci, cf, emas, rsis, sigs, m.open_u, m.close_u, m.open_f, m.high_f, m.low_f,
                    m.close_f, self.fund, self.mk, self.br_f, self.br_i, out_i, out_f)
        return out_i, out_f

    def raw(self, oi: np.ndarray, of: np.ndarray) -> fast.Raw | str:
        k, m = _kernel, self.m
        assert k is not None
        status = int(oi[k.O_STATUS])
        if status:
            return STATUS[status]
        final = int(oi[k.O_FINAL])
        last = float(of[k.F_LAST])
        return fast.Raw(
            trades=int(oi[k.O_TRADES]), wins=int(oi[k.O_WINS]), net_u=final - m.balance_u, fees_u=int(oi[k.O_FEES]),
            final_u=final, open_pnl=last - final / 10**m.M, max_drawdown=float(of[k.F_DD]),
            max_drawdown_pct=float(of[k.F_DDPCT]), exposed=int(oi[k.O_EXPOSED]), last_equity=last,
            funding_u=int(oi[k.O_FUNDING]), charges_u=int(oi[k.O_CHARGES]), liquidations=int(oi[k.O_LIQS]),
            gross_u=int(oi[k.O_GROSS]),
        )


EMPTY_F = np.zeros((1, 1))
EMPTY_B = np.zeros((1, 1), dtype=np.uint8)


def ema_start(v: Values, decide_from: int | None, warm: int) -> int:
    """The first candle EmaCross decides on (its warm-up: three slow lengths, or the RSI's)."""
    rsi_n = int(v.get("rsi_period", 0))
    gate = 3 * max(int(v["slow"]), rsi_n + 1) if decide_from is None else max(0, decide_from)
    return max(gate, warm, 1)


def run_ema(prep: Prepared, jobs: Sequence[Job], workers: int, tick: Callable[[int], None]) -> dict[int, fast.Raw | str]:
    """ema_cross cells (with or without the RSI filter): every EMA span and RSI length of the
    grid computed once (rows split across the threads), then the cells in chunks."""
    k, m = _kernel, prep.m
    assert k is not None
    spans = sorted({int(v[p]) for _, v in jobs for p in ("fast", "slow")})
    periods = sorted({int(v.get("rsi_period", 0)) for _, v in jobs} - {0})
    row = {s: r for r, s in enumerate(spans)}
    rrow = {p: r for r, p in enumerate(periods)}
    out: dict[int, fast.Raw | str] = {}
    rows, floats, ids = [], [], []
    for i, v in jobs:
        rsi_n = int(v.get("rsi_period", 0))
        try:
            rows.append(prep.cell(v, k.KIND_EMA, row[int(v["fast"])], row[int(v["slow"])],
                                  rrow[rsi_n] if rsi_n else -1, ema_start(v, m.decide_from, m.warm)))
        except Unsupported as e:
            out[i] = str(e)
            continue
        floats.append((float(v.get("rsi_overbought", 70.0)), float(v.get("rsi_oversold", 30.0))))
        ids.append(i)
    if out:
        tick(len(out))
    if not ids:
        return out
    emas = np.empty((len(spans), m.n))
    rsis = np.empty((len(periods), m.n)) if periods else EMPTY_F
    span_arr, period_arr = np.array(spans, dtype=np.int64), np.array(periods, dtype=np.int64)
    parts = max(1, workers)

    def signals(w: int) -> None:
        a, b = len(spans) * w // parts, len(spans) * (w + 1) // parts
        k.ema_rows(prep.closes, span_arr[a:b], emas[a:b])
        if periods:
            a, b = len(periods) * w // parts, len(periods) * (w + 1) // parts
            k.rsi_rows(prep.closes, period_arr[a:b], rsis[a:b])

    ci, cf = np.array(rows), np.array(floats, dtype=np.float64)

    def one(lo: int) -> dict[int, fast.Raw | str]:
        hi = min(lo + CHUNK, len(ids))
        oi, of = prep.run(ci[lo:hi], cf[lo:hi], emas, rsis, EMPTY_B)
        return {ids[lo + r]: prep.raw(oi[r], of[r]) for r in range(hi - lo)}

    if parts > 1:
        with ThreadPoolExecutor(parts, thread_name_prefix="grid") as pool:
            list(pool.map(signals, range(parts)))
    else:
        signals(0)
    _map(one, range(0, len(ids), CHUNK), workers, out, tick)
    return out


def run_frames(prep: Prepared, signals: object, jobs: Sequence[Job], workers: int,
               tick: Callable[[int], None]) -> dict[int, fast.Raw | str]:
    """DataFrame-strategy cells (stops and takes included): each set of signal values'
    four columns packed in one byte a candle, the cells of up to CHUNK sets a kernel call."""
    k = _kernel
    assert k is not None
    from trading.optimize.fast_grid import FrameSignals

    assert isinstance(signals, FrameSignals)
    order = sorted(jobs, key=lambda j: signals.key(j[1]))
    out: dict[int, fast.Raw | str] = {}

    def chunks():  # built here (populate, TA-Lib: the GIL), simulated in the threads
        x = 0
        while x < len(order):
            row_of: dict[object, int] = {}
            start_of: dict[object, int] = {}
            failed: dict[object, str] = {}
            packed: list[np.ndarray] = []
            rows, ids, got = [], [], {}
            while x < len(order) and len(ids) + len(got) < CHUNK:
                i, v = order[x]
                x += 1
                key = signals.key(v)
                if key not in row_of and key not in failed:
                    raw = signals.raw(v)
                    if isinstance(raw, str):
                        failed[key] = raw
                    else:
                        row_of[key], start_of[key] = len(packed), raw[1]
                        packed.append(_pack(raw[0]))
                if key in failed:
                    got[i] = failed[key]
                    continue
                try:
                    rows.append(prep.cell(v, k.KIND_FRAME, row_of[key], 0, -1, start_of[key]))
                except Unsupported as e:
                    got[i] = str(e)
                    continue
                ids.append(i)
            yield rows, ids, got, packed

    def one(item) -> dict[int, fast.Raw | str]:  # type: ignore[no-untyped-def]
        rows, ids, got, packed = item
        if ids:
            oi, of = prep.run(np.array(rows), np.zeros((len(ids), 2)), EMPTY_F, EMPTY_F, np.stack(packed))
            for r, i in enumerate(ids):
                got[i] = prep.raw(oi[r], of[r])
        return got

    _map(one, chunks(), workers, out, tick)
    return out


def _pack(raw: np.ndarray) -> np.ndarray:
    """k×4 signals (1.0 set) → one byte a candle: enter_long 1, exit_long 2, enter_short 4, exit_short 8."""
    bits = (raw == 1.0).astype(np.uint8)
    return bits[:, 0] | (bits[:, 1] << 1) | (bits[:, 2] << 2) | (bits[:, 3] << 3)


def _map(fn, items, workers: int, out: dict, tick: Callable[[int], None]) -> None:  # type: ignore[no-untyped-def,type-arg]
    if workers <= 1:
        for item in items:
            got = fn(item)
            out.update(got)
            tick(len(got))
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="grid") as pool:
        for got in pool.map(fn, items):
            out.update(got)
            tick(len(got))
