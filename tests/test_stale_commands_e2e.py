"""Commands typed while the bot was down (Telegram keeps them up to 24 h and delivers them with
their original date) are not executed once older than STALE_COMMAND_SECONDS: end to end,
a /long and a /stop typed two hours before a restart; the chat is told, the audit records."""

from __future__ import annotations

import time

from bot.runner import BotThread
from tests.test_bot_e2e import ADMIN, GROUP, LOOSE, World, source  # noqa: F401  (fixture)


def test_long_and_stop_typed_two_hours_before_a_restart_are_not_run(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path, STRATEGY="none")
    try:
        w.reply("/start", "Starting")
        assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
        w.bot.stop()  # the bot is down; people go on typing
        two_hours_ago = int(time.time()) - 7200
        w.api.send_message(GROUP, ADMIN, "/long 0.01", date=two_hours_ago)
        w.api.send_message(GROUP, ADMIN, "/stop", date=two_hours_ago + 5)
        mark = w.api.mark()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        line = w.api.wait_for_text(GROUP, "Not executed", start=mark, timeout=10)
        assert line is not None, [c.params.get("text") for c in w.api.calls[mark:] if c.method == "sendMessage"]
        assert "/long 0.01 by user 1001 (2h00m old)" in line["text"] and "/stop by user 1001" in line["text"]
        assert w.api.wait_for_text(GROUP, "bot restarted; resumed streaming", start=mark, timeout=15)  # not stopped
        # A fresh command right after is run as usual.
        w.reply("/status", "Status")
        assert w.engine.stream_status().running
        assert w.engine.open_proposals() == []
        assert not any("Order proposal" in (c.params.get("text") or "") for c in w.api.calls[mark:])
        # One audit row for the sender's burst, with the count (issue 25).
        rows = [r for r in w.engine.audit_log(20) if r["action"] == "stale"]
        assert [(r["detail"], r["outcome"][:18]) for r in rows] == [("2 updates: /long 0.01; /stop", "ignored: stale (72")], rows
    finally:
        w.close()


def test_a_flood_of_old_updates_is_a_few_audit_rows_with_counts_and_every_waiting_press_is_judged(source, tmp_path):  # noqa: F811
    """issue 25: 9,927 stale updates were 9,927 audit rows; and the start-up look at what was
    waiting read only the first getUpdates page (100), so a press made while the bot was down
    behind 100 others ran at restart. Bounded: 250 updates, loopback."""
    from tests.test_bot_e2e import GUEST
    from tests.test_single_instance import wait_until

    w = World(source, tmp_path, STRATEGY="none")
    try:
        status = w.reply("/status", "Status")  # a message with buttons, to press while down
        w.bot.stop()
        long_ago = int(time.time()) - 7200
        w.engine.remember("alive_at", str(long_ago))  # the previous run was last alive 2 h ago
        w.api._state.messages[(GROUP, status["message_id"])]["date"] = long_ago  # noqa: SLF001 (shown then)
        for i in range(120):
            w.api.send_message(GROUP, ADMIN, "/status", date=long_ago + i)
        for i in range(120):
            w.api.send_message(GROUP, GUEST, "/help", date=long_ago + i)
        refresh = status["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        w.api.press_button(GROUP, 1003, status["message_id"], refresh)  # update 241: after the first 100
        mark = w.api.mark()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        assert w.api.wait_for_text(GROUP, "Not executed", start=mark, timeout=10)

        def rows() -> list:  # type: ignore[type-arg]
            return [r for r in w.engine.audit_log(500) if r["action"] == "stale"]

        assert wait_until(lambda: sum(int(r["detail"].split()[0]) for r in rows()) == 241, timeout=15), rows()
        assert len(rows()) <= 6, [r["detail"] for r in rows()]  # per sender and burst, not per update
        assert "1 update: a button press" in [r["detail"] for r in rows()], [r["detail"] for r in rows()]
        assert not [c for c in w.api.calls[mark:] if c.method == "editMessageText" and c.ok], "the old press ran"
        assert not [r for r in w.engine.audit_log(500) if r["action"] == "button"]
    finally:
        w.close()
