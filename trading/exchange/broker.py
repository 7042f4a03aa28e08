"""The exchange broker: MARKET orders on Binance USDⓈ-M futures, placed exactly once.

Every order carries the request's deterministic client order id, never python-binance's
random default, because that id is the only way to ask Binance afterwards whether an
order exists. When the answer to the one `POST /fapi/v1/order` is unclear (a timeout, a
dropped connection, a 5xx), the broker asks by that id instead of sending again:
found → its fill; "does not exist" once the request can no longer arrive (older than
recvWindow) → refused, so the person can propose again; the question itself failing →
OrderUnknown, for reconciliation. A refusal is never retried; it leaves as data
(core/reasons.py: Binance's code and message, the order's id and status) that bot/texts.py
words for the chat (issue 27).

Fees come from the order's trades (USDT, or BNB with Binance's fee discount: converted at
BNB's price at the fill time, trading/exchange/fees.py); the trade ids go with the fill so
the same trade arriving on the user data stream is a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from trading.core.brokers.base import ExchangePosition, OrderRefused, OrderRequest, OrderUnknown
from trading.core.portfolio import Fill
from trading.core.reasons import Reason, What
from trading.core.symbols import FilterError, SymbolFilters
from trading.exchange.errors import error_message
from trading.exchange.exits import ExitOrders
from trading.exchange.fees import fee_in_usdt
from trading.exchange.orders import (
    ANY_ERROR,
    NET_ERRORS,
    UNCLEAR_CODES,
    ExchangeOrder,
    _what,
    algo_from_json,
    dec,
    order_from_json,
)

log = logging.getLogger(__name__)

ZERO = Decimal(0)
NOT_FOUND = -2013  # "Order does not exist."
TIMESTAMP = -1021
CLOCK_MARGIN_MS = 1000  # Binance also refuses timestamps more than 1 s ahead of its clock
CLOCK_RESYNC_SECONDS = 600.0  # the offset is measured again before an order after this long
DONE = {"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"}
LIMITED = (429, 418)  # HTTP: too many requests; the IP banned for them (Retry-After: seconds)


def _retry_after(e: BinanceAPIException) -> dict[str, Decimal]:
    """The Retry-After header's seconds, when Binance sent a number."""
    raw = e.response.headers.get("Retry-After") if e.response is not None else None
    try:
        seconds = Decimal(str(raw).strip()) if raw else None
    except ArithmeticError:
        seconds = None
    return {"retry_after": seconds} if seconds is not None and seconds.is_finite() else {}


