"""Each open position's exits resting on the exchange (demo and live): the stop-loss, the
take-profit (or each level of a take-profit ladder) and the trailing stop.

The trader decides the levels (trading/core/exits.py, from the strategy's exit parameters
and the entry); this keeps Binance's conditional orders (the Algo Order API) equal to them:
placed after an opening fill, replaced when a level changes, cancelled when the position
is closed or reversed, and checked against the exchange's open algo orders on /start, on a
resume and after every user-stream reconnect (`check=True`), where missing ones are placed
again and the bot's own orphans cancelled. The bot's orders are known by their client id's
prefix `tgx-<instance id>-`; anything else (the user's own orders) is never touched. In
Hedge Mode each leg has its own set (positionSide on the order, never reduceOnly, the leg
in the id's tag), so one leg's stop filling and its take-profit cancelled leave the other
leg's alone.

What rests, by the id's suffix:
- `-sl` STOP_MARKET and `-tp` TAKE_PROFIT_MARKET with closePosition (the whole position, or
  the leg, whatever its size when it triggers);
- `-t1`, `-t2`, … a take-profit ladder's levels (issue 29): TAKE_PROFIT_MARKET for the level's
  quantity (on the step; the remainder on the last level), reduce-only (Hedge Mode: by
  positionSide), a level that filled is no longer wanted;
- `-ts` the trailing stop: TRAILING_STOP_MARKET, callbackRate = trailing_stop_pct,
  activationPrice = the book's activation level (none: Binance activates it at once at the
  price of the moment), for the position's quantity, reduce-only (Binance takes
  closePosition only on STOP_MARKET / TAKE_PROFIT_MARKET), so it is replaced when the
  quantity changes (a ladder's level filled).

Only what changed is replaced: when a ladder's first level fills, the stop keeps resting
(unless breakeven_after moves it) and the next level too; the trailing stop follows the
smaller quantity. Client ids are derived from the position (its opening time, the symbol)
and a generation that grows with every placement, so a retry after an unclear answer is
the same id and a replacement never reuses a cancelled one (an id Binance has seen before
answers -4116, and the broker then finds that old order: such an answer moves on to the
next generation).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.core.brokers.base import WOULD_TRIGGER, OrderRefused, WouldTrigger
from trading.core.findings import ExitsResynced
from trading.core.portfolio import position_key
from trading.core.reasons import Reason, What
from trading.exchange.orders import ExchangeOrder

log = logging.getLogger(__name__)

GENERATIONS = 8  # client ids tried for a position's exits before its placing is refused
KINDS = {"sl": "STOP_MARKET", "tp": "TAKE_PROFIT_MARKET", "ts": "TRAILING_STOP_MARKET"}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class ExitBroker(Protocol):
    def place_exit(
        self, client_id: str, symbol: str, side: str, kind: str, trigger: Decimal, working_type: str,
        position_side: str = "BOTH", qty: Decimal | None = None,
    ) -> ExchangeOrder: ...
    def place_trailing(
        self, client_id: str, symbol: str, side: str, qty: Decimal, callback: Decimal, activation: Decimal | None,
        working_type: str, position_side: str = "BOTH",
    ) -> ExchangeOrder: ...
    def cancel_exit(self, symbol: str, client_id: str) -> bool: ...
    def open_exits(self, symbol: str) -> list[ExchangeOrder]: ...


@dataclass(frozen=True)
class Trail:
    """A trailing stop as it rests: callbackRate (%), activationPrice (None: at once), quantity."""

    callback: Decimal
    activation: Decimal | None
    qty: Decimal


@dataclass(frozen=True)
class Want:
    """One exit order as it should rest: its kind, trigger (a trailing stop's activation, or
    None), quantity (None: closePosition) and a trailing stop's callbackRate."""

    kind: str
    trigger: Decimal | None
    qty: Decimal | None = None
    callback: Decimal | None = None

    def matches(self, o: ExchangeOrder) -> bool:
        """An open order on the exchange that is this exit (read back after a restart)."""
        if self.callback is not None:
            return (o.callback_rate, o.activate_price or None, o.qty) == (self.callback, self.trigger, self.qty)
        return o.stop_price == self.trigger and (o.close_position if self.qty is None else o.qty == self.qty)


@dataclass(frozen=True)
class Resting:
    opened_at: int
    side: int
    orders: tuple[tuple[str, str, Want], ...]  # (suffix, client id, what it is)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(cid for _, cid, _ in self.orders)


def b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if not n:
            return out


