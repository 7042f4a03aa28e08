"""ema_cross, the default strategy: long on the EMA(fast)/EMA(slow) up-cross, short on the
down-cross; the opposite cross closes and reverses. An optional RSI filter blocks entries
into an overbought long or an oversold short (the cross then only closes).

The EMAs equal pandas' `ewm(span=n, adjust=False).mean()` over the candles seen (seeded
with the first close), updated once per candle and never recomputed. The RSI is Wilder's,
as `ewm(alpha=1/n, adjust=False)` of the gains and losses. Stops, take-profits, sizing
and leverage are parameters here but are applied by the trader and the broker.

`on_candle_run` takes every closed candle of every backtest (on_candle is it with one candle), so it
is written for speed: locals, no allocation unless it decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from trading.core.candles import Candle
from trading.core.strategies.base import CLOSE, LONG, SHORT, Decision
from trading.core.strategies.ladder import Ladder
from trading.core.strategies.params import Param, Schema, Values


def _fast_below_slow(v: dict[str, int | float]) -> str | None:
    if v["fast"] >= v["slow"]:
        return f"fast ({v['fast']}) must be smaller than slow ({v['slow']})"
    return None


def _rsi_bounds(v: dict[str, int | float]) -> str | None:
    if v["rsi_oversold"] >= v["rsi_overbought"]:
        return f"rsi_oversold ({v['rsi_oversold']:g}) must be below rsi_overbought ({v['rsi_overbought']:g})"
    return None


SCHEMA = Schema(
    (
        Param("fast", int, 12, 2, 200, "fast EMA length (candles)"),
        Param("slow", int, 26, 3, 500, "slow EMA length (candles); must exceed fast"),
        Param("stake_usdt", float, 100.0, 1.0, 1_000_000.0, "margin per trade in USDT"),
        Param("leverage", int, 3, 1, 125, "position size = stake_usdt × leverage"),
        Param("stop_loss_pct", float, 0.0, 0.0, 50.0, "stop-loss distance from entry, % (0 = off)"),
        Param("take_profit_pct", float, 0.0, 0.0, 500.0, "take-profit distance from entry, % (0 = off)"),
        Param("trailing_stop_pct", float, 0.0, 0.0, 10.0, "trailing stop: callback from the best price since activation, % (0 = off; 0.1–10, Binance's callbackRate)"),
        Param("trailing_activation_pct", float, 0.0, 0.0, 500.0, "the trailing stop activates this % beyond the entry (0 = at once)"),
        Param("take_profit", Ladder, "0", 0, 0, "take-profit ladder: distance:share,… e.g. 1.5:50,3:50 closes 50 % at +1.5 % and the rest at +3 % (0 = off; one level, e.g. 3, is take_profit_pct=3)"),
        Param("breakeven_after", int, 0, 0, 4, "with a ladder: once this level fills, the stop moves to the entry plus fees (0 = off)"),
        Param("rsi_period", int, 0, 0, 100, "RSI filter length (0 = off)"),
        Param("rsi_overbought", float, 70.0, 1.0, 99.0, "with the RSI filter: no new long above this"),
        Param("rsi_oversold", float, 30.0, 1.0, 99.0, "with the RSI filter: no new short below this"),
    ),
    rules=(_fast_below_slow, _rsi_bounds),
)


class EmaCross:
    name: ClassVar[str] = "ema_cross"
    schema: ClassVar[Schema] = SCHEMA

    def __init__(self, values: Values | None = None, warmup: int | None = None) -> None:
        """`warmup` replaces the default of three slow lengths (a backtest's --warmup)."""
        self.values: Values = SCHEMA.validate({}, values or {})
        v = self.values
        self.fast, self.slow = int(v["fast"]), int(v["slow"])
        self._af = 2.0 / (self.fast + 1)
        self._as = 2.0 / (self.slow + 1)
        self._rsi_n = int(v["rsi_period"])
        self._rsi_a = 1.0 / self._rsi_n if self._rsi_n else 0.0
        self._overbought = float(v["rsi_overbought"])
        self._oversold = float(v["rsi_oversold"])
        self._warmup = 3 * max(self.slow, self._rsi_n + 1) if warmup is None else max(0, warmup)
        self.ema_fast: float | None = None
        self.ema_slow: float | None = None
        self._diff: float | None = None
        self._prev_close: float | None = None
        self._gain: float | None = None
        self._loss: float | None = None
        self.seen = 0

    @property
    def warmup(self) -> int:
        """Three slow lengths: the seed's weight in the EMA has decayed below 0.3 % by then."""
        return self._warmup

    def rsi(self) -> float | None:
        if self._gain is None or self._loss is None:
            return None
        if self._loss == 0.0:
            return 100.0 if self._gain > 0 else 50.0
        return 100.0 - 100.0 / (1.0 + self._gain / self._loss)

    def indicators(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.ema_fast is not None and self.ema_slow is not None:
            out[f"ema{self.fast}"] = self.ema_fast
            out[f"ema{self.slow}"] = self.ema_slow
        r = self.rsi() if self._rsi_n else None
        if r is not None:
            out[f"rsi{self._rsi_n}"] = r
        return out

    def on_candle(self, candle: Candle, position: int) -> Decision | None:
        return self.on_candle_run((candle,), 0, 1, position)[1]

    def on_candle_run(self, candles: Sequence[Candle], start: int, stop: int, position: int) -> tuple[int, Decision | None]:
        """Take candles[start:stop] in, in order, as on_candle would one at a time with
        `position` held throughout, up to the first that decides: (its index, the decision),
        or (stop, None). on_candle is this with one candle; the trader hands it a quiet
        stretch of a backtest (no order pending, no level the candles reach) at once."""
        af, as_, warmup, rsi_n = self._af, self._as, self._warmup, self._rsi_n
        ef, es, diff, seen = self.ema_fast, self.ema_slow, self._diff, self.seen
        if not rsi_n and diff is not None and seen >= warmup:
            return self._warm_run(candles, start, stop, position)
        decision = None
        try:
            for i in range(start, stop):
                close = candles[i].close
                if ef is None:
                    ef = es = close
                else:
                    ef += af * (close - ef)
                    es += as_ * (close - es)  # type: ignore[operator]
                if rsi_n:
                    self._update_rsi(close)
                prev, diff = diff, ef - es  # type: ignore[operator]
                seen += 1
                if prev is not None and seen > warmup:
                    if prev <= 0.0 < diff:
                        decision = self._cross(LONG, position, ef, es)  # type: ignore[arg-type]
                    elif prev >= 0.0 > diff:
                        decision = self._cross(SHORT, position, ef, es)  # type: ignore[arg-type]
                    if decision is not None:
                        return i, decision
            return stop, None
        finally:
            self.ema_fast, self.ema_slow, self._diff, self.seen = ef, es, diff, seen

    def _warm_run(self, candles: Sequence[Candle], start: int, stop: int, position: int) -> tuple[int, Decision | None]:
        """on_candle_run once warmed up without the RSI filter (the backtest's nearly every
        candle): the same EMA updates and cross test, without the steps that are settled by
        then (the seed, the warm-up count, the RSI), which are a fifth of the loop's time."""
        af, as_, ef, es, diff = self._af, self._as, self.ema_fast, self.ema_slow, self._diff
        assert ef is not None and es is not None and diff is not None
        try:
            for i in range(start, stop):
                close = candles[i].close
                ef += af * (close - ef)
                es += as_ * (close - es)
                prev, diff = diff, ef - es
                if (prev <= 0.0 < diff or prev >= 0.0 > diff) and (
                        decision := self._cross(LONG if diff > 0.0 else SHORT, position, ef, es)) is not None:
                    self.seen += i + 1 - start
                    return i, decision
            self.seen += stop - start
            return stop, None
        finally:
            self.ema_fast, self.ema_slow, self._diff = ef, es, diff

    def _update_rsi(self, close: float) -> None:
        prev = self._prev_close
        self._prev_close = close
        if prev is None:
            return
        change = close - prev
        gain, loss = (change, 0.0) if change > 0 else (0.0, -change)
        if self._gain is None:
            self._gain, self._loss = gain, loss
        else:
            a = self._rsi_a
            self._gain += a * (gain - self._gain)
            self._loss += a * (loss - self._loss)  # type: ignore[operator]

    def _cross(self, side: str, position: int, ef: float, es: float) -> Decision | None:
        want = 1 if side == LONG else -1
        if position == want:
            return None
        word = "above" if side == LONG else "below"
        reason = f"EMA{self.fast} crossed {word} EMA{self.slow} ({ef:.2f} vs {es:.2f})"
        if self._rsi_n:
            rsi = self.rsi()
            if rsi is not None and (
                (side == LONG and rsi > self._overbought) or (side == SHORT and rsi < self._oversold)
            ):
                blocked = f"{reason}; {side} blocked by RSI{self._rsi_n} {rsi:.1f}"
                return Decision(CLOSE, blocked) if position == -want else None
        return Decision(side, reason)
