"""DataFrame strategies: `populate(df, params) -> df` with freqtrade's four signal columns.

A trader writes a class like this (docs/strategies.md, "Write your own strategy"):

    class MyStrategy(FrameStrategy):
        schema = Schema((Param("n", int, 14, 2, 100, "RSI length"), *MONEY))
        startup_candles = 100                    # rows an indicator needs before it is right
        plot = {"rsi": "sub"}                    # column → "price" panel or "sub" panel
        def populate(self, df, params):
            df["rsi"] = talib.RSI(df["Close"], params["n"])
            df["enter_long"], df["exit_long"] = df["rsi"] < 30, df["rsi"] > 50
            df["enter_short"], df["exit_short"] = df["rsi"] > 70, df["rsi"] < 50
            return df

`df` holds the closed candles, `Open, High, Low, Close, Volume` (float) indexed by UTC
open time. The backtest calls `populate` once over the whole history; the live bot per
closed candle over the last `startup_candles + window_extra` candles, and acts on the
last row. The two agree only if row i depends on rows ≤ i and the window is long enough:
trading/core/strategies/check.py proves that before a strategy trades.

What a row means (one place, `decide`): the signals of a closed candle act at the next
open, like every decision here. Entries and exits on the same candle resolve the way
freqtrade's `IStrategy.get_entry_signal` / `should_exit` do: an entry counts only without
the same side's exit and without the other side's entry on that row (`enter_long and not
(exit_long or enter_short)`), and an exit counts only without an entry of the same side
(`exit_long and not enter_long`). Unlike freqtrade (one trade per pair, exits first), an
entry against an open position reverses it (close and open at the same open); an exit
closes; an entry in the held direction is nothing.

In Hedge Mode (`on_candle_legs`) the four columns act on the two legs apart, with the same
same-row rules: enter_long / exit_long open and close the LONG leg, enter_short /
exit_short the SHORT leg; an entry on one side closes nothing of the other.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from trading.core.candles import Candle
from trading.core.strategies.base import CLOSE, LONG, SHORT, Decision
from trading.core.strategies.contained import StrategyError, contained
from trading.core.strategies.ladder import Ladder
from trading.core.strategies.params import Param, Schema, Values

if TYPE_CHECKING:  # numpy and pandas are imported where a frame is built: an ema_cross run never needs them
    import numpy as np
    import pandas as pd

SIGNALS = ("enter_long", "exit_long", "enter_short", "exit_short")
COLUMNS = ("Open", "High", "Low", "Close", "Volume")
WINDOW_EXTRA = 100  # live rows beyond startup_candles: what the last row is computed from

# The money parameters the trader reads (sizing, stops); a schema without them trades with
# defaults of 0 / 1 and cannot size an order, so built-ins and docs/strategies.md's example add them.
MONEY: tuple[Param, ...] = (
    Param("stake_usdt", float, 100.0, 1.0, 1_000_000.0, "margin per trade in USDT"),
    Param("leverage", int, 3, 1, 125, "position size = stake_usdt × leverage"),
    Param("stop_loss_pct", float, 0.0, 0.0, 50.0, "stop-loss distance from entry, % (0 = off)"),
    Param("take_profit_pct", float, 0.0, 0.0, 500.0, "take-profit distance from entry, % (0 = off)"),
    Param("trailing_stop_pct", float, 0.0, 0.0, 10.0, "trailing stop: callback from the best price since activation, % (0 = off; 0.1–10, Binance's callbackRate)"),
    Param("trailing_activation_pct", float, 0.0, 0.0, 500.0, "the trailing stop activates this % beyond the entry (0 = at once)"),
    Param("take_profit", Ladder, "0", 0, 0, "take-profit ladder: distance:share,… e.g. 1.5:50,3:50 closes 50 % at +1.5 % and the rest at +3 % (0 = off; one level, e.g. 3, is take_profit_pct=3)"),
    Param("breakeven_after", int, 0, 0, 4, "with a ladder: once this level fills, the stop moves to the entry plus fees (0 = off)"),
)


class FrameStrategy:
    """Base for DataFrame strategies (optional: any class with `populate` and `schema` works)."""

    schema: ClassVar[Schema] = Schema(())
    startup_candles: ClassVar[int] = 0
    window_extra: ClassVar[int] = WINDOW_EXTRA
    plot: ClassVar[dict[str, str]] = {}  # indicator column → "price" or "sub"

    def populate(self, df: pd.DataFrame, params: Values) -> pd.DataFrame:  # pragma: no cover
        raise NotImplementedError

    def startup(self, params: Values) -> int:
        """Candles before the first trustworthy row; override when it depends on parameters."""
        return int(self.startup_candles)

    def bands(self, params: Values) -> tuple[float, float] | None:
        """Horizontal guide lines for the sub-panel (e.g. RSI thresholds), or None."""
        return None


def frame_of(candles: Sequence[Candle]) -> pd.DataFrame:
    """The candles as populate receives them (float columns, UTC open-time index)."""
    import numpy as np
    import pandas as pd

    index = pd.DatetimeIndex(np.array([c.open_time for c in candles], dtype="datetime64[ms]"), name="date")
    return pd.DataFrame(
        {
            "Open": np.array([c.open for c in candles], dtype=float),
            "High": np.array([c.high for c in candles], dtype=float),
            "Low": np.array([c.low for c in candles], dtype=float),
            "Close": np.array([c.close for c in candles], dtype=float),
            "Volume": np.array([c.volume for c in candles], dtype=float),
        },
        index=index.tz_localize("UTC"),
        copy=False,
    )


def run_populate(impl: Any, df: pd.DataFrame, values: Values, tail: int | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """populate over a frame of candles (frame_of), checked: (the signals of the last `tail`
    rows, or all, as a k×4 array of 0/1/NaN; the frame). Raises StrategyError for anything
    but a frame of the same rows with four 0/1 columns; NaN is refused by nan_check, on
    the rows acted on (startup rows may hold NaN)."""
    import numpy as np
    import pandas as pd

    rows = len(df)
    out = contained("populate", lambda: impl.populate(df, dict(values)))
    if not isinstance(out, pd.DataFrame):
        raise StrategyError(f"populate returned {type(out).__name__}, not a DataFrame")
    if len(out) != rows:
        raise StrategyError(f"populate returned {len(out)} rows for {rows} candles")
    missing = [s for s in SIGNALS if s not in out.columns]
    if missing:
        raise StrategyError(f"populate did not set {', '.join(missing)} (it must set all of {', '.join(SIGNALS)})")
    start = 0 if tail is None else max(0, rows - tail)
    raw = np.empty((rows - start, 4))
    try:
        for j, col in enumerate(SIGNALS):
            raw[:, j] = out[col].to_numpy()[start:]
    except (TypeError, ValueError) as e:
        raise StrategyError(f"signal columns must be True/False (or 1/0): {str(e)[:120]}") from None
    bad = ~(np.isnan(raw) | (raw == 0.0) | (raw == 1.0))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise StrategyError(f"{SIGNALS[col]} holds {raw[row, col]:g} at {_when(out, start + row)}; "
                            "signals are True/False (or 1/0)")
    return raw, out


def nan_check(raw: np.ndarray, frame: pd.DataFrame, first: int) -> None:
    """NaN in a signal on a row that is acted on (from `first`) is an error, never 'no signal'."""
    import numpy as np

    nan = np.isnan(raw[first:])
    if nan.any():
        row, col = np.argwhere(nan)[0]
        raise StrategyError(f"{SIGNALS[col]} is NaN at {_when(frame, first + row)}")


def decide(row: Sequence[float], position: int) -> str | None:
    """The action a row's signals ask for, given the position (+1, -1, 0); see the module doc."""
    el, xl, es, xs = (bool(x) for x in row)
    go_long = el and not (xl or es)
    go_short = es and not (xs or el)
    if position > 0:
        return SHORT if go_short else (CLOSE if xl and not el else None)
    if position < 0:
        return LONG if go_long else (CLOSE if xs and not es else None)
    return LONG if go_long else (SHORT if go_short else None)


