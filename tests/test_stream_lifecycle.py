"""Stream lifecycle and failure handling against the replay exchange (generated candles)."""

from __future__ import annotations

import time

import pytest

from bot.texts import text
from sim.binance import ReplayExchange
from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from tests.helpers import RecordingNotifier, replay_settings
from trading.exchange.stream import KlineStream
from trading.live.feed import kline_stream
from trading.live.service import Engine


@pytest.fixture
def ex():
    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.02) as ex:
        yield ex


def contiguous(db_path: str) -> bool:
    times = KlineStore(open_db(db_path)).open_times("BTCUSDT", "15m")
    return bool(times) and all(b - a == 900_000 for a, b in zip(times, times[1:], strict=False))


def stored_equals_source(ex, db_path: str) -> bool:
    rows = KlineStore(open_db(db_path)).latest("BTCUSDT", "15m", 100_000)
    by_time = {c.open_time: c for c in ex.candles}
    return all(
        (r["open"], r["high"], r["low"], r["close"], r["volume"])
        == tuple(float(x) for x in by_time[r["open_time"]][1:])
        for r in rows
    )


def started(stream: KlineStream, n_closed: int = 3, timeout: float = 20) -> bool:
    return stream.wait_until(lambda s: s.connected and s.closed_candles >= n_closed, timeout)


def test_start_twice_is_one_connection_and_stop_is_idempotent(ex, db_path):
    stream = kline_stream(replay_settings(ex, db_path), RecordingNotifier())
    assert stream.start() is True
    assert stream.start() is False
    assert started(stream)
    assert ex.stats.connections_accepted == 1
    t0 = time.monotonic()
    assert stream.stop() is True
    assert time.monotonic() - t0 < 5
    assert not stream.running and stream._thread is None
    assert stream.stop() is False
    # and it can be started again, continuing the same series without a hole
    assert stream.start() is True
    assert started(stream, n_closed=3)
    assert stream.stop() is True
    assert contiguous(db_path) and stored_equals_source(ex, db_path)
    history = [c.open_time for c in stream.history("BTCUSDT")]
    assert history == sorted(set(history))  # the strategy's memory has no repeats either


def test_engine_reports_not_running(ex, db_path):
    engine = Engine(replay_settings(ex, db_path), RecordingNotifier())
    assert engine.stop() is False
    assert engine.start() is True
    assert engine.wait_stream(lambda s: s.connected and s.closed_candles > 0, 10)
    assert engine.status().stream.connected
    assert engine.stop() is True
    assert engine.status().last_closed["BTCUSDT"] is not None  # read back from SQLite


def test_restart_resumes_what_the_operator_asked_for(ex, db_path):
    settings = replay_settings(ex, db_path)
    first = Engine(settings, RecordingNotifier())
    first.start()
    assert first.wait_stream(lambda s: s.connected, 10)
    first.close()  # a shutdown, not /stop
    second = Engine(settings, RecordingNotifier())
    assert second.resume_stream() is True
    assert second.wait_stream(lambda s: s.connected, 10)
    second.stop()
    third = Engine(settings, RecordingNotifier())
    assert third.resume_stream() is False  # /stop is remembered too


def test_malformed_frames_are_counted_logged_once_per_kind_and_harmless(ex, db_path):
    stream = kline_stream(replay_settings(ex, db_path), RecordingNotifier())
    stream.start()
    assert started(stream)
    for kind in ("json", "shape", "binary", "json"):
        ex.faults.malformed(count=3, kind=kind)
    assert stream.wait_until(lambda s: sum(s.malformed.values()) >= 12, 10), stream.status().malformed
    before = stream.status().closed_candles
    assert stream.wait_until(lambda s: s.closed_candles >= before + 3, 10)  # still alive
    stream.stop()
    events = EventLog(open_db(db_path)).recent(100, kind="malformed")
    kinds = {e["detail"].split(":")[0] for e in events}
    assert len(events) == len(kinds)  # one event per kind, the rest only counted
    assert contiguous(db_path)


def test_stall_trips_the_watchdog_and_reconnects_without_a_gap(ex, db_path):
    notifier = RecordingNotifier()
    stream = kline_stream(replay_settings(ex, db_path, STREAM_STALE_SECONDS="1"), notifier)
    stream.start()
    assert started(stream)
    ex.faults.stall()  # no frames, no pongs, connection stays open
    assert notifier.wait_for(lambda ns: any(n.kind == "stale" for n in ns), 10)
    assert notifier.wait_for(lambda ns: any(n.kind == "reconnected" for n in ns), 10)
    ex.faults.unstall()
    before = stream.status().closed_candles
    assert stream.wait_until(lambda s: s.closed_candles >= before + 3, 10)
    stream.stop()
    assert EventLog(open_db(db_path)).count("watchdog") >= 1
    assert contiguous(db_path) and stored_equals_source(ex, db_path)


