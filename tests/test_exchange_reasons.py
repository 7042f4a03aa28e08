"""The exchange adapter's refusals are typed reasons too (issue 27): Binance's code and message,
the order's id and status leave exchange/broker.py, exits.py, protection.py, brackets.py and
account.py as data (core/reasons.py), and bot/texts.py words them in the sentences those files
used to write, byte for byte; a row stored before reads back to the line it held."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
import requests
from binance.exceptions import BinanceAPIException

from bot.texts import answer_line, reason_line
from tests.test_binance_broker import broker, client, clock, ex, price_now, req  # noqa: F401  (fixtures)
from tests.test_trader import F
from trading.core.brokers.base import (
    WOULD_TRIGGER,
    OrderRefused,
    OrderUnknown,
    Placement,
    WouldTrigger,
)
from trading.core.reasons import Reason, What
from trading.exchange.account import AccountRefused, check_account
from trading.exchange.brackets import BracketCache
from trading.exchange.broker import BinanceBroker
from trading.exchange.orders import ExchangeOrder
from trading.exchange.protection import ExchangeExits
from trading.live.answers import Answer, Kind, Placed

HEDGE_OFF = ("the Binance account is in Hedge Mode (LONG and SHORT positions apart); with HEDGE_MODE=off the bot "
             "trades one net position per symbol, so it does not start there: switch the account to One-way Mode "
             "(Binance Futures → Preferences → Position Mode) and /start again, or set HEDGE_MODE=auto")  # fmt: skip
LEGAL = "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'"
ID = "tg-BTCUSDT-1700000000000-o"


def _binance(code: int, text: str = "", **numbers: int) -> Reason:
    return Reason(What.BINANCE, "BTCUSDT", numbers={"code": D(code), "status": D(400)} | {k: D(v) for k, v in numbers.items()},
                  text=text)  # fmt: skip


def _unknown(stage: str, text: str = "", **details: str) -> Reason:
    looks = {"looks": D(10)} if stage == "stuck" else {}
    return Reason(What.UNKNOWN, "BTCUSDT", numbers=looks, text=text, details={"side": "BUY", "order": ID, "stage": stage} | details)


# each line as the exchange adapter wrote it before (its f-strings, filled in)
@pytest.mark.parametrize(
    ("reason", "line"),
    [
        (_binance(-2019, "Margin is insufficient"), "Binance refused: margin is insufficient (-2019)"),
        (_binance(-1111, "Precision is over the maximum defined for this asset"),
         "Binance refused: quantity or price has more decimals than BTCUSDT allows (-1111)"),
        (_binance(-4028, "Leverage 300 is not valid", leverage=300), "Binance refused: leverage 300x is not valid for BTCUSDT (-4028)"),
        (_binance(-2027, "Exceeded the maximum allowable position at current leverage"),
         "Binance refused: the position is too large for leverage ?x (leverage bracket) (-2027)"),
        (_binance(-4061, "Order's position side does not match user's setting"),
         "Binance refused: the account is in Hedge Mode and the bot trades one-way only: switch the account to One-way "
         "Mode (Binance Futures → Preferences → Position Mode), then /stop and /start (-4061)"),
        (_binance(-1100, LEGAL), f"Binance refused: {LEGAL} (-1100)"),
        (_binance(-9999), "Binance refused: HTTP 400 (-9999)"),
        (Reason(What.RATE_LIMITED, "BTCUSDT", numbers={"status": D(429), "retry_after": D(7)}),
         "rate-limited by Binance; retry after 7 s (HTTP 429)"),
        (Reason(What.RATE_LIMITED, "BTCUSDT", numbers={"status": D(418)}),
         "IP banned by Binance for too many requests; retry after ? s (HTTP 418)"),
        (Reason(What.NOT_FOUND, "BTCUSDT", text="HTTP 503 -1001: Internal error", details={"order": ID}),
         f"not placed: HTTP 503 -1001: Internal error, and Binance has no order {ID}; propose again"),
        (Reason(What.NOT_FILLED, "BTCUSDT", details={"order": ID, "status": "EXPIRED"}),
         f"Binance did not fill it: order {ID} is EXPIRED with nothing executed"),
        (Reason(What.LEVERAGE_UNCLEAR, "BTCUSDT", numbers={"leverage": D(5)}, text="HTTP 503 -1001: busy"),
         "not placed: setting BTCUSDT leverage to 5x got no clear answer (HTTP 503 -1001: busy); no order was sent, propose again"),
        (Reason(What.LEVERAGE_FAILED, "BTCUSDT", numbers={"leverage": D(5)}, text="ConnectionError: reset"),
         "not placed: setting BTCUSDT leverage to 5x failed (ConnectionError: reset); no order was sent, propose again"),
        (_unknown("sent", "ReadTimeout: read timed out", query="HTTP 500 -1000: down"),
         f"outcome unknown: BUY BTCUSDT sent as {ID} (ReadTimeout: read timed out); asking Binance for it failed too "
         "(HTTP 500 -1000: down); check the position before anything else"),
        (_unknown("restart", query="ConnectionError: reset"),
         f"outcome unknown: BUY BTCUSDT sent as {ID} (asked after a restart); asking Binance for it failed too "
         "(ConnectionError: reset); check the position before anything else"),
        (_unknown("seen", status="NEW", query="ReadTimeout: x"),
         f"outcome unknown: BUY BTCUSDT sent as {ID} (order is NEW); asking Binance for it failed too (ReadTimeout: x); "
         "check the position before anything else"),
        (_unknown("stuck", status="NEW"),
         f"outcome unknown: BUY BTCUSDT sent as {ID} (order still NEW after 10 looks); check the position before anything else"),
        (Reason(What.EXIT_UNKNOWN, "BTCUSDT", text="ReadTimeout: x", details={"type": "STOP_MARKET", "order": f"{ID}-sl",
                                                                            "query": "HTTP 500 -1000: down"}),
         f"outcome unknown: STOP_MARKET BTCUSDT sent as {ID}-sl (ReadTimeout: x); asking Binance for it: HTTP 500 -1000: down"),
        (Reason(What.NO_FRESH_ID, "ETHUSDT", numbers={"generations": D(8)}),
         "ETHUSDT: no fresh client id for its exits after 8 generations"),
        (Reason(What.BRACKET, "SOLUSDT", numbers={"notional": D("7243.4"), "max": D(10), "leverage": D(20)}),
         "a 7243 USDT SOLUSDT position is limited to 10x by Binance's leverage brackets; leverage is 20x (/set leverage=…)"),
        (Reason(What.RULES_UNKNOWN, "ETHUSDT"), "ETHUSDT's trading rules are unknown (exchangeInfo not reachable)"),
        (Reason(What.HEDGE_OFF), HEDGE_OFF),
        (Reason(What.HEDGE_OFF_IDLE), HEDGE_OFF + "; it holds no position and no open order, so an admin can switch it here"),
    ],
)  # fmt: skip
def test_each_exchange_reason_has_the_words_the_adapter_used_to_write(reason: Reason, line: str) -> None:
    assert reason_line(reason) == line
    back = Reason.of(reason.to_json())
    assert back == reason and reason_line(back) == line  # stored with a proposal or an answer: the same line


def test_a_binance_refusal_stored_before_reads_back_as_it_was_and_a_typed_one_as_the_same_line() -> None:
    old = "Binance refused: margin is insufficient (-2019)"
    row = json.dumps({"kind": "placed", "symbol": "BTCUSDT", "placed": {"fills": [], "closed": [], "error": old, "code": -2019}})
    assert answer_line(Answer.from_json(row)) == f"failed: {old}"
    typed = Answer(Kind.PLACED, symbol="BTCUSDT", placed=Placed(Placement([], [], _binance(-2019, "Margin is insufficient"), -2019)))
    back = Answer.from_json(typed.to_json())
    assert back == typed and answer_line(back) == f"failed: {old}"


class _Refusing:
    """A signed client whose order POST Binance refuses with `code` and `msg`."""

    REQUEST_RECVWINDOW = 5000
    timestamp_offset = 0

    def __init__(self, code: int, msg: str) -> None:
        self.body = json.dumps({"code": code, "msg": msg})

    def futures_time(self, **_: Any) -> dict[str, int]:
        return {"serverTime": 1_700_000_000_000}

    def futures_create_order(self, **_: Any) -> None:
        response = requests.Response()
        response.status_code = 400
        raise BinanceAPIException(response, 400, self.body)


@pytest.mark.parametrize("msg", [LEGAL + ".", "a brace { left open."])
def test_binances_own_message_is_shown_as_it_came_braces_and_all(msg: str) -> None:
    """A message is never a format string: `{1,20}` in Binance's -1100 was shown as `?`, and a
    lone `{` raised ValueError out of the order path instead of the refusal."""
    b = BinanceBroker(_Refusing(-1100, msg), {"BTCUSDT": F})  # type: ignore[arg-type]
    with pytest.raises(OrderRefused) as refused:
        b.execute(req(qty="0.01"), D(100_000), 0)
    assert refused.value.code == -1100 and refused.value.reason.what is What.BINANCE
    assert reason_line(refused.value.reason) == f"Binance refused: {msg.rstrip('.')} (-1100)"


def test_an_unknown_outcome_is_a_typed_reason_naming_the_order(ex, broker: BinanceBroker) -> None:  # noqa: F811
    ex.faults.order_answer_drop()
    ex.faults.rest_errors(500, route="GET /fapi/v1/order")  # the question by client id
    r = req()
    with pytest.raises(OrderUnknown) as unknown:
        broker.execute(r, price_now(ex), 0)
    why = unknown.value.reason
    assert why.what is What.UNKNOWN and why.details["order"] == r.id and why.details["side"] == "BUY"
    assert why.details["stage"] == "sent" and why.text and why.details["query"].startswith("HTTP 500")
    assert reason_line(why) == (f"outcome unknown: BUY BTCUSDT sent as {r.id} ({why.text}); asking Binance for it failed too "
                                f"({why.details['query']}); check the position before anything else")  # fmt: skip


def test_rate_limits_carry_the_retry_after_binance_sent(ex, broker: BinanceBroker) -> None:  # noqa: F811
    ex.faults.order_errors(429, retry_after=7)
    with pytest.raises(OrderRefused) as refused:
        broker.execute(req(), price_now(ex), 0)
    assert refused.value.reason == Reason(What.RATE_LIMITED, "BTCUSDT", numbers={"status": D(429), "retry_after": D(7)})


class _Stale:
    """Exits whose every client id Binance already knows (an old order under it)."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def place_exit(self, client_id: str, symbol: str, side: str, kind: str, *_: Any) -> ExchangeOrder:
        return ExchangeOrder(client_id, symbol, side, kind, D(0), D(0), D(1), True, True, "FILLED", algo=True)

    def cancel_exit(self, symbol: str, client_id: str) -> bool:
        self.cancelled.append(client_id)
        return True


