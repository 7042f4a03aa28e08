"""Who asked the bot to do what, and what came of it: control commands, refusals, buttons."""

from __future__ import annotations

import time
from typing import Any

import sqlite_utils


class AuditLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def record(self, chat_id: int | None, user_id: int | None, action: str, detail: str, outcome: str) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO audit (ts, chat_id, user_id, action, detail, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                (int(time.time() * 1000), chat_id, user_id, action, detail[:500], outcome[:200]),
            )

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        cols = ("id", "ts", "chat_id", "user_id", "action", "detail", "outcome")
        cur = self._conn.execute(
            f"SELECT {', '.join(cols)} FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
