"""Orders confirmed in the chat, paper mode, end to end through the local Bot API:
proposal → refused non-admin → two quick admin Confirms → exactly one fill → the message
edited to filled → /status, /pnl, /trades, /balance → /close → flat; Reject; expiry; and
1,000 concurrent Confirms on one proposal placing exactly one order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from bot.texts import outcome_line
from tests.helpers import exchange_client, leg_id, observe, past_connect, price_taken_in
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, World, source  # noqa: F401  (fixture)
from trading.live.proposals import Proposal


def proposal_message(w: World, mark: int, pid: int) -> dict:
    msg = w.api.wait_for_text(GROUP, f"Order proposal #{pid}", start=mark, timeout=10)
    assert msg is not None, f"no proposal #{pid} posted"
    buttons = msg["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Confirm", "Reject"]
    return msg


def press(w: World, user: int, msg: dict, which: int) -> str:
    mark = w.api.mark()
    data = msg["reply_markup"]["inline_keyboard"][0][which]["callback_data"]
    w.api.press_button(GROUP, user, msg["message_id"], data)
    answer = w.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
    assert answer is not None
    return answer.params.get("text", "")


class Seen:
    """Watches the engine's candles so the test can wait until the trader has a given candle."""

    def __init__(self) -> None:
        self._cond, self.last = threading.Condition(), -1

    def warm(self, symbol, candles) -> None:  # type: ignore[no-untyped-def]
        self._seen(candles[-1].open_time if candles else -1)

    def on_candle(self, candle, backfilled) -> None:  # type: ignore[no-untyped-def]
        self._seen(candle.open_time)

    def _seen(self, open_time: int) -> None:
        with self._cond:
            self.last = max(self.last, open_time)
            self._cond.notify_all()

    def wait(self, open_time: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.last >= open_time, timeout)


def started(source, tmp_path, exchange=None, **env) -> World:  # type: ignore[no-untyped-def]  # noqa: F811
    """`exchange`: keyword arguments of the ReplayExchange (its API key and secret, say)."""
    w = World(source, tmp_path, exchange=exchange, **{"STRATEGY": "none", **env})
    seen = w.seen = observe(w.engine, Seen)
    w.reply("/start", "Starting")
    assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
    past_connect(w)
    w.ex.pause()  # the market stands still while people press buttons…
    # …once the trader has taken in every candle the exchange closed (a step under way when
    # pause() was called may still close one more, so look again until it holds still).
    while True:
        index = w.ex.current_index
        assert seen.wait(source[index - 1].open_time)
        if w.ex.current_index == index:
            break
    assert price_taken_in(w)  # and the forming candle's last update too
    return w


def test_confirm_once_status_pnl_close_and_reject(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        assert "long BTCUSDT" in msg["text"] and "0.01" in msg["text"]

        assert "Not allowed" in press(w, GUEST, msg, 0)
        p1 = w.engine.proposal(1)
        assert p1.status == "pending", (
            p1, w.engine.cursor("BTCUSDT"), w.ex.current_index, w.engine.stream_status().reconnects,
            [e["kind"] for e in w.engine.events(30)],
        )

        # Two quick presses by the admin: both answered, exactly one fill.
        mark = w.api.mark()
        data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        answers = [w.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)]
        second = w.api.wait_for(
            lambda c: c.method == "answerCallbackQuery" and c is not answers[0], start=mark
        )
        texts = sorted(a.params.get("text", "") for a in (answers[0], second))
        assert any(t.startswith("filled: BUY 0.010 BTCUSDT") for t in texts), texts
        assert any("no longer pending" in t for t in texts), texts
        fills = w.engine.recent_fills(10)
        assert [(f.order_id, f.side, f.qty) for f in fills] == [(leg_id(w.db_path, 1), "BUY", Decimal("0.010"))]
        assert w.api.wait_for_text(GROUP, "filled: BUY 0.010 BTCUSDT", start=mark)

        w.reply("/status", "long 0.010 BTCUSDT")
        w.reply("/pnl", "Unrealized")
        w.reply("/trades", "open    BUY  0.010 BTCUSDT")  # each row says what the fill did
        w.reply("/balance", "Margin used")

        mark = w.api.mark()
        w.say("/close")
        close_msg = proposal_message(w, mark, 2)
        assert "reduce-only" in close_msg["text"]
        assert press(w, ADMIN, close_msg, 0).startswith("filled: SELL 0.010 BTCUSDT")
        assert w.engine.side("BTCUSDT") == 0
        w.reply("/status", "no position")
        trades = w.reply("/trades", "Last 2 fills")["text"]
        assert "open    BUY  0.010 BTCUSDT" in trades and "close   SELL 0.010 BTCUSDT" in trades
        w.reply("/balance", "Balance · paper\n")
        w.reply("/close", "No BTCUSDT position to close")

        mark = w.api.mark()
        w.say("/short 0.01")
        short_msg = proposal_message(w, mark, 3)
        assert "rejected by" in press(w, ADMIN, short_msg, 1)
        assert w.engine.proposal(3).status == "rejected"
        assert "no longer pending" in press(w, ADMIN, short_msg, 0)
        assert w.engine.side("BTCUSDT") == 0

        w.reply("/long -1", "the quantity must be a positive number")
        w.reply("/long 0.01 ethusdt", "ETHUSDT is not traded")
        w.reply("/short", "give a quantity")
        w.reply("/long 0.01", "Not allowed", user=GUEST)
    finally:
        w.close()


