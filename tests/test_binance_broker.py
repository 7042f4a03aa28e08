"""The exchange broker against the replay exchange: exactly once, and one chat line per refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from binance.client import Client

from bot.texts import reason_line
from sim.binance import ReplayExchange, generate
from trading.config import load_settings
from trading.core.brokers.base import OrderRefused, OrderRequest, OrderUnknown
from trading.exchange.broker import BinanceBroker
from trading.exchange.exchange_info import symbol_filters
from trading.exchange.rest import make_client

START = 600
ORDER_PATH = "/fapi/v1/order"


class FakeTime:
    """The broker's waits, recorded instead of slept (the exchange has answered already)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(1000), start_index=START, paused=True) as exchange:
        yield exchange


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    env = {
        "TRADING_MODE": "demo",
        "BINANCE_REST_URL": ex.rest_url,
        "BINANCE_API_KEY": "replay-key",
        "BINANCE_API_SECRET": "replay-secret",
    }
    return make_client(load_settings(environ=env, env_file=None))


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def broker(client: Client, clock: FakeTime) -> BinanceBroker:
    filters = symbol_filters(client, ["BTCUSDT"])
    return BinanceBroker(
        client, filters, "demo", timeout=2.0, sleep=clock.sleep, monotonic=clock.monotonic
    )


def price_now(ex: ReplayExchange) -> Decimal:
    return Decimal(ex.call(lambda: ex.clock.price("BTCUSDT")))


def req(leg: str = "o", *, side: str = "BUY", stake: str = "100", qty: str | None = None,
        reduce_only: bool = False) -> OrderRequest:  # fmt: skip
    decided = 1_700_000_000_000  # before the generated candles: every order here is newer
    return OrderRequest(
        OrderRequest.client_id("BTCUSDT", decided, leg), "BTCUSDT", side, "open", "test", decided,
        qty=None if qty is None else Decimal(qty), stake=Decimal(stake), leverage=5,
        reduce_only=reduce_only,
    )  # fmt: skip


def exchange_orders(ex: ReplayExchange) -> list[dict[str, object]]:
    return ex.orders()


def test_market_order_fills_with_the_rounded_qty_and_the_proposal_id(
    ex: ReplayExchange, broker: BinanceBroker
) -> None:
    price = price_now(ex)
    r = req()
    fill = broker.execute(r, price, 0)
    expected = (Decimal(100) * 5 / price).quantize(Decimal("0.001"), rounding="ROUND_DOWN")
    assert fill.order_id == r.id and fill.qty == expected and fill.price == price
    assert fill.fee == (expected * price * Decimal("0.0005")).quantize(Decimal("1e-8"))
    (order,) = exchange_orders(ex)
    assert order["clientOrderId"] == r.id and order["origQty"] == f"{expected:.3f}"
    assert order["status"] == "FILLED" and fill.time == order["updateTime"]
    assert ex.stats.order_posts == {r.id: 1}
    (pos,) = broker.positions()
    assert pos.qty == expected and pos.entry == price and pos.leverage == 20


def test_filters_refuse_before_anything_is_sent(ex: ReplayExchange, broker: BinanceBroker) -> None:
    with pytest.raises(OrderRefused) as refused:
        broker.execute(req(stake="10"), price_now(ex), 0)
    assert "MIN_NOTIONAL" in reason_line(refused.value.reason)
    assert ex.stats.order_posts == {}