def wanted(
    stop: Decimal | None, take: Decimal | None, trail: Trail | None, rungs: tuple[tuple[int, Decimal, Decimal], ...]
) -> dict[str, Want]:
    """The exits a position wants, by suffix. `rungs`: a ladder's levels still to fill, (n, price, qty)."""
    out: dict[str, Want] = {}
    if stop is not None:
        out["sl"] = Want("STOP_MARKET", stop)
    if rungs:
        for n, price, qty in rungs:
            out[f"t{n}"] = Want("TAKE_PROFIT_MARKET", price, qty)
    elif take is not None:
        out["tp"] = Want("TAKE_PROFIT_MARKET", take)
    if trail is not None:
        out["ts"] = Want("TRAILING_STOP_MARKET", trail.activation, trail.qty, trail.callback)
    return out


def exit_kind(suffix: str) -> str | None:
    """The exit reason an id's suffix stands for (`sl`, `tp`, `ts`, `t1`…)."""
    if suffix in ("sl", "tp", "ts"):
        return {"sl": "stop_loss", "tp": "take_profit", "ts": "trailing_stop"}[suffix]
    if len(suffix) == 2 and suffix[0] == "t" and suffix[1].isdigit() and suffix[1] != "0":
        return f"take_profit_{suffix[1]}"
    return None


