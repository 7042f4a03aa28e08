"""One bot per database and token; a database that stays the same (issue 17).

Seen: a second `python -m bot` on the same DB_PATH started, both decided on the same
candle and posted one proposal twice, and both logged 409 tracebacks every few seconds;
deleting the database file under a running bot split it silently; a directory, an
unwritable file or a full disk as DB_PATH ended in a traceback.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.runner import BotThread
from sim.telegram.local_api import LocalBotApi
from tests.test_bot_e2e import GROUP, LOOSE, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import started

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 1001


def bot_env(db: Path, api: LocalBotApi | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_TOKEN": api.token if api else "123456:TEST-TOKEN",
        "TELEGRAM_BASE_URL": api.base_url if api else "http://127.0.0.1:1/bot",
        "TELEGRAM_CHAT_ID": str(GROUP), "TELEGRAM_ADMIN_IDS": str(ADMIN),
        "BINANCE_REST_URL": "http://127.0.0.1:1", "BINANCE_WS_URL": "ws://127.0.0.1:1/market",
        "DB_PATH": str(db), "STRATEGY": "none", "LOG_LEVEL": "INFO",
    }


def run_bot(env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", os.devnull], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60, **kw,
    )


def wait_until(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def polling(api: LocalBotApi, mark: int) -> bool:
    return api.wait_for(lambda c: c.method == "getUpdates", start=mark, timeout=0) is not None


@pytest.mark.slow
def test_a_second_bot_on_the_same_database_refuses_naming_the_first(tmp_path) -> None:
    db = tmp_path / "bot.sqlite"
    with LocalBotApi() as api:
        api.add_chat(GROUP, "supergroup", "Traders")
        mark = api.mark()
        first = subprocess.Popen(
            [sys.executable, "-m", "bot", "--env-file", os.devnull], cwd=ROOT, env=bot_env(db, api),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_until(lambda: polling(api, mark)), "the first bot polls"
            second = run_bot(bot_env(db, api))
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert lines == [
                f"DB_PATH: another bot (pid {first.pid}) is running on {db}; one bot per database (lock {db}.lock)"
            ]
            # A SIGKILLed holder leaves its lock file behind; the kernel dropped the lock itself.
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert Path(f"{db}.lock").exists()
            mark = api.mark()
            third = subprocess.Popen(
                [sys.executable, "-m", "bot", "--env-file", os.devnull], cwd=ROOT, env=bot_env(db, api),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            try:
                assert wait_until(lambda: polling(api, mark)), "a bot starts again after a SIGKILL"
                assert Path(f"{db}.lock").read_text().strip() == str(third.pid)
            finally:
                third.send_signal(signal.SIGTERM)
                assert third.wait(20) == 0, third.stderr.read() if third.stderr else ""
        finally:
            if first.poll() is None:
                first.kill()


def _small_files() -> None:  # runs in the child: a "disk" that takes 8 KiB per file
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))


@pytest.mark.parametrize("case", ["directory", "under a file", "full disk"])
def test_an_unusable_database_is_one_line_naming_db_path_and_exit_2(tmp_path, case) -> None:
    if case == "directory":
        db = tmp_path / "data"
        db.mkdir()
    elif case == "under a file":
        (tmp_path / "plain").write_text("x")
        db = tmp_path / "plain" / "bot.sqlite"
    else:
        db = tmp_path / "bot.sqlite"
    result = run_bot(bot_env(db), preexec_fn=_small_files if case == "full disk" else None)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: DB_PATH: ") and str(db) in lines[0], lines
    if case == "full disk":
        assert "disk" in lines[0], lines  # SQLite: "database or disk is full" (ENOSPC), "disk I/O error" (EFBIG)


@pytest.mark.slow
def test_a_second_poller_on_the_token_is_one_clear_line_not_a_traceback_loop(source, tmp_path, caplog) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    w = World(source, tmp_path)
    other = BotThread(replace(w.settings, db_path=str(tmp_path / "other.sqlite")), rate_limits=LOOSE, poll_timeout=1)
    try:
        mark = w.api.mark()
        other.start()
        conflicts = 0
        deadline = time.monotonic() + 20
        while conflicts < 6 and time.monotonic() < deadline:  # both bots, several retries each
            w.api.wait_for(lambda c: c.method == "getUpdates" and not c.ok, start=mark, timeout=1)
            conflicts = sum(1 for c in w.api.calls[mark:] if c.method == "getUpdates" and c.error_code == 409)
        assert conflicts >= 6
        # What was logged while both polled (PTB's stop may race a last 409 at shutdown).
        about = [  # httpx's request lines are kept at WARNING in production (trading/logsafe.py)
            r for r in list(caplog.records)
            if not r.name.startswith(("httpx", "httpcore"))
            and ("409" in r.getMessage() or "Conflict" in r.getMessage() or r.exc_info)
        ]
    finally:
        other.stop()
        w.close()
    assert about, "the conflict is said"
    assert all(r.exc_info is None for r in about), [r.getMessage() for r in about]
    assert len(about) <= 2, [r.getMessage() for r in about]  # once per bot, not once per retry
    assert "another bot is polling this token" in about[0].getMessage()


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_a_database_deleted_under_the_bot_stops_trading_and_says_so(source, tmp_path) -> None:  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="600")
    try:
        mark = w.api.mark()
        for suffix in ("", "-wal", "-shm"):
            Path(w.db_path + suffix).unlink(missing_ok=True)
        # Deleted: a connection opened since may already have made a new, empty file there.
        said = w.api.wait_for_text(GROUP, "while the bot ran; trading stopped", start=mark, timeout=15)
        assert said is not None and f"DB_PATH={w.db_path}" in said["text"]
        assert w.engine.wait_stream(lambda st: not st.running, timeout=10)
        w.reply("/long 0.01", "Not proposed: the database DB_PATH=")
        w.reply("/start", "while the bot ran; trading stopped")
        assert not w.engine.stream_status().running and w.engine.open_proposals() == []
    finally:
        w.close()


def test_a_disk_that_refuses_writes_at_run_time_stops_the_stream_with_one_line(source, tmp_path, monkeypatch) -> None:  # noqa: F811
    import sqlite3

    from storage.klines import KlineStore

    w = started(source, tmp_path)
    try:
        def full(self, candle, source):  # type: ignore[no-untyped-def]
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(KlineStore, "upsert", full)
        mark = w.api.mark()
        w.ex.resume()  # the next closed candle cannot be stored
        said = w.api.wait_for_text(GROUP, "storage: cannot write DB_PATH=", start=mark, timeout=15)
        assert said is not None and "database or disk is full" in said["text"] and "the stream stopped" in said["text"]
        assert w.engine.wait_stream(lambda st: not st.running, timeout=10), "no stream thread left behind"
        assert w.engine.join_stream(10)  # it is ending: state says stopped just before the thread returns
        w.reply("/status", "stopped")
        faults = [c for c in w.api.calls[mark:] if c.method == "sendMessage" and "storage:" in str(c.params.get("text"))]
        assert len(faults) == 1, "said once"
    finally:
        w.close()
