"""The group's send budget, with the money path first.

Telegram lets a bot post about 20 messages a minute to one group and answers 429 beyond it.
PTB's AIORateLimiter waits for that budget first come, first served, so a burst of command
replies made a proposal or a fill wait behind them for a minute. This limiter keeps the same
budget (a sliding window per group; sends and edits count, answerCallbackQuery does not) but
serves waiters by priority: URGENT (proposals, fills, refusals, confirmations) before NORMAL
(command replies, periodic posts), and NORMAL may use only part of the window, so an urgent
message always finds budget within seconds. The priority is a context variable, set with
`urgent()` around the sends that carry money news: PTB's shortcut methods have no room for
per-call limiter arguments, and a context variable follows the call down to the request.
A 429 is waited out (its retry_after) and sent again, up to `max_retries` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

URGENT, NORMAL = 0, 1
PRIORITY: contextvars.ContextVar[int] = contextvars.ContextVar("send_priority", default=NORMAL)

# Methods that put something in a chat: these spend a group's budget.
GROUP_METHODS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup",
        "editMessageText", "editMessageCaption", "editMessageReplyMarkup",
    }
)


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Sends made inside go before command replies and periodic posts."""
    token = PRIORITY.set(URGENT)
    try:
        yield
    finally:
        PRIORITY.reset(token)


@dataclass
class _Chat:
    sent: deque[float] = field(default_factory=deque)
    waiting: list[tuple[int, int]] = field(default_factory=list)  # heap of (priority, seq)
    blocked_until: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class PriorityRateLimiter(BaseRateLimiter[int]):
    def __init__(
        self,
        *,
        overall_per_second: float = 30,
        group_per_minute: float = 20,
        reserved_urgent: int = 8,
        max_retries: int = 3,
        window: float = 61.0,
    ) -> None:
        """A send occupies its slot for `window` seconds: a minute plus a margin, because
        Telegram counts when the request arrives, a little after this limiter let it go."""
        self.overall_per_second = overall_per_second
        self.group_limit = max(1, int(group_per_minute))
        self.normal_limit = max(1, self.group_limit - max(0, reserved_urgent))
        self.max_retries = max_retries
        self.window = window
        self._chats: dict[int, _Chat] = {}
        self._seq = itertools.count()
        self._overall: deque[float] = deque()
        self.waited: dict[int, float] = {URGENT: 0.0, NORMAL: 0.0}  # seconds spent waiting, per priority

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        priority = rate_limit_args if rate_limit_args is not None else PRIORITY.get()
        chat_id = _group_id(endpoint, data)
        attempt = 0
        while True:
            if endpoint in GROUP_METHODS:
                await self._overall_slot()
            if chat_id is not None:
                await self._group_slot(chat_id, priority)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                attempt += 1
                wait = e.retry_after
                seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
                if chat_id is not None:
                    chat = self._chats[chat_id]
                    chat.blocked_until = max(chat.blocked_until, _now() + seconds)
                    chat.poke()
                if attempt > self.max_retries:
                    raise
                log.info("%s to %s: Telegram asks to wait %.0fs (429); waiting", endpoint, chat_id, seconds)
                if chat_id is None:
                    await asyncio.sleep(seconds)

    async def _overall_slot(self) -> None:
        limit = max(1, int(self.overall_per_second))
        while True:
            now = _now()
            while self._overall and self._overall[0] <= now - 1.0:
                self._overall.popleft()
            if len(self._overall) < limit:
                self._overall.append(now)
                return
            await asyncio.sleep(self._overall[0] + 1.0 - now)

    async def _group_slot(self, chat_id: int, priority: int) -> None:
        chat = self._chats.setdefault(chat_id, _Chat())
        me = (priority, next(self._seq))
        heapq.heappush(chat.waiting, me)
        began = _now()
        limit = self.group_limit if priority == URGENT else self.normal_limit
        try:
            while True:
                now = _now()
                while chat.sent and chat.sent[0] <= now - self.window:
                    chat.sent.popleft()
                delay: float | None = None
                if chat.waiting[0] == me:
                    if now < chat.blocked_until:
                        delay = chat.blocked_until - now
                    elif len(chat.sent) >= limit:
                        delay = chat.sent[len(chat.sent) - limit] + self.window - now
                    else:
                        heapq.heappop(chat.waiting)
                        chat.sent.append(now)
                        chat.poke()
                        self.waited[priority] = self.waited.get(priority, 0.0) + (now - began)
                        return
                event = chat.changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), delay)
        except BaseException:
            if me in chat.waiting:
                chat.waiting.remove(me)
                heapq.heapify(chat.waiting)
                chat.poke()
            raise


def _group_id(endpoint: str, data: dict[str, Any]) -> int | None:
    if endpoint not in GROUP_METHODS:
        return None
    raw = data.get("chat_id")
    try:
        chat_id = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return chat_id if chat_id < 0 else None


def _now() -> float:
    return asyncio.get_running_loop().time()
