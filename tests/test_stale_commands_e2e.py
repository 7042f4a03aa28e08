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
        assert w.engine.stream.running
        assert w.engine.open_proposals() == []
        assert not any("Order proposal" in (c.params.get("text") or "") for c in w.api.calls[mark:])
        audit = [(a["action"], a["outcome"]) for a in w.engine.audit_log(10)]
        assert any(a == "/long" and o.startswith("ignored: stale (72") for a, o in audit), audit
        assert any(a == "/stop" and o.startswith("ignored: stale") for a, o in audit), audit
    finally:
        w.close()
