"""What the stream tells /status and the bot's feed watch: one snapshot type, and the
mutable state it is taken from (guarded by the stream's condition)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from trading.core.candles import Candle


@dataclass
class StreamStatus:
    """A consistent snapshot for /status; times are wall-clock UTC or seconds.

    last_message_age counts from the start of the run until a first message, so a feed
    that never came up (handshake hanging, exchange down) reads as down, not as fresh.
    """

    running: bool
    connected: bool
    started_at: datetime | None
    connected_since: datetime | None
    last_message_age: float | None
    messages: int
    closed_candles: int
    reconnects: int
    drops: int
    malformed: dict[str, int]
    last_closed: dict[str, Candle]
    forming: dict[str, Candle]
    last_error: str | None

    @property
    def uptime(self) -> float | None:
        if not self.started_at:
            return None
        return (datetime.now(UTC) - self.started_at).total_seconds()


@dataclass
class StreamState:
    """The live counters; the stream thread writes them, status() copies them."""

    running: bool = False
    connected: bool = False
    started_at: datetime | None = None
    connected_since: datetime | None = None
    last_message: float = 0.0  # time.monotonic()
    messages: int = 0
    reconnects: int = 0
    drops: int = 0
    failed_attempts: int = 0
    dropped_at: float | None = None
    malformed: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
