"""Pausing new entries: /pause, /resume, and pauses the bot takes itself.

A pause is a set of reasons (`admin` from /pause; `chat_unreachable` when the bot cannot
post to its group, so nobody could see or confirm what it does). While any reason is set
no new position is opened, increased or reversed, whether the strategy or a person asks;
closes, stop-losses, take-profits and the stream keep running, because leaving a position
unmanaged is worse than trading. The set is kept in runtime_state (key `paused`, a JSON
list), so a restart or a redeploy stays paused.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence

from trading.core.brokers.base import OrderRequest

log = logging.getLogger(__name__)

STATE_KEY = "paused"
REASONS = ("admin", "chat_unreachable")


class PauseGate:
    """The reasons, in memory for the trading thread's per-candle check and persisted on every
    change through `load`/`save` (storage.state.RuntimeState in the live bot)."""

    def __init__(self, load: Callable[[], str | None], save: Callable[[str], None]) -> None:
        self._save = save
        self._lock = threading.Lock()
        raw = load()
        try:
            saved = json.loads(raw) if raw else []
        except ValueError:
            log.error("runtime_state %r is not a JSON list (%r); treating as paused by admin", STATE_KEY, raw)
            saved = ["admin"]
        self._reasons = frozenset(str(r) for r in saved) if isinstance(saved, list) else frozenset({"admin"})

    def reasons(self) -> frozenset[str]:
        return self._reasons

    def paused(self) -> bool:
        return bool(self._reasons)

    def add(self, reason: str) -> bool:
        """True if the reason was not set before (and is now, durably)."""
        return self._change(reason, add=True)

    def remove(self, reason: str) -> bool:
        """True if the reason was set (and is now gone, durably)."""
        return self._change(reason, add=False)

    def _change(self, reason: str, *, add: bool) -> bool:
        if reason not in REASONS:
            raise ValueError(f"unknown pause reason {reason!r} (one of {', '.join(REASONS)})")
        with self._lock:
            if (reason in self._reasons) == add:
                return False
            new = self._reasons | {reason} if add else self._reasons - {reason}
            self._save(json.dumps(sorted(new)))
            self._reasons = new
            return True


def entries_gated(gate: PauseGate | None, legs: Sequence[OrderRequest], what: str) -> list[OrderRequest]:
    """The legs that may still be placed: all of them, or while paused only the closes
    (reduce-only legs; a reversal keeps its close). What was dropped is logged, once per
    decision, i.e. at most once per candle and symbol."""
    if gate is None or not legs or not gate.paused():
        return list(legs)
    kept = [leg for leg in legs if leg.reduce_only]
    if len(kept) < len(legs):
        log.info(
            "%s skipped while paused (%s): no new entries%s",
            what, describe(gate.reasons()), "; its close is kept" if kept else "",
        )
    return kept


def describe(reasons: frozenset[str]) -> str:
    return ", ".join(sorted(reasons))
