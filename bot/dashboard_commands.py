"""/dashboard: the button that opens the dashboard Mini App (docs/dashboard.md), and the
bot's menu button, set at start.

Telegram allows a `web_app` inline button only in a private chat; in a group the bot's Main
Mini App link `https://t.me/<bot>?startapp=<chat id>` opens it (BotFather: Bot Settings →
Configure Mini App, with WEBAPP_URL as its address). Off unless WEBAPP_URL is set.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError
from telegram.ext import Application

from bot.commands import Ctx, command

log = logging.getLogger(__name__)

OFF = (
    "The dashboard is off. To turn it on, set WEBAPP_URL to the bot's public https address "
    "(and WEBAPP_PORT to where it listens, if not the platform's PORT), set the same address as "
    "the bot's Mini App in @BotFather, and restart the bot (docs/dashboard.md)."
)


def page_url(base: str) -> str:
    return base.rstrip("/") + "/"


@command("dashboard", "open the dashboard: position, money and pending proposals, live")
async def dashboard(ctx: Ctx) -> None:
    settings = ctx.engine.settings
    if not settings.webapp_url:
        ctx.outcome = "off"
        await ctx.reply(OFF)
        return
    chat = ctx.update.effective_chat
    assert chat is not None
    if chat.type == "private":
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton("📊 Open the dashboard", web_app=WebAppInfo(page_url(settings.webapp_url)))]]
        )
        await ctx.reply("The dashboard: position, money and pending proposals, live.", markup)
        return
    username = ctx.update.get_bot().username
    link = f"https://t.me/{username}?startapp={chat.id}"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("📊 Open the dashboard", url=link)]])
    await ctx.reply(
        "The dashboard: position, money and pending proposals, live (members of this chat; "
        "admins can Confirm and Reject there).",
        markup,
    )


async def set_menu_button(app: Application) -> None:
    """The menu button of the bot's private chats opens the dashboard (https only: Telegram
    refuses another scheme)."""
    url = app.bot_data["engine"].settings.webapp_url
    if not url.startswith("https://"):
        return
    try:
        await app.bot.set_chat_menu_button(menu_button=MenuButtonWebApp("Dashboard", WebAppInfo(page_url(url))))
    except TelegramError as e:
        log.warning("could not set the dashboard menu button: %s", e)
