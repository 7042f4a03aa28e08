"""Logging that can never print a secret.

httpx logs every request URL at INFO, and Telegram URLs contain the bot token; exception
texts can carry it too. A filter on the root handlers replaces each configured secret with
*** in every record, whatever logger produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        redacted = text
        for s in self._secrets:
            redacted = redacted.replace(s, "***")
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    # Request URLs carry the token; keep these libraries to warnings.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler", "websocket", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
