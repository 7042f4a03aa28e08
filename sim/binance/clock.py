"""The replay clock: which candle is forming, how far into it, and when the next update is due.

State is the index of the forming candle of the primary symbol plus how many of its
updates have gone out. Every state change happens in one synchronous step on the event
loop (publish the frames, fill orders, then advance), so a REST handler on the same
loop sees a candle as closed exactly when its x=true frame has been queued to every
connection, never before and never after.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from sim.binance.klines import KlineUpdate
from sim.binance.market import Series

log = logging.getLogger(__name__)

YIELD_EVERY_STEPS = 64  # max speed: let senders and REST handlers run this often
YIELD_EVERY_SECONDS = 0.005
# Max speed with nobody slowing it down is pure CPU work on the GIL, and a thread that
# keeps handing the GIL back and forth via epoll(0) starves the process's other threads
# (CPython only forces a switch when the holder has not released it for 5 ms). Every
# RUN_SLICE the clock therefore truly sleeps for a moment so the tests, the bot and
# start() itself get to run.
RUN_SLICE_SECONDS = 0.01
GIL_BREAK_SECONDS = 0.001


class StepItem(NamedTuple):
    series: Series
    index: int  # index of the candle in its own series
    update: KlineUpdate


class Step(NamedTuple):
    index: int  # the primary series' candle index
    k: int  # update number within the candle; k == updates_per_candle is the closed one
    closed: bool
    items: tuple[StepItem, ...]


class StepSink(Protocol):
    async def ready(self) -> None:
        """Wait until the step can be delivered without unbounded buffering (max speed)."""

    def on_step(self, step: Step) -> None:
        """Deliver the step; must not await, so the step stays atomic."""


class ReplayClock:
    def __init__(
        self,
        series: Sequence[Series],
        *,
        start_index: int = 500,
        seconds_per_candle: float = 0.2,
        updates_per_candle: int = 4,
        paused: bool = False,
        changed: threading.Condition | None = None,
    ) -> None:
        if not series:
            raise ValueError("the clock needs at least one series")
        if updates_per_candle < 0:
            raise ValueError("updates_per_candle must be >= 0")
        if seconds_per_candle < 0:
            raise ValueError("seconds_per_candle must be >= 0 (0 = max speed)")
        self.series = list(series)
        self.primary = self.series[0]
        self.updates_per_candle = updates_per_candle
        self.seconds_per_candle = seconds_per_candle
        self.changed = changed or threading.Condition()
        self._sinks: list[StepSink] = []
        self._end = len(self.primary)
        self.current_index = max(0, min(start_index, self._end))
        self.k = 0  # updates of the forming candle already sent
        self.paused = paused
        self._budget = 0  # candles to run at max speed while paused (advance())
        self._wake: asyncio.Event | None = None
        self._items: tuple[tuple[Series, int], ...] = ()
        self._items_for = -1
        self._price: dict[str, str] = {}
        for s in self.series:
            self._price[s.symbol] = self._initial_price(s)

    @property
    def finished(self) -> bool:
        return self.current_index >= self._end

    @property
    def max_speed(self) -> bool:
        return self.seconds_per_candle == 0

    def add_sink(self, sink: StepSink) -> None:
        self._sinks.append(sink)

    # ---- views (event loop; plain reads are also fine from other threads) ------------------

    def horizon_ms(self) -> int:
        """Candles opening before this time are closed, in every series."""
        p = self.primary
        if self.current_index < len(p):
            return p.times[self.current_index]
        return p.times[-1] + p.interval_ms

    def visible_count(self, series: Series) -> int:
        if series is self.primary:
            return self.current_index
        return series.count_before(self.horizon_ms())

    def market_time_ms(self) -> int:
        """Exchange time: the forming candle's open plus the part of it already replayed."""
        p = self.primary
        if self.finished:
            return p.times[-1] + p.interval_ms
        return p.times[self.current_index] + self.k * p.interval_ms // (self.updates_per_candle + 1)

    def price(self, symbol: str) -> str:
        """The last traded price: the latest update's close (or the forming candle's open)."""
        return self._price[symbol]

    def forming(self, series: Series) -> tuple[int, KlineUpdate] | None:
        """The forming candle's latest update for `series`, if any update has gone out."""
        if self.finished or self.k == 0:
            return None
        i = self._index_in(series, self.primary.times[self.current_index])
        if i is None:
            return None
        return i, series.updates(i, self.updates_per_candle)[self.k - 1]

    # ---- control (event loop) ------------------------------------------------------------

    def pause(self) -> None:
        """Nothing is published after this returns (it runs on the clock's loop, and the
        loop re-checks before every step)."""
        self.paused = True
        self._poke()

    def resume(self) -> None:
        self.paused = False
        self._budget = 0  # advance() budgets only mean something while paused
        self._poke()

    def set_speed(self, seconds_per_candle: float) -> None:
        if seconds_per_candle < 0:
            raise ValueError("seconds_per_candle must be >= 0")
        self.seconds_per_candle = seconds_per_candle
        self._poke()

    def add_budget(self, candles: int) -> int:
        """Run `candles` more candles at max speed even while paused; return the target index."""
        self._budget += max(0, candles)
        self._poke()
        return min(self._end, self.current_index + self._budget)

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ---- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        next_at: float | None = None
        since_yield = 0
        last_yield = slice_start = loop.time()
        while not self.finished:
            if self.paused and self._budget <= 0:
                self._wake.clear()
                await self._wake.wait()
                next_at = None
                continue
            fast = self.max_speed or (self.paused and self._budget > 0)
            if fast:
                for sink in self._sinks:
                    await sink.ready()
                since_yield += 1
                now = loop.time()
                if now - slice_start > RUN_SLICE_SECONDS:
                    await asyncio.sleep(GIL_BREAK_SECONDS)
                    since_yield, last_yield = 0, loop.time()
                    slice_start = last_yield
                elif since_yield >= YIELD_EVERY_STEPS or now - last_yield > YIELD_EVERY_SECONDS:
                    await asyncio.sleep(0)
                    since_yield, last_yield = 0, loop.time()
                if self.paused and self._budget <= 0 or self.finished:
                    continue
                next_at = None
            else:
                now = slice_start = loop.time()
                if next_at is None or now - next_at > self.seconds_per_candle:
                    next_at = now  # start, or fell far behind: don't burst to catch up
                next_at += self.seconds_per_candle / (self.updates_per_candle + 1)
                if next_at > now:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), next_at - now)
                    except TimeoutError:
                        pass
                    else:
                        next_at = None  # paused, sped up or slowed down: plan afresh
                        continue
                if self.paused and self._budget <= 0:
                    continue  # paused while waiting: not one more frame after pause() returned
            self.step()
        with self.changed:
            self.changed.notify_all()
        log.info("replay clock finished at candle %d", self.current_index)

    def step(self) -> Step:
        """Emit the next update of the forming candle (the last one closes it)."""
        if self.finished:
            raise RuntimeError("the replay has reached the end of its data")
        i, k = self.current_index, self.k
        step = Step(i, k, k >= self.updates_per_candle, tuple(self._step_items(i, k)))
        for item in step.items:
            self._price[item.series.symbol] = item.update.fields.c
        for sink in self._sinks:
            sink.on_step(step)
        if k >= self.updates_per_candle:
            with self.changed:
                self.current_index = i + 1
                self.k = 0
                if self.paused and self._budget > 0:
                    self._budget -= 1
                self.changed.notify_all()
            if not self.finished:
                for s in self.series:
                    j = self._index_in(s, self.primary.times[self.current_index])
                    if j is not None:
                        self._price[s.symbol] = s.candles[j].open
        else:
            self.k = k + 1
        return step

    def _step_items(self, i: int, k: int) -> list[StepItem]:
        if self._items_for != i:
            t = self.primary.times[i]
            self._items = tuple(
                (s, j) for s in self.series if (j := self._index_in(s, t)) is not None
            )
            self._items_for = i
        u = self.updates_per_candle
        return [StepItem(s, j, s.updates(j, u)[k]) for s, j in self._items]

    def _index_in(self, series: Series, open_time: int) -> int | None:
        if series is self.primary:
            return self.current_index if self.primary.times[self.current_index] == open_time else None
        return series.index_at(open_time)

    def _initial_price(self, s: Series) -> str:
        if not self.finished:
            j = self._index_in(s, self.primary.times[self.current_index])
            if j is not None:
                return s.candles[j].open
        n = self.visible_count(s)
        return s.candles[n - 1].close if n else s.candles[0].open
