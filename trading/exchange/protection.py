"""Each open position's stop-loss and take-profit, resting on the exchange (demo and live).

The trader decides the levels (trading/core/trader.py, from stop_loss_pct/take_profit_pct and
the entry); this keeps Binance's conditional orders equal to them: placed after an opening
fill, replaced when the levels change, cancelled when the position is closed or reversed,
and checked against the exchange's open algo orders on /start, on a resume and after every
user-stream reconnect (`check=True`), where missing ones are placed again and the bot's
own orphans cancelled. The bot's orders are known by their client id's prefix
`tgx-<instance id>-`; anything else (the user's own orders) is never touched. In Hedge
Mode each leg has its own pair (positionSide on the order, the leg in the id's tag), so
one leg's stop filling and its take-profit cancelled leave the other leg's pair alone.

Client ids are derived from the position (its opening time, the symbol) and a generation
that grows with every replacement, so a retry after an unclear answer is the same id and
a replacement never reuses a cancelled one (an id Binance has seen before answers -4116,
and the broker then finds that old order: such an answer moves on to the next generation).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.core.brokers.base import WOULD_TRIGGER, OrderRefused, WouldTrigger
from trading.core.portfolio import position_key
from trading.exchange.orders import ExchangeOrder

log = logging.getLogger(__name__)

KINDS = {"sl": "STOP_MARKET", "tp": "TAKE_PROFIT_MARKET"}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class ExitBroker(Protocol):
    def place_exit(
        self, client_id: str, symbol: str, side: str, kind: str, trigger: Decimal, working_type: str,
        position_side: str = "BOTH",
    ) -> ExchangeOrder: ...
    def cancel_exit(self, symbol: str, client_id: str) -> bool: ...
    def open_exits(self, symbol: str) -> list[ExchangeOrder]: ...


@dataclass(frozen=True)
class Resting:
    opened_at: int
    side: int
    stop: Decimal | None
    take: Decimal | None
    ids: tuple[str, ...]


def b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if not n:
            return out


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

    def exit_ids(self, symbol: str, opened_at: int, gen: int) -> tuple[str, str]:
        """`symbol` is the position's key (core/portfolio.position_key)."""
        tag = b36(zlib.crc32(symbol.encode()) % 1296).rjust(2, "0")
        base = f"{self.prefix}{b36(opened_at)}-{tag}{b36(gen)}"
        return f"{base}-sl", f"{base}-tp"

    def is_own(self, client_id: str) -> bool:
        return client_id.startswith(self.prefix)

    def kind_of(self, client_id: str) -> str | None:
        """ "stop_loss" / "take_profit" for one of the bot's exits (or the order it fired)."""
        if not self.is_own(client_id):
            return None
        return {"-sl": "stop_loss", "-tp": "take_profit"}.get(client_id[-3:])

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
    ) -> list[str]:
        """Make the exchange hold exactly these exits for the position (none when flat), a
        Hedge Mode leg's when `position_side` is LONG/SHORT.

        check=True reads the exchange's open algo orders first (start, resume, reconnect);
        otherwise what this process placed is trusted. Returns lines worth telling the
        person (orphans cancelled, exits re-placed). Raises WouldTrigger or OrderRefused."""
        key = position_key(symbol, position_side)
        name = symbol if position_side == "BOTH" else f"{symbol} {position_side}"
        said: list[str] = []
        want = (
            (opened_at, side, stop, take)
            if side and (stop is not None or take is not None)
            else None
        )
        cur = self._resting.get(key)
        own: list[str] = list(cur.ids) if cur is not None else []
        if check:
            found = {
                o.client_id: o for o in self.broker.open_exits(symbol)
                if self.is_own(o.client_id) and o.position_side == position_side
            }  # fmt: skip
            cur = self._recognise(key, want, found) if want is not None else None
            keep = set(cur.ids) if cur is not None else set()
            orphans = sorted(set(found) - keep)
            if orphans and (want is None or cur is not None):
                said.append(
                    f"{name}: cancelled {len(orphans)} exit order(s) of the bot with no position behind them"
                )
            elif want is not None and cur is None:
                said.append(
                    f"{name}: the position's exits were not all on the exchange; placed again"
                )
            own = sorted(found)
        if cur is not None and want == (cur.opened_at, cur.side, cur.stop, cur.take):
            for cid in own:
                if cid not in cur.ids:
                    self.broker.cancel_exit(symbol, cid)
            self._resting[key] = cur
            return said
        for cid in own:
            self.broker.cancel_exit(symbol, cid)
        self._resting.pop(key, None)
        if want is None:
            return said
        self._place(symbol, position_side, side, opened_at, stop, take)
        return said

    def _recognise(
        self,
        key: str,
        want: tuple[int, int, Decimal | None, Decimal | None],
        found: dict[str, ExchangeOrder],
    ) -> Resting | None:
        """The open orders that already are this position's exits (after a restart, memory is
        empty but the exchange kept them): the newest generation whose orders all rest at
        the wanted levels."""
        opened_at, side, stop, take = want
        head = self.exit_ids(key, opened_at, 0)[0][:-4]  # the id up to its generation
        gens = sorted(
            {int(cid[len(head) : -3], 36) for cid in found if cid.startswith(head)}, reverse=True
        )
        gkey = (key, opened_at)
        if gens:
            self._gen[gkey] = max(self._gen.get(gkey, 0), gens[0] + 1)
        for gen in gens:
            sl, tp = self.exit_ids(key, opened_at, gen)
            pairs = [(cid, level) for cid, level in ((sl, stop), (tp, take)) if level is not None]
            if all(cid in found and found[cid].stop_price == level for cid, level in pairs):
                return Resting(opened_at, side, stop, take, tuple(cid for cid, _ in pairs))
        return None

    def _place(
        self, symbol: str, position_side: str, side: int, opened_at: int, stop: Decimal | None, take: Decimal | None
    ) -> None:
        exit_side = "SELL" if side > 0 else "BUY"
        key = position_key(symbol, position_side)
        gkey = (key, opened_at)
        for _ in range(8):  # a generation Binance already knows moves on to the next
            gen = self._gen.get(gkey, 0)
            self._gen[gkey] = gen + 1
            ids = self.exit_ids(key, opened_at, gen)
            placed: list[str] = []
            stale = False
            for cid, suffix, level in ((ids[0], "sl", stop), (ids[1], "tp", take)):
                if level is None:
                    continue
                try:
                    if position_side == "BOTH":
                        order = self.broker.place_exit(cid, symbol, exit_side, KINDS[suffix], level, self.working_type)
                    else:
                        order = self.broker.place_exit(cid, symbol, exit_side, KINDS[suffix], level, self.working_type,
                                                       position_side)  # fmt: skip
                except OrderRefused as e:
                    for done in placed:
                        self.broker.cancel_exit(symbol, done)
                    if e.code == WOULD_TRIGGER:
                        kind = "stop_loss" if suffix == "sl" else "take_profit"
                        raise WouldTrigger(str(e), kind, level) from None
                    raise
                if order.status not in ("", "NEW"):
                    stale = True  # an old order under this id (the answer to -4116)
                    break
                placed.append(cid)
            if stale:
                for done in placed:
                    self.broker.cancel_exit(symbol, done)
                continue
            self._resting[key] = Resting(opened_at, side, stop, take, tuple(placed))
            return
        raise OrderRefused(f"{symbol}: no fresh client id for its exits after 8 generations")