def test_server_close_code_is_reported(ex, db_path):
    notifier = RecordingNotifier()
    stream = kline_stream(replay_settings(ex, db_path), notifier)
    stream.start()
    assert started(stream)
    ex.faults.close_with(1001, "going away")
    assert notifier.wait_for(lambda ns: any(n.kind == "reconnected" for n in ns), 10)
    stream.stop()
    errors = [text(n) for n in notifier.notices if n.kind == "socket_error"]
    assert any("1001" in t and "going away" in t for t in errors), errors


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_backfill_rides_out_rest_errors(ex, db_path):
    notifier = RecordingNotifier()
    stream = kline_stream(replay_settings(ex, db_path), notifier)
    stream.start()
    assert started(stream)
    ex.faults.rest_errors(503, count=2)
    ex.faults.rest_errors(429, count=1, retry_after=0.1)
    ex.faults.drop_after_messages(1)
    assert notifier.wait_for(lambda ns: any(n.kind == "reconnected" for n in ns), 20)
    before = stream.status().closed_candles
    assert stream.wait_until(lambda s: s.closed_candles >= before + 3, 10)
    stream.stop()
    assert ex.stats.rest_faults_served >= 3
    assert contiguous(db_path) and stored_equals_source(ex, db_path)


def test_exchange_down_at_start_is_reported_and_retried(db_path):
    ex = ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.02).start()
    settings = replay_settings(ex, db_path)
    ex.stop()  # nothing listens on that port now
    notifier = RecordingNotifier()
    stream = kline_stream(settings, notifier)
    stream.start()
    assert notifier.wait_for(lambda ns: any("cannot connect" in text(n) for n in ns), 10)
    t0 = time.monotonic()
    assert stream.stop() is True
    assert time.monotonic() - t0 < 5


def test_unknown_symbol_is_refused_with_the_variable_named(ex, db_path):
    from bot.texts import reason_line
    from trading.live.service import StartRefused

    engine = Engine(replay_settings(ex, db_path, SYMBOLS="BTCUSDT,FOOUSDT"), RecordingNotifier())
    with pytest.raises(StartRefused) as refused:
        engine.start()
    assert reason_line(refused.value.reason).startswith("SYMBOLS: FOOUSDT not listed")
    assert not engine.stream_status().running


def test_one_connection_streams_every_symbol(db_path):
    from sim.binance import generate

    btc = generate(2000, start_ms=1_700_000_000_000 // 900_000 * 900_000, interval="15m", seed=1)
    eth = generate(2000, start_ms=btc[0].open_time, interval="15m", seed=2, start_price=2000.0)
    with ReplayExchange(btc, extra_symbols={"ETHUSDT": eth}, start_index=300, seconds_per_candle=0.02) as ex:
        stream = kline_stream(replay_settings(ex, db_path, SYMBOLS="BTCUSDT,ETHUSDT"), RecordingNotifier())
        assert "btcusdt@kline_15m/ethusdt@kline_15m" in stream.url
        stream.start()
        assert stream.wait_until(lambda s: len(s.last_closed) == 2 and s.closed_candles >= 10, 20)
        ex.faults.drop_after_messages(3)
        assert stream.wait_until(lambda s: s.reconnects == 1, 20)
        n = stream.status().closed_candles
        assert stream.wait_until(lambda s: s.closed_candles >= n + 6, 20)
        stream.stop()
        assert ex.stats.connections_accepted == 2  # one connection for both, then one reconnect
    store = KlineStore(open_db(db_path))
    for symbol, source in (("BTCUSDT", btc), ("ETHUSDT", eth)):
        by_time = {c.open_time: c for c in source}
        rows = store.latest(symbol, "15m", 10_000)
        times = [r["open_time"] for r in rows]
        assert len(rows) >= 100 and all(b - a == 900_000 for a, b in zip(times, times[1:], strict=False))
        assert all(r["close"] == float(by_time[r["open_time"]].close) for r in rows)


def test_concurrent_start_and_stop_calls_act_once(ex, db_path):
    import threading

    stream = kline_stream(replay_settings(ex, db_path), RecordingNotifier())

    def race(fn) -> list[bool]:
        results: list[bool] = []
        barrier = threading.Barrier(6)

        def call() -> None:
            barrier.wait()
            results.append(fn())

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        return results

    for _ in range(3):
        assert race(stream.start).count(True) == 1
        assert started(stream, n_closed=1)
        assert race(stream.stop).count(True) == 1
        assert not stream.running
    assert ex.stats.connections_accepted == 3
    assert contiguous(db_path)