class _Crossed(_Stale):
    def place_exit(self, client_id: str, symbol: str, side: str, kind: str, *_: Any) -> ExchangeOrder:
        raise OrderRefused(_binance(WOULD_TRIGGER, "Order would immediately trigger"), WOULD_TRIGGER)


def test_exits_refused_for_want_of_a_fresh_id_and_a_crossed_trigger_keep_their_reasons() -> None:
    exits = ExchangeExits(_Stale(), "abcd1234")  # type: ignore[arg-type]
    with pytest.raises(OrderRefused) as refused:
        exits.sync("ETHUSDT", 1, 1_700_000_000_000, D(90), None)
    assert refused.value.reason == Reason(What.NO_FRESH_ID, "ETHUSDT", numbers={"generations": D(8)})
    exits = ExchangeExits(_Crossed(), "abcd1234")  # type: ignore[arg-type]
    with pytest.raises(WouldTrigger) as crossed:
        exits.sync("ETHUSDT", 1, 1_700_000_000_000, D(90), None)
    assert crossed.value.reason == _binance(WOULD_TRIGGER, "Order would immediately trigger")
    assert reason_line(crossed.value.reason) == "Binance refused: the stop would trigger immediately at the current price (-2021)"


class _Account:
    """An account in Hedge Mode, idle or not, as GET positionSide/dual and the reads show it."""

    def __init__(self, idle: bool) -> None:
        self.client = self
        self.idle = idle

    def keep_clock(self) -> None:
        pass

    def futures_get_position_mode(self, **_: Any) -> dict[str, bool]:
        return {"dualSidePosition": True}

    def futures_get_multi_assets_mode(self, **_: Any) -> dict[str, bool]:
        return {"multiAssetsMargin": False}

    def futures_position_information(self, **_: Any) -> list[dict[str, str]]:
        return [] if self.idle else [{"symbol": "BTCUSDT", "positionAmt": "0.010", "positionSide": "LONG"}]

    def futures_get_open_orders(self, **_: Any) -> list[object]:
        return []

    def futures_get_open_algo_orders(self, **_: Any) -> list[object]:
        return []


