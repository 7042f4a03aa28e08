"""Four-eyes (FOUR_EYES_NOTIONAL): above the limit a Confirm needs two different admins,
end to end through the local Bot API, paper mode. One admin pressing twice places nothing;
a second admin's press places exactly one order; a Reject by any admin ends it; racing
presses of two admins place one order; below the limit one Confirm is enough."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from bot.texts import outcome_line
from tests.helpers import leg_id
from tests.test_bot_e2e import ADMIN, GROUP, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import press, proposal_message, started

SECOND = 1003


def test_two_admins_confirm_large_orders_one_is_enough_below(source, tmp_path):  # noqa: F811
    # 0.01 BTC at ~70,000 is ~700 USDT: above 500; 0.005 BTC (~350 USDT) is below.
    w = started(source, tmp_path, FOUR_EYES_NOTIONAL="500", TELEGRAM_ADMIN_IDS=f"{ADMIN},{SECOND}")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        first = press(w, ADMIN, msg, 0)
        assert first.startswith("1 of 2 approvals (by "), first
        assert press(w, ADMIN, msg, 0).startswith("1 of 2 approvals"), "the same admin twice counts once"
        assert w.engine.recent_fills(10) == []
        assert w.engine.proposal(1).status == "pending"
        edited = next(m for m in w.api.sent(GROUP) if m["message_id"] == msg["message_id"])
        assert "1 of 2 approvals (by " in edited["text"], edited["text"]
        assert [b["text"] for b in edited["reply_markup"]["inline_keyboard"][0]] == ["Confirm", "Reject"]

        assert press(w, SECOND, msg, 0).startswith("filled: BUY 0.010 BTCUSDT")
        assert [(f.order_id, f.qty) for f in w.engine.recent_fills(10)] == [(leg_id(w.db_path, 1), Decimal("0.010"))]
        assert "no longer pending" in press(w, ADMIN, msg, 0)

        # Below the limit: one Confirm (a reversal's close leg does not count toward it).
        mark = w.api.mark()
        w.say("/short 0.005")
        small = proposal_message(w, mark, 2)
        assert press(w, ADMIN, small, 0).startswith("filled: SELL 0.010 BTCUSDT")

        # Reject by any admin ends it, even after one approval.
        mark = w.api.mark()
        w.say("/long 0.01")
        big = proposal_message(w, mark, 3)
        assert press(w, SECOND, big, 0).startswith("1 of 2 approvals")
        assert "rejected by" in press(w, ADMIN, big, 1)
        assert "no longer pending" in press(w, SECOND, big, 0)
        assert w.engine.proposal(3).status == "rejected"

        # Two admins racing on a fresh large proposal: exactly one order.
        mark = w.api.mark()
        w.say("/long 0.01")
        proposal_message(w, mark, 4)
        before = len(w.engine.recent_fills(50))
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(lambda i: w.engine.confirm(4, (ADMIN, SECOND)[i % 2], f"user {i % 2}"), range(40)))
        assert sum(o.ok for o in outcomes) == 1, sorted({outcome_line(o) for o in outcomes})
        assert w.engine.proposal(4).status == "filled"
        assert len(w.engine.recent_fills(50)) == before + 2  # the reversal's two legs, once
    finally:
        w.close()


def test_four_eyes_counts_the_position_an_order_leads_to_not_the_order(source, tmp_path):  # noqa: F811
    # ~72,000 USDT a BTC: 0.006 is ~430 (below 500), the position after a second one ~860 (above).
    w = started(source, tmp_path, FOUR_EYES_NOTIONAL="500", TELEGRAM_ADMIN_IDS=f"{ADMIN},{SECOND}")
    try:
        mark = w.api.mark()
        w.say("/long 0.006")
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled: BUY 0.006 BTCUSDT")
        mark = w.api.mark()
        w.say("/long 0.006")
        second = proposal_message(w, mark, 2)
        assert press(w, ADMIN, second, 0).startswith("1 of 2 approvals"), "flat → 0.012 is above the limit"
        assert w.engine.position("BTCUSDT").qty == Decimal("0.006")
        assert press(w, SECOND, second, 0).startswith("filled: BUY 0.006 BTCUSDT")
        # A close only reduces: one admin, whatever the size.
        mark = w.api.mark()
        w.say("/close")
        assert press(w, ADMIN, proposal_message(w, mark, 3), 0).startswith("filled: SELL 0.012 BTCUSDT")
        assert w.engine.side("BTCUSDT") == 0
    finally:
        w.close()


def test_confirm_orders_off_still_needs_two_admins_above_the_limit(source, tmp_path):  # noqa: F811
    w = started(
        source, tmp_path, CONFIRM_ORDERS="off", FOUR_EYES_NOTIONAL="500", TELEGRAM_ADMIN_IDS=f"{ADMIN},{SECOND}"
    )
    try:
        w.reply("/long 0.005", "BUY 0.005")  # ~360 USDT: placed at once, as CONFIRM_ORDERS=off says
        assert w.engine.position("BTCUSDT").qty == Decimal("0.005")
        mark = w.api.mark()
        w.say("/long 0.008")  # the position would be 0.013 (~935 USDT): proposed, not placed
        msg = proposal_message(w, mark, 1)
        assert "two admins must confirm: the position would be" in msg["text"], msg["text"]
        assert "FOUR_EYES_NOTIONAL 500" in msg["text"]
        assert w.engine.position("BTCUSDT").qty == Decimal("0.005")
        assert press(w, ADMIN, msg, 0).startswith("1 of 2 approvals")
        assert w.engine.position("BTCUSDT").qty == Decimal("0.005")
        assert press(w, SECOND, msg, 0).startswith("filled: BUY 0.008 BTCUSDT")
        w.reply("/close", "SELL 0.013")  # reducing: at once, one admin
        assert w.engine.side("BTCUSDT") == 0
    finally:
        w.close()
