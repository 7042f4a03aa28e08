"""The live path end to end: replay exchange → websocket-client thread → SQLite."""

from __future__ import annotations

import random

import pytest

from sim.binance import ReplayExchange, load_csv
from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from tests.helpers import RecordingNotifier, replay_settings
from trading.exchange.klines import historical_klines
from trading.exchange.rest import make_client
from trading.live.feed import kline_stream

START = 600


def stored(db_path: str, start: int, end: int) -> list[tuple]:
    rows = KlineStore(open_db(db_path)).between("BTCUSDT", "15m", start, end)
    return [(r["open_time"], r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in rows]


def expected(source, lo: int, hi: int) -> list[tuple]:
    return [
        (c.open_time, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume))
        for c in source[lo:hi]
    ]


def spaced_drop_points(rng: random.Random, first: int, count: int, span: int) -> list[int]:
    """Random points, one per segment, so each drop hits a live connection."""
    seg = span // count
    return [first + i * seg + rng.randrange(0, seg // 2) for i in range(count)]


@pytest.fixture(scope="module")
def source(request):
    from tests.conftest import PERP_15M, shared_file

    return load_csv(shared_file(PERP_15M))


def last_closed_at_least(open_time: int):
    def check(st) -> bool:
        c = st.last_closed.get("BTCUSDT")
        return c is not None and c.open_time >= open_time

    return check


@pytest.mark.slow
def test_300_candles_with_10_random_drops_store_exactly_the_source(source, db_path):
    rng = random.Random(20261124)
    drops = spaced_drop_points(rng, START + 5, 10, 285)
    with ReplayExchange(source, start_index=START, seconds_per_candle=0.01, updates_per_candle=4) as ex:
        ex.faults.drop_at_candles(drops)
        notifier = RecordingNotifier()
        stream = kline_stream(replay_settings(ex, db_path), notifier)
        assert stream.start()
        target = source[START + 300].open_time
        assert stream.wait_until(last_closed_at_least(target), timeout=90)
        assert stream.stop()

    first = KlineStore(open_db(db_path)).latest("BTCUSDT", "15m", 10_000)[0]["open_time"]
    lo = next(i for i, c in enumerate(source) if c.open_time == first)
    assert lo <= START - 90  # the warm-up window (WARMUP_CANDLES=100) came over REST
    got = stored(db_path, first, target)
    assert got == expected(source, lo, START + 301)  # no gap, no duplicate, exact values

    events = EventLog(open_db(db_path))
    assert events.count("disconnect") == 10
    assert events.count("reconnect") == 10
    assert events.count("backfill") >= 10
    kinds = notifier.kinds()
    assert kinds[0] == "socket_started" and kinds.count("reconnected") == 10
    assert kinds.count("socket_error") == 10 and kinds[-1] == "socket_stopped"


def test_historical_loader_pages_5000_candles_exactly(source, tmp_path):
    with ReplayExchange(source, start_index=6000, seconds_per_candle=60) as ex:
        settings = replay_settings(ex, str(tmp_path / "x.sqlite"))
        frame = historical_klines("BTCUSDT", "15m", source[500].open_time, source[5499].open_time, client=make_client(settings))
    assert len(frame) == 5000
    assert list(frame.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert str(frame.index.tz) == "UTC" and all(str(t) == "float64" for t in frame.dtypes)
    assert frame.index[0].value // 1_000_000 == source[500].open_time
    assert [tuple(r) for r in frame.itertuples(index=False)] == [e[1:] for e in expected(source, 500, 5500)]
