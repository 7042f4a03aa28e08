"""Exits on the exchange (demo mode, replay exchange, real bot through the local Bot API):
after an opening fill the stop-loss and the take-profit rest on the exchange as algo
orders at the tick toward the entry, with STOP_WORKING_TYPE and priceProtect; a close
cancels both; a /set replaces them from the next candle; a restart finds them (no second
pair), cancels the bot's orphans and never touches the user's own orders; a trigger
already crossed (-2021) closes the position by market, said in the chat."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from bot.texts import outcome_line
from tests.helpers import exchange_client, observe, past_connect, price_taken_in
from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen

DEMO = {"TRADING_MODE": "demo", "BINANCE_API_KEY": "replay-key", "BINANCE_API_SECRET": "replay-secret"}


def demo_world(source, tmp_path, **env: str) -> World:  # noqa: F811
    w = World(source, tmp_path, **{"STRATEGY": "ema_cross", **DEMO, **env})
    w.seen = observe(w.engine, Seen)
    w.reply("/start", "Starting")
    assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
    past_connect(w)
    settle(w)
    return w


def settle(w: World) -> None:
    """Pause the market once the trader has taken in every candle the exchange closed."""
    w.ex.pause()
    while True:
        index = w.ex.current_index
        assert w.seen.wait(w.source[index - 1].open_time)
        if w.ex.current_index == index:
            assert price_taken_in(w)  # and the forming candle's last update too
            return


def next_candle(w: World) -> None:
    w.ex.resume()
    target = w.ex.current_index + 1
    assert w.ex.wait_for_index(target, timeout=10)
    settle(w)


def open_algo(w: World) -> list[dict]:
    return exchange_client(w.settings).futures_get_open_algo_orders(symbol="BTCUSDT")


def confirm(w: World, action: str, qty: str | None = "0.01") -> str:
    p = w.engine.propose_order(action, None, Decimal(qty) if qty else None, ADMIN)
    outcome = w.engine.confirm(p.id, ADMIN)
    assert outcome.ok, outcome_line(outcome)
    return outcome_line(outcome)


@pytest.fixture
def demo(source, tmp_path):  # noqa: F811
    w = demo_world(source, tmp_path)
    yield w
    w.close()


def test_exits_rest_on_the_exchange_follow_the_book_and_are_cancelled_on_close(demo) -> None:
    w = demo
    w.reply("/set stop_loss_pct=2 take_profit_pct=4", "stop_loss_pct")
    next_candle(w)  # parameters apply from the next closed candle
    assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
    entry = w.engine.position("BTCUSDT").entry
    tick = Decimal("0.10")
    sl_at = (entry * Decimal("0.98") / tick).to_integral_value(ROUND_CEILING) * tick
    tp_at = (entry * Decimal("1.04") / tick).to_integral_value(ROUND_FLOOR) * tick
    orders = sorted(open_algo(w), key=lambda o: o["orderType"])
    assert [(o["orderType"], o["side"], Decimal(o["triggerPrice"]), o["closePosition"], o["workingType"])
            for o in orders] == [  # fmt: skip
        ("STOP_MARKET", "SELL", sl_at, True, "MARK_PRICE"),
        ("TAKE_PROFIT_MARKET", "SELL", tp_at, True, "MARK_PRICE"),
    ]
    assert all(o["clientAlgoId"].startswith("tgx-") for o in orders)
    w.reply("/status", f"SL {sl_at:.1f} · TP {tp_at:.1f}")
    # A stop the user placed by hand on the exchange: the bot never touches it.
    half = (entry / 2 / tick).to_integral_value() * tick
    exchange_client(w.settings).futures_create_algo_order(
        symbol="BTCUSDT", side="SELL", type="STOP_MARKET", algoType="CONDITIONAL",
        triggerPrice=f"{half}", quantity="0.005", reduceOnly="true", clientAlgoId="mine-1",
    )  # fmt: skip

    w.reply("/set stop_loss_pct=3", "stop_loss_pct")
    assert len(open_algo(w)) == 3  # not before the next candle
    next_candle(w)
    sl3 = (entry * Decimal("0.97") / tick).to_integral_value(ROUND_CEILING) * tick
    stops = {o["clientAlgoId"]: Decimal(o["triggerPrice"]) for o in open_algo(w) if o["orderType"] == "STOP_MARKET"}
    assert sorted(stops.values()) == sorted([sl3, half]), stops
    assert stops["mine-1"] == half

    confirm(w, "close", None)
    assert [o["clientAlgoId"] for o in open_algo(w)] == ["mine-1"]
    posted = w.ex.stats.algo_order_posts
    # the stop and the take-profit, the new stop, mine: only what changed is replaced (the
    # take-profit kept resting while the stop moved)
    assert all(n == 1 for n in posted.values()) and len(posted) == 4, posted


def test_a_restart_keeps_the_exits_and_cancels_own_orphans(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        w.engine.set_params({"stop_loss_pct": "2", "take_profit_pct": "4"}, ADMIN)
        next_candle(w)
        confirm(w, "long")
        before = sorted(o["clientAlgoId"] for o in open_algo(w))
        assert len(before) == 2
        # An orphan of the bot's own (e.g. a crash between a cancel and its answer): its client
        # id carries this database's prefix, placed as the bot places an exit (closePosition).
        f = w.engine.symbol_filters("BTCUSDT")
        exchange_client(w.settings).futures_create_algo_order(
            symbol="BTCUSDT", side="SELL", type="STOP_MARKET", algoType="CONDITIONAL",
            triggerPrice=f.fmt_price(f.round_price(w.engine.position("BTCUSDT").entry / 2)),
            clientAlgoId=f"tgx-{w.engine.instance_id}-zz-orphan-sl", workingType="MARK_PRICE", priceProtect="TRUE",
            closePosition="true", newOrderRespType="ACK",
        )  # fmt: skip
        w.bot.stop()
        w.bot = type(w.bot)(w.settings, **w.bot.kwargs).start()
        w.seen = observe(w.engine, Seen)
        w.ex.resume()
        assert w.api.wait_for_text(GROUP, "cancelled 1 exit order(s) of the bot", timeout=15)
        assert sorted(o["clientAlgoId"] for o in open_algo(w)) == before
    finally:
        w.close()


def test_an_exit_already_crossed_closes_by_market_and_says_so(demo) -> None:
    w = demo
    w.engine.set_params({"take_profit_pct": "0.0001"}, ADMIN)  # on the tick: the entry itself
    next_candle(w)
    mark = w.api.mark()
    confirm(w, "long")
    assert w.api.wait_for_text(GROUP, "would trigger at once (-2021)", start=mark, timeout=10)
    assert w.engine.side("BTCUSDT") == 0
    assert open_algo(w) == []
    (opened, closed) = w.ex.orders()
    assert closed["reduceOnly"] is True and closed["side"] == "SELL"


def wait_text(w: World, words: str, start: int = 0, timeout: float = 20.0) -> str:
    msg = w.api.wait_for_text(GROUP, words, start=start, timeout=timeout)
    assert msg is not None, f"no {words!r} in the chat; sent: {[c.params.get('text') for c in w.api.calls[start:] if c.params.get('text')]}"
    return msg["text"]


def test_a_triggered_exit_is_booked_once_told_and_the_other_cancelled(demo) -> None:
    w = demo
    assert w.engine.wait_account(lambda u: u.connected, timeout=10)
    w.engine.set_params({"stop_loss_pct": "0.3", "take_profit_pct": "0.3"}, ADMIN)
    next_candle(w)
    confirm(w, "long")
    assert len(open_algo(w)) == 2
    mark = w.api.mark()
    w.ex.resume()
    text = w.api.wait_for(
        lambda c: "filled: SELL 0.010 BTCUSDT" in str(c.params.get("text", "")) and "-loss" in str(c.params.get("text", ""))
        or "take-profit filled" in str(c.params.get("text", "")), start=mark, timeout=30,
    )  # fmt: skip
    assert text is not None
    line = text.params["text"]
    assert "PnL" in line and "no position left" in line, line
    assert w.engine.side("BTCUSDT") == 0
    assert open_algo(w) == []  # the other exit was cancelled before the chat was told
    w.ex.pause()
    fills = w.engine.recent_fills(10)
    assert [f.side for f in fills] == ["BUY", "SELL"], fills
    # (a funding payment the replay made meanwhile is known by its funding key, kept apart)
    known, stored = w.engine.exchange_keys()
    assert stored >= {k for k in known if not k.startswith("funding:")} and known
    w.reply("/status", "no position")
