"""Hedge Mode on the replay exchange, at the wire: python-binance (REST) and the user stream.

What Binance does in Hedge Mode ("dual side position"), as its USDⓈ-M API documents it and
clients have met it: an order names its leg with positionSide LONG/SHORT (BOTH or none is
-4061), reduceOnly may not be sent at all (-1106); SELL LONG / BUY SHORT close that leg
only; each leg has its own entry, PnL, isolated margin, liquidation and funding; the user
stream's ORDER_TRADE_UPDATE carries `ps`, ACCOUNT_UPDATE the BOTH row and the changed leg,
and a position-mode change is an ACCOUNT_CONFIG_UPDATE the client must follow by reading
the mode (GET /fapi/v1/positionSide/dual).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from binance.client import Client

from sim.binance import ReplayExchange, generate
from sim.binance.errors import BinanceError
from tests.test_replay_user_stream import Reader, code_of, has, matching, price_now

START = 600


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(3000, seed=7), start_index=START, paused=True) as exchange:
        exchange.set_account_modes(hedge=True)
        yield exchange


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def risk_v2(client: Client) -> list[dict[str, str]]:
    """GET /fapi/v2/positionRisk (python-binance's futures_position_information is v3)."""
    return client._request_futures_api("get", "positionRisk", True, 2, data={"symbol": "BTCUSDT"})  # type: ignore[no-any-return]


def legs(client: Client) -> dict[str, str]:
    return {p["positionSide"]: p["positionAmt"] for p in risk_v2(client)}


def test_both_legs_open_and_close_apart(ex: ReplayExchange, client: Client) -> None:
    assert client.futures_get_position_mode() == {"dualSidePosition": True}
    assert legs(client) == {"LONG": "0.000", "SHORT": "0.000"}  # v2: a row per leg, no BOTH
    buy = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                      quantity="0.010", newOrderRespType="RESULT", newClientOrderId="bot-long")  # fmt: skip
    assert (buy["status"], buy["positionSide"], buy["reduceOnly"]) == ("FILLED", "LONG", False)
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.010")
    assert legs(client) == {"LONG": "0.010", "SHORT": "-0.010"}  # SHORT's amount is negative, as Binance signs it
    rows = {p["positionSide"]: p for p in risk_v2(client)}
    assert Decimal(rows["LONG"]["entryPrice"]) == Decimal(rows["SHORT"]["entryPrice"]) == price_now(ex)
    # a close is SELL LONG / BUY SHORT with the leg's quantity; more than the leg holds is refused
    assert code_of(client.futures_create_order, symbol="BTCUSDT", side="SELL", positionSide="LONG",
                   type="MARKET", quantity="0.011") == -2022  # fmt: skip
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.004")
    assert legs(client) == {"LONG": "0.006", "SHORT": "-0.010"}  # the SHORT leg untouched
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert [(t["side"], t["positionSide"]) for t in trades] == [("BUY", "LONG"), ("SELL", "SHORT"), ("SELL", "LONG")]
    assert [o["positionSide"] for o in client.futures_get_all_orders(symbol="BTCUSDT")] == ["LONG", "SHORT", "LONG"]
    v3 = client.futures_position_information(symbol="BTCUSDT")
    assert sorted(p["positionSide"] for p in v3) == ["LONG", "SHORT"]
    account = client.futures_account(version=2)
    assert sorted((p["positionSide"], p["positionAmt"]) for p in account["positions"]) == [
        ("LONG", "0.006"), ("SHORT", "-0.010")]  # fmt: skip
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="SHORT", type="MARKET", quantity="0.010")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.006")
    assert legs(client) == {"LONG": "0.000", "SHORT": "0.000"}


