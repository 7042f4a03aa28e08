"""Conditional orders on the Algo Order API (`/fapi/v1/algoOrder`), as Binance runs them
since 2025-12-09: STOP_MARKET and TAKE_PROFIT_MARKET with a triggerPrice, by quantity
(optionally reduce-only) or closePosition.

They wait in this book, not on the account's order book, and cost no margin until they
fire. A replayed price update whose range reaches the trigger fires them: a MARKET order
is placed on the account (reduce-only, filled at the trigger price: no gap slippage in
the replay) and the algo order is FINISHED with its actualOrderId. One that finds nothing
to reduce (the position was closed meanwhile) ends EXPIRED, which is also what happens on
Binance to a reduce-only order with nothing to reduce. STOP / TAKE_PROFIT (limit) are
refused with -1116.

TRAILING_STOP_MARKET (issue 29) takes `callbackRate` (0.1–10, %) and an optional
`activationPrice` (a SELL's above the latest price, a BUY's below: else -2021); without
one it is active at once from the latest price. It follows the best price since its
activation (a SELL the highest, a BUY the lowest) and fires when the price comes back by
the callback: trigger = best × (1 ∓ callbackRate), on the tick. It follows the replay's
own price path (open → low → high → close for a candle that closes up, open → high → low →
close for one that closes down; sim/binance/klines.py), leg by leg within each update, so
its outcome does not depend on updates_per_candle and equals the paper model's reading of
the candle (trading/core/exits.py). Quantity and reduceOnly only (Binance refuses
closePosition on it). The fired order's ORDER_TRADE_UPDATE carries `AP` (the activation
price: the one sent, else the price it was placed at) and `cr` (the callback rate), which
Binance pushes only for TRAILING_STOP_MARKET.

A TAKE_PROFIT_MARKET for a quantity (a take-profit ladder's level) reduces the position by
that quantity only: the position stays open with the rest, and the account's events are
the same as for a whole close (ALGO_UPDATE NEW … FINISHED with `aq`, ORDER_TRADE_UPDATE,
ACCOUNT_UPDATE with the smaller `pa`).

In Hedge Mode an algo order names its leg (positionSide, reduceOnly refused -1106 as on
the order endpoint); closePosition closes that leg only, and the fired MARKET order
trades that leg (a SELL LONG stop reduces the LONG leg and never touches the SHORT one).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sim.binance.account import Account
from sim.binance.clock import Step
from sim.binance.errors import BinanceError, illegal_chars, mandatory
from sim.binance.market import SymbolSpec
from sim.binance.orders import (
    CLIENT_ID,
    ZERO,
    _quantity,
    bool_param,
    decimal_param,
    places,
    position_side,
)
from sim.binance.reports import fixed

KINDS = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
TRAILING = "TRAILING_STOP_MARKET"
HUNDRED = Decimal(100)
OPEN = ("NEW",)


@dataclass
class AlgoOrder:
    algo_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal  # ZERO with closePosition
    trigger: Decimal
    close_position: bool
    reduce_only: bool
    working_type: str
    time: int
    update_time: int
    status: str = "NEW"
    trigger_time: int = 0
    actual_order_id: int | None = None
    position_side: str = "BOTH"
    callback: Decimal | None = None  # TRAILING_STOP_MARKET: callbackRate, %
    activate: Decimal | None = None  # its activationPrice (None: active from placement)
    best: Decimal | None = None  # the best price since activation (None: not active yet)
    tick: Decimal = Decimal("0.1")
    placed_at: Decimal = ZERO  # the price when it was placed (a trailing stop sent without activationPrice activates there)

    def trailed(self) -> Decimal | None:
        """A trailing stop's trigger now (None: not active)."""
        if self.best is None or self.callback is None:
            return None
        sign = -1 if self.side == "SELL" else 1
        raw = self.best * (1 + sign * self.callback / HUNDRED)
        return (raw / self.tick).to_integral_value() * self.tick

    @property
    def fires_below(self) -> bool:
        """A sell stop and a buy take-profit fire when the price falls to the trigger."""
        return (self.type == "STOP_MARKET") == (self.side == "SELL")


