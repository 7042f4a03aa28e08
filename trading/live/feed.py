"""The live driver of the candle feed (the contract is trading/core/feed.py's): socket
candles and REST catch-up in, every closed candle stored and handed on exactly once."""


from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from storage.events import EventLog
from storage.klines import KlineStore
from trading.config import Settings
from trading.core.candles import Candle
from trading.core.events import CandleClosed, Notifier
from trading.core.feed import CandleSink, HistoryOnly
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader
from trading.exchange.klines import closed_candles
from trading.exchange.rest import ExchangeUnavailable, server_time_ms
from trading.exchange.stream import KlineStream

log = logging.getLogger(__name__)


class CandleWatcher(Protocol):
    """Told each candle after the sink took it in (Engine.watch_candles): how a test or a bench
    waits until the trader has a candle, on a condition, never a sleep."""

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None: ...

    def on_candle(self, candle: Candle, backfilled: bool) -> None: ...

# ---------------------------------------------------------------------- the live driver
class LiveFeed:
    """The live driver: socket candles and REST catch-up in, the contract out.

    Runs on the stream thread, which tells it three things: a run begins (storage and
    REST client of that thread), a connection is open (`catch_up`), a candle arrived
    (`on_candle`). Everything else is its own: storage is filled from the last stored
    candle however far back (REST pages 1,500 rows), so the table never keeps a hole;
    only the sink's warm-up is bounded. A candle reaches the sink only once it is stored,
    so a restart can resume from storage exactly where the sink's cursor stands.

    Status fields (closed_count, last_closed, forming) and history are guarded by the
    stream's condition, `changed`, which is notified on every newly stored candle.
    """

    def __init__(
        self,
        settings: Settings,
        sink: CandleSink | None,
        changed: threading.Condition,
        stop: threading.Event,
    ) -> None:
        self.symbols = settings.symbols
        self.interval = settings.interval
        self._iv = settings.interval_ms
        self._keep = settings.warmup_candles
        self.sink: CandleSink = sink if sink is not None else HistoryOnly(settings.warmup_candles)
        self._changed = changed
        self._stop = stop
        self.closed_count = 0  # candles newly stored this run
        self.last_closed: dict[str, Candle] = {}
        self.forming: dict[str, Candle] = {}
        self._history: dict[str, deque[Candle]] = {s: deque(maxlen=self._keep) for s in self.symbols}
        self._stored: dict[str, int] = {}  # last stored open time
        self._decided: dict[str, int] = {}  # last open time the sink saw (warm or decided)
        self._live: set[str] = set()  # warmed this run
        self._klines: KlineStore | None = None
        self._events: EventLog | None = None
        self._client: Any = None
        self._watchers: list[CandleWatcher] = []

    def watch(self, watcher: CandleWatcher) -> None:
        """Tell `watcher` every candle the sink took in (warm-up and decided), after it did."""
        self._watchers.append(watcher)

    # ------------------------------------------------------------------ told by the stream
    def begin(self, klines: KlineStore, events: EventLog, client: Any) -> None:
        """A run starts on this thread: the sink is asked for its cursor at the first catch-up."""
        self._klines, self._events, self._client = klines, events, client
        self._live.clear()
        self._decided.clear()
        self._stored.clear()
        with self._changed:
            self.closed_count = 0
            self.forming.clear()
            for symbol in self.symbols:
                rows = klines.latest(symbol, self.interval, 1)
                if rows:
                    self._stored[symbol] = rows[0]["open_time"]
                    self.last_closed[symbol] = Candle.from_row(rows[0])

    def end(self) -> None:
        self._klines = self._events = self._client = None

    def warmup_beyond(self) -> tuple[int, int] | None:
        """For the start line: (the warm-up actually used, WARMUP_CANDLES) when the sink (the
        strategy's startup and live window) needs more than WARMUP_CANDLES, else None (the
        usual line stays); bot/texts.py words it."""
        used = max((self.sink.warmup(s) for s in self.symbols), default=0)
        return (used, self._keep) if used > self._keep else None

    def catch_up(self) -> int:
        """A connection is open: store and hand on everything closed since the last stored
        candle; the first time in a run, warm the sink first. Returns candles fetched.

        Raises ExchangeUnavailable; the next connect (or closed candle) tries again.
        """
        now = server_time_ms(self._client, self._stop)
        total = 0
        try:
            for symbol in self.symbols:
                total += self._fill(symbol, now) if symbol in self._live else self._start(symbol, now)
        finally:
            self._caught_up()
        return total

    def on_candle(self, candle: Candle) -> None:
        """A parsed socket candle (forming or closed); the hot path."""
        symbol = candle.symbol
        if not candle.closed:
            self.forming[symbol] = candle
            if symbol in self._live:
                self.sink.on_forming(candle)
            return
        try:
            if symbol not in self._live:  # the connect's catch-up failed: start here
                self._start(symbol, candle.close_time + 1)
            last = self._stored.get(symbol)
            if last is not None and candle.open_time > last + self._iv:
                # A hole on this connection: fill it before this candle.
                try:
                    self._fill(symbol, candle.close_time + 1, candle.open_time - self._iv)
                finally:
                    self._caught_up()
        except ExchangeUnavailable:
            # Keep the hole open (nothing stored, nothing handed on); the next closed
            # candle retries, so storage and the sink never skip a candle.
            log.error("backfill before %s %s failed; will retry", symbol, candle.open_time)
            return
        assert self._klines is not None
        self._klines.upsert(candle, "ws")
        last = self._stored.get(symbol)
        if last is None or candle.open_time > last:
            self._stored[symbol] = candle.open_time
            self._booked((candle,))
            self._deliver(candle, False)

    def history(self, symbol: str) -> list[Candle]:
        with self._changed:
            return list(self._history.get(symbol, ()))

    # ------------------------------------------------------------------ internals
    def _start(self, symbol: str, now: int) -> int:
        """First catch-up of a run: fill storage, warm the sink up to its cursor, then hand
        on what it has not seen (oldest first, backfilled)."""
        assert self._klines is not None
        iv = self._iv
        latest = (now - iv) // iv * iv  # the last candle closed at `now`
        cursor = self.sink.cursor(symbol)
        n = max(0, self.sink.warmup(symbol))
        warm_end = latest if cursor is None else cursor
        lo = warm_end - max(0, n - 1) * iv
        last = self._stored.get(symbol)
        if last is not None:
            lo = min(lo, last + iv)
        fetched = 0
        have = self._klines.open_times(symbol, self.interval, lo, latest)
        first_missing = next((lo + i * iv for i, t in enumerate(have) if t != lo + i * iv), None)
        if first_missing is None and len(have) < (latest - lo) // iv + 1:
            first_missing = lo + len(have) * iv
        if first_missing is not None:
            got = self._fetch(symbol, first_missing, None, now)
            known = set(have)
            fetched = sum(1 for c in got if c.open_time not in known)
        rows = self._klines.between(symbol, self.interval, warm_end - max(0, n - 1) * iv, latest)
        candles = [Candle.from_row(r) for r in rows]
        warm = [c for c in candles if c.open_time <= warm_end][-n:] if n else []
        with self._changed:
            self._history[symbol] = deque(warm, maxlen=max(self._keep, n))
        self.sink.warm(symbol, warm)
        for watcher in self._watchers:
            watcher.warm(symbol, warm)
        self._decided[symbol] = warm_end
        self._live.add(symbol)
        for c in candles:
            if c.open_time > warm_end:
                if self._stop.is_set():
                    break
                self._deliver(c, True)
        return fetched

    def _fill(self, symbol: str, now: int, end: int | None = None) -> int:
        """Store and hand on every candle after the last stored one (up to `end`)."""
        last = self._stored.get(symbol, self._decided.get(symbol))
        start = (now - self._iv) // self._iv * self._iv if last is None else last + self._iv
        fresh = [c for c in self._fetch(symbol, start, end, now) if last is None or c.open_time > last]
        for c in fresh:
            if self._stop.is_set():
                break
            self._deliver(c, True)
        return len(fresh)

    def _fetch(self, symbol: str, start: int, end: int | None, now: int) -> list[Candle]:
        """Closed candles over REST, stored and booked (not yet handed on)."""
        assert self._klines is not None and self._events is not None
        try:
            got = closed_candles(
                self._client, symbol, self.interval, start, end, now_ms=now, stop=self._stop
            )
        except ExchangeUnavailable as e:
            self._events.record("error", f"backfill {symbol}: {e}", symbols=symbol)
            raise
        last = self._stored.get(symbol)
        self._klines.upsert_many(got, "rest")
        fresh = [c for c in got if last is None or c.open_time > last]
        if fresh:
            self._stored[symbol] = fresh[-1].open_time
            self._booked(fresh)
        if got:
            self._events.record(
                "backfill", f"{symbol} {start}..{end or now}", count=len(fresh), symbols=symbol
            )
        return got

    def _booked(self, candles: Sequence[Candle]) -> None:
        """Newly stored candles, for /status and for whoever waits on `changed`."""
        last = candles[-1]
        with self._changed:
            self.closed_count += len(candles)
            self.last_closed[last.symbol] = last
            forming = self.forming.get(last.symbol)
            if forming is not None and forming.open_time <= last.open_time:
                del self.forming[last.symbol]
            self._changed.notify_all()

    def _caught_up(self) -> None:
        """A catch-up (backfilled candles) is delivered: the sink may say what it decided on them."""
        try:
            self.sink.caught_up()
        except Exception:  # a consumer bug must not stop the feed
            log.exception("candle sink failed after a catch-up")

    def _deliver(self, candle: Candle, backfilled: bool) -> None:
        symbol = candle.symbol
        if candle.open_time <= self._decided.get(symbol, -1):
            return  # at or before the cursor: warm-up only
        self._decided[symbol] = candle.open_time
        with self._changed:
            self._history[symbol].append(candle)
        try:
            self.sink.on_candle(candle, backfilled)
            for watcher in self._watchers:
                watcher.on_candle(candle, backfilled)
        except Exception:  # a consumer bug must not stop the feed
            log.exception("candle sink failed on %s %s", symbol, candle.open_time)


def kline_stream(settings: Settings, notifier: Notifier, sink: CandleSink | None = None, **options: Any) -> KlineStream:
    """The market stream with its live feed: the stream owns the socket, the feed what the
    candles mean (stored, backfilled, handed to `sink` once; no sink: history only)."""
    return KlineStream(settings, notifier, lambda changed, stop: LiveFeed(settings, sink, changed, stop), **options)


class CandleAnnouncer:
    """NOTIFY_CANDLES=1: the trader, plus a notice for every closed candle."""

    def __init__(self, trader: Trader, notifier: Notifier, filters: Callable[[str], SymbolFilters | None]) -> None:
        self._sink, self._notifier, self._filters = trader, notifier, filters
        self.cursor, self.warmup, self.warm = trader.cursor, trader.warmup, trader.warm
        self.on_forming = trader.on_forming
        self.caught_up = trader.caught_up

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        self._sink.on_candle(candle, backfilled)
        if backfilled:  # a long outage would otherwise post one message per missed candle
            return
        self._notifier.notify(CandleClosed(candle, self._filters(candle.symbol)))
