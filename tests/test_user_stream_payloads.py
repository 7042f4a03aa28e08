"""Real user data stream payloads (issue 26): the replay exchange sends what Binance sends
(tests/fixtures/binance_user_stream.json, written from captured payloads), and the bot reads
each as Binance means it: TRADE_LITE and x=AMENDMENT book nothing (a fill is booked once),
a Hedge Mode leg (`ps` LONG/SHORT) stays out of the one-way net book (said once), and a
`settlement_autoclose-…` fill is told as Binance's settlement."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from binance.client import Client

from sim.binance import ReplayExchange, generate
from tests.helpers import exchange_client
from tests.test_bot_e2e import GROUP, source  # noqa: F401  (fixture)
from tests.test_exits_e2e import World, demo_world
from tests.test_user_stream_e2e import protected_long

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "binance_user_stream.json").read_text(encoding="utf-8"))


def order_updates(ex: ReplayExchange, x: str) -> list[dict]:
    return [e for e in ex.call(lambda: list(ex.user_stream.published))
            if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] == x]  # fmt: skip


def kinds_of(ex: ReplayExchange, client_id: str) -> list[str]:
    """The events about one order, in the order the stream sent them."""
    out = []
    for e in ex.call(lambda: list(ex.user_stream.published)):
        body = e.get("o") if e["e"] == "ORDER_TRADE_UPDATE" else e
        if e["e"] == "ACCOUNT_UPDATE" and out:
            out.append("ACCOUNT_UPDATE")
        elif isinstance(body, dict) and body.get("c") == client_id:
            out.append(e["e"] if e["e"] == "TRADE_LITE" else f"ORDER_TRADE_UPDATE/{body['x']}")
    return out


@pytest.fixture
def replay():
    with ReplayExchange(generate(1000), start_index=600, paused=True) as ex:
        c = Client(ex.api_key, ex.api_secret, ping=False)
        c.FUTURES_URL = ex.rest_url + "/fapi"
        yield ex, c


def test_the_replay_sends_the_fields_binance_sends(replay) -> None:
    ex, client = replay
    ex.trade_by_hand("BUY", "0.010")
    mark = Decimal(client.futures_mark_price(symbol="BTCUSDT")["markPrice"])
    low = (mark * Decimal("0.5")).quantize(Decimal("0.1"))
    placed = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                                         quantity="0.010", price=f"{low}", newClientOrderId="web_limit1")  # fmt: skip
    client.futures_modify_order(symbol="BTCUSDT", orderId=placed["orderId"], side="BUY", quantity="0.010",
                                price=f"{low + 1}")  # fmt: skip
    new, trade, amended = order_updates(ex, "NEW")[0], order_updates(ex, "TRADE")[0], order_updates(ex, "AMENDMENT")
    lite = [e for e in ex.call(lambda: list(ex.user_stream.published)) if e["e"] == "TRADE_LITE"]
    account = [e for e in ex.call(lambda: list(ex.user_stream.published)) if e["e"] == "ACCOUNT_UPDATE"][-1]
    for name, got in (("order_new", new), ("order_trade", trade), ("order_amendment", amended[0] if amended else {})):
        want = FIXTURES[name]
        assert set(want) <= set(got), (name, set(want) - set(got))
        assert set(want["o"]) <= set(got["o"]), (name, set(want["o"]) - set(got["o"]))
    assert (new["o"]["n"], new["o"]["N"]) == ("0", "USDT")  # on every order update, as on the wire
    assert amended[0]["o"]["X"] == "NEW" and Decimal(amended[0]["o"]["p"]) == low + 1
    assert lite and set(lite[0]) == set(FIXTURES["trade_lite"]), lite
    assert (lite[0]["t"], lite[0]["i"], lite[0]["l"]) == (trade["o"]["t"], trade["o"]["i"], trade["o"]["l"])
    row = account["a"]["P"][0]
    assert set(FIXTURES["account_update_order"]["a"]["P"][0]) <= set(row) and row["ma"] == "USDT", row
    # TRADE_LITE first, then the fill's order update and its account update
    hand = trade["o"]["c"]
    assert kinds_of(ex, hand) == ["ORDER_TRADE_UPDATE/NEW", "TRADE_LITE", "ORDER_TRADE_UPDATE/TRADE", "ACCOUNT_UPDATE"]


def publish(w: World, event: dict) -> None:
    w.ex.call(lambda: w.ex.user_stream.publish(event))


def test_trade_lite_and_an_amendment_book_nothing_and_a_fill_is_booked_once(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)  # the bot's own fill: TRADE_LITE, the order update, the REST answer
        assert [f.side for f in w.engine.recent_fills(10)] == ["BUY"]
        client = exchange_client(w.settings)
        price = w.engine.last_price("BTCUSDT")
        low = (price * Decimal("0.5")).quantize(Decimal("0.1"))
        placed = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                                             quantity="0.005", price=f"{low}", newClientOrderId="web_limitByHand01")  # fmt: skip
        mark = w.api.mark()
        client.futures_modify_order(symbol="BTCUSDT", orderId=placed["orderId"], side="BUY", quantity="0.005",
                                    price=f"{low + 1}")  # fmt: skip
        assert order_updates(w.ex, "AMENDMENT")
        events = w.engine.account_status().events
        publish(w, FIXTURES["order_amendment"])  # the captured shape too
        assert w.engine.wait_account(lambda u: u.events >= events + 1, timeout=10)
        mark2 = w.api.mark()
        w.ex.trade_by_hand("BUY", "0.005")  # TRADE_LITE, then ORDER_TRADE_UPDATE x=TRADE
        msg = w.api.wait_for_text(GROUP, "traded outside the bot", start=mark2, timeout=10)
        assert msg is not None and "BUY 0.005 BTCUSDT" in msg["text"], msg
        assert [f.side for f in w.engine.recent_fills(10)] == ["BUY", "BUY"]  # once each, the lite never
        assert w.engine.position("BTCUSDT").qty == Decimal("0.015")
        said = [str(c.params.get("text", "")) for c in w.api.calls[mark:]]
        assert sum("outside the bot" in t for t in said) == 1, said
    finally:
        w.close()


def test_a_hedge_mode_leg_stays_out_of_the_net_book_and_is_said_once(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        held = w.engine.position("BTCUSDT").qty
        mark = w.api.mark()
        publish(w, FIXTURES["order_trade_hedge_long"])
        msg = w.api.wait_for_text(GROUP, "Hedge Mode fill", start=mark, timeout=10)
        assert msg is not None and "LONG leg" in msg["text"] and "not booked" in msg["text"], msg
        second = json.loads(json.dumps(FIXTURES["order_trade_hedge_long"]))
        second["o"]["t"] += 1
        events = w.engine.account_status().events
        publish(w, second)
        assert w.engine.wait_account(lambda u: u.events >= events + 1, timeout=10)
        assert w.engine.position("BTCUSDT").qty == held
        assert [f.side for f in w.engine.recent_fills(10)] == ["BUY"]
        said = [str(c.params.get("text", "")) for c in w.api.calls[mark:]]
        assert sum("Hedge Mode fill" in t for t in said) == 1, said
        w.reply("/status", "long 0.010 BTCUSDT")
    finally:
        w.close()


def test_a_settlement_is_told_as_binances_settlement(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        mark = w.api.mark()
        publish(w, FIXTURES["order_trade_settlement"])
        msg = w.api.wait_for_text(GROUP, "settlement", start=mark, timeout=10)
        assert msg is not None, [c.params.get("text") for c in w.api.calls[mark:]]
        assert "closed by Binance's settlement (delisting or delivery): SELL 0.010 BTCUSDT" in msg["text"], msg
        assert "outside the bot" not in msg["text"] and "no position left" in msg["text"], msg
        assert w.engine.side("BTCUSDT") == 0
    finally:
        w.close()


def test_binances_own_client_ids_are_one_table() -> None:
    from trading.exchange.account_sync import BINANCE_IDS, AccountFollower

    follower = AccountFollower(None, None, ("BTCUSDT",), None)  # type: ignore[arg-type]
    assert [p for p, _ in BINANCE_IDS] == ["autoclose-", "adl_autoclose", "settlement_autoclose-"]
    assert [follower.what(c) for c in ("autoclose-1742590000193", "adl_autoclose", "settlement_autoclose-17",
                                       "web_x")] == ["liquidation", "adl", "settlement", "outside"]  # fmt: skip
