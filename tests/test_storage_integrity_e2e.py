"""A database file damaged while the bot was down (issue 25): SQLite's quick_check runs at
start and its finding is said in the chat and the log, instead of trading on silently."""

from __future__ import annotations

import logging
import sqlite3

from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)


def corrupt_table(db_path: str, table: str) -> None:
    """Overwrite the b-tree page header of `table`'s root page with garbage."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    finally:
        conn.close()
    with open(db_path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * 12)


def test_a_damaged_database_is_said_at_start(source, tmp_path, caplog):  # noqa: F811
    w = World(source, tmp_path, STRATEGY="none")
    try:
        w.reply("/status", "Stream")
        w.reply("/params", "")  # a few audit rows in the file
        w.bot.stop()
        assert not w.api.wait_for_text(GROUP, "quick_check", timeout=0.1), "a sound file says nothing"
        corrupt_table(w.db_path, "audit")
        mark = w.api.mark()
        with caplog.at_level(logging.ERROR, logger="trading.live.service"):
            w.bot = type(w.bot)(w.settings, **w.bot.kwargs).start()
            said = w.api.wait_for_text(GROUP, "failed SQLite's quick_check at start", start=mark, timeout=15)
        assert said is not None, [c.params.get("text") for c in w.api.calls[mark:] if c.method == "sendMessage"]
        assert "restore a backup" in said["text"]
        assert any("quick_check" in r.getMessage() for r in caplog.records), "and in the log"
    finally:
        w.close()
