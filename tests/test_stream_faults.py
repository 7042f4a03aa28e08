"""The stream's failure modes that used to leave it wrong: each test failed before its fix.

Faults the replay exchange cannot play (a server that accepts TCP and never answers) are
a few lines of raw socket here.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from bot.texts import text
from sim.binance import ReplayExchange
from storage.db import open_db
from storage.klines import KlineStore
from tests.helpers import RecordingNotifier, replay_settings
from tests.sinks import RecordingSink
from trading.live.feed import kline_stream

M15 = 900_000


class SilentServer:
    """Accepts TCP connections and never says a word (a hung exchange or proxy)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._cond:
                self.accepted.append(conn)
                self._cond.notify_all()

    def wait_for_connections(self, n: int, timeout: float = 10) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.accepted) >= n, timeout)

    def close(self) -> None:
        self._listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def test_an_outage_longer_than_the_warmup_is_backfilled_and_every_candle_decided_once(db_path):
    with ReplayExchange(None, interval="15m", start_index=300, paused=True) as ex:
        settings = replay_settings(ex, db_path, WARMUP_CANDLES="100")
        sink = RecordingSink(warmup=100)
        stream = kline_stream(settings, RecordingNotifier(), sink)
        assert stream.start()
        assert sink.wait_for(lambda s: len(s.warmed) == 1)
        ex.advance(5)
        assert sink.wait_for(lambda s: len(s.decided) == 5)
        assert stream.stop()

        ex.advance(250)  # the bot is away for 2.5 warm-ups
        stream = kline_stream(settings, RecordingNotifier(), sink)  # a new process, same trader
        assert stream.start()
        last_closed = ex.candles[ex.clock.current_index - 1].open_time
        assert sink.wait_for(lambda s: s.times()[-1:] == [last_closed])
        ex.advance(3)
        assert sink.wait_for(lambda s: len(s.decided) == 5 + 250 + 3)
        assert stream.stop()

    first_warm, second_warm = (w for _, w in sink.warmed)
    assert len(first_warm) == 100 and len(second_warm) == 100
    times = sink.times()
    assert times == sorted(set(times))  # exactly once, in order
    assert all(b - a == M15 for a, b in zip([first_warm[-1].open_time, *times], times, strict=False))
    assert second_warm[-1].open_time == times[4]  # warmed up to its cursor, decided from there
    flags = [b for _, b in sink.decided]
    assert flags == [False] * 5 + [True] * 250 + [False] * 3
    stored = KlineStore(open_db(db_path)).open_times("BTCUSDT", "15m")
    assert stored[-1] == times[-1]
    assert all(b - a == M15 for a, b in zip(stored, stored[1:], strict=False)), "hole in storage"


def test_a_handshake_that_never_answers_times_out_and_retries_and_reads_as_down(silent, db_path):
    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.05) as ex:
        settings = replay_settings(ex, db_path, BINANCE_WS_URL=f"ws://127.0.0.1:{silent.port}/market")
    notifier = RecordingNotifier()
    stream = kline_stream(settings, notifier)
    stream.handshake_timeout = 0.2
    assert stream.start()
    started = time.monotonic()
    assert silent.wait_for_connections(3), "no retry after a hung handshake"
    assert notifier.wait_for(lambda ns: any("cannot connect" in text(n) for n in ns), 5)
    st = stream.status()
    # What the bot's feed watch needs to call it down: running, not connected, and an age.
    assert st.running and not st.connected
    assert st.last_message_age is not None and st.last_message_age >= time.monotonic() - started
    t0 = time.monotonic()
    assert stream.stop() is True
    assert time.monotonic() - t0 < 2


def test_stop_during_a_hung_rest_call_ends_the_thread_and_start_works_at_once(silent, db_path):
    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.05) as ex:
        settings = replay_settings(ex, db_path, BINANCE_REST_URL=f"http://127.0.0.1:{silent.port}")
        stream = kline_stream(settings, RecordingNotifier())
        assert stream.start()
        assert stream.wait_until(lambda s: s.connected, 10)
        assert silent.wait_for_connections(1)  # the catch-up's request is hanging now
        thread = stream._thread
        t0 = time.monotonic()
        assert stream.stop() is True
        assert time.monotonic() - t0 < 2
        assert thread is not None and not thread.is_alive()
        assert stream.start() is True  # not "Already running."
        assert stream.wait_until(lambda s: s.connected, 10)
        assert stream.stop() is True


def test_each_drop_reports_its_own_close_code(db_path):
    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.02) as ex:
        notifier = RecordingNotifier()
        stream = kline_stream(replay_settings(ex, db_path), notifier)
        stream.start()
        assert stream.wait_until(lambda s: s.connected and s.closed_candles >= 3, 20)

        def reconnects(n: int) -> bool:
            return notifier.wait_for(lambda ns: sum(x.kind == "reconnected" for x in ns) >= n, 10)

        ex.faults.drop_after_messages(1)  # abnormal: no close frame at all
        assert reconnects(1)
        ex.faults.close_with(4001, "first reason")
        assert reconnects(2)
        ex.faults.close_with(4002, "second reason")
        assert reconnects(3)
        stream.stop()
    drops = [text(n) for n in notifier.notices if n.kind == "socket_error"]
    assert len(drops) == 3, drops
    assert "4001" in drops[1] and "first reason" in drops[1], drops
    assert "4002" in drops[2] and "second reason" in drops[2], drops


@pytest.mark.slow
def test_a_stale_stream_stuck_in_rest_is_reported_once(silent, db_path):
    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.05) as ex:
        settings = replay_settings(
            ex, db_path, BINANCE_REST_URL=f"http://127.0.0.1:{silent.port}", STREAM_STALE_SECONDS="1"
        )
        notifier = RecordingNotifier()
        stream = kline_stream(settings, notifier)
        stream.start()
        assert notifier.wait_for(lambda ns: any(n.kind == "stale" for n in ns), 10)
        # Three more stale periods with the thread still stuck: no second notice.
        assert not notifier.wait_for(lambda ns: sum(n.kind == "stale" for n in ns) >= 2, 3)
        st = stream.status()
        assert st.last_message_age is not None and st.last_message_age > 2  # the feed watch sees it
        assert stream.stop() is True
