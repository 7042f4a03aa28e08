"""/pause and /resume end to end: no new entries, strategy or manual, while paused; closes,
stops and the stream go on; shown in /status; kept across a restart; audited."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.runner import BotThread
from bot.texts import PAUSED_LINE
from tests.helpers import leg_id
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, LOOSE, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import press, proposal_message, started
from tests.test_strategy_proposals import START, proposals, replay  # noqa: F401  (fixture)


def test_pause_refuses_entries_keeps_closes_and_survives_a_restart(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        opened = proposal_message(w, mark, 1)
        assert press(w, ADMIN, opened, 0).startswith("filled: BUY 0.010 BTCUSDT")
        mark = w.api.mark()
        w.say("/long 0.002")  # proposed before the pause, confirmed during it
        early = proposal_message(w, mark, 2)

        w.reply("/pause", "Not allowed", user=GUEST)
        assert w.engine.paused_reasons() == frozenset()
        w.reply("/pause", "Paused: no new entries")
        w.reply("/pause", "Already paused")
        assert w.engine.paused_reasons() == frozenset({"admin"})
        status = w.reply("/status", "Status")["text"]
        assert "Paused: no new entries (an admin's /pause)" in status and "connected" in status

        w.reply("/long 0.01", PAUSED_LINE)
        w.reply("/short 0.01", PAUSED_LINE)  # a reversal is an entry too
        assert PAUSED_LINE in press(w, ADMIN, early, 0)
        assert w.engine.proposal(2).status == "pending"  # refused, not consumed
        assert [f.order_id for f in w.engine.recent_fills(10)] == [leg_id(w.db_path, 1)]
        assert w.engine.stream_status().running

        # Restarted (a redeploy): still paused.
        w.bot.stop()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        assert w.engine.paused_reasons() == frozenset({"admin"})
        w.reply("/status", "Paused: no new entries")
        w.reply("/long 0.01", PAUSED_LINE)

        mark = w.api.mark()
        w.say("/close")  # closes keep working while paused
        close_msg = proposal_message(w, mark, 3)
        assert press(w, ADMIN, close_msg, 0).startswith("filled: SELL 0.010 BTCUSDT")
        assert w.engine.side("BTCUSDT") == 0

        w.reply("/resume", "Not allowed", user=GUEST)
        w.reply("/resume", "Resumed: new entries allowed")
        w.reply("/resume", "Not paused")
        assert "Paused" not in w.reply("/status", "Status")["text"]
        mark = w.api.mark()
        w.say("/long 0.01")
        assert proposal_message(w, mark, 4)

        audit = [(a["action"], a["outcome"]) for a in reversed(w.engine.audit_log(60))]
        assert ("/pause", "refused: not admin") in audit
        assert ("/pause", "paused") in audit and ("pause", "paused") in audit
        assert ("/resume", "resumed") in audit and ("resume", "resumed") in audit
    finally:
        w.close()


def test_other_reasons_keep_entries_paused_after_an_admin_resume(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        assert w.engine.pause("chat_unreachable", None)
        w.reply("/pause", "Paused")
        w.reply("/resume", "entries stay paused: the bot could not post to its chat")
        assert w.engine.paused_reasons() == frozenset({"chat_unreachable"})
        assert w.engine.resume("chat_unreachable", None)
        assert w.engine.paused_reasons() == frozenset()
    finally:
        w.close()


def test_the_strategy_opens_nothing_while_paused_but_still_closes(replay, caplog) -> None:  # noqa: F811
    ex, engine, notifier, seen, candles = replay
    i = START
    # Let the strategy open a position (confirmed), then pause.
    while not proposals(notifier):
        ex.advance(1)
        assert seen.wait(candles[i].open_time)
        i += 1
        assert i < START + 2_000, "the strategy never proposed"
    first = proposals(notifier)[0]
    assert engine.confirm(first.id, ADMIN).ok
    side = engine.side("BTCUSDT")
    assert side != 0
    engine.pause("admin", ADMIN)
    caplog.set_level(logging.INFO, logger="trading.core.pause")
    # Until the strategy turns: its reversal comes as a close only.
    while len(proposals(notifier)) == 1:
        ex.advance(1)
        assert seen.wait(candles[i].open_time)
        i += 1
        assert i < START + 2_000, "the strategy never turned"
    turn = proposals(notifier)[-1]
    assert turn.action == "close" and [leg.reduce_only for leg in turn.legs] == [True]
    assert engine.confirm(turn.id, ADMIN).ok
    assert engine.side("BTCUSDT") == 0
    assert "skipped while paused (admin): no new entries; its close is kept" in caplog.text
    # Flat and paused: the next crosses propose nothing, each logged once on its candle.
    n = len(proposals(notifier))
    for _ in range(150):
        ex.advance(1)
        assert seen.wait(candles[i].open_time)
        i += 1
    assert len(proposals(notifier)) == n
    skipped = [r for r in caplog.records if "skipped while paused" in r.getMessage()]
    assert len(skipped) >= 2
    assert engine.side("BTCUSDT") == 0
    assert all(p.status != "filled" or p.id in (first.id, turn.id) for p in (engine.proposal(x.id) for x in proposals(notifier)))
    assert engine.recent_fills(10)[-1].qty == Decimal(str(engine.recent_fills(10)[0].qty))


def test_a_proposal_settled_at_start_has_its_message_brought_to_its_final_state(source, tmp_path):  # noqa: F811
    """A crash between "confirmed" and the fill: the restarted bot settles the proposal from
    its book and edits the proposal's own message to say so (no buttons left to press)."""
    from storage.db import open_db
    from storage.proposals import ProposalStore

    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        w.bot.stop()
        store = ProposalStore(open_db(w.db_path))  # as a crash after the claim leaves it
        assert store.transition(1, "pending", "confirmed", by=ADMIN)
        assert store.transition(1, "confirmed", "placed", result="placing")
        mark = w.api.mark()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        edit = w.api.wait_for(
            lambda c: c.method == "editMessageText" and c.params.get("message_id") in (msg["message_id"], str(msg["message_id"])),
            start=mark, timeout=10,
        )
        assert edit is not None, [c.method for c in w.api.calls[mark:]]
        assert "not placed: the bot restarted before the order was sent" in edit.params["text"]
        assert "reply_markup" not in edit.params or not edit.params["reply_markup"]
        assert w.engine.proposal(1).status == "failed"
    finally:
        w.close()
