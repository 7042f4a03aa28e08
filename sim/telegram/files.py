"""Files the bot sent, reachable again by file_id (resend, getFile) and by file_path (download).

Telegram hands out a file_id per stored file; getFile turns it into a file_path that is
downloadable for an hour at `/file/bot<token>/<file_path>`. Here paths never expire and the
bytes are the ones uploaded (Telegram would re-encode photos as JPEG).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sim.telegram.wire import bad

__all__ = ["DOWNLOAD_LIMIT", "FileRecord", "FileStore"]

DOWNLOAD_LIMIT = 20 * 1024 * 1024
"""getFile refuses bigger files: bots can download up to 20 MB."""

# Telegram's file_ids start with a type-specific prefix; only the shape matters to clients.
_PREFIXES = {"photos": "AgACAgQ", "documents": "BQACAgQ"}


@dataclass(frozen=True)
class FileRecord:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def as_file(self) -> dict[str, Any]:
        """The Bot API File object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class FileStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, FileRecord] = {}
        self._by_path: dict[str, FileRecord] = {}
        self._numbers = itertools.count()

    def add(self, data: bytes, folder: str, suffix: str = "") -> FileRecord:
        """Stores `data` under a new file_id; `folder` is "photos" or "documents"."""
        file_id = _PREFIXES.get(folder, "BQACAgQ") + secrets.token_urlsafe(48)[:60]
        unique_id = "AQAD" + secrets.token_urlsafe(9)[:12]
        with self._lock:
            path = f"{folder}/file_{next(self._numbers)}{suffix}"
            record = FileRecord(file_id, unique_id, path, data)
            self._by_id[file_id] = record
            self._by_path[path] = record
        return record

    def get(self, file_id: str) -> FileRecord | None:
        with self._lock:
            return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> FileRecord | None:
        with self._lock:
            return self._by_path.get(file_path)

    def handlers(self) -> dict[str, Any]:
        return {"getFile": self.get_file}

    def get_file(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        file_id = params.get("file_id")
        if not file_id:
            raise bad("file_id is empty")
        record = self.get(str(file_id))
        if record is None:
            raise bad("invalid file_id")
        if len(record.data) > DOWNLOAD_LIMIT:
            raise bad("file is too big")
        return record.as_file(), None


def suffix_of(filename: str | None, default: str = "") -> str:
    """The extension Telegram keeps in file_path (from the uploaded name, if any)."""
    suffix = PurePosixPath(filename or "").suffix
    return suffix if 1 < len(suffix) <= 10 and suffix[1:].isalnum() else default


def image_suffix(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"GIF8"):
        return ".gif"
    return ".jpg"
