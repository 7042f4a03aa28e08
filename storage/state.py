"""Small durable facts about what the operator wants, read back after a restart."""

from __future__ import annotations

import time

import sqlite_utils


class RuntimeState:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM runtime_state WHERE key=?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO runtime_state (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (key, value, int(time.time() * 1000)),
            )


def instance_id(db: sqlite_utils.Database) -> str:
    """This database's random identity (8 hex digits, made by migration 5 with the file).

    Why: proposal numbers and order rows restart at 1 in a new file; anything that must stay
    unique beyond one file (client order ids, Confirm buttons) carries this id too."""
    value = RuntimeState(db).get("instance_id")
    if not value:  # pragma: no cover - migration 5 always writes it
        raise RuntimeError("database has no instance_id; was it migrated?")
    return value
