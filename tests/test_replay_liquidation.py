"""Isolated margin, liquidation, ADL and margin calls on the replay, through python-binance."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from sim.binance import ReplayExchange, generate
from tests.test_replay_user_stream import Reader, has, matching


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(3000, seed=7), start_index=600, paused=True) as exchange:
        yield exchange


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def test_an_isolated_long_is_liquidated_at_its_liquidation_price(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    assert client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")["code"] == 200
    with pytest.raises(BinanceAPIException) as err:
        client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    assert err.value.code == -4046
    client.futures_change_leverage(symbol="BTCUSDT", leverage=125)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    with pytest.raises(BinanceAPIException) as err:
        client.futures_change_margin_type(symbol="BTCUSDT", marginType="CROSSED")
    assert err.value.code == -4048
    (pos,) = client.futures_position_information(symbol="BTCUSDT")
    entry, iw = Decimal(pos["entryPrice"]), Decimal(pos["isolatedWallet"])
    assert iw == entry * Decimal("0.1") / 125
    liq = Decimal(pos["liquidationPrice"])
    # margin + PnL = maintenance margin (bracket 1: 0.4 %) at the liquidation price
    assert abs(iw + (liq - entry) * Decimal("0.1") - liq * Decimal("0.1") * Decimal("0.004")) < Decimal("1e-6")
    tp = (entry * Decimal("1.05")).quantize(Decimal("0.1"))
    client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT_MARKET",
                                     algoType="CONDITIONAL", triggerPrice=str(tp), closePosition="true")  # fmt: skip
    wallet = Decimal(client.futures_account_balance()[0]["balance"])
    for _ in range(200):
        ex.advance(1)
        if not client.futures_position_information(symbol="BTCUSDT"):
            break
    events = reader.until(_insurance)
    new, fill = matching(events, "ORDER_TRADE_UPDATE", o="LIQUIDATION")
    assert new["o"]["c"] == "autoclose-1" and new["o"]["x"] == "NEW" and new["o"]["f"] == "IOC"  # type: ignore[index]
    f = fill["o"]
    assert (f["x"], f["X"], f["S"], f["z"], f["R"]) == ("CALCULATED", "FILLED", "SELL", "0.100", True)  # type: ignore[index]
    assert Decimal(f["L"]) == liq.quantize(Decimal("0.1"), rounding=ROUND_CEILING)  # on the tick, toward the entry
    (expired,) = matching(events, "ALGO_UPDATE", X="EXPIRED")
    assert expired["o"]["tp"] == f"{tp:.2f}"  # type: ignore[index]
    clear = [e for e in events if e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "INSURANCE_CLEAR"]  # type: ignore[index]
    fee = -Decimal(clear[0]["a"]["B"][0]["bc"])  # type: ignore[index]
    assert 0 < fee <= Decimal(f["L"]) * Decimal("0.1") * Decimal("0.0125")  # type: ignore[arg-type]
    after = Decimal(client.futures_account_balance()[0]["balance"])
    assert Decimal(clear[0]["a"]["B"][0]["wb"]) == after  # type: ignore[index]
    assert 0 < wallet - after <= iw  # never more than the isolated wallet
    kinds = [r["incomeType"] for r in client.futures_income_history()]
    assert kinds[-3:] == ["REALIZED_PNL", "COMMISSION", "INSURANCE_CLEAR"]
    reader.close()


def _insurance(events: list[dict[str, object]]) -> bool:
    return any(e.get("e") == "ACCOUNT_UPDATE" and e["a"]["m"] == "INSURANCE_CLEAR" for e in events)  # type: ignore[index]


def test_liquidate_adl_and_margin_call_controls(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.100")
    ex.control("margin-call")
    (call,) = reader.until(has("MARGIN_CALL"))[-1:]
    (p,) = call["p"]  # type: ignore[misc]
    assert (p["s"], p["ps"], p["pa"], p["mt"], p["iw"]) == ("BTCUSDT", "BOTH", "-0.100", "CROSSED", "0.00000000")
    assert set(call) == {"e", "E", "cw", "p"} and set(p) >= {"mp", "up", "mm"}
    ex.control("adl", quantity="0.040")
    (adl,) = reader.until(has("ORDER_TRADE_UPDATE", c="adl_autoclose", X="FILLED"))[-1:]
    a = adl["o"]
    assert (a["x"], a["o"], a["l"], a["n"], a["S"]) == ("CALCULATED", "LIQUIDATION", "0.040", "0.00000000", "BUY")  # type: ignore[index]
    mark = Decimal(client.futures_symbol_ticker(symbol="BTCUSDT")["price"])
    wallet = Decimal(client.futures_account_balance()[0]["balance"])
    ex.control("liquidate")
    events = reader.until(_insurance)
    (fill,) = matching(events, "ORDER_TRADE_UPDATE", x="CALCULATED", c="autoclose-1")
    assert Decimal(fill["o"]["L"]) == mark and fill["o"]["z"] == "0.060"  # type: ignore[index]
    fee = mark * Decimal("0.06") * Decimal("0.0125")
    assert Decimal(client.futures_account_balance()[0]["balance"]) == wallet - Decimal(fill["o"]["n"]) - fee  # type: ignore[index]
    assert not client.futures_position_information(symbol="BTCUSDT")
    with pytest.raises(Exception) as err:
        ex.control("liquidate")
    assert getattr(err.value, "code", None) == -2022
    reader.close()


def test_a_stop_above_the_liquidation_price_closes_first(ex: ReplayExchange, client: Client) -> None:
    client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    client.futures_change_leverage(symbol="BTCUSDT", leverage=125)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    (pos,) = client.futures_position_information(symbol="BTCUSDT")
    entry, liq = Decimal(pos["entryPrice"]), Decimal(pos["liquidationPrice"])
    stop = (liq + (entry - liq) / 10).quantize(Decimal("0.1"))  # just above the liquidation price
    below = (liq - (entry - liq)).quantize(Decimal("0.1"))
    client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", algoType="CONDITIONAL",
                                     triggerPrice=str(stop), closePosition="true", clientAlgoId="sl")  # fmt: skip
    client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", algoType="CONDITIONAL",
                                     triggerPrice=str(below), closePosition="true", clientAlgoId="late")  # fmt: skip
    for _ in range(200):
        ex.advance(1)
        if not client.futures_position_information(symbol="BTCUSDT"):
            break
    assert client.futures_get_algo_order(clientAlgoId="sl")["algoStatus"] == "FINISHED"
    assert not any(o["clientOrderId"].startswith("autoclose-") for o in ex.orders())
    assert client.futures_get_algo_order(clientAlgoId="late")["algoStatus"] == "NEW"


def test_a_stop_below_the_liquidation_price_comes_too_late(ex: ReplayExchange, client: Client) -> None:
    client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    client.futures_change_leverage(symbol="BTCUSDT", leverage=125)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    (pos,) = client.futures_position_information(symbol="BTCUSDT")
    iw, liq = Decimal(pos["isolatedWallet"]), Decimal(pos["liquidationPrice"])
    wallet = Decimal(client.futures_account_balance()[0]["balance"])
    below = liq.quantize(Decimal("0.1"), rounding=ROUND_FLOOR) - Decimal("0.1")  # one tick below
    client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", algoType="CONDITIONAL",
                                     triggerPrice=str(below), closePosition="true", clientAlgoId="late")  # fmt: skip
    for _ in range(200):
        ex.advance(1)
        if not client.futures_position_information(symbol="BTCUSDT"):
            break
    assert client.futures_get_algo_order(clientAlgoId="late")["algoStatus"] == "EXPIRED"
    assert [o["clientOrderId"] for o in ex.orders()][-1] == "autoclose-1"
    assert 0 < wallet - Decimal(client.futures_account_balance()[0]["balance"]) <= iw


def test_an_isolated_margin_call_carries_no_cross_wallet(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    iw = client.futures_position_information(symbol="BTCUSDT")[0]["isolatedWallet"]
    ex.control("margin-call")
    (call,) = reader.until(has("MARGIN_CALL"))[-1:]
    assert "cw" not in call  # "only pushed with crossed position margin call"
    assert (call["p"][0]["mt"], call["p"][0]["iw"]) == ("ISOLATED", iw)  # type: ignore[index]
    reader.close()
