"""One bot per database file, a file that can be written, and the same file all along.

Two bots on one DB_PATH decide on the same candle and post every proposal twice; a file
deleted or replaced under a running bot splits it silently (its open connections keep the
old inode, every new one creates a fresh file). So:

- `hold_lock(path)`: an exclusive flock on `<DB_PATH>.lock` for the whole run; the kernel
  releases it when the process exits, however it exits (SIGKILL included), so a stale lock
  file never blocks a restart. A second bot gets InstanceLocked naming the holder's pid.
- `check_writable(path)`: at start, open, migrate and write once, so a directory, a
  read-only file or a full disk is one line naming DB_PATH, not a traceback later.
- `FileIdentity`: the file's (device, inode) and instance id at start, compared later.
- `integrity_problem(path)`: SQLite's `PRAGMA quick_check` at start, so a file damaged
  while the bot was down (a torn WAL, a bad disk) is said, not silently traded on.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from storage.db import open_db
from storage.state import RuntimeState, instance_id


class InstanceLocked(RuntimeError):
    """Another process holds the database's lock; the message names it."""


class StorageUnusable(RuntimeError):
    """The database file cannot be opened or written; the message says why."""


def lock_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".lock")


def hold_lock(db_path: str | Path) -> IO[str] | None:
    """The open, locked lock file (keep it open while the bot runs); None for :memory:."""
    if str(db_path) == ":memory:":
        return None
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="ascii")  # noqa: SIM115 (kept open for the whole run)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        pid = handle.read().strip() or "unknown"
        handle.close()
        raise InstanceLocked(
            f"DB_PATH: another bot (pid {pid}) is running on {db_path}; one bot per database "
            f"(lock {path})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def check_writable(db_path: str | Path) -> None:
    """Open (creating and migrating) and write one row, or StorageUnusable with the reason."""
    try:
        if str(db_path) != ":memory:" and Path(db_path).is_dir():
            raise StorageUnusable(f"DB_PATH: {db_path} is a directory; name a file, e.g. {Path(db_path) / 'bot.sqlite'}")
        db = open_db(db_path)
        try:
            RuntimeState(db).set("last_start_check", "ok")
        finally:
            db.close()
    except StorageUnusable:
        raise
    except (sqlite3.Error, OSError) as e:
        raise StorageUnusable(f"DB_PATH: cannot use {db_path}: {_reason(e)}") from None


QUICK_CHECK_ERRORS = 5  # quick_check stops after this many problems


def integrity_problem(db_path: str | Path) -> str | None:
    """None when SQLite's quick_check says "ok"; else what it found (at most
    QUICK_CHECK_ERRORS lines, joined), or why the file could not be checked."""
    if str(db_path) == ":memory:" or not Path(db_path).is_file():
        return None
    conn = sqlite3.connect(str(db_path), timeout=10.0)
    try:
        found = [str(r[0]) for r in conn.execute(f"PRAGMA quick_check({QUICK_CHECK_ERRORS})").fetchall()]
    except sqlite3.DatabaseError as e:
        return _reason(e)
    finally:
        conn.close()
    return None if found == ["ok"] else "; ".join(found)


def _reason(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror
    return text


@dataclass(frozen=True)
class FileIdentity:
    """Which file DB_PATH named when the bot started."""

    path: str
    device: int
    inode: int
    instance: str

    @classmethod
    def of(cls, db_path: str, db: object) -> FileIdentity | None:
        if db_path == ":memory:":
            return None
        st = os.stat(db_path)
        return cls(db_path, st.st_dev, st.st_ino, instance_id(db))  # type: ignore[arg-type]

    def changed(self) -> str | None:
        """None while DB_PATH is still this file; else what happened to it."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "deleted"
        except OSError as e:
            return f"unreadable ({_reason(e)})"
        if (st.st_dev, st.st_ino) != (self.device, self.inode):
            return "replaced by another file"
        return None
