"""The database file the bot started on: SQLite's quick_check at start, and trading stopped
for good in this run once DB_PATH no longer names that file (deleted, or replaced by another
file): the open connections would keep the old file while every new one made a new one.
What happened is a typed StorageFault (core/events.py): the notice, and the refusal of every
order and /start afterwards, quote it; bot/texts.py words it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from storage.guard import FileIdentity, integrity_problem
from trading.core.events import Notifier, StorageFault

log = logging.getLogger("trading.live.service")


class DatabaseGuard:
    """`halted`: why trading stopped for good in this run (None while the file is the one)."""

    def __init__(self, db_path: str, identity: FileIdentity | None, notifier: Notifier, stop: Callable[[], object]) -> None:
        self.db_path = db_path
        self._identity = identity
        self._notifier = notifier
        self._stop = stop  # the market stream's
        self.halted: StorageFault | None = None

    def check(self) -> StorageFault | None:
        """Why trading stopped, once DB_PATH no longer names the file the bot started on.
        Then the stream is closed, nothing is proposed or placed, and the chat and the log
        say so once."""
        if self.halted is not None or self._identity is None:
            return self.halted
        what = self._identity.changed()
        if what is None:
            return None
        self.halted = StorageFault("changed", self.db_path, what)
        log.error("the database DB_PATH=%s was %s while the bot ran: trading stops (stream closed, no orders)", self.db_path, what)
        self._notifier.notify(self.halted)
        self._stop()
        return self.halted


def check_integrity(db_path: str, notifier: Notifier) -> StorageFault | None:
    """SQLite's quick_check at start (storage.guard.integrity_problem): a damaged file is
    said once in the chat and the log, with what was found; the fault, or None."""
    damage = integrity_problem(db_path)
    if damage is None:
        return None
    fault = StorageFault("damaged", db_path, damage)
    log.error("storage: DB_PATH=%s failed SQLite's quick_check at start: %s", db_path, damage[:300])
    notifier.notify(fault)
    return fault
