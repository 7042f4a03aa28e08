"""A group upgraded to a supergroup (its id changes) and the bot follows, end to end through
the local Bot API: the service messages and the 400 with migrate_to_chat_id; /status in the
new chat answered there, a proposal posted there, the new chat told once; and still so after
a restart whose TELEGRAM_CHAT_ID names the old group."""

from __future__ import annotations

from bot.runner import BotThread
from tests.test_bot_e2e import ADMIN, LOOSE, World, source  # noqa: F401  (fixture)
from trading.core.events import SocketError

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
        w.engine.notifier.notify(SocketError("probe"))
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


# -------------------------------------------------- issue 25: forged moves are not followed
ATTACKER = 666
ATTACKER_GROUP = -1007770000000  # a supergroup the attacker owns


def forged_move(api, chat: dict, old: int) -> None:  # type: ignore[no-untyped-def]
    """What a self-hosted or proxied Bot API can send: a `migrate_from_chat_id` service message
    naming the served chat, in the real shape (GroupAnonymousBot, sender_chat), from elsewhere."""
    import time

    from sim.telegram.group_states import GROUP_ANONYMOUS_BOT
    from tests.test_bot_attacks import inject

    sender = dict(GROUP_ANONYMOUS_BOT) if chat["type"] != "private" else {"id": ATTACKER, "is_bot": False, "first_name": "Eve"}
    message = {"message_id": 9000, "date": int(time.time()), "chat": chat, "from": sender, "migrate_from_chat_id": old}
    if chat["type"] != "private":
        message["sender_chat"] = chat
    inject(api, "message", message)


def nothing_moved(w, served: int) -> None:  # type: ignore[no-untyped-def]
    assert w.engine.settings.telegram_chat_ids == (served,)
    said = [c.params.get("text") or "" for c in w.api.calls if c.method == "sendMessage"]
    assert not any("became a supergroup" in t for t in said), said
    assert not [c for c in w.api.calls if c.ok and c.chat_id in (ATTACKER, ATTACKER_GROUP)]


def test_a_forged_move_to_a_private_chat_neither_moves_the_bot_nor_makes_an_admin(source, tmp_path):  # noqa: F811
    # A private served chat and no TELEGRAM_ADMIN_IDS: its owner is the admin, nobody else.
    w = World(source, tmp_path, STRATEGY="none", TELEGRAM_CHAT_ID=str(ADMIN), TELEGRAM_ADMIN_IDS="")
    try:
        api = w.api
        api.add_chat(ADMIN, "private", first_name="Alice")
        api.add_chat(ATTACKER, "private", first_name="Eve")
        mark = api.mark()
        api.send_message(ADMIN, ADMIN, "/start", chat_type="private")
        assert api.wait_for_text(ADMIN, "socket started", start=mark, timeout=15)
        forged_move(api, {"id": ATTACKER, "type": "private", "first_name": "Eve"}, ADMIN)
        mark = api.mark()
        api.send_message(ATTACKER, ATTACKER, "/long 0.01", chat_type="private", first_name="Eve")
        api.send_message(ADMIN, ADMIN, "/status", chat_type="private")
        assert api.wait_for_text(ADMIN, "Status", start=mark, timeout=10)  # the forged update came first
        nothing_moved(w, ADMIN)
        assert w.engine.open_proposals() == []
    finally:
        w.close()


def test_a_forged_move_from_a_strangers_supergroup_is_not_followed(source, tmp_path):  # noqa: F811
    # Consistent in shape (a basic group to a -100… supergroup) but Telegram, asked about the
    # old id, says it was never upgraded: not followed, across a restart too.
    w = World(source, tmp_path, STRATEGY="none", TELEGRAM_CHAT_ID=str(OLD))
    try:
        api = w.api
        api.add_chat(OLD, "group", "Traders")
        api.add_chat(ATTACKER_GROUP, "supergroup", "Eve's")
        forged_move(api, {"id": ATTACKER_GROUP, "type": "supergroup", "title": "Eve's"}, OLD)
        mark = api.mark()
        api.send_message(ATTACKER_GROUP, ADMIN, "/status", chat_type="supergroup", chat_title="Eve's")
        api.send_message(OLD, ADMIN, "/status")
        assert api.wait_for_text(OLD, "Status", start=mark, timeout=10)
        nothing_moved(w, OLD)
        w.bot.stop()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        mark = api.mark()
        api.send_message(OLD, ADMIN, "/status")
        assert api.wait_for_text(OLD, "Status", start=mark, timeout=10)
        nothing_moved(w, OLD)
    finally:
        w.close()


def test_a_forged_move_of_a_served_supergroup_is_not_followed(source, tmp_path):  # noqa: F811
    from tests.test_bot_e2e import GROUP

    w = World(source, tmp_path, STRATEGY="none")  # serves GROUP, a supergroup: it cannot move
    try:
        api = w.api
        api.add_chat(ATTACKER_GROUP, "supergroup", "Eve's")
        forged_move(api, {"id": ATTACKER_GROUP, "type": "supergroup", "title": "Eve's"}, GROUP)
        w.reply("/status", "Status")
        nothing_moved(w, GROUP)
    finally:
        w.close()


def test_the_real_upgrade_shape_is_followed_and_its_member_update_changes_nothing(source, tmp_path):  # noqa: F811
    """issue 26: Telegram posts the new chat's service message as GroupAnonymousBot with
    sender_chat, then a my_chat_member (left → member) for the new id."""
    w = World(source, tmp_path, STRATEGY="none", TELEGRAM_CHAT_ID=str(OLD))
    try:
        api = w.api
        api.add_chat(OLD, "group", "Traders")
        mark = api.mark()
        new = api.upgrade(OLD, ADMIN)
        assert api.wait_for_text(new, "became a supergroup", start=mark, timeout=10)
        mark = api.mark()
        api.send_message(new, ADMIN, "/status", chat_type="supergroup")
        assert api.wait_for_text(new, "Status", start=mark, timeout=10)
        assert not w.engine.paused_reasons()
        assert w.engine.settings.telegram_chat_ids == (new,)
    finally:
        w.close()
