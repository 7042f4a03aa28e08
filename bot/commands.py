"""One async function per command: parse the arguments, ask the engine, format the reply.

Commands are registered with @command; the registry drives the handlers, /help and
setMyCommands, so the three can never disagree. Later features add commands here (or in
a sibling module imported by bot.app) the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot import buttons, views
from trading.engine import Engine, StartRefused

log = logging.getLogger(__name__)

KLINES_DEFAULT, KLINES_MAX = 10, 50


T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """Blocking engine calls (SQLite, REST, joining the stream thread) run off the event loop."""
    return await asyncio.to_thread(fn, *args)


class UsageError(ValueError):
    """Bad arguments; the message is the reply."""


@dataclass
class Ctx:
    """What a command needs, without the PTB plumbing."""

    update: Update
    engine: Engine
    args: list[str]
    signer: buttons.Signer

    @property
    def chat_id(self) -> int:
        assert self.update.effective_chat is not None
        return self.update.effective_chat.id

    @property
    def user_id(self) -> int | None:
        user = self.update.effective_user
        return user.id if user else None

    async def reply(self, html: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
        message = self.update.effective_message
        assert message is not None
        sent = None
        chunks = views.split_html(html)
        for i, chunk in enumerate(chunks):
            sent = await message.reply_text(
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if i == len(chunks) - 1 else None,
                do_quote=False,
            )
        return sent

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        return await off_loop(fn, *args)


Handler = Callable[[Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    admin: bool
    run: Handler


COMMANDS: list[Command] = []


def command(name: str, description: str, *, admin: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS.append(Command(name, description, admin, fn))
        return fn

    return register


# ---------------------------------------------------------------- control (admins)
@command("start", "start the live kline stream", admin=True)
async def start(ctx: Ctx) -> None:
    s = ctx.engine.settings
    try:
        started = await ctx.call(ctx.engine.start)
    except StartRefused as e:
        raise UsageError(f"cannot start: {e}") from None
    if started:
        await ctx.reply(
            f"Starting the {views.escape(','.join(s.symbols))} {views.escape(s.interval)} stream "
            f"({views.escape(s.trading_mode)} mode)…"
        )
    else:
        await ctx.reply("Already running. /status shows the stream; /stop stops it.")


@command("stop", "stop the live kline stream", admin=True)
async def stop(ctx: Ctx) -> None:
    if await ctx.call(ctx.engine.stop):
        await ctx.reply("Stream stopped.")
    else:
        await ctx.reply("Not running. /start starts the stream.")


# ---------------------------------------------------------------- read-only
@command("status", "stream state, last candle, position, pending confirmations")
async def status(ctx: Ctx) -> None:
    st = await ctx.call(ctx.engine.status)
    await ctx.reply(views.status_html(st), buttons.status_keyboard(ctx.signer, ctx.chat_id, st.stream.running))


@command("klines", "last n closed candles (default 10, max 50): /klines 5")
async def klines(ctx: Ctx) -> None:
    n = parse_count(ctx.args, default=KLINES_DEFAULT, maximum=KLINES_MAX, usage="/klines [n]")
    symbol = ctx.args[1].upper() if len(ctx.args) > 1 else ctx.engine.settings.symbols[0]
    try:
        candles = await ctx.call(ctx.engine.klines, n, symbol)
    except ValueError as e:
        raise UsageError(str(e)) from None
    await ctx.reply(views.klines_html(symbol, ctx.engine.settings.interval, candles))


@command("help", "this list")
async def help_(ctx: Ctx) -> None:
    await ctx.reply(views.help_html((c.name, c.description, c.admin) for c in COMMANDS))


def parse_count(args: list[str], *, default: int, maximum: int, usage: str) -> int:
    if not args:
        return default
    try:
        n = int(args[0])
    except ValueError:
        raise UsageError(f"{usage}: n must be a whole number from 1 to {maximum}, got {args[0]!r}") from None
    if not 1 <= n <= maximum:
        raise UsageError(f"{usage}: n must be from 1 to {maximum}, got {n}")
    return n
