"""A Confirm fills only at a live price, and PROPOSAL_TTL runs with the stream stopped (issue 17).

Seen: in paper mode a Confirm after /stop filled at the last close from before (hours old
in one try), and the drift check compared against that same stale price; an unanswered
proposal kept live buttons while the stream was stopped.
"""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest

from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import press, proposal_message, started


def exchange_price(w: World) -> Decimal:
    with urllib.request.urlopen(f"{w.ex.rest_url}/fapi/v1/ticker/price?symbol=BTCUSDT", timeout=5) as r:
        return Decimal(json.loads(r.read())["price"])


def stop_and_move_the_market(w: World, candles: int = 3) -> None:
    mark = w.say("/stop")
    assert w.api.wait_for_text(GROUP, "socket stopped", start=mark, timeout=10)
    w.ex.advance(candles)  # the exchange goes on; the bot's last price is now stale


def test_a_confirm_after_stop_fills_at_the_exchanges_price_now(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="600", MAX_DRIFT_PCT="100")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        stale = w.engine.last_price("BTCUSDT")
        stop_and_move_the_market(w)
        now = exchange_price(w)
        assert now != stale
        assert press(w, ADMIN, msg, 0).startswith("filled: BUY 0.010 BTCUSDT")
        (fill,) = w.engine.recent_fills(5)
        assert fill.price == now
    finally:
        w.close()


def test_the_drift_check_uses_the_live_price(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="600", MAX_DRIFT_PCT="0.0001")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        stop_and_move_the_market(w)
        now = exchange_price(w)
        answer = press(w, ADMIN, msg, 0)
        assert answer.startswith("refused: the price moved") and f"→ {now.normalize():f};" in answer, answer
        assert w.engine.recent_fills(5) == []
    finally:
        w.close()


def test_no_live_price_refuses_and_keeps_the_proposal(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="600", MAX_DRIFT_PCT="100")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        stop_and_move_the_market(w)
        w.ex.faults.rest_errors(503, count=5, route="/fapi/v2/ticker/price")
        answer = press(w, ADMIN, msg, 0)
        assert answer == "no live price (stream stopped/reconnecting); try again when it is back"
        assert w.engine.proposal(1).status == "pending" and w.engine.recent_fills(5) == []
    finally:
        w.close()


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_proposal_ttl_expires_while_the_stream_is_stopped(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="1")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        stop = w.say("/stop")
        assert w.api.wait_for_text(GROUP, "socket stopped", start=stop, timeout=10)
        assert w.api.wait_for_text(GROUP, "expired unanswered", start=mark, timeout=10)
        assert w.engine.proposal(1).status == "expired"
        shown = next(m for m in w.api.sent(GROUP) if m["message_id"] == msg["message_id"])
        assert not shown.get("reply_markup"), "an expired proposal has no buttons"
    finally:
        w.close()