@pytest.mark.parametrize("idle", [False, True])
def test_hedge_mode_off_refuses_the_start_with_a_reason(idle: bool) -> None:
    with pytest.raises(AccountRefused) as refused:
        check_account(_Account(idle), lambda _: None, hedge_mode="off")
    assert refused.value.reason == Reason(What.HEDGE_OFF_IDLE if idle else What.HEDGE_OFF) and refused.value.switchable is idle
    offer = "; it holds no position and no open order, so an admin can switch it here"
    assert reason_line(refused.value.reason) == HEDGE_OFF + (offer if idle else "")


class _Brackets:
    """GET /fapi/v1/leverageBracket for SOLUSDT: 20x below 5,000 USDT, 10x up to 50,000."""

    def __init__(self) -> None:
        self.client = self

    def keep_clock(self) -> None:
        pass

    def futures_leverage_bracket(self, **_: Any) -> list[dict[str, Any]]:
        return [{"symbol": "SOLUSDT", "brackets": [
            {"initialLeverage": 20, "notionalFloor": 0, "notionalCap": 5000},
            {"initialLeverage": 10, "notionalFloor": 5000, "notionalCap": 50000}]}]  # fmt: skip


def test_an_order_above_its_leverage_bracket_is_a_reason() -> None:
    cache = BracketCache(_Brackets())
    assert cache.order_problem("SOLUSDT", 20, D("4999")) is None
    why = cache.order_problem("SOLUSDT", 20, D("7243.4"))
    assert why == Reason(What.BRACKET, "SOLUSDT", numbers={"notional": D("7243.4"), "max": D(10), "leverage": D(20)})
    assert reason_line(why) == (
        "a 7243 USDT SOLUSDT position is limited to 10x by Binance's leverage brackets; leverage is 20x (/set leverage=…)"
    )


