"""A per-person budget for members who are not admins.

One member sending a hundred /status in a few seconds would otherwise spend the group's
whole send budget (about 20 messages a minute) on replies nobody reads, and the proposals
and fills would wait behind them. Each non-admin gets a small bucket of updates (refilled
steadily); beyond it their commands and presses are ignored, the person is told at most
once a minute in one short line, and what was ignored is counted in the audit (one row
per person and burst). Admins are never throttled: they are the ones who must act.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

PER_MINUTE = 3.0  # updates a non-admin may send per minute, on average
BURST = 5.0  # and at once
NOTE_EVERY = 60.0  # seconds between two "slow down" lines to the same person
AUDIT_AFTER = 5.0  # seconds: ignored updates are counted into one audit row per burst


@dataclass
class _Bucket:
    tokens: float
    at: float
    noted: float = float("-inf")


class Throttle:
    def __init__(
        self,
        audit: Callable[[int, int, int], Awaitable[object]],
        *,
        per_minute: float = PER_MINUTE,
        burst: float = BURST,
        note_every: float = NOTE_EVERY,
    ) -> None:
        """`audit(chat_id, user_id, count)` records a burst of ignored updates."""
        self._audit = audit
        self.rate = per_minute / 60.0
        self.burst = burst
        self.note_every = note_every
        self._buckets: dict[tuple[int, int], _Bucket] = {}
        self._ignored: dict[tuple[int, int], int] = {}
        self._flush: asyncio.TimerHandle | None = None
        self.total_ignored = 0

    def allow(self, chat_id: int, user_id: int, now: float | None = None) -> tuple[bool, bool]:
        """(run it, tell the person to slow down). Called on the event loop only."""
        now = time.monotonic() if now is None else now
        key = (chat_id, user_id)
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
        b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True, False
        self.total_ignored += 1
        self._ignored[key] = self._ignored.get(key, 0) + 1
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(AUDIT_AFTER, self._start_flush)
        tell = now - b.noted >= self.note_every
        if tell:
            b.noted = now
        return False, tell

    def _start_flush(self) -> None:
        self._flush = None
        counts, self._ignored = self._ignored, {}
        if counts:
            asyncio.get_running_loop().create_task(self._write(counts))

    async def flush(self) -> None:
        """At shutdown: what is still only counted in memory goes to the audit now."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        counts, self._ignored = self._ignored, {}
        await self._write(counts)

    async def _write(self, counts: dict[tuple[int, int], int]) -> None:
        for (chat_id, user_id), n in counts.items():
            try:
                await self._audit(chat_id, user_id, n)
            except Exception:
                log.exception("audit of %d throttled updates failed", n)


def slow_down_line(who: str) -> str:
    return f"⚠️ {who}: slow down, too many requests; the next ones this minute are ignored."
