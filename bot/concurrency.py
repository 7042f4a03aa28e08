"""Updates are handled concurrently, each person's in one chat in the order they came, and an
admin's never wait behind a member's.

PTB handles one update at a time by default, so a member's hundred /status made an admin's
Confirm wait for all of them. Here every update is its own task; what must stay ordered is
what one person does in one chat (a /long then a /close, two presses in a row), so those
share a lock. The money path itself is safe under concurrency on its own: proposals move by
conditional updates in SQLite and orders are placed under the trader's lock.

PTB's own bound on concurrent updates is taken before this class sees an update, so one
member's queue (each waiting on that member's lock) used to hold every one of its slots and
an admin's /pause or Confirm waited behind them for minutes. PTB's bound is therefore set out
of reach here, and the bound that counts is applied in order: first `admit(update)` decides,
before the update holds anything, whether it runs at all (a member over the per-person budget
is dropped there) and whether it is an admin's; members' admitted updates then share
`max_member_updates` slots, admins' take none.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT = 256  # members' updates handled at once
UNBOUNDED = 2**31 - 1  # PTB's semaphore: never the one that makes an update wait


class Admit(Enum):
    DROP = "drop"  # not run (and holding nothing)
    MEMBER = "member"  # run, in one of the members' slots
    ADMIN = "admin"  # run now: admins and Telegram's own updates never wait for members


class PerSenderOrder(BaseUpdateProcessor):
    def __init__(self, max_member_updates: int = MAX_CONCURRENT) -> None:
        super().__init__(UNBOUNDED)
        self.max_member_updates = max_member_updates
        self._members: asyncio.Semaphore | None = None
        self._locks: dict[tuple[int | None, int | None], tuple[asyncio.Lock, int]] = {}
        self.admit: Callable[[object], Admit] = lambda update: Admit.MEMBER

    async def initialize(self) -> None:
        self._members = asyncio.Semaphore(self.max_member_updates)

    async def shutdown(self) -> None:
        return None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        verdict = self.admit(update)
        if verdict is Admit.DROP:
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never started: nothing to wait for, no "never awaited"
            return
        key = sender_key(update)
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:  # waiting for one's own earlier update holds no slot
                if verdict is Admit.ADMIN:
                    await coroutine
                else:
                    if self._members is None:
                        self._members = asyncio.Semaphore(self.max_member_updates)
                    async with self._members:
                        await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def sender_key(update: object) -> tuple[int | None, int | None]:
    if not isinstance(update, Update):
        return (None, None)
    chat, user = update.effective_chat, update.effective_user
    return (chat.id if chat else None, user.id if user else None)
