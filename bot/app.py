"""Build the PTB Application: access gate, command handlers, buttons, jobs, notices.

Everything Telegram-specific is assembled here; commands.py holds the behaviour.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TypeVar

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import buttons, views
from bot.access import Access
from bot.commands import COMMANDS, Command, Ctx, UsageError, off_loop
from bot.notifier import TelegramNotifier
from trading.engine import Engine, StartRefused
from trading.notifier import Notice

T = TypeVar("T")
log = logging.getLogger(__name__)

FEED_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class RateLimits:
    """Telegram's flood limits by default; the local Bot API may use looser ones."""

    overall_per_second: float = 30
    group_per_minute: float = 20
    max_retries: int = 3


TELEGRAM_LIMITS = RateLimits()


def build_application(
    engine: Engine,
    notifier: TelegramNotifier,
    *,
    rate_limits: RateLimits = TELEGRAM_LIMITS,
    feed_check_seconds: float = FEED_CHECK_SECONDS,
) -> Application:
    settings = engine.settings
    Access.check_config(settings)
    access = Access(settings)
    signer = buttons.Signer(settings.telegram_token)
    app = (
        Application.builder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_url.removesuffix("/bot") + "/file/bot")
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=rate_limits.overall_per_second,
                group_max_rate=rate_limits.group_per_minute,
                max_retries=rate_limits.max_retries,
            )
        )
        .build()
    )
    app.bot_data.update(engine=engine, notifier=notifier, access=access, signer=signer)

    async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if not access.chat_allowed(chat.id if chat else None):
            raise ApplicationHandlerStop

    app.add_handler(TypeHandler(Update, gate), group=-1)
    for cmd in COMMANDS:
        app.add_handler(CommandHandler(cmd.name, _wrap(cmd)))
    app.add_handler(MessageHandler(filters.COMMAND, _unknown_command))
    app.add_handler(CallbackQueryHandler(_on_button))
    app.add_error_handler(_on_error)

    jq = app.job_queue
    assert jq is not None, "python-telegram-bot[job-queue] is required"
    jq.run_repeating(_feed_watch, interval=feed_check_seconds, first=feed_check_seconds, name="feed-watch")
    if settings.status_post_minutes > 0:
        period = settings.status_post_minutes * 60
        jq.run_repeating(_status_post, interval=period, first=period, name="status-post")
    return app


async def on_startup(app: Application) -> None:
    """Bind the notice queue to this loop and publish the command list (setMyCommands)."""
    notifier: TelegramNotifier = app.bot_data["notifier"]
    engine: Engine = app.bot_data["engine"]
    chat_id = engine.settings.notice_chat_id

    async def send(html: str) -> None:
        await app.bot.send_message(chat_id, html, parse_mode=ParseMode.HTML)

    notifier.bind(send)
    await app.bot.set_my_commands([BotCommand(c.name, c.description[:256]) for c in COMMANDS])
    log.info("bot @%s serving chats %s", app.bot.username, engine.settings.telegram_chat_ids)


async def on_shutdown(app: Application) -> None:
    notifier: TelegramNotifier = app.bot_data["notifier"]
    await notifier.close()


def _wrap(cmd: Command):  # type: ignore[no-untyped-def]
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        engine: Engine = context.bot_data["engine"]
        access: Access = context.bot_data["access"]
        user = update.effective_user
        chat = update.effective_chat
        message = update.effective_message
        if message is None or chat is None:
            return
        ctx = Ctx(update, engine, list(context.args or []), context.bot_data["signer"])
        user_id = user.id if user else None
        if cmd.admin and not access.is_admin(user_id):
            await ctx.call(engine.audit, chat.id, user_id, f"/{cmd.name}", message.text or "", "refused: not admin")
            await ctx.reply(f"Not allowed: only admins can use /{cmd.name}.")
            return
        try:
            await cmd.run(ctx)
            outcome = "ok"
        except UsageError as e:
            outcome = f"usage: {e}"
            await ctx.reply(f"⚠️ {views.escape(str(e))}")
        except Exception as e:
            log.exception("/%s failed", cmd.name)
            outcome = f"failed: {type(e).__name__}"
            await ctx.reply(f"⚠️ /{cmd.name} failed: {views.escape(str(e) or type(e).__name__)}")
        if cmd.admin:
            await ctx.call(engine.audit, chat.id, user_id, f"/{cmd.name}", message.text or "", outcome)

    return handle


