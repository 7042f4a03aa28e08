"""A small paper account: one-way positions, MARKET/LIMIT orders, cross margin, fees.

Just enough of Binance's matching and bookkeeping for a bot's order path to be exercised
for real: validation with Binance's error codes, fills against the replayed price path,
positions with entry price and realized PnL, fees, and the balance that results. No order
book, liquidation or funding.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sim.binance.clock import Step
from sim.binance.errors import BinanceError, illegal_chars, mandatory
from sim.binance.market import SymbolSpec

ZERO = Decimal(0)
TAKER_FEE = Decimal("0.0005")
MAKER_FEE = Decimal("0.0002")
MAINT_MARGIN_RATE = Decimal("0.004")
START_BALANCE = Decimal("10000")
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = 125
# Binance's BTCUSDT brackets: the highest leverage allowed up to each notional cap.
BRACKETS = (
    (125, 300_000), (100, 800_000), (75, 3_000_000), (50, 12_000_000), (25, 70_000_000),
    (20, 100_000_000), (10, 230_000_000), (5, 480_000_000), (4, 600_000_000),
    (3, 800_000_000), (2, 1_200_000_000), (1, 1_800_000_000),
)  # fmt: skip
CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
ALGO_TYPES = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
TIME_IN_FORCE = {"GTC", "IOC", "FOK", "GTX", "GTD"}
OPEN_STATUSES = {"NEW", "PARTIALLY_FILLED"}


@dataclass
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    update_time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Position:
    symbol: str
    amt: Decimal = ZERO
    entry: Decimal = ZERO
    leverage: int = DEFAULT_LEVERAGE
    update_time: int = 0


@dataclass
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    maker: bool
    time: int


def fixed(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def trimmed(value: Decimal) -> str:
    """Up to 8 decimals without trailing zeros, like Binance's entryPrice ("0.0", "61234.5")."""
    text = f"{value:.8f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def max_notional(leverage: int) -> int:
    return max(cap for lev, cap in BRACKETS if lev >= leverage)


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise illegal_chars(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$") from None
    if not value.is_finite():
        raise illegal_chars(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
    return value


def places(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


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
        self.update_time = 0
        self.positions = {s: Position(s) for s in specs}
        self.orders: dict[int, Order] = {}
        self._by_client_id: dict[tuple[str, str], Order] = {}
        self._open: dict[str, list[Order]] = {s: [] for s in specs}
        self.trades: list[Trade] = []
        self._order_ids = itertools.count(8_389_765_000_000_001)
        self._trade_ids = itertools.count(6_200_000_001)

    # ---- views ---------------------------------------------------------------------------

    def mark(self, symbol: str) -> Decimal:
        return Decimal(self._price(symbol))

    def unrealized(self, pos: Position) -> Decimal:
        if not pos.amt:
            return ZERO
        return (self.mark(pos.symbol) - pos.entry) * pos.amt

    def position_margin(self, pos: Position) -> Decimal:
        return abs(pos.amt) * self.mark(pos.symbol) / pos.leverage

    def open_order_margin(self, symbol: str | None = None) -> Decimal:
        total = ZERO
        for sym, orders in self._open.items():
            if symbol is not None and sym != symbol:
                continue
            lev = self.positions[sym].leverage
            total += sum(((o.orig_qty - o.executed_qty) * o.price / lev for o in orders), ZERO)
        return total

    def totals(self) -> dict[str, Decimal]:
        upnl = sum((self.unrealized(p) for p in self.positions.values()), ZERO)
        pos_im = sum((self.position_margin(p) for p in self.positions.values()), ZERO)
        maint = sum(
            (abs(p.amt) * self.mark(p.symbol) * MAINT_MARGIN_RATE for p in self.positions.values()),
            ZERO,
        )
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

    # ---- orders --------------------------------------------------------------------------

    def spec_for(self, params: Mapping[str, str], required: bool = True) -> SymbolSpec | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise mandatory("symbol")
            return None
        spec = self.specs.get(symbol)
        if spec is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return spec

    def place_order(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.spec_for(params)
        assert spec is not None
        side = params.get("side")
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        otype = params.get("type")
        if not otype:
            raise mandatory("type")
        if otype in ALGO_TYPES:
            raise BinanceError(
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
            )
        if otype not in ("LIMIT", "MARKET"):
            raise BinanceError(-1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") != "BOTH":
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        reduce_only = self._bool(params, "reduceOnly")
        resp_type = params.get("newOrderRespType") or "ACK"
        if resp_type not in ("ACK", "RESULT"):
            raise illegal_chars("newOrderRespType", "ACK, RESULT")
        qty = self._quantity(spec, params, market=otype == "MARKET")
        mark = self.mark(spec.symbol)
        sign = 1 if side == "BUY" else -1
        if otype == "LIMIT":
            tif = params.get("timeInForce")
            if not tif:
                raise mandatory("timeInForce")
            if tif not in TIME_IN_FORCE:
                raise BinanceError(-1115, "Invalid timeInForce.")
            price = self._price_param(spec, params, mark, side)
            marketable = price >= mark if sign > 0 else price <= mark
            if marketable and tif == "GTX":
                raise BinanceError(
                    -5022,
                    "Due to the order could not be executed as maker, the Post Only order will be rejected.",
                )
            reference = price
        else:
            if params.get("price"):
                raise BinanceError(-1106, "Parameter 'price' sent when not required.")
            tif, price, marketable, reference = "GTC", ZERO, True, mark
        if not reduce_only and qty * reference < spec.min_notional:
            raise BinanceError(
                -4164,
                f"Order's notional must be no smaller than {spec.min_notional} (unless you choose reduce only).",
            )
        pos = self.positions[spec.symbol]
        if reduce_only and (not pos.amt or (pos.amt > 0) == (sign > 0)):
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        client_id = params.get("newClientOrderId") or f"replay-{secrets.token_hex(8)}"
        if not CLIENT_ID.fullmatch(client_id):
            raise BinanceError(-4015, "Client order id is not valid.")
        if (spec.symbol, client_id) in self._by_client_id:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        if not reduce_only:
            if marketable:
                after = abs(pos.amt + sign * qty)
                need = max(ZERO, after - abs(pos.amt)) * mark / pos.leverage
                need += qty * mark * TAKER_FEE
            else:
                need = qty * price / pos.leverage
            if need > self.totals()["available"]:
                raise BinanceError(-2019, "Margin is insufficient.")
        now = self._now()
        order = Order(
            next(self._order_ids), client_id, spec.symbol, side, otype, tif, qty,
            price, reduce_only, now, now,
        )  # fmt: skip
        self.orders[order.order_id] = order
        self._by_client_id[(spec.symbol, client_id)] = order
        if marketable:
            self._fill(order, mark, maker=False, when=now)
        elif tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
        else:
            self._open[spec.symbol].append(order)
        if resp_type == "ACK":
            return self.order_json(order, as_new=True)
        return self.order_json(order)

    def find_order(self, params: Mapping[str, str]) -> Order | None:
        spec = self.spec_for(params)
        assert spec is not None
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
        return self.order_json(order, with_time=True)

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, object]:
        order = self.find_order(params)
        if order is None or not order.is_open:
            raise BinanceError(-2011, "Unknown order sent.")
        self._cancel(order)
        return self.order_json(order)

    def cancel_all(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.spec_for(params)
        assert spec is not None
        for order in list(self._open[spec.symbol]):
            self._cancel(order)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def open_orders(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        spec = self.spec_for(params, required=False)
        symbols = [spec.symbol] if spec else list(self._open)
        return [self.order_json(o, with_time=True) for s in symbols for o in self._open[s]]

    def all_orders(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        spec = self.spec_for(params)
        assert spec is not None
        orders = [o for o in self.orders.values() if o.symbol == spec.symbol]
        return [self.order_json(o, with_time=True) for o in orders[-self._limit(params, 500, 1000) :]]

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
        pos = self.positions[order.symbol]
        qty = order.orig_qty - order.executed_qty
        if order.reduce_only:
            qty = min(qty, abs(pos.amt)) if pos.amt and (pos.amt > 0) != (order.sign > 0) else ZERO
            if not qty:
                order.status, order.update_time = "EXPIRED", when
                return
        signed = order.sign * qty
        realized = ZERO
        if not pos.amt or (pos.amt > 0) == (signed > 0):
            new_amt = pos.amt + signed
            pos.entry = (abs(pos.amt) * pos.entry + qty * price) / abs(new_amt)
        else:
            closing = min(qty, abs(pos.amt))
            realized = closing * (price - pos.entry) * (1 if pos.amt > 0 else -1)
            new_amt = pos.amt + signed
            if not new_amt:
                pos.entry = ZERO
            elif (new_amt > 0) != (pos.amt > 0):
                pos.entry = price
        pos.amt = new_amt
        pos.update_time = when
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
                  realized, fee, maker, when)
        )  # fmt: skip

    # ---- leverage and reports ------------------------------------------------------------

    def change_leverage(self, params: Mapping[str, str]) -> dict[str, object]:
        spec = self.spec_for(params)
        assert spec is not None
        raw = params.get("leverage")
        if not raw:
            raise mandatory("leverage")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LEVERAGE:
            raise BinanceError(-4028, f"Leverage {raw} is not valid")
        lev = int(raw)
        pos = self.positions[spec.symbol]
        if abs(pos.amt) * self.mark(spec.symbol) > max_notional(lev):
            raise BinanceError(-2027, "Exceeded the maximum allowable position at current leverage.")
        pos.leverage = lev
        return {"leverage": lev, "maxNotionalValue": str(max_notional(lev)), "symbol": spec.symbol}

    def user_trades(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        spec = self.spec_for(params)
        assert spec is not None
        trades = [t for t in self.trades if t.symbol == spec.symbol]
        if params.get("orderId"):
            trades = [t for t in trades if str(t.order_id) == params["orderId"]]
        for name, keep in (
            ("startTime", lambda t, v: t.time >= v),
            ("endTime", lambda t, v: t.time <= v),
            ("fromId", lambda t, v: t.trade_id >= v),
        ):
            raw = params.get(name)
            if raw:
                if not raw.isdigit():
                    raise illegal_chars(name)
                trades = [t for t in trades if keep(t, int(raw))]
        limit = self._limit(params, 500, 1000)
        trades = trades[:limit] if params.get("fromId") or params.get("startTime") else trades[-limit:]
        pp, qp = spec.price_precision, spec.quantity_precision
        return [
            {
                "buyer": t.side == "BUY",
                "commission": fixed(t.commission, 8),
                "commissionAsset": spec.quote_asset,
                "id": t.trade_id,
                "maker": t.maker,
                "orderId": t.order_id,
                "price": fixed(t.price, pp),
                "qty": fixed(t.qty, qp),
                "quoteQty": fixed(t.price * t.qty, pp + qp),
                "realizedPnl": fixed(t.realized_pnl, 8),
                "side": t.side,
                "positionSide": "BOTH",
                "symbol": t.symbol,
                "time": t.time,
            }
            for t in trades
        ]

    def position_risk(self, params: Mapping[str, str], *, version: int) -> list[dict[str, object]]:
        """v2 lists every symbol (with leverage); v3, like Binance, only symbols with a
        position or open orders, and without leverage (it moved to symbolConfig)."""
        spec = self.spec_for(params, required=False)
        symbols = [spec.symbol] if spec else list(self.positions)
        rows: list[dict[str, object]] = []
        for sym in symbols:
            pos = self.positions[sym]
            if version >= 3 and not pos.amt and not self._open[sym]:
                continue
            qp = self.specs[sym].quantity_precision
            mark = self.mark(sym)
            notional = pos.amt * mark
            upnl = self.unrealized(pos)
            im = self.position_margin(pos)
            common: dict[str, object] = {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": fixed(pos.amt, qp),
                "entryPrice": trimmed(pos.entry),
                "breakEvenPrice": trimmed(pos.entry * (1 + TAKER_FEE * (1 if pos.amt > 0 else -1)))
                if pos.amt
                else "0.0",
                "markPrice": fixed(mark, 8),
                "unRealizedProfit": fixed(upnl, 8),
                "liquidationPrice": "0",
                "isolatedMargin": "0.00000000",
                "notional": fixed(notional, 8),
                "marginAsset": self.specs[sym].quote_asset,
                "isolatedWallet": "0",
                "updateTime": pos.update_time,
            }
            if version >= 3:
                common.update(
                    {
                        "initialMargin": fixed(im + self.open_order_margin(sym), 8),
                        "maintMargin": fixed(abs(notional) * MAINT_MARGIN_RATE, 8),
                        "positionInitialMargin": fixed(im, 8),
                        "openOrderInitialMargin": fixed(self.open_order_margin(sym), 8),
                        "adl": 0,
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            else:
                common.update(
                    {
                        "leverage": str(pos.leverage),
                        "marginType": "cross",
                        "isAutoAddMargin": "false",
                        "maxNotionalValue": str(max_notional(pos.leverage)),
                    }
                )
            rows.append(common)
        return rows

    def balances(self) -> list[dict[str, object]]:
        t = self.totals()
        return [
            {
                "accountAlias": "SgsRFzAuXqFzAuXq",
                "asset": "USDT",
                "balance": fixed(t["wallet"], 8),
                "crossWalletBalance": fixed(t["wallet"], 8),
                "crossUnPnl": fixed(t["upnl"], 8),
                "availableBalance": fixed(t["available"], 8),
                "maxWithdrawAmount": fixed(t["max_withdraw"], 8),
                "marginAvailable": True,
                "updateTime": self.update_time,
            }
        ]

    def account(self, *, version: int) -> dict[str, object]:
        t = self.totals()
        f8 = {k: fixed(v, 8) for k, v in t.items()}
        summary: dict[str, object] = {
            "totalInitialMargin": f8["initial_margin"],
            "totalMaintMargin": f8["maint"],
            "totalWalletBalance": f8["wallet"],
            "totalUnrealizedProfit": f8["upnl"],
            "totalMarginBalance": f8["margin_balance"],
            "totalPositionInitialMargin": f8["position_im"],
            "totalOpenOrderInitialMargin": f8["order_im"],
            "totalCrossWalletBalance": f8["wallet"],
            "totalCrossUnPnl": f8["upnl"],
            "availableBalance": f8["available"],
            "maxWithdrawAmount": f8["max_withdraw"],
        }
        asset = {
            "asset": "USDT",
            "walletBalance": f8["wallet"],
            "unrealizedProfit": f8["upnl"],
            "marginBalance": f8["margin_balance"],
            "maintMargin": f8["maint"],
            "initialMargin": f8["initial_margin"],
            "positionInitialMargin": f8["position_im"],
            "openOrderInitialMargin": f8["order_im"],
            "crossWalletBalance": f8["wallet"],
            "crossUnPnl": f8["upnl"],
            "availableBalance": f8["available"],
            "maxWithdrawAmount": f8["max_withdraw"],
            "updateTime": self.update_time,
        }
        if version < 3:
            asset["marginAvailable"] = True
        positions = []
        for sym, pos in self.positions.items():
            if version >= 3 and not pos.amt:
                continue
            mark = self.mark(sym)
            row: dict[str, object] = {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": fixed(pos.amt, self.specs[sym].quantity_precision),
                "unrealizedProfit": fixed(self.unrealized(pos), 8),
                "isolatedMargin": "0",
                "notional": fixed(pos.amt * mark, 8),
                "isolatedWallet": "0",
                "initialMargin": fixed(self.position_margin(pos) + self.open_order_margin(sym), 8),
                "maintMargin": fixed(abs(pos.amt) * mark * MAINT_MARGIN_RATE, 8),
                "updateTime": pos.update_time,
            }
            if version < 3:
                row.update(
                    {
                        "positionInitialMargin": fixed(self.position_margin(pos), 8),
                        "openOrderInitialMargin": fixed(self.open_order_margin(sym), 8),
                        "leverage": str(pos.leverage),
                        "isolated": False,
                        "entryPrice": trimmed(pos.entry),
                        "maxNotional": str(max_notional(pos.leverage)),
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            positions.append(row)
        out: dict[str, object] = {}
        if version < 3:
            out.update(
                {
                    "feeTier": 0,
                    "feeBurn": False,
                    "canTrade": True,
                    "canDeposit": True,
                    "canWithdraw": True,
                    "updateTime": 0,
                    "multiAssetsMargin": False,
                    "tradeGroupId": -1,
                }
            )
        out.update(summary)
        out["assets"] = [asset]
        out["positions"] = positions
        return out

    def order_json(
        self, order: Order, *, as_new: bool = False, with_time: bool = False
    ) -> dict[str, object]:
        """Binance's order object; `as_new` is the ACK view (status NEW, nothing filled yet)."""
        spec = self.specs[order.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        executed = ZERO if as_new else order.executed_qty
        cum_quote = ZERO if as_new else order.cum_quote
        avg = cum_quote / executed if executed else ZERO
        out: dict[str, object] = {
            "orderId": order.order_id,
            "symbol": order.symbol,
            "status": "NEW" if as_new else order.status,
            "clientOrderId": order.client_id,
            "price": fixed(order.price, pp),
            "avgPrice": fixed(avg, max(pp, 5)),
            "origQty": fixed(order.orig_qty, qp),
            "executedQty": fixed(executed, qp),
            "cumQty": fixed(executed, qp),
            "cumQuote": fixed(cum_quote, pp + qp),
            "timeInForce": order.time_in_force,
            "type": order.type,
            "reduceOnly": order.reduce_only,
            "closePosition": False,
            "side": order.side,
            "positionSide": "BOTH",
            "stopPrice": fixed(ZERO, pp),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": order.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "updateTime": order.time if as_new else order.update_time,
        }
        if with_time:
            out["time"] = order.time
        return out

    # ---- parameter parsing ---------------------------------------------------------------

    @staticmethod
    def _bool(params: Mapping[str, str], name: str) -> bool:
        raw = params.get(name)
        if raw is None or raw == "":
            return False
        if raw.lower() not in ("true", "false"):
            raise illegal_chars(name, "true, false")
        return raw.lower() == "true"

    @staticmethod
    def _limit(params: Mapping[str, str], default: int, maximum: int) -> int:
        raw = params.get("limit")
        if not raw:
            return default
        if not raw.isdigit():
            raise illegal_chars("limit")
        return max(1, min(int(raw), maximum))

    @staticmethod
    def _quantity(spec: SymbolSpec, params: Mapping[str, str], *, market: bool) -> Decimal:
        qty = decimal_param(params, "quantity")
        if qty is None:
            raise mandatory("quantity")
        if qty <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if places(qty) > spec.quantity_precision:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if qty % spec.step_size:
            raise BinanceError(-4023, "Qty not increased by step size.")
        if qty < spec.min_qty:
            raise BinanceError(-4004, "Quantity less than min quantity.")
        if qty > (spec.market_max_qty if market else spec.max_qty):
            raise BinanceError(-4005, "Quantity greater than max quantity.")
        return qty

    @staticmethod
    def _price_param(spec: SymbolSpec, params: Mapping[str, str], mark: Decimal, side: str) -> Decimal:
        price = decimal_param(params, "price")
        if price is None:
            raise mandatory("price")
        if price <= 0:
            raise BinanceError(-4001, "Price less than 0.")
        if places(price) > spec.price_precision:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if price % spec.tick_size:
            raise BinanceError(-4014, "Price not increased by tick size.")
        if price < spec.min_price:
            raise BinanceError(-4013, "Price less than min price.")
        if price > spec.max_price:
            raise BinanceError(-4002, "Price greater than max price.")
        up, down = mark * Decimal("1.05"), mark * Decimal("0.95")
        if side == "BUY" and price > up:
            raise BinanceError(-4016, f"Limit price can't be higher than {fixed(up, spec.price_precision)}.")
        if side == "SELL" and price < down:
            raise BinanceError(-4024, f"Limit price can't be lower than {fixed(down, spec.price_precision)}.")
        return price