def test_binance_refusals_in_hedge_mode(ex: ReplayExchange, client: Client) -> None:
    base = {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "0.010"}
    assert code_of(client.futures_create_order, side="BUY", **base) == -4061  # no positionSide
    assert code_of(client.futures_create_order, side="BUY", positionSide="BOTH", **base) == -4061
    # reduceOnly may not be sent at all in Hedge Mode, "false" included
    assert code_of(client.futures_create_order, side="SELL", positionSide="LONG", reduceOnly="true", **base) == -1106
    assert code_of(client.futures_create_order, side="BUY", positionSide="LONG", reduceOnly="false", **base) == -1106
    assert code_of(client.futures_create_order, side="SELL", positionSide="LONG", **base) == -2022  # empty leg
    algo = {"symbol": "BTCUSDT", "algoType": "CONDITIONAL", "type": "STOP_MARKET", "side": "SELL",
            "triggerPrice": str((price_now(ex) * Decimal("0.9")).quantize(Decimal("0.1")))}  # fmt: skip
    assert code_of(client.futures_create_algo_order, closePosition="true", **algo) == -4061
    assert code_of(client.futures_create_algo_order, positionSide="LONG", quantity="0.010", reduceOnly="true",
                   **algo) == -1106  # fmt: skip
    # the mode changes only on an idle account
    assert code_of(client.futures_change_position_mode, dualSidePosition="true") == -4059
    client.futures_create_algo_order(positionSide="LONG", closePosition="true", **algo)
    assert code_of(client.futures_change_position_mode, dualSidePosition="false") == -4067
    client.futures_cancel_all_algo_open_orders(symbol="BTCUSDT")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.010")
    assert code_of(client.futures_change_position_mode, dualSidePosition="false") == -4068
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="SHORT", type="MARKET", quantity="0.010")
    assert client.futures_change_position_mode(dualSidePosition="false")["code"] == 200
    assert code_of(client.futures_create_order, side="BUY", positionSide="LONG", **base) == -4061  # One-way again
    client.futures_create_order(side="BUY", **base)


def test_one_legs_stop_fills_and_the_other_leg_and_its_exits_stay(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010",
                                newClientOrderId="bot-long")  # fmt: skip
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.010",
                                newClientOrderId="bot-short")  # fmt: skip
    price = price_now(ex)

    def at(f: str) -> str:
        return str((price * Decimal(f)).quantize(Decimal("0.1")))

    def algo(side: str, ps: str, kind: str, trigger: str, cid: str) -> None:
        client.futures_create_algo_order(symbol="BTCUSDT", algoType="CONDITIONAL", side=side, positionSide=ps,
                                         type=kind, triggerPrice=trigger, closePosition="true", clientAlgoId=cid)  # fmt: skip

    algo("SELL", "LONG", "STOP_MARKET", at("0.9995"), "long-stop")
    algo("SELL", "LONG", "TAKE_PROFIT_MARKET", at("2"), "long-tp")
    algo("BUY", "SHORT", "STOP_MARKET", at("2"), "short-stop")
    algo("BUY", "SHORT", "TAKE_PROFIT_MARKET", at("0.5"), "short-tp")
    for _ in range(400):
        if ex.call(lambda: ex.account.legs["BTCUSDT"]["LONG"].amt) == 0:
            break
        ex.advance(1)
    assert legs(client) == {"LONG": "0.000", "SHORT": "-0.010"}
    still = {o["clientAlgoId"]: o["positionSide"] for o in client.futures_get_open_algo_orders(symbol="BTCUSDT")}
    assert still == {"long-tp": "LONG", "short-stop": "SHORT", "short-tp": "SHORT"}  # the bot cancels long-tp itself
    events = reader.until(has("ALGO_UPDATE", 1, caid="long-stop", X="FINISHED"))
    (fill,) = matching(events, "ORDER_TRADE_UPDATE", c="long-stop", X="FILLED")
    assert (fill["o"]["S"], fill["o"]["ps"], fill["o"]["ot"], fill["o"]["cp"]) == ("SELL", "LONG", "STOP_MARKET", True)  # type: ignore[index]
    (opened,) = matching(events, "ORDER_TRADE_UPDATE", c="bot-short", X="FILLED")
    assert opened["o"]["ps"] == "SHORT"  # type: ignore[index]
    (triggered,) = matching(events, "ALGO_UPDATE", caid="long-stop", X="FINISHED")
    assert triggered["o"]["ps"] == "LONG"  # type: ignore[index]
    # each fill's ACCOUNT_UPDATE: the symbol's BOTH row and the leg that changed
    updates = [e for e in events if e.get("e") == "ACCOUNT_UPDATE"]
    assert [[(p["ps"], p["pa"]) for p in u["a"]["P"]] for u in updates] == [  # type: ignore[index]
        [("BOTH", "0.000"), ("LONG", "0.010")],
        [("BOTH", "0.000"), ("SHORT", "-0.010")],
        [("BOTH", "0.000"), ("LONG", "0.000")],
    ]
    reader.close()