class ExchangeExits:
    """Thread-safe only under the trader's lock (every call comes from the trader)."""

    def __init__(
        self, broker: ExitBroker, instance_id: str, working_type: str = "MARK_PRICE"
    ) -> None:
        self.broker = broker
        self.prefix = f"tgx-{instance_id}-"
        self.working_type = working_type
        self._resting: dict[str, Resting] = {}  # by position key: the symbol, or SYMBOL:LONG/SHORT
        self._gen: dict[tuple[str, int], int] = {}

    def exit_ids(self, symbol: str, opened_at: int, gen: int) -> tuple[str, str, str]:
        """`symbol` is the position's key (core/portfolio.position_key): the -sl, -tp, -ts ids."""
        base = self._base(symbol, opened_at, gen)
        return f"{base}-sl", f"{base}-tp", f"{base}-ts"

    def _base(self, key: str, opened_at: int, gen: int) -> str:
        tag = b36(zlib.crc32(key.encode()) % 1296).rjust(2, "0")
        return f"{self.prefix}{b36(opened_at)}-{tag}{b36(gen)}"

    def is_own(self, client_id: str) -> bool:
        return client_id.startswith(self.prefix)

    def kind_of(self, client_id: str) -> str | None:
        """ "stop_loss" / "take_profit" / "take_profit_N" / "trailing_stop" for one of the bot's
        exits (or the order it fired)."""
        if not self.is_own(client_id) or client_id[-3:-2] != "-":
            return None
        return exit_kind(client_id[-2:])

    def sync(
        self,
        symbol: str,
        side: int,
        opened_at: int,
        stop: Decimal | None,
        take: Decimal | None,
        *,
        check: bool = False,
        position_side: str = "BOTH",
        trail: tuple[Decimal, Decimal | None, Decimal] | None = None,
        rungs: tuple[tuple[int, Decimal, Decimal], ...] = (),
    ) -> list[ExitsResynced]:
        """Make the exchange hold exactly these exits for the position (none when flat), a
        Hedge Mode leg's when `position_side` is LONG/SHORT. `trail`: (callback, activation,
        quantity); `rungs`: a take-profit ladder's levels still to fill, (n, price, quantity),
        instead of `take`.

        check=True reads the exchange's open algo orders first (start, resume, reconnect);
        otherwise what this process placed is trusted. Returns what is worth telling the
        person (orphans cancelled, exits re-placed). Raises WouldTrigger or OrderRefused."""
        key = position_key(symbol, position_side)
        said: list[ExitsResynced] = []
        want = wanted(stop, take, Trail(*trail) if trail is not None else None, rungs) if side else {}
        cur = self._resting.get(key)
        own = list(cur.ids) if cur is not None else []
        if check:
            found = {
                o.client_id: o for o in self.broker.open_exits(symbol)
                if self.is_own(o.client_id) and o.position_side == position_side
            }  # fmt: skip
            cur = self._recognise(key, opened_at, side, want, found) if want else None
            keep = set(cur.ids) if cur is not None else set()
            orphans = sorted(set(found) - keep)
            complete = cur is not None and len(cur.orders) == len(want)
            if orphans and (not want or complete):
                said.append(ExitsResynced(symbol, position_side, "orphans", len(orphans)))
            elif want and not complete:
                said.append(ExitsResynced(symbol, position_side, "replaced"))
            own = sorted(found)
        same = cur is not None and (cur.opened_at, cur.side) == (opened_at, side)
        kept = tuple(o for o in cur.orders if want.get(o[0]) == o[2]) if cur is not None and same else ()
        kept_ids = {cid for _, cid, _ in kept}
        for cid in own:
            if cid not in kept_ids:
                self.broker.cancel_exit(symbol, cid)
        missing = {s: w for s, w in want.items() if s not in {o[0] for o in kept}}
        if not want:
            self._resting.pop(key, None)
            return said
        self._resting[key] = Resting(opened_at, side, kept)
        if missing:
            placed = self._place(symbol, position_side, side, opened_at, missing, kept)
            self._resting[key] = Resting(opened_at, side, kept + placed)
        return said

    def _recognise(
        self, key: str, opened_at: int, side: int, want: dict[str, Want], found: dict[str, ExchangeOrder]
    ) -> Resting | None:
        """The open orders that already are this position's exits (after a restart, memory is
        empty but the exchange kept them): for each wanted exit, the newest generation's order
        that rests as wanted (None: none of them)."""
        head = self._base(key, opened_at, 0)[:-1]  # the id up to its generation
        gens: dict[str, list[tuple[int, str]]] = {}
        top = -1
        for cid in found:
            if cid.startswith(head) and cid[-3:-2] == "-":
                try:
                    gen = int(cid[len(head) : -3], 36)
                except ValueError:
                    continue
                top = max(top, gen)
                gens.setdefault(cid[-2:], []).append((gen, cid))
        gkey = (key, opened_at)
        if top >= 0:
            self._gen[gkey] = max(self._gen.get(gkey, 0), top + 1)
        orders = []
        for suffix, w in want.items():
            for _, cid in sorted(gens.get(suffix, []), reverse=True):
                if w.matches(found[cid]):
                    orders.append((suffix, cid, w))
                    break
        return Resting(opened_at, side, tuple(orders)) if orders else None

    def _trailing(self, cid: str, symbol: str, position_side: str, side: str, w: Want) -> ExchangeOrder:
        """The trailing stop; an activation price the market has already passed (-2021) means
        it is active now: placed without one (Binance then activates it at the price of the moment)."""
        assert w.callback is not None and w.qty is not None
        try:
            return self.broker.place_trailing(cid, symbol, side, w.qty, w.callback, w.trigger, self.working_type,
                                              position_side)  # fmt: skip
        except OrderRefused as e:
            if e.code != WOULD_TRIGGER or w.trigger is None:
                raise
        log.info("%s: the trailing stop's activation %s is already passed; placed active now", symbol, w.trigger)
        return self.broker.place_trailing(cid, symbol, side, w.qty, w.callback, None, self.working_type, position_side)

    def _one(self, cid: str, symbol: str, position_side: str, side: str, w: Want) -> ExchangeOrder:
        if w.callback is not None:
            return self._trailing(cid, symbol, position_side, side, w)
        assert w.trigger is not None
        if position_side == "BOTH" and w.qty is None:
            return self.broker.place_exit(cid, symbol, side, w.kind, w.trigger, self.working_type)
        return self.broker.place_exit(cid, symbol, side, w.kind, w.trigger, self.working_type, position_side, w.qty)

    def _place(
        self, symbol: str, position_side: str, side: int, opened_at: int, missing: dict[str, Want],
        kept: tuple[tuple[str, str, Want], ...],
    ) -> tuple[tuple[str, str, Want], ...]:  # fmt: skip
        exit_side = "SELL" if side > 0 else "BUY"
        key = position_key(symbol, position_side)
        gkey = (key, opened_at)
        for _ in range(GENERATIONS):  # a generation Binance already knows moves on to the next
            gen = self._gen.get(gkey, 0)
            self._gen[gkey] = gen + 1
            base = self._base(key, opened_at, gen)
            placed: list[tuple[str, str, Want]] = []
            stale = False
            for suffix, w in missing.items():
                cid = f"{base}-{suffix}"
                try:
                    order = self._one(cid, symbol, position_side, exit_side, w)
                except OrderRefused as e:
                    for _, done, _ in placed:
                        self.broker.cancel_exit(symbol, done)
                    if e.code == WOULD_TRIGGER and w.callback is None and w.trigger is not None:
                        raise WouldTrigger(e.reason, exit_kind(suffix) or "take_profit", w.trigger, w.qty) from None
                    raise
                if order.status not in ("", "NEW"):
                    stale = True  # an old order under this id (the answer to -4116)
                    break
                placed.append((suffix, cid, w))
            if stale:
                for _, done, _ in placed:
                    self.broker.cancel_exit(symbol, done)
                continue
            return tuple(placed)
        raise OrderRefused(Reason(What.NO_FRESH_ID, symbol, numbers={"generations": Decimal(GENERATIONS)}))
