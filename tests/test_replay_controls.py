"""Loopback controls of the replay (/_sim/...): a trade by hand, as from Binance's app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from binance.client import Client

from sim.binance import ReplayExchange, generate
from sim.binance.__main__ import main as replay_main
from sim.binance.errors import BinanceError
from tests.test_replay_user_stream import Reader, has


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(1000), start_index=600, paused=True) as exchange:
        yield exchange


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def position(client: Client) -> Decimal:
    rows = client.futures_position_information(symbol="BTCUSDT")  # v3: none when flat
    return Decimal(rows[0]["positionAmt"]) if rows else Decimal(0)


def test_closing_by_hand_over_http_is_a_web_order_on_the_user_stream(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="bot-1")
    r = requests.post(ex.rest_url + "/_sim/trade", params={"close": "true"}, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "FILLED"
    assert position(client) == 0
    events = reader.until(has("ACCOUNT_UPDATE", 2))
    fill = events[-2]["o"]
    assert re.fullmatch(r"web_[A-Za-z0-9]{20}", fill["c"])  # type: ignore[arg-type]
    assert (fill["S"], fill["R"], fill["X"], fill["o"]) == ("SELL", True, "FILLED", "MARKET")
    assert Decimal(fill["rp"]) == Decimal(client.futures_account_trades(symbol="BTCUSDT")[-1]["realizedPnl"])
    # nothing left to close: Binance's reduce-only refusal, JSON as on /fapi
    r = requests.post(ex.rest_url + "/_sim/trade", data={"close": "true"}, timeout=5)
    assert (r.status_code, r.json()["code"]) == (400, -2022)
    reader.close()


def test_opening_by_hand_from_python_and_refusals(ex: ReplayExchange, client: Client) -> None:
    order = ex.trade_by_hand("SELL", "0.020", source="android")
    assert order["clientOrderId"].startswith("android_")  # type: ignore[index]
    assert position(client) == Decimal("-0.020")
    with pytest.raises(BinanceError) as err:
        ex.trade_by_hand("SELL", "0.020", source="telegram")
    assert err.value.code == -1100
    with pytest.raises(BinanceError) as err:
        ex.trade_by_hand("SELL", "0.0001")
    assert err.value.code == -1111
    assert requests.post(ex.rest_url + "/_sim/nope", timeout=5).status_code == 404


def test_the_control_command_line(ex: ReplayExchange, client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay_main(["control", "trade", "side=BUY", "quantity=0.010", "--port", str(ex.port)]) == 0
    assert '"status":"FILLED"' in capsys.readouterr().out
    assert replay_main(["control", "trade", "close=true", "source=ios", "--port", str(ex.port)]) == 0
    assert '"clientOrderId":"ios_' in capsys.readouterr().out
    assert position(client) == 0
    assert replay_main(["control", "trade", "close=true", "--port", str(ex.port)]) == 1
    assert "-2022" in capsys.readouterr().err
    assert replay_main(["control", "trade", "close", "--port", str(ex.port)]) == 2
