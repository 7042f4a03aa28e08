"""Build the PTB Application: access gate, command handlers, buttons, jobs, notices.

Everything Telegram-specific is assembled here; commands.py holds the behaviour. It is
over 400 lines because it is the one place the Application is wired (the gate, the command
wrapper, button dispatch, the jobs and the notice path): split, the wiring would be read in
pieces.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TypeVar

from telegram import BotCommand, CallbackQuery, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import (  # noqa: F401  (these modules register commands and buttons)
    backtest_commands,
    buttons,
    chart_commands,
    chats,
    dashboard_commands,
    ops_commands,
    order_commands,
    param_commands,
    pending_commands,
    proposals,
    protection_commands,
    reach,
    report_commands,
    status_buttons,
    strategy_commands,
    views,
)
from bot.access import Access
from bot.admission import Admission
from bot.commands import COMMANDS, Command, Ctx, UsageError, number_formats, off_loop
from bot.concurrency import PerSenderOrder
from bot.masking import MaskingRequest
from bot.notifier import TelegramNotifier
from bot.ratelimit import PriorityRateLimiter
from bot.stale import HEARTBEAT_SECONDS, StaleGate
from bot.throttle import Throttle
from trading.core.events import Event, FeedBack, FeedDown, ProposalPending, ProposalUpdated
from trading.live.service import Engine
from trading.logsafe import LogRing

T = TypeVar("T")
log = logging.getLogger(__name__)

FEED_CHECK_SECONDS = 5.0
# demo/live: the account's position mode read again this often (a mode switched in Binance's
# app is also caught by the account stream and at every reconnect); GET positionSide/dual weighs 30
MODE_CHECK_SECONDS = 300.0
MODE_CHECK_JOB = "position-mode"
# How long a notice's sendMessage waits for Telegram's answer (PTB's default read timeout).
NOTICE_READ_TIMEOUT = 5.0


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
    logs: LogRing | None = None,
) -> Application:
    settings = engine.settings
    Access.check_config(settings)
    access = Access(settings)
    signer = buttons.Signer(settings.telegram_token)
    processor = PerSenderOrder()
    app = (
        Application.builder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_url.removesuffix("/bot") + "/file/bot")
        .rate_limiter(
            PriorityRateLimiter(
                overall_per_second=rate_limits.overall_per_second,
                group_per_minute=rate_limits.group_per_minute,
                max_retries=rate_limits.max_retries,
            )
        )
        .concurrent_updates(processor)
        .request(MaskingRequest())
        .build()
    )

    async def say(chat_id: int, html: str) -> None:
        await app.bot.send_message(chat_id, html, parse_mode=ParseMode.HTML)

    async def audit_throttled(chat_id: int, user_id: int, count: int) -> None:
        await off_loop(engine.audit, chat_id, user_id, "throttled", f"{count} updates", f"ignored: over the per-user budget ({count})")

    async def audit_stale(chat_id: int, user_id: int | None, detail: str, outcome: str) -> None:
        await off_loop(engine.audit, chat_id, user_id, "stale", detail[:AUDIT_DETAIL], outcome)

    stale = StaleGate(settings.stale_command_seconds, say, audit_stale)
    secrets = [settings.telegram_token, settings.binance_api_key, settings.binance_api_secret]
    throttle = Throttle(audit_throttled)
    app.bot_data.update(
        engine=engine, notifier=notifier, access=access, signer=signer, stale=stale, throttle=throttle,
        logs=logs if logs is not None else LogRing(secrets),
    )

    processor.admit = Admission(access, stale, throttle)

    async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (move := chats.service_move(update, access)) is not None:
            await chats.claimed(context.application, update, *move)
            raise ApplicationHandlerStop
        if update.my_chat_member is not None:
            reach.on_member_update(context.application, update.my_chat_member)
            raise ApplicationHandlerStop
        chat = update.effective_chat
        if not access.chat_allowed(chat.id if chat else None):
            raise ApplicationHandlerStop
        assert chat is not None
        age = stale.age(update)
        if age is not None:
            await _ignore_stale(update, context, chat.id, age)
            raise ApplicationHandlerStop

    app.add_handler(TypeHandler(Update, gate), group=-1)
    # New messages only: PTB's handlers also match edited_message, and an edited "/stop"
    # (some clients and proxies deliver edits even when not asked) must not act again.
    new_only = filters.UpdateType.MESSAGE
    for cmd in COMMANDS:
        # Charts draw for a few hundred ms: as tasks, so other updates are answered meanwhile.
        block = cmd.name not in chart_commands.BACKGROUND
        app.add_handler(CommandHandler(cmd.name, _wrap(cmd), filters=new_only, block=block))
    app.add_handler(MessageHandler(new_only & filters.COMMAND, _unknown_command))
    app.add_handler(CallbackQueryHandler(_on_button))
    app.add_error_handler(_on_error)

    jq = app.job_queue
    assert jq is not None, "python-telegram-bot[job-queue] is required"
    jq.run_repeating(_feed_watch, interval=feed_check_seconds, first=feed_check_seconds, name="feed-watch")
    proposals.schedule_guards(jq, settings)
    if settings.status_post_minutes > 0:
        period = settings.status_post_minutes * 60
        jq.run_repeating(_status_post, interval=period, first=period, name="status-post")
    chart_commands.schedule_daily_report(jq, settings)
    jq.run_repeating(_heartbeat, interval=HEARTBEAT_SECONDS, first=HEARTBEAT_SECONDS, name="heartbeat")
    if engine.mode.exchange:
        jq.run_repeating(_mode_check, interval=MODE_CHECK_SECONDS, first=MODE_CHECK_SECONDS, name=MODE_CHECK_JOB)
    return app


async def _ignore_stale(update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int, age: float) -> None:
    """An old command or press: not run; answered (a press), told and audited with its burst."""
    message = update.message
    if message is not None:
        word = (message.text or "").split()[0]
        target = word.partition("@")[2]
        if target and target.lower() != (context.bot.username or "").lower():
            return  # another bot's command
    stale: StaleGate = context.bot_data["stale"]
    stale.ignore(chat_id, update, age)  # audited with its sender's burst
    if update.callback_query is not None:
        with contextlib.suppress(Exception):  # Telegram may already call it too old
            await update.callback_query.answer("Not done: this press is too old; press again.", show_alert=True)


async def _mode_check(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The account's position mode against the book's (issue 28): a change is said once,
    and no order is sent until they agree again."""
    engine: Engine = context.bot_data["engine"]
    await off_loop(engine.check_position_mode)


