"""Orders, positions and fills as records, and the parsing of an order request.

Validation follows the order in which Binance reports problems (symbol, side, type,
quantity, price, ...), because a client fixing one error at a time should meet them in
the same sequence it would on the real exchange. Only checks that need nothing but the
request and the symbol's rules live here; the ones that need the account (margin,
reduce-only, duplicate client ids) are in account.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sim.binance.errors import BinanceError, illegal_chars, mandatory
from sim.binance.market import SymbolSpec
from sim.binance.rules import DEFAULT_LEVERAGE

ZERO = Decimal(0)
CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
ALGO_TYPES = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
TIME_IN_FORCE = {"GTC", "IOC", "FOK", "GTX", "GTD"}
OPEN_STATUSES = {"NEW", "PARTIALLY_FILLED"}
DECIMAL_LEGAL = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
PRICE_BAND = Decimal("0.05")  # PERCENT_PRICE: limit prices within 5% of the mark


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
    amendments: int = 0  # PUT /fapi/v1/order: each is an ORDER_TRADE_UPDATE x=AMENDMENT
    position_side: str = "BOTH"  # LONG/SHORT in Hedge Mode

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def closes_leg(self) -> bool:
        """SELL LONG / BUY SHORT: a Hedge Mode order that reduces its leg (never flips it)."""
        return closes_leg(self.side, self.position_side)


def closes_leg(side: str, position_side: str) -> bool:
    return (position_side, side) in (("LONG", "SELL"), ("SHORT", "BUY"))


@dataclass
class Position:
    """One position row: the symbol's BOTH position in One-way Mode, or one leg (LONG,
    amt >= 0; SHORT, amt <= 0, as Binance signs positionAmt) in Hedge Mode. An isolated
    position keeps its own wallet (per leg in Hedge Mode)."""

    symbol: str
    amt: Decimal = ZERO
    entry: Decimal = ZERO
    leverage: int = DEFAULT_LEVERAGE
    update_time: int = 0
    side: str = "BOTH"
    isolated_wallet: Decimal = ZERO


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
    position_side: str = "BOTH"


@dataclass(frozen=True)
class OrderRequest:
    """A new order that passed every check that needs only the request and the rules."""

    spec: SymbolSpec
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    price: Decimal  # ZERO for MARKET
    reduce_only: bool
    ack: bool  # newOrderRespType=ACK: answer before the fill is visible
    marketable: bool  # executes on arrival (MARKET, or a LIMIT through the mark)
    reference: Decimal  # the price the notional is judged at
    position_side: str = "BOTH"

    @property
    def reduces(self) -> bool:
        """Reduce-only in One-way Mode, or a leg's close in Hedge Mode."""
        return self.reduce_only or closes_leg(self.side, self.position_side)

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1


# ---- parameters ------------------------------------------------------------------------------


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise illegal_chars(name, DECIMAL_LEGAL) from None
    if not value.is_finite():
        raise illegal_chars(name, DECIMAL_LEGAL)
    return value


def places(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def bool_param(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() not in ("true", "false"):
        raise illegal_chars(name, "true, false")
    return raw.lower() == "true"


def limit_param(params: Mapping[str, str], default: int, maximum: int) -> int:
    raw = params.get("limit")
    if not raw:
        return default
    if not raw.isdigit():
        raise illegal_chars("limit")
    return max(1, min(int(raw), maximum))


def client_order_id(params: Mapping[str, str]) -> str:
    client_id = params.get("newClientOrderId") or f"replay-{secrets.token_hex(8)}"
    if not CLIENT_ID.fullmatch(client_id):
        raise BinanceError(-4015, "Client order id is not valid.")
    return client_id


# ---- the order request -------------------------------------------------------------------------


def position_side(params: Mapping[str, str], *, hedge: bool) -> str:
    """Binance's answers for the account's position mode (New Order: positionSide "Default
    BOTH for One-way Mode; LONG or SHORT for Hedge Mode. It must be sent in Hedge Mode";
    reduceOnly "cannot be sent in Hedge Mode"). One-way: positionSide must be BOTH (or
    absent), else -4061. Hedge Mode: reduceOnly sent at all, even "false", is -1106;
    BOTH/absent is -4061. Returns the side the order trades."""
    ps = params.get("positionSide") or "BOTH"
    if not hedge:
        if ps != "BOTH":
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        return ps
    if params.get("reduceOnly"):
        raise BinanceError(-1106, "Parameter 'reduceonly' sent when not required.")
    if ps not in ("LONG", "SHORT"):
        raise BinanceError(-4061, "Order's position side does not match user's setting.")
    return ps


def parse_order(spec: SymbolSpec, params: Mapping[str, str], mark: Decimal, *, hedge: bool = False) -> OrderRequest:
    side = _side(params)
    otype = _order_type(params)
    ps = position_side(params, hedge=hedge)
    reduce_only = bool_param(params, "reduceOnly")
    ack = _ack(params)
    qty = _quantity(spec, params, market=otype == "MARKET")
    if otype == "LIMIT":
        tif, price, marketable = _limit_terms(spec, params, mark, side)
        reference = price
    else:
        if params.get("price"):
            raise BinanceError(-1106, "Parameter 'price' sent when not required.")
        tif, price, marketable, reference = "GTC", ZERO, True, mark
    if not reduce_only and not closes_leg(side, ps) and qty * reference < spec.min_notional:
        raise BinanceError(
            -4164,
            f"Order's notional must be no smaller than {spec.min_notional} (unless you choose reduce only).",
        )
    return OrderRequest(spec, side, otype, tif, qty, price, reduce_only, ack, marketable, reference, ps)


def _side(params: Mapping[str, str]) -> str:
    side = params.get("side")
    if not side:
        raise mandatory("side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    return side


def _order_type(params: Mapping[str, str]) -> str:
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
    return otype


def _ack(params: Mapping[str, str]) -> bool:
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise illegal_chars("newOrderRespType", "ACK, RESULT")
    return resp_type == "ACK"


def _limit_terms(
    spec: SymbolSpec, params: Mapping[str, str], mark: Decimal, side: str
) -> tuple[str, Decimal, bool]:
    """timeInForce, price and whether the order crosses the mark (takes liquidity)."""
    tif = params.get("timeInForce")
    if not tif:
        raise mandatory("timeInForce")
    if tif not in TIME_IN_FORCE:
        raise BinanceError(-1115, "Invalid timeInForce.")
    price = _price(spec, params, mark, side)
    marketable = price >= mark if side == "BUY" else price <= mark
    if marketable and tif == "GTX":
        raise BinanceError(
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected.",
        )
    return tif, price, marketable


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


def _price(spec: SymbolSpec, params: Mapping[str, str], mark: Decimal, side: str) -> Decimal:
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
    up, down = mark * (1 + PRICE_BAND), mark * (1 - PRICE_BAND)
    if side == "BUY" and price > up:
        raise BinanceError(-4016, f"Limit price can't be higher than {spec.price_text(up)}.")
    if side == "SELL" and price < down:
        raise BinanceError(-4024, f"Limit price can't be lower than {spec.price_text(down)}.")
    return price
