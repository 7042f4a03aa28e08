"""ema_cross: indicators equal pandas over real candles; crosses, filters and the schema."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from tests.conftest import PERP_15M, shared_file
from trading.core.candles import Candle
from trading.core.strategies import CLOSE, LONG, SHORT, EmaCross, ParamError, make_strategy
from trading.core.strategies.params import parse_assignments


def candles_from_closes(closes: list[float]) -> list[Candle]:
    return [
        Candle("BTCUSDT", "15m", i * 900_000, i * 900_000 + 899_999, c, c, c, c, 1.0)
        for i, c in enumerate(closes)
    ]


def real_closes(n: int) -> list[float]:
    with gzip.open(shared_file(PERP_15M), "rt") as f:
        frame = pd.read_csv(f, nrows=n)
    return frame["close"].astype(float).tolist()


def test_emas_and_rsi_equal_pandas_over_real_candles() -> None:
    closes = real_closes(3000)
    s = EmaCross({"fast": 9, "slow": 21, "rsi_period": 14})
    fast, slow, rsi = [], [], []
    for c in candles_from_closes(closes):
        s.on_candle(c, 0)
        fast.append(s.ema_fast)
        slow.append(s.ema_slow)
        rsi.append(s.rsi())
    series = pd.Series(closes)
    assert fast == pytest.approx(series.ewm(span=9, adjust=False).mean().tolist(), rel=1e-12)
    assert slow == pytest.approx(series.ewm(span=21, adjust=False).mean().tolist(), rel=1e-12)
    delta = series.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / 14, adjust=False).mean()
    expected = (100 - 100 / (1 + gain / loss)).tolist()
    assert rsi[0] is None
    assert rsi[1:] == pytest.approx(expected[1:], rel=1e-9)


def test_crosses_decide_long_short_and_respect_position() -> None:
    s = EmaCross({"fast": 2, "slow": 3})
    closes = [100.0] * s.warmup + [90.0, 80.0, 70.0, 120.0, 130.0, 60.0]
    decisions = [s.on_candle(c, 0) for c in candles_from_closes(closes)]
    acted = [(i, d.action) for i, d in enumerate(decisions) if d is not None]
    n = s.warmup
    assert acted == [(n, SHORT), (n + 3, LONG), (n + 5, SHORT)]
    # Already long: an up-cross says nothing.
    s2 = EmaCross({"fast": 2, "slow": 3})
    ds = [s2.on_candle(c, 1) for c in candles_from_closes(closes)]
    assert [d.action for d in ds if d] == [SHORT, SHORT]


def test_no_decision_during_warmup() -> None:
    s = EmaCross({"fast": 2, "slow": 3})
    closes = [100.0, 90.0, 120.0, 80.0, 130.0]
    assert s.warmup > len(closes)
    assert all(s.on_candle(c, 0) is None for c in candles_from_closes(closes))


def test_rsi_filter_blocks_entry_but_still_closes() -> None:
    s = EmaCross({"fast": 2, "slow": 3, "rsi_period": 2, "rsi_overbought": 60})
    closes = [100.0 - i * 0.5 for i in range(s.warmup)] + [130.0]  # a jump: RSI ~100
    d = None
    for c in candles_from_closes(closes):
        d = s.on_candle(c, -1)
    assert d is not None and d.action == CLOSE and "blocked by RSI2" in d.reason


def test_schema_validates_all_or_nothing() -> None:
    s = EmaCross()
    with pytest.raises(ParamError, match="fast .* must be smaller than slow"):
        EmaCross.schema.validate(s.values, {"fast": "30", "slow": "20"})
    with pytest.raises(ParamError, match="unknown parameter 'fats'"):
        EmaCross.schema.validate(s.values, {"fats": "3"})
    with pytest.raises(ParamError, match="fast: expected a whole number"):
        EmaCross.schema.validate(s.values, {"fast": "2.5"})
    with pytest.raises(ParamError, match="leverage: must be from 1 to 125"):
        EmaCross.schema.validate(s.values, {"leverage": "500"})
    with pytest.raises(ParamError, match="is not a number"):
        EmaCross.schema.validate(s.values, {"stop_loss_pct": "nan"})
    merged = EmaCross.schema.validate(s.values, {"fast": "5", "slow": "40", "stop_loss_pct": "1.5"})
    assert (merged["fast"], merged["slow"], merged["stop_loss_pct"]) == (5, 40, 1.5)


def test_assignments_parse_and_quote_briefly() -> None:
    assert parse_assignments(["FAST=5", "slow=30"]) == {"fast": "5", "slow": "30"}
    with pytest.raises(ParamError, match="given twice"):
        parse_assignments(["fast=5", "fast=6"])
    with pytest.raises(ParamError) as e:
        parse_assignments(["<" * 4000])
    assert len(str(e.value)) < 80


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'nope'; known: ema_cross, rsi_reversion, bb_breakout, none"):
        make_strategy("nope")
