"""The background trading thread: one websocket-client connection for all symbols, its whole
lifecycle (open, message, error, close, reconnect), gap backfill and a watchdog.

Why it is shaped like this:
- websocket-client's `run_forever(reconnect=…)` calls on_open again after a reconnect (or
  on_reconnect if given), calls on_error for drops only on the *first* connection, and
  on_close only at final teardown. So the stream counts drops itself, through a small
  Dispatcher subclass that sees every read loop end and every reconnect wait. The same
  subclass makes the reconnect wait interruptible, so stop() never waits out a backoff.
- `skip_utf8_validation=True`: the library's UTF-8 check is pure Python, byte by byte,
  and costs more than everything else per frame; json.loads validates the text anyway.
- stop() shuts the raw socket down after clearing keep_running, which wakes the
  dispatcher's select at once (ws.close() from another thread can wait out the select
  timeout).
- Every (re)connect first backfills over REST from the last stored candle, *after* the
  socket is open: anything closing later arrives on the socket, anything before is in the
  REST answer, and upserts make the overlap harmless. A closed candle that skips ahead of
  the stored series also triggers a backfill, so the table never has a hole.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import websocket
from websocket import ABNF
from websocket._dispatcher import Dispatcher, SSLDispatcher

from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from trading.candles import Candle, MalformedFrame, parse_kline_message
from trading.config import Settings
from trading.market import ExchangeUnavailable, closed_candles, make_client, server_time_ms
from trading.notifier import Notice, Notifier

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
PING_INTERVAL = 20.0
PING_TIMEOUT = 10.0


def stream_url(ws_base: str, symbols: tuple[str, ...], interval: str) -> str:
    streams = "/".join(f"{s.lower()}@kline_{interval}" for s in symbols)
    return f"{ws_base.rstrip('/')}/stream?streams={streams}"


@dataclass
class StreamStatus:
    """A consistent snapshot for /status; times are wall-clock UTC or seconds."""

    running: bool
    connected: bool
    started_at: datetime | None
    connected_since: datetime | None
    last_message_age: float | None
    messages: int
    closed_candles: int
    reconnects: int
    drops: int
    malformed: dict[str, int]
    last_closed: dict[str, Candle]
    forming: dict[str, Candle]
    last_error: str | None

    @property
    def uptime(self) -> float | None:
        if not self.started_at:
            return None
        return (datetime.now(UTC) - self.started_at).total_seconds()


@dataclass
class _State:
    running: bool = False
    connected: bool = False
    started_at: datetime | None = None
    connected_since: datetime | None = None
    last_message: float = 0.0  # time.monotonic()
    messages: int = 0
    closed_candles: int = 0
    reconnects: int = 0
    drops: int = 0
    failed_attempts: int = 0
    dropped_at: float | None = None
    malformed: dict[str, int] = field(default_factory=dict)
    last_closed: dict[str, Candle] = field(default_factory=dict)
    forming: dict[str, Candle] = field(default_factory=dict)
    last_error: str | None = None


class _StreamHooks:
    """Mixin over websocket-client's dispatchers: report drops, own the reconnect wait."""

    stream: KlineStream
    app: websocket.WebSocketApp

    def read(
        self, sock: Any, read_callback: Callable[[], bool], check_callback: Callable[[], bool]
    ) -> None:
        try:
            super().read(sock, read_callback, check_callback)  # type: ignore[misc]
        except Exception as e:
            self.stream._connection_lost(e)
            raise
        if self.app.keep_running:
            # The loop ended without an exception: the server sent a close frame.
            self.stream._connection_lost(self.stream._close_text())

    def reconnect(self, seconds: int, reconnector: Callable[..., None]) -> None:
        if not self.stream._before_reconnect():
            self.app.keep_running = False
            return
        reconnector(reconnecting=True)


class _Dispatcher(_StreamHooks, Dispatcher):
    pass


class _SSLDispatcher(_StreamHooks, SSLDispatcher):
    pass


class _App(websocket.WebSocketApp):
    stream: KlineStream

    def create_dispatcher(self, ping_timeout, dispatcher=None, is_ssl=False, handleDisconnect=None):  # type: ignore[no-untyped-def]  # noqa: N803
        timeout = ping_timeout or 10
        d = _SSLDispatcher(self, timeout) if is_ssl else _Dispatcher(self, timeout)
        d.stream = self.stream
        return d


