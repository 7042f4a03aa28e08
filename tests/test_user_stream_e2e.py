"""Faults on the account stream (demo mode, replay exchange, real bot, local Bot API): a stop
that fills while the user stream is down, while the listenKey has expired, or while the bot
itself is down, is booked exactly once (REST catch-up by trade id) and told in the chat."""

from __future__ import annotations

import math
from decimal import Decimal

from tests.helpers import exchange_client, observe
from tests.test_bot_e2e import ADMIN, GROUP, source  # noqa: F401  (fixture)
from tests.test_exits_e2e import Seen, World, confirm, demo_world, next_candle, open_algo


def protected_long(w: World) -> None:
    assert w.engine.wait_account(lambda u: u.connected, timeout=10)
    w.engine.set_params({"stop_loss_pct": "0.3", "take_profit_pct": "0.3"}, ADMIN)
    next_candle(w)
    confirm(w, "long")
    assert len(open_algo(w)) == 2


def exchange_flat(w: World) -> bool:
    return w.ex.call(lambda: not any(p.amt for p in w.ex.account.positions.values()))


def exit_told(w: World, start: int, timeout: float = 30.0) -> str:
    call = w.api.wait_for(
        lambda c: any(k in str(c.params.get("text", "")) for k in ("stop-loss filled", "take-profit filled")),
        start=start, timeout=timeout,
    )  # fmt: skip
    assert call is not None, [c.params.get("text") for c in w.api.calls[start:] if c.params.get("text")]
    return str(call.params["text"])


def booked_once(w: World) -> None:
    fills = w.engine.recent_fills(10)
    assert [f.side for f in fills] == ["BUY", "SELL"], fills
    assert w.engine.side("BTCUSDT") == 0
    told = [c for c in w.api.calls if "filled:" in str(c.params.get("text", "")) and "outside" not in str(c.params.get("text", ""))]
    assert sum("-loss filled" in str(c.params["text"]) or "take-profit filled" in str(c.params["text"]) for c in told) == 1