REASONS = {LONG: "enter_long", SHORT: "enter_short"}


def decide_legs(row: Sequence[float], long_held: bool, short_held: bool) -> list[tuple[str, str, str]]:
    """Hedge Mode: (action, leg, signal) for each leg a row moves, exits first."""
    el, xl, es, xs = (bool(x) for x in row)
    out = []
    if long_held and xl and not el:
        out.append((CLOSE, "LONG", "exit_long"))
    if short_held and xs and not es:
        out.append((CLOSE, "SHORT", "exit_short"))
    if not long_held and el and not (xl or es):
        out.append((LONG, "LONG", "enter_long"))
    if not short_held and es and not (xs or el):
        out.append((SHORT, "SHORT", "enter_short"))
    return out


class FrameAdapter:
    """A DataFrame strategy behind the incremental `Strategy` seam, so the trader, brokers,
    stops and confirmations do not know which kind decided. Subclassed per strategy class
    by `adapter_for` (class attributes `impl_cls`, `name`, `schema`)."""

    impl_cls: ClassVar[type]
    name: ClassVar[str]
    schema: ClassVar[Schema]

    def __init__(self, values: Values | None = None, warmup: int | None = None) -> None:
        """`warmup`: candles before the first decision instead of startup_candles (the
        backtest's --warmup); the live window stays startup_candles + window_extra."""
        self.values: Values = self.schema.validate({}, values or {})
        self.impl = contained(f"{self.impl_cls.__name__}()", self.impl_cls)
        self.startup = max(0, int(self.impl.startup(self.values)) if hasattr(self.impl, "startup")
                           else int(getattr(self.impl, "startup_candles", 0)))
        self._gate = self.startup if warmup is None else max(0, warmup)
        self.window = self.startup + int(getattr(self.impl, "window_extra", WINDOW_EXTRA))
        self.plot: dict[str, str] = dict(getattr(self.impl, "plot", {}) or {})
        self._candles: deque[Candle] = deque(maxlen=max(self.window, 1))
        self._pre: dict[int, int] = {}  # open time → row of the precomputed frame (backtest)
        self._pre_raw: np.ndarray | None = None
        self._pre_ind: dict[str, np.ndarray] = {}
        self._last: dict[str, float] = {}
        self.seen = 0

    @property
    def warmup(self) -> int:
        return self._gate

    def bands(self) -> tuple[float, float] | None:
        fn = getattr(self.impl, "bands", None)
        return fn(self.values) if fn is not None else None

    def precompute(self, candles: Sequence[Candle]) -> None:
        """The backtest's one populate over the whole history; later candles are looked up."""
        raw, frame = run_populate(self.impl, frame_of(candles), self.values)
        nan_check(raw, frame, min(self._gate, len(candles)))
        self._pre = {c.open_time: i for i, c in enumerate(candles)}
        self._pre_raw = raw
        self._pre_ind = {k: frame[k].to_numpy(dtype=float) for k in self.plot if k in frame.columns}

    def warm(self, candles: Sequence[Candle]) -> None:
        """Warm-up candles: kept, never populated (no decision is wanted from them)."""
        for c in candles:
            self._candles.append(c)
        self.seen += len(candles)

    def on_candle(self, candle: Candle, position: int) -> Decision | None:
        row = self._row(candle)
        if row is None:
            return None
        action = decide(row, position)
        if action is None:
            return None
        why = REASONS.get(action, "exit_long" if position > 0 else "exit_short")
        return Decision(action, self._why(why))

    def on_candle_legs(self, candle: Candle, long_held: bool, short_held: bool) -> list[Decision]:
        """Hedge Mode: the row's decisions for the LONG and the SHORT leg apart (decide_legs)."""
        row = self._row(candle)
        if row is None:
            return []
        return [Decision(action, self._why(why), leg if action == CLOSE else "")
                for action, leg, why in decide_legs(row, long_held, short_held)]  # fmt: skip

    def _why(self, signal: str) -> str:
        shown = ", ".join(f"{k} {v:.2f}" for k, v in self._last.items() if not math.isnan(v))
        return f"{self.name}: {signal}" + (f" ({shown})" if shown else "")

    def _row(self, candle: Candle) -> Sequence[float] | None:
        """The candle's row of signals (None during the warm-up)."""
        self._candles.append(candle)
        self.seen += 1
        if self.seen <= self._gate:
            return None
        i = self._pre.get(candle.open_time)
        if i is not None and self._pre_raw is not None:
            row = self._pre_raw[i]
            self._last = {k: float(v[i]) for k, v in self._pre_ind.items()}
        else:
            raw, frame = run_populate(self.impl, frame_of(self._candles), self.values, tail=1)
            nan = [math.isnan(x) for x in raw[-1]]
            if any(nan):  # (no time in the text: the trader names the candle)
                raise StrategyError(f"{SIGNALS[nan.index(True)]} is NaN")
            row = raw[-1]
            self._last = {k: float(frame[k].iat[-1]) for k in self.plot if k in frame.columns}
        return row  # type: ignore[no-any-return]

    def indicators(self) -> dict[str, float]:
        return {k: v for k, v in self._last.items() if not math.isnan(v)}

    def series(self, candles: Sequence[Candle], last: int) -> dict[str, list[float]]:
        """The plotted columns over the last `last` of `candles` (one populate), for /chart."""
        _, frame = run_populate(self.impl, frame_of(candles), self.values)
        return {k: [float(x) for x in frame[k].to_numpy(dtype=float)[-last:]] for k in self.plot if k in frame.columns}


def is_frame_class(cls: object) -> bool:
    return isinstance(cls, type) and callable(getattr(cls, "populate", None)) and not hasattr(cls, "on_candle")


def adapter_for(cls: type, name: str) -> type[FrameAdapter]:
    """A Strategy class (the registry's kind) for a DataFrame strategy class."""
    schema = getattr(cls, "schema", None)
    if not isinstance(schema, Schema):
        raise StrategyError(f"{name}: the class needs a `schema = Schema((...))` (trading.core.strategies.params)")
    plot = getattr(cls, "plot", {}) or {}
    if not isinstance(plot, dict) or any(p not in ("price", "sub") for p in plot.values()):
        raise StrategyError(f"{name}: `plot` maps indicator columns to 'price' or 'sub'")
    return type(f"Frame_{cls.__name__}", (FrameAdapter,), {"impl_cls": cls, "name": name, "schema": schema})


def _when(frame: pd.DataFrame, row: int) -> str:
    idx = frame.index[row] if 0 <= row < len(frame.index) else row
    return idx.strftime("%Y-%m-%d %H:%M UTC") if hasattr(idx, "strftime") else f"row {row}"
