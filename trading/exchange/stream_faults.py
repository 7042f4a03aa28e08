"""What the stream does when the database refuses a write (disk full, read-only, gone).

The candle can then be neither stored nor traded, and websocket-client would report the
exception as a socket error on every closed candle while the thread stays "connected" and
books nothing. So the first refused write is said once, in the chat and the log, and the
stream thread ends cleanly (the state says stopped; /start tries again once the disk is
fixed). Kept beside trading/exchange/stream.py, which wraps its feed with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from storage.db import StorageError
from trading.candles import Candle
from trading.exchange.ws_app import describe

log = logging.getLogger("trading.exchange.stream")


def storage_guarded(stream: Any, feed_candle: Callable[[Candle], None]) -> Callable[[Candle], None]:
    """`feed_candle`, but a StorageError stops `stream` (a KlineStream) with one line."""

    def guarded(candle: Candle) -> None:
        try:
            feed_candle(candle)
        except StorageError as e:
            if stream._stop.is_set():  # noqa: SLF001 (the stream's own helper)
                return
            line = f"storage: cannot write DB_PATH={stream.settings.db_path} ({describe(e)}); the stream stopped"
            log.error("%s", line)
            stream._notify("storage_fault", line + "; nothing is traded: fix the disk, then /start", error=str(e))  # noqa: SLF001
            stream._stop.set()  # noqa: SLF001
            ws = stream._ws  # noqa: SLF001
            if ws is not None:
                ws.keep_running = False
                ws.shutdown()

    return guarded
