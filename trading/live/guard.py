"""The database file the bot started on: SQLite's quick_check at start, and trading stopped
for good in this run once DB_PATH no longer names that file (deleted, or replaced by another
file): the open connections would keep the old file while every new one made a new one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from storage.guard import FileIdentity, integrity_problem
from trading.core.events import Notice, Notifier

log = logging.getLogger("trading.live.service")


class DatabaseGuard:
    """`halted`: why trading stopped for good in this run (None while the file is the one)."""

    def __init__(self, db_path: str, identity: FileIdentity | None, notifier: Notifier, stop: Callable[[], object]) -> None:
        self.db_path = db_path
        self._identity = identity
        self._notifier = notifier
        self._stop = stop  # the market stream's
        self.halted: str | None = None

    def check(self) -> str | None:
        """The line saying trading stopped, once DB_PATH no longer names the file the bot
        started on. Then the stream is closed, nothing is proposed or placed, and the chat
        and the log say so once."""
        if self.halted is not None or self._identity is None:
            return self.halted
        what = self._identity.changed()
        if what is None:
            return None
        self.halted = (
            f"the database DB_PATH={self.db_path} was {what} while the bot ran; "
            "trading stopped (stream closed, no orders). Restore it and restart the bot"
        )
        log.error("%s", self.halted)
        self._notifier.notify(Notice("storage_fault", self.halted))
        self._stop()
        return self.halted


def check_integrity(db_path: str, notifier: Notifier) -> str | None:
    """SQLite's quick_check at start (storage.guard.integrity_problem): a damaged file is
    said once in the chat and the log, with what was found; the line, or None."""
    damage = integrity_problem(db_path)
    if damage is None:
        return None
    line = (
        f"storage: DB_PATH={db_path} failed SQLite's quick_check at start: {damage[:300]}; stored rows "
        "may be missing or wrong: stop the bot and restore a backup (or check the disk)"
    )
    log.error("%s", line)
    notifier.notify(Notice("storage_fault", line))
    return line
