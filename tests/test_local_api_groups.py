"""The local Bot API's group states, as python-telegram-bot sees them: the per-group limit
(RetryAfter), an upgraded group (ChatMigrated and the service messages), a removed bot
(Forbidden and my_chat_member), a press answered too late, messages dated in the past and
privacy mode on by default."""

from __future__ import annotations

import time

import pytest
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from sim.telegram.local_api import LocalBotApi
from tests.test_local_api import TOKEN, seconds, with_bot

GROUP, ADMIN = -4000000001, 1001


@pytest.fixture
def api():  # type: ignore[no-untyped-def]
    server = LocalBotApi(token=TOKEN, bot_id=123456, bot_username="ReplayTradeBot", callback_timeout=0.0).start()  # any answer is late
    server.add_chat(GROUP, "group", "Traders")
    try:
        yield server
    finally:
        server.stop()


def test_group_limit_answers_429_with_retry_after(api: LocalBotApi) -> None:
    api.group_limit(3)

    async def body(bot: Bot) -> None:
        for i in range(3):
            await bot.send_message(GROUP, f"m{i}")
        with pytest.raises(RetryAfter) as e:
            await bot.send_message(GROUP, "one too many")
        assert 1 <= seconds(e.value._retry_after) <= 60  # noqa: SLF001

    with_bot(api, body)
    refused = [c for c in api.calls if c.error_code == 429]
    assert refused and refused[0].description.startswith("Too Many Requests: retry after ")


def test_an_upgraded_group_answers_migrate_to_chat_id_and_says_so_in_both_chats(api: LocalBotApi) -> None:
    new = api.upgrade(GROUP, ADMIN)

    async def body(bot: Bot) -> list:  # type: ignore[type-arg]
        with pytest.raises(ChatMigrated) as e:
            await bot.send_message(GROUP, "hello")
        assert e.value.new_chat_id == new
        await bot.send_message(new, "hello there")
        return list(await bot.get_updates(allowed_updates=["message", "my_chat_member"]))

    updates = with_bot(api, body)
    old_side = [u.message for u in updates if u.message and u.message.migrate_to_chat_id]
    new_side = [u.message for u in updates if u.message and u.message.migrate_from_chat_id]
    assert old_side[0].chat.id == GROUP and old_side[0].migrate_to_chat_id == new
    assert new_side[0].chat.id == new and new_side[0].chat.type == "supergroup"
    # issue 26: as Telegram sends it, the new chat's message is GroupAnonymousBot's on behalf
    # of the supergroup, and a my_chat_member for the new id follows.
    assert old_side[0].from_user.id == ADMIN
    anon = new_side[0].from_user
    assert (anon.id, anon.is_bot, anon.username) == (1087968824, True, "GroupAnonymousBot")
    assert new_side[0].sender_chat is not None and new_side[0].sender_chat.id == new
    joined = [u.my_chat_member for u in updates if u.my_chat_member]
    assert [(c.chat.id, c.old_chat_member.status, c.new_chat_member.status) for c in joined] == [(new, "left", "member")]
    refused = next(c for c in api.calls if c.error_code == 400)
    assert refused.description == "Bad Request: group chat was upgraded to a supergroup chat"


def test_a_kicked_bot_gets_403_and_my_chat_member_until_added_back(api: LocalBotApi) -> None:
    api.kick(GROUP, ADMIN)
    api.send_message(GROUP, ADMIN, "/status")  # not delivered: the bot is not in the group

    async def body(bot: Bot) -> list:  # type: ignore[type-arg]
        with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
            await bot.send_message(GROUP, "anyone?")
        updates = list(await bot.get_updates(allowed_updates=["message", "my_chat_member"]))
        api.readd(GROUP, ADMIN)
        await bot.send_message(GROUP, "back")
        return updates + list(await bot.get_updates(offset=updates[-1].update_id + 1))

    updates = with_bot(api, body)
    changes = [u.my_chat_member for u in updates if u.my_chat_member]
    assert [c.new_chat_member.status for c in changes] == ["kicked", "member"]
    assert not [u for u in updates if u.message]


def test_a_press_answered_too_late_is_too_old(api: LocalBotApi) -> None:
    async def body(bot: Bot) -> None:
        sent = await bot.send_message(GROUP, "press me")
        api.press_button(GROUP, ADMIN, sent.message_id, "x")
        update = (await bot.get_updates())[-1]  # the answer window is 0 s here: already too late
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await update.callback_query.answer("late")

    with_bot(api, body)
    refused = next(c for c in api.calls if c.method == "answerCallbackQuery")
    assert refused.description == "Bad Request: query is too old and response timeout expired or query ID is invalid"


def test_messages_can_be_dated_in_the_past_and_privacy_mode_is_on(api: LocalBotApi) -> None:
    api.send_message(GROUP, ADMIN, "just chatting")  # withheld: privacy mode
    api.send_message(GROUP, ADMIN, "/stop", date=int(time.time()) - 7200)

    async def body(bot: Bot) -> list:  # type: ignore[type-arg]
        return list(await bot.get_updates())

    updates = with_bot(api, body)
    assert [u.message.text for u in updates] == ["/stop"]
    assert time.time() - updates[0].message.date.timestamp() >= 7199


def test_a_restricted_bot_gets_my_chat_member_restricted_and_400_on_sends(api: LocalBotApi) -> None:
    """issue 26: the `restricted` member status, as PTB parses it (every permission present)."""
    api.restrict(GROUP, ADMIN)

    async def body(bot: Bot) -> list:  # type: ignore[type-arg]
        with pytest.raises(BadRequest, match="(?i)not enough rights to send text messages"):
            await bot.send_message(GROUP, "anyone?")
        updates = list(await bot.get_updates(allowed_updates=["message", "my_chat_member"]))
        api.unrestrict(GROUP, ADMIN)
        await bot.send_message(GROUP, "back")
        return updates + list(await bot.get_updates(offset=updates[-1].update_id + 1))

    updates = with_bot(api, body)
    changes = [u.my_chat_member for u in updates if u.my_chat_member]
    assert [c.new_chat_member.status for c in changes] == ["restricted", "member"]
    restricted = changes[0].new_chat_member
    assert restricted.is_member and not restricted.can_send_messages