def test_a_stop_filling_while_the_account_stream_is_down_is_booked_once_on_reconnect(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        mark = w.api.mark()
        w.ex.call(lambda: w.ex.user_stream.drop(down_seconds=math.inf))
        assert w.engine.wait_account(lambda u: not u.connected, timeout=10)
        w.ex.resume()
        assert w.ex.wait_until(lambda: exchange_flat(w), timeout=30)
        w.ex.pause()
        assert w.engine.side("BTCUSDT") == 1  # the book has not heard yet
        w.ex.call(w.ex.user_stream.up)
        exit_told(w, mark)
        assert w.api.wait_for_text(GROUP, "account stream lost", start=mark, timeout=5)
        booked_once(w)
        assert open_algo(w) == []
    finally:
        w.close()


def test_a_stop_filling_after_stop_is_booked_and_told_before_any_start(source, tmp_path) -> None:  # noqa: F811
    """Issue 26: /stop stops the market stream only; the account stream goes on, so an exit
    filling on Binance meanwhile is booked and told at once, and /status shows it."""
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        mark = w.api.mark()
        w.say("/stop")
        assert w.api.wait_for_text(GROUP, "socket stopped", start=mark, timeout=10)
        assert not w.engine.stream_status().running
        assert w.engine.account_status().connected
        w.ex.resume()  # the replay's prices move on: the stop (or the take) triggers there
        assert w.ex.wait_until(lambda: exchange_flat(w), timeout=30)
        w.ex.pause()
        exit_told(w, mark)
        booked_once(w)
        w.reply("/status", "Position: no position")
        assert not w.engine.stream_status().running  # all of it before any /start
    finally:
        w.close()


def test_the_account_is_followed_from_the_bots_start_without_a_start_command(source, tmp_path) -> None:  # noqa: F811
    from tests.test_bot_e2e import World
    from tests.test_exits_e2e import DEMO

    w = World(source, tmp_path, **{"STRATEGY": "ema_cross", **DEMO})
    try:
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        assert not w.engine.stream_status().running
        mark = w.api.mark()
        w.ex.trade_by_hand("BUY", "0.01")
        assert w.api.wait_for_text(GROUP, "traded outside the bot", start=mark, timeout=10)
        assert w.engine.side("BTCUSDT") == 1
    finally:
        w.close()


def test_an_expired_listen_key_is_replaced_and_nothing_is_lost(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        first = w.engine.account_status().key
        w.ex.call(w.ex.user_stream.expire_listen_key)
        assert w.engine.wait_account(lambda u: u.connects >= 2 and u.connected, timeout=10)
        assert w.engine.account_status().key != first
        mark = w.api.mark()
        w.ex.resume()
        exit_told(w, mark)
        booked_once(w)
    finally:
        w.close()


def test_a_stop_filling_while_the_bot_is_down_is_booked_at_the_next_start(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        w.bot.stop()
        w.ex.resume()
        assert w.ex.wait_until(lambda: exchange_flat(w), timeout=30)
        w.ex.pause()
        mark = w.api.mark()
        w.bot = type(w.bot)(w.settings, **w.bot.kwargs).start()
        w.seen = observe(w.engine, Seen)
        exit_told(w, mark)
        booked_once(w)
        assert open_algo(w) == []
    finally:
        w.close()


def test_trades_by_hand_are_booked_told_and_get_exits(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        mark = w.api.mark()
        w.ex.trade_by_hand(close=True)  # closed in Binance's app
        msg = w.api.wait_for_text(GROUP, "closed outside the bot", start=mark, timeout=10)
        assert msg is not None
        assert "SELL 0.010 BTCUSDT" in msg["text"] and "PnL" in msg["text"] and "no position left" in msg["text"]
        assert w.engine.side("BTCUSDT") == 0 and open_algo(w) == []
        balance = w.reply("/balance", "Binance")["text"]
        assert "The book matches Binance's wallet." in balance, balance
        mark = w.api.mark()
        w.ex.trade_by_hand("SELL", "0.02")  # a short opened by hand: booked, and it gets exits
        msg = w.api.wait_for_text(GROUP, "traded outside the bot", start=mark, timeout=10)
        assert msg is not None and "now short 0.020" in msg["text"], msg
        assert sorted(o["orderType"] for o in open_algo(w)) == ["STOP_MARKET", "TAKE_PROFIT_MARKET"]
        assert all(o["side"] == "BUY" for o in open_algo(w))
        assert [f.side for f in w.engine.recent_fills(10)] == ["BUY", "SELL", "SELL"]
        w.reply("/status", "short 0.020 BTCUSDT")
    finally:
        w.close()


def test_liquidation_adl_and_margin_call_are_booked_and_told(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        protected_long(w)
        mark = w.api.mark()
        w.ex.control("margin-call", symbol="BTCUSDT")
        msg = w.api.wait_for_text(GROUP, "MARGIN CALL", start=mark, timeout=10)
        assert msg is not None and "BTCUSDT long 0.01" in msg["text"] and "margin ratio" in msg["text"], msg
        mark = w.api.mark()
        w.ex.control("adl", symbol="BTCUSDT", quantity="0.004")
        msg = w.api.wait_for_text(GROUP, "auto-deleveraged (ADL)", start=mark, timeout=10)
        assert msg is not None and "SELL 0.004 BTCUSDT" in msg["text"] and "now long 0.006" in msg["text"], msg
        mark = w.api.mark()
        w.ex.control("liquidate", symbol="BTCUSDT")
        msg = w.api.wait_for_text(GROUP, "liquidated", start=mark, timeout=10)
        assert msg is not None and "SELL 0.006 BTCUSDT" in msg["text"] and "no position left" in msg["text"], msg
        assert w.engine.side("BTCUSDT") == 0
        balance = w.reply("/balance", "Binance")["text"]
        if "matches" not in balance:  # the clearance fee follows the fill
            assert w.api.wait_for_text(GROUP, "insurance clearance fee", start=mark, timeout=10)
            balance = w.reply("/balance", "Binance")["text"]
        assert "The book matches Binance's wallet." in balance, balance
        assert open_algo(w) == []
    finally:
        w.close()


def test_funding_on_the_exchange_is_booked_once_and_shown(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        confirm(w, "long")  # no exits: the market may move
        next_candle(w)  # the payment comes after the opening fill, on the market's clock
        mark = w.api.mark()
        w.ex.control("funding", rate="0.001")  # a long pays a positive rate
        msg = w.api.wait_for_text(GROUP, "funding BTCUSDT: paid", start=mark, timeout=10)
        assert msg is not None
        rows = exchange_client(w.settings).futures_income_history(incomeType="FUNDING_FEE", startTime=0, limit=1000)
        paid = sum((Decimal(r["income"]) for r in rows), Decimal(0))  # (with a regular one, when the market stood on its time)
        assert w.engine.wait_account(lambda a: w.engine.funding_booked() == paid, timeout=10)
        assert paid < 0
        w.engine.catch_up_account()  # the income history again: nothing booked twice
        assert w.engine.funding_booked() == paid
        balance = w.reply("/balance", "Binance")["text"]  # (a gap of two fees was seen once under load: say it all)
        assert "The book matches Binance's wallet." in balance, (balance, w.engine.fills())
        next_candle(w)
        confirm(w, "close", None)
        # /pnl all's funding is every payment booked (a regular funding time may have passed
        # while the position was open, its notice arriving after the command: wait for /pnl)
        pnl = w.reply("/pnl all", "PnL · all")["text"]
        booked = w.engine.funding_booked()  # flat now: no payment comes after the close
        assert f"funding {booked.quantize(Decimal('0.01')):+}" in pnl, pnl
    finally:
        w.close()


def test_funding_paid_on_a_funding_time_beside_the_scheduled_payment_is_booked_too(source, tmp_path) -> None:  # noqa: F811
    """The market stands on a funding time, just paid, when Binance (the console's /exchange
    funding) charges again: two payments, each booked, and the book matches the wallet. The
    replay wrote the second at the same time as the first, which the bot (once per symbol
    and funding time) never booked: /balance was a payment away (0.72 USDT, seen under load
    in the test above whenever the market paused on a funding time)."""
    # one update per candle, the closing one: the paused market stands on a candle's open
    w = demo_world(source, tmp_path, STRATEGY="none", exchange={"updates_per_candle": 1})
    try:
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        confirm(w, "long")
        period = 8 * 3600 * 1000
        for _ in range(80):  # to the candle opening at a funding time (every 32 candles)
            next_candle(w)
            if w.source[w.ex.current_index].open_time % period == 0:
                break
        assert w.ex.market_time_ms() % period == 0, (w.ex.market_time_ms(), w.ex.current_index)
        assert w.api.wait_for_text(GROUP, "funding BTCUSDT: paid", timeout=10)  # the scheduled one
        mark = w.api.mark()
        before = w.engine.funding_booked()
        w.ex.control("funding", rate="0.001")
        assert w.api.wait_for_text(GROUP, "funding BTCUSDT: paid", start=mark, timeout=10)
        assert w.engine.funding_booked() < before
        balance = w.reply("/balance", "Binance")["text"]
        assert "The book matches Binance's wallet." in balance, balance
    finally:
        w.close()


def test_a_bnb_discount_fee_is_booked_in_usdt_at_the_bnb_price_with_asset_and_amount(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path)
    try:
        client = exchange_client(w.settings)
        client._request_futures_api("post", "feeBurn", True, data={"feeBurn": "true"})  # noqa: SLF001
        w.ex.control("bnb-deposit", amount="1")
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        line = confirm(w, "long")  # the REST answer's fill
        assert "BNB = " in line or "BNB" in line, line
        mark = w.api.mark()
        w.ex.trade_by_hand(close=True)  # the stream's fill
        msg = w.api.wait_for_text(GROUP, "closed outside the bot", start=mark, timeout=10)
        assert msg is not None and " BNB = " in msg["text"], msg
        rows = w.engine.fee_assets()
        assert len(rows) == 2 and all(r["fee_asset"] == "BNB" for r in rows), rows
        for r in rows:  # USDT value = BNB amount × the BNB price (600 in the replay)
            assert Decimal(r["fee_usdt"]) == (Decimal(r["fee_amount"]) * 600).quantize(Decimal("0.00000001"))
        assert "matches Binance's wallet once the fees paid in BNB" in w.reply("/balance", "Binance")["text"]
    finally:
        w.close()


def test_after_a_reconnect_a_missing_exit_is_placed_again(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path, STOP_WORKING_TYPE="CONTRACT_PRICE")
    try:
        protected_long(w)
        stop = next(o for o in open_algo(w) if o["orderType"] == "STOP_MARKET")
        assert stop["workingType"] == "CONTRACT_PRICE"
        exchange_client(w.settings).futures_cancel_algo_order(symbol="BTCUSDT", clientAlgoId=stop["clientAlgoId"])  # lost, as by a hand in the app
        mark = w.api.mark()
        connects = w.engine.account_status().connects
        w.ex.call(lambda: w.ex.user_stream.drop())
        assert w.engine.wait_account(lambda u: u.connects > connects and u.connected, timeout=10)
        assert w.api.wait_for_text(GROUP, "placed again", start=mark, timeout=10)
        kinds = sorted(o["orderType"] for o in open_algo(w))
        assert kinds == ["STOP_MARKET", "TAKE_PROFIT_MARKET"], kinds
    finally:
        w.close()


def test_the_listen_key_is_closed_on_shutdown(source, tmp_path) -> None:  # noqa: F811
    """Binance: `DELETE /fapi/v1/listenKey` closes out a user data stream; the bot says so
    when it shuts down, so no key it held stays open for its hour."""
    w = demo_world(source, tmp_path)
    try:
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        key = w.engine.account_status().key
        assert key and w.ex.user_stream.closed == []
        w.bot.stop()  # the bot's shutdown
        assert w.ex.user_stream.closed == [key]
    finally:
        w.api.stop()
        w.ex.stop()
