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
