"""The trading thread's notifier, bridged onto PTB's event loop.

The trading thread calls notify() and returns at once: the notice is appended to a deque
and the consumer task on PTB's loop is woken with call_soon_threadsafe. That one task
sends them in order. When notices pile up (a reconnect storm, Telegram's
20-messages-a-minute group limit) the consumer packs everything waiting into one message
instead of falling further behind.

Delivery, per notice kind. A send that provably did not reach Telegram (429 RetryAfter,
connection refused or timed out before the request was written, an error status Telegram
answered with) is sent again, so nothing is lost or reordered. A send whose answer never
came (read timeout, connection dropped after the request was written) may well have been
posted: Telegram is slow, not lost. Resending it is what showed the same notice three
times, so by default such a message is treated as sent and logged (at-most-once on
ambiguity). Kinds in AT_LEAST_ONCE (signals, fills and refused orders: a missed one costs more
than a duplicate) are sent again in that case instead. Notices that will carry buttons or photos
must be sent alone, never packed; `_pack` is the one place that decides what goes together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.ratelimit import PRIORITY, URGENT
from bot.texts import text
from bot.views import MAX_MESSAGE, notice_html
from trading.core.events import Event

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[object]]
Deliver = Callable[[Event], Awaitable[object]]

# Notices that carry buttons or edit an earlier message: rendered by their own deliverer,
# always alone, never packed with others (a packed message could not keep their buttons).
SOLO: frozenset[str] = frozenset({"proposal", "proposal_update"})

# Sent again when Telegram may or may not have posted them (see the module docstring).
AT_LEAST_ONCE: frozenset[str] = frozenset({"signal", "order_filled", "order_refused", "proposal", "storage_fault"})

# httpx failures that happen before Telegram has the whole request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)


async def _render(deliver: Deliver, notice: Event, _html: str) -> object:
    return await deliver(notice)


def proven_undelivered(e: BaseException) -> bool:
    """True when Telegram cannot have posted the message, so sending it again is safe."""
    if isinstance(e, RetryAfter):
        return True
    cause = e.__cause__
    if isinstance(e, NetworkError) and not isinstance(e, TimedOut) and not isinstance(cause, httpx.HTTPError):
        return True  # Telegram (or its proxy) answered with an error status
    return isinstance(cause, _NOT_SENT)


@dataclass(frozen=True)
class _Queued:
    kind: str
    html: str
    notice: Event | None = None  # kept for SOLO kinds, whose deliverer renders them


URGENT_KINDS: frozenset[str] = frozenset(
    {"proposal", "proposal_update", "order_filled", "order_refused", "signal", "reconciled"}
)
"""Money news: sent by their own consumer with the rate limiter's URGENT priority, so they
never wait behind socket chatter or command replies for the group's budget."""


class _Lane:
    """One ordered queue and its consumer task."""

    def __init__(self, name: str, priority: bool) -> None:
        self.name = name
        self.priority = priority
        self.pending: deque[_Queued] = deque()
        self.wake: asyncio.Event | None = None
        self.idle: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None


