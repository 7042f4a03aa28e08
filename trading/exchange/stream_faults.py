"""What the stream does when the database refuses a write.

A lock held by another process (a backup, an sqlite3 shell, a second tool: `database is
locked` after the busy timeout) is transient: the same candle is fed again with backoff
(LOCK_BACKOFF, doubling to LOCK_BACKOFF_MAX) until the write goes through, said once in
the chat and the log, and the stream goes on with no candle lost and nothing traded late.

Any other refusal (disk full, read-only, gone) means the candle can be neither stored nor
traded, and websocket-client would report the exception as a socket error on every closed
candle while the thread stays "connected" and books nothing. So the first refused write is
said once, in the chat and the log, and the stream thread ends cleanly (the state says
stopped; /start tries again once the disk is fixed). Kept beside
trading/exchange/stream.py, which wraps its feed with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from storage.db import StorageError, transient
from trading.core.candles import Candle
from trading.core.events import StorageBusy, StorageFault
from trading.exchange.ws_app import describe

log = logging.getLogger("trading.exchange.stream")

LOCK_BACKOFF = 0.2  # s before the first retry of a locked write; doubles each time
LOCK_BACKOFF_MAX = 5.0


def storage_guarded(stream: Any, feed_candle: Callable[[Candle], None]) -> Callable[[Candle], None]:
    """`feed_candle`, but a StorageError stops `stream` (a KlineStream) with one line."""

    def guarded(candle: Candle) -> None:
        try:
            feed_candle(candle)
        except StorageError as e:
            if stream._stop.is_set():  # noqa: SLF001 (the stream's own helper)
                return
            if transient(e):
                retried(candle, e)
                return
            guarded_fault(e)

    def retried(candle: Candle, first: StorageError) -> None:
        """Feed `candle` again until the lock is gone (or the stream stops), said once."""
        db_path, error = stream.settings.db_path, describe(first)
        log.warning("storage: DB_PATH=%s is locked by another process (%s); writing the candle again", db_path, error)
        stream._notify(StorageBusy(db_path, error))  # noqa: SLF001
        delay, tries = LOCK_BACKOFF, 1
        while not stream._stop.wait(delay):  # noqa: SLF001
            tries += 1
            try:
                feed_candle(candle)
            except StorageError as e:
                if not transient(e):
                    guarded_fault(e)
                    return
                delay = min(delay * 2, LOCK_BACKOFF_MAX)
                continue
            log.info("storage: the write went through after %d tries; streaming goes on", tries)
            return

    def guarded_fault(e: StorageError) -> None:
        db_path, error = stream.settings.db_path, describe(e)
        log.error("storage: DB_PATH=%s refused a write (%s); the stream stops", db_path, error)
        stream._notify(StorageFault("unwritable", db_path, error))  # noqa: SLF001
        stream._stop.set()  # noqa: SLF001
        ws = stream._ws  # noqa: SLF001
        if ws is not None:
            ws.keep_running = False
            ws.shutdown()

    return guarded
