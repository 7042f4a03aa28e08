"""The trading thread's notifier, bridged onto PTB's event loop.

The trading thread calls notify() and returns at once: the notice is put on an asyncio
queue with call_soon_threadsafe. One consumer task sends them in order. When notices pile
up (a reconnect storm, Telegram's 20-messages-a-minute group limit) the consumer packs
everything waiting into one message instead of falling further behind, and on 429 it waits
the time Telegram asks and sends the same text again, so nothing is lost or reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.views import MAX_MESSAGE, notice_html
from trading.notifier import Notice

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[object]]


class TelegramNotifier:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._early: list[str] = []
        self.sent = 0

    # ---------------------------------------------------------------- trading thread side
    def notify(self, notice: Notice) -> None:
        html = notice_html(notice)
        loop, queue = self._loop, self._queue
        if loop is None or queue is None:
            self._early.append(html)  # before the bot is up; flushed by bind()
            return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, html)
        except RuntimeError:  # loop closed: the bot is shutting down
            log.info("notice after shutdown dropped: %s", notice.text)

    # ---------------------------------------------------------------- event loop side
    def bind(self, send: Send) -> None:
        """Start the consumer on the running loop; `send` posts one HTML message."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        for html in self._early:
            self._queue.put_nowait(html)
        self._early.clear()
        self._task = asyncio.create_task(self._consume(send), name="notices")

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued notice was sent (used at shutdown)."""
        if self._queue is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None

    async def _consume(self, send: Send) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            first = await queue.get()
            parts, size, taken = [first], len(first), 1
            while not queue.empty():
                nxt = queue._queue[0]  # type: ignore[attr-defined]  # peek: stop before the limit
                if size + 1 + len(nxt) > MAX_MESSAGE:
                    break
                parts.append(queue.get_nowait())
                size += 1 + len(nxt)
                taken += 1
            await self._send_reliably(send, "\n".join(parts))
            self.sent += taken
            for _ in range(taken):
                queue.task_done()

    async def _send_reliably(self, send: Send, text: str) -> None:
        delay = 1.0
        while True:
            try:
                await send(text)
                return
            except RetryAfter as e:
                wait = e.retry_after if isinstance(e.retry_after, int | float) else e.retry_after.total_seconds()
                log.info("notice rate-limited; retrying in %.1fs", wait)
                await asyncio.sleep(float(wait))
            except (TimedOut, NetworkError) as e:
                if isinstance(e, BadRequest):
                    log.error("notice rejected by Telegram (%s): %r", e, text[:200])
                    return
                log.warning("notice send failed (%s); retrying in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
            except Exception:
                log.exception("notice could not be sent: %r", text[:200])
                return
