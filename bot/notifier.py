"""The trading thread's notifier, bridged onto PTB's event loop.

The trading thread calls notify() and returns at once: the notice is appended to a deque
and the consumer task on PTB's loop is woken with call_soon_threadsafe. That one task
sends them in order. When notices pile
up (a reconnect storm, Telegram's 20-messages-a-minute group limit) the consumer packs
everything waiting into one message instead of falling further behind, and on 429 it waits
the time Telegram asks and sends the same text again, so nothing is lost or reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.views import MAX_MESSAGE, notice_html
from trading.notifier import Notice

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[object]]


class TelegramNotifier:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: deque[str] = deque()
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    # ---------------------------------------------------------------- trading thread side
    def notify(self, notice: Notice) -> None:
        # deque.append is atomic; the loop is only poked to wake the consumer.
        self._pending.append(notice_html(notice))
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return  # before the bot is up: bind() starts with what is queued
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # loop closed: the bot is shutting down
            log.info("notice after shutdown not sent: %s", notice.text)

    # ---------------------------------------------------------------- event loop side
    def bind(self, send: Send) -> None:
        """Start the consumer on the running loop; `send` posts one HTML message."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._wake.set()
        self._task = asyncio.create_task(self._consume(send), name="notices")

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued notice was sent (used at shutdown)."""
        if self._idle is None or self._wake is None:
            return
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            while self._pending or not self._idle.is_set():
                self._idle.clear()
                self._wake.set()
                await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None

    async def _consume(self, send: Send) -> None:
        assert self._wake is not None and self._idle is not None
        pending = self._pending
        while True:
            if not pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self._idle.clear()
            # Pack everything waiting, in order, up to one message's size.
            parts = [pending[0]]
            size = len(parts[0])
            for html in list(pending)[1:]:
                if size + 1 + len(html) > MAX_MESSAGE:
                    break
                parts.append(html)
                size += 1 + len(html)
            await self._send_reliably(send, "\n".join(parts))
            for _ in parts:
                pending.popleft()
            self.sent += len(parts)

    async def _send_reliably(self, send: Send, text: str) -> None:
        delay = 1.0
        while True:
            try:
                await send(text)
                return
            except RetryAfter as e:
                wait = e.retry_after
                seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
                log.info("notice rate-limited; retrying in %.1fs", seconds)
                await asyncio.sleep(seconds)
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
