"""The replay's user data stream, driven by python-binance (REST) and websocket-client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_UP, Decimal

import pytest
import requests
import websocket
from binance.client import Client
from binance.exceptions import BinanceAPIException

from sim.binance import ReplayExchange, generate

START = 600
Event = dict[str, object]


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(1000), start_index=START, paused=True) as exchange:
        yield exchange


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


class Reader:
    """The events of one user-stream connection, read on demand with a deadline."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=5)
        self.events: list[Event] = []

    def until(self, done: Callable[[list[Event]], bool], timeout: float = 5.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while not done(self.events):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {[e.get('e') for e in self.events]}"
            self.ws.settimeout(left)
            self.events.append(json.loads(self.ws.recv()))
        return self.events

    def kinds(self) -> list[str]:
        return [str(e.get("e", e.get("data", {}).get("e"))) for e in self.events]  # type: ignore[union-attr]

    def close(self) -> None:
        self.ws.close()


def has(kind: str, n: int = 1, **fields: object) -> Callable[[list[Event]], bool]:
    def check(events: list[Event]) -> bool:
        return len(matching(events, kind, **fields)) >= n

    return check


def matching(events: list[Event], kind: str, **fields: object) -> list[Event]:
    out = []
    for e in events:
        e = e.get("data", e)  # type: ignore[assignment]
        if e.get("e") != kind:
            continue
        body = e.get("o", e)
        if all(body.get(k) == v for k, v in fields.items()):  # type: ignore[union-attr]
            out.append(e)
    return out


def code_of(fn: Callable[..., object], **params: object) -> int:
    with pytest.raises(BinanceAPIException) as err:
        fn(**params)
    return err.value.code


def price_now(ex: ReplayExchange) -> Decimal:
    return Decimal(ex.call(lambda: ex.clock.price("BTCUSDT")))


def test_listen_key_lifecycle_through_python_binance(ex: ReplayExchange, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    assert len(key) == 64
    assert client.futures_stream_get_listen_key() == key  # the active key, extended
    assert client.futures_stream_keepalive(key) == {"listenKey": key}
    assert client.futures_stream_close(key) == {}
    assert code_of(client.futures_stream_keepalive, listenKey=key) == -1125
    assert code_of(client.futures_stream_close, listenKey=key) == -1125
    assert client.futures_stream_get_listen_key() != key
    r = requests.post(ex.rest_url + "/fapi/v1/listenKey", timeout=5)
    assert (r.status_code, r.json()["code"]) == (401, -2014)
    # a handshake with a dead key is refused with Binance's -1125
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        websocket.create_connection(f"{ex.user_ws_url}/ws/{key}", timeout=5)
    assert err.value.status_code == 400


def test_listen_key_expires_after_its_ttl_unless_kept_alive(ex: ReplayExchange, client: Client) -> None:
    wall = [1000.0]
    ex.user_stream.wall = lambda: wall[0]
    key = client.futures_stream_get_listen_key()
    reader = Reader(f"{ex.user_ws_url}/ws/{key}")
    wall[0] += 3000
    client.futures_stream_keepalive(key)
    wall[0] += 3000  # 50 minutes after the keep-alive: still alive
    assert client.futures_stream_keepalive(key) == {"listenKey": key}
    wall[0] += 3601
    ex.call(ex.user_stream.active_key)
    (expired,) = reader.until(has("listenKeyExpired"))
    assert expired == {"e": "listenKeyExpired", "E": expired["E"], "listenKey": key}
    assert isinstance(expired["E"], str) and expired["E"].isdigit()
    assert code_of(client.futures_stream_keepalive, listenKey=key) == -1125
    reader.close()


def test_market_orders_push_order_and_account_updates(ex: ReplayExchange, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    reader = Reader(f"{ex.user_ws_url}/ws/{key}")
    price = price_now(ex)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010",
                                newClientOrderId="bot-open")  # fmt: skip
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.004",
                                reduceOnly="true", newClientOrderId="bot-part")  # fmt: skip
    events = reader.until(has("ACCOUNT_UPDATE", 2))
    # Binance's fast TRADE_LITE comes first for each trade (issue 26)
    assert reader.kinds() == ["ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"] * 2
    new, lite, fill, account = events[:4]
    o = new["o"]
    assert (o["x"], o["X"], o["c"], o["S"], o["o"], o["q"], o["z"]) == (
        "NEW", "NEW", "bot-open", "BUY", "MARKET", "0.010", "0.000"
    )  # fmt: skip
    assert (o["n"], o["N"]) == ("0", "USDT")  # on every order update, as Binance's wire has them
    trades = client.futures_account_trades(symbol="BTCUSDT")
    f = fill["o"]
    assert (f["x"], f["X"], f["t"], f["i"]) == ("TRADE", "FILLED", trades[0]["id"], trades[0]["orderId"])
    assert Decimal(f["L"]) == Decimal(f["ap"]) == price and f["l"] == f["z"] == "0.010"
    assert f["N"] == "USDT" and Decimal(f["n"]) == Decimal(trades[0]["commission"]) > 0
    assert (f["rp"], f["ps"], f["R"], f["m"], f["ot"]) == ("0.00000000", "BOTH", False, False, "MARKET")
    assert fill["E"] == fill["T"] == f["T"] == trades[0]["time"]
    assert (lite["t"], lite["i"], lite["l"], lite["L"], lite["c"], lite["S"]) == (f["t"], f["i"], f["l"], f["L"], f["c"], f["S"])
    a = account["a"]
    assert a["m"] == "ORDER"
    (usdt,) = a["B"]
    assert Decimal(usdt["wb"]) == 10000 - Decimal(trades[0]["commission"]) and usdt["bc"] == "0.00000000"
    (pos,) = a["P"]
    assert (pos["s"], pos["pa"], Decimal(pos["ep"]), pos["ps"]) == ("BTCUSDT", "0.010", price, "BOTH")
    close = events[6]["o"]
    assert (close["c"], close["R"], close["X"]) == ("bot-part", True, "FILLED")
    assert Decimal(close["rp"]) == Decimal(trades[1]["realizedPnl"])
    final = events[7]["a"]
    assert final["P"][0]["pa"] == "0.006"
    assert Decimal(final["B"][0]["wb"]) == Decimal(client.futures_account_balance()[0]["balance"])
    times = [e["E"] for e in events]
    assert times == sorted(times)
    reader.close()


def test_query_routes_and_event_filter(ex: ReplayExchange, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    plain = Reader(f"{ex.user_ws_url}/ws?listenKey={key}")
    wrapped = Reader(f"{ex.user_ws_url}/stream?listenKey={key}&events=ACCOUNT_UPDATE")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    plain.until(has("ACCOUNT_UPDATE"))
    (only,) = wrapped.until(lambda ev: len(ev) >= 1)
    assert only["stream"] == key and only["data"]["e"] == "ACCOUNT_UPDATE"  # type: ignore[index]
    assert plain.kinds() == ["ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    plain.close()
    wrapped.close()


def test_a_stop_triggered_by_the_replayed_price_is_told_in_order(ex: ReplayExchange, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    reader = Reader(f"{ex.user_ws_url}/ws/{key}")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    price = price_now(ex)
    i = ex.current_index
    low = min(Decimal(c.low) for c in ex.candles[i : i + 40])
    trigger = (low + Decimal("0.1")).quantize(Decimal("0.1"), rounding=ROUND_UP)
    assert trigger < price
    algo = client.futures_create_algo_order(
        symbol="BTCUSDT", side="SELL", type="STOP_MARKET", algoType="CONDITIONAL",
        triggerPrice=str(trigger), closePosition="true", clientAlgoId="bot-sl",
        workingType="MARK_PRICE",
    )  # fmt: skip
    reader.until(has("ALGO_UPDATE", X="NEW"))
    ex.advance(40)
    events = reader.until(has("ALGO_UPDATE", X="FINISHED"))
    events = [e for e in events if e["e"] != "ACCOUNT_UPDATE" or e["a"]["m"] == "ORDER"]  # type: ignore[index]
    tail = events[4:]  # (a funding time may pass meanwhile)
    algo_states = [e["o"]["X"] for e in tail if e["e"] == "ALGO_UPDATE"]  # type: ignore[index]
    assert algo_states == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]
    assert [e["e"] for e in tail[1:]] == [
        "ALGO_UPDATE", "ALGO_UPDATE", "ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE",
        "ALGO_UPDATE",
    ]  # fmt: skip
    triggered, fill, finished = tail[2], tail[5], tail[7]
    actual = client.futures_get_algo_order(algoId=algo["algoId"])["actualOrderId"]
    assert triggered["o"]["ai"] == actual == str(fill["o"]["i"])  # type: ignore[index]
    f = fill["o"]
    assert (f["x"], f["X"], f["ot"], f["sp"], f["cp"], f["wt"], f["R"]) == (
        "TRADE", "FILLED", "STOP_MARKET", f"{trigger:.2f}", True, "MARK_PRICE", True
    )  # fmt: skip
    assert Decimal(f["rp"]) == (trigger - price) * Decimal("0.01")
    fo = finished["o"]
    assert (fo["caid"], fo["aid"], fo["aq"], Decimal(fo["ap"])) == ("bot-sl", algo["algoId"], "0.010", trigger)
    assert tail[6]["a"]["P"][0]["pa"] == "0.000"  # type: ignore[index]
    assert [e["E"] for e in events] == sorted(e["E"] for e in events)  # type: ignore[type-var]
    reader.close()


def test_cancels_and_expiries_are_told(ex: ReplayExchange, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    reader = Reader(f"{ex.user_ws_url}/ws/{key}")
    below = (price_now(ex) * Decimal("0.97")).quantize(Decimal("0.1"))
    limit = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.010",
                                        price=str(below), timeInForce="GTC")  # fmt: skip
    client.futures_cancel_order(symbol="BTCUSDT", orderId=limit["orderId"])
    stop = client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                                            algoType="CONDITIONAL", triggerPrice=str(below),
                                            closePosition="true")  # fmt: skip
    client.futures_cancel_algo_order(algoId=stop["algoId"])
    reader.until(has("ALGO_UPDATE", X="CANCELED"))
    assert [(e["e"], e["o"]["X"]) for e in reader.events] == [  # type: ignore[index]
        ("ORDER_TRADE_UPDATE", "NEW"), ("ORDER_TRADE_UPDATE", "CANCELED"),
        ("ALGO_UPDATE", "NEW"), ("ALGO_UPDATE", "CANCELED"),
    ]  # fmt: skip
    assert "ACCOUNT_UPDATE" not in reader.kinds()  # nothing changed on the balance or position
    reader.close()


def test_expire_and_drop_controls_and_rest_catch_up(ex: ReplayExchange, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    reader = Reader(f"{ex.user_ws_url}/ws/{key}")
    assert ex.call(ex.user_stream.expire_listen_key)
    reader.until(has("listenKeyExpired"))
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    key2 = client.futures_stream_get_listen_key()
    assert key2 != key
    second = Reader(f"{ex.user_ws_url}/ws/{key2}")
    assert ex.wait_until(lambda: ex.user_stream.connection_count == 2, timeout=5)
    assert ex.call(lambda: ex.user_stream.drop(down_seconds=float("inf"))) == 2
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        second.until(has("never"))
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        websocket.create_connection(f"{ex.user_ws_url}/ws/{key2}", timeout=5)
    assert err.value.status_code == 503
    # fills during the outage are lost on the stream and found over REST
    last = client.futures_account_trades(symbol="BTCUSDT")[-1]["id"]
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
    missed = client.futures_account_trades(symbol="BTCUSDT", fromId=last + 1)
    assert [t["side"] for t in missed] == ["SELL"]
    ex.call(ex.user_stream.up)
    third = Reader(f"{ex.user_ws_url}/ws/{key2}")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    third.until(has("ACCOUNT_UPDATE"))
    assert [e["o"]["X"] for e in third.events if e["e"] == "ORDER_TRADE_UPDATE"] == ["NEW", "FILLED"]  # type: ignore[index]
    reader.close()
    third.close()


def test_income_history_shapes_and_filters(ex: ReplayExchange, client: Client) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    ex.advance(3)
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
    rows = client.futures_income_history()
    assert [r["incomeType"] for r in rows] == ["TRANSFER", "COMMISSION", "REALIZED_PNL", "COMMISSION"]
    trades = client.futures_account_trades(symbol="BTCUSDT")
    pnl = rows[2]
    assert set(pnl) == {"symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId"}
    assert (pnl["symbol"], pnl["asset"], pnl["tradeId"]) == ("BTCUSDT", "USDT", str(trades[1]["id"]))
    assert Decimal(pnl["income"]) == Decimal(trades[1]["realizedPnl"])
    assert Decimal(rows[1]["income"]) == -Decimal(trades[0]["commission"])
    later = client.futures_income_history(incomeType="COMMISSION", startTime=trades[1]["time"])
    assert [r["tradeId"] for r in later] == [str(trades[1]["id"])]
    assert client.futures_income_history(limit=1, page=2)[0]["incomeType"] == "COMMISSION"
    assert code_of(client.futures_income_history, incomeType="NOPE") == -1100
