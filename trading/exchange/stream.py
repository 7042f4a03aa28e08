"""The background trading thread: one websocket-client connection for all symbols and its
whole lifecycle (open, message, error, close, reconnect with backoff, watchdog).

What the candles mean is the feed's business (trading/live/feed.py): the stream hands it every
parsed candle and says "a connection is open, catch up now", nothing else. What
websocket-client needs adapting for (drops after the first connection, close codes,
handshake timeout) is in trading/exchange/ws_app.py.

Why it is shaped like this:
- `skip_utf8_validation=True`: the library's UTF-8 check is pure Python, byte by byte,
  and costs more than everything else per frame; json.loads validates the text anyway.
- stop() wakes the dispatcher by shutting the raw socket down and cuts any REST request
  in flight: a hung catch-up would otherwise hold the thread while /start answers.
- Every (re)connect catches up over REST *after* the socket is open: anything closing
  later arrives on the socket, anything before is in the REST answer.
- The watchdog reports a silence once per outage, but keeps forcing the reconnect.
- A database that refuses a write (disk full) ends the thread cleanly, said once.

The file is over 400 lines because it is that one lifecycle, every state change under one
condition; the pieces that stand alone (ws_app, stream_status, stream_faults) are apart.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from trading.config import Settings
from trading.core.candles import Candle, MalformedFrame, parse_kline_message
from trading.core.events import (
    Event,
    Notifier,
    Reconnected,
    SocketError,
    SocketStarted,
    SocketStopped,
    StreamStale,
)
from trading.exchange.rest import ExchangeUnavailable, interruptible, make_client
from trading.exchange.stream_faults import storage_guarded
from trading.exchange.stream_status import StreamState
from trading.exchange.stream_status import StreamStatus as StreamStatus
from trading.exchange.ws_app import StreamApp, describe

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
PING_INTERVAL = 20.0
PING_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 10.0


# The feed the stream drives, built by its owner (trading/live/feed.py) around the stream's
# condition (status changes) and stop event: begin, catch_up, on_candle, end, history.
FeedFactory = Callable[[threading.Condition, threading.Event], Any]


def stream_url(ws_base: str, symbols: tuple[str, ...], interval: str) -> str:
    streams = "/".join(f"{s.lower()}@kline_{interval}" for s in symbols)
    return f"{ws_base.rstrip('/')}/stream?streams={streams}"


class KlineStream:
    """Start/stop are thread-safe and idempotent; everything else runs on the stream thread."""

    def __init__(
        self,
        settings: Settings,
        notifier: Notifier,
        feed: FeedFactory,
        *,
        latency_recorder: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.notifier = notifier
        self.latency_recorder = latency_recorder
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        self.url = stream_url(settings.binance_ws_url, settings.symbols, settings.interval)
        self._lifecycle = threading.Lock()  # serialises start/stop
        self._state_lock = threading.Condition()
        self._state = StreamState()
        self._stop = threading.Event()
        self._why = "start"  # why the last start or stop happened (the notices say so)
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._ws: StreamApp | None = None
        self.feed = feed(self._state_lock, self._stop)  # live/feed.py: store, backfill, deliver once
        self._feed_candle = storage_guarded(self, self.feed.on_candle)  # a refused write ends the thread
        # Created on the stream thread (sqlite connections belong to one thread).
        self._events: EventLog | None = None
        self._cut_rest: Callable[[], int] = lambda: 0
        # websocket-client options; bench/ingest.py flips skip_utf8_validation to show its cost.
        self.run_options: dict[str, Any] = {
            "ping_interval": PING_INTERVAL,
            "ping_timeout": PING_TIMEOUT,
            "skip_utf8_validation": True,
        }

    # ------------------------------------------------------------------ public API
    @property
    def running(self) -> bool:
        return self._state.running

    def start(self, why: str = "start") -> bool:
        """Start the stream thread; False (and nothing changes) if it is already running.
        `why` is "start" (a /start) or "resume" (the bot restarted while streaming): the
        first notice says which, so a redeploy does not read as someone's /start."""
        with self._lifecycle:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._why = why
            self._stop.clear()
            with self._state_lock:
                self._state = StreamState(
                    running=True, started_at=datetime.now(UTC), last_message=time.monotonic()
                )
            self._thread = threading.Thread(target=self._run, name="trading-stream", daemon=True)
            self._thread.start()
            self._watchdog = threading.Thread(
                target=self._watch, name="stream-watchdog", daemon=True
            )
            self._watchdog.start()
            return True

    def stop(self, timeout: float = 5.0, why: str = "stop") -> bool:
        """Close the socket, cut REST in flight and join the thread; True once it has ended.

        False if it was not running, or (logged) if it is still alive after `timeout`:
        a stop is never reported while the thread lives, so /start keeps refusing then.
        `why` is "stop" (a /stop) or "shutdown" (SIGTERM, a redeploy): said in the notice.
        """
        with self._lifecycle:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return False
            self._why = why
            self._stop.set()
            ws = self._ws
            if ws is not None:
                ws.keep_running = False
                ws.shutdown()
            self._cut_rest()
            thread.join(timeout)
            if self._watchdog is not None:
                self._watchdog.join(timeout)
            if thread.is_alive():
                log.error("stream thread did not stop within %.1fs", timeout)
                return False
            self._thread = None
            return True

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until the stream thread has ended (a /stop, or on its own after a refused write);
        True once no stream thread is alive."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def status(self) -> StreamStatus:
        with self._state_lock:
            s, feed = self._state, self.feed
            age = time.monotonic() - s.last_message if s.last_message else None
            return StreamStatus(
                running=s.running,
                connected=s.connected,
                started_at=s.started_at,
                connected_since=s.connected_since,
                last_message_age=age,
                messages=s.messages,
                closed_candles=feed.closed_count,
                reconnects=s.reconnects,
                drops=s.drops,
                malformed=dict(s.malformed),
                last_closed=dict(feed.last_closed),
                forming=dict(feed.forming),
                last_error=s.last_error,
            )

    def history(self, symbol: str) -> list[Candle]:
        """The feed's closed candles in memory (warm-up + decided), oldest first."""
        return self.feed.history(symbol)

    def wait_until(self, predicate: Callable[[StreamStatus], bool], timeout: float = 10.0) -> bool:
        """Block until the predicate holds for a status snapshot (notified on every state change)."""
        deadline = time.monotonic() + timeout
        with self._state_lock:
            while True:
                if predicate(self.status()):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state_lock.wait(left)

    # ------------------------------------------------------------------ thread body
    def _run(self) -> None:
        db = open_db(self.settings.db_path)
        try:
            self._events = EventLog(db)
            client = make_client(self.settings)
            self._cut_rest = interruptible(client).interrupt
            self._events.record("start", self.url, symbols=",".join(self.settings.symbols))
            self.feed.begin(KlineStore(db), self._events, client)
            ws = StreamApp(
                self.url,
                self,
                self.handshake_timeout,
                on_open=self._on_open,
                on_reconnect=self._on_reconnect,
                on_message=self._on_message,
                on_error=self._on_error,
                on_close=self._on_close,
            )
            self._ws = ws
            if self._stop.is_set():
                return
            # reconnect=1 is only a truthy flag: our dispatcher owns the delay (backoff + jitter).
            ws.run_forever(reconnect=1, **self.run_options)
        except Exception as e:  # the thread must report, never die silently
            log.exception("stream thread failed")
            self._notify(SocketError(str(e)))
        finally:
            self._ws = None
            self.feed.end()
            with self._state_lock:
                self._state.running = False
                self._state.connected = False
                self._state_lock.notify_all()
            db.close()

    # ------------------------------------------------------------------ ws callbacks
    def _on_open(self, ws: StreamApp) -> None:
        self._opened(ws, first=True)

    def _on_reconnect(self, ws: StreamApp) -> None:
        self._opened(ws, first=False)

    def _opened(self, ws: StreamApp, *, first: bool) -> None:
        if self._stop.is_set():
            # stop() raced the connect (run_forever resets keep_running): end it here.
            ws.keep_running = False
            return
        now = time.monotonic()
        with self._state_lock:
            st = self._state
            st.connected = True
            st.connected_since = datetime.now(UTC)
            st.last_message = now
            st.failed_attempts = 0
            down_for = now - st.dropped_at if st.dropped_at is not None else None
            st.dropped_at = None
            if not first:
                st.reconnects += 1
            self._state_lock.notify_all()
        ws.opened()
        assert self._events is not None
        symbols = ",".join(self.settings.symbols)
        self._events.record("connect" if first else "reconnect", self.url, symbols=symbols)
        backfilled = 0
        try:
            backfilled = self.feed.catch_up()
        except ExchangeUnavailable as e:
            self._notify(SocketError(str(e), "backfill"))
        self._state.last_message = time.monotonic()  # the catch-up is not silence
        if first:
            self._notify(SocketStarted(self.settings.symbols, self.settings.interval, self._why == "resume", backfilled,
                                       self.feed.warmup_beyond()))  # fmt: skip  (used, WARMUP_CANDLES) or None
        else:
            self._notify(Reconnected(down_for, backfilled))

    def _on_message(self, ws: StreamApp, raw: str | bytes) -> None:
        t0 = time.perf_counter_ns()
        st = self._state
        st.last_message = time.monotonic()
        st.messages += 1
        try:
            candle = parse_kline_message(raw)
        except MalformedFrame as e:
            self._malformed(e)
            return
        if candle is None:
            return
        self._feed_candle(candle)
        if self.latency_recorder is not None:
            self.latency_recorder(time.perf_counter_ns() - t0, candle.closed)

    def _on_error(self, ws: StreamApp, error: Exception) -> None:
        # Only the first connection's drops and callback exceptions land here; drops are
        # reported by connection_lost, so just remember the text.
        text = describe(error)
        with self._state_lock:
            self._state.last_error = text
            connected = self._state.connected
        if self._events is not None:
            self._events.record("error", text)
        if connected:  # not a drop (those were reported by connection_lost)
            self._notify(SocketError(text))

    def _on_close(self, ws: StreamApp, code: int | None, reason: str | None) -> None:
        with self._state_lock:
            self._state.connected = False
            self._state_lock.notify_all()
        if self._events is not None:
            self._events.record("stop", f"code={code} reason={reason or ''}".strip())
        self._notify(SocketStopped(self._why == "shutdown", code, reason))

    # ------------------------------------------------------------------ drops, reconnects, watchdog
    def connection_lost(self, text: str) -> None:
        """ConnectionHooks: a connection ended (any one, with its own reason)."""
        with self._state_lock:
            st = self._state
            if not st.connected:
                return
            st.connected = False
            st.drops += 1
            st.dropped_at = time.monotonic()
            st.last_error = text
            self._state_lock.notify_all()
        if self._events is not None:
            self._events.record("disconnect", text)
        self._notify(SocketError(text, "dropped"))

    def before_reconnect(self) -> bool:
        """ConnectionHooks: wait out the backoff; False if stop() was asked meanwhile."""
        with self._state_lock:
            st = self._state
            if st.dropped_at is None:
                st.dropped_at = time.monotonic()
            attempt = st.failed_attempts
            st.failed_attempts += 1
            never_connected = st.connected_since is None
            last_error = st.last_error
        base = self.settings.reconnect_delay
        delay = min(MAX_BACKOFF, base * (2 ** max(0, attempt - 1))) if attempt else base
        delay *= random.uniform(0.8, 1.2)
        if attempt == 0 and never_connected:
            self._notify(SocketError(last_error, "cannot_connect", delay=delay))
        if attempt >= 1 and self._events is not None:
            self._events.record(
                "error", f"reconnect attempt {attempt} failed; next in {delay:.1f}s"
            )
            if attempt in (1, 5) or attempt % 20 == 0:
                self._notify(SocketError(last_error, "retry_failed", delay=delay, attempt=attempt))
        return not self._stop.wait(delay)

    def _watch(self) -> None:
        stale = self.settings.stream_stale_seconds
        period = min(1.0, stale / 4)
        reported_at: int | None = None  # message count at the last report: one per outage
        while not self._stop.wait(period):
            st = self._state
            if not st.connected or not st.last_message:
                continue
            quiet = time.monotonic() - st.last_message
            if quiet < stale:
                continue
            ws = self._ws
            if ws is not None:
                ws.shutdown()  # again each period: harmless if the thread is still busy
            if reported_at != st.messages:
                reported_at = st.messages
                log.warning("no message for %.0fs; forcing reconnect", quiet)
                self._watchdog_trip(quiet)

    def _watchdog_trip(self, quiet: float) -> None:
        # Recorded from the watchdog thread with its own connection (sqlite is per thread).
        db = open_db(self.settings.db_path)
        try:
            EventLog(db).record("watchdog", f"no message for {quiet:.0f}s")
        finally:
            db.close()
        self._notify(StreamStale(quiet))

    def _malformed(self, e: MalformedFrame) -> None:
        counts = self._state.malformed
        n = counts.get(e.kind, 0) + 1
        counts[e.kind] = n
        if n == 1:
            log.warning(
                "malformed frame (%s) ignored; further ones of this kind are only counted", e
            )
            if self._events is not None:
                self._events.record("malformed", str(e)[:200], count=n)

    def _notify(self, event: Event) -> None:
        """Hand a typed event to the notifier (bot/texts.py words it); never raises."""
        try:
            self.notifier.notify(event)
        except Exception:
            log.exception("notifier failed on %s", event.kind)
