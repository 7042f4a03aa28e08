"""After a crash or a restart: what the book, the proposals and the exchange say is settled
before anything is traded again.

Paper: a proposal confirmed or being placed is settled from what was booked (its legs' client
order ids in the fills), never placed again. On an exchange, when the stream starts, the
exchange is asked instead: each such proposal's orders by their client ids (fills found there
are booked), fills made while the account stream was down, then the exchange's position is
adopted wherever the book disagrees and the resting exits are checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from storage.trades import TradeJournal
from trading.config import Settings
from trading.core.brokers import Broker
from trading.core.findings import (
    ExitsResynced,
    FillsCaughtUp,
    FundingCaughtUp,
    HedgedPositions,
    PositionDiffers,
)
from trading.core.portfolio import Fill, position_key
from trading.core.trader import Trader
from trading.exchange.account_sync import AccountFollower
from trading.exchange.protection import ExchangeExits
from trading.exchange.reconcile import differences, hedged, reconcile
from trading.live.answers import Answer, Kind
from trading.live.mode import Mode
from trading.live.proposals import Confirmations
from trading.live.store import stored_fills


@dataclass(frozen=True)
class Settled:
    """A proposal a crash left confirmed or being placed, settled from the exchange's orders."""

    proposal: int
    answer: Answer


@dataclass(frozen=True)
class Adopted:
    """The book now follows the exchange's position; `difference` as trading/exchange/reconcile.py found it."""

    difference: PositionDiffers


@dataclass(frozen=True)
class ForeignOrders:
    """Resting orders on the exchange the bot did not place in this run: left as they are.
    `orders`: (type, side, client id) of the first five; `count`: all of them."""

    symbol: str
    count: int
    orders: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class NotReconciled:
    """The exchange could not be asked (`error`: the exception's name); streaming goes on."""

    error: str


# What a reconcile reports (each one told as an events.Reconciled, worded by bot/texts.py):
# these, the account follower's catch-up and the resting exits' check (trading/core/events.py).
Finding = Settled | Adopted | ForeignOrders | NotReconciled | HedgedPositions | FillsCaughtUp | FundingCaughtUp | ExitsResynced


class Recovery:
    def __init__(
        self, settings: Settings, mode: Mode, trader: Trader, broker: Broker, journal: TradeJournal,
        confirmations: Confirmations | None, exits: ExchangeExits | None, follower: AccountFollower | None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.mode = mode
        self._trader = trader
        self._broker = broker
        self._journal = journal
        self._confirmations = confirmations
        self._exits = exits  # demo/live: the bot's own resting exits, known by client id
        self._follower = follower
        # Proposals a crash left confirmed or being placed: only these are reconciled, never
        # one that a person confirms in this process (it would race its own placement).
        self._leftovers = {p.id for p in (confirmations.open() if confirmations is not None else []) if p.status != "pending"}

    def recover(self) -> None:
        """Paper, at start: every leftover proposal settled from the stored fills."""
        if self._confirmations is None or self.mode.exchange:
            return
        booked = {f.order_id for f in stored_fills(self._journal)}
        for p in self._confirmations.open():
            if p.status == "pending":
                continue
            done = [leg for leg in p.legs if leg.id in booked]
            answer = (
                Answer(Kind.RESTART_BOOKED, numbers={"done": Decimal(len(done)), "total": Decimal(len(p.legs))})
                if done
                else Answer(Kind.RESTART_NOT_SENT)
            )
            self._confirmations.finish(p.id, p.status, "filled" if done else "failed", answer, announce=True)

    def reconcile(self) -> list[Finding]:
        """On an exchange, before streaming: settle every leftover proposal by asking for its
        orders' client ids (booking fills found there), then adopt the exchange's position
        wherever the book disagrees. Returns what it changed.

        Holds the trader's lock throughout, so no order is being placed while the book and
        the exchange are compared."""
        if not self.mode.exchange:
            return []
        with self._trader.lock:
            said = self._settle_leftovers()
            if self._follower is not None:  # fills made while the bot was down, by trade id
                said += self._follower.catch_up()
            return said + self._adopt_positions() + self._trader.protect_all(check=True)

    def _settle_leftovers(self) -> list[Finding]:
        said: list[Finding] = []
        conf = self._confirmations
        booked = {f.order_id for f in stored_fills(self._journal)}
        for pid in sorted(self._leftovers):
            p = conf.get(pid) if conf is not None else None
            if conf is None or p is None or p.status not in ("confirmed", "placed"):
                continue
            found = [f for leg in p.legs if leg.id not in booked and (f := self._broker.lookup(leg)) is not None]  # type: ignore[attr-defined]
            self._trader.exchange_fills.adopt(found)
            answer = (
                Answer(Kind.FOUND_ON_EXCHANGE, names=tuple(f.order_id for f in found))
                if found
                else Answer(Kind.NOT_ON_EXCHANGE)
            )
            conf.finish(p.id, p.status, "filled" if found else "failed", answer, announce=True)
            said.append(Settled(p.id, answer))
        self._leftovers.clear()
        return said

    def _adopt_positions(self) -> list[Finding]:
        trader = self._trader
        hedge = trader.hedge  # Hedge Mode: each leg compared and adopted apart
        state = reconcile(self._broker, self.settings.symbols, hedge=hedge)
        book = {key: pos.qty for key, pos in trader.portfolio.positions.items()}
        said: list[Finding] = [Adopted(d) for d in differences(state, book)]
        said += hedged(state)
        keeper = self._exits
        for symbol, orders in state.orders.items():
            orders = [o for o in orders if keeper is None or not keeper.is_own(o.client_id)]
            if orders:  # resting orders the bot did not place in this run: say so, touch nothing
                said.append(ForeignOrders(symbol, len(orders), tuple((o.type, o.side, o.client_id) for o in orders[:5])))
        for symbol in self.settings.symbols:
            for ps in ("LONG", "SHORT") if hedge else ("BOTH",):
                key = position_key(symbol, ps)
                gap = state.qty(key) - book.get(key, Decimal(0))
                if gap and symbol not in state.hedged:
                    pos = state.positions.get(key)
                    price = pos.entry if pos is not None else (trader.current_price(symbol) or Decimal(0))
                    now = int(time.time() * 1000)
                    trader.exchange_fills.adopt([
                        Fill(f"reconcile-{key.replace(':', '-')}-{now}", symbol, "BUY" if gap > 0 else "SELL",
                             abs(gap), price, Decimal(0), now, "reconciled with the exchange", position_side=ps)
                    ])
        return said