class TelegramNotifier:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes = {"urgent": _Lane("urgent", True), "normal": _Lane("normal", False)}
        self._deliver: Deliver | None = None
        self._reach: Any = None  # bot.reach.ChatReach: what a 403 (bot removed) waits for
        self._watchers: list[Callable[[Event], None]] = []
        self.sent = 0

    def watch(self, watcher: Callable[[Event], None]) -> Callable[[], None]:
        """Also hand every notice to `watcher` (the dashboard's live updates), on the thread
        that notified; it must return at once. The chat's delivery is not changed by it.
        Returns the function that stops the watching."""
        self._watchers = [*self._watchers, watcher]

        def stop() -> None:
            self._watchers = [w for w in self._watchers if w is not watcher]

        return stop

    def held(self) -> int:
        """Notices waiting to be sent, all lanes."""
        return sum(len(lane.pending) for lane in self._lanes.values())

    @property
    def _pending(self) -> deque[_Queued]:  # the normal lane (kept for callers that look)
        return self._lanes["normal"].pending

    # ---------------------------------------------------------------- trading thread side
    def notify(self, notice: Event) -> None:
        # deque.append is atomic; the loop is only poked to wake the consumer.
        solo = notice if notice.kind in SOLO else None
        lane = self._lanes["urgent" if notice.kind in URGENT_KINDS else "normal"]
        lane.pending.append(_Queued(notice.kind, notice_html(notice), solo))
        loop, wake = self._loop, lane.wake
        if loop is not None and wake is not None:  # before the bot is up: bind() starts with what is queued
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # loop closed: the bot is shutting down
                log.info("notice after shutdown not sent: %s", text(notice))
        for watcher in self._watchers:
            try:
                watcher(notice)
            except Exception:
                log.exception("a notice watcher failed on %s", notice.kind)

    # ---------------------------------------------------------------- event loop side
    def bind(self, send: Send, deliver: Deliver | None = None, reach: Any = None) -> None:
        """Start the consumers on the running loop; `send` posts one HTML message, `deliver`
        renders a SOLO notice (a proposal with its buttons, an edit of its message)."""
        self._loop = asyncio.get_running_loop()
        self._deliver = deliver
        self._reach = reach
        for lane in self._lanes.values():
            lane.wake = asyncio.Event()
            lane.idle = asyncio.Event()
            lane.wake.set()
            lane.task = asyncio.create_task(self._consume(lane, send), name=f"notices-{lane.name}")

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued notice was sent (used at shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                for lane in self._lanes.values():
                    if lane.idle is None or lane.wake is None:
                        continue
                    while lane.pending or not lane.idle.is_set():
                        lane.idle.clear()
                        lane.wake.set()
                        await lane.idle.wait()

    async def close(self) -> None:
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
        self._loop = None

    async def _consume(self, lane: _Lane, send: Send) -> None:
        if lane.priority:
            PRIORITY.set(URGENT)  # this task's sends (and the deliverer's) go first
        assert lane.wake is not None and lane.idle is not None
        pending = lane.pending
        resend_delay = 1.0
        while True:
            if not pending:
                lane.idle.set()
                lane.wake.clear()
                await lane.wake.wait()
                continue
            lane.idle.clear()
            parts = self._pack(pending)
            head = parts[0]
            if head.notice is not None and self._deliver is not None:
                posted = await self._send_reliably(functools.partial(_render, self._deliver, head.notice), head.html)
            else:
                posted = await self._send_reliably(send, "\n".join(q.html for q in parts))
            for _ in parts:
                pending.popleft()
            again = [] if posted else [q for q in parts if q.kind in AT_LEAST_ONCE]
            pending.extendleft(reversed(again))
            self.sent += len(parts) - len(again)
            if again:
                await asyncio.sleep(resend_delay)
                resend_delay = min(60.0, resend_delay * 2)
            else:
                resend_delay = 1.0

    @staticmethod
    def _pack(pending: deque[_Queued]) -> list[_Queued]:
        """Everything waiting, in order, up to one message's size; a SOLO notice goes alone."""
        parts = [pending[0]]
        if parts[0].notice is not None:
            return parts
        size = len(parts[0].html)
        for q in list(pending)[1:]:
            if q.notice is not None or size + 1 + len(q.html) > MAX_MESSAGE:
                break
            parts.append(q)
            size += 1 + len(q.html)
        return parts

    async def _send_reliably(self, send: Send, text: str) -> bool:
        """Send until it is posted (True) or may have been (False); a message Telegram
        refuses (400, 403) is logged and counts as done."""
        delay = 1.0
        while True:
            try:
                await send(text)
                return True
            except RetryAfter as e:
                wait = e.retry_after
                seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
                log.info("notice rate-limited; retrying in %.1fs", seconds)
                await asyncio.sleep(seconds)
            except Forbidden as e:  # the bot was removed from the chat or blocked
                if self._reach is None:
                    log.error("notice rejected by Telegram (%s): %r", e, text[:200])
                    return True
                self._reach.lost(str(e))
                await self._reach.wait()  # kept, and sent once the chat takes messages again
            except BadRequest as e:  # a NetworkError in PTB, but sending again cannot help
                if self._reach is not None and "not enough rights" in str(e).lower():
                    self._reach.lost(str(e))  # restricted by an admin: as removed, until lifted
                    await self._reach.wait()
                    continue
                log.error("notice rejected by Telegram (%s): %r", e, text[:200])
                return True
            except NetworkError as e:
                if not proven_undelivered(e):
                    log.warning("notice may not have been posted (%s); not sent again: %r", e, text[:200])
                    return False
                log.warning("notice send failed (%s); retrying in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
            except TelegramError as e:
                log.error("notice rejected by Telegram (%s): %r", e, text[:200])
                return True
            except Exception:
                log.exception("notice could not be sent: %r", text[:200])
                return True
