"""Strategy parameters as the traders last set them, and the history of every change."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlite_utils


class ParamStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def current(self, strategy: str) -> dict[str, str]:
        rows = self._conn.execute("SELECT name, value FROM params WHERE strategy=?", (strategy,))
        return {name: value for name, value in rows.fetchall()}

    def change(self, strategy: str, changes: Mapping[str, tuple[str, str]], user_id: int | None) -> None:
        """All of {name: (old, new)} in one transaction: a crash keeps all or none."""
        now = int(time.time() * 1000)
        with self._conn:
            for name, (old, new) in changes.items():
                self._conn.execute(
                    "INSERT INTO params (strategy, name, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(strategy, name) DO UPDATE SET value=excluded.value, "
                    "updated_at=excluded.updated_at, updated_by=excluded.updated_by",
                    (strategy, name, new, now, user_id),
                )
                self._conn.execute(
                    "INSERT INTO param_changes (ts, strategy, name, old, new, user_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (now, strategy, name, old, new, user_id),
                )

    def history(self, strategy: str, limit: int = 20) -> list[dict[str, Any]]:
        cols = ("id", "ts", "strategy", "name", "old", "new", "user_id")
        cur = self._conn.execute(
            f"SELECT {', '.join(cols)} FROM param_changes WHERE strategy=? ORDER BY id DESC LIMIT ?",
            (strategy, limit),
        )
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
