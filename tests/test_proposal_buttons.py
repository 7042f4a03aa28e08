"""A Confirm/Reject button belongs to one proposal of one database (issue 17).

Seen: on a fresh DB_PATH (proposal numbers restart at 1), pressing Confirm on an old
message that read "reverse · SELL …" filled the new proposal with the same number and
rewrote the old message, while the new proposal's own message kept live buttons.
"""

from __future__ import annotations

import time
from dataclasses import replace

from bot.runner import BotThread
from tests.helpers import observe
from tests.test_bot_e2e import ADMIN, GROUP, LOOSE, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen, proposal_message, started


def press(w: World, msg: dict, which: int, message_id: int | None = None) -> tuple[str, int]:
    mark = w.api.mark()
    data = msg["reply_markup"]["inline_keyboard"][0][which]["callback_data"]
    w.api.press_button(GROUP, ADMIN, message_id or msg["message_id"], data)
    answer = w.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
    assert answer is not None
    return answer.params.get("text", ""), mark


def shown(w: World, message_id: int) -> dict:
    return next(m for m in w.api.sent(GROUP) if m["message_id"] == message_id)


def restart_on_a_fresh_database(w: World, tmp_path) -> None:  # noqa: F811
    """The same token, chat and exchange; a new DB_PATH (the README's fresh-disk deploy)."""
    w.bot.stop()
    w.settings = replace(w.settings, db_path=str(tmp_path / "fresh.sqlite"))
    w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1)
    seen = observe(w.engine, Seen)
    w.bot.start()
    w.ex.resume()
    w.reply("/start", "Starting")
    assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
    w.ex.pause()
    while True:
        index = w.ex.current_index
        assert seen.wait(source_open(w, index - 1))
        if w.ex.current_index == index:
            break


def source_open(w: World, i: int) -> int:
    return w.source[i].open_time


def test_an_old_databases_confirm_never_fills_the_new_proposal_with_its_number(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/short 0.005")
        old = proposal_message(w, mark, 1)
        assert "short BTCUSDT" in old["text"]

        restart_on_a_fresh_database(w, tmp_path)
        mark = w.api.mark()
        w.say("/long 0.003")
        new = proposal_message(w, mark, 1)  # the same number in the new file
        assert "BUY 0.003" in new["text"]

        text, mark = press(w, old, 0)
        assert text == "This button belongs to an older proposal."
        assert w.api.wait_for(
            lambda c: c.method == "editMessageReplyMarkup" and c.params.get("message_id") in (old["message_id"], str(old["message_id"])),
            start=mark,
        )
        assert not shown(w, old["message_id"]).get("reply_markup"), "the old message's buttons are removed"
        assert "short BTCUSDT" in shown(w, old["message_id"])["text"], "the old message is not rewritten"
        assert w.engine.proposal(1).status == "pending"
        assert w.engine.recent_fills(5) == []
        assert shown(w, new["message_id"])["reply_markup"]["inline_keyboard"], "the new proposal keeps its buttons"

        # Reject from the old message is refused the same way; the new one's own button works.
        assert press(w, old, 1)[0] == "This button belongs to an older proposal."
        assert w.engine.proposal(1).status == "pending"
        assert press(w, new, 0)[0].startswith("filled: BUY 0.003 BTCUSDT")
    finally:
        w.close()


def test_a_button_acts_only_from_its_own_proposals_message(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.002")
        msg = proposal_message(w, mark, 1)
        # The bot stores the message id once Telegram's answer to the send is back; a press
        # before that is taken as on the proposal's own message (a crash can leave it unset).
        deadline = time.monotonic() + 10
        while w.engine.proposal(1).message_id is None:
            assert time.monotonic() < deadline, "the proposal's message id was never stored"
            time.sleep(0.01)
        other = w.reply("/help", "Commands")  # any other bot message in the chat
        text, _ = press(w, msg, 0, message_id=other["message_id"])
        assert text == "This button belongs to an older proposal."
        assert w.engine.proposal(1).status == "pending" and w.engine.recent_fills(5) == []
        assert press(w, msg, 0)[0].startswith("filled: BUY 0.002 BTCUSDT")
    finally:
        w.close()


def test_a_button_made_before_instance_ids_is_an_older_ones(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.002")
        msg = proposal_message(w, mark, 1)
        signer = w.bot.app.bot_data["signer"]
        legacy = {"reply_markup": {"inline_keyboard": [[{"callback_data": signer.sign(GROUP, "prop:confirm/1")}]]}}
        text, _ = press(w, legacy, 0, message_id=msg["message_id"])
        assert text == "This button belongs to an older proposal."
        assert w.engine.proposal(1).status == "pending" and w.engine.recent_fills(5) == []
    finally:
        w.close()