class AlgoBook:
    def __init__(self, account: Account) -> None:
        self.account = account
        self._walk: dict[str, tuple[int, Decimal, set[str]]] = {}  # symbol → (candle, last price, extremes passed)
        self.orders: dict[int, AlgoOrder] = {}
        self._by_client_id: dict[str, AlgoOrder] = {}
        self._ids = itertools.count(3_000_000_001)

    # ---- endpoints -----------------------------------------------------------------------

    def place(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.account.require_spec(params)
        if params.get("algoType") != "CONDITIONAL":
            raise illegal_chars("algoType", "CONDITIONAL")
        side = params.get("side")
        if side not in ("BUY", "SELL"):
            raise mandatory("side") if not side else BinanceError(-1117, "Invalid side.")
        kind = params.get("type")
        if not kind:
            raise mandatory("type")
        if kind not in KINDS:
            raise BinanceError(-1116, "Invalid orderType.")
        ps = position_side(params, hedge=self.account.hedge)
        mark = self.account.mark(spec.symbol)
        callback = activate = best = None
        if kind == TRAILING:
            callback, activate = self._trailing(spec, params)
            if activate is not None and (activate <= mark if side == "SELL" else activate >= mark):
                raise BinanceError(-2021, "Order would immediately trigger.")
            best = mark if activate is None else None
            trigger = ZERO
            if bool_param(params, "closePosition"):
                raise BinanceError(-1106, "Parameter 'closePosition' sent when not required.")
        else:
            trigger = self._trigger(spec, params)
        close = bool_param(params, "closePosition")
        reduce_only = bool_param(params, "reduceOnly")
        qty = self._qty(spec, params, close, reduce_only)
        probe = AlgoOrder(0, "", spec.symbol, side, kind, qty, trigger, close, reduce_only, "", 0, 0)
        if kind != TRAILING and ((mark <= trigger) if probe.fires_below else (mark >= trigger)):
            raise BinanceError(-2021, "Order would immediately trigger.")
        client_id = params.get("clientAlgoId") or f"replay-algo-{next(self._ids)}"
        if not CLIENT_ID.fullmatch(client_id):
            raise BinanceError(-4015, "Client order id is not valid.")
        if client_id in self._by_client_id:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        now = self.account._now()
        order = AlgoOrder(
            next(self._ids), client_id, spec.symbol, side, kind, qty, trigger, close, reduce_only,
            params.get("workingType") or "CONTRACT_PRICE", now, now, position_side=ps,
            callback=callback, activate=activate, best=best, tick=spec.tick_size, placed_at=mark,
        )  # fmt: skip
        self.orders[order.algo_id] = order
        self._by_client_id[client_id] = order
        return self.json(order)

    def get(self, params: Mapping[str, str]) -> dict[str, object]:
        return self.json(self._find(params))

    def cancel(self, params: Mapping[str, str]) -> dict[str, object]:
        order = self._find(params)
        if order.status not in OPEN:
            raise BinanceError(-2011, "Unknown order sent.")
        order.status, order.update_time = "CANCELED", self.account._now()
        return {"algoId": order.algo_id, "clientAlgoId": order.client_id, "code": "200", "msg": "success"}

    def open_orders(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        spec = self.account.spec_for(params)
        return [
            self.json(o)
            for o in self.orders.values()
            if o.status in OPEN and (spec is None or o.symbol == spec.symbol)
        ]

    def cancel_all(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.account.require_spec(params)
        for o in self.orders.values():
            if o.status in OPEN and o.symbol == spec.symbol:
                o.status, o.update_time = "CANCELED", self.account._now()
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ---- triggering ------------------------------------------------------------------------

    async def ready(self) -> None:
        return None

    def on_step(self, step: Step) -> None:
        for item in step.items:
            symbol = item.series.symbol
            low, high = Decimal(item.update.low), Decimal(item.update.high)
            path = self._path(symbol, item.series.candles[item.index], item.index, low, high, Decimal(item.update.fields.c))
            for o in list(self.orders.values()):
                if o.status not in OPEN or o.symbol != symbol:
                    continue
                if o.type == TRAILING:
                    self._trail(o, path, item.update.event_time)
                elif (low <= o.trigger) if o.fires_below else (high >= o.trigger):
                    self._fire(o, item.update.event_time)

    def _path(self, symbol: str, candle: object, index: int, low: Decimal, high: Decimal, price: Decimal) -> list[Decimal]:
        """The prices this update walked, in order: from the last one, through the candle's
        extremes it passed (in the candle's path order), to its price."""
        o, c = Decimal(candle.open), Decimal(candle.close)  # type: ignore[attr-defined]
        lo, hi = Decimal(candle.low), Decimal(candle.high)  # type: ignore[attr-defined]
        cur = self._walk.get(symbol)
        prev, passed = (cur[1], cur[2]) if cur is not None and cur[0] == index else (o, set())
        points = [prev]
        for name, level in ((("lo", lo), ("hi", hi)) if c >= o else (("hi", hi), ("lo", lo))):
            if name not in passed and (low <= level if name == "lo" else high >= level):
                passed.add(name)
                points.append(level)
        points.append(price)
        self._walk[symbol] = (index, price, passed)
        return points

    def _trail(self, o: AlgoOrder, path: list[Decimal], when: int) -> None:
        sign = 1 if o.side == "SELL" else -1  # a SELL trails a long: the best is the highest
        for a, b in zip(path, path[1:], strict=False):
            if (b - a) * sign > 0:
                if o.best is None:
                    if o.activate is None or (b - o.activate) * sign < 0:
                        continue
                    o.best = b
                elif (b - o.best) * sign > 0:
                    o.best = b
                o.trigger = o.trailed() or ZERO
            elif (stop := o.trailed()) is not None and (b - stop) * sign <= 0:
                o.trigger = stop
                self._fire(o, when)
                return

    def _fire(self, o: AlgoOrder, when: int) -> None:
        pos = self.account.position(o.symbol, o.position_side)
        qty = abs(pos.amt) if o.close_position else o.qty
        client_id = o.client_id if (o.symbol, o.client_id) not in self.account._by_client_id else ""
        order = self.account.execute_triggered(
            o.symbol, o.side, qty, client_id=client_id or f"algo-{o.algo_id}",
            reduce_only=o.reduce_only or o.close_position, price=o.trigger, when=when, position_side=o.position_side,
        )  # fmt: skip
        o.trigger_time = o.update_time = when
        o.actual_order_id = order.order_id
        o.status = "FINISHED" if order.status == "FILLED" else "EXPIRED"

    # ---- helpers ---------------------------------------------------------------------------

    def _find(self, params: Mapping[str, str]) -> AlgoOrder:
        algo_id, client_id = params.get("algoId"), params.get("clientAlgoId")
        if not algo_id and not client_id:
            raise BinanceError(
                -1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!"
            )
        if algo_id and not algo_id.isdigit():
            raise illegal_chars("algoId")
        order = self.orders.get(int(algo_id)) if algo_id else self._by_client_id.get(client_id or "")
        if order is None:
            raise BinanceError(-2013, "Order does not exist.")
        return order

    @staticmethod
    def _trigger(spec: SymbolSpec, params: Mapping[str, str]) -> Decimal:
        trigger = decimal_param(params, "triggerPrice")
        if trigger is None:
            raise mandatory("triggerPrice")
        if trigger <= 0:
            raise BinanceError(-4001, "Price less than 0.")
        if places(trigger) > spec.price_precision:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if trigger % spec.tick_size:
            raise BinanceError(-4014, "Price not increased by tick size.")
        return trigger

    @staticmethod
    def _trailing(spec: SymbolSpec, params: Mapping[str, str]) -> tuple[Decimal, Decimal | None]:
        callback = decimal_param(params, "callbackRate")
        if callback is None:
            raise mandatory("callbackRate")
        if not Decimal("0.1") <= callback <= Decimal(10):
            raise BinanceError(-1130, "Data sent for parameter 'callbackRate' is not valid.")
        activate = decimal_param(params, "activationPrice")
        if activate is not None:
            if activate <= 0:
                raise BinanceError(-4001, "Price less than 0.")
            if activate % spec.tick_size:
                raise BinanceError(-4014, "Price not increased by tick size.")
        return callback, activate

    @staticmethod
    def _qty(spec: SymbolSpec, params: Mapping[str, str], close: bool, reduce_only: bool) -> Decimal:
        qty = decimal_param(params, "quantity")
        if close:
            if qty is not None:
                raise BinanceError(-1106, "Parameter 'quantity' sent when not required.")
            if reduce_only:
                raise BinanceError(-1106, "Parameter 'reduceOnly' sent when not required.")
            return ZERO
        return _quantity(spec, params, market=True)  # Binance applies the market order rules

    def json(self, o: AlgoOrder) -> dict[str, object]:
        """Binance's algo order object (New/Query Algo Order share it)."""
        spec = self.account.specs[o.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        out: dict[str, object] = {
            "algoId": o.algo_id,
            "clientAlgoId": o.client_id,
            "algoType": "CONDITIONAL",
            "orderType": o.type,
            "symbol": o.symbol,
            "side": o.side,
            "positionSide": o.position_side,
            "timeInForce": "GTC",
            "quantity": fixed(o.qty, qp),
            "algoStatus": o.status,
            "triggerPrice": fixed(o.trigger, pp),
            "price": fixed(ZERO, pp),
            "icebergQuantity": None,
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": o.working_type,
            "priceMatch": "NONE",
            "closePosition": o.close_position,
            "priceProtect": False,
            "reduceOnly": o.reduce_only,
            "activatePrice": fixed(o.activate, pp) if o.activate is not None else "",
            "callbackRate": f"{o.callback.normalize():f}" if o.callback is not None else "",
            "createTime": o.time,
            "updateTime": o.update_time,
            "triggerTime": o.trigger_time,
            "goodTillDate": 0,
        }
        if o.actual_order_id is not None:
            out["actualOrderId"] = str(o.actual_order_id)
        return out
