"""Stop-loss and take-profit orders resting on the exchange (Binance's Algo Order API).

Since 2025-12-09 Binance takes STOP_MARKET / TAKE_PROFIT_MARKET only as algo orders, with
their own client ids (`clientAlgoId`); an unclear answer is settled by asking for that id,
as for a MARKET order. A part the broker owns (`BinanceBroker.exits`), given the broker's
signed call, its symbol rules and its reading of a refusal, so the order path reads alone.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from binance.exceptions import BinanceAPIException

from trading.core.brokers.base import OrderRefused, OrderUnknown
from trading.core.reasons import Reason, What
from trading.core.symbols import SymbolFilters
from trading.exchange.orders import (
    ANY_ERROR,
    NET_ERRORS,
    UNCLEAR_CODES,
    ExchangeOrder,
    _what,
    algo_from_json,
    exit_id,
)


class ExitOrders:
    """The conditional orders of one account: placed, cancelled and listed by client id."""

    def __init__(
        self,
        client: Any,
        filters: Callable[[str], SymbolFilters],
        call: Callable[..., Any],
        refusal: Callable[..., OrderRefused],
    ) -> None:
        self.client = client
        self._filters = filters  # the broker's: a symbol without rules is that order's refusal
        self._call = call  # the broker's signed call (its timeout)
        self._refusal = refusal  # the broker's reading of a definite refusal (and its clock resync)

    def place_exits(
        self,
        base_id: str,
        symbol: str,
        side: str,
        stop_price: Decimal | None,
        take_price: Decimal | None,
        qty: Decimal | None = None,
        *,
        working_type: str = "MARK_PRICE",
    ) -> list[ExchangeOrder]:
        """Reduce-only STOP_MARKET / TAKE_PROFIT_MARKET exits for an open position.

        `side` is the exit's side (SELL closes a long). qty=None closes whatever position is
        open when it triggers (closePosition). Since 2025-12-09 Binance takes conditional
        orders only on the Algo Order API; their client ids are `<base_id>-sl` / `-tp`, and
        an unclear answer is settled by asking for that id, like a MARKET order. `workingType`
        says which price triggers them (STOP_WORKING_TYPE); priceProtect stops a trigger on a
        mark/last price gap (Binance's protection against a wick on one of the two).
        """
        f = self._filters(symbol)
        out = []
        for suffix, kind, trigger in (
            ("sl", "STOP_MARKET", stop_price),
            ("tp", "TAKE_PROFIT_MARKET", take_price),
        ):
            if trigger is None:
                continue
            client_id = exit_id(base_id, suffix)
            params: dict[str, Any] = {
                "symbol": symbol, "side": side, "type": kind, "triggerPrice": f.fmt_price(f.round_price(trigger)),
                "clientAlgoId": client_id, "algoType": "CONDITIONAL", "newOrderRespType": "ACK",
                "workingType": working_type, "priceProtect": "TRUE",
            }  # fmt: skip
            if qty is None:
                params["closePosition"] = "true"
            else:
                params.update(quantity=f.fmt_qty(f.floor_qty(qty)), reduceOnly="true")
            out.append(algo_from_json(self._place_algo(params, symbol)))
        return out

    def _place_algo(self, params: dict[str, Any], symbol: str) -> dict[str, Any]:
        try:
            return self._call(self.client.futures_create_algo_order, **params)
        except BinanceAPIException as e:
            if e.status_code < 500 and e.code not in UNCLEAR_CODES:
                raise self._refusal(e, symbol=symbol) from None
            why = _what(e)
        except NET_ERRORS as e:
            why = _what(e)
        try:
            return self._call(
                self.client.futures_get_algo_order, clientAlgoId=params["clientAlgoId"]
            )
        except ANY_ERROR as e:
            details = {"type": params["type"], "order": params["clientAlgoId"], "query": _what(e)}
            raise OrderUnknown(Reason(What.EXIT_UNKNOWN, symbol, text=why, details=details)) from None

    def place_exit(
        self, client_id: str, symbol: str, side: str, kind: str, trigger: Decimal, working_type: str,
        position_side: str = "BOTH", qty: Decimal | None = None,
    ) -> ExchangeOrder:
        """One exit under a given client id (trading/exchange/protection.py): closePosition, or
        for `qty` (a take-profit ladder's level, on the step) reduce-only; in Hedge Mode with
        its leg's positionSide (closePosition then closes that leg only; never reduceOnly,
        which Binance refuses there with -1106)."""
        f = self._filters(symbol)
        params: dict[str, Any] = {
            "symbol": symbol, "side": side, "type": kind, "triggerPrice": f.fmt_price(f.round_price(trigger)),
            "clientAlgoId": client_id, "algoType": "CONDITIONAL", "newOrderRespType": "ACK",
            "workingType": working_type, "priceProtect": "TRUE",
        }  # fmt: skip
        if qty is None:
            params["closePosition"] = "true"
        else:
            params["quantity"] = f.fmt_qty(f.floor_qty(qty))
            if position_side == "BOTH":
                params["reduceOnly"] = "true"
        if position_side != "BOTH":
            params["positionSide"] = position_side
        return algo_from_json(self._place_algo(params, symbol))

    def place_trailing(
        self, client_id: str, symbol: str, side: str, qty: Decimal, callback: Decimal, activation: Decimal | None,
        working_type: str, position_side: str = "BOTH",
    ) -> ExchangeOrder:
        """A TRAILING_STOP_MARKET for `qty` (Binance takes closePosition only on STOP_MARKET /
        TAKE_PROFIT_MARKET): reduce-only, in Hedge Mode by its leg's positionSide instead;
        `callbackRate` in % (0.1–10), `activationPrice` when given (else Binance activates it
        at the price of the moment), triggered on `workingType` (STOP_WORKING_TYPE)."""
        f = self._filters(symbol)
        params: dict[str, Any] = {
            "symbol": symbol, "side": side, "type": "TRAILING_STOP_MARKET", "clientAlgoId": client_id,
            "algoType": "CONDITIONAL", "newOrderRespType": "ACK", "workingType": working_type,
            "quantity": f.fmt_qty(f.floor_qty(qty)), "callbackRate": f"{callback.normalize():f}",
        }  # fmt: skip
        if position_side == "BOTH":
            params["reduceOnly"] = "true"
        else:
            params["positionSide"] = position_side
        if activation is not None:
            params["activationPrice"] = f.fmt_price(f.round_price(activation))
        return algo_from_json(self._place_algo(params, symbol))

    def cancel_exit(self, symbol: str, client_id: str) -> bool:
        """Cancel one conditional order by its client id; False if it was no longer open."""
        try:
            self._call(self.client.futures_cancel_algo_order, symbol=symbol, clientAlgoId=client_id)
        except BinanceAPIException as e:
            if e.code in (-2011, -2013):  # unknown order / does not exist: already gone
                return False
            raise self._refusal(e, symbol=symbol) from None
        return True

    def open_exits(self, symbol: str) -> list[ExchangeOrder]:
        """The symbol's untriggered conditional orders (the bot's and the user's)."""
        rows = self._call(self.client.futures_get_open_algo_orders, symbol=symbol)
        return [algo_from_json(o) for o in rows]

    def cancel_exits(self, symbol: str) -> None:
        """Cancel the symbol's untriggered conditional orders (the other exit, after one fired)."""
        try:
            self._call(self.client.futures_cancel_all_algo_open_orders, symbol=symbol)
        except BinanceAPIException as e:
            raise self._refusal(e, symbol=symbol) from None
