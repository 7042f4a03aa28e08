"""The exchange fills and funding payments booked already, by their keys: `<symbol>:t<trade id>`,
`<symbol>:o<order id>` (an order booked whole when its trades were unreadable) and
`funding:<symbol>-<time>`. Whichever path reports a fill first (the order's REST answer, the
user data stream, the reconciliation after a gap) books it; any later arrival is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable

from trading.core.portfolio import Fill


class FillKeys:
    def __init__(self, booked: set[str] | None = None) -> None:
        """booked: the keys the journal holds (the set is kept, not copied)."""
        self.keys: set[str] = booked if booked is not None else set()

    def seen(self, fill: Fill) -> bool:
        return any(k in self.keys for k in fill.keys)

    def knows(self, key: str) -> bool:
        return key in self.keys

    def add(self, keys: Iterable[str]) -> None:
        self.keys.update(keys)
