"""The take-profit ladder, a parameter type (issue 29): `take_profit=1.5:50,3:50`.

Each level is `distance:share`: close `share` % of the position when the price is
`distance` % beyond the entry. The shares add up to 100; the distances grow. A level
without a share is the whole position (`take_profit=3` is `3:100`: one level, exactly what
`take_profit_pct=3` does); `take_profit=0` is off. Up to MAX_LEVELS levels (each rests on
Binance as its own conditional order).

The value a strategy keeps is the canonical text (`1.5:50,3:50`), so it is stored, shown
and compared like any other parameter; `Ladder.parse` reads it back into exact Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.core.numbers import NumberError, parse_decimal, plain

MAX_LEVELS = 5
MAX_DISTANCE = Decimal(500)
HUNDRED = Decimal(100)
OFF = "0"


class LadderError(ValueError):
    """One line: what is wrong with the ladder as typed."""


@dataclass(frozen=True)
class Ladder:
    levels: tuple[tuple[Decimal, Decimal], ...]  # (distance %, share %), distances growing, shares adding to 100

    @classmethod
    def parse(cls, text: str) -> Ladder:
        """`1.5:50,3:50`, `3` (one level, the whole position) or `0` (off: no levels)."""
        text = text.strip()
        if text in (OFF, ""):
            return cls(())
        words = [w.strip() for w in text.split(",")]
        if len(words) > MAX_LEVELS:
            raise LadderError(f"at most {MAX_LEVELS} levels, got {len(words)}")
        levels: list[tuple[Decimal, Decimal]] = []
        for word in words:
            dist_text, sep, share_text = word.partition(":")
            try:
                dist = parse_decimal(dist_text.strip())
                share = parse_decimal(share_text.strip()) if sep else HUNDRED
            except NumberError as e:
                raise LadderError(f"level {word!r}: {e}") from None
            if not 0 < dist <= MAX_DISTANCE:
                raise LadderError(f"level {word!r}: the distance must be above 0 and at most {MAX_DISTANCE} %")
            if not 0 < share <= HUNDRED:
                raise LadderError(f"level {word!r}: the share must be above 0 and at most 100 %")
            if levels and dist <= levels[-1][0]:
                raise LadderError(f"level {word!r}: each level must be further than the one before")
            levels.append((dist, share))
        total = sum((s for _, s in levels), Decimal(0))
        if total != HUNDRED:
            raise LadderError(f"the shares add up to {plain(total)} %, not 100 % (e.g. 1.5:50,3:50)")
        return cls(tuple(levels))

    def text(self) -> str:
        """The canonical spelling: `1.5:50,3:50`, `3` for one level, `0` for none."""
        if not self.levels:
            return OFF
        if len(self.levels) == 1:
            return plain(self.levels[0][0])
        return ",".join(f"{plain(d)}:{plain(s)}" for d, s in self.levels)

    def __len__(self) -> int:
        return len(self.levels)