class BinanceBroker:
    def __init__(
        self,
        client: Client,
        filters: Mapping[str, SymbolFilters],
        mode: str = "demo",
        *,
        timeout: float = 10.0,
        poll_attempts: int = 10,
        poll_delay: float = 0.3,
        fallback_fee_rate: Decimal = Decimal("0.0005"),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.filters = filters
        self.mode = mode
        self.timeout = timeout
        self.poll_attempts = poll_attempts
        self.poll_delay = poll_delay
        self.fallback_fee_rate = fallback_fee_rate
        self._sleep = sleep
        self._monotonic = monotonic
        self.clock_offset_ms: int | None = None  # Binance's clock minus this host's, once measured
        self._synced_at: float | None = None
        # the stop-loss and take-profit orders resting on this account (trading/exchange/protection.py)
        self.exits = ExitOrders(client, self._filters, self._call, self._refusal)

    # ---- the contract ----------------------------------------------------------------

    def size(self, request: OrderRequest, price: Decimal) -> Decimal:
        f = self._filters(request.symbol)
        raw = request.qty if request.qty is not None else request.stake * request.leverage / price
        return f.floor_qty(raw)

    def execute(self, request: OrderRequest, price: Decimal, time: int) -> Fill:
        """Send once under request.id; a fill, OrderRefused, or OrderUnknown (see the module)."""
        f = self._filters(request.symbol)
        qty = self.size(request, price)
        self.keep_clock()
        try:
            f.check_order(qty, price, reduce_only=request.closes)
        except FilterError as e:
            raise OrderRefused(e.reason) from None
        params: dict[str, Any] = {
            "symbol": request.symbol,
            "side": request.side,
            "type": "MARKET",
            "quantity": f.fmt_qty(qty),
            "newClientOrderId": request.id,
            "newOrderRespType": "RESULT",
        }
        if request.position_side != "BOTH":  # Hedge Mode: the leg, and never reduceOnly (-1106)
            params["positionSide"] = request.position_side
        elif request.reduce_only:
            params["reduceOnly"] = "true"
        sent_at = self._monotonic()
        try:
            order = self._call(self.client.futures_create_order, **params)
        except BinanceAPIException as e:
            if e.status_code < 500 and e.code not in UNCLEAR_CODES:
                # an opening order is sent at the leverage just set for it (-2027, -2028 name it)
                raise self._refusal(e, request, leverage=None if request.closes else request.leverage) from None
            order = self._settle(request, sent_at, _what(e), e.code)
        except NET_ERRORS as e:
            order = self._settle(request, sent_at, _what(e), None)
        if order.get("status") not in DONE:
            order = self._until_done(request, order)
        return self._fill(request, order)

    def lookup(self, request: OrderRequest) -> Fill | None:
        """After a restart: the order's fill if Binance has it under request.id, None if it
        has no such order. Never places anything; a failed question raises OrderUnknown."""
        try:
            order = self._get(request)
        except BinanceAPIException as e:
            if e.code == NOT_FOUND:
                return None
            raise self._unknown(request, "", _what(e), stage="restart") from None
        except NET_ERRORS as e:
            raise self._unknown(request, "", _what(e), stage="restart") from None
        if order.get("status") not in DONE:
            order = self._until_done(request, order)
        return self._fill(request, order)

    # ---- unclear outcomes ------------------------------------------------------------

    def _settle(
        self, request: OrderRequest, sent_at: float, why: str, code: int | None
    ) -> dict[str, Any]:
        """Ask Binance for the order by its client id instead of sending it again.

        "Does not exist" only proves it was never placed once the request is too old to
        be accepted any more (recvWindow after signing, plus Binance's 1 s tolerance for
        clocks ahead), so before that the broker waits and asks again.
        """
        window_s = (
            int(getattr(self.client, "REQUEST_RECVWINDOW", 0) or 5000) + CLOCK_MARGIN_MS
        ) / 1000
        log.warning("order %s: unclear outcome (%s); asking Binance for it", request.id, why)
        while True:
            try:
                return self._get(request)
            except BinanceAPIException as e:
                if e.code != NOT_FOUND:
                    raise self._unknown(request, why, _what(e)) from None
            except NET_ERRORS as e:
                raise self._unknown(request, why, _what(e)) from None
            left = sent_at + window_s - self._monotonic()
            if left <= 0:
                raise OrderRefused(Reason(What.NOT_FOUND, request.symbol, text=why, details={"order": request.id}), code)
            self._sleep(left)

    def _until_done(self, request: OrderRequest, order: dict[str, Any]) -> dict[str, Any]:
        """A MARKET order is filled at once; an ACK view or a lagging query gets a few looks."""
        for _ in range(self.poll_attempts):
            self._sleep(self.poll_delay)
            try:
                order = self._get(request)
            except ANY_ERROR as e:
                raise self._unknown(request, "", _what(e), stage="seen", status=str(order.get("status"))) from None
            if order.get("status") in DONE:
                return order
        raise self._unknown(request, "", "", stage="stuck", status=str(order.get("status")), looks=self.poll_attempts)

    def _get(self, request: OrderRequest) -> dict[str, Any]:
        """The order Binance holds under request.id, if it was made for this request: one
        made before the request was decided is an older order that reused the id (Binance
        keeps ids unique among open orders only), so it reads as "does not exist"."""
        order = self._call(
            self.client.futures_get_order, symbol=request.symbol, origClientOrderId=request.id
        )
        made = int(order.get("time") or order.get("updateTime") or 0)
        if made < request.decided_at:
            log.warning(
                "order %s on the exchange was made at %s, before this request (%s): an older order, not booked",
                request.id, made, request.decided_at,
            )  # fmt: skip
            raise _older()
        return order

    def _unknown(
        self, request: OrderRequest, why: str, query: str, *, stage: str = "sent", status: str = "", looks: int = 0
    ) -> OrderUnknown:
        """`why`: the unclear answer (stage "sent"); `query`: how asking for the order failed, if it did;
        "restart": asked after one; "seen": last seen at `status`; "stuck": still `status` after `looks`."""
        details = {"side": request.side, "order": request.id, "stage": stage}
        details |= {"status": status} if status else {}
        details |= {"query": query} if query else {}
        numbers = {"looks": Decimal(looks)} if looks else {}
        return OrderUnknown(Reason(What.UNKNOWN, request.symbol, numbers=numbers, text=why, details=details))

    # ---- the fill --------------------------------------------------------------------

    def _fill(self, request: OrderRequest, order: dict[str, Any]) -> Fill:
        qty = dec(order.get("executedQty"))
        if not qty:
            raise OrderRefused(
                Reason(What.NOT_FILLED, request.symbol, details={"order": request.id, "status": str(order.get("status"))})
            )
        price = dec(order.get("avgPrice")) or dec(order.get("cumQuote")) / qty
        when = int(order.get("updateTime") or order.get("time") or 0)
        fill = Fill(
            request.id,
            request.symbol,
            order.get("side", request.side),
            qty,
            price,
            ZERO,
            when,
            request.reason,
            position_side=order.get("positionSide") or request.position_side,
        )
        return self._with_trades(fill, order, qty * price)

    def _with_trades(self, fill: Fill, order: dict[str, Any], notional: Decimal) -> Fill:
        """The order's trades: their ids (each booked once, whichever way it arrives) and
        their fees, in USDT (a BNB fee converted at BNB's price then, asset and amount kept).
        Unreadable: the taker estimate, keyed by the order id so no trade is booked twice."""
        symbol = fill.symbol
        order_key = f"{symbol}:o{order.get('orderId')}"
        try:
            trades = self._call(
                self.client.futures_account_trades, symbol=symbol, orderId=order["orderId"]
            )
        except ANY_ERROR as e:
            estimate = (notional * self.fallback_fee_rate).quantize(Decimal("0.00000001"))
            log.warning(
                "fee of order %s unreadable (%s); booking the taker estimate %s",
                order.get("orderId"),
                _what(e),
                estimate,
            )
            return replace(fill, fee=estimate, keys=(order_key,))
        keys = tuple(f"{symbol}:t{t['id']}" for t in trades if "id" in t) + (order_key,)
        fee, asset, amount = fee_in_usdt(self.client, trades, self._call)
        return replace(fill, fee=fee, keys=keys, fee_asset=asset, fee_amount=amount)

    # ---- errors ----------------------------------------------------------------------

    def _refusal(
        self, e: BinanceAPIException, request: OrderRequest | None = None, *, symbol: str = "", leverage: int | None = None
    ) -> OrderRefused:
        """A definite refusal as data (and the clock resync a -1021 needs): Binance's code, its
        HTTP status and its own message (masked, bounded); `leverage`: the leverage call's."""
        symbol = request.symbol if request is not None else symbol
        if e.status_code in LIMITED:
            return OrderRefused(Reason(What.RATE_LIMITED, symbol, numbers={"status": Decimal(e.status_code)} | _retry_after(e)), e.code)
        if e.code == TIMESTAMP:
            self.resync_clock()
        numbers = {"status": Decimal(e.status_code)}
        numbers |= {"code": Decimal(e.code)} if isinstance(e.code, int) else {}
        numbers |= {"leverage": Decimal(leverage)} if leverage is not None else {}
        return OrderRefused(Reason(What.BINANCE, symbol, numbers=numbers, text=error_message(e.message).rstrip(".")), e.code)

    def resync_clock(self) -> int | None:
        """python-binance signs with local time + timestamp_offset; align it with Binance's
        (the midpoint of the request's round trip), so a host whose clock drifts never meets
        -1021. Returns the offset (Binance minus this host, ms), None if /time failed."""
        try:
            before = time.time() * 1000
            server = int(self.client.futures_time()["serverTime"])
            after = time.time() * 1000
        except ANY_ERROR as e:
            log.warning("clock resync failed: %s", _what(e))
            return None
        self.client.timestamp_offset = self.clock_offset_ms = server - int((before + after) / 2)
        self._synced_at = self._monotonic()
        log.info("clock resynced: offset %d ms", self.client.timestamp_offset)
        return self.clock_offset_ms

    def keep_clock(self) -> None:
        """Measure the offset if it never was, or was CLOCK_RESYNC_SECONDS ago (before an order)."""
        if self._synced_at is None or self._monotonic() - self._synced_at > CLOCK_RESYNC_SECONDS:
            self.resync_clock()

    def _filters(self, symbol: str) -> SymbolFilters:
        try:
            return self.filters[symbol]
        except KeyError:
            raise OrderRefused(Reason(What.RULES_UNKNOWN, symbol)) from None

    def _call(self, fn: Callable[..., Any], **params: Any) -> Any:
        return fn(**params, requests_params={"timeout": self.timeout})

    # ---- account ---------------------------------------------------------------------

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """Set before an opening order; any failure is that order's refusal (nothing was
        sent yet), never a generic error: a timeout or a 5xx says so and asks to propose again."""
        try:
            answer = self._call(
                self.client.futures_change_leverage, symbol=symbol, leverage=leverage
            )
        except BinanceAPIException as e:
            if e.status_code >= 500 or e.code in UNCLEAR_CODES:
                unclear = Reason(What.LEVERAGE_UNCLEAR, symbol, numbers={"leverage": Decimal(leverage)}, text=_what(e))
                raise OrderRefused(unclear, e.code) from None
            raise self._refusal(e, symbol=symbol, leverage=leverage) from None
        except NET_ERRORS as e:
            failed = Reason(What.LEVERAGE_FAILED, symbol, numbers={"leverage": Decimal(leverage)}, text=_what(e))
            raise OrderRefused(failed) from None
        return int(answer["leverage"])

    def positions(self, symbols: tuple[str, ...] | None = None) -> list[ExchangePosition]:
        """Open positions (one-way mode: positionAmt is signed) from positionRisk v3; the
        leverage comes from symbolConfig, where v3 moved it. A Hedge Mode account's LONG and
        SHORT rows keep their positionSide, so reconciliation never merges them."""
        rows = self._call(self.client.futures_position_information)
        rows = [
            r
            for r in rows
            if dec(r.get("positionAmt")) and (symbols is None or r["symbol"] in symbols)
        ]
        if not rows:
            return []
        config = self._call(self.client.futures_symbol_config)
        leverage = {c["symbol"]: int(c.get("leverage") or 1) for c in config}
        return [
            ExchangePosition(
                r["symbol"],
                dec(r["positionAmt"]),
                dec(r.get("entryPrice")),
                leverage.get(r["symbol"], 1),
                r.get("positionSide") or "BOTH",
            )
            for r in rows
        ]

    def leg_margins(self, symbols: tuple[str, ...]) -> list[tuple[str, str, Decimal, Decimal | None]]:
        """Hedge Mode: each open leg as Binance keeps it (positionRisk v3): (symbol, LONG|SHORT,
        its margin: the isolated margin, else its initial margin; its liquidation price)."""
        return sorted((str(r["symbol"]), r["positionSide"], dec(r.get("isolatedMargin")) or dec(r.get("positionInitialMargin")),
                       dec(r.get("liquidationPrice")) or None) for r in self._call(self.client.futures_position_information)
                      if r.get("positionSide") in ("LONG", "SHORT") and r.get("symbol") in symbols and dec(r.get("positionAmt")))  # fmt: skip

    def wallet(self) -> dict[str, Decimal]:
        """USDT wallet, available balance, initial margin and unrealized PnL (GET /fapi/v3/account
        through python-binance's futures_account)."""
        a = self._call(self.client.futures_account)
        return {
            "wallet": dec(a.get("totalWalletBalance")), "available": dec(a.get("availableBalance")),
            "margin": dec(a.get("totalInitialMargin")), "unrealized": dec(a.get("totalUnrealizedProfit")),
        }  # fmt: skip

    def open_orders(self, symbol: str) -> list[ExchangeOrder]:
        """Resting orders and untriggered conditional (algo) orders, the stops among them."""
        plain = self._call(self.client.futures_get_open_orders, symbol=symbol)
        algo = self._call(self.client.futures_get_open_algo_orders, symbol=symbol)
        return [order_from_json(o) for o in plain] + [algo_from_json(o) for o in algo]


def _older() -> BinanceAPIException:
    """What an older order under the same id amounts to: Binance's "Order does not exist"."""
    response = requests.Response()
    response.status_code = 400
    return BinanceAPIException(response, 400, '{"code": -2013, "msg": "Order does not exist."}')
