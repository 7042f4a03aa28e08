"""Approvals of large proposals (four-eyes): one row per proposal and admin.

An admin's press is an `INSERT OR IGNORE` on (proposal, user): pressing twice counts once,
and two admins pressing at the same moment both land, so the count read after the insert
is the truth in every thread. Whether the order is then placed is still decided by the
proposal's own conditional update (storage/proposals.py), so racing presses place one order.
"""

from __future__ import annotations

import time

import sqlite_utils


class ApprovalStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def add(self, proposal_id: int, user_id: int, who: str) -> list[str]:
        """Record this admin's approval (once) and return every approver's name, oldest first."""
        with self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO approvals (proposal_id, user_id, who, at) VALUES (?, ?, ?, ?)",
                (proposal_id, user_id, who, int(time.time() * 1000)),
            )
        return self.names(proposal_id)

    def names(self, proposal_id: int) -> list[str]:
        cur = self._conn.execute(
            "SELECT who, user_id FROM approvals WHERE proposal_id=? ORDER BY at, user_id", (proposal_id,)
        )
        return [who or f"user {uid}" for who, uid in cur.fetchall()]
