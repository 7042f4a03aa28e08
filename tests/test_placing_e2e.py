"""A Confirm whose order is in flight shows "placing…" (no buttons) until the exchange answers,
then the result: demo mode, through the local Bot API and the replay exchange."""

from __future__ import annotations

import pytest

from tests.test_bot_e2e import ADMIN, GROUP, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import proposal_message, started


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_a_slow_exchange_shows_placing_then_the_result(source, tmp_path):  # noqa: F811
    w = started(
        source, tmp_path, TRADING_MODE="testnet", BINANCE_API_KEY="replay-key", BINANCE_API_SECRET="replay-secret"
    )
    try:
        mark = w.api.mark()
        w.say("/long 0.002")
        msg = proposal_message(w, mark, 1)
        w.ex.faults.order_answer_delay(1.5)  # placed at once, answered 1.5 s later
        mark = w.api.mark()
        w.api.press_button(GROUP, ADMIN, msg["message_id"], msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"])

        def edit_of(text: str):  # type: ignore[no-untyped-def]
            return lambda c: (
                c.method == "editMessageText" and str(c.params.get("message_id")) == str(msg["message_id"])
                and text in c.params.get("text", "")
            )

        placing = w.api.wait_for(edit_of("placing…"), start=mark, timeout=10)
        assert placing is not None, [c.method for c in w.api.calls[mark:]]
        assert not placing.params.get("reply_markup"), "no button to press while the order is in flight"
        filled = w.api.wait_for(edit_of("<b>filled</b>: BUY 0.002 BTCUSDT at"), start=mark, timeout=15)
        assert filled is not None, [(c.method, c.params.get("text")) for c in w.api.calls[mark:] if c.method != "getUpdates"]
        calls = w.api.calls[mark:]
        assert calls.index(placing) < calls.index(filled)
        assert w.ex.stats.order_posts == {next(iter(w.ex.stats.order_posts)): 1}  # sent once
    finally:
        w.close()
