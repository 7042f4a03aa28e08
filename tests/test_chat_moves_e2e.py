"""A group upgraded to a supergroup (its id changes) and the bot follows, end to end through
the local Bot API: the service messages and the 400 with migrate_to_chat_id; /status in the
new chat answered there, a proposal posted there, the new chat told once; and still so after
a restart whose TELEGRAM_CHAT_ID names the old group."""

from __future__ import annotations

from bot.runner import BotThread
from tests.test_bot_e2e import ADMIN, LOOSE, World, source  # noqa: F401  (fixture)
from trading.notifier import Notice

OLD = -4000000042  # a basic group: ids without -100


def test_a_group_that_becomes_a_supergroup_is_followed_across_a_restart(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path, STRATEGY="none", TELEGRAM_CHAT_ID=str(OLD))
    try:
        api = w.api
        api.add_chat(OLD, "group", "Traders")
        mark = api.mark()
        api.send_message(OLD, ADMIN, "/start")
        assert api.wait_for_text(OLD, "socket started", start=mark, timeout=15)
        w.ex.pause()

        mark = api.mark()
        new = api.upgrade(OLD, ADMIN)
        assert new != OLD and str(new).startswith("-100")
        assert api.wait_for_text(new, "became a supergroup", start=mark, timeout=10)
        assert api.wait_for_text(new, f"TELEGRAM_CHAT_ID={new}", start=mark, timeout=1)

        mark = api.mark()
        api.send_message(new, ADMIN, "/status", chat_type="supergroup")
        assert api.wait_for_text(new, "Status", start=mark, timeout=10)
        api.send_message(new, ADMIN, "/long 0.01", chat_type="supergroup")
        assert api.wait_for_text(new, "Order proposal #1", start=mark, timeout=10)
        # A notice goes to the new chat too (an old id would be refused with 400).
        w.engine.notifier.notify(Notice("socket_error", "probe"))
        assert api.wait_for_text(new, "probe", start=mark, timeout=10)

        w.bot.stop()  # the .env still names the old group
        assert w.settings.telegram_chat_ids == (OLD,)
        mark = api.mark()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        assert api.wait_for_text(new, "bot restarted; resumed streaming", start=mark, timeout=15), "the resumed stream's notice"
        api.send_message(new, ADMIN, "/status", chat_type="supergroup")
        assert api.wait_for_text(new, "Status", start=mark, timeout=10)
        api.send_message(new, ADMIN, "/short 0.01", chat_type="supergroup")
        assert api.wait_for_text(new, "Order proposal #2", start=mark, timeout=10)
        told = [m for m in api.sent(new) if "became a supergroup" in (m.get("text") or "")]
        assert len(told) == 1, "the new chat is told once"
        assert not [c for c in api.calls[mark:] if c.ok and c.chat_id == OLD]
    finally:
        w.close()