def test_an_unanswered_proposal_expires_when_the_next_candle_closes(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        w.ex.advance(2)
        assert w.api.wait_for_text(GROUP, "expired unanswered", start=mark, timeout=10)
        assert w.engine.proposal(1).status == "expired"
        assert "no longer pending" in press(w, ADMIN, msg, 0)
        assert w.engine.recent_fills(10) == []
    finally:
        w.close()


def test_a_thousand_concurrent_confirms_place_exactly_one_order(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        proposal = w.engine.propose_order("long", None, Decimal("0.01"), ADMIN)
        assert isinstance(proposal, Proposal)
        diag = (proposal.valid_until_open, w.engine.cursor("BTCUSDT"), w.engine.last_open("BTCUSDT"), w.ex.current_index, source[w.ex.current_index - 1].open_time)
        go = threading.Event()

        def confirm(i: int):
            go.wait()
            return w.engine.confirm(proposal.id, ADMIN + i % 3)

        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = [pool.submit(confirm, i) for i in range(1000)]
            go.set()
            outcomes = [f.result(timeout=60) for f in futures]
        assert sum(o.ok for o in outcomes) == 1, (sorted({outcome_line(o) for o in outcomes}), diag, w.engine.cursor("BTCUSDT"), w.ex.current_index, w.engine.proposal(proposal.id))
        assert len(w.engine.recent_fills(10)) == 1
        assert w.engine.proposal(proposal.id).status == "filled"
    finally:
        w.close()


def test_testnet_mode_places_exactly_one_signed_order_per_confirmed_proposal(source, tmp_path):  # noqa: F811
    """The acceptance path with python-binance against the replay exchange's signed endpoints:
    the exchange's own order log proves one POST per proposal, under the proposal's id."""
    w = started(
        source, tmp_path, TRADING_MODE="testnet", BINANCE_API_KEY="replay-key", BINANCE_API_SECRET="replay-secret"
    )
    try:
        assert w.engine.settings.trading_mode == "demo"
        mark = w.api.mark()
        w.say("/long 0.0109")  # rounded down to the 0.001 step: 0.010
        msg = proposal_message(w, mark, 1)
        # what was typed is quoted as typed, and the rounding said (it quoted "/long 0.01")
        assert "/long 0.0109 (rounded down to the step: 0.010)" in msg["text"], msg["text"]
        assert "Quantity: 0.010" in msg["text"]
        assert "Not allowed" in press(w, GUEST, msg, 0)
        assert w.ex.stats.order_posts == {}
        w.reply("/balance", "Balance · demo (the bot's book)")  # titled by mode, not "paper"

        mark = w.api.mark()
        data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        assert w.api.wait_for_text(GROUP, "filled: BUY 0.010 BTCUSDT", start=mark, timeout=15)
        first = w.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
        assert w.api.wait_for(lambda c: c.method == "answerCallbackQuery" and c is not first, start=mark)
        one, two = leg_id(w.db_path, 1), leg_id(w.db_path, 2)
        assert w.ex.stats.order_posts == {one: 1}
        (order,) = w.ex.orders()
        assert (order["clientOrderId"], order["origQty"], order["side"], order["status"]) == (
            one, "0.010", "BUY", "FILLED"
        )
        w.reply("/status", "long 0.010 BTCUSDT")
        w.reply("/pnl", "Unrealized")

        mark = w.api.mark()
        w.say("/close")
        close_msg = proposal_message(w, mark, 2)
        assert press(w, ADMIN, close_msg, 0).startswith("filled: SELL 0.010 BTCUSDT")
        assert w.ex.stats.order_posts == {one: 1, two: 1}
        closing = w.ex.orders()[-1]
        assert (closing["clientOrderId"], closing["reduceOnly"], closing["origQty"]) == (two, True, "0.010")
        assert w.engine.side("BTCUSDT") == 0
        positions = exchange_client(w.settings).futures_position_information(symbol="BTCUSDT")
        assert all(Decimal(p["positionAmt"]) == 0 for p in positions)
    finally:
        w.close()


def test_silly_orders_are_refused_when_proposed_not_at_confirm(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, MAX_LEVERAGE="10", MAX_POSITION_NOTIONAL="5000")
    try:
        w.reply("/long 1000000000", "is not a quantity anyone trades")
        w.reply("/long 0.01 0.02", "one quantity, got two")
        w.reply("/long 0.0000001", "Not proposed: quantity 0.0000001 is below BTCUSDT's step 0.001 (LOT_SIZE)")
        w.reply("/long 0.001", "Not proposed: order value")
        msg = w.reply("/long 0.001", "minimum 100 USDT (MIN_NOTIONAL)")
        assert "1E+2" not in msg["text"]
        w.reply("/long 1", "above MAX_POSITION_NOTIONAL 5000 USDT")
        w.reply("/set leverage=50", "this strategy has no parameters")
        assert w.engine.open_proposals() == [] and w.engine.recent_fills(5) == []
    finally:
        w.close()