class _Resting(_Refusing):
    """An order Binance takes and keeps NEW (an ACK never followed by its fill); `down`: asking
    for it fails on the way."""

    def __init__(self, down: bool = False) -> None:
        self.down = down

    def futures_create_order(self, **params: Any) -> dict[str, Any]:
        return {"clientOrderId": params["newClientOrderId"], "status": "NEW", "time": 1_700_000_000_001}

    def futures_get_order(self, **params: Any) -> dict[str, Any]:
        if self.down:
            raise requests.ConnectionError("connection reset")
        return {"clientOrderId": params["origClientOrderId"], "status": "NEW", "time": 1_700_000_000_001}


def test_an_order_left_new_and_one_unreadable_after_a_restart_are_unknown_with_their_stage() -> None:
    b = BinanceBroker(_Resting(), {"BTCUSDT": F}, poll_attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]
    r = req(qty="0.01")
    with pytest.raises(OrderUnknown) as stuck:
        b.execute(r, D(100_000), 0)
    assert reason_line(stuck.value.reason) == (
        f"outcome unknown: BUY BTCUSDT sent as {r.id} (order still NEW after 3 looks); check the position before anything else"
    )
    b = BinanceBroker(_Resting(down=True), {"BTCUSDT": F}, sleep=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(OrderUnknown) as lost:
        b.lookup(r)
    assert lost.value.reason.details["stage"] == "restart" and reason_line(lost.value.reason) == (
        f"outcome unknown: BUY BTCUSDT sent as {r.id} (asked after a restart); asking Binance for it failed too "
        "(ConnectionError: connection reset); check the position before anything else"
    )


def test_a_bracket_refusal_at_order_time_names_the_leverage_the_order_was_sent_at() -> None:
    """-2027 on an opening order used to read 'leverage ?x': the leverage was only known to the
    leverage call, though the order is sent at the one just set for it (request.leverage)."""
    b = BinanceBroker(_Refusing(-2027, "Exceeded the maximum allowable position at current leverage."), {"BTCUSDT": F})  # type: ignore[arg-type]
    with pytest.raises(OrderRefused) as refused:
        b.execute(req(qty="0.01"), D(100_000), 0)  # an opening order at 5x
    assert reason_line(refused.value.reason) == "Binance refused: the position is too large for leverage 5x (leverage bracket) (-2027)"
    with pytest.raises(OrderRefused) as closing:
        b.execute(req("c", side="SELL", qty="0.01", reduce_only=True), D(100_000), 0)
    assert "leverage" not in closing.value.reason.numbers  # a close is not sent at a leverage of its own
