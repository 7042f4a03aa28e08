"""Signed endpoints of the replay exchange: auth, orders, matching, positions, balance."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
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


def api_error(fn: object, /, **params: object) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as err:
        fn(**params)  # type: ignore[operator]
    return err.value


def price_now(ex: ReplayExchange) -> Decimal:
    return Decimal(ex.call(lambda: ex.clock.price("BTCUSDT")))


def test_market_order_result_position_and_balance(ex: ReplayExchange, client: Client) -> None:
    price = price_now(ex)
    order = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010",
        newOrderRespType="RESULT", newClientOrderId="bot-1",
    )  # fmt: skip
    assert order["status"] == "FILLED" and order["clientOrderId"] == "bot-1"
    assert order["executedQty"] == "0.010" and order["origQty"] == "0.010"
    assert Decimal(order["avgPrice"]) == price
    assert Decimal(order["cumQuote"]) == price * Decimal("0.01")

    (pos,) = client.futures_position_information(symbol="BTCUSDT")
    assert pos["positionAmt"] == "0.010" and Decimal(pos["entryPrice"]) == price
    assert Decimal(pos["markPrice"]) == price and Decimal(pos["unRealizedProfit"]) == 0

    fee = price * Decimal("0.01") * Decimal("0.0005")
    (bal,) = client.futures_account_balance()
    assert bal["asset"] == "USDT" and Decimal(bal["balance"]) == Decimal(10000) - fee.quantize(Decimal("1e-8"))

    (trade,) = client.futures_account_trades(symbol="BTCUSDT")
    assert trade["maker"] is False and Decimal(trade["commission"]) == fee.quantize(Decimal("1e-8"))
    assert trade["orderId"] == order["orderId"] and Decimal(trade["realizedPnl"]) == 0


def test_ack_response_is_new_but_order_is_filled(ex: ReplayExchange, client: Client) -> None:
    ack = client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.005")
    assert ack["status"] == "NEW" and ack["executedQty"] == "0.000"
    assert ack["clientOrderId"].startswith("x-")  # python-binance's generated id
    got = client.futures_get_order(symbol="BTCUSDT", orderId=ack["orderId"])
    assert got["status"] == "FILLED" and got["executedQty"] == "0.005"
    by_client = client.futures_get_order(symbol="BTCUSDT", origClientOrderId=ack["clientOrderId"])
    assert by_client["orderId"] == ack["orderId"]
    (pos,) = client.futures_position_information(symbol="BTCUSDT")
    assert pos["positionAmt"] == "-0.005"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"side": "BUY", "type": "MARKET", "quantity": "0.0015"}, -1111),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.001"}, -4164),
        ({"side": "BUY", "type": "MARKET", "quantity": "0"}, -4003),
        ({"side": "BUY", "type": "MARKET", "quantity": "100"}, -2019),
        ({"side": "BUY", "type": "MARKET", "quantity": "500"}, -4005),
        ({"side": "BUY", "type": "MARKET"}, -1102),
        ({"side": "HOLD", "type": "MARKET", "quantity": "0.01"}, -1117),
        ({"side": "BUY", "type": "FANCY", "quantity": "0.01"}, -1116),
        ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "40000"}, -1102),
        ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1.15", "timeInForce": "GTC"}, -4014),
        ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1.111", "timeInForce": "GTC"}, -1111),
        ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "10", "timeInForce": "XX"}, -1115),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.01", "reduceOnly": "true"}, -2022),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.01", "positionSide": "LONG"}, -4061),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.01", "newClientOrderId": "x" * 37}, -4015),
        ({"symbol": "DOGEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1121),
    ],
)
def test_order_validation(client: Client, params: dict[str, str], code: int) -> None:
    params = {"symbol": "BTCUSDT", **params}
    err = api_error(client.futures_create_order, **params)
    assert err.code == code and err.status_code == 400


def test_limit_order_rests_then_fills_as_maker(ex: ReplayExchange, client: Client) -> None:
    lows = [Decimal(c.low) for c in ex.candles[START : START + 6]]
    limit = min(lows)
    assert limit < price_now(ex)  # otherwise the order would be marketable
    order = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.020",
        price=str(limit), newOrderRespType="RESULT",
    )  # fmt: skip
    assert order["status"] == "NEW"
    (open_order,) = client.futures_get_open_orders(symbol="BTCUSDT")
    assert open_order["orderId"] == order["orderId"]
    assert ex.advance(6)
    got = client.futures_get_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert got["status"] == "FILLED" and Decimal(got["avgPrice"]) == limit
    (trade,) = client.futures_account_trades(symbol="BTCUSDT")
    assert trade["maker"] is True
    assert Decimal(trade["commission"]) == (limit * Decimal("0.02") * Decimal("0.0002")).quantize(Decimal("1e-8"))
    assert client.futures_get_open_orders(symbol="BTCUSDT") == []


def test_cancel_and_unknown_orders(ex: ReplayExchange, client: Client) -> None:
    above = (price_now(ex) * Decimal("1.02")).quantize(Decimal("0.1"))
    order = client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(above)
    )
    canceled = client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert canceled["status"] == "CANCELED"
    assert api_error(client.futures_cancel_order, symbol="BTCUSDT", orderId=order["orderId"]).code == -2011
    assert api_error(client.futures_get_order, symbol="BTCUSDT", orderId=12345).code == -2013
    ioc = client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.010",
        price=str(above), newOrderRespType="RESULT",
    )  # fmt: skip
    assert ioc["status"] == "EXPIRED"
    gtx = api_error(
        client.futures_create_order, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTX",
        quantity="0.010", price=str(above),
    )  # fmt: skip
    assert gtx.code == -5022


def test_round_trip_realizes_pnl(ex: ReplayExchange, client: Client) -> None:
    p1 = price_now(ex)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    assert ex.advance(3)
    p2 = price_now(ex)
    out = client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.100", reduceOnly="true",
        newOrderRespType="RESULT",
    )  # fmt: skip
    assert out["status"] == "FILLED"
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert Decimal(trades[-1]["realizedPnl"]) == ((p2 - p1) * Decimal("0.1")).quantize(Decimal("1e-8"))
    fees = (p1 + p2) * Decimal("0.1") * Decimal("0.0005")
    account = client.futures_account()
    expected = Decimal(10000) + (p2 - p1) * Decimal("0.1") - fees
    assert Decimal(account["totalWalletBalance"]) == expected.quantize(Decimal("1e-8"))
    assert client.futures_position_information() == []  # v3: only open positions
    assert all(float(p["positionAmt"]) == 0 for p in client.futures_position_information(version=2))


def test_leverage(client: Client) -> None:
    assert client.futures_change_leverage(symbol="BTCUSDT", leverage=10) == {
        "leverage": 10, "maxNotionalValue": "230000000", "symbol": "BTCUSDT",
    }  # fmt: skip
    (pos,) = client.futures_position_information(symbol="BTCUSDT", version=2)
    assert pos["leverage"] == "10"
    for bad in (0, 126):
        assert api_error(client.futures_change_leverage, symbol="BTCUSDT", leverage=bad).code == -4028


def test_account_views(client: Client) -> None:
    acc = client.futures_account(version=3)
    assert acc["totalWalletBalance"] == "10000.00000000" and acc["positions"] == []
    assert acc["assets"][0]["asset"] == "USDT"
    acc2 = client.futures_account(version=2)
    assert acc2["canTrade"] is True and acc2["positions"][0]["leverage"] == "20"
    assert client.futures_account_balance(version=2)[0]["availableBalance"] == "10000.00000000"


# ---- authentication ---------------------------------------------------------------------


def test_wrong_secret_is_a_signature_error(ex: ReplayExchange) -> None:
    bad = Client(ex.api_key, "not-the-secret", ping=False)
    bad.FUTURES_URL = ex.rest_url + "/fapi"
    err = api_error(bad.futures_account_balance)
    assert (err.code, err.status_code) == (-1022, 400)
    assert err.message == "Signature for this request is not valid."


def test_wrong_key_and_stale_timestamp(ex: ReplayExchange) -> None:
    other = Client("someone-else", ex.api_secret, ping=False)
    other.FUTURES_URL = ex.rest_url + "/fapi"
    err = api_error(other.futures_account_balance)
    assert (err.code, err.status_code) == (-2015, 401)
    late = Client(ex.api_key, ex.api_secret, ping=False)
    late.FUTURES_URL = ex.rest_url + "/fapi"
    late.timestamp_offset = -120_000  # two minutes slow
    assert api_error(late.futures_account_balance).code == -1021
    late.timestamp_offset = 5_000  # five seconds fast
    assert api_error(late.futures_account_balance).code == -1021


def test_the_exchange_clock_can_drift_from_the_hosts(ex: ReplayExchange, client: Client) -> None:
    """set_clock_offset: Binance's clock ahead of (or behind) this host, as the rule sees it:
    now - recvWindow (python-binance sends 10 s) <= timestamp <= now + 1 s."""
    ex.set_clock_offset(3_000)  # host stamps 3 s old: inside the window
    client.futures_account_balance()
    ex.set_clock_offset(-3_000)  # host stamps 3 s in Binance's future
    assert api_error(client.futures_account_balance).code == -1021
    client.timestamp_offset = -3_000  # a client that measured the offset is accepted again
    client.futures_account_balance()
    client.timestamp_offset = 0
    ex.set_clock_offset(15_000)  # host stamps 15 s old: outside the window
    assert api_error(client.futures_account_balance).code == -1021


def signed(secret: str, query: str, body: str = "") -> str:
    return hmac.new(secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()


def test_signature_over_query_plus_body(ex: ReplayExchange) -> None:
    """Binance signs the query string followed directly by the body (no '&' between)."""
    ts = int(time.time() * 1000)
    query = "symbol=BTCUSDT"
    body = f"leverage=7&timestamp={ts}"
    sig = signed(ex.api_secret, query, body)
    r = requests.post(
        f"{ex.rest_url}/fapi/v1/leverage?{query}",
        data=f"{body}&signature={sig}",
        headers={"X-MBX-APIKEY": ex.api_key, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["leverage"] == 7
    bad = requests.post(
        f"{ex.rest_url}/fapi/v1/leverage?{query}",
        data=f"{body}&signature={signed(ex.api_secret, query + '&', body)}",
        headers={"X-MBX-APIKEY": ex.api_key},
        timeout=5,
    )
    assert bad.json()["code"] == -1022


@pytest.mark.parametrize(
    ("query", "headers", "status", "code"),
    [
        ("timestamp={ts}", {}, 401, -2014),
        ("timestamp={ts}", {"X-MBX-APIKEY": "replay-key"}, 400, -1102),  # no signature
        ("recvWindow=1000", {"X-MBX-APIKEY": "replay-key"}, 400, -1102),  # no timestamp
        ("timestamp={ts}&recvWindow=70000", {"X-MBX-APIKEY": "replay-key"}, 400, -1131),
    ],
)
def test_auth_errors(ex: ReplayExchange, query: str, headers: dict[str, str], status: int, code: int) -> None:
    query = query.format(ts=int(time.time() * 1000))
    r = requests.get(f"{ex.rest_url}/fapi/v2/balance?{query}", headers=headers, timeout=5)
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_a_client_synced_to_server_time_stays_accepted(ex: ReplayExchange, client: Client) -> None:
    """/time serves the market clock; python-binance's resync after a -1021 signs with it,
    and that keeps working while the replay runs far ahead of real time."""
    client.timestamp_offset = client.futures_time()["serverTime"] - int(time.time() * 1000)
    assert client.futures_account_balance()[0]["balance"] == "10000.00000000"
    assert ex.advance(30)
    assert client.futures_account_balance()[0]["updateTime"] > 0
    client.timestamp_offset -= 120_000  # synced, then two minutes slow: refused as before
    assert api_error(client.futures_account_balance).code == -1021


def test_client_ids_are_unique_among_open_orders_only(ex: ReplayExchange, client: Client) -> None:
    """As Binance: an id whose order is filled or cancelled may be used again (a query by it
    then finds the newest order); an id whose order still rests is -4116."""
    price = price_now(ex)
    first = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="bot-1"
    )
    again = client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", newClientOrderId="bot-1"
    )
    assert again["orderId"] != first["orderId"]
    assert client.futures_get_order(symbol="BTCUSDT", origClientOrderId="bot-1")["orderId"] == again["orderId"]
    above = (price * Decimal("1.02")).quantize(Decimal("0.1"))
    client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(above),
        newClientOrderId="rests",
    )  # fmt: skip
    dup = api_error(
        client.futures_create_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010",
        newClientOrderId="rests",
    )  # fmt: skip
    assert (dup.code, dup.message, dup.status_code) == (-4116, "ClientOrderId is duplicated.", 400)
    client.futures_cancel_order(symbol="BTCUSDT", origClientOrderId="rests")
    client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="rests"
    )


def test_hedge_mode_answers_and_the_change_mode_rules(ex: ReplayExchange, client: Client) -> None:
    """Binance's position modes: in Hedge Mode a one-way order is -4061 and a reduce-only
    one -1106; changing the mode: same -4059, open orders -4067, a position -4068."""
    assert client.futures_get_position_mode() == {"dualSidePosition": False}
    assert client.futures_get_multi_assets_mode() == {"multiAssetsMargin": False}
    assert api_error(client.futures_change_position_mode, dualSidePosition="false").code == -4059
    above = (price_now(ex) * Decimal("1.02")).quantize(Decimal("0.1"))
    client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(above),
        newClientOrderId="rests",
    )  # fmt: skip
    assert api_error(client.futures_change_position_mode, dualSidePosition="true").code == -4067
    client.futures_cancel_order(symbol="BTCUSDT", origClientOrderId="rests")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    assert api_error(client.futures_change_position_mode, dualSidePosition="true").code == -4068
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
    assert client.futures_change_position_mode(dualSidePosition="true")["code"] == 200
    assert client.futures_get_position_mode() == {"dualSidePosition": True}
    one_way = api_error(client.futures_create_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    assert (one_way.code, one_way.message) == (-4061, "Order's position side does not match user's setting.")
    close = api_error(
        client.futures_create_order, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true"
    )
    assert close.code == -1106
    ex.set_account_modes(multi_assets=True)
    assert client.futures_get_multi_assets_mode() == {"multiAssetsMargin": True}


def test_each_symbol_has_its_own_brackets() -> None:
    """BTC and ETH get Binance's large-cap table; other symbols a small coin's (20x up to
    5,000 USDT), in /leverageBracket, in what /leverage accepts and in the margin checks."""
    with ReplayExchange(generate(700), start_index=START, paused=True, extra_symbols={"SOLUSDT": generate(700)}) as ex:
        c = Client(ex.api_key, ex.api_secret, ping=False)
        c.FUTURES_URL = ex.rest_url + "/fapi"
        btc, sol = (c.futures_leverage_bracket(symbol=s) for s in ("BTCUSDT", "SOLUSDT"))
        assert (btc["brackets"][0]["initialLeverage"], btc["brackets"][0]["notionalCap"]) == (125, 300_000)
        assert (sol["brackets"][0]["initialLeverage"], sol["brackets"][0]["notionalCap"]) == (20, 5_000)
        assert c.futures_change_leverage(symbol="BTCUSDT", leverage=50)["leverage"] == 50
        assert api_error(c.futures_change_leverage, symbol="SOLUSDT", leverage=50).code == -4028
        assert c.futures_change_leverage(symbol="SOLUSDT", leverage=10)["maxNotionalValue"] == "25000"
