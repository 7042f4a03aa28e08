"""What a reconcile with the exchange found (at a start or resume, after an account-stream
reconnect), as values: each one is told as an events.Reconciled and worded by bot/texts.py
(reconciled_line), beside trading/live/recovery.py's (a proposal settled, a position adopted,
foreign orders, the exchange not asked). The exchange side returns these (exchange/reconcile.py,
protection.py, account_sync.py), so it writes no sentence for the chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ExitsResynced:
    """A position's resting exits checked against the exchange (exchange/protection.py):
    `what` orphans (`count` exit orders of the bot with no position behind them, cancelled)
    or replaced (not all were on the exchange: placed again)."""

    symbol: str
    position_side: str
    what: str
    count: int = 0


@dataclass(frozen=True)
class FillsCaughtUp:
    """`count` fills of `symbol` made while the account stream was down, booked."""

    symbol: str
    count: int


@dataclass(frozen=True)
class FundingCaughtUp:
    """`count` funding payments booked from the income history after a gap."""

    count: int


@dataclass(frozen=True)
class TradesUnreadable:
    """The account trades of `symbol` could not be read (`error`); retried on the next reconnect."""

    symbol: str
    error: str


@dataclass(frozen=True)
class PositionDiffers:
    """The exchange's position (signed `exchange`, at `entry`; None: none) is not the book's
    (signed `book`); a Hedge Mode leg names its `position_side`."""

    symbol: str
    position_side: str
    exchange: Decimal
    entry: Decimal | None
    book: Decimal


@dataclass(frozen=True)
class HedgedPositions:
    """A book trading One-way Mode met Hedge Mode legs on the exchange: `legs` (position
    side, signed qty, entry), neither adopted."""

    symbol: str
    legs: tuple[tuple[str, Decimal, Decimal], ...]
