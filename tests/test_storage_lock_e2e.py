"""Another process holding the database's write lock while the bot streams (issue 25): a
transient fault. The stream says so once, writes the candle again with backoff once the
lock is gone, and goes on: no candle lost, none traded late, no /start needed. The lock is
a second sqlite connection's BEGIN IMMEDIATE, released when the chat has said so."""

from __future__ import annotations

import sqlite3

import pytest

from tests.test_bot_e2e import GROUP, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import started

LOCKED = "is locked by another process"


@pytest.mark.slow
def test_a_write_lock_held_elsewhere_pauses_the_stream_and_loses_nothing(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    other = sqlite3.connect(w.db_path, timeout=1, isolation_level=None)
    try:
        seen = w.seen
        first = w.ex.current_index
        mark = w.api.mark()
        other.execute("BEGIN IMMEDIATE")  # the write lock, as a backup or an sqlite3 shell takes it
        w.ex.advance(3)
        said = w.api.wait_for_text(GROUP, LOCKED, start=mark, timeout=40)
        assert said is not None, [c.params.get("text") for c in w.api.calls[mark:] if c.method == "sendMessage"]
        other.execute("ROLLBACK")
        last = source[first + 2].open_time
        assert seen.wait(last, timeout=40), "every candle reaches the trader once the lock is gone"
        w.ex.advance(1)
        assert seen.wait(source[first + 3].open_time, timeout=20), "the stream goes on by itself"
        assert w.engine.stream_status().running
        rows = other.execute(
            "SELECT open_time FROM klines WHERE open_time >= ? ORDER BY open_time", (source[first].open_time,)
        ).fetchall()
        assert [r[0] for r in rows] == [source[first + i].open_time for i in range(4)], "no candle lost"
        texts = [c.params.get("text", "") for c in w.api.calls[mark:] if c.method == "sendMessage"]
        assert sum(LOCKED in t for t in texts) == 1, texts
        assert not any("cannot write" in t or "stream stopped" in t for t in texts), texts
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        w.close()
