"""The account's position mode as the trader trades it: One-way or Hedge Mode (LONG and SHORT
legs), and whether the account was switched to the other one under a book that holds a position
(then no order is sent: Binance would refuse them, -4061).
"""

from __future__ import annotations

from trading.core.events import AccountModeSwitched
from trading.core.reasons import Reason


class PositionMode:
    def __init__(self, hedge: bool, known: bool) -> None:
        """hedge: the mode the book trades; known: the account's mode was read (or the stored
        book holds a position, which fixes it)."""
        self.hedge = hedge
        self.known = known
        self.mismatch: Reason | None = None  # the account's position mode is not the book's: no order is sent

    def follow(self, hedge: bool, *, running: bool, holding: bool) -> AccountModeSwitched | None:
        """The account's position mode as read (at /start; while running: its account stream's
        ACCOUNT_CONFIG_UPDATE, a reconnect). Not running, a book with no open position
        (`holding` False) takes the account's mode. Otherwise a mode unlike the book's stops
        every order and returns what to say, once; the same mode again clears it."""
        if hedge == self.hedge:
            self.known = True
            was, self.mismatch = self.mismatch, None
            return AccountModeSwitched(hedge, again=True) if was else None
        if (not running or not self.known) and not holding:
            self.hedge, self.known, self.mismatch = hedge, True, None
            return None
        if self.mismatch is not None:
            return None
        switched = AccountModeSwitched(hedge)
        self.mismatch = switched.reason
        return switched
