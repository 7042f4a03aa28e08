"""The BNB fee discount on the replay, switched with python-binance's feeBurn calls."""

from __future__ import annotations

from decimal import Decimal

from binance.client import Client

from sim.binance import ReplayExchange, generate
from tests.test_replay_user_stream import Reader, has


def client_for(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def test_fees_in_bnb_at_the_replayed_bnb_price() -> None:
    bnb = generate(1000, seed=5, start_price=600.0)
    with ReplayExchange(generate(1000), extra_symbols={"BNBUSDT": bnb}, start_index=600, paused=True) as ex:
        client = client_for(ex)
        reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
        assert client.futures_v1_get_fee_burn() == {"feeBurn": False}
        assert client.futures_v1_post_fee_burn(feeBurn="true") == {"code": 200, "msg": "success"}
        assert client.futures_v1_get_fee_burn() == {"feeBurn": True}
        assert client.futures_account(version=2)["feeBurn"] is True
        # no BNB in the futures wallet yet: USDT, no discount
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        first = client.futures_account_trades(symbol="BTCUSDT")[-1]
        assert first["commissionAsset"] == "USDT"
        assert ex.control("bnb-deposit", amount="1") == {"BNB": "1"}
        wallet = Decimal(client.futures_account_balance()[0]["balance"])
        bnb_price = Decimal(client.futures_symbol_ticker(symbol="BNBUSDT")["price"])
        client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
        trade = client.futures_account_trades(symbol="BTCUSDT")[-1]
        usdt_fee = Decimal(trade["quoteQty"]) * Decimal(client.futures_commission_rate(symbol="BTCUSDT")["takerCommissionRate"])
        expected = (usdt_fee * Decimal("0.9") / bnb_price).quantize(Decimal("0.00000001"))
        assert (trade["commissionAsset"], Decimal(trade["commission"])) == ("BNB", expected)
        events = reader.until(has("ACCOUNT_UPDATE", 3))
        fill = [e for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED"][-1]["o"]  # type: ignore[index]
        assert (fill["N"], Decimal(fill["n"])) == ("BNB", expected)  # type: ignore[index]
        balances = {b["asset"]: Decimal(b["balance"]) for b in client.futures_account_balance()}
        assert balances["BNB"] == 1 - expected
        assert balances["USDT"] == wallet + Decimal(trade["realizedPnl"])  # the fee left the USDT alone
        last = events[-1]["a"]  # type: ignore[index]
        assert {b["a"]: Decimal(b["wb"]) for b in last["B"]} == balances  # type: ignore[index]
        rows = client.futures_income_history(incomeType="COMMISSION")
        assert [(r["asset"], Decimal(r["income"])) for r in rows][-1] == ("BNB", -expected)
        assert client.futures_v1_post_fee_burn(feeBurn="false")["code"] == 200
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        assert client.futures_account_trades(symbol="BTCUSDT")[-1]["commissionAsset"] == "USDT"
        reader.close()


def test_bnb_price_setting_when_bnbusdt_is_not_served() -> None:
    with ReplayExchange(generate(1000), start_index=600, paused=True, fee_burn=True, bnb_balance="2",
                        bnb_price="500") as ex:  # fmt: skip
        client = client_for(ex)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        trade = client.futures_account_trades(symbol="BTCUSDT")[-1]
        fee = Decimal(trade["quoteQty"]) * Decimal("0.0005") * Decimal("0.9") / 500
        assert (trade["commissionAsset"], Decimal(trade["commission"])) == ("BNB", fee.quantize(Decimal("1e-8")))
        assert Decimal(client.futures_account_balance()[0]["balance"]) == 10000


def test_the_bnb_price_setting_is_served_as_bnbusdt_market_data() -> None:
    with ReplayExchange(generate(1000), start_index=600, paused=True, fee_burn=True, bnb_price="512.5") as ex:
        client = client_for(ex)
        assert client.futures_symbol_ticker(symbol="BNBUSDT")["price"] == "512.5"
        now = client.futures_time()["serverTime"]
        rows = client.futures_klines(symbol="BNBUSDT", interval="1m", startTime=now - 60_000, limit=2)
        assert [r[4] for r in rows] == ["512.5"] * len(rows)
        assert any(r[0] <= now < r[0] + 60_000 for r in rows)  # how a client finds the fill's minute
        assert client.futures_symbol_ticker(symbol="BTCUSDT")["symbol"] == "BTCUSDT"
