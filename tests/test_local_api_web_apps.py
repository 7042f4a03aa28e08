"""The local Bot API's Mini App side, through the real python-telegram-bot client: who is in
a chat (getChatMember), the menu button, answerWebAppQuery, and `web_app` buttons allowed in
private chats only, as Telegram answers them (core.telegram.org/bots/api)."""

from __future__ import annotations

import asyncio

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram.error import BadRequest

from bot.webapp.auth import secret_key, validate
from sim.telegram.local_api import LocalBotApi

GROUP = -1001234
ADMIN, GUEST, STRANGER = 42, 7, 99


def run(api: LocalBotApi, coro_fn):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with Bot(api.token, base_url=api.base_url) as bot:
            return await coro_fn(bot)

    return asyncio.run(main())


def test_get_chat_member_menu_button_web_app_query_and_buttons():
    with LocalBotApi() as api:
        api.add_chat(GROUP, "supergroup", "Traders")
        api.add_chat(ADMIN, "private", first_name="Ada")
        api.send_message(GROUP, ADMIN, "/status", first_name="Ada", username="ada")
        api.add_member(GROUP, GUEST, "Gus")
        api.add_member(-1009, STRANGER, "Sam")

        async def members(bot: Bot):  # type: ignore[no-untyped-def]
            a = await bot.get_chat_member(GROUP, ADMIN)
            g = await bot.get_chat_member(GROUP, GUEST)
            s = await bot.get_chat_member(GROUP, STRANGER)
            with pytest.raises(BadRequest, match="(?i)participant_id_invalid"):
                await bot.get_chat_member(GROUP, 555)
            with pytest.raises(BadRequest, match="Chat not found"):
                await bot.get_chat_member(-1, ADMIN)
            api.remove_member(GROUP, GUEST)
            g2 = await bot.get_chat_member(GROUP, GUEST)
            return a.status, a.user.username, g.status, s.status, g2.status

        assert run(api, members) == ("member", "ada", "member", "left", "left")

        async def menu(bot: Bot):  # type: ignore[no-untyped-def]
            before = await bot.get_chat_menu_button()
            await bot.set_chat_menu_button(menu_button=MenuButtonWebApp("Dashboard", WebAppInfo("https://x.example/")))
            after = await bot.get_chat_menu_button(ADMIN)  # a chat without its own: the default
            with pytest.raises(BadRequest):
                await bot.set_chat_menu_button(GROUP, MenuButtonWebApp("D", WebAppInfo("https://x.example/")))
            return before.type, after.type, after.web_app.url

        assert run(api, menu) == ("default", "web_app", "https://x.example/")

        init = api.web_apps.init_data(ADMIN, start_param=str(GROUP))
        user = validate(init, secret_key(api.token), 3600)
        assert (user.id, user.username, user.start_param) == (ADMIN, "ada", str(GROUP))
        query_id = next(q for q in api.web_apps.queries)
        result = InlineQueryResultArticle("1", "t", InputTextMessageContent("hello"))

        async def answer(bot: Bot):  # type: ignore[no-untyped-def]
            sent = await bot.answer_web_app_query(query_id, result)
            with pytest.raises(BadRequest, match="(?i)query_id_invalid"):
                await bot.answer_web_app_query(query_id, result)  # once only
            with pytest.raises(BadRequest, match="(?i)query_id_invalid"):
                await bot.answer_web_app_query("nope", result)
            return sent.inline_message_id

        assert run(api, answer)

        markup = InlineKeyboardMarkup([[InlineKeyboardButton("open", web_app=WebAppInfo("https://x.example/"))]])

        async def buttons(bot: Bot):  # type: ignore[no-untyped-def]
            private = await bot.send_message(ADMIN, "open it", reply_markup=markup)
            with pytest.raises(BadRequest, match="Button_type_invalid"):
                await bot.send_message(GROUP, "open it", reply_markup=markup)
            return private.reply_markup.inline_keyboard[0][0].web_app.url

        assert run(api, buttons) == "https://x.example/"
        url = api.open_web_app("http://127.0.0.1:1/", ADMIN)
        assert url.startswith("http://127.0.0.1:1/#tgWebAppData=") and "tgWebAppThemeParams=" in url
