"""A proposal expires by the clock at the close of its candle (issue 25), whether or not
candles arrive: with the stream stopped, a Confirm 15 h later places nothing, and after a
restart 17.5 h later the expiry job ends it at start. The proposals' clock is moved
(Confirmations.clock), not slept through; the exchange stands still meanwhile."""

from __future__ import annotations

import time

from tests.test_bot_e2e import ADMIN, GROUP, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import press, proposal_message, started

HOUR = 3600.0


def later(hours: float):  # type: ignore[no-untyped-def]
    return lambda: time.time() + hours * HOUR


def test_a_confirm_hours_after_a_stop_places_nothing(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        assert w.engine.proposal(1).expires_at is not None, "the candle's close is a clock deadline"
        w.reply("/stop", "Stream stopped")
        w.engine.set_clock(later(15))
        answer = press(w, ADMIN, msg, 0)
        assert "expired" in answer, answer
        assert w.engine.proposal(1).status == "expired"
        assert w.engine.recent_fills(10) == []
        assert w.api.wait_for_text(GROUP, "expired", start=mark, timeout=10)
    finally:
        w.close()


def test_a_restart_hours_later_expires_it_at_start(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        w.reply("/stop", "Stream stopped")
        w.bot.stop()
        bot = type(w.bot)(w.settings, **w.bot.kwargs)
        bot.engine.set_clock(later(17.5))
        mark = w.api.mark()
        w.bot = bot.start()
        edited = w.api.wait_for(
            lambda c: c.method == "editMessageText" and c.params.get("message_id") == msg["message_id"]
            and "expired" in c.params.get("text", ""),
            start=mark, timeout=10,
        )  # fmt: skip
        assert edited is not None, "the expiry job ends it at start, stream or no stream"
        assert "no longer pending" in press(w, ADMIN, msg, 0)
        assert w.engine.proposal(1).status == "expired"
        assert w.engine.recent_fills(10) == []
    finally:
        w.close()
