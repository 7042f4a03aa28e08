"""The one narrow interface through which trading/ talks to people.

The trading thread never awaits and never knows about Telegram: it hands a `Notice` to a
`Notifier`, whose implementation (bot.notifier for the chat, LoggingNotifier here) must
return quickly and must not raise. Notice kinds and their wording are a user-facing
contract (README, "Notices").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("trading.notices")

# kind → what it means; the text is built by whoever emits the notice.
NOTICE_KINDS = {
    "socket_started": "the stream's websocket opened (on_open)",
    "socket_stopped": "the stream closed for good (on_close)",
    "socket_error": "the connection failed or dropped (on_error / drop)",
    "reconnected": "a new connection after a drop, with the backfilled candle count",
    "stale": "no message for too long; the watchdog forced a reconnect",
    "candle_closed": "a candle closed (for subscribers that want every candle)",
    "signal": "the strategy decided (orders follow at the next open, or announce-only modes say what they would do)",
    "order_filled": "a paper order filled (with fee; the trade's net PnL when it closed one)",
    "reconciled": "at start on an exchange: a proposal settled or a position adopted from the exchange",
    "proposal": "an order waiting for Confirm/Reject (carries the proposal; the chat adds the buttons)",
    "proposal_update": "a proposal reached its end without a press (expired); the chat edits its message",
    "order_refused": "the broker refused an order (symbol filters, margin); the text says why",
    "storage_busy": "another process held the database's write lock; the stream retries the candle and goes on",
    "strategy_error": "a DataFrame strategy could not decide (populate raised, NaN or wrong columns): no order",
}


@dataclass(frozen=True)
class Notice:
    kind: str
    text: str  # plain text, one or a few lines; the chat side escapes it
    data: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    def notify(self, notice: Notice) -> None:
        """Deliver or enqueue; must not block on the network and must not raise."""


class LoggingNotifier:
    """Used when no chat is attached (the trading CLI, the early demo, tests)."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        skip: frozenset[str] = frozenset({"candle_closed"}),
    ) -> None:
        self._log = logger or log
        self._skip = skip

    def notify(self, notice: Notice) -> None:
        if notice.kind not in self._skip:
            self._log.info("%s", notice.text)