async def _heartbeat(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Write down that the bot is alive: the next start knows when its downtime began."""
    engine: Engine = context.bot_data["engine"]
    await off_loop(engine.remember, "alive_at", f"{time.time():.0f}")


async def on_startup(app: Application) -> None:
    """Bind the notice queue to this loop and publish the command list (setMyCommands)."""
    notifier: TelegramNotifier = app.bot_data["notifier"]
    engine: Engine = app.bot_data["engine"]
    await chats.restore(app)  # a group that became a supergroup in an earlier run

    async def send(html: str) -> None:
        await chats.to_notice_chat(
            app, lambda chat_id: app.bot.send_message(chat_id, html, parse_mode=ParseMode.HTML, read_timeout=NOTICE_READ_TIMEOUT)
        )

    async def deliver(notice: Event) -> None:  # the SOLO kinds: a proposal, or its end
        assert isinstance(notice, ProposalPending | ProposalUpdated), notice
        await proposals.deliver(app, notice)

    notifier.bind(send, deliver, reach.make(app, notifier))
    app.bot_data["logs"].install()
    await app.bot.set_my_commands([BotCommand(c.name, c.description[:256]) for c in COMMANDS])
    await dashboard_commands.set_menu_button(app)
    log.info("bot @%s serving chats %s", app.bot.username, engine.settings.telegram_chat_ids)


async def on_shutdown(app: Application) -> None:
    await app.bot_data["throttle"].flush()
    await app.bot_data["stale"].flush()
    if "reach" in app.bot_data:
        await app.bot_data["reach"].close()
    notifier: TelegramNotifier = app.bot_data["notifier"]
    app.bot_data["logs"].remove()
    await notifier.close()


AUDIT_DETAIL = 100  # characters of a command line or callback data kept in the audit


def _wrap(cmd: Command):  # type: ignore[no-untyped-def]
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        engine: Engine = context.bot_data["engine"]
        access: Access = context.bot_data["access"]
        user = update.effective_user
        chat = update.effective_chat
        message = update.effective_message
        if message is None or chat is None:
            return
        ctx = Ctx(update, engine, list(context.args or []), context.bot_data["signer"], bot_data=context.bot_data)
        user_id = user.id if user else None
        detail = (message.text or "")[:AUDIT_DETAIL]
        admin = cmd.needs_admin(ctx.args)
        if admin and not access.is_admin(user_id):
            await ctx.call(engine.audit, chat.id, user_id, f"/{cmd.name}", detail, "refused: not admin")
            await ctx.reply(f"Not allowed: only admins can use /{cmd.name}.")
            return
        try:
            await cmd.run(ctx)
            outcome = ctx.outcome
        except UsageError as e:
            outcome = f"usage: {e}"
            await ctx.reply(f"⚠️ {views.escape(str(e))}")
        except Exception as e:
            if isinstance(e, TelegramError) and reach.cannot_post(e):
                # Restricted or removed (bot/reach.py pauses entries and says so once it can):
                # the answer cannot be posted, nor a second one. One line, no traceback.
                log.warning("/%s: no answer posted in chat %s: %s", cmd.name, chat.id, e)
                outcome = "failed: the bot may not post in this chat"
                if admin:
                    await ctx.call(engine.audit, chat.id, user_id, f"/{cmd.name}", detail, outcome)
                return
            # The exception text may quote a URL with the token or an exchange's error page:
            # it goes to the (redacted) log only; the chat gets our own words.
            log.exception("/%s failed", cmd.name)
            outcome = f"failed: {type(e).__name__}"
            with contextlib.suppress(Exception):
                await ctx.reply(
                    f"⚠️ /{cmd.name} failed (Telegram or the exchange did not answer); the error is logged."
                )
        if admin:
            await ctx.call(engine.audit, chat.id, user_id, f"/{cmd.name}", detail, outcome[:200])

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
        f"Unknown command /{views.escape(views.echo(name)[1:-1])}. Send /help for the list.",
        parse_mode=ParseMode.HTML,
        do_quote=False,
    )


@dataclass
class PressCtx:
    """What a button action needs, without the PTB plumbing."""

    query: CallbackQuery
    context: ContextTypes.DEFAULT_TYPE
    engine: Engine
    signer: buttons.Signer
    chat_id: int
    user_id: int | None


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every press is answered (or Telegram shows a spinner) and audited, whatever its data."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    engine: Engine = context.bot_data["engine"]
    signer: buttons.Signer = context.bot_data["signer"]
    user_id = query.from_user.id if query.from_user else None
    data = query.data or ""
    action, result = data[:AUDIT_DETAIL], buttons.PressResult("failed")
    try:
        press = signer.verify(chat.id, data)
        action = press.action
        result = await _press(PressCtx(query, context, engine, signer, chat.id, user_id), press.action)
    except buttons.BadButton as e:
        result = buttons.PressResult(f"refused: {e}", str(e), alert=True)
    except Exception as e:
        log.exception("button %s failed", action)
        result = buttons.PressResult(
            f"failed: {type(e).__name__}",
            "That did not work (Telegram or the exchange did not answer); try again.",
            alert=True,
        )
    # Recorded before the answer, so a press the user saw answered is always in the audit;
    # answered at once (no group budget is spent on it); then the message is edited if what
    # it shows changed, which may wait for the group's budget.
    try:
        await off_loop(engine.audit, chat.id, user_id, "button", action, result.outcome[:200])
    except Exception:
        log.exception("audit of button %s failed", action)
    try:
        await query.answer(result.note or "Updated.", show_alert=result.alert)
    except Exception as e:
        log.warning("answering button %s failed: %s", action, e)
    if result.then is not None:
        try:
            await result.then()
        except Exception:
            log.exception("updating the message after button %s failed", action)


async def _press(p: PressCtx, action: str) -> buttons.PressResult:
    """Look the verified action up in the registry; admins only where it says so."""
    access: Access = p.context.bot_data["access"]
    handler, arg = buttons.split_action(action)
    if handler is None:
        return buttons.PressResult("refused: unknown action", "This button is not valid.", alert=True)
    if handler.admin and not access.is_admin(p.user_id):
        return buttons.PressResult("refused: not admin", "Not allowed: only admins can do that.", alert=True)
    return await handler.run(p, arg)


async def _feed_watch(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell the group once when the running stream has been down or silent too long, and once when it is back."""
    engine: Engine = context.bot_data["engine"]
    st = engine.stream_status()
    stale_after = engine.settings.stream_stale_seconds
    down = st.running and (
        (not st.connected and st.last_message_age is not None and st.last_message_age > stale_after)
        or (st.last_message_age is not None and st.last_message_age > 2 * stale_after)
    )
    was_down = context.bot_data.get("feed_down_since")
    notifier: TelegramNotifier = context.bot_data["notifier"]
    if down and was_down is None:
        context.bot_data["feed_down_since"] = time.monotonic()
        notifier.notify(FeedDown(st.last_message_age, st.last_error))
    elif not down and was_down is not None:
        context.bot_data.pop("feed_down_since", None)
        if st.running:
            notifier.notify(FeedBack(time.monotonic() - was_down))


async def _status_post(context: ContextTypes.DEFAULT_TYPE) -> None:
    engine: Engine = context.bot_data["engine"]
    st = await off_loop(engine.status)
    if engine.settings.notice_chat_id is not None:
        html = views.status_html(st, await number_formats(engine, st.symbols))
        await chats.to_notice_chat(context.application, lambda c: context.bot.send_message(c, html, parse_mode=ParseMode.HTML))


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    e = context.error
    if isinstance(e, TelegramError) and reach.cannot_post(e):  # an answer to a chat the bot may not post in
        log.warning("update handling: no answer posted: %s", e)
        return
    log.error("update handling failed: %s", e, exc_info=e)
