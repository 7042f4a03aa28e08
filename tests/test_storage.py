import sqlite3
import threading

import pytest

from storage.db import SCHEMA_VERSION, open_db, schema_version
from storage.events import EventLog
from storage.klines import KlineStore
from trading.core.candles import Candle


def candle(t: int, close: float = 1.0) -> Candle:
    return Candle("BTCUSDT", "15m", t, t + 899_999, 1.0, 2.0, 0.5, close, 10.0, 10.0, 3, 5.0, 5.0)


def test_schema_is_created_in_wal_with_room_for_later_features(db_path):
    db = open_db(db_path)
    assert schema_version(db) == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"klines", "stream_events", "signals", "orders", "fills", "params", "audit"} <= set(db.table_names())
    db.close()
    assert schema_version(open_db(db_path)) == SCHEMA_VERSION  # reopening migrates nothing twice


def test_upsert_is_idempotent_and_updates_values(db_path):
    store = KlineStore(open_db(db_path))
    store.upsert(candle(0, close=1.0), "ws")
    store.upsert(candle(0, close=1.5), "rest")
    store.upsert_many([candle(0, close=1.5), candle(900_000)], "rest")
    assert store.count("BTCUSDT", "15m") == 2
    rows = store.latest("BTCUSDT", "15m", 10)
    assert [r["open_time"] for r in rows] == [0, 900_000]
    assert rows[0]["close"] == 1.5 and rows[0]["source"] == "rest"
    assert store.last_open_time("BTCUSDT", "15m") == 900_000
    assert store.last_open_time("ETHUSDT", "15m") is None


def test_connections_belong_to_their_thread(db_path):
    db = open_db(db_path)
    errors = []

    def use():
        try:
            db.execute("SELECT 1")
        except sqlite3.ProgrammingError as e:
            errors.append(e)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors, "a connection shared across threads must be refused"


def test_event_log_counts_by_kind(db_path):
    log = EventLog(open_db(db_path))
    log.record("connect")
    log.record("reconnect", ts=10)
    log.record("reconnect")
    assert log.count("reconnect") == 2
    assert log.count("reconnect", since_ms=11) == 1
    assert log.recent(1)[0]["kind"] == "reconnect"
    with pytest.raises(ValueError):
        log.record("nonsense")


def test_each_new_database_has_its_own_instance_id_kept_across_opens(tmp_path):
    from storage.db import open_db
    from storage.state import instance_id

    first = instance_id(open_db(tmp_path / "a.sqlite"))
    again = instance_id(open_db(tmp_path / "a.sqlite"))
    other = instance_id(open_db(tmp_path / "b.sqlite"))
    assert first == again
    assert first != other
    assert len(first) == 8 and int(first, 16) >= 0
