"""The bot removed from its group while a strategy trades with CONFIRM_ORDERS=off, end to end
through the local Bot API (403 Forbidden and the my_chat_member update): no new position
while it cannot post, exits still managed, one summary once it is back in the group."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import observe
from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen


@pytest.mark.slow
def test_kicked_bot_opens_nothing_manages_exits_and_sums_up_when_back(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path, seconds_per_candle=0.02, CONFIRM_ORDERS="off")
    try:
        api = w.api
        seen = observe(w.engine, Seen)
        w.reply("/set fast=3 slow=7", "fast")  # short EMAs: a cross every few candles
        mark = api.mark()
        w.say("/start")
        assert api.wait_for_text(GROUP, "· opened", start=mark, timeout=30), "the strategy trades"
        w.ex.pause()  # the market holds still while the bot learns it was removed
        mark = api.mark()
        api.kick(GROUP)
        assert api.wait_for(lambda c: c.error_code == 403, start=mark, timeout=10), "the bot tries and is refused"
        assert "chat_unreachable" in w.engine.paused_reasons()
        while True:  # every candle the paused market closed taken in: the book holds still too
            index = w.ex.current_index
            assert seen.wait(source[index - 1].open_time)
            if w.ex.current_index == index:
                break
        booked = {f.order_id for f in w.engine.recent_fills(500)}  # the position and the fills so far
        held = w.engine.position("BTCUSDT")
        qty = held.qty if held is not None else Decimal(0)
        cursor = w.engine.cursor("BTCUSDT")
        assert qty, "a position is open (the strategy only reverses)"
        w.ex.resume()
        # Let the market run through several crosses while the bot is out of the group.
        assert seen.wait(cursor + 60 * 15 * 60_000, timeout=30)
        after = [f for f in w.engine.recent_fills(500) if f.order_id not in booked]
        assert after, "the position was still managed (closed on the next cross)"
        for f in after:  # each fill only shrinks the position: nothing opened or increased
            new = qty + (f.qty if f.side == "BUY" else -f.qty)
            assert abs(new) < abs(qty) and (new == 0 or (new > 0) == (qty > 0)), (f, qty)
            qty = new
        assert not [c for c in api.calls[mark:] if c.ok and c.chat_id == GROUP]

        mark = api.mark()
        api.readd(GROUP)
        back = api.wait_for_text(GROUP, "Back in the chat", start=mark, timeout=10)
        assert back is not None and "no new position was opened" in back["text"]
        assert api.wait_for_text(GROUP, "· opened", start=mark, timeout=30), "entries allowed again"
        assert "chat_unreachable" not in w.engine.paused_reasons()
        summaries = [m for m in api.sent(GROUP) if "Back in the chat" in (m.get("text") or "")]
        assert len(summaries) == 1
    finally:
        w.close()


def test_restricted_by_an_admin_pauses_entries_until_lifted(source, tmp_path):  # noqa: F811
    """issue 26: `restricted` without can_send_messages (sends answer 400 "not enough rights")
    is as good as removed: nobody sees the bot; it was taken for "added back"."""
    from tests.test_single_instance import wait_until

    w = World(source, tmp_path, STRATEGY="none")
    try:
        w.reply("/status", "Status")
        mark = w.api.mark()
        w.api.restrict(GROUP, ADMIN)
        assert wait_until(lambda: "chat_unreachable" in w.engine.paused_reasons(), timeout=10), w.engine.paused_reasons()
        w.api.unrestrict(GROUP, ADMIN)
        assert w.api.wait_for_text(GROUP, "Back in the chat", start=mark, timeout=15)
        assert wait_until(lambda: "chat_unreachable" not in w.engine.paused_reasons(), timeout=10)
    finally:
        w.close()


def test_a_command_in_a_chat_the_bot_may_not_post_in_is_one_log_line(source, tmp_path, caplog):  # noqa: F811
    """Restricted by an admin, the bot still receives commands; its answer is refused (400
    "not enough rights"). That was logged as `/status failed` with PTB's whole traceback,
    then a second answer tried; now one warning line, no traceback, no second try."""
    import logging

    from tests.test_single_instance import wait_until

    w = World(source, tmp_path, STRATEGY="none")
    try:
        w.reply("/status", "Status")
        w.api.restrict(GROUP, ADMIN)
        assert wait_until(lambda: "chat_unreachable" in w.engine.paused_reasons(), timeout=10)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            mark = w.api.mark()
            w.say("/status")
            w.say("/set nonsense")  # a usage error's answer, and an unknown setting's
            assert wait_until(lambda: len([r for r in caplog.records if "no answer posted" in r.getMessage()]) >= 2, timeout=10), [
                r.getMessage() for r in caplog.records]
            sends = [c for c in w.api.calls[mark:] if c.method == "sendMessage"]
            assert len(sends) == 2, sends  # one answer each, refused; no "⚠️ /status failed" after it
        assert not [r for r in caplog.records if r.exc_info or "failed" in r.getMessage()], [
            (r.getMessage(), r.exc_info is not None) for r in caplog.records]
    finally:
        w.close()
