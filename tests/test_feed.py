"""The feed contract's offline side: the backtest driver and the candle loaders."""

from __future__ import annotations

import gzip

import pytest

from sim.binance import load_csv
from storage.db import open_db
from storage.klines import KlineStore
from tests.sinks import RecordingSink
from trading.backtest.data import load_csv_candles, load_stored_candles
from trading.core.candles import Candle
from trading.core.feed import replay

M15 = 900_000


def candles(n: int, symbol: str = "BTCUSDT", start: int = 1_700_000_100_000 // M15 * M15) -> list[Candle]:
    return [
        Candle(symbol, "15m", start + i * M15, start + (i + 1) * M15 - 1, 1.0 + i, 2.0 + i, 0.5, 1.5 + i, 10.0)
        for i in range(n)
    ]


def test_replay_warms_first_then_decides_on_every_later_candle_once() -> None:
    sink = RecordingSink(warmup=5)
    series = candles(20)
    assert replay(sink, series, warmup=5) == 15
    assert sink.warmed == [("BTCUSDT", series[:5])]
    assert sink.decided == [(c, False) for c in series[5:]]
    assert sink.events[0] == "warm:BTCUSDT"


def test_replay_defaults_to_the_sinks_warmup_per_symbol_and_interleaves_symbols() -> None:
    btc, eth = candles(10), candles(10, "ETHUSDT")
    mixed = [c for pair in zip(btc, eth, strict=True) for c in pair]
    sink = RecordingSink(warmup=3)
    assert replay(sink, mixed) == 14
    assert [s for s, _ in sink.warmed] == ["BTCUSDT", "ETHUSDT"]
    assert sink.times("BTCUSDT") == [c.open_time for c in btc[3:]]
    assert sink.times("ETHUSDT") == [c.open_time for c in eth[3:]]
    for symbol in ("BTCUSDT", "ETHUSDT"):  # warm before that symbol's first decision
        assert sink.events.index(f"warm:{symbol}") < sink.events.index(f"candle:{symbol}")


def test_replay_shorter_than_the_warmup_only_warms() -> None:
    sink = RecordingSink()
    assert replay(sink, candles(4), warmup=10) == 0
    assert len(sink.warmed[0][1]) == 4 and not sink.decided


def test_replay_refuses_candles_out_of_order() -> None:
    series = candles(5)
    with pytest.raises(ValueError, match="does not follow"):
        replay(RecordingSink(), [*series, series[2]], warmup=1)


def test_csv_loader_matches_the_file(perp_csv) -> None:
    # Its speed is measured by bench/backtest.py ("read + parse"), not asserted here: a
    # timing in a test fails on a busy machine and proves nothing on an idle one.
    got = load_csv_candles(perp_csv)
    source = load_csv(perp_csv)
    assert len(got) == len(source) == 35_039
    for c, s in zip(got, source, strict=True):
        assert (c.open_time, c.open, c.high, c.low, c.close, c.volume) == (
            s.open_time, float(s.open), float(s.high), float(s.low), float(s.close), float(s.volume)
        )
    assert got[0].interval == "15m" and got[0].symbol == "BTCUSDT" and got[0].closed
    assert got[0].close_time == got[0].open_time + M15 - 1


def test_csv_loader_reads_plain_csv_and_an_explicit_interval(tmp_path) -> None:
    text = "open_time_ms,open,high,low,close,volume\n0,1,2,0.5,1.5,3\n"
    plain = tmp_path / "one.csv"
    plain.write_text(text)
    zipped = tmp_path / "one.csv.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    for path in (plain, zipped):
        (c,) = load_csv_candles(path, "ETHUSDT", "5m")
        assert (c.symbol, c.interval, c.close_time, c.close) == ("ETHUSDT", "5m", 299_999, 1.5)
    with pytest.raises(ValueError, match="interval"):
        load_csv_candles(plain)
    bad = tmp_path / "bad.csv"
    bad.write_text("t,o,h,l,c,v\n")
    with pytest.raises(ValueError, match="header"):
        load_csv_candles(bad)


def test_stored_loader_reads_a_time_range(db_path) -> None:
    series = candles(10)
    KlineStore(open_db(db_path)).upsert_many(series, "rest")
    got = load_stored_candles(db_path, "BTCUSDT", "15m", series[2].open_time, series[6].open_time)
    assert got == series[2:7]
    assert load_stored_candles(KlineStore(open_db(db_path)), "BTCUSDT", "15m") == series
