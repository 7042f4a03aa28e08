"""What the user data stream says: every change on the account as Binance's events.

The account and the algo book know nothing about the stream. `AccountWatcher.sync()`
compares them with what it has already told and turns each difference into the events
Binance pushes for it, in event-time order: a new order (`ORDER_TRADE_UPDATE` x=NEW), a
modification (x=AMENDMENT, PUT /fapi/v1/order), each fill (first `TRADE_LITE`, Binance's
fast subset of a trade, for x=TRADE only; then x=TRADE, or x=CALCULATED for a liquidation
or ADL order, with the trade id `t`, commission `n`/`N`, realized profit `rp`) followed by
the `ACCOUNT_UPDATE` (reason ORDER; position rows with the margin asset `ma`) it causes, a
cancel or an expiry, and each state of a conditional order (`ALGO_UPDATE`: NEW, then
TRIGGERING, TRIGGERED, FINISHED or EXPIRED; CANCELED). Every order update carries `n`/`N`,
as Binance's wire does (`"n":"0","N":"USDT"` on one that traded nothing); the shapes are
pinned by tests/fixtures/binance_user_stream.json, written from captured payloads.

sync() runs on the server's loop after every REST request, after every replayed price
step (after matching and algo triggering), and right after an order POST has changed
the account even when its answer is delayed: the stream can beat the REST answer, as
it can on Binance. It also keeps the income history (`/fapi/v1/income`) of the fills.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from sim.binance.income import Income
from sim.binance.orders import ZERO, Order, Position, Trade
from sim.binance.reports import fixed, trimmed
from sim.binance.rules import TAKER_FEE

if TYPE_CHECKING:
    from sim.binance.account import Account
    from sim.binance.algo import AlgoBook, AlgoOrder

Event = dict[str, object]
FINAL = ("FILLED", "CANCELED", "EXPIRED")
ALGO_FINAL = ("FINISHED", "CANCELED", "EXPIRED", "REJECTED")
LIQUIDATION_PREFIXES = ("autoclose-", "adl_autoclose")


def is_liquidation(client_id: str) -> bool:
    return client_id.startswith(LIQUIDATION_PREFIXES)


class AccountWatcher:
    def __init__(
        self,
        account: Account,
        algo: AlgoBook,
        publish: Callable[[Event], None],
        now: Callable[[], int],
    ) -> None:
        self.account = account
        self.algo = algo
        self.publish = publish
        self.now = now
        self.income = Income(now)
        self.income.add("TRANSFER", account.wallet, "USDT", account.update_time, info="TRANSFER")
        self._orders_seen = 0
        self._order_status: dict[int, str] = {}  # orders not yet final -> status told
        self._order_filled: dict[int, Decimal] = {}
        self._order_quote: dict[int, Decimal] = {}
        self._order_amended: dict[int, int] = {}  # amendments told, per open order
        self._trades_seen = 0
        self._algo_seen = 0
        self._algo_status: dict[int, str] = {}
        self._realized: dict[tuple[str, str], Decimal] = {}  # "cr": accumulated realized profit per position
        self.on_trade: list[Callable[[Trade], None]] = []  # fee conversion, income hooks

    # ---- the diff ------------------------------------------------------------------------

    def sync(self) -> None:
        acc, algo = self.account, self.algo
        if (
            len(acc.orders) == self._orders_seen
            and len(acc.trades) == self._trades_seen
            and len(algo.orders) == self._algo_seen
            and not self._order_status
            and not self._algo_status
        ):
            return  # nothing new, nothing open: the common case on every replayed step
        events: list[tuple[int, int, Event]] = []
        seq = itertools.count()

        def add(when: int, event: Event) -> None:
            events.append((when, next(seq), event))

        fired, finals = self._algo_changes(add)
        self._order_changes(add, fired)
        for o in finals:  # after the actual order's events (same time, later seq)
            add(o.update_time, self.algo_event(o, o.status, o.update_time))
        events.sort(key=lambda e: (e[0], e[1]))
        for _, _, event in events:
            self.publish(event)

    def _algo_changes(
        self, add: Callable[[int, Event], None]
    ) -> tuple[dict[int, AlgoOrder], list[AlgoOrder]]:
        """Algo orders that changed: those that fired (by actual order id), and all that
        reached a final state (told after their actual orders)."""
        fired: dict[int, AlgoOrder] = {}
        finals: list[AlgoOrder] = []
        new = list(itertools.islice(self.algo.orders.values(), self._algo_seen, None))
        self._algo_seen += len(new)
        for o in new:
            self._algo_status[o.algo_id] = "NEW"
            add(o.time, self.algo_event(o, "NEW", o.time))
        for algo_id, told in list(self._algo_status.items()):
            o = self.algo.orders[algo_id]
            if o.status == told:
                continue
            del self._algo_status[algo_id]
            if o.actual_order_id is not None:
                fired[o.actual_order_id] = o
                add(o.trigger_time, self.algo_event(o, "TRIGGERING", o.trigger_time))
                add(o.trigger_time, self.algo_event(o, "TRIGGERED", o.trigger_time))
            finals.append(o)
        return fired, finals

    def _order_changes(self, add: Callable[[int, Event], None], fired: dict[int, AlgoOrder]) -> None:
        acc = self.account
        new_orders = list(itertools.islice(acc.orders.values(), self._orders_seen, None))
        self._orders_seen += len(new_orders)
        new_trades = acc.trades[self._trades_seen :]
        self._trades_seen += len(new_trades)
        by_order: dict[int, list[Trade]] = {}
        for t in new_trades:
            by_order.setdefault(t.order_id, []).append(t)
            self._book_income(t)
        changed = list(new_orders)
        for oid, told in list(self._order_status.items()):
            order = acc.orders[oid]
            if order.status != told or oid in by_order or order.amendments != self._order_amended.get(oid, 0):
                changed.append(order)
        for order in changed:
            algo = fired.get(order.order_id)
            if order.order_id not in self._order_status and order.order_id not in self._order_filled:
                add(order.time, self.order_event(order, "NEW", "NEW", order.time, algo=algo,
                                                 filled=ZERO, quote=ZERO))  # fmt: skip
                self._order_filled[order.order_id] = ZERO
                self._order_quote[order.order_id] = ZERO
            if order.amendments != self._order_amended.get(order.order_id, 0):
                self._order_amended[order.order_id] = order.amendments
                add(order.update_time, self.order_event(order, "AMENDMENT", "PARTIALLY_FILLED"
                                                        if order.executed_qty else "NEW", order.update_time))  # fmt: skip
            for t in by_order.get(order.order_id, []):
                filled = self._order_filled[order.order_id] + t.qty
                quote = self._order_quote[order.order_id] + t.qty * t.price
                self._order_filled[order.order_id], self._order_quote[order.order_id] = filled, quote
                status = "FILLED" if filled >= order.orig_qty else "PARTIALLY_FILLED"
                kind = "CALCULATED" if is_liquidation(order.client_id) else "TRADE"
                if kind == "TRADE":  # Binance's fast trade stream comes first, TRADE only
                    add(t.time, self.trade_lite(order, t))
                add(t.time, self.order_event(order, kind, status, t.time, algo=algo, trade=t,
                                             filled=filled, quote=quote))  # fmt: skip
                add(t.time, self.account_update("ORDER", t.time, positions=self.changed_rows(t)))
            if order.status in ("CANCELED", "EXPIRED"):
                add(order.update_time, self.order_event(order, order.status, order.status,
                                                        order.update_time, algo=algo))  # fmt: skip
            if order.status in FINAL:
                self._order_status.pop(order.order_id, None)
                self._order_filled.pop(order.order_id, None)
                self._order_quote.pop(order.order_id, None)
                self._order_amended.pop(order.order_id, None)
            else:
                self._order_status[order.order_id] = order.status

    def _book_income(self, t: Trade) -> None:
        spec = self.account.specs[t.symbol]
        key = (t.symbol, t.position_side)
        self._realized[key] = self._realized.get(key, ZERO) + t.realized_pnl
        if t.realized_pnl:
            self.income.add("REALIZED_PNL", t.realized_pnl, spec.quote_asset, t.time,
                            symbol=t.symbol, trade_id=t.trade_id)  # fmt: skip
        for hook in self.on_trade:
            hook(t)
        asset, amount = self.account.commission_of(t)
        if amount:
            self.income.add("COMMISSION", -amount, asset, t.time, symbol=t.symbol, trade_id=t.trade_id)

    # ---- event bodies ----------------------------------------------------------------------

    def order_event(
        self, order: Order, kind: str, status: str, when: int, *, algo: AlgoOrder | None = None,
        trade: Trade | None = None, filled: Decimal | None = None, quote: Decimal | None = None,
    ) -> Event:  # fmt: skip
        spec = self.account.specs[order.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        if filled is None:
            filled = self._order_filled.get(order.order_id, order.executed_qty)
            quote = self._order_quote.get(order.order_id, order.cum_quote)
        avg = (quote or ZERO) / filled if filled else ZERO
        liquidation = is_liquidation(order.client_id)
        otype = "LIQUIDATION" if liquidation else order.type
        o: dict[str, object] = {
            "s": order.symbol,
            "c": order.client_id,
            "S": order.side,
            "o": otype,
            "f": "IOC" if liquidation else order.time_in_force,
            "q": fixed(order.orig_qty, qp),
            "p": fixed(order.price, pp),
            "ap": fixed(avg, max(pp, 5)),
            "sp": fixed(algo.trigger, pp) if algo else fixed(ZERO, pp),
            "x": kind,
            "X": status,
            "i": order.order_id,
            "l": fixed(trade.qty if trade else ZERO, qp),
            "z": fixed(filled, qp),
            "L": fixed(trade.price if trade else ZERO, pp),
            "T": when,
            "t": trade.trade_id if trade else 0,
            "b": "0",
            "a": "0",
            "m": bool(trade.maker) if trade else False,
            "R": order.reduce_only,
            "wt": algo.working_type if algo else "CONTRACT_PRICE",
            "ot": algo.type if algo else otype,
            "ps": order.position_side,
            "cp": bool(algo.close_position) if algo else False,
            "rp": fixed(trade.realized_pnl if trade else ZERO, 8),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
            "er": "0",
        }
        if algo is not None and algo.type == "TRAILING_STOP_MARKET":  # Binance: "only pushed with TRAILING_STOP_MARKET order"
            o["AP"] = fixed(algo.activate if algo.activate is not None else algo.placed_at, pp)
            o["cr"] = f"{algo.callback.normalize():f}" if algo.callback is not None else "0"
        # Binance's wire carries both on every order update (captured: "n":"0","N":"USDT" on a NEW)
        asset, amount = self.account.commission_of(trade) if trade is not None else (spec.quote_asset, ZERO)
        o["N"], o["n"] = asset, fixed(amount, 8) if trade is not None else "0"
        return {"e": "ORDER_TRADE_UPDATE", "E": when, "T": when, "o": o}

    def trade_lite(self, order: Order, trade: Trade) -> Event:
        """TRADE_LITE: Binance's low-latency subset of a trade, sent before the fill's
        ACCOUNT_UPDATE and ORDER_TRADE_UPDATE (its USDⓈ-M user data stream docs)."""
        spec = self.account.specs[order.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        return {
            "e": "TRADE_LITE", "E": trade.time, "T": trade.time, "s": order.symbol,
            "q": fixed(order.orig_qty, qp), "p": fixed(order.price, pp), "m": bool(trade.maker),
            "c": order.client_id, "S": order.side, "L": fixed(trade.price, pp), "l": fixed(trade.qty, qp),
            "t": trade.trade_id, "i": order.order_id,
        }  # fmt: skip

    def algo_event(self, o: AlgoOrder, status: str, when: int) -> Event:
        spec = self.account.specs[o.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        actual = self.account.orders.get(o.actual_order_id or -1) if o.actual_order_id else None
        shown = status in ("TRIGGERED", "FINISHED", "EXPIRED") and actual is not None
        avg = actual.cum_quote / actual.executed_qty if actual and actual.executed_qty else ZERO
        body: dict[str, object] = {
            "caid": o.client_id,
            "aid": o.algo_id,
            "at": "CONDITIONAL",
            "o": o.type,
            "s": o.symbol,
            "S": o.side,
            "ps": o.position_side,
            "f": "GTC",
            "q": fixed(o.qty, qp),
            "X": status,
            "ai": str(o.actual_order_id) if shown else "",
            "ap": fixed(avg if shown and status != "TRIGGERED" else ZERO, 5),
            "aq": fixed(actual.executed_qty if shown and actual and status != "TRIGGERED" else ZERO, qp),
            "act": "MARKET" if shown else "0",
            "tp": fixed(o.trigger, pp),
            "p": fixed(ZERO, pp),
            "V": "EXPIRE_MAKER",
            "wt": o.working_type,
            "pm": "NONE",
            "cp": o.close_position,
            "pP": False,
            "R": o.reduce_only,
            "tt": o.trigger_time,
            "gtd": 0,
        }
        if status == "EXPIRED" and o.actual_order_id is not None:
            body["rm"] = "Reduce Only reject"
        return {"e": "ALGO_UPDATE", "T": when, "E": when, "o": body}

    def changed_rows(self, t: Trade) -> list[Position]:
        """The rows a fill's ACCOUNT_UPDATE carries. Binance (USDⓈ-M changelog 2020-11-09):
        "P will push the details in the BOTH position of this symbol. If the change happens
        in LONG or SHORT position, the changed LONG or SHORT position of this symbol will be
        pushed": BOTH, and in Hedge Mode the leg the fill changed."""
        rows = [self.account.positions[t.symbol]]
        if t.position_side != "BOTH":
            rows.append(self.account.position(t.symbol, t.position_side))
        return rows

    def account_update(
        self, reason: str, when: int, *, positions: list[Position] | None = None, change: Decimal = ZERO
    ) -> Event:
        """Balances, and the rows of `positions` (none for a cross FUNDING_FEE)."""
        acc = self.account
        wallet = fixed(acc.wallet, 8)
        balances: list[dict[str, object]] = [{"a": "USDT", "wb": wallet, "cw": wallet, "bc": fixed(change, 8)}]
        balances += [
            {"a": a, "wb": fixed(v, 8), "cw": fixed(v, 8), "bc": "0.00000000"}
            for a, v in acc.other_assets.items()
            if v or acc.fee_burn()
        ]
        rows = []
        for pos in positions or []:
            sym = pos.symbol
            side = 1 if pos.amt > 0 else -1
            isolated = acc.margin_types[sym] == "ISOLATED"
            rows.append(
                {
                    "s": sym,
                    "pa": fixed(pos.amt, acc.specs[sym].quantity_precision),
                    "ep": trimmed(pos.entry),
                    "bep": trimmed(pos.entry * (1 + TAKER_FEE * side)) if pos.amt else "0",
                    "cr": fixed(self._realized.get((sym, pos.side), ZERO), 8),
                    "up": fixed(acc.unrealized(pos), 8),
                    "mt": "isolated" if isolated else "cross",
                    "iw": fixed(pos.isolated_wallet if isolated else ZERO, 8),
                    "ps": pos.side,
                    "ma": acc.specs[sym].quote_asset,  # the margin asset
                }
            )
        return {"e": "ACCOUNT_UPDATE", "E": when, "T": when, "a": {"m": reason, "B": balances, "P": rows}}

    def config_update(self, when: int) -> Event:
        """ACCOUNT_CONFIG_UPDATE after a position-mode change. Binance documents two bodies
        (`ac`: a symbol's leverage; `ai`: the account's Multi-Assets mode `j`), none for the
        position mode: what clients saw after switching it in the app is the `ai` body
        (Binance.Net #886: `ai.j` false whichever mode), and at other times nothing at all
        (Binance.Net #1189). So the event says the account's configuration changed and a
        client must read the mode itself (GET /fapi/v1/positionSide/dual)."""
        return {"e": "ACCOUNT_CONFIG_UPDATE", "E": when, "T": when, "ai": {"j": self.account.multi_assets}}
