"""A small paper account: one-way or Hedge Mode positions, MARKET/LIMIT orders, cross or isolated margin, fees.

Just enough of Binance's matching and bookkeeping for a bot's order path to be exercised
for real: validation with Binance's error codes, fills against the replayed price path,
positions with entry price and realized PnL, fees, and the balance that results. No order
book; liquidation and funding are liquidation.py's and funding.py's.

Position modes: One-way Mode keeps one BOTH position per symbol; Hedge Mode a LONG and a
SHORT leg per symbol, each with its own entry, PnL and (isolated) margin, leverage shared
by the symbol as on Binance. A Hedge Mode order names its leg (positionSide): BUY LONG /
SELL SHORT open or add, SELL LONG / BUY SHORT reduce that leg only and never flip it (an
empty leg, or more than it holds, is -2022 as Binance answers such a close). The mode
changes only on an idle account (-4059/-4067/-4068), by POST /fapi/v1/positionSide/dual
or the `position-mode` control (the owner in Binance's app); `mode_changed` is then told.

Every time the account stamps (order and trade times, position and balance updates) is
on the market clock, the clock `/fapi/v1/time` serves: a fill at a 2024 price carries a
2024 time, and `startTime`/`endTime` filters mean the same thing as for klines.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal

from sim.binance.clock import Step
from sim.binance.errors import BinanceError, illegal_chars, mandatory
from sim.binance.market import SymbolSpec
from sim.binance.order_json import order_json
from sim.binance.orders import (
    ZERO,
    Order,
    OrderRequest,
    Position,
    Trade,
    client_order_id,
    limit_param,
    parse_order,
)
from sim.binance.rules import (
    MAKER_FEE,
    MAX_LEVERAGE,
    START_BALANCE,
    TAKER_FEE,
    maint_margin,
    max_notional,
    symbol_max_leverage,
)


class Account:
    def __init__(
        self,
        specs: Mapping[str, SymbolSpec],
        price: Callable[[str], str],
        now: Callable[[], int],
        *,
        balance: Decimal = START_BALANCE,
    ) -> None:
        self.specs = specs
        self._price = price
        self._now = now
        self.wallet = balance
        # The deposit is an update: clients (ccxt) skip assets whose updateTime is 0 as
        # never initialised, which would hide a fresh account's whole balance.
        self.update_time = now()
        self.positions = {s: Position(s) for s in specs}  # BOTH; its leverage is the symbol's
        self.legs = {s: {ps: Position(s, side=ps) for ps in ("LONG", "SHORT")} for s in specs}
        self.orders: dict[int, Order] = {}
        self._by_client_id: dict[tuple[str, str], Order] = {}
        self._open: dict[str, list[Order]] = {s: [] for s in specs}
        self.trades: list[Trade] = []
        # Account modes (docs/offline.md, "The replay exchange"): Hedge Mode (dual-side positions) and
        # Multi-Assets margin; switched by POST /positionSide/dual or a test's control.
        self.hedge = False
        self.multi_assets = False
        self.mode_changed: Callable[[int], None] = lambda when: None  # the user stream's ACCOUNT_CONFIG_UPDATE
        self._order_ids = itertools.count(8_389_765_000_000_001)
        self._trade_ids = itertools.count(6_200_000_001)
        # CROSSED or ISOLATED per symbol; the isolated margin of each position
        # (Position.isolated_wallet) and its liquidation price are kept by liquidation.py
        self.margin_types: dict[str, str] = {s: "CROSSED" for s in specs}
        self.liquidation_price: Callable[[Position], Decimal] = lambda pos: ZERO
        # assets besides USDT (BNB) and the trades whose commission they paid (fees.py)
        self.other_assets: dict[str, Decimal] = {}
        self.fee_assets: dict[int, tuple[str, Decimal]] = {}
        self.fee_burn: Callable[[], bool] = lambda: False

    # ---- positions -----------------------------------------------------------------------

    def position(self, symbol: str, position_side: str = "BOTH") -> Position:
        return self.positions[symbol] if position_side == "BOTH" else self.legs[symbol][position_side]

    def rows(self, symbol: str | None = None) -> list[Position]:
        """The positions of the account's mode (BOTH, or LONG and SHORT), per symbol."""
        symbols = [symbol] if symbol is not None else list(self.positions)
        if self.hedge:
            return [leg for s in symbols for leg in self.legs[s].values()]
        return [self.positions[s] for s in symbols]

    def every_position(self) -> list[Position]:
        """Both modes' rows (the other mode's are flat: the mode changes only when idle)."""
        return list(self.positions.values()) + [leg for legs in self.legs.values() for leg in legs.values()]

    def isolated_total(self) -> Decimal:
        return sum((p.isolated_wallet for p in self.every_position()), ZERO)

    # ---- views ---------------------------------------------------------------------------

    def mark(self, symbol: str) -> Decimal:
        return Decimal(self._price(symbol))

    def unrealized(self, pos: Position) -> Decimal:
        if not pos.amt:
            return ZERO
        return (self.mark(pos.symbol) - pos.entry) * pos.amt

    def position_margin(self, pos: Position) -> Decimal:
        return abs(pos.amt) * self.mark(pos.symbol) / pos.leverage

    def maint(self, pos: Position) -> Decimal:
        return maint_margin(pos.amt * self.mark(pos.symbol), pos.symbol) if pos.amt else ZERO

    def commission_of(self, trade: Trade) -> tuple[str, Decimal]:
        """The asset and amount a trade's commission was paid in."""
        return self.fee_assets.get(trade.trade_id, (self.specs[trade.symbol].quote_asset, trade.commission))

    def has_open_orders(self, symbol: str) -> bool:
        return bool(self._open[symbol])

    def open_order_margin(self, symbol: str | None = None) -> Decimal:
        total = ZERO
        for sym, orders in self._open.items():
            if symbol is not None and sym != symbol:
                continue
            lev = self.positions[sym].leverage
            total += sum(((o.orig_qty - o.executed_qty) * o.price / lev for o in orders), ZERO)
        return total

    def totals(self) -> dict[str, Decimal]:
        positions = self.every_position()
        upnl = sum((self.unrealized(p) for p in positions), ZERO)
        pos_im = sum((self.position_margin(p) for p in positions), ZERO)
        maint = sum((self.maint(p) for p in positions), ZERO)
        order_im = self.open_order_margin()
        available = self.wallet + upnl - pos_im - order_im
        return {
            "wallet": self.wallet,
            "upnl": upnl,
            "margin_balance": self.wallet + upnl,
            "position_im": pos_im,
            "order_im": order_im,
            "initial_margin": pos_im + order_im,
            "maint": maint,
            "available": available,
            "max_withdraw": max(ZERO, min(self.wallet, available)),
        }

    # ---- symbols -------------------------------------------------------------------------

    def spec_for(self, params: Mapping[str, str]) -> SymbolSpec | None:
        """The symbol's rules, or None when the (optional) symbol was not sent."""
        symbol = params.get("symbol")
        if not symbol:
            return None
        spec = self.specs.get(symbol)
        if spec is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return spec

    def require_spec(self, params: Mapping[str, str]) -> SymbolSpec:
        spec = self.spec_for(params)
        if spec is None:
            raise mandatory("symbol")
        return spec

    # ---- new orders ----------------------------------------------------------------------

    def place_order(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.require_spec(params)
        req = parse_order(spec, params, self.mark(spec.symbol), hedge=self.hedge)
        pos = self.position(spec.symbol, req.position_side)
        self._check_reduce_only(pos, req)
        client_id = self._unused_client_id(spec, params)
        self._check_margin(pos, req)
        order = self._record(req, client_id)
        self._execute(order, req)
        return order_json(self, order, as_new=req.ack)

    @staticmethod
    def _check_reduce_only(pos: Position, req: OrderRequest) -> None:
        """A reduce-only order must face an open position (Binance refuses it up front);
        a Hedge Mode close (SELL LONG, BUY SHORT) must find at least its quantity in the leg."""
        if req.reduce_only and (not pos.amt or (pos.amt > 0) == (req.sign > 0)):
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        if req.reduces and pos.side != "BOTH" and req.qty > abs(pos.amt):
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")

    def _unused_client_id(self, spec: SymbolSpec, params: Mapping[str, str]) -> str:
        """Binance keeps client ids unique among *open* orders only: an id whose order is
        filled, cancelled or expired may be used again, and a query by it then finds the
        newest order (an older bot's months-old fill is still there under the same id)."""
        client_id = client_order_id(params)
        earlier = self._by_client_id.get((spec.symbol, client_id))
        if earlier is not None and earlier.is_open:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        return client_id

    def _check_margin(self, pos: Position, req: OrderRequest) -> None:
        """Opening exposure needs initial margin (and the taker fee, if it fills now)."""
        if req.reduces:
            return
        mark = self.mark(pos.symbol)
        if req.marketable:
            after = abs(pos.amt + req.sign * req.qty)
            need = max(ZERO, after - abs(pos.amt)) * mark / pos.leverage
            need += req.qty * mark * TAKER_FEE
        else:
            need = req.qty * req.price / pos.leverage
        if need > self.totals()["available"]:
            raise BinanceError(-2019, "Margin is insufficient.")

    def _record(self, req: OrderRequest, client_id: str) -> Order:
        now = self._now()
        order = Order(
            next(self._order_ids), client_id, req.spec.symbol, req.side, req.type,
            req.time_in_force, req.qty, req.price, req.reduce_only, now, now, position_side=req.position_side,
        )  # fmt: skip
        self.orders[order.order_id] = order
        self._by_client_id[(order.symbol, client_id)] = order
        return order

    def _execute(self, order: Order, req: OrderRequest) -> None:
        """Take liquidity now, expire an IOC/FOK that cannot, or rest on the book."""
        if req.marketable:
            self._fill(order, self.mark(order.symbol), maker=False, when=order.time)
        elif req.time_in_force in ("IOC", "FOK"):
            order.status = "EXPIRED"
        else:
            self._open[order.symbol].append(order)

    def execute_triggered(
        self, symbol: str, side: str, qty: Decimal, *, client_id: str, reduce_only: bool, price: Decimal, when: int,
        position_side: str = "BOTH",
    ) -> Order:  # fmt: skip
        """A fired conditional order: a MARKET order filled at its trigger price (algo.py)."""
        order = Order(
            next(self._order_ids), client_id, symbol, side, "MARKET", "GTC", qty, ZERO, reduce_only, when, when,
            position_side=position_side,
        )  # fmt: skip
        self.orders[order.order_id] = order
        self._by_client_id[(symbol, client_id)] = order
        self._fill(order, price, maker=False, when=when)
        return order

    # ---- existing orders -----------------------------------------------------------------

    def find_order(self, params: Mapping[str, str]) -> Order | None:
        spec = self.require_spec(params)
        order_id = params.get("orderId")
        client_id = params.get("origClientOrderId")
        if not order_id and not client_id:
            raise BinanceError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        if order_id:
            if not order_id.isdigit():
                raise illegal_chars("orderId")
            order = self.orders.get(int(order_id))
        else:
            order = self._by_client_id.get((spec.symbol, client_id or ""))
        if order is None or order.symbol != spec.symbol:
            return None
        return order

    def get_order(self, params: Mapping[str, str]) -> dict[str, object]:
        order = self.find_order(params)
        if order is None:
            raise BinanceError(-2013, "Order does not exist.")
        return order_json(self, order, with_time=True)

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, object]:
        order = self.find_order(params)
        if order is None or not order.is_open:
            raise BinanceError(-2011, "Unknown order sent.")
        self._cancel(order)
        return order_json(self, order)

    def modify_order(self, params: Mapping[str, str]) -> dict[str, object]:
        """PUT /fapi/v1/order: a resting LIMIT order's price and quantity (Binance modifies
        LIMIT orders only; side, quantity and price are mandatory); it keeps its ids and is
        told on the user stream as x=AMENDMENT."""
        order = self.find_order(params)
        if order is None or not order.is_open:
            raise BinanceError(-2013, "Order does not exist.")
        for name in ("side", "quantity", "price"):
            if not params.get(name):
                raise mandatory(name)
        spec = self.require_spec(params)
        terms = {**params, "type": "LIMIT", "timeInForce": order.time_in_force, "positionSide": order.position_side}
        terms.pop("reduceOnly", None)  # the order keeps its own (Modify Order takes neither)
        req = parse_order(spec, terms, self.mark(spec.symbol), hedge=self.hedge)
        if order.type != "LIMIT" or req.side != order.side:
            raise BinanceError(-2013, "Order does not exist.")
        if req.price == order.price and req.qty == order.orig_qty:
            raise BinanceError(-5027, "No need to modify the order.")
        order.price, order.orig_qty = req.price, req.qty
        order.update_time = self._now()
        order.amendments += 1
        return order_json(self, order)

    def cancel_all(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.require_spec(params)
        for order in list(self._open[spec.symbol]):
            self._cancel(order)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def open_orders(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        spec = self.spec_for(params)
        symbols = [spec.symbol] if spec else list(self._open)
        return [order_json(self, o, with_time=True) for s in symbols for o in self._open[s]]

    def all_orders(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        spec = self.require_spec(params)
        orders = [o for o in self.orders.values() if o.symbol == spec.symbol]
        limit = limit_param(params, 500, 1000)
        return [order_json(self, o, with_time=True) for o in orders[-limit:]]

    def _cancel(self, order: Order) -> None:
        order.status = "CANCELED"
        order.update_time = self._now()
        self._open[order.symbol].remove(order)

    # ---- matching ------------------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        """Fill resting limit orders the replayed price walked through, at their price."""
        for item in step.items:
            book = self._open.get(item.series.symbol)
            if not book:
                continue
            low, high = Decimal(item.update.low), Decimal(item.update.high)
            for order in list(book):
                if (order.sign > 0 and low <= order.price) or (order.sign < 0 and high >= order.price):
                    book.remove(order)
                    self._fill(order, order.price, maker=True, when=item.update.event_time)

    async def ready(self) -> None:
        return None

    def _fill(self, order: Order, price: Decimal, *, maker: bool, when: int) -> None:
        pos = self.position(order.symbol, order.position_side)
        qty = self._fillable(order, pos)
        if not qty:
            order.status, order.update_time = "EXPIRED", when
            return
        realized = self._move_position(pos, order.sign * qty, price, when)
        quote = qty * price
        fee = quote * (MAKER_FEE if maker else TAKER_FEE)
        self.wallet += realized - fee
        self.update_time = when
        order.executed_qty += qty
        order.cum_quote += quote
        order.status = "FILLED"
        order.update_time = when
        self.trades.append(
            Trade(next(self._trade_ids), order.order_id, order.symbol, order.side, price, qty,
                  realized, fee, maker, when, order.position_side)
        )  # fmt: skip

    @staticmethod
    def _fillable(order: Order, pos: Position) -> Decimal:
        """What is left to fill; a reduce-only order never flips or grows the position."""
        qty = order.orig_qty - order.executed_qty
        if not order.reduce_only and not order.closes_leg:
            return qty
        if pos.amt and (pos.amt > 0) != (order.sign > 0):
            return min(qty, abs(pos.amt))
        return ZERO

    @staticmethod
    def _move_position(pos: Position, signed: Decimal, price: Decimal, when: int) -> Decimal:
        """Apply a fill of `signed` contracts at `price`; return the realized PnL."""
        realized = ZERO
        new_amt = pos.amt + signed
        if not pos.amt or (pos.amt > 0) == (signed > 0):  # opening or adding: average in
            pos.entry = (abs(pos.amt) * pos.entry + abs(signed) * price) / abs(new_amt)
        else:  # reducing, closing or flipping
            closing = min(abs(signed), abs(pos.amt))
            realized = closing * (price - pos.entry) * (1 if pos.amt > 0 else -1)
            if not new_amt:
                pos.entry = ZERO
            elif (new_amt > 0) != (pos.amt > 0):
                pos.entry = price
        pos.amt = new_amt
        pos.update_time = when
        return realized

    # ---- settings ------------------------------------------------------------------------

    def change_leverage(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.require_spec(params)
        raw = params.get("leverage")
        if not raw:
            raise mandatory("leverage")
        if not raw.isdigit() or not 1 <= int(raw) <= min(MAX_LEVERAGE, symbol_max_leverage(spec.symbol)):
            raise BinanceError(-4028, f"Leverage {raw} is not valid")
        lev = int(raw)
        held = max(abs(p.amt) for p in [self.positions[spec.symbol], *self.legs[spec.symbol].values()])
        if held * self.mark(spec.symbol) > max_notional(lev, spec.symbol):
            raise BinanceError(-2027, "Exceeded the maximum allowable position at current leverage.")
        for pos in [self.positions[spec.symbol], *self.legs[spec.symbol].values()]:
            pos.leverage = lev
        return {"leverage": lev, "maxNotionalValue": str(max_notional(lev, spec.symbol)), "symbol": spec.symbol}

    def change_position_mode(self, params: Mapping[str, str], open_algo: int = 0) -> dict[str, object]:
        """Binance's rules: the same mode is -4059; any open order (plain or conditional) is
        -4067; any position -4068; else the mode changes for the whole account."""
        raw = params.get("dualSidePosition")
        if not raw:
            raise mandatory("dualSidePosition")
        if raw.lower() not in ("true", "false"):
            raise illegal_chars("dualSidePosition", "true, false")
        want = raw.lower() == "true"
        if want == self.hedge:
            raise BinanceError(-4059, "No need to change position side.")
        if open_algo or any(self._open.values()):
            raise BinanceError(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.amt for p in self.every_position()):
            raise BinanceError(-4068, "Position side cannot be changed if there exists position.")
        self.hedge = want
        self.mode_changed(self._now())
        return {"code": 200, "msg": "success"}

    def change_margin_type(self, params: Mapping[str, str]) -> dict[str, object]:
        """CROSSED or ISOLATED per symbol, with Binance's refusals: the same type is -4046
        "no need to change" (which clients treat as success); a change with a position
        (-4048) or open orders (-4047) is refused. Isolated margin and liquidation are
        liquidation.py's."""
        spec = self.require_spec(params)
        margin_type = params.get("marginType")
        if not margin_type:
            raise mandatory("marginType")
        if margin_type not in ("CROSSED", "ISOLATED"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'marginType'; legal range is 'ISOLATED, CROSSED'.")
        if self.margin_types[spec.symbol] == margin_type:
            raise BinanceError(-4046, "No need to change margin type.")
        if any(p.amt for p in [self.positions[spec.symbol], *self.legs[spec.symbol].values()]):
            raise BinanceError(-4048, "Margin type cannot be changed if there exists position.")
        if self._open[spec.symbol]:
            raise BinanceError(-4047, "Margin type cannot be changed if there exists open orders.")
        self.margin_types[spec.symbol] = margin_type
        return {"code": 200, "msg": "success"}
