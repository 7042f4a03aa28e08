"""Conditional orders on the replay's Algo Order API, as python-binance sends them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from sim.binance import ReplayExchange, generate

START = 600


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(1000), start_index=START, paused=True) as exchange:
        yield exchange


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def price_now(ex: ReplayExchange) -> Decimal:
    return Decimal(ex.call(lambda: ex.clock.price("BTCUSDT")))


def code_of(fn: object, /, **params: object) -> int:
    with pytest.raises(BinanceAPIException) as err:
        fn(**params)  # type: ignore[operator]
    return err.value.code


def test_stop_market_routed_by_python_binance_rests_then_can_be_cancelled(
    ex: ReplayExchange, client: Client
) -> None:
    below = (price_now(ex) * Decimal("0.9")).quantize(Decimal("0.1"))
    order = client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice=str(below),
        closePosition="true", clientAlgoId="tg-sl",
    )  # fmt: skip
    assert order["algoStatus"] == "NEW" and order["orderType"] == "STOP_MARKET"
    assert order["clientAlgoId"] == "tg-sl" and Decimal(order["triggerPrice"]) == below
    assert order["closePosition"] is True and order["algoType"] == "CONDITIONAL"
    (listed,) = client.futures_get_open_algo_orders(symbol="BTCUSDT")
    assert listed["algoId"] == order["algoId"]
    assert client.futures_get_algo_order(clientAlgoId="tg-sl")["algoStatus"] == "NEW"
    client.futures_cancel_algo_order(algoId=order["algoId"])
    assert client.futures_get_open_algo_orders(symbol="BTCUSDT") == []
    assert code_of(client.futures_get_algo_order, clientAlgoId="nope") == -2013
    assert code_of(client.futures_cancel_algo_order, algoId=order["algoId"]) == -2011


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"type": "STOP_MARKET", "side": "SELL", "triggerPrice": "1e9", "closePosition": "true"}, -2021),
        ({"type": "TAKE_PROFIT_MARKET", "side": "SELL", "triggerPrice": "1", "closePosition": "true"}, -2021),
        ({"type": "STOP_MARKET", "side": "SELL", "triggerPrice": "1", "closePosition": "true", "quantity": "0.01"}, -1106),
        ({"type": "STOP_MARKET", "side": "SELL", "triggerPrice": "1"}, -1102),
        ({"type": "STOP_MARKET", "side": "SELL", "closePosition": "true"}, -1102),
        ({"type": "STOP_MARKET", "side": "SELL", "triggerPrice": "1.05", "closePosition": "true"}, -4014),
        ({"type": "STOP", "side": "SELL", "triggerPrice": "1", "quantity": "0.01", "price": "1"}, -1116),
    ],
)
def test_algo_order_validation(client: Client, params: dict[str, str], code: int) -> None:
    assert code_of(client.futures_create_algo_order, symbol="BTCUSDT", **params) == code


def test_plain_order_endpoint_still_refuses_conditional_types(ex: ReplayExchange) -> None:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    # what a client that bypasses python-binance's routing meets, like on Binance
    err = code_of(
        c._request_futures_api, method="post", path="order", signed=True,
        data={"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "1", "quantity": "0.01"},
    )  # fmt: skip
    assert err == -4120


def test_reduce_only_stop_with_nothing_to_reduce_expires_when_fired(
    ex: ReplayExchange, client: Client
) -> None:
    high = max(Decimal(c.high) for c in ex.candles[START : START + 30])
    trigger = (price_now(ex) + (high - price_now(ex)) / 2).quantize(Decimal("0.1"))
    order = client.futures_create_algo_order(
        symbol="BTCUSDT", side="BUY", type="STOP_MARKET", triggerPrice=str(trigger),
        quantity="0.010", reduceOnly="true", clientAlgoId="buy-stop",
    )  # fmt: skip
    assert ex.advance(30)
    got = client.futures_get_algo_order(algoId=order["algoId"])
    assert got["algoStatus"] == "EXPIRED" and got["triggerTime"] > 0
    actual = client.futures_get_order(symbol="BTCUSDT", orderId=got["actualOrderId"])
    assert actual["status"] == "EXPIRED" and actual["executedQty"] == "0.000"
    (pos,) = client.futures_position_information(symbol="BTCUSDT", version=2)
    assert pos["positionAmt"] == "0.000"


# ---- TRAILING_STOP_MARKET (issue 29) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"side": "SELL", "quantity": "0.010", "reduceOnly": "true"}, -1102),  # no callbackRate
        ({"side": "SELL", "quantity": "0.010", "reduceOnly": "true", "callbackRate": "0.05"}, -1130),
        ({"side": "SELL", "quantity": "0.010", "reduceOnly": "true", "callbackRate": "10.1"}, -1130),
        ({"side": "SELL", "quantity": "0.010", "reduceOnly": "true", "callbackRate": "1", "activationPrice": "1"}, -2021),
        ({"side": "BUY", "quantity": "0.010", "reduceOnly": "true", "callbackRate": "1", "activationPrice": "1e9"}, -2021),
        ({"side": "SELL", "closePosition": "true", "callbackRate": "1"}, -1106),
    ],
)
def test_trailing_stop_validation(client: Client, params: dict[str, str], code: int) -> None:
    assert code_of(client.futures_create_algo_order, symbol="BTCUSDT", type="TRAILING_STOP_MARKET", **params) == code


@pytest.mark.parametrize("updates", [1, 4, 9])
def test_trailing_stop_activates_follows_the_best_price_and_fires_where_the_paper_model_does(updates: int) -> None:
    with ReplayExchange(generate(1000), start_index=START, paused=True, updates_per_candle=updates) as ex:
        c = Client(ex.api_key, ex.api_secret, ping=False)
        c.FUTURES_URL = ex.rest_url + "/fapi"
        c.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        now = price_now(ex)
        act = (now * Decimal("1.002")).quantize(Decimal("0.1"))
        order = c.futures_create_algo_order(
            symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET", quantity="0.010", reduceOnly="true",
            callbackRate="0.5", activationPrice=str(act), clientAlgoId="tg-ts",
        )  # fmt: skip
        assert order["orderType"] == "TRAILING_STOP_MARKET" and order["algoStatus"] == "NEW"
        assert order["callbackRate"] == "0.5" and Decimal(order["activatePrice"]) == act
        # the paper model (trading/core/exits.py) over the replay's own candles: it must agree
        from collections import deque

        from trading.core.book import Book
        from trading.core.candles import Candle
        from trading.core.exits import Exits
        from trading.core.strategies import make_strategy
        from trading.core.symbols import SymbolFilters

        exits = Exits({"BTCUSDT": SymbolFilters.btcusdt()})
        model = Book("BTCUSDT", make_strategy("none"), deque())
        exits.set(model, now, 1, {"trailing_stop_pct": 0.5, "trailing_activation_pct": 0.2})
        model.trail_act = act
        fired = level = None
        for i in range(START, START + 300):
            k = ex.candles[i]
            row = Candle("BTCUSDT", "1h", k.open_time, k.open_time + 1, float(k.open), float(k.high), float(k.low),
                         float(k.close), 1.0)  # fmt: skip
            hit = exits.touched(model, row, True)
            if hit is not None:
                assert hit[0] == "trailing_stop"
                fired, level = i, hit[1]
                break
        assert fired is not None, "the generated market never fell back 0.5 % after activating"
        assert ex.advance(fired - START)
        assert c.futures_get_algo_order(algoId=order["algoId"])["algoStatus"] == "NEW"
        assert ex.advance(1)
        got = c.futures_get_algo_order(algoId=order["algoId"])
        assert got["algoStatus"] == "FINISHED" and Decimal(got["triggerPrice"]) == level
        actual = c.futures_get_order(symbol="BTCUSDT", orderId=got["actualOrderId"])
        assert actual["status"] == "FILLED" and Decimal(actual["avgPrice"]) == level
        (pos,) = c.futures_position_information(symbol="BTCUSDT", version=2)
        assert pos["positionAmt"] == "0.000"


def test_partial_take_profits_and_a_trailing_stop_push_binances_events() -> None:
    """A take-profit ladder's levels (TAKE_PROFIT_MARKET for a quantity, reduce-only) each
    reduce the long by their quantity: ALGO_UPDATE NEW → TRIGGERING → TRIGGERED → FINISHED
    with `aq`, the fill's ORDER_TRADE_UPDATE (`ot` TAKE_PROFIT_MARKET, `R`, `z`), and the
    ACCOUNT_UPDATE with what is left; then a trailing stop closes the rest, its order update
    carrying `AP` and `cr` as Binance pushes them for TRAILING_STOP_MARKET only."""
    from tests.test_replay_user_stream import Reader, has, matching

    with ReplayExchange(generate(1000), start_index=START, paused=True, updates_per_candle=4) as ex:
        client = Client(ex.api_key, ex.api_secret, ping=False)
        client.FUTURES_URL = ex.rest_url + "/fapi"
        reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        price, i = price_now(ex), ex.current_index
        highs = [Decimal(c.high) for c in ex.candles[i : i + 200]]
        top = max(highs)
        assert top > price
        one, two = ((price + (top - price) * k / 4).quantize(Decimal("0.1")) for k in (1, 2))
        for cid, level in (("lad-t1", one), ("lad-t2", two)):
            client.futures_create_algo_order(
                symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT_MARKET", algoType="CONDITIONAL",
                triggerPrice=str(level), quantity="0.004", reduceOnly="true", clientAlgoId=cid,
            )  # fmt: skip
        ex.advance(200)
        events = reader.until(has("ALGO_UPDATE", 2, X="FINISHED"), timeout=10)
        for cid, level in (("lad-t1", one), ("lad-t2", two)):
            states = [e["o"]["X"] for e in matching(events, "ALGO_UPDATE", caid=cid)]  # type: ignore[index]
            assert states == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"], states
            (done,) = matching(events, "ALGO_UPDATE", caid=cid, X="FINISHED")
            assert (done["o"]["aq"], Decimal(done["o"]["ap"])) == ("0.004", level)  # type: ignore[index]
            (fill,) = [e for e in matching(events, "ORDER_TRADE_UPDATE") if e["o"]["ot"] == "TAKE_PROFIT_MARKET"  # type: ignore[index]
                       and e["o"]["X"] == "FILLED" and Decimal(e["o"]["L"]) == level]  # type: ignore[index]  # fmt: skip
            assert (fill["o"]["S"], fill["o"]["z"], fill["o"]["R"], fill["o"]["cp"]) == ("SELL", "0.004", True, False)  # type: ignore[index]
        left = [e["a"]["P"][0]["pa"] for e in matching(events, "ACCOUNT_UPDATE") if e["a"]["m"] == "ORDER"]  # type: ignore[index]
        assert left[-2:] == ["0.006", "0.002"]
        # the rest: a trailing stop active at once (no activationPrice), 0.5 % behind the best price
        now = price_now(ex)
        client.futures_create_algo_order(
            symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET", algoType="CONDITIONAL", callbackRate="0.5",
            quantity="0.002", reduceOnly="true", clientAlgoId="lad-ts",
        )  # fmt: skip
        ex.advance(300)
        events = reader.until(has("ALGO_UPDATE", 1, caid="lad-ts", X="FINISHED"), timeout=10)
        (fill,) = [e for e in matching(events, "ORDER_TRADE_UPDATE") if e["o"]["ot"] == "TRAILING_STOP_MARKET"  # type: ignore[index]
                   and e["o"]["X"] == "FILLED"]  # type: ignore[index]  # fmt: skip
        assert (fill["o"]["cr"], Decimal(fill["o"]["AP"]), fill["o"]["z"]) == ("0.5", now, "0.002")  # type: ignore[index]
        plain = [e for e in matching(events, "ORDER_TRADE_UPDATE") if e["o"]["ot"] == "TAKE_PROFIT_MARKET"]  # type: ignore[index]
        assert all("AP" not in e["o"] and "cr" not in e["o"] for e in plain)  # type: ignore[index]
        assert all(Decimal(r["positionAmt"]) == 0 for r in client.futures_position_information(symbol="BTCUSDT"))
        reader.close()
