"""Logging and console output that can never print a secret.

httpx logs every request URL at INFO, and Telegram URLs contain the bot token; exception
texts carry it too (an error page that echoes the request path), and so do the tracebacks
logged with them. A filter on the root handler replaces each configured secret with ***
in the message, the formatted exception and the stack of every record, whatever logger
produced it; `redact` does the same for lines a CLI prints itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import quote

MIN_SECRET = 6


def secret_variants(secrets: Iterable[str]) -> list[str]:
    """Each secret as written and as it appears percent-encoded in a URL, longest first."""
    out: set[str] = set()
    for s in secrets:
        if s and len(s) >= MIN_SECRET:
            out.update({s, quote(s, safe=""), quote(s)})
    return sorted(out, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secret_variants(secrets):
        text = text.replace(s, "***")
    return text


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = secret_variants(secrets)
        self._fmt = logging.Formatter()

    def _clean(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        redacted = self._clean(text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        # Formatters print exc_text when it is set, so a redacted one replaces the traceback.
        if record.exc_info and not record.exc_text:
            record.exc_text = self._fmt.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def setup_logging(level: str, secrets: Iterable[str], stream: TextIO | None = None) -> logging.Handler:
    """One redacting handler on the root logger (stderr by default); returned so a test can
    capture exactly what an operator would see, and remove it again."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # Request URLs carry the token; keep these libraries to warnings.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler", "websocket", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return handler


class LogRing(logging.Handler):
    """The last `capacity` log lines in memory, secrets masked, for /logs: an operator can
    see why something failed without shell access to the host."""

    def __init__(self, secrets: Iterable[str], capacity: int = 500) -> None:
        super().__init__()
        from collections import deque

        self._lines: deque[str] = deque(maxlen=capacity)
        self._redact = RedactSecrets(secrets)
        self.addFilter(self._redact)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._redact._clean(self.format(record))
        except Exception:  # noqa: BLE001 (a bad record must not break logging)
            return
        with self.lock:  # type: ignore[union-attr]
            self._lines.extend(text.splitlines() or [""])

    def tail(self, n: int) -> list[str]:
        with self.lock:  # type: ignore[union-attr]
            return list(self._lines)[-n:]

    def install(self) -> LogRing:
        logging.getLogger().addHandler(self)
        return self

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)