async def _unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    word = message.text.split()[0]
    name, _, target = word[1:].partition("@")
    if target and target.lower() != (context.bot.username or "").lower():
        return  # a command for another bot in the group
    await message.reply_text(
        f"Unknown command /{views.escape(name)}. Send /help for the list.",
        parse_mode=ParseMode.HTML,
        do_quote=False,
    )


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    engine: Engine = context.bot_data["engine"]
    access: Access = context.bot_data["access"]
    signer: buttons.Signer = context.bot_data["signer"]
    user_id = query.from_user.id if query.from_user else None
    try:
        press = signer.verify(chat.id, query.data or "")
    except buttons.BadButton as e:
        await off_loop(engine.audit, chat.id, user_id, "button", query.data or "", f"refused: {e}")
        await query.answer(str(e), show_alert=True)
        return
    admin_only = buttons.ACTIONS.get(press.action)
    if admin_only is None:
        await query.answer("This button is not valid.", show_alert=True)
        return
    if admin_only and not access.is_admin(user_id):
        await off_loop(engine.audit, chat.id, user_id, "button", press.action, "refused: not admin")
        await query.answer("Not allowed: only admins can do that.", show_alert=True)
        return
    note = ""
    if press.action == "stream:start":
        try:
            note = "Stream starting…" if await off_loop(engine.start) else "Already running."
        except StartRefused as e:
            note = f"Cannot start: {e}"[:190]
    elif press.action == "stream:stop":
        note = "Stream stopped." if await off_loop(engine.stop) else "Not running."
    if admin_only:
        await off_loop(engine.audit, chat.id, user_id, "button", press.action, note)
    st = await off_loop(engine.status)
    try:
        await query.edit_message_text(
            views.status_html(st),
            parse_mode=ParseMode.HTML,
            reply_markup=buttons.status_keyboard(signer, chat.id, st.stream.running),
        )
    except BadRequest as e:
        if "not modified" not in str(e).lower():
            raise
    finally:
        await query.answer(note or "Updated.")


async def _feed_watch(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell the group once when the running stream has been down or silent too long, and once when it is back."""
    engine: Engine = context.bot_data["engine"]
    st = engine.stream.status()
    stale_after = engine.settings.stream_stale_seconds
    down = st.running and (
        (not st.connected and st.last_message_age is not None and st.last_message_age > stale_after)
        or (st.last_message_age is not None and st.last_message_age > 2 * stale_after)
    )
    was_down = context.bot_data.get("feed_down_since")
    notifier: TelegramNotifier = context.bot_data["notifier"]
    if down and was_down is None:
        context.bot_data["feed_down_since"] = time.monotonic()
        notifier.notify(
            Notice(
                "feed_down",
                f"feed down: no market data for {views.duration(st.last_message_age)}"
                + (f" (last error: {st.last_error})" if st.last_error else ""),
            )
        )
    elif not down and was_down is not None:
        context.bot_data.pop("feed_down_since", None)
        if st.running:
            notifier.notify(Notice("feed_back", f"feed back after {views.duration(time.monotonic() - was_down)}"))


async def _status_post(context: ContextTypes.DEFAULT_TYPE) -> None:
    engine: Engine = context.bot_data["engine"]
    st = await off_loop(engine.status)
    chat_id = engine.settings.notice_chat_id
    if chat_id is not None:
        await context.bot.send_message(chat_id, views.status_html(st), parse_mode=ParseMode.HTML)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("update handling failed: %s", context.error, exc_info=context.error)
