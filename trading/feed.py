"""The candle feed: every new closed candle handed on exactly once, in open-time order.

The live bot and the backtest share one consumer (the trader); only who drives it
differs. The contract below is what makes them agree trade for trade, so both drivers
obey it to the letter:

- `warm(symbol, candles)` first, once per run and symbol: closed candles at or before the
  consumer's cursor, oldest first, at most `consumer.warmup(symbol)` of them. State only:
  the consumer decides nothing on them.
- then `on_candle(candle, backfilled)` for every closed candle after the cursor, exactly
  once, strictly increasing open time per symbol, no hole. `backfilled` is True when the
  candle reached the feed by REST (catch-up after a connect, a gap, a restart) rather
  than on the socket: it has already closed some time ago.
- `on_forming(candle)` for intra-candle updates (live only, optional for the consumer).

A consumer that has never decided anything (`cursor` is None) gets the latest closed
candles as warm-up and decides from the first candle that closes after that.
"""

from __future__ import annotations

import gc
import gzip
import logging
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from trading.candles import Candle
from trading.config import Settings
from trading.exchange.market import ExchangeUnavailable, closed_candles, server_time_ms
from trading.intervals import interval_ms, interval_name

log = logging.getLogger(__name__)

CSV_HEADER = "open_time_ms,open,high,low,close,volume"


class CandleSink(Protocol):
    def cursor(self, symbol: str) -> int | None:
        """Open time (ms) of the last candle decided on; None if never."""

    def warmup(self, symbol: str) -> int:
        """How many closed candles of history the consumer needs (may grow after /set)."""

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        """History for state only, oldest first, before any on_candle of this run."""

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        """One new closed candle; called on the feed's thread."""

    # Optional: `caught_up()`, called once a catch-up's backfilled candles are all handed on.

    def on_forming(self, candle: Candle) -> None:
        """An update of the forming candle (live only); must be cheap."""



class HistoryOnly:
    """The sink of a stream nobody trades on (tests, benchmarks, `python -m trading`):
    never decided, so it warms on the latest candles and only keeps history."""

    def __init__(self, warmup: int) -> None:
        self._warmup = warmup

    def cursor(self, symbol: str) -> int | None:
        return None

    def warmup(self, symbol: str) -> int:
        return self._warmup

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        pass

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        pass

    def on_forming(self, candle: Candle) -> None:
        pass


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
        hook = getattr(self.sink, "caught_up", None)
        if hook is None:
            return
        try:
            hook()
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
        except Exception:  # a consumer bug must not stop the feed
            log.exception("candle sink failed on %s %s", symbol, candle.open_time)


# ---------------------------------------------------------------------- the backtest driver
def replay(sink: CandleSink, candles: Iterable[Candle], warmup: int | None = None) -> int:
    """Drive `sink` from recorded candles exactly as the live feed would; return the
    number of on_candle calls.

    Per symbol, the first `warmup` candles (default: `sink.warmup(symbol)`) go to `warm`,
    the rest to `on_candle(c, backfilled=False)`. Candles must be in open-time order per
    symbol: a repeat or a step back would be a different market than the live one saw.
    """
    pending: dict[str, list[Candle]] = {}
    need: dict[str, int] = {}
    last: dict[str, int] = {}
    delivered = 0
    for c in candles:
        symbol = c.symbol
        prev = last.get(symbol)
        if prev is not None and c.open_time <= prev:
            raise ValueError(f"{symbol}: candle {c.open_time} does not follow {prev}")
        last[symbol] = c.open_time
        buffer = pending.get(symbol)
        if buffer is None:
            if symbol in need:  # warm already: a decision candle
                sink.on_candle(c, False)
                delivered += 1
                continue
            n = need[symbol] = sink.warmup(symbol) if warmup is None else warmup
            buffer = pending[symbol] = []
            if n <= 0:
                del pending[symbol]
                sink.warm(symbol, ())
                sink.on_candle(c, False)
                delivered += 1
                continue
        buffer.append(c)
        if len(buffer) >= need[symbol]:
            sink.warm(symbol, pending.pop(symbol))
    for symbol, buffer in pending.items():  # shorter than the warm-up: state only
        sink.warm(symbol, buffer)
    return delivered


# ---------------------------------------------------------------------- recorded candles
def load_csv_candles(
    path: str | Path, symbol: str = "BTCUSDT", interval: str | None = None
) -> list[Candle]:
    """Candles from `open_time_ms,open,high,low,close,volume` (plain or gzipped), oldest first.

    The files hold no symbol or interval; the interval is the smallest step between rows
    unless given. Plain str.split rather than csv or pandas, and the garbage collector
    paused while the rows become candles (they hold no cycles, and in a process with a
    big heap each of the collections 35,000 new objects trigger walks all of it): a year
    of 15m candles loads in about 0.1 s, and the backtest loads it on every run.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        data = raw.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0].strip().replace(" ", "") != CSV_HEADER:
        raise ValueError(f"{path}: expected header {CSV_HEADER}")
    rows = [line.split(",") for line in lines[1:] if line]
    times = [int(r[0]) for r in rows]
    if interval is None:
        if len(times) < 2:
            raise ValueError(f"{path}: one row; say which interval it is")
        interval = interval_name(min(b - a for a, b in zip(times, times[1:], strict=False)))
    close_offset = interval_ms(interval) - 1
    paused = gc.isenabled()
    gc.disable()
    try:
        return [
            Candle(symbol, interval, t, t + close_offset, float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
            for t, r in zip(times, rows, strict=True)
        ]
    finally:
        if paused:
            gc.enable()


def load_stored_candles(
    db: str | KlineStore, symbol: str, interval: str, start_ms: int = 0, end_ms: int | None = None
) -> list[Candle]:
    """Closed candles the live bot stored (SQLite path or a KlineStore), start..end inclusive."""
    if isinstance(db, KlineStore):
        return [Candle.from_row(r) for r in db.between(symbol, interval, start_ms, end_ms)]
    conn = open_db(db)
    try:
        return [Candle.from_row(r) for r in KlineStore(conn).between(symbol, interval, start_ms, end_ms)]
    finally:
        conn.close()