@pytest.mark.parametrize("fault", ["drop", "delay", "503-placed"])
def test_unclear_outcome_is_settled_by_client_id_without_a_second_post(
    ex: ReplayExchange, broker: BinanceBroker, fault: str
) -> None:
    if fault == "drop":
        ex.faults.order_answer_drop()
    elif fault == "delay":
        broker.timeout = 0.2
        ex.faults.order_answer_delay(1.0)
    else:
        ex.faults.order_errors(503, placed=True)
    r = req()
    fill = broker.execute(r, price_now(ex), 0)
    assert ex.stats.order_posts == {r.id: 1}
    (order,) = exchange_orders(ex)
    assert order["clientOrderId"] == r.id and order["status"] == "FILLED"
    assert fill.qty == Decimal(str(order["executedQty"])) and fill.time == order["updateTime"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_for_an_order_never_placed_is_refused_after_the_recv_window(
    ex: ReplayExchange, broker: BinanceBroker, clock: FakeTime, status: int
) -> None:
    ex.faults.order_errors(status)
    r = req()
    with pytest.raises(OrderRefused) as err:
        broker.execute(r, price_now(ex), 0)
    assert reason_line(err.value.reason).startswith(f"not placed: HTTP {status}")
    assert f"Binance has no order {r.id}; propose again" in reason_line(err.value.reason)
    # "does not exist" is believed only once the request could no longer be accepted
    assert sum(clock.slept) >= (broker.client.REQUEST_RECVWINDOW + 1000) / 1000
    assert ex.stats.order_posts == {r.id: 1} and exchange_orders(ex) == []


def test_unclear_and_the_question_fails_too_is_unknown(ex: ReplayExchange, broker: BinanceBroker) -> None:
    ex.faults.order_answer_drop()
    ex.faults.rest_errors(500, route="GET /fapi/v1/order")  # the question by client id
    r = req()
    with pytest.raises(OrderUnknown, match=r.id):
        broker.execute(r, price_now(ex), 0)
    assert ex.stats.order_posts == {r.id: 1}


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (-2019, "Binance refused: margin is insufficient (-2019)"),
        (-1111, "Binance refused: quantity or price has more decimals than BTCUSDT allows (-1111)"),
        (-4164, "Binance refused: order value is below BTCUSDT's minimum notional (-4164)"),
        (-2022, "Binance refused: reduce-only order rejected: it would not reduce the position"),
        (-1021, "Binance refused: our clock was outside Binance's receive window; clock resynced"),
        (429, "rate-limited by Binance; retry after 7 s (HTTP 429)"),
        (418, "IP banned by Binance for too many requests; retry after 7 s (HTTP 418)"),
    ],
)
def test_each_refusal_is_one_line_with_its_code_and_never_retried(
    ex: ReplayExchange, broker: BinanceBroker, code: int, line: str
) -> None:
    ex.faults.order_errors(code, retry_after=7)
    r = req()
    with pytest.raises(OrderRefused) as err:
        broker.execute(r, price_now(ex), 0)
    assert reason_line(err.value.reason).startswith(line) and "\n" not in reason_line(err.value.reason)
    assert err.value.code == (code if code < 0 else -1003)
    assert ex.stats.order_posts == {r.id: 1} and exchange_orders(ex) == []
    assert ex.stats.rest_requests.get(ORDER_PATH) == 1


def test_a_real_clock_skew_is_refused_then_resynced(ex: ReplayExchange, broker: BinanceBroker) -> None:
    assert broker.resync_clock() is not None  # measured (execute measures once by itself)…
    broker.client.timestamp_offset = -60_000  # …then a minute behind: outside any recvWindow
    with pytest.raises(OrderRefused) as err:
        broker.execute(req(), price_now(ex), 0)
    assert err.value.code == -1021
    served = int(broker.client.futures_time()["serverTime"])
    assert abs(broker.client.timestamp_offset - (served - _wall_ms())) < 5_000
    fill = broker.execute(req("o2"), price_now(ex), 0)  # proposed again: accepted now
    assert fill.qty > 0


def test_reduce_only_against_no_position_is_refused_by_the_exchange(
    ex: ReplayExchange, broker: BinanceBroker
) -> None:
    with pytest.raises(OrderRefused) as err:
        broker.execute(req("c", side="SELL", qty="0.010", reduce_only=True), price_now(ex), 0)
    assert err.value.code == -2022


