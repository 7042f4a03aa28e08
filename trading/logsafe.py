"""Masking secrets: one rule for everything that leaves the process or is stored.

The Telegram token and the Binance key and secret must never reach a log line, a chat
message or caption (bot/masking.py masks every Bot API request), a database row
(storage/db.py masks every string written), a page or a printed line. `mask` is that one
rule, and every boundary calls it:

- a secret as written, percent-encoded (as in a URL or a form body) and, for the token,
  its part after the bot id (the bot id itself is public) becomes `***`;
- so does any run of MIN_RUN or more characters of one of them (a prefix left by a cut
  elsewhere, a suffix, or a key an error page shortened); masking always comes before any
  cut of a text.

The secrets are the process's own: `register` adds them once the settings are read
(trading.live.service.Engine, setup_logging, LogRing), and `mask(text)` applies all of them.

httpx logs every request URL at INFO, and Telegram URLs contain the bot token; exception
texts carry it too (an error page that echoes the request path), and so do the tracebacks
logged with them. A filter on the root handler masks the message, the formatted exception
and the stack of every record, whatever logger produced it; `redact` does the same for
lines a CLI prints itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import quote, quote_plus

MIN_SECRET = 6
MIN_RUN = 8  # a run of this many characters of a secret is masked wherever it appears
MASK = "***"


def _forms(s: str) -> set[str]:
    forms = {s, quote(s, safe=""), quote(s), quote_plus(s)}
    head, colon, tail = s.partition(":")
    if colon and head.isdigit() and len(tail) >= MIN_SECRET:  # a Telegram token: <bot id>:<hash>
        forms |= {tail, quote(tail, safe=""), quote_plus(tail)}
    return forms


def _hash_part(s: str) -> str:
    """What runs are looked for in: a Telegram token's part after the (public) bot id."""
    head, colon, tail = s.partition(":")
    return tail if colon and head.isdigit() and len(tail) >= MIN_SECRET else s


def secret_variants(secrets: Iterable[str]) -> list[str]:
    """Each secret as written and as it appears percent-encoded in a URL, longest first."""
    out: set[str] = set()
    for s in secrets:
        if s and len(s) >= MIN_SECRET:
            out |= _forms(s)
    return sorted(out, key=len, reverse=True)


class Masker:
    """The masking rule for a set of secrets (see the module docstring)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self._variants: tuple[str, ...] = ()
        self._grams: dict[str, list[tuple[str, int]]] = {}
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s and len(s) >= MIN_SECRET}
            variants = secret_variants(known)
            grams: dict[str, list[tuple[str, int]]] = {}
            for v in sorted({f for s in known for f in _forms(_hash_part(s))}, key=len, reverse=True):
                if len(v) <= MIN_RUN:
                    continue
                for i in range(len(v) - MIN_RUN + 1):
                    grams.setdefault(v[i : i + MIN_RUN], []).append((v, i))
            self._secrets, self._variants, self._grams = tuple(sorted(known)), tuple(variants), grams

    def __bool__(self) -> bool:
        return bool(self._variants)

    def mask(self, text: str) -> str:
        variants, grams = self._variants, self._grams
        if not variants or not text:
            return text
        for v in variants:
            if v in text:
                text = text.replace(v, MASK)
        if not grams or len(text) < MIN_RUN:
            return text
        return _mask_runs(text, grams)


def _mask_runs(text: str, grams: dict[str, list[tuple[str, int]]]) -> str:
    """Replace every run of ≥ MIN_RUN characters that continues one secret by `***`."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i <= n - MIN_RUN:
        hits = grams.get(text[i : i + MIN_RUN])
        if not hits:
            i += 1
            continue
        end = i + MIN_RUN
        for v, at in hits:
            j, k = i + MIN_RUN, at + MIN_RUN
            while j < n and k < len(v) and text[j] == v[k]:
                j, k = j + 1, k + 1
            end = max(end, j)
        spans.append((i, end))
        i = end
    if not spans:
        return text
    out, last = [], 0
    for a, b in spans:
        out.append(text[last:a])
        out.append(MASK)
        last = b
    out.append(text[last:])
    return "".join(out)


_PROCESS = Masker()


def register(secrets: Iterable[str]) -> None:
    """Add the process's secrets (settings' token, key and secret) to `mask`."""
    _PROCESS.add(secrets)


def mask(text: str) -> str:
    """`text` with every registered secret masked: the one rule at every boundary."""
    return _PROCESS.mask(text)


def mask_bounded(text: str, limit: int) -> str:
    """Masked first, then cut to `limit` characters (a cut never leaves part of a secret)."""
    text = mask(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact(text: str, secrets: Iterable[str]) -> str:
    return Masker(secrets).mask(mask(text))


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        secrets = list(secrets)
        register(secrets)
        self._own = Masker(secrets)
        self._fmt = logging.Formatter()

    def _clean(self, text: str) -> str:
        return self._own.mask(mask(text))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._own and not _PROCESS:
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
