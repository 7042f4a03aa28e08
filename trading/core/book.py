"""One symbol's trading state: what the trader keeps per symbol and the journal stores.

State only: the rules that change it are the trader's parts (exits, paper_margin,
strategy_host); the views of it are snapshot.py's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.core.brokers.base import OrderRequest
from trading.core.candles import Candle
from trading.core.numbers import dec
from trading.core.strategies import Strategy

ZERO = Decimal(0)


@dataclass(frozen=True)
class Failing:
    """A strategy failing on every candle, while it lasts: the first failing candle of the run
    (open time), how many candles in a row it failed on, and the latest failure."""

    since: int
    candles: int
    error: str


@dataclass
class Levels:
    """A Hedge Mode leg's stop-loss, take-profit and trailing stop, and (paper) its isolated
    margin and liquidation price (the Book's own fields are the One-way position's; the same
    names, so the exit and margin rules read either)."""

    stop: Decimal | None = None
    take: Decimal | None = None
    stop_f: float = 0.0
    take_f: float = 0.0
    trail: Decimal | None = None  # the trailing stop's callback, %
    trail_act: Decimal | None = None  # its activation price (None: active from the entry)
    trail_best: Decimal | None = None  # the best price since activation (None: not active yet)
    # a take-profit ladder of two levels or more (core/exits.py): each level's (number, price,
    # quantity), how many have filled, the ladder it was set from, breakeven_after, the entry
    rungs: tuple[tuple[int, Decimal, Decimal], ...] = ()
    hit: int = 0
    ladder: str = ""
    be_after: int = 0
    entry: Decimal | None = None
    # paper: the leg's isolated margin and liquidation price, as the Book's for a net position
    margin: Decimal = Decimal(0)
    liq: Decimal | None = None
    liq_f: float = 0.0
    liq_long: bool = True

    def flat(self) -> None:
        self.stop = self.take = self.trail = self.trail_act = self.trail_best = self.entry = self.liq = None
        self.stop_f = self.take_f = self.liq_f = 0.0
        self.rungs, self.hit, self.ladder, self.be_after = (), 0, "", 0
        self.margin = ZERO


EXIT_STATE = ("stop", "take", "trail", "trail_act", "trail_best", "entry")  # what the journal keeps of a position's exits


def exit_state(lv: Book | Levels) -> dict[str, Any]:
    out: dict[str, Any] = {name: None if getattr(lv, name) is None else str(getattr(lv, name)) for name in EXIT_STATE}
    if lv.rungs:
        out.update(rungs=[[n, str(p), str(q)] for n, p, q in lv.rungs], hit=lv.hit, ladder=lv.ladder,
                   be_after=lv.be_after)  # fmt: skip
    return out


def restore_exits(lv: Book | Levels, state: dict[str, Any]) -> None:
    for name in EXIT_STATE:
        raw = state.get(name)
        setattr(lv, name, None if raw is None else Decimal(raw))
    lv.stop_f, lv.take_f = float(lv.stop or 0), float(lv.take or 0)
    lv.rungs = tuple((int(n), Decimal(p), Decimal(q)) for n, p, q in state.get("rungs") or ())
    lv.hit, lv.ladder, lv.be_after = int(state.get("hit") or 0), state.get("ladder") or "", int(state.get("be_after") or 0)


@dataclass
class Book:
    """One symbol's trading state."""

    symbol: str
    strategy: Strategy
    history: deque[Candle]
    cursor: int | None = None
    pending: list[OrderRequest] = field(default_factory=list)
    stop: Decimal | None = None
    take: Decimal | None = None
    stop_f: float = 0.0
    take_f: float = 0.0
    trail: Decimal | None = None  # the trailing stop and the take-profit ladder, as Levels has them
    trail_act: Decimal | None = None
    trail_best: Decimal | None = None
    rungs: tuple[tuple[int, Decimal, Decimal], ...] = ()
    hit: int = 0
    ladder: str = ""
    be_after: int = 0
    entry: Decimal | None = None
    last_close: float = 0.0
    last_price: float = 0.0  # the forming candle's latest price (live), else the last close
    decided: int = 0  # candles decided on in this process
    failing: Failing | None = None  # while the strategy fails on every candle (strategy_host: said once)
    # isolated margin (paper broker): the position's margin and liquidation price
    margin: Decimal = Decimal(0)
    liq: Decimal | None = None
    liq_f: float = 0.0
    liq_long: bool = True  # the side liq is for: a long is liquidated below it
    forming: Candle | None = None  # live: the forming candle's latest update
    funded_to: int | None = None  # open time of the last candle whose funding times were booked
    legs: dict[str, Levels] = field(default_factory=lambda: {"LONG": Levels(), "SHORT": Levels()})  # Hedge Mode

    def levels(self, position_side: str) -> Book | Levels:
        """Where a position's stop and take live: the book (One-way) or its leg's Levels."""
        return self if position_side == "BOTH" else self.legs[position_side]

    def flat(self) -> None:
        """No position: no levels, no margin."""
        self.stop = self.take = self.liq = None
        self.trail = self.trail_act = self.trail_best = self.entry = None
        self.stop_f = self.take_f = self.liq_f = 0.0
        self.rungs, self.hit, self.ladder, self.be_after = (), 0, "", 0
        self.margin = ZERO

    def flat_side(self, position_side: str) -> None:
        """That side's position closed: its levels go (and, One-way, the book's margin)."""
        if position_side == "BOTH":
            self.flat()
        else:
            self.legs[position_side].flat()

    def last_open(self) -> int | None:
        """Open time of the latest closed candle taken in (decided on, or warm-up)."""
        if self.cursor is not None:
            return self.cursor
        return self.history[-1].open_time if self.history else None

    def price(self) -> Decimal | None:
        """The latest price seen (the forming candle's, else the last close), if any."""
        return dec(self.last_price) if self.last_price else None

    def state(self) -> dict[str, Any]:
        """What the journal keeps of a book between restarts (money as exact text)."""
        return {
            "cursor": self.cursor,
            "pending": [r.to_dict() for r in self.pending],
            **exit_state(self),
            "margin": str(self.margin),
            "liq": None if self.liq is None else str(self.liq),
            "liq_long": self.liq_long,
            "funded_to": self.funded_to,
            "legs": {ps: {**exit_state(lv), "margin": str(lv.margin), "liq": None if lv.liq is None else str(lv.liq)}
                     for ps, lv in self.legs.items() if any(exit_state(lv).values()) or lv.liq is not None},
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        if not state:
            return
        self.cursor = state.get("cursor")
        self.pending = [OrderRequest.from_dict(d) for d in state.get("pending", [])]
        restore_exits(self, state)
        raw = state.get("liq")
        self.liq, self.liq_f = (None, 0.0) if raw is None else (Decimal(raw), float(raw))
        self.margin = Decimal(state.get("margin") or 0)
        self.funded_to = state.get("funded_to")
        self.liq_long = bool(state.get("liq_long", True))
        for ps, kept in (state.get("legs") or {}).items():
            # a list: [stop, take] as kept before the trailing stop (issue 29)
            restore_exits(self.legs[ps], kept if isinstance(kept, dict) else dict(zip(("stop", "take"), kept, strict=False)))
            if isinstance(kept, dict) and kept.get("liq") is not None:  # paper: the leg's isolated margin
                lv = self.legs[ps]
                lv.margin, lv.liq = Decimal(kept.get("margin") or 0), Decimal(kept["liq"])
                lv.liq_f, lv.liq_long = float(lv.liq), ps == "LONG"