def test_an_older_order_under_the_same_id_is_never_booked_as_this_one(
    ex: ReplayExchange, broker: BinanceBroker
) -> None:
    """Binance keeps ids unique among open orders only: a lookup finds an order made before
    the request was decided (a months-old fill under a reused id) and must not take it."""
    r = req()
    assert broker.lookup(r) is None
    broker.execute(r, price_now(ex), 0)
    assert broker.lookup(r) is not None
    assert ex.advance(1)
    later = r.but(decided_at=ex.market_time_ms())  # decided after that order was made
    assert broker.lookup(later) is None
    assert len(exchange_orders(ex)) == 1


def test_set_leverage_and_its_refusal(broker: BinanceBroker) -> None:
    assert broker.set_leverage("BTCUSDT", 7) == 7
    with pytest.raises(OrderRefused) as err:
        broker.set_leverage("BTCUSDT", 300)
    assert "leverage 300x is not valid for BTCUSDT (-4028)" in reason_line(err.value.reason)


def _wall_ms() -> int:
    import time

    return int(time.time() * 1000)


def test_exits_are_conditional_orders_that_close_the_position_when_crossed(
    ex: ReplayExchange, broker: BinanceBroker
) -> None:
    r = req()
    fill = broker.execute(r, price_now(ex), 0)
    path = [Decimal(c.low) for c in ex.candles[START : START + 40]]
    stop = min(path) + Decimal("0.05")  # off the tick: rounded by the broker
    take = fill.price * 2  # never reached
    sl, tp = broker.exits.place_exits(r.id, "BTCUSDT", "SELL", stop, take)
    assert (sl.client_id, sl.type, sl.close_position) == (f"{r.id}-sl", "STOP_MARKET", True)
    assert sl.stop_price == broker.filters["BTCUSDT"].round_price(stop)
    assert (tp.client_id, tp.type, tp.algo) == (f"{r.id}-tp", "TAKE_PROFIT_MARKET", True)
    assert ex.stats.algo_order_posts == {f"{r.id}-sl": 1, f"{r.id}-tp": 1}
    assert [o.client_id for o in broker.open_orders("BTCUSDT")] == [sl.client_id, tp.client_id]

    assert ex.advance(40)
    assert broker.positions() == []  # the stop fired and closed the long
    (left,) = broker.open_orders("BTCUSDT")
    assert left.client_id == tp.client_id
    broker.exits.cancel_exits("BTCUSDT")
    assert broker.open_orders("BTCUSDT") == []
    closing = exchange_orders(ex)[-1]
    assert closing["clientOrderId"] == sl.client_id and closing["reduceOnly"] is True
    assert Decimal(str(closing["avgPrice"])) == sl.stop_price


def test_a_stop_that_would_fire_at_once_is_refused(ex: ReplayExchange, broker: BinanceBroker) -> None:
    r = req()
    fill = broker.execute(r, price_now(ex), 0)
    with pytest.raises(OrderRefused) as err:
        broker.exits.place_exits(r.id, "BTCUSDT", "SELL", fill.price * 2, None)
    assert re.search(r"immediately .* \(-2021\)", reason_line(err.value.reason))


def test_reconcile_reads_positions_and_orders_in_the_contract_types(
    ex: ReplayExchange, broker: BinanceBroker
) -> None:
    from bot.texts import reconciled_line
    from trading.exchange.reconcile import differences, reconcile

    r = req()
    fill = broker.execute(r, price_now(ex), 0)
    broker.exits.place_exits(r.id, "BTCUSDT", "SELL", fill.price / 2, None, qty=fill.qty)
    state = reconcile(broker, ["BTCUSDT"])
    assert state.qty("BTCUSDT") == fill.qty and state.positions["BTCUSDT"].entry == fill.price
    (stop,) = state.orders["BTCUSDT"]
    assert stop.reduce_only and stop.qty == fill.qty and not stop.close_position
    assert differences(state, {"BTCUSDT": fill.qty}) == []
    (line,) = map(reconciled_line, differences(state, {}))
    assert line.startswith(f"BTCUSDT: the exchange holds long {fill.qty.normalize():f} at ")
    assert line.endswith("the bot's book nothing")
