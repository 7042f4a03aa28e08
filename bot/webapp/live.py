"""Live updates for open dashboards: the page's data rebuilt once for all of them, at once
when the bot has news (any notice: a fill, a proposal, a candle, a stream event) and every
TICK seconds while a page is open (prices move without a notice), and handed to each open
page's stream. A slow page only ever gets the newest state, never a backlog."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

TICK = 1.0  # s between rebuilds while a page is open and nothing was notified


class LiveFeed:
    def __init__(self, build: Callable[[], Awaitable[dict[str, Any]]], tick: float = TICK) -> None:
        self._build = build
        self._tick = tick
        self._pages: set[asyncio.Queue[str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.latest: str | None = None  # the newest state, as JSON
        self.builds = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="dashboard-live")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def poke(self, *_: object) -> None:
        """From any thread (the notifier's watcher): rebuild now."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(wake.set)

    def subscribe(self) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._pages.add(q)
        self.poke()
        return q

    def unsubscribe(self, q: asyncio.Queue[str]) -> None:
        self._pages.discard(q)

    async def current(self) -> str:
        """The state now (built if nothing is open, so a first load is never stale)."""
        if self.latest is None or not self._pages:
            await self._rebuild()
        assert self.latest is not None
        return self.latest

    async def _rebuild(self) -> bool:
        state = json.dumps(await self._build(), separators=(",", ":"), ensure_ascii=False)
        self.builds += 1
        changed = state != self.latest
        self.latest = state
        return changed

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick if self._pages else None)
            self._wake.clear()
            if not self._pages:
                continue
            try:
                changed = await self._rebuild()
            except Exception:
                log.exception("dashboard: building the page's data failed")
                await asyncio.sleep(self._tick)
                continue
            if changed and self.latest is not None:
                for q in list(self._pages):
                    if q.full():
                        q.get_nowait()  # the page missed one: it gets the newer state instead
                    q.put_nowait(self.latest)