class KlineStream:
    """Start/stop are thread-safe and idempotent; everything else runs on the stream thread."""

    def __init__(
        self,
        settings: Settings,
        notifier: Notifier,
        *,
        on_closed_candle: Callable[[Candle], None] | None = None,
        latency_recorder: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.notifier = notifier
        self.on_closed_candle = on_closed_candle
        self.latency_recorder = latency_recorder
        self.url = stream_url(settings.binance_ws_url, settings.symbols, settings.interval)
        self._interval_ms = settings.interval_ms
        self._lifecycle = threading.Lock()  # serialises start/stop
        self._state_lock = threading.Condition()
        self._state = _State()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._ws: _App | None = None
        self._last_stored: dict[str, int] = {}
        self._history: dict[str, deque[Candle]] = {
            s: deque(maxlen=settings.warmup_candles) for s in settings.symbols
        }
        # Created on the stream thread (sqlite connections belong to one thread).
        self._klines: KlineStore | None = None
        self._events: EventLog | None = None
        self._client: Any = None
        self._close_frame: Any = None
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

    def start(self) -> bool:
        """Start the stream thread; False (and nothing changes) if it is already running."""
        with self._lifecycle:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._stop.clear()
            with self._state_lock:
                self._state = _State(running=True, started_at=datetime.now(UTC))
            self._thread = threading.Thread(target=self._run, name="trading-stream", daemon=True)
            self._thread.start()
            self._watchdog = threading.Thread(
                target=self._watch, name="stream-watchdog", daemon=True
            )
            self._watchdog.start()
            return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the socket and join the thread; False if it was not running."""
        with self._lifecycle:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return False
            self._stop.set()
            ws = self._ws
            if ws is not None:
                ws.keep_running = False
                _shutdown(ws)
            thread.join(timeout)
            if self._watchdog is not None:
                self._watchdog.join(timeout)
            if thread.is_alive():
                log.error("stream thread did not stop within %.1fs", timeout)
                return True
            self._thread = None
            return True

    def status(self) -> StreamStatus:
        with self._state_lock:
            s = self._state
            age = time.monotonic() - s.last_message if s.last_message else None
            return StreamStatus(
                running=s.running,
                connected=s.connected,
                started_at=s.started_at,
                connected_since=s.connected_since,
                last_message_age=age,
                messages=s.messages,
                closed_candles=s.closed_candles,
                reconnects=s.reconnects,
                drops=s.drops,
                malformed=dict(s.malformed),
                last_closed=dict(s.last_closed),
                forming=dict(s.forming),
                last_error=s.last_error,
            )

    def history(self, symbol: str) -> list[Candle]:
        """Closed candles kept in memory for the strategy (warm-up + live), oldest first."""
        with self._state_lock:
            return list(self._history.get(symbol, ()))

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
            self._klines = KlineStore(db)
            self._events = EventLog(db)
            self._client = make_client(self.settings)
            self._events.record("start", self.url, symbols=",".join(self.settings.symbols))
            self._load_history()
            ws = _App(
                self.url,
                on_open=self._on_open,
                on_reconnect=self._on_reconnect,
                on_message=self._on_message,
                on_error=self._on_error,
                on_close=self._on_close,
            )
            ws.stream = self
            self._ws = ws
            if self._stop.is_set():
                return
            # reconnect=1 is only a truthy flag: our dispatcher owns the delay (backoff + jitter).
            ws.run_forever(reconnect=1, **self.run_options)
        except Exception as e:  # the thread must report, never die silently
            log.exception("stream thread failed")
            self._notify("socket_error", f"socket error: {e}", error=str(e))
        finally:
            self._ws = None
            with self._state_lock:
                self._state.running = False
                self._state.connected = False
                self._state_lock.notify_all()
            db.close()

    def _load_history(self) -> None:
        assert self._klines is not None
        n = self.settings.warmup_candles
        for symbol in self.settings.symbols:
            rows = self._klines.latest(symbol, self.settings.interval, n)
            candles = [Candle.from_row(r) for r in rows]
            with self._state_lock:
                self._history[symbol].clear()  # a restart reloads it from SQLite
                self._history[symbol].extend(candles)
                if candles:
                    self._state.last_closed[symbol] = candles[-1]
            if candles:
                self._last_stored[symbol] = candles[-1].open_time

    # ------------------------------------------------------------------ ws callbacks
    def _on_open(self, ws: websocket.WebSocketApp) -> None:
        self._opened(ws, first=True)

    def _on_reconnect(self, ws: websocket.WebSocketApp) -> None:
        self._opened(ws, first=False)

    def _opened(self, ws: websocket.WebSocketApp, *, first: bool) -> None:
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
        self._watch_close_frames(ws)
        assert self._events is not None
        symbols = ",".join(self.settings.symbols)
        self._events.record("connect" if first else "reconnect", self.url, symbols=symbols)
        backfilled = self._catch_up()
        self._state.last_message = time.monotonic()  # the catch-up is not silence
        if first:
            self._notify(
                "socket_started",
                f"socket started: streaming {symbols} {self.settings.interval}"
                + (f" (warm-up fetched {backfilled} candles)" if backfilled else ""),
                backfilled=backfilled,
            )
        else:
            after = f" after {down_for:.1f}s" if down_for is not None else ""
            self._notify(
                "reconnected",
                f"reconnected{after}; backfilled {backfilled} candle{'s' if backfilled != 1 else ''}",
                backfilled=backfilled,
            )

    def _watch_close_frames(self, ws: websocket.WebSocketApp) -> None:
        """Keep the server's close frame: websocket-client drops it when it reconnects."""
        self._close_frame = None
        sock = ws.sock
        if sock is None:
            return
        recv = sock.recv_data_frame

        def recv_data_frame(control_frame: bool = False) -> tuple[int, Any]:
            op, frame = recv(control_frame)
            if op == ABNF.OPCODE_CLOSE:
                self._close_frame = frame
            return op, frame

        sock.recv_data_frame = recv_data_frame  # type: ignore[method-assign]

    def _close_text(self) -> str:
        frame, code, reason = self._close_frame, None, None
        if frame is not None and self._ws is not None:
            code, reason = self._ws._parse_close_frame(frame)
        return f"server closed the connection (code {code}{': ' + reason if reason else ''})"

    def _on_message(self, ws: websocket.WebSocketApp, raw: str | bytes) -> None:
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
        closed = candle.closed
        if closed:
            self._closed(candle)
        else:
            st.forming[candle.symbol] = candle
        if self.latency_recorder is not None:
            self.latency_recorder(time.perf_counter_ns() - t0, closed)

    def _on_error(self, ws: websocket.WebSocketApp, error: Exception) -> None:
        # Only the first connection's drops and callback exceptions land here; drops are
        # reported by _connection_lost, so just remember the text.
        text = _describe(error)
        with self._state_lock:
            self._state.last_error = text
            connected = self._state.connected
        if self._events is not None:
            self._events.record("error", text)
        if connected:  # not a drop (those were reported by _connection_lost)
            self._notify("socket_error", f"socket error: {text}", error=text)

    def _on_close(self, ws: websocket.WebSocketApp, code: int | None, reason: str | None) -> None:
        with self._state_lock:
            self._state.connected = False
            self._state_lock.notify_all()
        if self._events is not None:
            self._events.record("stop", f"code={code} reason={reason or ''}".strip())
        self._notify("socket_stopped", "socket stopped", code=code, reason=reason)

    # ------------------------------------------------------------------ candles
    def _closed(self, candle: Candle) -> None:
        assert self._klines is not None
        symbol = candle.symbol
        last = self._last_stored.get(symbol)
        if last is not None and candle.open_time > last + self._interval_ms:
            # A hole: something was missed on this connection. Fill it before this candle;
            # if REST is down, keep the hole open so the next closed candle retries it.
            try:
                self._backfill(
                    symbol, last + self._interval_ms, candle.open_time - self._interval_ms, None
                )
            except ExchangeUnavailable:
                log.error("backfill before %s %s failed; will retry", symbol, candle.open_time)
                return
        self._klines.upsert(candle, "ws")
        last = self._last_stored.get(symbol)
        is_new = last is None or candle.open_time > last
        if is_new:
            self._accept(candle)
        if is_new and self.on_closed_candle is not None:
            try:
                self.on_closed_candle(candle)
            except Exception:
                log.exception("strategy hook failed on %s %s", symbol, candle.open_time)

    def _accept(self, candle: Candle) -> None:
        """Book a newly stored closed candle into memory (in time order)."""
        self._last_stored[candle.symbol] = candle.open_time
        with self._state_lock:
            st = self._state
            st.closed_candles += 1
            st.last_closed[candle.symbol] = candle
            self._history[candle.symbol].append(candle)
            forming = st.forming.get(candle.symbol)
            if forming is not None and forming.open_time <= candle.open_time:
                del st.forming[candle.symbol]
            self._state_lock.notify_all()

    def _catch_up(self) -> int:
        """Fetch every closed candle missing since the last stored one (or the warm-up window)."""
        total = 0
        try:
            now = server_time_ms(self._client, self._stop)
            # Exactly WARMUP_CANDLES closed candles: the forming one opened at now // iv * iv.
            iv = self._interval_ms
            warm_start = (now // iv - self.settings.warmup_candles) * iv
            for symbol in self.settings.symbols:
                last = self._last_stored.get(symbol)
                start = warm_start if last is None else max(last + self._interval_ms, warm_start)
                total += self._backfill(symbol, start, None, now)
        except ExchangeUnavailable as e:
            self._notify("socket_error", f"socket error: backfill failed, {e}", error=str(e))
        return total

    def _backfill(self, symbol: str, start: int, end: int | None, now: int | None) -> int:
        assert self._klines is not None and self._events is not None
        try:
            candles = closed_candles(
                self._client,
                symbol,
                self.settings.interval,
                start,
                end,
                now_ms=now,
                stop=self._stop,
            )
        except ExchangeUnavailable as e:
            self._events.record("error", f"backfill {symbol}: {e}", symbols=symbol)
            raise
        last = self._last_stored.get(symbol)
        fresh = [c for c in candles if last is None or c.open_time > last]
        self._klines.upsert_many(candles, "rest")
        for c in fresh:
            self._accept(c)
        if candles:
            self._events.record(
                "backfill", f"{symbol} {start}..{end or now}", count=len(fresh), symbols=symbol
            )
        return len(fresh)

    # ------------------------------------------------------------------ drops, reconnects, watchdog
    def _connection_lost(self, error: Exception | str) -> None:
        text = error if isinstance(error, str) else _describe(error)
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
        self._notify("socket_error", f"socket error: {text}; reconnecting", error=text)

    def _before_reconnect(self) -> bool:
        """Wait out the backoff; False if stop() was asked meanwhile."""
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
            self._notify(
                "socket_error",
                f"socket error: cannot connect ({last_error or 'no answer'}); retrying in {delay:.1f}s",
                error=last_error,
            )
        if attempt >= 1 and self._events is not None:
            self._events.record(
                "error", f"reconnect attempt {attempt} failed; next in {delay:.1f}s"
            )
            if attempt in (1, 5) or attempt % 20 == 0:
                self._notify(
                    "socket_error",
                    f"socket error: reconnect attempt {attempt} failed; retrying in {delay:.1f}s",
                    attempt=attempt,
                )
        return not self._stop.wait(delay)

    def _watch(self) -> None:
        stale = self.settings.stream_stale_seconds
        period = min(1.0, stale / 4)
        while not self._stop.wait(period):
            st = self._state
            if not st.connected or not st.last_message:
                continue
            quiet = time.monotonic() - st.last_message
            if quiet < stale:
                continue
            ws = self._ws
            st.last_message = time.monotonic()  # one trip per stale period
            log.warning("no message for %.0fs; forcing reconnect", quiet)
            self._watchdog_trip(quiet)
            if ws is not None:
                _shutdown(ws)

    def _watchdog_trip(self, quiet: float) -> None:
        # Recorded from the watchdog thread with its own connection (sqlite is per thread).
        db = open_db(self.settings.db_path)
        try:
            EventLog(db).record("watchdog", f"no message for {quiet:.0f}s")
        finally:
            db.close()
        self._notify(
            "stale", f"stream stale: no message for {quiet:.0f}s, forcing reconnect", quiet=quiet
        )

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

    def _notify(self, kind: str, text: str, **data: Any) -> None:
        try:
            self.notifier.notify(Notice(kind, text, data))
        except Exception:
            log.exception("notifier failed on %s", kind)


def _describe(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:200]


def _shutdown(ws: websocket.WebSocketApp) -> None:
    """Wake the dispatcher's select by shutting the raw socket down (any thread)."""
    sock = getattr(ws.sock, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