def test_a_mode_switched_in_the_app_is_an_account_config_update(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    assert ex.switch_position_mode(False) == {"code": 200, "msg": "success"}
    (config,) = reader.until(has("ACCOUNT_CONFIG_UPDATE"))
    assert set(config) == {"e", "E", "T", "ai"} and config["ai"] == {"j": False}  # the mode itself is not in it
    assert client.futures_get_position_mode() == {"dualSidePosition": False}
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    with pytest.raises(BinanceError) as err:  # the app refuses it like the API: a position is open
        ex.switch_position_mode(True)
    assert err.value.code == -4068
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
    ex.switch_position_mode(True, event=False)  # Binance has been seen to push nothing at all
    assert client.futures_change_position_mode(dualSidePosition="false")["code"] == 200
    reader.until(has("ACCOUNT_CONFIG_UPDATE", 2))
    assert len(matching(reader.events, "ACCOUNT_CONFIG_UPDATE")) == 2
    reader.close()


def test_funding_is_paid_per_leg(ex: ReplayExchange, client: Client) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.020")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.010")
    mark = price_now(ex)
    paid = ex.control("funding", rate="0.001")
    assert paid["paid"] == [f"{-mark * Decimal('0.020') * Decimal('0.001'):.8f}",  # type: ignore[index]
                            f"{mark * Decimal('0.010') * Decimal('0.001'):.8f}"]  # fmt: skip
    rows = [r for r in client.futures_income_history() if r["incomeType"] == "FUNDING_FEE"]
    assert [Decimal(r["income"]) for r in rows] == [Decimal(p) for p in paid["paid"]]  # type: ignore[index]


def test_an_isolated_leg_is_liquidated_alone(ex: ReplayExchange, client: Client) -> None:
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    client.futures_change_leverage(symbol="BTCUSDT", leverage=50)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.100")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.050")
    rows = {p["positionSide"]: p for p in risk_v2(client)}
    entry = Decimal(rows["LONG"]["entryPrice"])
    assert Decimal(rows["LONG"]["isolatedWallet"]) == entry * Decimal("0.1") / 50
    assert Decimal(rows["SHORT"]["isolatedWallet"]) == entry * Decimal("0.05") / 50
    long_liq, short_liq = Decimal(rows["LONG"]["liquidationPrice"]), Decimal(rows["SHORT"]["liquidationPrice"])
    assert long_liq < entry < short_liq  # each leg its own price, from its own wallet
    with pytest.raises(BinanceError) as err:
        ex.control("liquidate")  # both legs open: the control must be told which
    assert err.value.code == -1102
    ex.control("liquidate", positionSide="LONG")
    assert legs(client) == {"LONG": "0.000", "SHORT": "-0.050"}
    after = {p["positionSide"]: p for p in risk_v2(client)}
    assert after["SHORT"]["isolatedWallet"] == rows["SHORT"]["isolatedWallet"]
    events = reader.until(has("ORDER_TRADE_UPDATE", 1, o="LIQUIDATION", X="FILLED"))
    (liq,) = matching(events, "ORDER_TRADE_UPDATE", o="LIQUIDATION", X="FILLED")
    assert (liq["o"]["S"], liq["o"]["ps"], liq["o"]["z"]) == ("SELL", "LONG", "0.100")  # type: ignore[index]
    reader.close()


def test_a_hand_trade_names_its_leg(ex: ReplayExchange, client: Client) -> None:
    ex.trade_by_hand("BUY", "0.010", position_side="LONG")
    ex.trade_by_hand("SELL", "0.020", position_side="SHORT", source="android")
    assert legs(client) == {"LONG": "0.010", "SHORT": "-0.020"}
    ex.trade_by_hand(close=True, position_side="SHORT")
    assert legs(client) == {"LONG": "0.010", "SHORT": "0.000"}
    with pytest.raises(BinanceError) as err:
        ex.trade_by_hand(close=True)  # which leg?
    assert err.value.code == -4061
    (close,) = [o for o in ex.orders() if o["positionSide"] == "SHORT" and o["side"] == "BUY"]
    assert close["reduceOnly"] is False and str(close["clientOrderId"]).startswith("web_")
