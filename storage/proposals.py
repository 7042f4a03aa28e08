"""Order proposals: one row each, moved between states only by conditional updates.

Two admins pressing Confirm at once, a press arriving after a restart, a Confirm racing
the expiry: each is one `UPDATE … WHERE id=? AND status=?`, and only the statement that
changed a row wins. Nothing is decided in memory, so the answer is the same across
threads, processes and restarts.
"""

from __future__ import annotations

import time
from typing import Any

import sqlite_utils

COLUMNS = (
    "id", "created_at", "symbol", "side", "action", "quantity", "ref_price", "reason",
    "requested_by", "source", "legs", "valid_until_open", "expires_at", "status",
    "decided_by", "decided_at", "result", "chat_id", "message_id", "intent", "basis", "legs_before",
    "four_eyes",
)


def _now() -> int:
    return int(time.time() * 1000)


class ProposalStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def create(self, row: dict[str, Any]) -> int:
        fields = {k: v for k, v in row.items() if k in COLUMNS and k != "id"}
        fields.setdefault("created_at", _now())
        fields.setdefault("status", "pending")
        cols = ", ".join(fields)
        with self._conn:
            cur = self._conn.execute(
                f"INSERT INTO proposals ({cols}) VALUES ({', '.join('?' * len(fields))})",
                tuple(fields.values()),
            )
        return int(cur.lastrowid or 0)

    def get(self, proposal_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM proposals WHERE id=?", (proposal_id,)
        ).fetchone()
        return None if row is None else dict(zip(COLUMNS, row, strict=True))

    def transition(
        self, proposal_id: int, frm: str | tuple[str, ...], to: str, *, by: int | None = None,
        result: str | None = None, legs: str | None = None,
    ) -> bool:
        """Move it from `frm` to `to` (with the legs it places, when given, in the same
        statement); False if it was not in `frm` (someone else won)."""
        states = (frm,) if isinstance(frm, str) else frm
        marks = ", ".join("?" * len(states))
        with self._conn:
            cur = self._conn.execute(
                f"UPDATE proposals SET status=?, decided_by=COALESCE(?, decided_by), decided_at=?, "
                f"result=COALESCE(?, result), legs=COALESCE(?, legs) WHERE id=? AND status IN ({marks})",
                (to, by, _now(), result, legs, proposal_id, *states),
            )
        return cur.rowcount == 1

    def set_legs(self, proposal_id: int, legs_json: str) -> None:
        with self._conn:
            self._conn.execute("UPDATE proposals SET legs=? WHERE id=?", (legs_json, proposal_id))

    def set_message(self, proposal_id: int, chat_id: int, message_id: int) -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE proposals SET chat_id=?, message_id=? WHERE id=?", (chat_id, message_id, proposal_id)
            )

    def with_status(self, *states: str) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(states))
        cur = self._conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM proposals WHERE status IN ({marks}) ORDER BY id", states
        )
        return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]

    def due(self, candle_open: int, now_ms: int) -> list[int]:
        """Pending proposals whose candle has closed or whose wall-clock TTL has run out."""
        cur = self._conn.execute(
            "SELECT id FROM proposals WHERE status='pending' AND "
            "((valid_until_open IS NOT NULL AND valid_until_open <= ?) OR (expires_at IS NOT NULL AND expires_at <= ?))",
            (candle_open, now_ms),
        )
        return [r[0] for r in cur.fetchall()]
