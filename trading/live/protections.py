"""The live side of the account protections (issue 29; the rules are trading/core/protections.py).

- Their state (the day's starting wallet, the equity peak, halts, locks) is kept in
  runtime_state (key `protections`), so a restart or a redeploy keeps it.
- Every trip is in the audit log beside its chat notice: `ProtectionAudit` wraps the
  trader's notifier and records a `protection`, `protection_warning` or `protection_lifted`
  event as one audit row (action `protection`, the protection's name and symbol, its plain
  numbers: the chat's words are bot/texts.py's), then hands it on unchanged. A failure to
  write the row is logged and never stops the notice or the trading thread.
- The line a refused entry gets is bot/texts.py's (`BLOCKED`, by the protection's name).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from storage.audit import AuditLog
from storage.state import RuntimeState
from trading.config import Settings
from trading.core.events import (
    Event,
    Notifier,
    ProtectionLifted,
    ProtectionTripped,
    ProtectionWarning,
)
from trading.core.protections import STATE_KEY, Protections

log = logging.getLogger(__name__)


def live_protections(settings: Settings, conn: Callable[[], Any]) -> Protections:
    """The core object with its state in runtime_state (`conn`: this thread's database connection)."""
    return Protections(settings.protections, settings.interval_ms, lambda: RuntimeState(conn()).get(STATE_KEY),
                       lambda v: RuntimeState(conn()).set(STATE_KEY, v))  # fmt: skip


class ProtectionAudit:
    def __init__(self, inner: Notifier, conn: Callable[[], Any]) -> None:
        self._inner = inner
        self._conn = conn  # this thread's database connection (the trading thread's, when it trips)

    def _record(self, *row: Any) -> None:
        AuditLog(self._conn()).record(*row)

    def notify(self, event: Event) -> None:
        if isinstance(event, ProtectionTripped | ProtectionWarning | ProtectionLifted):
            try:
                self._record(None, None, "protection", _detail(event), _outcome(event))
            except Exception:  # noqa: BLE001 (the notice must still go out)
                log.exception("could not audit %s", event)
        self._inner.notify(event)


def _detail(e: ProtectionTripped | ProtectionWarning | ProtectionLifted) -> str:
    symbol = getattr(e, "symbol", None)
    return e.name + (f" {symbol}" if symbol else "")


def _outcome(e: ProtectionTripped | ProtectionWarning | ProtectionLifted) -> str:
    if isinstance(e, ProtectionLifted):
        return f"lifted ({e.why})"
    if isinstance(e, ProtectionWarning):
        return f"warning {e.level}%: drawdown {e.value:.4f}% of limit {e.limit}%"
    numbers = " ".join(f"{k}={v}" for k, v in sorted(e.numbers.items()) if v is not None)
    return f"tripped ({e.action}): value {e.value} limit {e.limit} until {e.until} {numbers}".strip()
